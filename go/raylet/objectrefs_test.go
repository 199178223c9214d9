package raylet

import (
	"testing"

	"goray/ids"
	pb "goray/rpc/proto"
)

// askedRefs returns the request id of the ReportRefs among msgs (0: none).
func askedRefs(msgs []*pb.ServerMessage) uint64 {
	for _, m := range msgs {
		if r := m.GetReportRefs(); r != nil {
			return r.RequestId
		}
	}
	return 0
}

// report is a process's answer to ReportRefs.
func report(id uint64, refs ...*pb.ObjectRefInfo) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_RefsReport{RefsReport: &pb.RefsReport{RequestId: id, Refs: refs}}}
}

// localRef is a process's ObjectRef to id in user code, of a copy it does not have.
func localRef(id ids.ObjectID) *pb.ObjectRefInfo {
	return &pb.ObjectRefInfo{ObjectId: append([]byte(nil), id[:]...), LocalRefCount: 1, ObjectSize: -1}
}

// byObject indexes records by object and process.
func byObject(recs []*pb.ObjectRecord) map[ids.ObjectID]map[int32]*pb.ObjectRecord {
	out := map[ids.ObjectID]map[int32]*pb.ObjectRecord{}
	for _, r := range recs {
		id, _ := ids.ObjectIDFromBytes(r.Ref.ObjectId)
		if out[id] == nil {
			out[id] = map[int32]*pb.ObjectRecord{}
		}
		out[id][r.Pid] = r
	}
	return out
}

// The node's part of `ray memory`: it asks each process for its references, and adds the sizes
// of what its store has, the holds of the tasks waiting on it and their states.
func TestObjectRecords(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	d.c.pid = 7
	w := h.worker(nil)
	put := ids.NewPutID()
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: put[:], Object: &pb.Object{Data: []byte("hello")}}}})
	// Task one takes the object and runs; task two waits for task one's result.
	submit := func(arg ids.ObjectID) ids.ObjectID {
		tid := ids.NewTaskID()
		ret := tid.ReturnID(1)
		h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: "F",
			CallerId: d.c.id[:], Args: []*pb.TaskArg{{IsRef: true, ObjectId: append([]byte(nil), arg[:]...)}}}}})
		return ret
	}
	one := submit(put)
	two := submit(one)
	if got := executed(w.out.take()); len(got) != 1 {
		t.Fatalf("task one runs: %v", got)
	}

	var id uint64
	var g *refsGather
	h.do(func(s *state) { id, g = s.askRefs() })
	if askedRefs(d.out.take()) != id || askedRefs(w.out.take()) != id {
		t.Fatal("every process is asked for its references")
	}
	stray := &conn{c: &client{id: ids.NewUniqueID(), held: map[ids.ObjectID]struct{}{}}}
	h.send(stray, report(id, localRef(put))) // (never asked: ignored)
	h.send(d, report(id, localRef(put), localRef(one), localRef(two)))
	select {
	case <-g.done:
		t.Fatal("the gather ended before the worker answered")
	default:
	}
	var rep *pb.NodeStateReply
	h.do(func(s *state) { rep = s.objectRecords(id) }) // (the driver gave up waiting for the worker)
	if rep.SilentProcesses != 1 || rep.StoreObjects != 1 {
		t.Errorf("one process silent, one object stored: %d, %d", rep.SilentProcesses, rep.StoreObjects)
	}
	recs := byObject(rep.Objects)
	want := []struct {
		name      string
		id        ids.ObjectID
		size      int64
		status    string
		submitted int64
	}{
		{"the put object: its size from the store, held for task one", put, 5, "NIL", 1},
		{"task one's result: running, held for task two", one, -1, "RUNNING", 1},
		{"task two's result: waiting for its argument", two, -1, "PENDING_ARGS_AVAIL", 0},
	}
	for _, c := range want {
		r := recs[c.id][7]
		if r == nil {
			t.Errorf("%s: no record of the driver", c.name)
			continue
		}
		if r.Ref.ObjectSize != c.size || r.TaskStatus != c.status || r.Ref.SubmittedTaskRefCount != c.submitted || r.Ref.LocalRefCount != 1 || !r.IsDriver {
			t.Errorf("%s: size %d status %s submitted %d local %d driver %v", c.name, r.Ref.ObjectSize, r.TaskStatus,
				r.Ref.SubmittedTaskRefCount, r.Ref.LocalRefCount, r.IsDriver)
		}
	}
	if len(rep.Objects) != 3 {
		t.Errorf("three records, not %d (the stray's report is ignored)", len(rep.Objects))
	}
	h.send(w, report(id, localRef(put))) // (late: the request is over)

	// A process that dropped its refs still shows the arguments of its waiting tasks; a process
	// that goes away ends the wait for it; a finished task's result is FINISHED.
	h.done(w, one, "x")
	h.do(func(s *state) { id, g = s.askRefs() })
	h.send(d, report(id))
	h.do(func(s *state) { s.clientGone(w.c, nil) })
	select {
	case <-g.done:
	default:
		t.Fatal("the gather ends when the last process asked answers or goes")
	}
	h.do(func(s *state) { rep = s.objectRecords(id) })
	recs = byObject(rep.Objects)
	if r := recs[one][7]; len(rep.Objects) != 1 || r == nil || r.Ref.SubmittedTaskRefCount != 1 || r.Ref.LocalRefCount != 0 || r.TaskStatus != "FINISHED" ||
		r.Ref.ObjectSize != 1 || rep.SilentProcesses != 0 {
		t.Errorf("only task two's argument, held by the node for the driver: %v", rep.Objects)
	}
}

// A finished task whose result another node keeps is FINISHED, and its arguments (kept for its
// lineage) are no pending task's; a lease request's return is no object of the user's.
func TestObjectRecordsOfKeptResultsAndLeases(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	d.c.pid = 7
	put := ids.NewPutID()
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: put[:], Object: &pb.Object{Data: []byte("hello")}}}})
	tid := ids.NewTaskID()
	kept := tid.ReturnID(1)
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: kept[:], FunctionName: "F",
		CallerId: d.c.id[:], Args: []*pb.TaskArg{{IsRef: true, ObjectId: append([]byte(nil), put[:]...)}}}}})
	h.s.pending[kept].keptAt = &remoteNode{} // (as if it ran on another node, which keeps its result)
	lid := ids.NewTaskID()
	lease := lid.ReturnID(1)
	// (a lease request placed on another node, waiting for its answer)
	h.s.pending[lease] = &task{spec: &pb.TaskSpec{TaskId: lid[:], ReturnId: lease[:], TaskType: taskLease, CallerId: d.c.id[:]}, returnID: lease}

	var id uint64
	h.do(func(s *state) { id, _ = s.askRefs() })
	h.send(d, report(id, localRef(put), localRef(kept), localRef(lease)))
	var rep *pb.NodeStateReply
	h.do(func(s *state) { rep = s.objectRecords(id) })
	recs := byObject(rep.Objects)
	if r := recs[kept][7]; r == nil || r.TaskStatus != "FINISHED" {
		t.Errorf("the kept result: %v", r)
	}
	if r := recs[put][7]; r == nil || r.Ref.SubmittedTaskRefCount != 0 {
		t.Errorf("the kept task's argument is no pending task's: %v", r)
	}
	if recs[lease] != nil || len(rep.Objects) != 2 {
		t.Errorf("the lease's return is left out: %v", rep.Objects)
	}
}
