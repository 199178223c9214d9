package gcs

import (
	"context"
	"strings"
	"testing"
	"time"

	pb "goray/rpc/proto"
)

// Placement groups' records over gRPC: a name claimed once, lookups by id, name and all, and a
// dead owner's groups removed (their names freed).
func TestPlacementGroupsOverGRPC(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	owner := nodeID('o')
	if _, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: &pb.NodeInfo{NodeId: owner, Address: "127.0.0.1", Alive: true, StartTimeMs: time.Now().UnixMilli()}}); err != nil {
		t.Fatal(err)
	}
	rec := func(id, name string, state int32) *pb.PlacementGroupInfo {
		return &pb.PlacementGroupInfo{GroupId: strings.Repeat(id, 36), Name: name, Namespace: "ns", State: state, OwnerNodeId: owner,
			Bundles: []*pb.Bundle{{Resources: map[string]float64{"CPU": 1}}}}
	}
	rep, err := c.PutPlacementGroups(ctx, &pb.PutPlacementGroupsRequest{Groups: []*pb.PlacementGroupInfo{
		rec("a", "train", 0), rec("b", "train", 0), rec("c", "", 1), {GroupId: "bad"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors[0] != "" || !strings.Contains(rep.Errors[1], "already exists") || rep.Errors[2] != "" || rep.Errors[3] == "" {
		t.Fatalf("errors: %q", rep.Errors)
	}
	get := func(req *pb.GetPlacementGroupsRequest) []*pb.PlacementGroupInfo {
		t.Helper()
		r, err := c.GetPlacementGroups(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r.Groups
	}
	if g := get(&pb.GetPlacementGroupsRequest{Name: "train", Namespace: "ns"}); len(g) != 1 || g[0].GroupId[0] != 'a' {
		t.Fatalf("by name: %v", g)
	}
	if g := get(&pb.GetPlacementGroupsRequest{Name: "train", Namespace: "other"}); len(g) != 0 {
		t.Fatalf("by name in another namespace: %v", g)
	}
	if g := get(&pb.GetPlacementGroupsRequest{}); len(g) != 2 {
		t.Fatalf("all: %v", g)
	}
	if _, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: owner}); err != nil {
		t.Fatal(err)
	}
	for _, g := range get(&pb.GetPlacementGroupsRequest{}) {
		if g.State != 2 {
			t.Errorf("group %s of a dead owner: state %d", g.GroupId, g.State)
		}
	}
	if g := get(&pb.GetPlacementGroupsRequest{Name: "train", Namespace: "ns"}); len(g) != 0 {
		t.Fatalf("a dead owner's name is still taken: %v", g)
	}
	if _, err := c.PutPlacementGroups(ctx, &pb.PutPlacementGroupsRequest{Groups: make([]*pb.PlacementGroupInfo, maxGroupsPerPut+1)}); err == nil {
		t.Fatal("an oversized batch was taken")
	}
}
