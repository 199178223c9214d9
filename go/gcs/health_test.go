package gcs

import (
	"context"
	"strings"
	"testing"
	"time"

	pb "goray/rpc/proto"
)

// When a node that stopped reporting counts as dead.
func TestHealthDead(t *testing.T) {
	h := Health{Period: 3 * time.Second, Threshold: 5}
	last := time.Unix(1000, 0)
	cases := []struct {
		silent time.Duration
		dead   bool
	}{
		{0, false},
		{3 * time.Second, false},
		{14999 * time.Millisecond, false},
		{15 * time.Second, true},
		{time.Hour, true},
		{-time.Second, false}, // a report from the future (clock steps) is no death
	}
	for _, c := range cases {
		cause := h.Dead(last, last.Add(c.silent))
		if (cause != "") != c.dead {
			t.Errorf("silent %v: cause %q, want dead %v", c.silent, cause, c.dead)
		}
		if c.dead && !strings.Contains(cause, "missed") {
			t.Errorf("silent %v: cause %q does not say checks were missed", c.silent, cause)
		}
	}
}

func TestHealthFromEnv(t *testing.T) {
	cases := []struct {
		period, threshold string
		want              Health
	}{
		{"", "", DefaultHealth},
		{"100", "2", Health{Period: 100 * time.Millisecond, Threshold: 2}},
		{"-5", "zero", DefaultHealth},
		{"0", "0", DefaultHealth},
	}
	for _, c := range cases {
		t.Setenv(EnvHealthCheckPeriodMs, c.period)
		t.Setenv(EnvHealthCheckFailureThreshold, c.threshold)
		if got := HealthFromEnv(); got != c.want {
			t.Errorf("period %q threshold %q: %+v, want %+v", c.period, c.threshold, got, c.want)
		}
	}
}

// Reports keep a node alive and carry what it has free; a node that stops reporting is swept
// dead, is told so when it reports again, and is alive again once it registers again.
func TestReportAndSweep(t *testing.T) {
	s := New()
	s.health = Health{Period: time.Second, Threshold: 3}
	ctx := context.Background()
	now := time.Now()
	node := &pb.NodeInfo{NodeId: nodeID('n'), Address: "127.0.0.2", StartTimeMs: now.UnixMilli(), Resources: map[string]float64{"CPU": 2}}
	if _, err := s.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: node}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.ReportNode(ctx, &pb.ReportNodeRequest{NodeId: nodeID('n'), Available: map[string]float64{"CPU": 1.5},
		Demands: []*pb.ResourceDemand{{Shape: map[string]float64{"GPU": 1}, Count: 2, Infeasible: true}}})
	if err != nil || rep.Dead {
		t.Fatalf("report: %v %v", rep, err)
	}
	if dead := s.SweepHealth(now.Add(2 * time.Second)); len(dead) != 0 {
		t.Fatalf("swept %d nodes 2 s after a report", len(dead))
	}
	all, _ := s.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if n := all.Nodes[0]; !n.Alive || n.Available["CPU"] != 1.5 || len(n.Demands) != 1 || n.Demands[0].Count != 2 {
		t.Fatalf("node after a report: %v", n)
	}
	if dead := s.SweepHealth(now.Add(time.Minute)); len(dead) != 1 {
		t.Fatalf("swept %d nodes after a silent minute, want 1", len(dead))
	}
	all, _ = s.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if n := all.Nodes[0]; n.Alive || !strings.Contains(n.DeathCause, "missed") {
		t.Fatalf("node after the sweep: alive %v cause %q", n.Alive, n.DeathCause)
	}
	if rep, err := s.ReportNode(ctx, &pb.ReportNodeRequest{NodeId: nodeID('n')}); err != nil || !rep.Dead {
		t.Fatalf("a dead node's report: %v %v; want told dead", rep, err)
	}
	if rep, err := s.ReportNode(ctx, &pb.ReportNodeRequest{NodeId: nodeID('u')}); err != nil || !rep.Dead {
		t.Fatalf("an unknown node's report: %v %v; want told dead", rep, err)
	}
	node.StartTimeMs = time.Now().UnixMilli()
	if _, err := s.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: node}); err != nil {
		t.Fatal(err)
	}
	all, _ = s.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if n := all.Nodes[0]; !n.Alive || n.DeathCause != "" {
		t.Fatalf("node registered again: alive %v cause %q", n.Alive, n.DeathCause)
	}
	// A report's totals (placement groups' bundles change them) replace the registered ones;
	// a report without totals leaves them.
	if _, err := s.ReportNode(ctx, &pb.ReportNodeRequest{NodeId: nodeID('n'), Total: map[string]float64{"CPU": 2, "CPU_group_x": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReportNode(ctx, &pb.ReportNodeRequest{NodeId: nodeID('n')}); err != nil {
		t.Fatal(err)
	}
	all, _ = s.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if got := all.Nodes[0].Resources; len(got) != 2 || got["CPU_group_x"] != 1 {
		t.Fatalf("the node's totals after reports: %v", got)
	}
	// Bad reports are refused.
	for _, bad := range []*pb.ReportNodeRequest{
		{NodeId: []byte("short")},
		{NodeId: nodeID('n'), Available: map[string]float64{"CPU": -1}},
		{NodeId: nodeID('n'), Total: map[string]float64{"CPU": -1}},
		{NodeId: nodeID('n'), Demands: []*pb.ResourceDemand{{Shape: map[string]float64{"": 1}}}},
	} {
		if _, err := s.ReportNode(ctx, bad); err == nil {
			t.Errorf("report %v accepted", bad)
		}
	}
}

// KVDel deletes a key, or only the value it was given.
func TestKVDel(t *testing.T) {
	s := New()
	ctx := context.Background()
	put := func(v string) {
		if _, err := s.KVPut(ctx, &pb.KVPutRequest{Namespace: "n", Key: "k", Value: []byte(v), Overwrite: true}); err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	if rep, _ := s.KVDel(ctx, &pb.KVDelRequest{Namespace: "n", Key: "k", IfValue: []byte("b")}); rep.Deleted {
		t.Fatal("deleted under another value")
	}
	if rep, _ := s.KVDel(ctx, &pb.KVDelRequest{Namespace: "n", Key: "k", IfValue: []byte("a")}); !rep.Deleted {
		t.Fatal("not deleted under its value")
	}
	if rep, _ := s.KVGet(ctx, &pb.KVGetRequest{Namespace: "n", Key: "k"}); rep.Found {
		t.Fatal("still there")
	}
	put("c")
	if rep, _ := s.KVDel(ctx, &pb.KVDelRequest{Namespace: "n", Key: "k"}); !rep.Deleted {
		t.Fatal("not deleted without a value to match")
	}
	if rep, _ := s.KVDel(ctx, &pb.KVDelRequest{Namespace: "n", Key: "gone"}); rep.Deleted {
		t.Fatal("deleted a missing key")
	}
	if _, err := s.KVDel(ctx, &pb.KVDelRequest{}); err == nil {
		t.Fatal("an empty key accepted")
	}
}

// The head's node (in the store's own process) is never swept dead, whatever its silence.
func TestSweepSparesTheHead(t *testing.T) {
	s := New()
	s.health = Health{Period: time.Second, Threshold: 1}
	ctx := context.Background()
	now := time.Now()
	for _, n := range []*pb.NodeInfo{
		{NodeId: nodeID('h'), Address: "127.0.0.1", StartTimeMs: now.UnixMilli(), Resources: map[string]float64{"CPU": 1}, IsHead: true},
		{NodeId: nodeID('w'), Address: "127.0.0.2", StartTimeMs: now.UnixMilli(), Resources: map[string]float64{"CPU": 1}},
	} {
		if _, err := s.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: n}); err != nil {
			t.Fatal(err)
		}
	}
	dead := s.SweepHealth(now.Add(time.Hour))
	if len(dead) != 1 || string(dead[0].NodeId) != string(nodeID('w')) {
		t.Fatalf("swept %v, want the other node only", dead)
	}
}
