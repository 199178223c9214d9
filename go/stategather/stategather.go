// Package stategather gathers what Ray's state API shows of a cluster: the control store's nodes
// and placement groups, the jobs, and the reports every live node gives of its actors, tasks and
// object store (asked at once). The ray CLI (`ray list`, `ray summary`, `ray timeline`) and the
// head's dashboard (/api/v0/...) both read the cluster through it; package state merges and
// shapes what it gathers.
package stategather

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"

	"goray/cluster"
	"goray/jobs"
	pb "goray/rpc/proto"
	"goray/state"
)

// Kinds are what List knows, with the record field that names one.
var Kinds = map[string]string{
	"nodes":            "node_id",
	"actors":           "actor_id",
	"placement-groups": "placement_group_id",
	"jobs":             "submission_id",
	"tasks":            "task_id",
	"objects":          "object_id",
}

// KindNames names what List knows, for errors.
const KindNames = "nodes, actors, tasks, objects, placement-groups or jobs"

// PeerTimeout bounds one call to a node.
const PeerTimeout = 20 * time.Second

// maxStateReply bounds a node's state reply (its task ring and waiting tasks: tens of MB at most).
const maxStateReply = 256 << 20

// Source is a cluster as the state API reads it.
type Source struct {
	// Conn reaches the control store, at Addr (named in errors).
	Conn *grpc.ClientConn
	Addr string
	// Token is the cluster's token, for the calls to the nodes.
	Token string
	// Jobs lists the cluster's jobs (nil: List of "jobs" fails).
	Jobs func(ctx context.Context) ([]jobs.Info, error)
}

// Nodes lists the control store's nodes.
func (s Source) Nodes(ctx context.Context) ([]*pb.NodeInfo, error) {
	return cluster.Nodes(ctx, s.Conn, s.Addr)
}

// List returns the records of kind (one of Kinds), with Ray's field names. Nodes that did not
// answer are said in warn.
func (s Source) List(ctx context.Context, kind string, warn io.Writer) ([]map[string]any, error) {
	switch kind {
	case "jobs":
		if s.Jobs == nil {
			return nil, fmt.Errorf("this cluster serves no job API")
		}
		list, err := s.Jobs(ctx)
		if err != nil {
			return nil, err
		}
		return state.Rows(list)
	case "placement-groups":
		rep, err := pb.NewControlStoreClient(s.Conn).GetPlacementGroups(ctx, &pb.GetPlacementGroupsRequest{})
		if err != nil {
			return nil, cluster.Explain(err, s.Addr)
		}
		return state.Rows(state.PlacementGroups(rep.Groups))
	case "objects":
		objects, _, err := s.Objects(ctx, warn)
		if err != nil {
			return nil, err
		}
		return state.Rows(objects)
	case "nodes", "actors", "tasks":
	default:
		return nil, fmt.Errorf("the state API knows %s, not %q", KindNames, kind)
	}
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	if kind == "nodes" {
		return state.Rows(state.Nodes(nodes, s.Reports(ctx, nodes, "node", warn)))
	}
	reports := s.Reports(ctx, nodes, kind, warn)
	if kind == "tasks" {
		return state.Rows(state.Tasks(reports))
	}
	return state.Rows(state.Actors(reports))
}

// Objects returns the references of every live node's processes (`ray memory`), with the nodes'
// reports (their object stores' use). Nodes that did not answer, and processes that did not tell
// their references in time, are said in warn.
func (s Source) Objects(ctx context.Context, warn io.Writer) ([]state.Object, []*pb.NodeStateReply, error) {
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	reports := s.Reports(ctx, nodes, "objects", warn)
	warnSilent(reports, warn)
	return state.Objects(nodes, reports), reports, nil
}

// warnSilent says in warn which nodes had processes that did not tell their references in time,
// and which left references out.
func warnSilent(reports []*pb.NodeStateReply, warn io.Writer) {
	for _, rep := range reports {
		if rep.SilentProcesses > 0 {
			fmt.Fprintf(warn, "warning: %d processes of node %s did not answer in time: the list lacks their references\n", rep.SilentProcesses, hex.EncodeToString(rep.NodeId))
		}
		if rep.ObjectsCut > 0 {
			fmt.Fprintf(warn, "warning: node %s left out %d references past its bound\n", hex.EncodeToString(rep.NodeId), rep.ObjectsCut)
		}
	}
}

// AllReports returns every live node's state report of kind ("actors", "tasks", "node",
// "objects", or "" for actors and tasks).
func (s Source) AllReports(ctx context.Context, kind string, warn io.Writer) ([]*pb.NodeStateReply, error) {
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	return s.Reports(ctx, nodes, kind, warn), nil
}

// Reports asks every live node of nodes for its state report (of kind), at once; a node that
// does not answer is said in warn and left out.
func (s Source) Reports(ctx context.Context, nodes []*pb.NodeInfo, kind string, warn io.Writer) []*pb.NodeStateReply {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var reports []*pb.NodeStateReply
	for _, n := range nodes {
		if !n.Alive {
			continue
		}
		if n.PeerAddress == "" {
			mu.Lock()
			fmt.Fprintf(warn, "warning: node %s serves no other node: the list lacks what only it knows\n", hex.EncodeToString(n.NodeId))
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func(n *pb.NodeInfo) {
			defer wg.Done()
			var rep *pb.NodeStateReply
			err := Peer(ctx, n.PeerAddress, s.Token, func(ctx context.Context, c pb.NodePeerClient) (err error) {
				rep, err = c.NodeState(ctx, &pb.NodeStateRequest{Kind: kind}, grpc.MaxCallRecvMsgSize(maxStateReply))
				return err
			})
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

// Peer asks the node at addr (its NodePeer service) through f, within PeerTimeout.
func Peer(ctx context.Context, addr, token string, f func(context.Context, pb.NodePeerClient) error) error {
	conn, err := cluster.Dial(addr, token)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, PeerTimeout)
	defer cancel()
	return f(ctx, pb.NewNodePeerClient(conn))
}
