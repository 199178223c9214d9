package raylet

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"goray/metrics"
	"goray/nodelogs"
	pb "goray/rpc/proto"
	stateapi "goray/state"
)

// The node's part of Ray's state API: what it knows of the cluster's actors and tasks, as
// records `ray list` gathers from every node (package state merges them).

// NodeState answers a state request of another node or a client. It implements
// pb.NodePeerServer.
func (p *peerService) NodeState(ctx context.Context, req *pb.NodeStateRequest) (*pb.NodeStateReply, error) {
	switch req.Kind {
	case "", "actors", "tasks", "node":
	case "objects":
		return p.r.ObjectRefs(ctx), nil
	default:
		return nil, status.Errorf(codes.InvalidArgument, "NodeState: kind %q is none of actors, tasks, node, objects", req.Kind)
	}
	return p.r.NodeState(req.Kind), nil
}

// NodeState returns the node's actor records (those it owns, and those it runs for others) and
// its task records, or one kind of them ("actors", "tasks"), or neither ("node"), with the use
// of its object store.
func (r *Raylet) NodeState(kind string) *pb.NodeStateReply {
	var rep *pb.NodeStateReply
	r.do(func(s *state) { rep = s.nodeState(kind) })
	return rep
}

// nodeState is the event of a state request of kind ("actors", "tasks", "": both, "node":
// neither). Called with r.mu held.
func (s *state) nodeState(kind string) *pb.NodeStateReply {
	rep := &pb.NodeStateReply{NodeId: s.nodeID[:]}
	if s.alloc != nil {
		rep.StoreUsedBytes, rep.StoreCapacityBytes = s.alloc.Used(), s.alloc.Capacity()
	}
	if kind == "" || kind == "actors" {
		for _, a := range s.actors {
			rep.Actors = append(rep.Actors, s.actorState(a))
		}
	}
	if kind == "" || kind == "tasks" {
		rep.Tasks = append(s.taskLog.all(), s.pendingTasks()...)
	}
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

// maxPendingRecords bounds the records of waiting tasks one state request gets.
const maxPendingRecords = 20000

// taskDiedWith keeps the run of t that its worker w died in: FAILED. Called with r.mu held.
func (s *state) taskDiedWith(w *worker, t *task) {
	if t.spec == nil || t.isLease() {
		return
	}
	r := s.taskRecord(t, "FAILED", w, int32(t.attempts))
	r.Event.EndUs = s.now.UnixMicro()
	s.taskLog.add(r)
}

// taskRecord is t's record in state st (on worker w, in its run attempt).
func (s *state) taskRecord(t *task, st string, w *worker, attempt int32) *pb.TaskRecord {
	r := &pb.TaskRecord{Event: &pb.TaskEvent{TaskId: t.spec.TaskId, Name: t.spec.FunctionName, Type: t.spec.TaskType, State: st,
		ClassName: t.spec.ClassName, Attempt: attempt}}
	if t.job != nil {
		r.JobId = t.job.id
	}
	if w != nil {
		r.WorkerId, r.WorkerPid = w.id[:], int32(w.pid)
	}
	return r
}

// pendingTasks are the records of the tasks that wait on the node (for their arguments, for
// resources, or behind a worker's task) and of those its workers run now (at most
// maxPendingRecords; lease requests are no tasks).
func (s *state) pendingTasks() []*pb.TaskRecord {
	var out []*pb.TaskRecord
	s.eachPendingTask(func(t *task, st string, w *worker) bool {
		attempt := int32(t.attempts) + 1 // (the run it waits for)
		if st == "RUNNING" {
			attempt = int32(t.attempts)
		}
		out = append(out, s.taskRecord(t, st, w, attempt))
		return len(out) < maxPendingRecords
	})
	return out
}

// eachPendingTask calls f with each task that waits on the node (for its arguments, for
// resources, or behind a worker's task) or runs on one of its workers, in Ray's state names,
// until f returns false. Lease requests are no tasks. Called with r.mu held.
func (s *state) eachPendingTask(f func(t *task, st string, w *worker) bool) {
	more := true
	visit := func(t *task, st string, w *worker) {
		if more && t != nil && t.spec != nil && !t.isLease() {
			more = f(t, st, w)
		}
	}
	for _, list := range s.waitingDeps {
		for _, t := range list {
			visit(t, "PENDING_ARGS_AVAIL", nil)
		}
	}
	for _, c := range s.ready.order {
		for _, t := range c.tasks {
			visit(t, "PENDING_NODE_ASSIGNMENT", nil)
		}
	}
	for _, w := range s.workers {
		visit(w.task, "RUNNING", w)
		for _, t := range w.queued {
			visit(t, "SUBMITTED_TO_WORKER", w)
		}
	}
}

// MetricStats is what the node exports of itself under Ray's system metric names.
func (r *Raylet) MetricStats() metrics.NodeStats {
	var st metrics.NodeStats
	r.do(func(s *state) {
		st.Tasks = map[[2]string]int{}
		rep := s.nodeState("tasks")
		st.StoreUsed, st.StoreCapacity = rep.StoreUsedBytes, rep.StoreCapacityBytes
		st.StoreObjects = s.store.Len()
		_, st.StoreSpilled = s.spilledNow()
		// (each task once, in the state `ray list tasks` shows: its latest attempt)
		for _, t := range stateapi.Tasks([]*pb.NodeStateReply{rep}) {
			st.Tasks[[2]string{t.Name, t.State}]++
		}
		st.Actors = map[[2]string]int{}
		for _, a := range s.actors {
			if !a.hosted {
				st.Actors[[2]string{stateapi.ClassName(a.className), s.actorState(a).State}]++
			}
		}
		st.Total, st.Available = s.resourceMaps()
	})
	return st
}

// ListLogs lists the node's log files (`ray logs`). It implements pb.NodePeerServer.
func (p *peerService) ListLogs(_ context.Context, req *pb.ListLogsRequest) (*pb.ListLogsReply, error) {
	files, err := nodelogs.List(p.r.cfg.LogsDir, req.Glob)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	rep := &pb.ListLogsReply{}
	for _, f := range files {
		rep.Files = append(rep.Files, &pb.LogFile{Name: f.Name, Size: f.Size, ModifiedMs: f.ModifiedMs})
	}
	return rep, nil
}

// GetLog reads the end of one of the node's log files. It implements pb.NodePeerServer.
func (p *peerService) GetLog(_ context.Context, req *pb.GetLogRequest) (*pb.GetLogReply, error) {
	data, truncated, err := nodelogs.Tail(p.r.cfg.LogsDir, req.Name, int(req.TailLines), req.MaxBytes)
	switch {
	case errors.Is(err, nodelogs.ErrNotFound):
		return nil, status.Error(codes.NotFound, err.Error())
	case err != nil:
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.GetLogReply{Data: data, Truncated: truncated}, nil
}
