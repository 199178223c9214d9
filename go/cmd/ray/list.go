package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"goray/cluster"
	pb "goray/rpc/proto"
	"goray/state"
)

// stateKinds are what `ray list` and `ray get` know, with the record field that names one.
var stateKinds = map[string]string{
	"nodes":            "node_id",
	"actors":           "actor_id",
	"placement-groups": "placement_group_id",
	"jobs":             "submission_id",
	"tasks":            "task_id",
}

// stateTimeout bounds how long gathering the cluster's state may take.
const stateTimeout = 30 * time.Second

// kindNames names what `ray list` and `ray get` know, for their errors.
const kindNames = "nodes, actors, tasks, placement-groups or jobs"

// gatherState returns the records of kind, as Ray's field names, from the cluster at address
// (warnings: nodes that did not answer).
func gatherState(ctx context.Context, kind, address string, warn io.Writer) ([]map[string]any, error) {
	if kind == "jobs" {
		c, err := jobClient(address)
		if err != nil {
			return nil, err
		}
		list, err := c.List(ctx)
		if err != nil {
			return nil, err
		}
		return state.Rows(list)
	}
	c, err := dialCluster(address)
	if err != nil {
		return nil, err
	}
	defer c.conn.Close()
	if kind == "placement-groups" {
		rep, err := pb.NewControlStoreClient(c.conn).GetPlacementGroups(ctx, &pb.GetPlacementGroupsRequest{})
		if err != nil {
			return nil, cluster.Explain(err, c.addr)
		}
		return state.Rows(state.PlacementGroups(rep.Groups))
	}
	nodes, err := c.nodes(ctx)
	if err != nil {
		return nil, err
	}
	if kind == "nodes" {
		return state.Rows(state.Nodes(nodes))
	}
	reports := nodeReports(ctx, nodes, c.token, kind, warn)
	if kind == "tasks" {
		return state.Rows(state.Tasks(reports))
	}
	return state.Rows(state.Actors(reports))
}

// gatherReports returns every live node's state report (kind: "actors", "tasks" or "" for both)
// of the cluster at address.
func gatherReports(ctx context.Context, address, kind string, warn io.Writer) ([]*pb.NodeStateReply, error) {
	c, err := dialCluster(address)
	if err != nil {
		return nil, err
	}
	defer c.conn.Close()
	nodes, err := c.nodes(ctx)
	if err != nil {
		return nil, err
	}
	return nodeReports(ctx, nodes, c.token, kind, warn), nil
}

// nodeReports asks every live node for its state (of kind), at once; a node that does not
// answer is said in warn and left out.
func nodeReports(ctx context.Context, nodes []*pb.NodeInfo, token, kind string, warn io.Writer) []*pb.NodeStateReply {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var reports []*pb.NodeStateReply
	for _, n := range nodes {
		if !n.Alive {
			continue
		}
		if n.PeerAddress == "" {
			fmt.Fprintf(warn, "warning: node %s serves no other node: the list lacks what only it knows\n", hex.EncodeToString(n.NodeId))
			continue
		}
		wg.Add(1)
		go func(n *pb.NodeInfo) {
			defer wg.Done()
			rep, err := nodeReport(ctx, n.PeerAddress, token, kind)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(warn, "warning: node %s (%s) did not answer: %v; the list lacks what only it knows\n", hex.EncodeToString(n.NodeId), n.PeerAddress, err)
				return
			}
			reports = append(reports, rep)
		}(n)
	}
	wg.Wait()
	return reports
}

// maxStateReply bounds a node's state reply (its task ring and waiting tasks: tens of MB at most).
const maxStateReply = 256 << 20

func nodeReport(ctx context.Context, addr, token, kind string) (rep *pb.NodeStateReply, err error) {
	err = peer(ctx, addr, token, func(ctx context.Context, c pb.NodePeerClient) error {
		rep, err = c.NodeState(ctx, &pb.NodeStateRequest{Kind: kind}, grpc.MaxCallRecvMsgSize(maxStateReply))
		return err
	})
	return rep, err
}

func newList() *cobra.Command {
	var address, format string
	var filters []string
	var limit int
	cmd := &cobra.Command{
		Use:   "list nodes|actors|tasks|placement-groups|jobs",
		Short: "List the cluster's nodes, actors, tasks, placement groups or jobs (Ray's state API)",
		Long: "List the cluster's nodes, actors, tasks, placement groups or jobs, with Ray's field names.\n\n" +
			"  ray list actors --filter \"state=ALIVE\" --limit 10\n" +
			"  ray list nodes --format json\n\n" +
			"--filter takes key=value or key!=value (values compared without regard to case), and may be\n" +
			"given several times (all must hold). The cluster is --address, else RAY_ADDRESS, else the one\n" +
			"last started on this machine.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := strings.ReplaceAll(args[0], "_", "-")
			if _, ok := stateKinds[kind]; !ok {
				return fmt.Errorf("ray list %s: goray lists %s", args[0], kindNames)
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
		Use:   "get nodes|actors|tasks|placement-groups|jobs ID",
		Short: "Print one node, actor, task, placement group or job of the cluster, whole (Ray's state API)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := strings.ReplaceAll(args[0], "_", "-")
			key, ok := stateKinds[kind]
			if !ok {
				return fmt.Errorf("ray get %s: goray gets %s", args[0], kindNames)
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			rows, err := gatherState(ctx, kind, address, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rows, _, err = state.Select(rows, []state.Filter{{Key: key, Equal: true, Value: args[1]}}, 0)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("the cluster has no %s with %s %s", strings.TrimSuffix(kind, "s"), key, args[1])
			}
			return state.PrintJSON(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	return cmd
}
