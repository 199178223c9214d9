package raylet

import (
	"fmt"
	"syscall"

	"github.com/golang/glog"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	"goray/resources"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
	"goray/scheduling"
)

type actorState int

const (
	actorPending  actorState = iota // waiting for its factory's arguments or its resources
	actorStarting                   // its process is starting or its factory runs
	actorAlive
	actorDead
)

// actor is an actor of this node: its dedicated worker process and its queue of calls.
type actor struct {
	id             ids.ActorID
	className      string
	name           string
	namespace      string
	creation       *task
	maxRestarts    int
	restarts       int
	maxConcurrency int
	demand         resources.Set         // what it holds while it lives
	alloc          *resources.Allocation // held from its start until it dies (nil: none)
	seq            uint64                // creation order: pending actors start in it
	state          actorState
	cause          string
	worker         *worker
	queue          []*task // calls not yet sent, in submission order
	inflight       map[ids.ObjectID]*task
	noRestart      bool
	exiting        bool
	startQueued    bool // in line for a process (see start.go)
	startFailures  int  // processes in a row that could not start or died before connecting
}

func (a *actor) String() string {
	if a.name != "" {
		return fmt.Sprintf("actor %s %q (%s)", a.id.Hex()[:12], a.name, a.className)
	}
	return fmt.Sprintf("actor %s (%s)", a.id.Hex()[:12], a.className)
}

// actorKey is a named actor's key: the namespace and the name as the pair they are (any bytes
// in either, NUL included, never make two pairs alike).
type actorKey struct{ namespace, name string }

func (r *Raylet) reply(c *client, rep *pb.Reply) {
	c.send(&pb.ServerMessage{Body: &pb.ServerMessage_Reply{Reply: rep}})
}

// createActor registers an actor and starts its creation. Called with r.mu held.
func (r *Raylet) createActor(c *client, m *pb.CreateActor) {
	fail := func(format string, args ...interface{}) {
		r.reply(c, &pb.Reply{RequestId: m.RequestId, Error: fmt.Sprintf(format, args...)})
	}
	id, err := ids.UniqueIDFromBytes(m.ActorId)
	if err != nil || m.Creation == nil || m.Creation.FunctionName == "" {
		fail("invalid actor creation: %v", err)
		return
	}
	if _, exists := r.actors[id]; exists {
		fail("actor %s exists already", id.Hex())
		return
	}
	key := actorKey{m.Namespace, m.Name}
	if m.Name != "" {
		if other := r.named[key]; other != nil {
			fail("an actor named %q already exists in namespace %q", m.Name, m.Namespace)
			return
		}
	}
	returnID, err := ids.ObjectIDFromBytes(m.Creation.ReturnId)
	if err != nil {
		fail("invalid actor creation: %v", err)
		return
	}
	a := &actor{
		id: id, className: m.ClassName, name: m.Name, namespace: m.Namespace,
		maxRestarts: int(m.MaxRestarts), maxConcurrency: int(m.MaxConcurrency),
		inflight: map[ids.ObjectID]*task{},
	}
	if a.maxConcurrency < 1 {
		a.maxConcurrency = 1
	}
	if a.demand, err = resources.NewSet(m.Creation.Resources, resources.Demand); err != nil {
		fail("invalid actor %s: %v", m.ClassName, err)
		return
	}
	r.actorSeq++
	a.seq = r.actorSeq
	m.Creation.CallerId = c.id[:]
	a.creation = &task{spec: m.Creation, returnID: returnID, actor: a, isCreation: true}
	r.holdTaskRefs(a.creation) // for the actor's life: a restart runs the factory again
	r.actors[id] = a
	if m.Name != "" {
		r.named[key] = a
	}
	r.reply(c, &pb.Reply{RequestId: m.RequestId, ActorId: id[:], ClassName: a.className, Found: true})
	glog.Infof("%s: creating with %s", a, m.Creation.FunctionName)
	if r.trackDeps(a.creation) && a.creation.missing == 0 {
		r.argsReady(a.creation)
	}
}

// creationReady starts an actor whose factory arguments exist: it takes its resources and gets a
// process of its own. Called with r.mu held.
func (r *Raylet) creationReady(a *actor) {
	if a.state == actorDead {
		return
	}
	if a.alloc == nil {
		if r.place(a.demand).Status == scheduling.Infeasible {
			if a.state != actorPending || !a.creation.infeasible {
				a.creation.infeasible = true
				glog.Warningf("%s needs %v but this node has %v in total: it stays pending until a node that has them joins", a, a.demand, r.ledger.Total())
			}
			a.state = actorPending
			r.addPendingActor(a)
			return
		}
		alloc, ok := r.ledger.Allocate(a.demand)
		if !ok {
			a.state = actorPending
			r.addPendingActor(a)
			return
		}
		a.alloc = alloc
	}
	r.removePendingActor(a)
	r.queueActorStart(a)
}

// addPendingActor puts a among the actors waiting for resources, in creation order (once).
// Called with r.mu held.
func (r *Raylet) addPendingActor(a *actor) {
	i := len(r.pendingActors)
	for i > 0 && r.pendingActors[i-1].seq >= a.seq {
		if r.pendingActors[i-1] == a {
			return
		}
		i--
	}
	r.pendingActors = append(r.pendingActors, nil)
	copy(r.pendingActors[i+1:], r.pendingActors[i:])
	r.pendingActors[i] = a
}

// removePendingActor takes a out of the actors waiting for resources. Called with r.mu held.
func (r *Raylet) removePendingActor(a *actor) {
	for i, p := range r.pendingActors {
		if p == a {
			copy(r.pendingActors[i:], r.pendingActors[i+1:])
			r.pendingActors[len(r.pendingActors)-1] = nil
			r.pendingActors = r.pendingActors[:len(r.pendingActors)-1]
			return
		}
	}
}

// startPendingActors starts, oldest first, the pending actors whose resources are free now.
// Called with r.mu held.
func (r *Raylet) startPendingActors() {
	for _, a := range append([]*actor(nil), r.pendingActors...) {
		if r.ledger.Fits(a.demand) {
			r.creationReady(a)
		}
	}
}

// startActorProcess spawns the dedicated worker of an actor (counted in r.starts.actorSpawning).
func (r *Raylet) startActorProcess(a *actor) {
	w, err := r.spawnWorker()
	r.mu.Lock()
	r.starts.actorSpawning--
	if err != nil {
		r.startFailed(err.Error())
		r.actorStartFailed(a, fmt.Sprintf("The actor could not start a process: %v", err))
		r.schedule()
		r.mu.Unlock()
		return
	}
	if r.stopped || a.state == actorDead {
		r.spawnDoneLocked(w.id)
		r.schedule() // its start slot is free
		r.mu.Unlock()
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
		_ = w.cmd.Wait()
		removeWorkerLogs([]logFiles{{out: w.stdoutPath, err: w.stderrPath}})
		return
	}
	w.actor = a
	a.worker = w
	r.workers[w.id] = w
	r.actorWorkers++
	r.watchRegistration(w)
	r.spawnDoneLocked(w.id)
	r.mu.Unlock()
	glog.Infof("%s: started its process %s", a, w)
	r.wg.Add(1)
	go r.reap(w)
}

// maxActorStartFailures is how many times in a row an actor's process may fail to start (or die
// before connecting) before the actor dies, whatever its max_restarts: a program that cannot
// start would otherwise be restarted forever while calls on the actor wait.
const maxActorStartFailures = 10

// actorStartFailed deals with an actor whose process could not start or died before connecting:
// it restarts while it may (each attempt uses a restart), or dies. Called with r.mu held.
func (r *Raylet) actorStartFailed(a *actor, cause string) {
	a.startFailures++
	if a.startFailures >= maxActorStartFailures {
		a.worker = nil
		r.actorDied(a, fmt.Sprintf("The actor's process could not start %d times in a row; the last time: %s", a.startFailures, cause), false)
		return
	}
	r.actorLost(a, cause, true)
}

// actorWorkerRegistered sends the creation task to an actor's new process. Called with r.mu held.
func (r *Raylet) actorWorkerRegistered(w *worker) {
	a := w.actor
	if a.state == actorDead || a.worker != w {
		r.kill(w) // the actor died while its process started
		return
	}
	a.startFailures = 0
	spec := r.resolvedSpec(a.creation)
	spec.Restarted = a.restarts > 0
	spec.MaxConcurrency = int32(a.maxConcurrency)
	w.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Execute{Execute: &pb.ExecuteTask{Spec: spec}}})
}

// actorTaskDone takes an actor worker's result. Called with r.mu held.
func (r *Raylet) actorTaskDone(w *worker, done *pb.TaskDone) error {
	a := w.actor
	if a.worker != w {
		return nil // a process being killed; its calls were failed already
	}
	if string(done.ReturnId) == string(a.creation.returnID[:]) && a.state == actorStarting {
		if done.Result != nil && done.Result.Kind != objstore.KindValue {
			a.noRestart = true
			r.actorDied(a, actorrule.CreationFailed(string(done.Result.Data)), true)
			r.kill(w)
			return nil
		}
		a.state = actorAlive
		glog.Infof("%s is alive in %s", a, w)
		r.dispatchActor(a)
		return nil
	}
	ret, err := ids.ObjectIDFromBytes(done.ReturnId)
	if err != nil {
		return err
	}
	t := a.inflight[ret]
	if t == nil {
		return fmt.Errorf("%s reported a result for a call it was not running", w)
	}
	delete(a.inflight, ret)
	r.finish(t, r.resultFromWorker(w.client, t.returnID, wire.ObjectFromProto(done.Result)))
	r.dispatchActor(a)
	return nil
}

// actorCall accepts a method call. Called with r.mu held.
func (r *Raylet) actorCall(spec *pb.TaskSpec) {
	returnID, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		glog.Errorf("dropping an actor call with a bad return id: %v", err)
		return
	}
	id, _ := ids.UniqueIDFromBytes(spec.ActorId)
	a := r.actors[id]
	t := &task{spec: spec, returnID: returnID, actor: a}
	r.pending[returnID] = t
	r.holdTaskRefs(t)
	if a == nil {
		r.finish(t, &objstore.Object{Kind: objstore.KindActorDied, Data: []byte(fmt.Sprintf("No actor %x exists on this node (the node remembers the last %d dead actors)", spec.ActorId, maxDeadActors))})
		return
	}
	if a.state == actorDead {
		r.finish(t, &objstore.Object{Kind: objstore.KindActorDied, Data: []byte(a.cause)})
		return
	}
	if !r.trackDeps(t) {
		return
	}
	a.queue = append(a.queue, t)
	r.dispatchActor(a)
}

// actorPipelineDepth is how many calls beyond max_concurrency an actor's process may hold
// queued: it runs them in order as its threads free up, with no round trip to the node between
// calls. (An actor has no other process to balance them to, so sending early costs nothing.)
const actorPipelineDepth = 64

// dispatchActor sends queued calls, in order, while the actor has room. Called with r.mu held.
func (r *Raylet) dispatchActor(a *actor) {
	for a.state == actorAlive && len(a.inflight) < a.maxConcurrency+actorPipelineDepth && len(a.queue) > 0 {
		t := a.queue[0]
		if t.missing > 0 {
			return
		}
		a.queue = a.queue[1:]
		if errObj := r.failedArg(t); errObj != nil {
			r.finish(t, errObj)
			continue
		}
		a.inflight[t.returnID] = t
		a.worker.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Execute{Execute: &pb.ExecuteTask{Spec: r.resolvedSpec(t)}}})
	}
}

// actorProcessDied handles the end of an actor's process. Called with r.mu held.
func (r *Raylet) actorProcessDied(w *worker, end exit) {
	r.actorWorkers--
	a := w.actor
	if a.worker != w {
		return // already dealt with when it was killed
	}
	if w.client == nil && !w.killedByNode {
		// It never connected: it restarts (within max_restarts, and a bound on such failures in
		// a row), after the back-off when many processes fail in a row (see start.go).
		r.actorStartFailed(a, fmt.Sprintf("The actor's process %s %s before connecting to the node. Last lines of its stderr (%s):\n%s", w, end.status, w.stderrPath, end.excerpt))
		return
	}
	r.actorLost(a, fmt.Sprintf("The actor died unexpectedly: its process %s %s. Last lines of its stderr (%s):\n%s", w, end.status, w.stderrPath, end.excerpt), true)
}

// actorLost detaches an actor from its process (dead or being killed): calls in flight fail,
// and the actor restarts if it may, or dies. Called with r.mu held.
func (r *Raylet) actorLost(a *actor, cause string, mayRestart bool) {
	a.worker = nil
	if a.state == actorDead {
		return
	}
	switch {
	case a.exiting:
		cause = actorrule.CauseExited
	case a.noRestart:
		cause = actorrule.CauseKilled
	}
	for ret, t := range a.inflight {
		delete(a.inflight, ret)
		r.finish(t, &objstore.Object{Kind: objstore.KindActorDied, Data: []byte(cause)})
	}
	restartsLeft := a.maxRestarts == -1 || a.restarts < a.maxRestarts
	if !a.exiting && !a.noRestart && restartsLeft && mayRestart {
		a.restarts++
		glog.Warningf("%s: restarting (%d of %d): %s", a, a.restarts, a.maxRestarts, cause)
		r.queueActorStart(a)
		return
	}
	if !a.noRestart && !a.exiting && mayRestart && a.state != actorDead {
		cause = "The actor was killed and has no restarts left (max_restarts reached). " + cause
	}
	r.actorDied(a, cause, false)
}

// actorDied marks an actor dead for good: its resources go back, its name is free, its queued
// calls fail with cause. Called with r.mu held.
func (r *Raylet) actorDied(a *actor, cause string, killProcess bool) {
	if a.state == actorDead {
		return
	}
	glog.Warningf("%s is dead: %s", a, cause)
	a.state = actorDead
	a.cause = cause
	r.removePendingActor(a)
	r.ledger.Release(a.alloc)
	a.alloc = nil
	if a.name != "" && r.named[actorKey{a.namespace, a.name}] == a {
		delete(r.named, actorKey{a.namespace, a.name})
	}
	delete(r.pending, a.creation.returnID)
	r.unpinTaskArgs(a.creation)
	r.releaseTaskRefs(a.creation)
	died := &objstore.Object{Kind: objstore.KindActorDied, Data: []byte(cause)}
	for ret, t := range a.inflight {
		delete(a.inflight, ret)
		r.finish(t, died)
	}
	queue := a.queue
	a.queue = nil
	for _, t := range queue {
		r.finish(t, died)
	}
	if killProcess && a.worker != nil {
		r.kill(a.worker)
	}
	r.buryActor(a)
	r.schedule()
}

// maxDeadActors is how many dead actors the node remembers (calls on them fail with the cause of
// their death); older ones are forgotten, as Ray keeps a bounded number of dead actors. A
// variable for tests.
var maxDeadActors = 10000

// buryActor keeps what a dead actor needs to answer for itself (its id, names and cause), drops
// the rest (its factory's arguments, queues), and forgets the oldest dead actors beyond
// maxDeadActors. Called with r.mu held.
func (r *Raylet) buryActor(a *actor) {
	a.creation.spec = &pb.TaskSpec{FunctionName: a.creation.spec.FunctionName, ReturnId: a.creation.spec.ReturnId}
	a.creation.heldRefs, a.creation.pinned, a.creation.spilledArgs = nil, nil, nil
	a.inflight, a.queue = nil, nil
	r.deadActors = append(r.deadActors, a)
	for len(r.deadActors) > maxDeadActors {
		old := r.deadActors[0]
		r.deadActors[0] = nil
		r.deadActors = r.deadActors[1:]
		if r.actors[old.id] == old {
			delete(r.actors, old.id)
		}
	}
}

// killActor kills an actor's process; the reaper restarts or buries it. The caller learns of an
// actor this node never had (actorrule.Kill). Called with r.mu held.
func (r *Raylet) killActor(c *client, m *pb.KillActor) {
	id, err := ids.UniqueIDFromBytes(m.ActorId)
	if err != nil {
		r.reply(c, &pb.Reply{RequestId: m.RequestId, Error: fmt.Sprintf("kill actor: %v", err)})
		return
	}
	a := r.actors[id]
	outcome := actorrule.Kill(a != nil, a != nil && a.state == actorDead)
	if outcome == actorrule.KillUnknownActor {
		r.reply(c, &pb.Reply{RequestId: m.RequestId, Error: actorrule.UnknownActor(id.Hex())})
		return
	}
	r.reply(c, &pb.Reply{RequestId: m.RequestId})
	if outcome == actorrule.KillNothing {
		return
	}
	if m.NoRestart {
		a.noRestart = true
	}
	if w := a.worker; w != nil {
		glog.Infof("%s: killing its process %s (no_restart=%v)", a, w, m.NoRestart)
		r.kill(w)
		// Calls submitted from now on go to the next instance, or fail, never to this process.
		r.actorLost(a, actorrule.CauseKilledRestart, true)
		return
	}
	if m.NoRestart || a.state == actorPending {
		r.actorDied(a, actorrule.CauseKilled, false)
	}
}

// getActor answers a named-actor lookup. Called with r.mu held.
func (r *Raylet) getActor(c *client, m *pb.GetActor) {
	a := r.named[actorKey{m.Namespace, m.Name}]
	if a == nil || a.state == actorDead {
		r.reply(c, &pb.Reply{RequestId: m.RequestId, Found: false})
		return
	}
	r.reply(c, &pb.Reply{RequestId: m.RequestId, Found: true, ActorId: a.id[:], ClassName: a.className})
}
