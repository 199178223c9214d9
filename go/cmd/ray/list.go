package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"goray/cluster"
	"goray/jobclient"
	"goray/jobs"
	pb "goray/rpc/proto"
	"goray/state"
	"goray/stategather"
)

// stateTimeout bounds how long gathering the cluster's state may take.
const stateTimeout = 30 * time.Second

// stateSource is the cluster at address as the state API reads it; the caller calls done.
func stateSource(address string) (src stategather.Source, done func(), err error) {
	c, err := dialCluster(address)
	if err != nil {
		return src, nil, err
	}
	src = stategather.Source{Conn: c.conn, Addr: c.addr, Token: c.token, Jobs: func(ctx context.Context) ([]jobs.Info, error) { return c.jobs(ctx, address) }}
	return src, func() { c.conn.Close() }, nil
}

// jobs lists the cluster's jobs through its job API (found as `ray job` finds it: the cluster's
// own, over this connection, unless RAY_API_SERVER_ADDRESS or --address names another); a head
// without a job API gives the drivers' jobs of its control store alone.
func (c *clusterConn) jobs(ctx context.Context, address string) ([]jobs.Info, error) {
	base, err := jobclient.ResolveAddress(address, func(a string) (string, error) {
		if resolved, err := clusterAddress(a); err == nil && resolved == c.addr {
			return c.dashboard()
		}
		return dashboardOf(a)
	})
	if errors.Is(err, errNoJobAPI) {
		d, err := jobs.DriversOf(pb.NewControlStoreClient(c.conn))(ctx, &pb.GetAllJobsRequest{})
		if err != nil {
			return nil, cluster.Explain(err, c.addr)
		}
		return jobs.WithDrivers(nil, d), nil
	}
	if err != nil {
		return nil, err
	}
	return jobclient.New(base, c.token).List(ctx)
}

// gatherState returns the records of kind, as Ray's field names, from the cluster at address
// (warnings: nodes that did not answer).
func gatherState(ctx context.Context, kind, address string, warn io.Writer) ([]map[string]any, error) {
	src, done, err := stateSource(address)
	if err != nil {
		return nil, err
	}
	defer done()
	return src.List(ctx, kind, warn)
}

// gatherReports returns every live node's state report (kind: "actors", "tasks" or "" for both)
// of the cluster at address.
func gatherReports(ctx context.Context, address, kind string, warn io.Writer) ([]*pb.NodeStateReply, error) {
	src, done, err := stateSource(address)
	if err != nil {
		return nil, err
	}
	defer done()
	return src.AllReports(ctx, kind, warn)
}

// gatherObjects returns the references the processes of the cluster at address hold, with the
// nodes' reports (their object stores' use).
func gatherObjects(ctx context.Context, address string, warn io.Writer) ([]state.Object, []*pb.NodeStateReply, error) {
	src, done, err := stateSource(address)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	return src.Objects(ctx, warn)
}

func newList() *cobra.Command {
	var address, format string
	var filters []string
	var limit int
	cmd := &cobra.Command{
		Use:   "list nodes|actors|tasks|objects|placement-groups|jobs",
		Short: "List the cluster's nodes, actors, tasks, objects, placement groups or jobs (Ray's state API)",
		Long: "List the cluster's nodes, actors, tasks, objects (the references its processes hold),\n" +
			"placement groups or jobs, with Ray's field names.\n\n" +
			"  ray list actors --filter \"state=ALIVE\" --limit 10\n" +
			"  ray list nodes --format json\n\n" +
			"--filter takes key=value or key!=value (values compared without regard to case), and may be\n" +
			"given several times (all must hold). The cluster is --address, else RAY_ADDRESS, else the one\n" +
			"last started on this machine.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := strings.ReplaceAll(args[0], "_", "-")
			if _, ok := stategather.Kinds[kind]; !ok {
				return fmt.Errorf("ray list %s: goray lists %s", args[0], stategather.KindNames)
			}
			if format != "table" && format != "default" && format != "json" {
				return fmt.Errorf("--format is table or json, not %q", format)
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: a number of 0 or more is needed (0: no limit)", limit)
			}
			var preds []state.Filter
			for _, f := range filters {
				p, err := state.ParseFilter(f)
				if err != nil {
					return err
				}
				preds = append(preds, p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			rows, err := gatherState(ctx, kind, address, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rows, truncated, err := state.Select(rows, preds, limit)
			if err != nil {
				return err
			}
			if truncated {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the list is cut at --limit %d: give a larger one to see more\n", limit)
			}
			if format == "json" {
				return state.PrintJSON(cmd.OutOrStdout(), rows)
			}
			return state.PrintTable(cmd.OutOrStdout(), kind, rows, state.Columns[kind], time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	fl.StringVar(&format, "format", "table", "table or json")
	fl.StringArrayVar(&filters, "filter", nil, "key=value or key!=value; may be given several times")
	fl.IntVar(&limit, "limit", 100, "the most records to show (0: all)")
	return cmd
}

func newGet() *cobra.Command {
	var address string
	cmd := &cobra.Command{
		Use:   "get nodes|actors|tasks|objects|placement-groups|jobs ID",
		Short: "Print one node, actor, task, placement group or job of the cluster, whole (Ray's state API)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := strings.ReplaceAll(args[0], "_", "-")
			key, ok := stategather.Kinds[kind]
			if !ok {
				return fmt.Errorf("ray get %s: goray gets %s", args[0], stategather.KindNames)
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			rows, err := gatherState(ctx, kind, address, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			found, _, err := state.Select(rows, []state.Filter{{Key: key, Equal: true, Value: args[1]}}, 0)
			if err != nil {
				return err
			}
			if kind == "jobs" && len(found) == 0 {
				// (a job is named by its submission id, or by its driver's job id)
				found, _, _ = state.Select(rows, []state.Filter{{Key: "job_id", Equal: true, Value: args[1]}}, 0)
			}
			rows = found
			if len(rows) == 0 {
				return fmt.Errorf("the cluster has no %s with %s %s", strings.TrimSuffix(kind, "s"), key, args[1])
			}
			return state.PrintJSON(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	return cmd
}
