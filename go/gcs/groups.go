package gcs

import (
	"context"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"goray/placement"
	pb "goray/rpc/proto"
)

// Placement groups: their owners (the nodes that created them) record them here, so that any
// process of the cluster finds them by name, lists them, and finds their owner. The owner is the
// authority on a group's state; a record here follows it by a little.

// maxGroupsPerPut bounds the groups of one PutPlacementGroups call.
const maxGroupsPerPut = 10000

// PutPlacementGroups records groups as their owners know them now; a group's first record claims
// its name (errors[i] says when a live group of its namespace has it).
func (s *Server) PutPlacementGroups(_ context.Context, req *pb.PutPlacementGroupsRequest) (*pb.PutPlacementGroupsReply, error) {
	if len(req.Groups) > maxGroupsPerPut {
		return nil, status.Errorf(codes.InvalidArgument, "PutPlacementGroups: %d groups in one call; at most %d", len(req.Groups), maxGroupsPerPut)
	}
	rep := &pb.PutPlacementGroupsReply{Errors: make([]string, len(req.Groups))}
	checked := make([]bool, len(req.Groups))
	for i, g := range req.Groups {
		if err := placement.CheckInfo(g); err != nil {
			rep.Errors[i] = err.Error()
		} else {
			checked[i] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, g := range req.Groups {
		if !checked[i] {
			continue
		}
		// (the request is this call's own: its records are kept as they are)
		if err := s.groups.PutOwned(g); err != nil {
			rep.Errors[i] = err.Error()
		}
	}
	return rep, nil
}

// GetPlacementGroups looks groups up by id, by name in a namespace, or lists them all.
func (s *Server) GetPlacementGroups(_ context.Context, req *pb.GetPlacementGroupsRequest) (*pb.GetPlacementGroupsReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := s.groups.Get(req.GroupId, req.Name, req.Namespace)
	rep := &pb.GetPlacementGroupsReply{Groups: make([]*pb.PlacementGroupInfo, len(found))}
	for i, g := range found {
		rep.Groups[i] = proto.Clone(g).(*pb.PlacementGroupInfo)
	}
	return rep, nil
}

// nodeDied ends what a dead node held: the groups it owned (REMOVED) and the jobs of the drivers
// attached to it. Called with s.mu held.
func (s *Server) nodeDied(n *pb.NodeInfo) {
	s.jobsOfDeadNode(n, time.Now())
	if k := s.groups.OwnerDied(n.NodeId); k > 0 {
		glog.Warningf("control store: %d placement groups of dead node %x are removed", k, n.NodeId)
	}
}
