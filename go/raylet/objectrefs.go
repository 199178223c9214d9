package raylet

import (
	"context"
	"time"

	"goray/ids"
	pb "goray/rpc/proto"
)

// The node's part of Ray's `ray memory` and `ray list objects`: it asks each of its processes
// for the objects it refers to (ReportRefs; Ray asks every core worker the same), and adds what
// only the node knows: the size of objects in its store, the holds of the tasks waiting on it
// for their arguments, and the state of the tasks that make the objects.

// refsTimeout bounds how long the node waits for its processes' reports: a process busy in
// user code still answers (its stream is served by a goroutine of its own), so only a stuck or
// dying one is left out.
const refsTimeout = 3 * time.Second

// refsGather is one request of the node's processes for their references.
type refsGather struct {
	asked map[*client]bool                // those yet to answer
	got   map[*client][]*pb.ObjectRefInfo // the answers
	done  chan struct{}                   // closed once every process asked has answered or gone
}

// ObjectRefs asks the node's processes for their references and returns them with what the node
// knows (kind "objects" of NodeState). Processes that do not answer within refsTimeout (or
// before ctx ends) are left out, and counted in the reply.
func (r *Raylet) ObjectRefs(ctx context.Context) *pb.NodeStateReply {
	var id uint64
	var g *refsGather
	r.do(func(s *state) { id, g = s.askRefs() })
	timer := time.NewTimer(refsTimeout)
	defer timer.Stop()
	select {
	case <-g.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	var rep *pb.NodeStateReply
	r.do(func(s *state) { rep = s.objectRecords(id) })
	return rep
}

// askRefs is the event of a request for the processes' references: each connected process (not
// the node's own client) is asked. Called with r.mu held.
func (s *state) askRefs() (uint64, *refsGather) {
	if s.refsGathers == nil {
		s.refsGathers = map[uint64]*refsGather{}
	}
	s.refsSeq++
	id := s.refsSeq
	g := &refsGather{asked: map[*client]bool{}, got: map[*client][]*pb.ObjectRefInfo{}, done: make(chan struct{})}
	for c := range s.clients {
		if c.agent {
			continue
		}
		g.asked[c] = true
		c.send(&pb.ServerMessage{Body: &pb.ServerMessage_ReportRefs{ReportRefs: &pb.ReportRefs{RequestId: id}}})
	}
	s.refsGathers[id] = g
	if len(g.asked) == 0 {
		close(g.done)
	}
	return id, g
}

// refsReported is the event of a process's answer to ReportRefs. Called with r.mu held.
func (s *state) refsReported(c *client, m *pb.RefsReport) {
	g := s.refsGathers[m.RequestId]
	if g == nil || !g.asked[c] {
		return // (late, after the node gave up waiting, or never asked)
	}
	g.got[c] = m.Refs
	g.answered(c)
}

// answered takes c off the processes g waits for.
func (g *refsGather) answered(c *client) {
	delete(g.asked, c)
	if len(g.asked) == 0 {
		close(g.done)
	}
}

// refsClientGone stops waiting for a process that went away. Called with r.mu held.
func (s *state) refsClientGone(c *client) {
	for _, g := range s.refsGathers {
		if g.asked[c] {
			g.answered(c)
		}
	}
}

// objectRecords ends the request id and returns the records of what the processes answered,
// completed with what the node knows. Called with r.mu held.
func (s *state) objectRecords(id uint64) *pb.NodeStateReply {
	g := s.refsGathers[id]
	delete(s.refsGathers, id)
	rep := s.nodeState("node")
	rep.StoreObjects = int64(s.store.Len())
	if g == nil {
		return rep
	}
	rep.SilentProcesses = int32(len(g.asked))
	states := s.returnStates()
	held := s.heldForTasks()
	add := func(c *client, oid ids.ObjectID, info *pb.ObjectRefInfo) {
		if len(rep.Objects) >= maxObjectRecords {
			rep.ObjectsCut++
			return
		}
		rep.Objects = append(rep.Objects, s.objectRecord(c, oid, info, states))
	}
	for c, refs := range g.got {
		mine := held[c]
		for _, info := range refs {
			oid, err := ids.ObjectIDFromBytes(info.ObjectId)
			if err != nil {
				continue // (a process's report is its own to get right; a bad id is left out)
			}
			if t := s.pending[oid]; t != nil && t.isLease() {
				continue // (a lease request's return: no object a user made)
			}
			if n := mine[oid]; n > 0 {
				info.SubmittedTaskRefCount += int64(n)
				delete(mine, oid)
			}
			add(c, oid, info)
		}
		for oid, n := range mine {
			// Only the node holds it for the process (the arguments of its tasks waiting here).
			add(c, oid, &pb.ObjectRefInfo{ObjectId: append([]byte(nil), oid[:]...), SubmittedTaskRefCount: int64(n), ObjectSize: -1})
		}
	}
	return rep
}

// maxObjectRecords bounds the references one node reports (beyond it they are counted only).
const maxObjectRecords = 100000

// objectRecord is c's reference to oid, with the size and the making task's state the node
// knows. Called with r.mu held.
func (s *state) objectRecord(c *client, oid ids.ObjectID, info *pb.ObjectRefInfo, states map[ids.ObjectID]string) *pb.ObjectRecord {
	rec := &pb.ObjectRecord{Ref: info, Pid: c.pid, IsDriver: c.worker == nil}
	obj, stored := s.store.Get(oid)
	if info.ObjectSize < 0 && stored {
		info.ObjectSize = obj.Size()
	}
	switch st, pending := states[oid]; {
	case oid.IsPut():
		rec.TaskStatus = "NIL"
	case pending:
		rec.TaskStatus = st
	case info.Ready:
		rec.TaskStatus = finishedOrFailed(info.Error)
	case stored:
		rec.TaskStatus = finishedOrFailed(obj.IsError())
	case s.lineage.kept[oid] != nil:
		rec.TaskStatus = "FINISHED" // (its result is kept on the node that ran it)
	default:
		rec.TaskStatus = "SUBMITTED_TO_WORKER" // (a direct call or a leased worker's task in flight)
	}
	return rec
}

func finishedOrFailed(failed bool) string {
	if failed {
		return "FAILED"
	}
	return "FINISHED"
}

// returnStates is the state of each task the node has not finished, by its return id: Ray's
// names, as `ray list tasks` shows them. Called with r.mu held.
func (s *state) returnStates() map[ids.ObjectID]string {
	out := make(map[ids.ObjectID]string, len(s.pending))
	for id, t := range s.pending {
		switch {
		case t.isLease():
		case t.keptAt != nil:
			out[id] = "FINISHED" // (its result is kept on the node that ran it)
		default:
			out[id] = "SUBMITTED_TO_WORKER" // (sent on to another node, unless a list below has it)
		}
	}
	s.eachPendingTask(func(t *task, st string, _ *worker) bool {
		if t.keptAt == nil {
			out[t.returnID] = st
		}
		return true
	})
	return out
}

// heldForTasks counts, for each process of the node, the holds on objects that its unfinished
// tasks on the node keep (their arguments). Called with r.mu held.
func (s *state) heldForTasks() map[*client]map[ids.ObjectID]int {
	out := map[*client]map[ids.ObjectID]int{}
	for _, t := range s.pending {
		if len(t.heldRefs) == 0 || t.spec == nil || t.keptAt != nil {
			continue // (a finished task whose result another node keeps holds its arguments for its lineage only)
		}
		c, err := s.clientByWorker(t.spec.CallerId)
		if err != nil || c == nil {
			continue // (a task of another node's process, or of one that went away)
		}
		m := out[c]
		if m == nil {
			m = map[ids.ObjectID]int{}
			out[c] = m
		}
		for _, id := range t.heldRefs {
			m[id]++
		}
	}
	return out
}
