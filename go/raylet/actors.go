package raylet

import (
	"fmt"

	"github.com/golang/glog"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	"goray/resources"
	pb "goray/rpc/proto"
	"goray/scheduling"
)

type actorState int

const (
	actorPending  actorState = iota // waiting for its factory's arguments or its resources
	actorStarting                   // its process is starting or its factory runs
	actorAlive
	actorDead
)

// actor is an actor of this node: its life (creation, placement, restarts, death) and its
// dedicated worker process. Calls do not go through the node: callers send them straight to the
// process, at the address the node tells them (WaitActor).
type actor struct {
	id       ids.ActorID
	job      *job // whose code it runs
	detached bool // outlives its job's drivers
	// host is the node running its process for this node, its owner (see remote_actors.go);
	// hosted marks an actor this node runs for another owner (it never restarts by itself).
	host        *remoteNode
	hosted      bool
	nameClaimed bool // its name is the cluster's (claimed in the control store)
	// claim: the creation waiting for the name's claim, to be answered once it is decided.
	claim          *pendingReply
	className      string
	name           string
	namespace      string
	creation       *task
	maxRestarts    int
	maxTaskRetries int // (callers retry; the owner tells them, in WaitActor's reply)
	restarts       int
	maxConcurrency int
	demand         resources.Set         // what it holds while it lives
	alloc          *resources.Allocation // held from its start until it dies (nil: none)
	seq            uint64                // creation order: pending actors start in it
	state          actorState
	cause          string
	worker         *worker
	noRestart      bool
	removedCause   string // why it ended for good: its placement group was removed
	exiting        bool
	startQueued    bool // in line for a process (see start.go)
	startFailures  int  // processes in a row that could not start or died before connecting
	// address is where the actor's process takes calls (a unix socket), and incarnation the
	// number of restarts it had when it came alive: both set when its creation succeeds.
	address     string
	incarnation int32
	// lostCauses says, for each of the last maxLostCauses incarnations that ended, why (the
	// cause the calls running in it fail with).
	lostCauses map[int32]string
	// waiters are WaitActor requests waiting for a later incarnation or the actor's death.
	waiters []waiter
}

// waiter is a WaitActor request parked until the actor is alive in an incarnation after after,
// or dead.
type waiter struct {
	c         *client
	requestID uint64
	after     int32
	endedOnly bool // answer once incarnation after has ended (WaitActor.ended_only)
}

// answers tells whether the actor's state answers a WaitActor now: it is dead, or alive in a later
// incarnation, or (endedOnly) the incarnation after has ended.
func (a *actor) answers(after int32, endedOnly bool) bool {
	if a.state == actorDead || (a.state == actorAlive && a.incarnation > after) {
		return true
	}
	_, ended := a.lostCauses[after]
	return endedOnly && ended
}

// shortID names the actor in messages: the part of its id that tells it from the other actors of
// its owner node (the first half names that node).
func (a *actor) shortID() string {
	return a.id.Hex()[2*ids.ActorOwnerPrefix : 2*ids.ActorOwnerPrefix+12]
}

// maxLostCauses is how many ended incarnations an actor remembers the cause of.
const maxLostCauses = 8

func (a *actor) String() string {
	if a.name != "" {
		return fmt.Sprintf("actor %s %q (%s)", a.shortID(), a.name, a.className)
	}
	return fmt.Sprintf("actor %s (%s)", a.shortID(), a.className)
}

// pendingReply is a request answered later: its client and request id.
type pendingReply struct {
	c         *client
	requestID uint64
}

// actorKey is a named actor's key: the namespace and the name as the pair they are (any bytes
// in either, NUL included, never make two pairs alike).
type actorKey struct{ namespace, name string }

func (s *state) reply(c *client, rep *pb.Reply) {
	c.send(&pb.ServerMessage{Body: &pb.ServerMessage_Reply{Reply: rep}})
}

// createActor registers an actor and starts its creation. Called with r.mu held.
func (s *state) createActor(c *client, m *pb.CreateActor) {
	fail := func(format string, args ...interface{}) {
		s.reply(c, &pb.Reply{RequestId: m.RequestId, Error: fmt.Sprintf(format, args...)})
	}
	id, err := ids.UniqueIDFromBytes(m.ActorId)
	if err != nil || m.Creation == nil || m.Creation.FunctionName == "" {
		fail("invalid actor creation: %v", err)
		return
	}
	if old, exists := s.actors[id]; exists {
		if !(m.Hosted && old.hosted && old.state == actorDead) {
			fail("actor %s exists already", id.Hex())
			return
		}
		delete(s.actors, id) // its owner starts the next incarnation here
	}
	j := c.job
	if m.Creation.Job != nil {
		if j, err = s.jobOf(m.Creation.Job); err != nil {
			fail("invalid actor creation: %v", err)
			return
		}
	}
	if m.Hosted {
		m.Name, m.MaxRestarts = "", 0 // the owner keeps its name and its restarts
	}
	key := actorKey{m.Namespace, m.Name}
	if m.Name != "" {
		if other := s.named[key]; other != nil {
			fail("an actor named %q already exists in namespace %q", m.Name, m.Namespace)
			return
		}
	}
	returnID, err := ids.ObjectIDFromBytes(m.Creation.ReturnId)
	if err != nil {
		fail("invalid actor creation: %v", err)
		return
	}
	if j, err = s.envJob(j, m.Creation.RuntimeEnv); err != nil {
		fail("actor %s cannot be created: %v", m.ClassName, err)
		return
	}
	a := &actor{
		id: id, job: j, detached: m.Detached, className: m.ClassName, name: m.Name, namespace: m.Namespace,
		maxRestarts: int(m.MaxRestarts), maxConcurrency: int(m.MaxConcurrency), hosted: m.Hosted, restarts: int(m.Incarnation),
		maxTaskRetries: int(m.MaxTaskRetries),
	}
	if a.maxConcurrency < 1 {
		a.maxConcurrency = 1
	}
	if a.demand, err = resources.NewSet(m.Creation.Resources, resources.Demand); err != nil {
		fail("invalid actor %s: %v", m.ClassName, err)
		return
	}
	s.actorSeq++
	a.seq = s.actorSeq
	m.Creation.CallerId = c.id[:]
	a.creation = &task{spec: m.Creation, job: j, returnID: returnID, actor: a, isCreation: true}
	s.holdTaskRefs(a.creation) // for the actor's life: a restart runs the factory again
	s.actors[id] = a
	if m.Name != "" {
		s.named[key] = a
		if s.inCluster() {
			a.claim = &pendingReply{c: c, requestID: m.RequestId}
			s.claimName(a) // the creation goes on once the name is the cluster's (nameClaimed)
			return
		}
	}
	s.startCreation(c, m.RequestId, a)
}

// startCreation answers the creator and starts the actor's creation once its factory's arguments
// exist. Called with r.mu held.
func (s *state) startCreation(c *client, requestID uint64, a *actor) {
	s.reply(c, &pb.Reply{RequestId: requestID, ActorId: a.id[:], ClassName: a.className, Found: true})
	glog.Infof("%s: creating with %s", a, a.creation.spec.FunctionName)
	if s.trackDeps(a.creation) && a.creation.missing == 0 {
		s.argsReady(a.creation)
	}
}

// nameClaimed is the event of the control store's answer to a named actor's claim (taken: another
// actor of the cluster has the name; err: the store could not be asked). Called with r.mu held.
func (s *state) nameClaimed(a *actor, taken bool, err error) {
	p := a.claim
	a.claim = nil
	if p == nil {
		return
	}
	if a.state == actorDead { // killed, or its driver left, while the claim was on its way
		if !taken && err == nil {
			a.nameClaimed = true
			s.releaseName(a)
		}
		if s.clients[p.c] {
			s.reply(p.c, &pb.Reply{RequestId: p.requestID, Error: "the actor died before its creation: " + a.cause})
		}
		return
	}
	if taken || err != nil {
		msg := fmt.Sprintf("an actor named %q already exists in namespace %q", a.name, a.namespace)
		if err != nil {
			msg = fmt.Sprintf("the name %q of the actor could not be claimed in the cluster: %v", a.name, err)
		}
		if s.named[actorKey{a.namespace, a.name}] == a {
			delete(s.named, actorKey{a.namespace, a.name})
		}
		s.releaseTaskRefs(a.creation)
		delete(s.actors, a.id)
		s.reply(p.c, &pb.Reply{RequestId: p.requestID, Error: msg})
		return
	}
	a.nameClaimed = true
	s.startCreation(p.c, p.requestID, a)
}

// creationReady starts an actor whose factory arguments exist: it takes its resources and gets a
// process of its own. Called with r.mu held.
func (s *state) creationReady(a *actor) {
	if a.state == actorDead {
		return
	}
	if a.alloc == nil {
		if s.place(a.request()).Status == scheduling.Infeasible {
			if a.state != actorPending || !a.creation.infeasible {
				a.creation.infeasible = true
				glog.Warningf("%s needs %v but no node of the cluster has that much in total (this node has %v): it stays pending until a node that has it joins", a, a.demand, s.ledger.Total())
			}
			a.state = actorPending
			s.addPendingActor(a)
			return
		}
		a.creation.infeasible = false
		if s.placeActor(a) {
			return // another node hosts it (or it can run nowhere)
		}
		alloc, ok := s.ledger.Allocate(a.demand)
		if !ok {
			a.state = actorPending
			s.addPendingActor(a)
			return
		}
		a.alloc = alloc
	}
	s.removePendingActor(a)
	s.queueActorStart(a)
}

// addPendingActor puts a among the actors waiting for resources, in creation order (once).
// Called with r.mu held.
func (s *state) addPendingActor(a *actor) {
	i := len(s.pendingActors)
	for i > 0 && s.pendingActors[i-1].seq >= a.seq {
		if s.pendingActors[i-1] == a {
			return
		}
		i--
	}
	s.pendingActors = append(s.pendingActors, nil)
	copy(s.pendingActors[i+1:], s.pendingActors[i:])
	s.pendingActors[i] = a
}

// removePendingActor takes a out of the actors waiting for resources. Called with r.mu held.
func (s *state) removePendingActor(a *actor) {
	for i, p := range s.pendingActors {
		if p == a {
			copy(s.pendingActors[i:], s.pendingActors[i+1:])
			s.pendingActors[len(s.pendingActors)-1] = nil
			s.pendingActors = s.pendingActors[:len(s.pendingActors)-1]
			return
		}
	}
}

// startPendingActors starts, oldest first, the pending actors whose resources are free now.
// Called with r.mu held.
func (s *state) startPendingActors() {
	for _, a := range append([]*actor(nil), s.pendingActors...) {
		if s.ledger.Fits(a.demand) || s.inCluster() {
			s.creationReady(a)
		}
	}
}

// maxActorStartFailures is how many times in a row an actor's process may fail to start (or die
// before connecting) before the actor dies, whatever its max_restarts: a program that cannot
// start would otherwise be restarted forever while its callers wait for it.
const maxActorStartFailures = 10

// actorStartFailed deals with an actor whose process could not start or died before connecting:
// it restarts while it may (each attempt uses a restart), or dies. Called with r.mu held.
func (s *state) actorStartFailed(a *actor, cause string) {
	a.startFailures++
	if a.startFailures >= maxActorStartFailures {
		a.worker = nil
		s.actorDied(a, fmt.Sprintf("The actor's process could not start %d times in a row; the last time: %s", a.startFailures, cause), false)
		return
	}
	s.actorLost(a, cause, true)
}

// actorWorkerRegistered sends the creation task to an actor's new process. Called with r.mu held.
func (s *state) actorWorkerRegistered(w *worker) {
	a := w.actor
	if a.state == actorDead || a.worker != w {
		s.kill(w) // the actor died while its process started
		return
	}
	a.startFailures = 0
	s.sendCreation(a)
}

// sendCreation sends an actor's factory call to its registered process, once the factory's
// arguments can be read (a spilled one is read back first; argsReady then calls again).
// Called with the node's lock held.
func (s *state) sendCreation(a *actor) {
	w := a.worker
	if !s.argsResident(a.creation) {
		return
	}
	spec := s.resolvedSpec(a.creation)
	spec.Restarted = a.restarts > 0
	spec.MaxConcurrency = int32(a.maxConcurrency)
	s.showDevices(spec, a.alloc)
	w.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Execute{Execute: &pb.ExecuteTask{Spec: spec}}})
}

// noAddress is the cause of death of an actor whose process reported no address to take calls at.
const noAddress = "The actor's process reported no address to take calls at"

// actorTaskDone takes an actor worker's result: the only task the node runs on an actor's
// process is its creation (calls go straight to the process). Called with r.mu held.
func (s *state) actorTaskDone(w *worker, done *pb.TaskDone) error {
	a := w.actor
	if a.worker != w || a.state == actorDead {
		return nil // a process being killed; the actor was dealt with already
	}
	if string(done.ReturnId) != string(a.creation.returnID[:]) || a.state != actorStarting {
		return fmt.Errorf("%s reported a result for a call it was not running", w)
	}
	if done.Result != nil && done.Result.Kind != objstore.KindValue {
		a.noRestart = true
		s.actorDied(a, actorrule.CreationFailed(string(done.Result.Data)), true)
		return nil
	}
	if done.ActorAddress == "" {
		a.noRestart = true
		s.actorDied(a, noAddress, true)
		return nil
	}
	a.state = actorAlive
	a.address = done.ActorAddress
	a.incarnation = int32(a.restarts)
	glog.Infof("%s is alive in %s (incarnation %d), taking calls at %s", a, w, a.incarnation, a.address)
	s.answerWaiters(a)
	return nil
}

// waitActor answers a WaitActor at once when the actor is unknown, dead, or alive in an
// incarnation after the one the caller names; otherwise the request waits (answerWaiters).
// Called with r.mu held.
func (s *state) waitActor(c *client, m *pb.WaitActor) {
	id, err := ids.UniqueIDFromBytes(m.ActorId)
	if err != nil {
		s.reply(c, &pb.Reply{RequestId: m.RequestId, Error: fmt.Sprintf("wait actor: %v", err)})
		return
	}
	a := s.actors[id]
	if (a == nil || a.hosted) && s.relayed(c, id, m.RequestId, &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: m}}) {
		return
	}
	if a == nil {
		s.reply(c, &pb.Reply{RequestId: m.RequestId, ActorDead: true,
			Cause: fmt.Sprintf("No actor %x exists on this node (the node remembers the last %d dead actors)", id[:], maxDeadActors)})
		return
	}
	if a.answers(m.AfterIncarnation, m.EndedOnly) {
		s.reply(c, a.whereabouts(m.RequestId, m.AfterIncarnation))
		return
	}
	a.waiters = append(a.waiters, waiter{c: c, requestID: m.RequestId, after: m.AfterIncarnation, endedOnly: m.EndedOnly})
	if c.waits == nil {
		c.waits = map[*actor]int{}
	}
	c.waits[a]++
}

// whereabouts is the answer to a WaitActor of an actor alive or dead, for a caller that reached
// incarnation after.
func (a *actor) whereabouts(requestID uint64, after int32) *pb.Reply {
	if a.state == actorDead {
		return &pb.Reply{RequestId: requestID, Found: true, ActorDead: true, Cause: a.cause, LostCause: a.lostCauses[after], NoRestart: a.removedCause != ""}
	}
	if a.state != actorAlive || a.incarnation <= after {
		// (ended_only) the incarnation ended; the next one is not alive yet.
		return &pb.Reply{RequestId: requestID, Found: true, LostCause: a.lostCauses[after], NoRestart: a.removedCause != ""}
	}
	return &pb.Reply{RequestId: requestID, Found: true, ActorAddress: a.address, Incarnation: a.incarnation, LostCause: a.lostCauses[after],
		MaxTaskRetries: int32(a.maxTaskRetries)}
}

// answerWaiters answers the parked WaitActor requests the actor's state answers now: all when it
// is dead, those of earlier incarnations when it is alive. Called with r.mu held.
func (s *state) answerWaiters(a *actor) {
	keep := a.waiters[:0]
	for _, w := range a.waiters {
		if !a.answers(w.after, w.endedOnly) {
			keep = append(keep, w)
			continue
		}
		if n := w.c.waits[a] - 1; n > 0 {
			w.c.waits[a] = n
		} else {
			delete(w.c.waits, a)
		}
		s.reply(w.c, a.whereabouts(w.requestID, w.after))
	}
	for i := len(keep); i < len(a.waiters); i++ {
		a.waiters[i] = waiter{}
	}
	a.waiters = keep
	if len(a.waiters) == 0 {
		a.waiters = nil
	}
}

// dropWaiters forgets the parked WaitActor requests of a client that went away. Called with
// r.mu held.
func (s *state) dropWaiters(c *client) {
	for a := range c.waits {
		keep := a.waiters[:0]
		for _, w := range a.waiters {
			if w.c != c {
				keep = append(keep, w)
			}
		}
		for i := len(keep); i < len(a.waiters); i++ {
			a.waiters[i] = waiter{}
		}
		a.waiters = keep
	}
	c.waits = nil
}

// recordLost notes why the actor's current incarnation (its restarts so far) ended, unless that
// is known already, keeping the causes of the last maxLostCauses incarnations. Called with r.mu
// held.
func (a *actor) recordLost(cause string) {
	inc := int32(a.restarts)
	if _, ok := a.lostCauses[inc]; ok {
		return
	}
	if a.lostCauses == nil {
		a.lostCauses = map[int32]string{}
	}
	a.lostCauses[inc] = cause
	for len(a.lostCauses) > maxLostCauses {
		oldest := inc
		for k := range a.lostCauses {
			if k < oldest {
				oldest = k
			}
		}
		delete(a.lostCauses, oldest)
	}
}

// actorProcessDied handles the end of an actor's process. Called with r.mu held.
func (s *state) actorProcessDied(w *worker, end exit) {
	s.actorWorkers--
	a := w.actor
	if a.worker != w {
		return // already dealt with when it was killed
	}
	if w.client == nil && !w.killedByNode {
		// It never connected: it restarts (within max_restarts, and a bound on such failures in
		// a row), after the back-off when many processes fail in a row (see start.go).
		s.actorStartFailed(a, fmt.Sprintf("The actor's process %s %s before connecting to the node. Last lines of its stderr (%s):\n%s", w, end.status, w.stderrPath, end.excerpt))
		return
	}
	s.actorLost(a, fmt.Sprintf("The actor died unexpectedly: its process %s %s. Last lines of its stderr (%s):\n%s", w, end.status, w.stderrPath, end.excerpt), true)
}

// actorLost detaches an actor from its process (dead or being killed): the incarnation ends
// (calls that ran in it fail with its cause, which WaitActor tells their callers), and the actor
// restarts if it may, or dies. Called with r.mu held.
func (s *state) actorLost(a *actor, cause string, mayRestart bool) {
	a.worker = nil
	if a.state == actorDead {
		return
	}
	switch {
	case a.exiting:
		cause = actorrule.CauseExited
	case a.removedCause != "":
		cause = a.removedCause
	case a.noRestart:
		cause = actorrule.CauseKilled
	}
	a.recordLost(cause)
	s.answerWaiters(a) // those waiting for this incarnation's end
	restartsLeft := a.maxRestarts == -1 || a.restarts < a.maxRestarts
	if !a.exiting && !a.noRestart && restartsLeft && mayRestart {
		a.restarts++
		glog.Warningf("%s: restarting (%d of %d): %s", a, a.restarts, a.maxRestarts, cause)
		if a.alloc == nil && s.inCluster() && !a.hosted {
			a.state = actorPending // it ran on another node: placed again, anywhere
			s.creationReady(a)
			return
		}
		s.queueActorStart(a)
		return
	}
	if !a.noRestart && !a.exiting && mayRestart && a.state != actorDead {
		cause = "The actor was killed and has no restarts left (max_restarts reached). " + cause
	}
	s.actorDied(a, cause, false)
}

// actorDied marks an actor dead for good: its resources go back, its name is free, and the
// WaitActor requests waiting on it are answered with cause. Called with r.mu held.
func (s *state) actorDied(a *actor, cause string, killProcess bool) {
	if a.state == actorDead {
		return
	}
	glog.Warningf("%s is dead: %s", a, cause)
	if a.state == actorAlive {
		a.recordLost(cause) // (set already when it came through actorLost)
	}
	a.state = actorDead
	a.cause = cause
	s.removePendingActor(a)
	s.ledger.Release(a.alloc)
	a.alloc = nil
	if a.name != "" && s.named[actorKey{a.namespace, a.name}] == a {
		delete(s.named, actorKey{a.namespace, a.name})
	}
	delete(s.pending, a.creation.returnID)
	s.unpinTaskArgs(a.creation)
	s.releaseTaskRefs(a.creation)
	s.answerWaiters(a)
	if killProcess && a.worker != nil {
		s.kill(a.worker)
	}
	if killProcess {
		s.killHosted(a)
	}
	a.host = nil
	s.releaseName(a)
	s.buryActor(a)
	s.schedule()
}

// maxDeadActors is how many dead actors the node remembers (WaitActor answers the cause of their
// death); older ones are forgotten, as Ray keeps a bounded number of dead actors. A variable for
// tests.
var maxDeadActors = 10000

// buryActor keeps what a dead actor needs to answer for itself (its id, names, cause and the
// causes of its last incarnations), drops the rest (its factory's arguments, waiters), and
// forgets the oldest dead actors beyond maxDeadActors. Called with r.mu held.
func (s *state) buryActor(a *actor) {
	a.creation.spec = &pb.TaskSpec{FunctionName: a.creation.spec.FunctionName, ReturnId: a.creation.spec.ReturnId}
	a.creation.heldRefs, a.creation.pinned, a.creation.spilledArgs, a.creation.deps = nil, nil, nil, nil
	a.waiters = nil
	s.deadActors = append(s.deadActors, a)
	for len(s.deadActors) > maxDeadActors {
		old := s.deadActors[0]
		s.deadActors[0] = nil
		s.deadActors = s.deadActors[1:]
		if s.actors[old.id] == old {
			delete(s.actors, old.id)
		}
	}
}

// killActor kills an actor's process; the reaper restarts or buries it. The caller learns of an
// actor this node never had (actorrule.Kill). Called with r.mu held.
func (s *state) killActor(c *client, m *pb.KillActor) {
	id, err := ids.UniqueIDFromBytes(m.ActorId)
	if err != nil {
		s.reply(c, &pb.Reply{RequestId: m.RequestId, Error: fmt.Sprintf("kill actor: %v", err)})
		return
	}
	a := s.actors[id]
	if (a == nil || a.hosted) && s.relayed(c, id, m.RequestId, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: m}}) {
		return
	}
	outcome := actorrule.Kill(a != nil, a != nil && a.state == actorDead)
	if outcome == actorrule.KillUnknownActor {
		s.reply(c, &pb.Reply{RequestId: m.RequestId, Error: actorrule.UnknownActor(id.Hex())})
		return
	}
	// Incarnation: the one whose process is killed (if any); callers never call it again.
	s.reply(c, &pb.Reply{RequestId: m.RequestId, Found: a.worker != nil || a.host != nil, Incarnation: int32(a.restarts)})
	if outcome == actorrule.KillNothing {
		return
	}
	if m.NoRestart {
		a.noRestart = true
	}
	if a.host != nil {
		glog.Infof("%s: killing its process on %s (no_restart=%v)", a, a.host, m.NoRestart)
		s.killHosted(a)
		s.actorLost(a, actorrule.CauseKilledRestart, true)
		return
	}
	if w := a.worker; w != nil {
		glog.Infof("%s: killing its process %s (no_restart=%v)", a, w, m.NoRestart)
		s.kill(w)
		// Callers waiting from now on learn of the next instance, or of the death, never of this
		// process.
		s.actorLost(a, actorrule.CauseKilledRestart, true)
		return
	}
	if m.NoRestart || a.state == actorPending {
		s.actorDied(a, actorrule.CauseKilled, false)
	}
}

// getActor answers a named-actor lookup. Called with r.mu held.
func (s *state) getActor(c *client, m *pb.GetActor) {
	a := s.named[actorKey{m.Namespace, m.Name}]
	if a == nil && s.inCluster() {
		s.lookupName(c, m) // perhaps another node's
		return
	}
	if a == nil || a.state == actorDead {
		s.reply(c, &pb.Reply{RequestId: m.RequestId, Found: false})
		return
	}
	s.reply(c, &pb.Reply{RequestId: m.RequestId, Found: true, ActorId: a.id[:], ClassName: a.className})
}
