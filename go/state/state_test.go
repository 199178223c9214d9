package state

import (
	"bytes"
	"strings"
	"testing"
	"time"

	pb "goray/rpc/proto"
)

func TestActorsMergeOwnerAndHost(t *testing.T) {
	owner := &pb.NodeStateReply{NodeId: []byte{1}, Actors: []*pb.ActorState{
		{ActorId: []byte{0xaa}, ClassName: "6Keeper", State: "ALIVE", Owned: true, NodeId: []byte{2}, Name: "keeper", JobId: "01000000"},
		{ActorId: []byte{0xbb}, ClassName: "N2ns4PoolE", State: "DEAD", Owned: true, DeathCause: "killed", Pid: 0},
		{ActorId: []byte{0xcc}, ClassName: "7Counter", State: "ALIVE", Owned: true, NodeId: []byte{1}, Pid: 42},
	}}
	host := &pb.NodeStateReply{NodeId: []byte{2}, Actors: []*pb.ActorState{
		{ActorId: []byte{0xaa}, ClassName: "6Keeper", State: "ALIVE", Owned: false, NodeId: []byte{2}, Pid: 77},
		{ActorId: []byte{0xdd}, State: "ALIVE", Owned: false, NodeId: []byte{2}, Pid: 5}, // (its owner did not answer)
	}}
	other := &pb.NodeStateReply{NodeId: []byte{3}, Actors: []*pb.ActorState{
		{ActorId: []byte{0xaa}, State: "DEAD", Owned: false, NodeId: []byte{3}, Pid: 99}, // (an earlier incarnation's host)
	}}
	got := Actors([]*pb.NodeStateReply{host, owner, other})
	want := []struct {
		id, class, state string
		pid              int32
	}{{"aa", "Keeper", "ALIVE", 77}, {"bb", "ns::Pool", "DEAD", 0}, {"cc", "Counter", "ALIVE", 42}, {"dd", "", "ALIVE", 5}}
	if len(got) != len(want) {
		t.Fatalf("merged %d actors: %+v", len(got), got)
	}
	for i, w := range want {
		a := got[i]
		if a.ActorID != w.id || a.ClassName != w.class || a.State != w.state || a.PID != w.pid || a.RequiredResources == nil {
			t.Errorf("actor %d: %+v, want %+v", i, a, w)
		}
	}
}

func TestClassName(t *testing.T) {
	for in, want := range map[string]string{
		"6Keeper":           "Keeper",
		"N2ns6KeeperE":      "ns::Keeper",
		"N1a1b1cE":          "a::b::c",
		"7Counter":          "Counter",
		"Counter":           "Counter", // (not mangled)
		"N2ns4PoolIiEE":     "N2ns4PoolIiEE",
		"99Short":           "99Short",
		"":                  "",
		"St6vectorIiSaIiEE": "St6vectorIiSaIiEE",
	} {
		if got := ClassName(in); got != want {
			t.Errorf("ClassName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSelect(t *testing.T) {
	rows, err := Rows([]Actor{
		{ActorID: "a1", State: "ALIVE", Name: "x", PID: 3},
		{ActorID: "a2", State: "DEAD", Name: "y"},
		{ActorID: "a3", State: "ALIVE", Name: "z", PID: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		filters   []string
		limit     int
		want      string
		truncated bool
		err       string
	}{
		{nil, 0, "a1,a2,a3", false, ""},
		{[]string{"state=ALIVE"}, 0, "a1,a3", false, ""},
		{[]string{"state=alive"}, 0, "a1,a3", false, ""},
		{[]string{"state!=ALIVE"}, 0, "a2", false, ""},
		{[]string{"state=ALIVE", "name=z"}, 0, "a3", false, ""},
		{[]string{" pid = 4 "}, 0, "a3", false, ""},
		{nil, 2, "a1,a2", true, ""},
		{[]string{"state=ALIVE"}, 2, "a1,a3", false, ""},
		{[]string{"colour=red"}, 0, "", false, "filter key \"colour\" is none of"},
	}
	for _, c := range cases {
		var preds []Filter
		for _, f := range c.filters {
			p, err := ParseFilter(f)
			if err != nil {
				t.Fatal(err)
			}
			preds = append(preds, p)
		}
		out, truncated, err := Select(rows, preds, c.limit)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want %q", c.filters, err, c.err)
			}
			continue
		}
		var ids []string
		for _, r := range out {
			ids = append(ids, text(r["actor_id"]))
		}
		if strings.Join(ids, ",") != c.want || truncated != c.truncated || err != nil {
			t.Errorf("%v limit %d: %v truncated %v %v, want %s %v", c.filters, c.limit, ids, truncated, err, c.want, c.truncated)
		}
	}
	if _, err := ParseFilter("state"); err == nil {
		t.Error("a filter without = was taken")
	}
}

func TestPlacementGroupsAndNodes(t *testing.T) {
	groups := PlacementGroups([]*pb.PlacementGroupInfo{
		{GroupId: "g2", Name: "later", State: 1, Strategy: 3, CreateTimeMs: 20, Bundles: []*pb.Bundle{{Resources: map[string]float64{"CPU": 1}, NodeId: []byte{0xab}}}},
		{GroupId: "g1", State: 0, Strategy: 0, CreateTimeMs: 10, PendingReason: "no room"},
		{GroupId: "g3", State: 9, Strategy: -1, CreateTimeMs: 30},
	})
	if groups[0].PlacementGroupID != "g1" || groups[0].State != "PENDING" || groups[0].Strategy != "PACK" || groups[0].PendingReason != "no room" {
		t.Errorf("first group %+v", groups[0])
	}
	if g := groups[1]; g.State != "CREATED" || g.Strategy != "STRICT_SPREAD" || len(g.Bundles) != 1 || g.Bundles[0].NodeID != "ab" || g.Bundles[0].BundleID != "g2_0" {
		t.Errorf("second group %+v", g)
	}
	if g := groups[2]; g.State != "UNKNOWN(9)" || g.Strategy != "UNKNOWN(-1)" {
		t.Errorf("a group of states goray does not know: %+v", g)
	}
	nodes := Nodes([]*pb.NodeInfo{
		{NodeId: []byte{2}, Alive: false, StartTimeMs: 5, PeerAddress: "127.0.0.2:4000", DeathCause: "missed its health checks"},
		{NodeId: []byte{1}, Alive: true, IsHead: true, StartTimeMs: 1, PeerAddress: "[::1]:4000", Available: map[string]float64{"CPU": 1}},
	}, []*pb.NodeStateReply{{NodeId: []byte{1}, StoreUsedBytes: 300, StoreCapacityBytes: 1000}})
	if nodes[0].NodeID != "01" || !nodes[0].IsHeadNode || nodes[0].NodeIP != "::1" || nodes[1].State != "DEAD" || nodes[1].NodeIP != "127.0.0.2" || nodes[1].StateMessage == "" {
		t.Errorf("nodes %+v", nodes)
	}
	if n := nodes[0]; n.ObjectStoreUsedMemory != 300 || n.ObjectStoreTotalMemory != 1000 || n.ResourcesAvailable["CPU"] != 1 {
		t.Errorf("the live node's use: %+v", n)
	}
	if n := nodes[1]; n.ObjectStoreTotalMemory != 0 || n.ResourcesAvailable != nil {
		t.Errorf("a dead node has no use: %+v", n)
	}
}

func TestPrint(t *testing.T) {
	rows, _ := Rows([]Node{{NodeID: "n1", NodeIP: "127.0.0.1", IsHeadNode: true, State: "ALIVE", ResourcesTotal: map[string]float64{"CPU": 2, "b": 1}}})
	var buf bytes.Buffer
	if err := PrintTable(&buf, "nodes", rows, Columns["nodes"], time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"======== List: 2026-01-02 03:04:05.000000 ========", "Total: 1", "NODE_ID", "IS_HEAD_NODE", "n1", "True", "{CPU: 2, b: 1}"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := PrintJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("an empty list as JSON: %q %v", buf.String(), err)
	}
}

func TestTasksSummaryTimeline(t *testing.T) {
	ev := func(id byte, name string, typ int32, st string, start, end int64) *pb.TaskEvent {
		return &pb.TaskEvent{TaskId: []byte{id}, Name: name, Type: typ, State: st, StartUs: start, EndUs: end}
	}
	actorCall := ev(4, "&Counter::Add", 2, "FINISHED", 500, 900)
	actorCall.ActorId, actorCall.ClassName = []byte{0xac}, "7Counter"
	attempt := func(e *pb.TaskEvent, n int32) *pb.TaskEvent { e.Attempt = n; return e }
	nodeA := &pb.NodeStateReply{NodeId: []byte{0xa}, Tasks: []*pb.TaskRecord{
		{Event: attempt(ev(1, "Plus", 0, "FAILED", 100, 200), 1), JobId: "01000000", WorkerPid: 11},   // (its first run)
		{Event: attempt(ev(1, "Plus", 0, "FINISHED", 300, 400), 2), JobId: "01000000", WorkerPid: 12}, // (the retry)
		{Event: attempt(ev(5, "Flaky", 0, "FAILED", 100, 200), 1)},                                    // (a run that failed...)
		{Event: attempt(ev(5, "Flaky", 0, "PENDING_NODE_ASSIGNMENT", 0, 0), 2)},                       // (...and its retry waits)
		{Event: ev(2, "Slow", 0, "RUNNING", 0, 0), WorkerPid: 11},
		{Event: ev(3, "Wait", 0, "PENDING_ARGS_AVAIL", 0, 0)},
		{Event: ev(3, "Wait", 0, "PENDING_ARGS_AVAIL", 0, 0)}, // (waits for two arguments)
		{Event: actorCall, WorkerPid: 13},
		{Event: &pb.TaskEvent{}}, // (no id: left out)
	}}
	nodeB := &pb.NodeStateReply{NodeId: []byte{0xb}, Tasks: []*pb.TaskRecord{
		{Event: ev(2, "Slow", 0, "FINISHED", 50, 600), WorkerPid: 21}, // (it ended since node A answered)
	}}
	tasks := Tasks([]*pb.NodeStateReply{nodeA, nodeB})
	got := map[string]Task{}
	for _, task := range tasks {
		got[task.TaskID] = task
	}
	if len(tasks) != 5 {
		t.Fatalf("%d tasks: %+v", len(tasks), tasks)
	}
	if p := got["01"]; p.State != "FINISHED" || p.AttemptNumber != 1 || p.WorkerPID != 12 || p.StartTimeMs != 0 {
		t.Errorf("the retried task: %+v", p)
	}
	if s := got["02"]; s.State != "FINISHED" || s.NodeID != "0b" || s.WorkerPID != 21 {
		t.Errorf("the task that ended elsewhere: %+v", s)
	}
	if w := got["03"]; w.State != "PENDING_ARGS_AVAIL" {
		t.Errorf("the waiting task: %+v", w)
	}
	if f := got["05"]; f.State != "PENDING_NODE_ASSIGNMENT" || f.AttemptNumber != 1 {
		t.Errorf("the task whose retry waits: %+v", f)
	}
	// A filter on a field some tasks lack (actor_id) keeps the tasks that have it.
	rows, _ := Rows(tasks)
	if sel, _, err := Select(rows, []Filter{{Key: "actor_id", Equal: true, Value: "ac"}}, 0); err != nil || len(sel) != 1 {
		t.Errorf("filter on actor_id: %v %v", sel, err)
	}
	if a := got["04"]; a.Type != "ACTOR_TASK" || a.FuncOrClass != "Counter.Add" || a.ActorID != "ac" {
		t.Errorf("the actor call: %+v", a)
	}
	sum := SummarizeTasks(tasks)
	if len(sum) != 5 || sum[0].TotalTasks != 1 {
		t.Errorf("summary %+v", sum)
	}
	for _, s := range sum {
		if s.FuncOrClass == "Counter.Add" && (s.Type != "ACTOR_TASK" || s.StateCounts["FINISHED"] != 1) {
			t.Errorf("the actor's line %+v", s)
		}
	}
	tl := Timeline([]*pb.NodeStateReply{nodeA, nodeB})
	if len(tl) != 5 { // (runs that ended: Plus twice, Slow on B, the actor call)
		t.Fatalf("timeline %+v", tl)
	}
	if first := tl[0]; first.Name != "Slow" || first.Timestamp != 50 || first.Duration != 550 || first.PID != "Node 0b" || first.TID != 21 || first.Phase != "X" {
		t.Errorf("the first run drawn: %+v", first)
	}
	actors := SummarizeActors([]Actor{{ClassName: "B", State: "ALIVE"}, {ClassName: "A", State: "DEAD"}, {ClassName: "B", State: "DEAD"}})
	if len(actors) != 2 || actors[0].ClassName != "A" || actors[1].StateCounts["ALIVE"] != 1 || actors[1].StateCounts["DEAD"] != 1 {
		t.Errorf("actor summary %+v", actors)
	}
}
