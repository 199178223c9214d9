package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"goray/cluster"
	"goray/clusterstatus"
	pb "goray/rpc/proto"
	"goray/session"
)

// clusterAddress is the address a CLI command talks to: its --address, else RAY_ADDRESS, else
// the cluster last started on this machine ("auto").
func clusterAddress(flag string) (string, error) {
	addr := flag
	if addr == "" {
		addr = os.Getenv("RAY_ADDRESS")
	}
	if addr == "" {
		addr = "auto"
	}
	return cluster.NormalizeAddress(addr, session.Root(""))
}

func newStatus() *cobra.Command {
	var address string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the cluster's nodes and resource usage",
		Long: "Print the cluster's nodes (alive, and recent failures) and its resource usage, in Ray's layout.\n" +
			"The cluster is --address, else RAY_ADDRESS, else the one last started on this machine.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := dialCluster(address)
			if err != nil {
				return err
			}
			defer c.conn.Close()
			nodes, err := c.nodes(context.Background())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), clusterstatus.Format(snapshot(nodes, time.Now()), verbose))
			return nil
		},
	}
	cmd.Flags().StringVar(&address, "address", "", "the cluster's address (HOST:PORT)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print each node's usage")
	return cmd
}

// clusterConn is a CLI command's connection to a cluster's control store.
type clusterConn struct {
	addr, token string
	conn        *grpc.ClientConn
}

// dialCluster connects to the cluster at address (see clusterAddress) with the token this
// process finds. The caller closes conn.
func dialCluster(address string) (*clusterConn, error) {
	addr, err := clusterAddress(address)
	if err != nil {
		return nil, err
	}
	token, err := cluster.Token()
	if err != nil {
		return nil, err
	}
	conn, err := cluster.Dial(addr, token)
	if err != nil {
		return nil, err
	}
	return &clusterConn{addr: addr, token: token, conn: conn}, nil
}

// nodes lists the cluster's nodes.
func (c *clusterConn) nodes(ctx context.Context) ([]*pb.NodeInfo, error) {
	return cluster.Nodes(ctx, c.conn, c.addr)
}

// snapshot is what `ray status` prints of the control store's nodes.
func snapshot(nodes []*pb.NodeInfo, now time.Time) clusterstatus.Snapshot {
	s := clusterstatus.Snapshot{Time: now}
	for _, n := range nodes {
		s.Nodes = append(s.Nodes, clusterstatus.Node{
			ID: fmt.Sprintf("%x", n.NodeId), Address: n.Address, Alive: n.Alive,
			Total: n.Resources, Available: n.Available, DeathCause: n.DeathCause,
		})
		if !n.Alive {
			continue
		}
		for _, d := range n.Demands {
			s.Demands = append(s.Demands, clusterstatus.Demand{Shape: d.Shape, Count: int(d.Count), Infeasible: d.Infeasible})
		}
	}
	return s
}
