package raylet

import (
	"context"

	pb "goray/rpc/proto"
)

// The node's part of Ray's state API: what it knows of the cluster's actors and tasks, as
// records `ray list` gathers from every node (package state merges them).

// NodeState answers a state request of another node or a client. It implements
// pb.NodePeerServer.
func (p *peerService) NodeState(context.Context, *pb.NodeStateRequest) (*pb.NodeStateReply, error) {
	return p.r.NodeState(), nil
}

// NodeState returns the node's actor records (those it owns, and those it runs for others) and
// its task records.
func (r *Raylet) NodeState() *pb.NodeStateReply {
	var rep *pb.NodeStateReply
	r.do(func(s *state) { rep = s.nodeState() })
	return rep
}

// nodeState is the event of a state request. Called with r.mu held.
func (s *state) nodeState() *pb.NodeStateReply {
	rep := &pb.NodeStateReply{NodeId: s.nodeID[:]}
	for _, a := range s.actors {
		rep.Actors = append(rep.Actors, s.actorState(a))
	}
	rep.Tasks = append(s.taskLog.all(), s.pendingTasks()...)
	return rep
}

// actorState is an actor's record, in Ray's terms.
func (s *state) actorState(a *actor) *pb.ActorState {
	st := &pb.ActorState{
		ActorId: a.id[:], ClassName: a.className, Name: a.name, Namespace: a.namespace,
		NumRestarts: int32(a.restarts), MaxRestarts: int32(a.maxRestarts), IsDetached: a.detached,
		Owned: !a.hosted, RequiredResources: a.demand.Map(),
	}
	if a.job != nil {
		st.JobId = a.job.id
	}
	if a.creation != nil && a.creation.spec != nil {
		st.PlacementGroupId = a.creation.spec.PlacementGroupId
	}
	switch a.state {
	case actorAlive:
		st.State = "ALIVE"
	case actorDead:
		st.State = "DEAD"
		st.DeathCause = a.cause
		if a.removedCause != "" {
			st.DeathCause = a.removedCause
		}
	default:
		st.State = "PENDING_CREATION"
		if a.restarts > 0 {
			st.State = "RESTARTING"
		}
	}
	switch {
	case a.host != nil:
		st.NodeId = a.host.id[:]
	case a.worker != nil:
		st.NodeId = s.nodeID[:]
		st.Pid = int32(a.worker.pid)
	}
	return st
}

// maxTaskLog bounds the runs of tasks a node keeps for the state API (Ray keeps 100,000 task
// events for the whole cluster).
const maxTaskLog = 20000

// taskLog is a ring of the latest runs of tasks on the node's workers.
type taskLog struct {
	runs []*pb.TaskRecord
	next int // where the next run goes once the ring is full
}

// add keeps a run, forgetting the oldest when the ring is full.
func (l *taskLog) add(r *pb.TaskRecord) {
	if len(l.runs) < maxTaskLog {
		l.runs = append(l.runs, r)
		return
	}
	l.runs[l.next] = r
	l.next = (l.next + 1) % maxTaskLog
}

// all are the runs, oldest first.
func (l *taskLog) all() []*pb.TaskRecord {
	out := make([]*pb.TaskRecord, 0, len(l.runs))
	out = append(out, l.runs[l.next:]...)
	return append(out, l.runs[:l.next]...)
}

// tasksRan is the event of a worker telling of runs of tasks. Called with r.mu held.
func (s *state) tasksRan(c *client, events []*pb.TaskEvent) {
	if c.worker == nil {
		return // (only workers run tasks; a driver has nothing to tell)
	}
	job := ""
	if c.job != nil {
		job = c.job.id
	}
	for _, ev := range events {
		s.taskLog.add(&pb.TaskRecord{Event: ev, JobId: job, WorkerId: c.id[:], WorkerPid: c.pid})
	}
}

// pendingTasks are the records of the tasks that wait on the node (for their arguments, or for
// resources and a worker) and of those its workers run now.
func (s *state) pendingTasks() []*pb.TaskRecord {
	var out []*pb.TaskRecord
	record := func(t *task, st string, w *worker) {
		if t == nil || t.spec == nil {
			return
		}
		r := &pb.TaskRecord{Event: &pb.TaskEvent{TaskId: t.spec.TaskId, Name: t.spec.FunctionName, Type: t.spec.TaskType, State: st, ClassName: t.spec.ClassName}}
		if t.job != nil {
			r.JobId = t.job.id
		}
		if w != nil {
			r.WorkerId, r.WorkerPid = w.id[:], int32(w.pid)
		}
		out = append(out, r)
	}
	for _, list := range s.waitingDeps {
		for _, t := range list {
			record(t, "PENDING_ARGS_AVAIL", nil)
		}
	}
	for _, c := range s.ready.order {
		for _, t := range c.tasks {
			record(t, "PENDING_NODE_ASSIGNMENT", nil)
		}
	}
	for _, w := range s.workers {
		record(w.task, "RUNNING", w)
		for _, t := range w.queued {
			record(t, "PENDING_NODE_ASSIGNMENT", nil)
		}
	}
	return out
}
