// Package core is the core worker: the part of the runtime that lives in every driver and worker
// process. It submits tasks, stores the objects this process creates or fetches, counts the
// references the process holds, and executes tasks by calling back into user code. It runs on
// one of two backends: the node (a raylet stream) or local mode (everything in this process).
package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
	"goray/runtimeenv"
	"goray/taskretry"
)

// getSpin is how long a driver's Get or Wait polls for its objects before it sleeps: about a
// synchronous call's round trip.
const getSpin = 150 * time.Microsecond

// kindUnknown marks, in a process's local store, an id the node says nobody created.
const kindUnknown int32 = -1

// Task types; they mirror enum ray_task_type in include/ray/c_api.h.
const (
	TaskNormal        int32 = 0
	TaskActorCreation int32 = 1
	TaskActorMethod   int32 = 2
	TaskActorDestroy  int32 = 3
)

// TaskCall is a call for user code to execute.
type TaskCall struct {
	Type     int32
	Function string
	Args     [][]byte
	// Shared marks the arguments whose bytes are the node's shared memory rather than Go memory
	// (nil: none are).
	Shared    []bool
	Instance  unsafe.Pointer // actor calls: the instance creation returned (C memory)
	ClassName string
	// NewInstance is set by the executor of an actor creation.
	NewInstance unsafe.Pointer
	// TaskID is the id of the task the call runs (nil: none known), for the runtime context.
	TaskID []byte
	// Attempt is which run of the task this is (1: the first; 0: not known), for its events.
	Attempt int32
}

// execContext is what a thread running a task of this process runs: the actor (nil for a
// normal task) and the task's id.
type execContext struct {
	actor  *actorContext
	taskID []byte
}

// actorContext is an actor instance living in this process.
type actorContext struct {
	id          ids.ActorID
	className   string
	factory     string
	instance    unsafe.Pointer
	restarted   bool
	concurrency int
	exiting     atomic.Bool
}

// Executor runs a call in user code and returns its result (a value or an error object).
type Executor func(call *TaskCall) *objstore.Object

// Options configure a core worker.
type Options struct {
	// Local runs tasks in this process on a pool of NumCPUs threads (local mode).
	Local   bool
	NumCPUs int
	// LocalResources are local mode's resources besides its CPUs (NumCPUs), which its placement
	// groups reserve.
	LocalResources map[string]float64
	// RayletSocket is the node's socket (node mode).
	RayletSocket string
	// ConnectInProcess, when set, opens the node stream to a node manager running in this
	// process instead of dialing RayletSocket (the driver of an embedded node).
	ConnectInProcess func(ctx context.Context) (pb.NodeManager_ConnectClient, error)
	// IsWorker marks a worker process: it executes the tasks the node sends it.
	IsWorker bool
	WorkerID ids.UniqueID
	// Job, for a driver that joins a node it did not start (a cluster's node): the code the
	// node's workers of this job run.
	Job *pb.JobConfig
	// On a node of a cluster: the IP address an actor hosted here takes calls on (TCP), and the
	// cluster's token, which callers present and the actor's server asks for.
	ActorIP string
	// RuntimeEnv is the runtime environment of the process's job (a driver's RayConfig, or the one
	// a worker runs in; package runtimeenv's canonical JSON): its tasks and actors run in it,
	// merged with their own.
	RuntimeEnv string
	// TaskMaxRetries is the process's RAY_TASK_MAX_RETRIES ("": unset), the default max_retries of
	// the tasks it submits (package taskretry).
	TaskMaxRetries string
	Token          string
	// Exec runs tasks (local mode and worker processes).
	Exec Executor
}

// backend is where tasks and objects go beyond this process.
type backend interface {
	submit(spec *pb.TaskSpec) error
	// submitLeased sends a normal task (task and return ids set) to a worker lease, or queues it
	// for one, and reports true; false: submit it instead (see leases).
	submitLeased(spec *pb.TaskSpec) bool
	// submitActor sends an actor call (task and return ids set).
	submitActor(actor ids.ActorID, spec *pb.TaskSpec) error
	// publish makes the objects of list that only this process knows known beyond it, before
	// anything sent after it refers to them.
	publish(list []ids.ObjectID)
	put(id ids.ObjectID, obj *objstore.Object) error
	// fetch asks for objects not in the local store; each arrives there (or an unknown marker).
	fetch(list []ids.ObjectID) error
	// forget drops what the backend keeps for an object this process released.
	forget(id ids.ObjectID)
	setBlocked(blocked bool)
	createActor(id ids.ActorID, o ActorOptions) error
	killActor(id ids.ActorID, noRestart bool) error
	getActor(name, namespace string) (ids.ActorID, string, bool, error)
	// Placement groups (groups.go).
	createGroup(info *pb.PlacementGroupInfo) error
	removeGroup(id string) error
	waitGroup(id string, timeout time.Duration) (bool, error)
	getGroups(id, name, namespace string) ([]*pb.PlacementGroupInfo, error)
	// nodes lists the cluster's nodes.
	nodes() ([]*pb.NodeInfo, error)
	// recordMetric records a value (the definition comes along with a process's first one).
	recordMetric(def *pb.MetricDef, p *pb.MetricPoint) error
	// taskRan tells of a run of a task in this process (taskevents.go).
	taskRan(run taskRun)
	close()
}

// CoreWorker is the runtime of one process.
type CoreWorker struct {
	opts Options
	// ownerNode is the node this process belongs to (from its registration): the actors it
	// creates carry its id's first half (ids.ActorOwnerPrefix), so that any node of a cluster
	// knows which node owns them.
	ownerNode atomic.Pointer[ids.UniqueID]
	store     *objstore.MemoryStore
	refs      *refCounter
	be        backend
	shm       *shmClient // the node's shared-memory object store; nil in local mode or without one
	ctx       context.Context
	cancel    context.CancelFunc

	containedMu   sync.Mutex
	containedHeld map[ids.ObjectID][]ids.ObjectID // objects whose contained refs this process holds

	execThreads sync.Map // OS thread id -> *execContext: threads running a task
	// defaultRetries is max_retries of tasks that keep the default (taskretry).
	defaultRetries int
	closeOnce      sync.Once
	metrics        metricTable // users' metrics (metrics.go)
}

// New starts a core worker on the backend its options name.
func New(opts Options) (*CoreWorker, error) {
	retries, err := taskretry.ParseDefault(opts.TaskMaxRetries)
	if err != nil {
		return nil, Errorf(CodeInvalidArgument, "%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cw := &CoreWorker{opts: opts, store: objstore.NewMemoryStore(), ctx: ctx, cancel: cancel, containedHeld: map[ids.ObjectID][]ids.ObjectID{},
		defaultRetries: retries}
	cw.refs = newRefCounter(cw.release)
	if opts.Local {
		if opts.Exec == nil {
			cancel()
			return nil, fmt.Errorf("local mode needs an executor")
		}
		cw.be = newLocalBackend(cw, opts.NumCPUs)
		return cw, nil
	}
	if opts.IsWorker {
		workerGoThreads(1)
	}
	if !opts.IsWorker && runtime.GOMAXPROCS(0) > 1 {
		// A driver's thread waiting for a reply polls a little before it sleeps (see SetSpin).
		cw.store.SetSpin(getSpin)
	}
	be, err := connectNode(cw, opts)
	if err != nil {
		cancel()
		return nil, err
	}
	cw.be = be
	return cw, nil
}

// Close stops the core worker; calls waiting in Get or Wait fail with ErrShutdown.
func (cw *CoreWorker) Close() {
	cw.closeOnce.Do(func() {
		cw.cancel()
		cw.be.close()
		cw.shm.close()
	})
}

// Done is closed when the core worker has stopped (Close, or its node went away).
func (cw *CoreWorker) Done() <-chan struct{} { return cw.ctx.Done() }

func (cw *CoreWorker) closed() bool { return cw.ctx.Err() != nil }

// Put stores a value and returns its new id.
func (cw *CoreWorker) Put(data []byte, contained []ids.ObjectID) (ids.ObjectID, error) {
	if cw.closed() {
		return ids.Nil, ErrShutdown
	}
	id := ids.NewPutID()
	cw.be.publish(contained)
	if s := cw.shm; s != nil && int64(len(data)) >= s.threshold {
		// Written once, into shared memory; this process reads it back from there like any other.
		cw.refs.markHeld(id)
		if err := s.putBytes(id, data, contained); err != nil {
			return ids.Nil, err
		}
		return id, nil
	}
	obj := &objstore.Object{Data: data, Kind: objstore.KindValue, Contained: contained}
	cw.storeLocal(id, obj)
	cw.refs.markHeld(id) // the node counts the putter as holding the new object
	if err := cw.be.put(id, obj); err != nil {
		return ids.Nil, err
	}
	return id, nil
}

// storeLocal puts an object in this process's store. From its first local copy until this
// process drops its last reference to the object, the process holds the refs the object
// contains (a copy in shared memory leaves the local store after each read; its contained refs
// stay held, so reading it again does not churn their counts). It reports false when the id was
// there already (the new copy is dropped).
func (cw *CoreWorker) storeLocal(id ids.ObjectID, obj *objstore.Object) bool {
	if !cw.store.Put(id, obj) {
		return false
	}
	if len(obj.Contained) > 0 {
		cw.containedMu.Lock()
		_, held := cw.containedHeld[id]
		if !held {
			cw.containedHeld[id] = obj.Contained
		}
		cw.containedMu.Unlock()
		if !held {
			cw.refs.add(obj.Contained...)
		}
	}
	return true
}

// release drops this process's copy of an object no reference in it names any more, and the
// refs it contains.
func (cw *CoreWorker) release(id ids.ObjectID) {
	obj, ok := cw.store.Get(id)
	if ok && obj.InShm {
		// Its local entry goes with its last reader (see shmClient).
		cw.dropUnread([]ids.ObjectID{id})
	} else {
		if ok {
			cw.store.Delete(id)
		}
		cw.be.forget(id)
	}
	cw.containedMu.Lock()
	contained, held := cw.containedHeld[id]
	delete(cw.containedHeld, id)
	cw.containedMu.Unlock()
	if held {
		cw.refs.remove(contained...)
	}
}

// SubmitTask sends a task on its way and returns the id of its return object.
func (cw *CoreWorker) SubmitTask(spec *pb.TaskSpec) (ids.ObjectID, error) {
	return cw.submitTask(ids.ActorID{}, spec)
}

// submitTask sends a task, or a call of actor (non-zero), on its way.
func (cw *CoreWorker) submitTask(actor ids.ActorID, spec *pb.TaskSpec) (ids.ObjectID, error) {
	if cw.closed() {
		return ids.Nil, ErrShutdown
	}
	if spec.FunctionName == "" {
		return ids.Nil, Errorf(CodeInvalidArgument, "a task needs a function name")
	}
	for _, a := range spec.Args {
		if a.IsRef {
			if _, err := ids.ObjectIDFromBytes(a.ObjectId); err != nil {
				return ids.Nil, Errorf(CodeInvalidArgument, "task %s: bad ObjectRef argument: %v", spec.FunctionName, err)
			}
		}
	}
	if actor == (ids.ActorID{}) {
		if err := cw.inRuntimeEnv(spec); err != nil {
			return ids.Nil, err
		}
	}
	taskID := ids.NewTaskID()
	ret := taskID.ReturnID(1)
	spec.TaskId = taskID[:]
	spec.ReturnId = ret[:]
	spec.MaxRetries = int32(taskretry.Resolve(spec.MaxRetries, cw.defaultRetries))
	moved, err := cw.largeArgsToShm(spec)
	if err != nil {
		return ids.Nil, err
	}
	if actor != (ids.ActorID{}) {
		for _, id := range moved {
			cw.refs.markHeld(id) // the call holds them until its result comes (directCalls)
		}
		moved = nil
		err = cw.be.submitActor(actor, spec)
	} else if cw.be.submitLeased(spec) {
		// Its result comes on the lease's stream, as an actor call's does.
	} else {
		cw.be.publish(wire.ArgRefs(spec)) // before the task that refers to them
		cw.refs.markHeld(ret)             // the node counts the submitter as holding the return object
		err = cw.be.submit(spec)
	}
	if err != nil {
		return ids.Nil, err
	}
	if len(moved) > 0 {
		// The task holds them now; this process never had an ObjectRef to them.
		_ = cw.shm.be.queue(refsRemovedMessage(ids.ToBytes(moved)))
	}
	return ret, nil
}

// largeArgsToShm puts the task's large by-value arguments into shared memory and passes them by
// reference instead, so they are written once and workers read them in place.
func (cw *CoreWorker) largeArgsToShm(spec *pb.TaskSpec) ([]ids.ObjectID, error) {
	s := cw.shm
	if s == nil {
		return nil, nil
	}
	var moved []ids.ObjectID
	for i, a := range spec.Args {
		if a.IsRef || int64(len(a.Data)) < s.threshold {
			continue
		}
		id := ids.NewPutID()
		contained := ids.FromBytesList(a.ContainedIds)
		cw.be.publish(contained) // before the object that refers to them
		if err := s.putBytes(id, a.Data, contained); err != nil {
			return nil, fmt.Errorf("argument %d of %s: %w", i+1, spec.FunctionName, err)
		}
		spec.Args[i] = &pb.TaskArg{IsRef: true, ObjectId: id[:]}
		moved = append(moved, id)
	}
	return moved, nil
}

// missing lists the ids (once each) that are not in the local store.
func (cw *CoreWorker) missing(list []ids.ObjectID) []ids.ObjectID {
	var out []ids.ObjectID
	seen := map[ids.ObjectID]bool{}
	for _, id := range list {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, ok := cw.store.Get(id); !ok {
			out = append(out, id)
		}
	}
	return out
}

// waitLocal waits until n of the ids are in the local store, fetching the missing ones.
// timeout < 0 waits forever. A task waiting here gives its CPU back to the node.
func (cw *CoreWorker) waitLocal(list []ids.ObjectID, n int, timeout time.Duration) ([]bool, error) {
	if cw.closed() {
		return nil, ErrShutdown
	}
	// (An id listed twice is asked for twice; both backends ask once.)
	if miss := cw.store.AppendMissing(nil, list); len(miss) > 0 {
		if err := cw.be.fetch(miss); err != nil {
			return nil, err
		}
	}
	ctx := cw.ctx
	if timeout >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(cw.ctx, timeout)
		defer cancel()
	}
	// (AnyMissing first: it stops at the first missing id, and inTask makes a system call.)
	if cw.store.AnyMissing(list) && cw.inTask() && cw.currentActor() == nil {
		cw.be.setBlocked(true)
		defer cw.be.setBlocked(false)
	}
	ready, err := cw.store.WaitN(ctx, list, n)
	if err != nil && (cw.closed() || errors.Is(err, context.Canceled)) {
		return nil, ErrShutdown // only Close cancels the core worker's context
	}
	return ready, err
}

// Get returns the objects, waiting up to timeout (negative: forever).
func (cw *CoreWorker) Get(list []ids.ObjectID, timeout time.Duration) ([]*objstore.Object, error) {
	if s := cw.shm; s != nil {
		// Copies in shared memory stay for this call until it reads them (startRead); those it
		// does not read go back to the node after it.
		s.wait(list, 1)
		defer func() {
			s.wait(list, -1)
			cw.dropUnread(list)
		}()
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	return cw.getUntil(list, timeout, deadline)
}

// getUntil is Get with the deadline fixed when the caller first asked (zero: none), so that an
// object fetched again does not start the wait over.
func (cw *CoreWorker) getUntil(list []ids.ObjectID, timeout time.Duration, deadline time.Time) ([]*objstore.Object, error) {
	left := time.Duration(-1)
	if !deadline.IsZero() {
		if left = time.Until(deadline); left < 0 {
			left = 0
		}
	}
	if _, err := cw.waitLocal(list, len(list), left); err != nil {
		switch {
		case errors.Is(err, ErrShutdown):
			return nil, err
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, err // the node refused or lost the request: not a timeout
		}
		miss := cw.missing(list)
		first := ""
		if len(miss) > 0 {
			first = " (" + miss[0].Hex() + ")"
		}
		return nil, Errorf(CodeTimeout, "Get object error: timed out after %d ms waiting for %d of %d objects%s", timeout.Milliseconds(), len(miss), len(list), first)
	}
	out := make([]*objstore.Object, len(list))
	for i, id := range list {
		obj, ok := cw.store.Get(id)
		if !ok {
			// Released between the wait and here: fetch again, within what is left of the wait.
			objs, err := cw.getUntil([]ids.ObjectID{id}, timeout, deadline)
			if err != nil {
				return nil, err
			}
			obj = objs[0]
		}
		if obj.Kind == kindUnknown {
			cw.store.Delete(id)
			return nil, Errorf(CodeUnknownObject, "Get object error: object %s is unknown: no process of this cluster created it, or it was freed", id.Hex())
		}
		if obj.Kind == objstore.KindStoreFull {
			cw.store.Delete(id)
			cw.be.forget(id)
			cw.dropUnread(list)
			return nil, Errorf(CodeStoreFull, "Get object error: %s", obj.Data)
		}
		out[i] = obj
	}
	if cw.shm != nil {
		// Each object in shared memory is read until the caller releases it (ReleaseRead).
		for i, obj := range out {
			if obj.InShm {
				cw.shm.startRead(list[i])
			}
		}
	}
	return out, nil
}

// Wait waits until n of the objects are ready or timeout passes (negative: forever) and marks
// at most n ready ones, in the order given.
func (cw *CoreWorker) Wait(list []ids.ObjectID, n int, timeout time.Duration) ([]bool, error) {
	ready := make([]bool, len(list))
	if err := cw.WaitInto(list, n, timeout, ready); err != nil {
		return nil, err
	}
	return ready, nil
}

// WaitInto is Wait writing its flags into ready, which must be as long as list. It keeps neither
// slice, so both may be memory the caller reuses (C memory, for ray_wait); on an error the flags
// are undefined.
func (cw *CoreWorker) WaitInto(list []ids.ObjectID, n int, timeout time.Duration, ready []bool) error {
	if n < 0 || n > len(list) {
		return Errorf(CodeInvalidArgument, "Wait: num_objects %d is out of range for %d objects", n, len(list))
	}
	if len(ready) != len(list) {
		return Errorf(CodeInvalidArgument, "Wait: %d flags for %d objects", len(ready), len(list))
	}
	if cw.readyPrefix(list, n, ready) {
		return nil
	}
	if s := cw.shm; s != nil {
		// Wait reads nothing: copies in shared memory go back to the node after it.
		s.wait(list, 1)
		defer func() {
			s.wait(list, -1)
			cw.dropUnread(list)
		}()
	}
	got, err := cw.waitLocal(list, n, timeout)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err // shut down, or the node refused the fetch: not "nothing ready yet"
	}
	if got == nil {
		for i := range ready {
			ready[i] = false
		}
	} else {
		copy(ready, got)
	}
	count := 0
	for i, id := range list {
		if !ready[i] {
			continue
		}
		obj, ok := cw.store.Get(id)
		if ok && obj.Kind == kindUnknown {
			cw.store.Delete(id)
			return Errorf(CodeUnknownObject, "Wait: object %s is unknown: no process of this cluster created it, or it was freed", id.Hex())
		}
		if count >= n {
			ready[i] = false
			continue
		}
		count++
	}
	return nil
}

// prefixFew is how many ready ids readyPrefix compares one by one for duplicates before it
// switches to a map (Wait usually wants one or a few objects).
const prefixFew = 8

// readyPrefix is Wait's fast path: scanning in order, it marks in ready (all other flags cleared)
// the first n distinct objects present locally, so waiting for one of many objects costs the scan
// up to the first ready one, under one hold of the store's lock per chunk of ids and with no
// allocation while n is small. It reports false when fewer than n are present, or when an unknown
// marker comes first (the flags are then to be overwritten).
func (cw *CoreWorker) readyPrefix(list []ids.ObjectID, n int, ready []bool) bool {
	if cw.closed() {
		return false
	}
	for i := range ready {
		ready[i] = false
	}
	if n == 0 {
		return true
	}
	count := 0
	unknown := false
	var few [prefixFew]int // indices of the first ids marked ready
	var seen map[ids.ObjectID]bool
	cw.store.ScanPresent(list, func(i int, obj *objstore.Object) bool {
		if obj.Kind == kindUnknown {
			unknown = true
			return false
		}
		if count < prefixFew {
			for _, j := range few[:count] {
				if list[j] == list[i] {
					return true // a duplicate of one marked already
				}
			}
			few[count] = i
		} else {
			if seen == nil {
				seen = make(map[ids.ObjectID]bool, 2*prefixFew)
				for _, j := range few {
					seen[list[j]] = true
				}
			}
			if seen[list[i]] {
				return true
			}
			seen[list[i]] = true
		}
		ready[i] = true
		count++
		return count < n
	})
	return !unknown && count >= n
}

// AddRef counts a new live ObjectRef in this process.
func (cw *CoreWorker) AddRef(id ids.ObjectID) { cw.refs.addRefs(true, []ids.ObjectID{id}) }

// RemoveRef counts a destroyed ObjectRef; the last one releases the object here.
func (cw *CoreWorker) RemoveRef(id ids.ObjectID) { cw.refs.removeRefs(true, []ids.ObjectID{id}) }

// RefCount is the number of references this process holds to id.
func (cw *CoreWorker) RefCount(id ids.ObjectID) int64 { return cw.refs.count(id) }

// inTask tells whether the calling OS thread is executing a task of this process.
func (cw *CoreWorker) inTask() bool {
	_, ok := cw.execThreads.Load(syscall.Gettid())
	return ok
}

// ActorOptions describe an actor to create.
type ActorOptions struct {
	Creation    *pb.TaskSpec // the factory call
	ClassName   string
	Name        string
	Namespace   string
	MaxRestarts int
	// MaxTaskRetries: how often a call in flight when an incarnation ends goes to the next one
	// (-1: no limit).
	MaxTaskRetries int
	MaxConcurrency int
	Detached       bool
}

// CreateActor creates an actor and returns its id.
func (cw *CoreWorker) CreateActor(o ActorOptions) (ids.ActorID, error) {
	if cw.closed() {
		return ids.ActorID{}, ErrShutdown
	}
	if o.Creation == nil || o.Creation.FunctionName == "" {
		return ids.ActorID{}, Errorf(CodeInvalidArgument, "an actor needs a factory function")
	}
	if o.MaxConcurrency < 1 {
		return ids.ActorID{}, Errorf(CodeInvalidArgument, "max_concurrency must be at least 1, not %d", o.MaxConcurrency)
	}
	if o.MaxRestarts < -1 {
		return ids.ActorID{}, Errorf(CodeInvalidArgument, "max_restarts must be -1 (no limit) or more, not %d", o.MaxRestarts)
	}
	if o.MaxTaskRetries < -1 {
		return ids.ActorID{}, Errorf(CodeInvalidArgument, "max_task_retries must be -1 (no limit) or more, not %d", o.MaxTaskRetries)
	}
	if err := cw.inRuntimeEnv(o.Creation); err != nil {
		return ids.ActorID{}, err
	}
	id := cw.newActorID()
	taskID := ids.NewTaskID()
	ret := taskID.ReturnID(1)
	o.Creation.TaskId = taskID[:]
	o.Creation.ReturnId = ret[:]
	o.Creation.TaskType = TaskActorCreation
	o.Creation.ActorId = id[:]
	o.Creation.ClassName = o.ClassName
	o.Creation.MaxConcurrency = int32(o.MaxConcurrency)
	cw.be.publish(wire.ArgRefs(o.Creation)) // before the creation that refers to them
	if err := cw.be.createActor(id, o); err != nil {
		return ids.ActorID{}, err
	}
	return id, nil
}

// SubmitActorTask calls a method of an actor and returns the id of its return object.
func (cw *CoreWorker) SubmitActorTask(actor ids.ActorID, spec *pb.TaskSpec) (ids.ObjectID, error) {
	spec.TaskType = TaskActorMethod
	spec.ActorId = actor[:]
	return cw.submitTask(actor, spec)
}

// KillActor kills an actor; without noRestart it restarts if it has restarts left.
func (cw *CoreWorker) KillActor(actor ids.ActorID, noRestart bool) error {
	if cw.closed() {
		return ErrShutdown
	}
	return cw.be.killActor(actor, noRestart)
}

// GetActor finds a live named actor; found is false when there is none.
func (cw *CoreWorker) GetActor(name, namespace string) (id ids.ActorID, className string, found bool, err error) {
	if cw.closed() {
		return id, "", false, ErrShutdown
	}
	return cw.be.getActor(name, namespace)
}

// currentActor is the actor whose method runs on the calling thread, if any.
func (cw *CoreWorker) currentActor() *actorContext {
	if e := cw.currentExec(); e != nil {
		return e.actor
	}
	return nil
}

// currentExec is what the calling thread runs, if it runs a task of this process.
func (cw *CoreWorker) currentExec() *execContext {
	v, ok := cw.execThreads.Load(syscall.Gettid())
	if !ok {
		return nil
	}
	return v.(*execContext)
}

// ThreadContext is what the calling thread runs: the task's id and the actor's (zero when it
// runs none).
func (cw *CoreWorker) ThreadContext() (taskID []byte, actorID ids.ActorID, inActor bool) {
	e := cw.currentExec()
	if e == nil {
		return nil, ids.ActorID{}, false
	}
	if e.actor != nil {
		return e.taskID, e.actor.id, true
	}
	return e.taskID, ids.ActorID{}, false
}

// NodeID is the node this process belongs to, once it registered with it (local mode: the id
// that stands for this process as the one node).
func (cw *CoreWorker) NodeID() (ids.UniqueID, bool) {
	if n := cw.ownerNode.Load(); n != nil {
		return *n, true
	}
	if lb, ok := cw.be.(*localBackend); ok {
		return lb.nodeID, true
	}
	return ids.UniqueID{}, false
}

// Nodes lists the cluster's nodes, alive and dead, as its control store knows them (local mode:
// this process, the one node).
func (cw *CoreWorker) Nodes() ([]*pb.NodeInfo, error) {
	if cw.closed() {
		return nil, ErrShutdown
	}
	return cw.be.nodes()
}

// ExitActor makes the actor whose method is running on this thread exit once the method returns.
func (cw *CoreWorker) ExitActor() error {
	a := cw.currentActor()
	if a == nil {
		return Errorf(CodeInvalidArgument, "ray::ExitActor() was called outside an actor method")
	}
	a.exiting.Store(true)
	return nil
}

// WasCurrentActorRestarted tells whether the actor running on this thread is a restarted instance.
func (cw *CoreWorker) WasCurrentActorRestarted() bool {
	a := cw.currentActor()
	return a != nil && a.restarted
}

// execute runs one task in user code on this (locked) OS thread. The executor hands back one
// reference to each ObjectRef inside the result (the task's own refs died when it returned);
// the caller drops them with releaseResultRefs once the result is stored.
func (cw *CoreWorker) execute(spec *pb.TaskSpec, args [][]byte, shared []bool, actor *actorContext) *objstore.Object {
	obj, _ := cw.executeCall(&TaskCall{Type: spec.TaskType, Function: spec.FunctionName, Args: args, Shared: shared, TaskID: spec.TaskId, Attempt: spec.Attempts}, actor)
	return obj
}

// executeCall runs a call with the actor's instance and class; it returns what the call
// created (actor creation) besides its result.
func (cw *CoreWorker) executeCall(call *TaskCall, actor *actorContext) (*objstore.Object, unsafe.Pointer) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	cw.execThreads.Store(tid, &execContext{actor: actor, taskID: call.TaskID})
	defer cw.execThreads.Delete(tid)
	if actor != nil {
		call.Instance = actor.instance
		call.ClassName = actor.className
	}
	start := time.Now()
	obj := cw.opts.Exec(call)
	if obj == nil {
		obj = &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("task " + call.Function + " returned no result")}
	}
	if call.Type != TaskActorDestroy {
		cw.be.taskRan(taskRun{taskID: call.TaskID, name: call.Function, typ: call.Type, attempt: call.Attempt, failed: obj.IsError(),
			start: start.UnixMicro(), end: time.Now().UnixMicro(), actor: actor})
	}
	return obj, call.NewInstance
}

// releaseResultRefs drops the references a task result came with, once the result is stored
// (user code handed them over with AddRef: they count as its).
func (cw *CoreWorker) releaseResultRefs(obj *objstore.Object) {
	if len(obj.Contained) > 0 {
		cw.refs.removeRefs(true, obj.Contained)
	}
}

// newActorID makes an id for an actor this process creates: its first half names the owner node.
func (cw *CoreWorker) newActorID() ids.ActorID {
	id := ids.NewUniqueID()
	if node := cw.ownerNode.Load(); node != nil {
		copy(id[:ids.ActorOwnerPrefix], node[:ids.ActorOwnerPrefix])
	}
	return id
}

// inRuntimeEnv sets a task's (or an actor's creation's) runtime environment: the process's
// job's, merged with its own. In local mode every task runs in this process, so one that asks
// for another environment is refused.
//
// As in Ray, a local directory as working_dir is the job's only (RayConfig::runtime_env, which
// the driver ships): a task's or actor's own may only name a package already shipped.
func (cw *CoreWorker) inRuntimeEnv(spec *pb.TaskSpec) error {
	env, err := runtimeenv.Merge(cw.opts.RuntimeEnv, spec.RuntimeEnv)
	if err != nil {
		return Errorf(CodeInvalidArgument, "%s: %v", spec.FunctionName, err)
	}
	if spec.RuntimeEnv != "" {
		own, _ := runtimeenv.Parse(spec.RuntimeEnv)
		if _, shipped := runtimeenv.PackageSum(own.WorkingDir); own.WorkingDir != "" && !shipped {
			return Errorf(CodeInvalidArgument, "%s: runtime_env working_dir %q: a local directory can be the job's working_dir only (RayConfig::runtime_env), not a task's or an actor's, as in Ray", spec.FunctionName, own.WorkingDir)
		}
	}
	if cw.opts.Local && env != cw.opts.RuntimeEnv {
		return Errorf(CodeInvalidArgument, "%s: local mode runs every task and actor in this process, whose environment is the job's (RayConfig::runtime_env): its own runtime_env cannot apply", spec.FunctionName)
	}
	spec.RuntimeEnv = env
	return nil
}
