package state

import (
	"strings"
	"testing"
	"time"

	pb "goray/rpc/proto"
)

func objectReports() ([]*pb.NodeInfo, []*pb.NodeStateReply) {
	nodes := []*pb.NodeInfo{
		{NodeId: []byte{0xa}, Address: "10.0.0.1", PeerAddress: "127.0.0.1:7000", Alive: true},
		{NodeId: []byte{0xb}, Address: "127.0.0.2", Alive: true},
	}
	ref := func(id byte, local, submitted int64, holders [][]byte, pinned bool, size int64) *pb.ObjectRefInfo {
		return &pb.ObjectRefInfo{ObjectId: []byte{id}, LocalRefCount: local, SubmittedTaskRefCount: submitted, ContainedInOwned: holders,
			PinnedInMemory: pinned, ObjectSize: size}
	}
	reports := []*pb.NodeStateReply{
		{NodeId: []byte{0xa}, StoreUsedBytes: 3 << 20, StoreCapacityBytes: 100 << 20, StoreObjects: 2, Objects: []*pb.ObjectRecord{
			{Ref: ref(1, 1, 0, nil, false, 2<<20), Pid: 10, IsDriver: true, TaskStatus: "NIL"},
			{Ref: ref(1, 1, 1, nil, false, 2<<20), Pid: 11, TaskStatus: "NIL"},
			{Ref: ref(2, 1, 0, nil, true, 1<<20), Pid: 11, TaskStatus: "FINISHED"},
			{Ref: ref(3, 0, 0, [][]byte{{1}}, false, 10), Pid: 10, IsDriver: true, TaskStatus: "NIL"},
			{Ref: ref(4, 0, 0, nil, false, 10), Pid: 10, IsDriver: true, TaskStatus: "NIL"}, // (nothing keeps it)
		}},
		{NodeId: []byte{0xb}, StoreCapacityBytes: 100 << 20, SilentProcesses: 2, Objects: []*pb.ObjectRecord{
			{Ref: ref(1, 1, 0, nil, false, -1), Pid: 20, TaskStatus: "NIL"},
			{Ref: ref(5, 1, 0, nil, false, -1), Pid: 20, TaskStatus: "RUNNING"},
		}},
	}
	return nodes, reports
}

// The records of `ray list objects`: one per process's reference, Ray's reference type for what
// keeps it (pinned, then pending task, then local, then captured), the node's IP.
func TestObjects(t *testing.T) {
	objects := Objects(objectReports())
	want := []struct{ id, kind, typ, ip string }{
		{"01", RefLocal, "DRIVER", "127.0.0.1"},
		{"01", RefPending, "WORKER", "127.0.0.1"},
		{"01", RefLocal, "WORKER", "127.0.0.2"},
		{"02", RefPinned, "WORKER", "127.0.0.1"},
		{"03", RefCaptured, "DRIVER", "127.0.0.1"},
		{"05", RefLocal, "WORKER", "127.0.0.2"},
	}
	if len(objects) != len(want) {
		t.Fatalf("%d records, not %d: %+v", len(objects), len(want), objects)
	}
	for i, w := range want {
		o := objects[i]
		if o.ObjectID != w.id || o.ReferenceType != w.kind || o.Type != w.typ || o.IP != w.ip || o.CallSite != "disabled" {
			t.Errorf("record %d: %+v, want %+v", i, o, w)
		}
	}
	if h := objects[4].ContainedInOwned; len(h) != 1 || h[0] != "01" {
		t.Errorf("the captured ref names its holder: %v", h)
	}

	sum := SummarizeObjects(objects)
	if len(sum) != 1 {
		t.Fatalf("one call site: %+v", sum)
	}
	s := sum[0]
	// (each object counted once: 01 is 2 MiB wherever it is referred to; 02 1 MiB; 03 10 B)
	if s.TotalObjects != 4 || s.TotalNumWorkers != 3 || s.TotalNumNodes != 2 || s.RefTypeCounts[RefLocal] != 3 ||
		s.TaskStateCounts["NIL"] != 4 || s.TotalSizeMB < 3 || s.TotalSizeMB > 3.001 {
		t.Errorf("the summary: %+v", s)
	}
}

// `ray memory`: groups with their summaries, references sorted and cut as asked, and the stores'
// use across the nodes.
func TestPrintMemory(t *testing.T) {
	nodes, reports := objectReports()
	objects := Objects(nodes, reports)
	var b strings.Builder
	o := MemoryOptions{GroupBy: "node_address", SortBy: "object_size", Units: "MB", NumEntries: 2}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	if err := PrintMemory(&b, objects, reports, o, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"--- Summary for node address: 127.0.0.1 ---",
		"--- Object references for node address: 127.0.0.2 ---",
		"Display 2 entries per group",
		"Plasma memory usage 3 MiB, 2 objects, 1.5% full",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	// Node A's group: 3 MiB of objects (01 and 02, each once), 01's local ref of 2 MiB; only
	// two of its four references shown, the largest first.
	group := out[strings.Index(out, "127.0.0.1 ---"):strings.Index(out, "--- Summary for node address: 127.0.0.2")]
	if !strings.Contains(group, "3.145738 MB") || !strings.Contains(group, "1, (2.097152 MB)") || strings.Count(group, "Worker")+strings.Count(group, "Driver") != 2 {
		t.Errorf("node A's group:\n%s", group)
	}
	lines := strings.Split(group, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "IP Address") && !strings.Contains(lines[i+1], "2.097152 MB") {
			t.Errorf("the largest first:\n%s", group)
		}
	}

	for _, bad := range []MemoryOptions{
		{GroupBy: "colour", SortBy: "PID", Units: "B"},
		{GroupBy: "NODE_ADDRESS", SortBy: "age", Units: "B"},
		{GroupBy: "NODE_ADDRESS", SortBy: "PID", Units: "TB"},
		{GroupBy: "NODE_ADDRESS", SortBy: "PID", Units: "B", NumEntries: -1},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v passed the check", bad)
		}
	}
}
