package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	pb "goray/rpc/proto"
	"goray/state"
	"goray/stategather"
)

func newLogs() *cobra.Command {
	var address, nodeID, nodeIP string
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [cluster] [GLOB]",
		Short: "List a node's log files, or print the end of one (Ray's log CLI)",
		Long: "List a node's log files (the files of its session's logs directory), or print the end of one.\n\n" +
			"  ray logs                          the head node's log files\n" +
			"  ray logs cluster 'worker-*'       the matching files of every node\n" +
			"  ray logs raylet.INFO --node-ip 127.0.0.2 --tail 100\n\n" +
			"A GLOB that names one file of the node prints its last --tail lines (-1: all of it); any other\n" +
			"lists the files that match. The node is --node-id or --node-ip, else the head.",
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			all := len(args) > 0 && args[0] == "cluster"
			if all {
				args = args[1:]
			} else if len(args) > 1 {
				return fmt.Errorf("ray logs takes one GLOB (or `cluster` and a GLOB)")
			}
			glob := ""
			if len(args) > 0 {
				glob = args[0]
			}
			ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
			defer cancel()
			c, err := dialCluster(address)
			if err != nil {
				return err
			}
			defer c.conn.Close()
			nodes, err := c.nodes(ctx)
			if err != nil {
				return err
			}
			token := c.token
			chosen, err := chooseNodes(nodes, all, nodeID, nodeIP)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !all && glob != "" && !strings.ContainsAny(glob, "*?[") {
				return printLog(ctx, out, chosen[0], glob, tail, token)
			}
			for _, n := range chosen {
				if err := listLogs(ctx, out, n, glob, token); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: node %s: %v\n", hex.EncodeToString(n.NodeId), err)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&address, "address", "", "the cluster (HOST:PORT of its head); default RAY_ADDRESS, then this machine's cluster")
	fl.StringVar(&nodeID, "node-id", "", "the node (its id, or a prefix of it)")
	fl.StringVar(&nodeIP, "node-ip", "", "the node (its IP address)")
	fl.IntVar(&tail, "tail", 1000, "how many of the file's last lines to print (-1: all)")
	return cmd
}

// chooseNodes picks the live nodes `ray logs` reads: all, the one named, or the head.
func chooseNodes(nodes []*pb.NodeInfo, all bool, id, ip string) ([]*pb.NodeInfo, error) {
	var out []*pb.NodeInfo
	for _, n := range nodes {
		if !n.Alive || n.PeerAddress == "" {
			continue
		}
		hexID := hex.EncodeToString(n.NodeId)
		switch {
		case all,
			id != "" && strings.HasPrefix(hexID, strings.ToLower(id)),
			ip != "" && state.HostOf(n.PeerAddress) == ip,
			id == "" && ip == "" && n.IsHead:
			out = append(out, n)
		}
	}
	switch {
	case len(out) == 0:
		return nil, fmt.Errorf("no live node of the cluster matches (--node-id %q, --node-ip %q): `ray list nodes` lists them", id, ip)
	case len(out) > 1 && !all:
		return nil, fmt.Errorf("--node-id %q names %d nodes: give more of the id", id, len(out))
	}
	return out, nil
}

func listLogs(ctx context.Context, out io.Writer, n *pb.NodeInfo, glob, token string) error {
	return stategather.Peer(ctx, n.PeerAddress, token, func(ctx context.Context, c pb.NodePeerClient) error {
		rep, err := c.ListLogs(ctx, &pb.ListLogsRequest{Glob: glob})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "=== node %s (%s) ===\n", hex.EncodeToString(n.NodeId), state.HostOf(n.PeerAddress))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, f := range rep.Files {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", f.Name, f.Size, time.UnixMilli(f.ModifiedMs).Format(time.RFC3339))
		}
		return tw.Flush()
	})
}

func printLog(ctx context.Context, out io.Writer, n *pb.NodeInfo, name string, tail int, token string) error {
	if tail == 0 || tail < -1 {
		return fmt.Errorf("--tail %d: a number of lines, or -1 for all of it", tail)
	}
	if tail == -1 {
		tail = 0
	}
	return stategather.Peer(ctx, n.PeerAddress, token, func(ctx context.Context, c pb.NodePeerClient) error {
		rep, err := c.GetLog(ctx, &pb.GetLogRequest{Name: name, TailLines: int32(tail)})
		if err != nil {
			return fmt.Errorf("node %s: %w", hex.EncodeToString(n.NodeId), err)
		}
		_, err = out.Write(rep.Data)
		return err
	})
}
