package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc/metadata"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	"goray/ratemeter"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
	"goray/taskretry"
)

// leases is the caller's side of worker leases (see LeaseEnded in goray.proto; the worker's side
// is leaseserve.go). Tasks go through this process's node by default, which places each one. When
// the node sends a shape of tasks to another node, every task crosses two node managers each way;
// so once leaseAfter tasks of one shape went through the node, the process asks it for a lease,
// which the node places as it would place such a task. On another node, the lease is a worker of
// that node, with the shape's resources, that takes this process's tasks directly (the path actor
// calls take), with no node manager between them. Tasks of the shape then go to the process's
// leases while one has room (its in-flight bound grows with how fast it finishes them, as
// forwarded tasks' bound does). Tasks that find no room wait in the class's queue while a lease
// request is under way or may be made (another is asked for once leaseAfter wait), and go through
// the node otherwise. A lease with nothing in flight for leaseIdle is returned (the stream ends).
//
// A task goes to a lease only when its ObjectRef arguments are small values this process has
// (they travel in the message); others go through the node, which moves large objects between
// nodes in chunks. Results come back as actor calls' do (directCalls.arrived). A leased worker
// that blocks in Get hands back its tasks not started, and a lease whose stream breaks loses its
// tasks in flight: both go through the node then, the lost ones as a retry (while they have
// retries left; else they fail naming the worker's node).
type leases struct {
	d *directCalls

	mu      sync.Mutex
	classes map[string]*leaseClass
	closed  bool
}

// leaseClass is one shape of tasks (resources and strategy) and the leases held for it.
type leaseClass struct {
	shape     *pb.TaskSpec // the resources and strategy of its tasks, for lease requests
	viaNode   int          // tasks sent through the node since the last lease request
	asking    bool         // a lease request is under way
	notBefore time.Time    // no lease request before this (the last one came to nothing)
	failures  int          // lease requests in a row that came to nothing (the wait doubles)
	held      []*lease
	queue     []*pb.TaskSpec // tasks prepared for a lease (see prepare), waiting for room on one
	pumping   bool           // one goroutine sends the class's tasks at a time, in order (pump)
	again     bool           // pump again: something changed while pumping
}

// leasedTask is a task in flight on a lease: seq orders the tasks sent (the worker runs them one
// at a time, in that order).
type leasedTask struct {
	spec *pb.TaskSpec
	seq  uint64
}

// lease is one leased worker: the stream to it and the tasks in flight there.
type lease struct {
	c        *leaseClass
	where    string // the worker's address and node, for messages
	st       *callStream
	inflight map[ids.ObjectID]leasedTask
	sent     uint64          // tasks sent so far (leasedTask.seq)
	meter    ratemeter.Meter // how fast it finishes tasks (its in-flight bound)
	idle     *time.Timer     // returns the lease when nothing was in flight for leaseIdle
	idleGen  uint64          // counts the moments the lease fell idle
	ended    bool            // returned or lost: takes no more tasks
	// handedBack: the worker handed tasks back (its running task waits in Get): it gets no more
	// until it answers one.
	handedBack bool
}

const (
	// leaseAfter is how many tasks of a shape go through the node before a lease is asked for.
	leaseAfter = 16
	// leaseRetryWait is how long after a lease request that came to nothing (the node runs the
	// shape itself, or the worker could not be reached) the next may be made; it doubles with
	// each such request in a row, up to maxLeaseRetryWait.
	leaseRetryWait    = time.Second
	maxLeaseRetryWait = 30 * time.Second
	// leaseIdle is how long a lease with nothing in flight is kept for the next task.
	leaseIdle = 100 * time.Millisecond
	// leaseBacklog, leaseMinDepth and leaseMaxDepth bound the tasks in flight on a lease: what
	// it finishes in leaseBacklog at its measured rate, within [leaseMinDepth, leaseMaxDepth].
	leaseBacklog  = 20 * time.Millisecond
	leaseMinDepth = 2
	leaseMaxDepth = 4096
	// maxLeasesPerClass bounds the leases one process holds for one shape.
	maxLeasesPerClass = 32
	// maxLeaseClasses bounds the shapes followed; tasks of further shapes go through the node.
	maxLeaseClasses = 256
)

func newLeases(d *directCalls) *leases {
	return &leases{d: d, classes: map[string]*leaseClass{}}
}

// leaseKey is the shape of a normal task's placement, or false when such tasks never go to a
// lease (SPREAD: each task is placed on its own).
func leaseKey(spec *pb.TaskSpec) (string, bool) {
	if spec.SchedulingStrategy == strategySpread {
		return "", false
	}
	var sb strings.Builder
	names := make([]string, 0, len(spec.Resources))
	for k := range spec.Resources {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&sb, "%s=%g,", k, spec.Resources[k])
	}
	if spec.SchedulingStrategy != 0 {
		fmt.Fprintf(&sb, " strategy %d %s %v", spec.SchedulingStrategy, spec.AffinityNodeId, spec.AffinitySoft)
	}
	if spec.RuntimeEnv != "" {
		fmt.Fprintf(&sb, " env %s", spec.RuntimeEnv)
	}
	return sb.String(), true
}

// strategySpread is TaskSpec.scheduling_strategy's SPREAD (ray_scheduling_strategy in c_api.h).
const strategySpread = 1

// submit sends a normal task (task and return ids set) to a lease of its shape, or queues it for
// one, and reports true; or reports false: the caller sends it through the node (which this
// counts, and which may lead to a lease request).
func (ls *leases) submit(spec *pb.TaskSpec) bool {
	key, ok := leaseKey(spec)
	if !ok {
		return false
	}
	ls.mu.Lock()
	c := ls.classes[key]
	if c == nil {
		if len(ls.classes) >= maxLeaseClasses {
			ls.mu.Unlock()
			return false
		}
		c = &leaseClass{shape: &pb.TaskSpec{Resources: spec.Resources, SchedulingStrategy: spec.SchedulingStrategy,
			AffinityNodeId: spec.AffinityNodeId, AffinitySoft: spec.AffinitySoft, RuntimeEnv: spec.RuntimeEnv}}
		ls.classes[key] = c
	}
	if len(c.held) == 0 || (c.roomiest() == nil && (c.allHandedBack() || (!c.asking && !ls.mayAsk(c)))) || !ls.d.argsHere(spec) {
		c.viaNode++
		if c.viaNode >= leaseAfter && ls.mayAsk(c) {
			ls.startAsking(c)
		}
		ls.mu.Unlock()
		return false
	}
	ls.mu.Unlock()
	ret, _ := ids.ObjectIDFromBytes(spec.ReturnId)
	if !ls.prepare(ret, spec) {
		return true
	}
	ls.mu.Lock()
	c.queue = append(c.queue, spec)
	if len(c.queue) >= leaseAfter && ls.mayAsk(c) {
		ls.startAsking(c)
	}
	ls.mu.Unlock()
	ls.pump(c)
	return true
}

// leaseBackoff is how long to wait before the next lease request after failures requests in a
// row came to nothing (and one more just did).
func leaseBackoff(failures int) time.Duration {
	if failures >= 16 {
		return maxLeaseRetryWait
	}
	wait := leaseRetryWait << uint(failures)
	if wait > maxLeaseRetryWait {
		wait = maxLeaseRetryWait
	}
	return wait
}

// mayAsk tells whether a lease request for class c may start now. Called with ls.mu held.
func (ls *leases) mayAsk(c *leaseClass) bool {
	return !c.asking && !ls.closed && len(c.held) < maxLeasesPerClass && !time.Now().Before(c.notBefore)
}

// startAsking starts a lease request for class c. Called with ls.mu held.
func (ls *leases) startAsking(c *leaseClass) {
	c.asking, c.viaNode = true, 0
	go ls.ask(c)
}

// pump sends the class's queued tasks to its leases with room, in order; when the class has no
// lease and none is being asked for, they go through the node. One goroutine pumps a class at a
// time (whoever finds it busy leaves it a note to look again), so each lease gets its tasks in
// the order of their numbers (leasedTask.seq).
func (ls *leases) pump(c *leaseClass) {
	type sendable struct {
		l    *lease
		spec *pb.TaskSpec
	}
	ls.mu.Lock()
	if c.pumping {
		c.again = true
		ls.mu.Unlock()
		return
	}
	c.pumping = true
	for {
		c.again = false
		var out []sendable
		var toNode []*pb.TaskSpec
		for len(c.queue) > 0 {
			l := c.roomiest()
			if l == nil {
				break
			}
			spec := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			ret, _ := ids.ObjectIDFromBytes(spec.ReturnId)
			l.sent++
			l.inflight[ret] = leasedTask{spec, l.sent}
			out = append(out, sendable{l, spec})
		}
		if len(c.queue) > 0 && (len(c.held) == 0 || c.allHandedBack()) {
			// (A request under way may wait long at its node, and a worker that handed tasks
			// back may wait for one of these.)
			toNode, c.queue = c.queue, nil
		}
		ls.mu.Unlock()
		for _, s := range out {
			if err := s.l.st.sender.QueueBurst(s.spec); err != nil {
				ls.lost(s.l, err)
			}
		}
		for _, spec := range toNode {
			ls.viaNode(spec)
		}
		ls.mu.Lock()
		if !c.again {
			break
		}
	}
	c.pumping = false
	ls.mu.Unlock()
}

// roomiest is the class's lease with the fewest tasks in flight, below its bound (nil: none).
// Called with ls.mu held.
func (c *leaseClass) roomiest() *lease {
	var best *lease
	for _, l := range c.held {
		bound := ratemeter.Bound(l.meter.Rate(), leaseBacklog, leaseMinDepth, leaseMaxDepth)
		if n := len(l.inflight); !l.ended && !l.handedBack && float64(n) < bound && (best == nil || n < len(best.inflight)) {
			best = l
		}
	}
	return best
}

// allHandedBack tells whether every lease of the class handed tasks back (its worker waits in
// Get). Called with ls.mu held.
func (c *leaseClass) allHandedBack() bool {
	for _, l := range c.held {
		if !l.handedBack {
			return false
		}
	}
	return len(c.held) > 0
}

// argsHere tells whether every ObjectRef argument of spec is a small value this process has (it
// can travel in the message to a leased worker).
func (d *directCalls) argsHere(spec *pb.TaskSpec) bool {
	for _, a := range spec.Args {
		if !a.IsRef {
			continue
		}
		id, err := ids.ObjectIDFromBytes(a.ObjectId)
		if err != nil || d.isPending(id) {
			return false
		}
		obj, ok := d.cw.store.Get(id)
		if !ok || obj.InShm || obj.IsError() {
			return false
		}
	}
	return true
}

// prepare does for a task bound for a lease the bookkeeping an actor call gets (directCalls.submit):
// its result will come on a lease's stream, its ObjectRef arguments travel as values, and the refs
// inside them are made known to the node. It reports false when an argument failed (the task's
// result is that failure then).
func (ls *leases) prepare(ret ids.ObjectID, spec *pb.TaskSpec) bool {
	d := ls.d
	spec.CallerId = d.cw.opts.WorkerID[:]
	d.cw.refs.markLocal(ret)
	held := wire.ArgRefs(spec)
	d.cw.refs.add(held...)
	d.mu.Lock()
	d.pending[ret] = held
	d.mu.Unlock()
	if _, errObj := d.inlineArgs(spec, true); errObj != nil {
		d.arrived(ret, errObj)
		return false
	}
	var contained []ids.ObjectID
	for _, a := range spec.Args {
		contained = append(contained, ids.FromBytesList(a.ContainedIds)...)
	}
	if err := d.handOn(contained, nil); err != nil {
		glog.Warningf("task %s for a worker lease: %v", spec.FunctionName, err)
	}
	return true
}

// ask asks the node for a lease for class c and, once one is granted, starts using it.
func (ls *leases) ask(c *leaseClass) {
	l, why := ls.obtain(c)
	ls.mu.Lock()
	c.asking = false
	if l == nil {
		c.notBefore = time.Now().Add(leaseBackoff(c.failures))
		c.failures++
		ls.mu.Unlock()
		glog.Infof("no worker lease: %s", why)
		ls.pump(c) // queued tasks go through the node when no lease is left
		return
	}
	if ls.closed {
		ls.mu.Unlock()
		l.st.close()
		return
	}
	c.failures = 0
	c.held = append(c.held, l)
	ls.armIdle(l) // (returned unless tasks come)
	ls.mu.Unlock()
	go ls.receive(l)
	ls.pump(c)
}

// obtain submits a lease request for class c through the node, waits for its answer and dials
// the leased worker; or says why there is no lease.
func (ls *leases) obtain(c *leaseClass) (*lease, string) {
	d, cw := ls.d, ls.d.cw
	taskID := ids.NewTaskID()
	ret := taskID.ReturnID(1)
	spec := &pb.TaskSpec{TaskId: taskID[:], ReturnId: ret[:], FunctionName: "(worker lease)", TaskType: TaskLease,
		Resources: c.shape.Resources, SchedulingStrategy: c.shape.SchedulingStrategy,
		AffinityNodeId: c.shape.AffinityNodeId, AffinitySoft: c.shape.AffinitySoft, RuntimeEnv: c.shape.RuntimeEnv}
	cw.refs.markHeld(ret) // (the submission makes the node count this process as holding it)
	cw.refs.add(ret)
	defer cw.refs.remove(ret)
	if err := d.b.submit(spec); err != nil {
		return nil, err.Error()
	}
	if err := d.b.fetch([]ids.ObjectID{ret}); err != nil {
		return nil, err.Error()
	}
	if _, err := cw.store.WaitN(cw.ctx, []ids.ObjectID{ret}, 1); err != nil {
		return nil, err.Error()
	}
	obj, ok := cw.store.Get(ret)
	switch {
	case !ok:
		return nil, "the lease's answer was released"
	case obj.IsError() || obj.InShm:
		return nil, string(obj.Data)
	}
	parts := strings.Fields(string(obj.Data)) // address, node, lease number (see startLease)
	if len(parts) != 3 {
		return nil, fmt.Sprintf("a lease's answer %q is not an address, a node and a number", obj.Data)
	}
	where := fmt.Sprintf("%s (node %s)", parts[0], parts[1])
	st, err := d.dial(parts[0], 0, metadata.Pairs(leaseGenMetadata, parts[2]))
	if err != nil {
		return nil, fmt.Sprintf("the leased worker at %s: %v", where, err)
	}
	return &lease{c: c, where: where, st: st, inflight: map[ids.ObjectID]leasedTask{}}, ""
}

// receive takes the results of lease l until its stream ends.
func (ls *leases) receive(l *lease) {
	for {
		batchMsg, err := l.st.stream.Recv()
		if err != nil {
			ls.lost(l, err)
			return
		}
		now := time.Now()
		for _, r := range batchMsg.Results {
			ret, err := ids.ObjectIDFromBytes(r.ReturnId)
			if err != nil {
				glog.Warningf("the leased worker at %s sent a result with a bad id: %v", l.where, err)
				continue
			}
			ls.mu.Lock()
			spec := l.inflight[ret].spec
			delete(l.inflight, ret)
			if spec != nil {
				l.handedBack = r.Returned
				if !r.Returned {
					l.meter.Note(now)
				}
			}
			if len(l.inflight) == 0 && !l.ended {
				ls.armIdle(l)
			}
			ls.mu.Unlock()
			switch {
			case spec == nil:
				glog.Warningf("the leased worker at %s sent a result for a task this process is not waiting for", l.where)
				if !r.Returned {
					ls.d.unwanted(ret, wire.ObjectFromProto(r.Result))
				}
			case r.Returned:
				ls.viaNode(spec)
			default:
				ls.answered(ret, spec, wire.ObjectFromProto(r.Result))
			}
		}
		ls.pump(l.c)
	}
}

// answered takes a leased task's result: an exception it retries (retry_exceptions, within its
// retries) sends it again through the node; anything else is its result.
func (ls *leases) answered(ret ids.ObjectID, spec *pb.TaskSpec, obj *objstore.Object) {
	if obj.Kind == objstore.KindTaskError && spec.RetryExceptions {
		retries := int(spec.MaxRetries)
		spec.Attempts++
		if taskretry.Take(&retries) {
			spec.MaxRetries = int32(retries)
			glog.Warningf("retrying task %s (%s) after it threw; %s", spec.FunctionName, ret.Hex()[:12], taskretry.Describe(retries))
			ls.viaNode(spec)
			return
		}
		obj = &objstore.Object{Kind: obj.Kind, Data: taskretry.WithAttempts(obj.Data, int(spec.Attempts))}
	}
	ls.d.arrived(ret, obj)
}

// armIdle starts the wait after which lease l, idle since now, is returned. Called with ls.mu
// held.
func (ls *leases) armIdle(l *lease) {
	l.idleGen++
	gen := l.idleGen
	if l.idle != nil {
		l.idle.Stop()
	}
	l.idle = time.AfterFunc(leaseIdle, func() { ls.returnIfIdle(l, gen) })
}

// returnIfIdle returns lease l when nothing went in flight there since it fell idle (gen).
func (ls *leases) returnIfIdle(l *lease, gen uint64) {
	ls.mu.Lock()
	if l.ended || l.idleGen != gen || len(l.inflight) > 0 {
		ls.mu.Unlock()
		return
	}
	l.ended = true
	l.c.drop(l)
	ls.mu.Unlock()
	// The worker ends the lease once it has read this end; its side ends then too (receive).
	l.st.sender.Close()
	_ = l.st.stream.CloseSend()
	ls.pump(l.c)
}

// drop forgets lease l. Called with ls.mu held.
func (c *leaseClass) drop(l *lease) {
	for i, x := range c.held {
		if x == l {
			c.held = append(c.held[:i], c.held[i+1:]...)
			return
		}
	}
}

// lost deals with the end of lease l's stream: tasks in flight there go through the node as a
// retry while they have retries left, else fail naming the worker's node.
func (ls *leases) lost(l *lease, cause error) {
	ls.mu.Lock()
	l.ended = true
	l.c.drop(l)
	if l.idle != nil {
		l.idle.Stop()
	}
	inflight := l.inflight
	l.inflight = map[ids.ObjectID]leasedTask{}
	ls.mu.Unlock()
	l.st.cancel()
	go l.st.close()
	// The worker ran them one at a time, in order: only the oldest may have started, and they go
	// again without using a retry. Unless it was alone, though, the oldest may have finished (its
	// result lost with the stream) and the next started: then neither uses a retry, and both run
	// again alone (TaskSpec.run_alone), where a death is surely their own.
	var first, second uint64
	for _, lt := range inflight {
		switch {
		case first == 0 || lt.seq < first:
			first, second = lt.seq, first
		case second == 0 || lt.seq < second:
			second = lt.seq
		}
	}
	ambiguous := len(inflight) > 1
	for ret, lt := range inflight {
		spec := lt.spec
		if ambiguous && (lt.seq == first || lt.seq == second) {
			spec.RunAlone = true
		}
		if lt.seq != first || ambiguous {
			ls.viaNode(spec)
			continue
		}
		retries := int(spec.MaxRetries) // (resolved at submission)
		spec.Attempts++
		if !ls.d.cw.closed() && taskretry.Take(&retries) {
			spec.MaxRetries = int32(retries)
			glog.Warningf("retrying task %s (%s) after the leased worker at %s was lost (%v); %s", spec.FunctionName, ret.Hex()[:12], l.where, cause, taskretry.Describe(retries))
			ls.viaNode(spec)
			continue
		}
		msg := fmt.Sprintf("The worker that ran %s, leased at %s, was lost: %v. The task (function %s) had no retries left%s.",
			actorrule.TaskLabel(spec.FunctionName, spec.Name, false), l.where, cause, spec.FunctionName, taskretry.Attempts(int(spec.Attempts)))
		ls.d.arrived(ret, &objstore.Object{Kind: objstore.KindWorkerDied, Data: []byte(msg)})
	}
	ls.pump(l.c)
}

// viaNode sends a task that was sent to a lease through the node instead: its result is the
// node's then, as any task's submitted there.
func (ls *leases) viaNode(spec *pb.TaskSpec) {
	d := ls.d
	ret, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		return
	}
	d.mu.Lock()
	held, ok := d.pending[ret]
	delete(d.pending, ret)
	delete(d.promised, ret) // (the node gets the result from the task)
	waiters := d.argWaiters[ret]
	delete(d.argWaiters, ret)
	d.mu.Unlock()
	if !ok {
		return
	}
	if err := d.b.submit(spec); err != nil {
		d.cw.refs.heldByNode(ret)
		d.cw.storeLocal(ret, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("%s could not be sent again: %v", spec.FunctionName, err))})
	} else if d.cw.refs.heldByNode(ret) {
		// (The submission made the node count this process as a holder; from here on, dropping
		// the last reference tells it so.)
		_ = d.b.fetch([]ids.ObjectID{ret}) // a Get waiting for it learns it from the node
	} else {
		_ = d.b.queue(refsRemovedMessage([][]byte{ret[:]})) // every reference went meanwhile
	}
	d.cw.refs.remove(held...) // (after the submission, which holds them at the node)
	d.wake(waiters)
}

// close ends every lease; their tasks in flight fail.
func (ls *leases) close() {
	ls.mu.Lock()
	ls.closed = true
	var all []*lease
	for _, c := range ls.classes {
		all = append(all, c.held...)
	}
	ls.mu.Unlock()
	for _, l := range all {
		l.st.cancel()
	}
}
