// Package raylet is the node manager: one per node. It keeps the node's objects, a pool of
// prestarted worker processes, the node's resources, and schedules tasks onto workers once their
// ObjectRef arguments exist. Core workers (drivers and workers) talk to it over one long-lived
// bidirectional gRPC stream each, on a unix socket in the session directory.
package raylet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	"goray/resources"
	"goray/rpc/peercred"
	pb "goray/rpc/proto"
	"goray/scheduling"
	"goray/shm"
)

// DefaultMaxRetries is how often a task is retried when its worker dies, unless it says otherwise.
const DefaultMaxRetries = 3

// Config says how to run a node.
type Config struct {
	SessionDir     string
	LogsDir        string
	SocketPath     string
	Resources      map[string]float64 // totals; "CPU" sets the worker pool size
	WorkerCommand  []string           // argv of a worker process
	CodeSearchPath []string
	DriverExe      string
	Namespace      string
	// ObjectStoreMemory is the size of the shared-memory object store, in bytes, at ArenaPath;
	// spilled objects go to SpillDir. Without them values travel in messages only.
	ObjectStoreMemory int64
	ArenaPath         string
	SpillDir          string
}

// task is a task the node has accepted and not finished.
type task struct {
	spec        *pb.TaskSpec
	returnID    ids.ObjectID
	demand      resources.Set         // what it needs to run (one CPU unless it says otherwise)
	alloc       *resources.Allocation // what it holds while it runs
	retriesLeft int
	missing     int // ObjectRef arguments not yet in the store
	infeasible  bool
	actor       *actor // actor creation or method call
	isCreation  bool
	class       *schedClass
	heldRefs    []ids.ObjectID // objects its arguments refer to, held until it is done
	pinned      []ids.ObjectID // its shared-memory arguments, kept in place until it is done
	// spilledArgs holds arguments read back from disk into memory (the arena had no room for
	// them): they travel in the task's message while they stay spilled.
	spilledArgs map[ids.ObjectID][]byte
}

// Raylet is a running node manager.
type Raylet struct {
	pb.UnimplementedNodeManagerServer

	cfg    Config
	nodeID ids.UniqueID
	store  objstore.Store

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	grpcServer *grpc.Server
	listener   net.Listener
	serveDone  chan struct{}

	mu      sync.Mutex
	stopped bool
	ledger  *resources.Ledger // the node's resources: totals and what is free (fixed point)
	// policy decides where work runs, over view: the cluster as this node sees it (today: itself,
	// its Available refreshed from the ledger when viewVersion is behind; see place).
	policy      scheduling.Policy
	view        scheduling.View
	viewVersion uint64
	// resErr is why the configured resources were refused (Start reports it).
	resErr  error
	workers map[ids.UniqueID]*worker
	// spawning holds the ids of worker processes being started: their registration may arrive
	// before the spawner records them in workers, and then waits on spawned.
	spawning      map[ids.UniqueID]bool
	spawned       *sync.Cond // broadcast (with mu) when a spawn is recorded or abandoned
	idle          []*worker
	starting      int
	blocked       int
	ready         *readyQueue                  // arguments present, waiting for resources and a worker
	waitingDeps   map[ids.ObjectID][]*task     // tasks waiting for an argument
	pending       map[ids.ObjectID]*task       // return id -> task not finished
	subscribers   map[ids.ObjectID][]*client   // clients waiting for an object
	refs          map[ids.ObjectID]*objectRefs // what keeps each object alive (see refs.go)
	arena         *shm.Arena                   // the shared-memory object store (see shmstore.go)
	alloc         *shm.Allocator
	shmObjs       map[ids.ObjectID]*shmObject
	shmSeq        uint64
	spills        int
	creates       createQueue // CreateObject requests waiting for room (see createqueue.go)
	clients       map[*client]bool
	actors        map[ids.ActorID]*actor
	named         map[actorKey]*actor // live named actors
	deadActors    []*actor            // dead actors still in actors, oldest first (see actorDied)
	pendingActors []*actor            // actors waiting for resources, in creation order
	actorSeq      uint64              // actors created so far (their creation order)
	actorWorkers  int                 // live worker processes dedicated to actors
	starts        startControl        // how processes are started (see start.go)
	deadLogs      []logFiles          // log files of dead workers kept, oldest first (see exit.go)
}

// New makes a node manager; Start runs it.
func New(cfg Config) *Raylet {
	ctx, cancel := context.WithCancel(context.Background())
	total := map[string]float64{}
	for k, v := range cfg.Resources {
		total[k] = v
	}
	if _, ok := total["CPU"]; !ok {
		total["CPU"] = 1
	}
	totals, resErr := resources.NewSet(total, resources.Total)
	if resErr != nil {
		resErr = fmt.Errorf("node manager: resources: %w", resErr)
	}
	r := &Raylet{
		cfg:         cfg,
		nodeID:      ids.NewUniqueID(),
		store:       objstore.NewMemoryStore(),
		ctx:         ctx,
		cancel:      cancel,
		ledger:      resources.NewLedger(totals),
		policy:      scheduling.DefaultPolicy(rand.Intn),
		resErr:      resErr,
		workers:     map[ids.UniqueID]*worker{},
		spawning:    map[ids.UniqueID]bool{},
		ready:       newReadyQueue(),
		waitingDeps: map[ids.ObjectID][]*task{},
		pending:     map[ids.ObjectID]*task{},
		subscribers: map[ids.ObjectID][]*client{},
		refs:        map[ids.ObjectID]*objectRefs{},
		shmObjs:     map[ids.ObjectID]*shmObject{},
		clients:     map[*client]bool{},
		actors:      map[ids.ActorID]*actor{},
		named:       map[actorKey]*actor{},
	}
	r.spawned = sync.NewCond(&r.mu)
	local := scheduling.NodeID(r.nodeID.Hex())
	r.view = scheduling.View{Local: local, Nodes: []scheduling.Node{{ID: local, Total: totals, Available: totals, Alive: true}}}
	r.starts.maxConcurrent = maxStartupConcurrency()
	return r
}

// NodeID is this node's id.
func (r *Raylet) NodeID() ids.UniqueID { return r.nodeID }

// Resources returns the node's total resources.
func (r *Raylet) Resources() map[string]float64 {
	return r.ledger.Total().Map()
}

// poolSize is the number of workers kept: one per whole CPU, at least one.
func (r *Raylet) poolSize() int {
	n := int(math.Floor(r.ledger.Total().Get(resources.CPU).Float()))
	if n < 1 {
		n = 1
	}
	return n
}

// Start listens on the socket and prestarts the worker pool.
func (r *Raylet) Start() error {
	if r.resErr != nil {
		return r.resErr
	}
	_ = os.Remove(r.cfg.SocketPath)
	lis, err := peercred.Listen(r.cfg.SocketPath)
	if err != nil {
		return fmt.Errorf("node manager: listen on %s: %w", r.cfg.SocketPath, err)
	}
	r.listener = lis
	r.initShm()
	r.grpcServer = grpc.NewServer(grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32),
		// A fixed window turns off grpc-go's bandwidth-estimating pings (a cost on every small message).
		grpc.InitialWindowSize(64<<20), grpc.InitialConnWindowSize(64<<20))
	pb.RegisterNodeManagerServer(r.grpcServer, r)
	r.serveDone = make(chan struct{})
	go func() {
		defer close(r.serveDone)
		if err := r.grpcServer.Serve(lis); err != nil {
			glog.Errorf("node manager stopped serving: %v", err)
		}
	}()
	glog.Infof("node manager %s listening on %s with resources %v", r.nodeID.Hex(), r.cfg.SocketPath, r.ledger.Total())
	r.mu.Lock()
	// The pool is prestarted in the background, at most maxConcurrent processes at a time; the
	// rest of it starts when tasks wait for workers.
	r.starts.prestart = r.poolSize()
	if r.starts.prestart > r.starts.maxConcurrent {
		r.starts.prestart = r.starts.maxConcurrent
	}
	r.startProcesses(0)
	r.mu.Unlock()
	return nil
}

// Stop ends every stream, stops every worker process and waits for them.
func (r *Raylet) Stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	r.spawned.Broadcast() // registrations waiting for their spawner give up
	if r.creates.timer != nil {
		r.creates.timer.Stop()
	}
	var procs []*worker
	for _, w := range r.workers {
		procs = append(procs, w)
		if w.registerTimer != nil {
			w.registerTimer.Stop()
		}
	}
	r.mu.Unlock()
	r.cancel()
	if r.grpcServer != nil {
		r.grpcServer.Stop()
		<-r.serveDone
	}
	// Workers exit by themselves when their stream ends; those that do not are killed.
	deadline := time.Now().Add(500 * time.Millisecond)
	for _, w := range procs {
		for time.Now().Before(deadline) && !r.exited(w) {
			time.Sleep(5 * time.Millisecond)
		}
		if !r.exited(w) {
			_ = w.cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	r.wg.Wait()
	r.closeShm()
	_ = os.Remove(r.cfg.SocketPath)
	glog.Infof("node manager %s stopped", r.nodeID.Hex())
}

func (r *Raylet) exited(w *worker) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return w.exited
}

// startWorkers spawns n pool workers; the caller has already counted them in r.starting.
func (r *Raylet) startWorkers(n int) {
	for i := 0; i < n; i++ {
		w, err := r.spawnWorker()
		r.mu.Lock()
		r.starting--
		if err != nil {
			glog.Errorf("cannot start a worker: %v", err)
			r.startFailed(err.Error())
			r.schedule()
			r.mu.Unlock()
			continue
		}
		if r.stopped {
			r.spawnDoneLocked(w.id)
			r.mu.Unlock()
			_ = w.cmd.Process.Signal(syscall.SIGKILL)
			_ = w.cmd.Wait()
			continue
		}
		r.workers[w.id] = w
		r.watchRegistration(w)
		r.spawnDoneLocked(w.id)
		r.mu.Unlock()
		glog.Infof("started %s: %s", w, strings.Join(r.cfg.WorkerCommand, " "))
		r.wg.Add(1)
		go r.reap(w)
	}
}

// reap waits for a worker process to end and deals with what it left. The process's stderr is
// read before the node's lock is taken, and its log files are pruned after it is released.
func (r *Raylet) reap(w *worker) {
	defer r.wg.Done()
	end := exitOf(w, w.cmd.Wait())
	r.mu.Lock()
	prune := r.workerEnded(w, end)
	r.mu.Unlock()
	removeWorkerLogs(prune)
}

// workerEnded deals with the end of a worker process: the task it ran is retried or failed, its
// queued tasks go back to the queue, an actor restarts or dies. It returns the log files of dead
// workers to remove. Called with r.mu held.
func (r *Raylet) workerEnded(w *worker, end exit) []logFiles {
	w.exited = true
	if w.registerTimer != nil {
		w.registerTimer.Stop()
	}
	delete(r.workers, w.id)
	r.removeIdle(w)
	if r.stopped {
		return nil
	}
	glog.Warningf("%s %s", w, end.status)
	prune := r.keepWorkerLogs(w, end)
	if w.client == nil && !w.killedByNode {
		how := "before connecting to the node"
		if w.registerTimedOut {
			how = fmt.Sprintf("after it did not connect to the node within %v", registerTimeout())
		}
		r.startFailed(fmt.Sprintf("%s %s %s. Last lines of its stderr (%s):\n%s",
			w, end.status, how, w.stderrPath, end.excerpt))
	}
	if w.actor != nil {
		r.actorProcessDied(w, end)
		r.schedule()
		return prune
	}
	for i := len(w.queued) - 1; i >= 0; i-- {
		r.ready.pushFront(w.queued[i]) // never started: back to the queue, no retry used
	}
	w.queued = nil
	if t := w.task; t != nil {
		w.task = nil
		r.release(t)
		if w.blocked {
			r.blocked--
		}
		if t.retriesLeft > 0 {
			t.retriesLeft--
			r.unpinTaskArgs(t) // pinned again when it runs
			glog.Warningf("retrying task %s (%s) after its worker died; %d retries left", t.spec.FunctionName, t.returnID.Hex()[:12], t.retriesLeft)
			r.ready.pushFront(t)
		} else {
			msg := fmt.Sprintf("The worker process that ran %s died: %s %s while executing the task (function %s). Last lines of its stderr (%s):\n%s",
				taskLabel(t), w, end.status, t.spec.FunctionName, w.stderrPath, end.excerpt)
			r.finish(t, &objstore.Object{Kind: objstore.KindWorkerDied, Data: []byte(msg)})
		}
	}
	r.schedule()
	return prune
}

func taskLabel(t *task) string {
	if t.isCreation {
		return "actor factory " + t.spec.FunctionName
	}
	if t.spec.Name != "" {
		return fmt.Sprintf("task %q", t.spec.Name)
	}
	return "task " + t.spec.FunctionName
}

func (r *Raylet) isIdle(w *worker) bool {
	for _, x := range r.idle {
		if x == w {
			return true
		}
	}
	return false
}

func (r *Raylet) removeIdle(w *worker) {
	for i, x := range r.idle {
		if x == w {
			r.idle = append(r.idle[:i], r.idle[i+1:]...)
			return
		}
	}
}

// submit accepts a task from a client. Called with r.mu held.
func (r *Raylet) submit(spec *pb.TaskSpec) {
	if spec.TaskType == taskActorMethod {
		r.actorCall(spec)
		return
	}
	returnID, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		glog.Errorf("dropping a task with a bad return id: %v", err)
		return
	}
	t := &task{spec: spec, returnID: returnID, retriesLeft: int(spec.MaxRetries)}
	if spec.MaxRetries < 0 {
		t.retriesLeft = DefaultMaxRetries
	}
	r.pending[returnID] = t
	r.holdTaskRefs(t)
	if err := r.validate(t); err != nil {
		r.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())})
		return
	}
	if r.trackDeps(t) && t.missing == 0 {
		r.argsReady(t)
	}
}

// Task types of TaskSpec.task_type (ray_task_type in c_api.h).
const (
	taskActorMethod = 2
)

// trackDeps counts the task's ObjectRef arguments not yet available (not in the store, or
// spilled to disk) and waits for them; it fails the task and reports false when one of them is
// unknown, before waiting for any. Called with r.mu held.
func (r *Raylet) trackDeps(t *task) bool {
	deps := make([]ids.ObjectID, 0, len(t.spec.Args))
	for _, a := range t.spec.Args {
		if !a.IsRef {
			continue
		}
		dep, err := ids.ObjectIDFromBytes(a.ObjectId)
		if err != nil {
			r.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("invalid argument of %s: %v", taskLabel(t), err))})
			return false
		}
		_, stored := r.store.Get(dep)
		if _, pending := r.pending[dep]; !stored && !pending {
			msg := actorrule.UnknownArgument(taskLabel(t), dep.Hex())
			if t.isCreation {
				r.actorDied(t.actor, actorrule.FactoryArgumentFailed(msg), false)
			} else {
				r.finish(t, &objstore.Object{Kind: objstore.KindLost, Data: []byte(msg)})
			}
			return false
		}
		deps = append(deps, dep)
	}
	for _, dep := range deps {
		obj, ok := r.store.Get(dep)
		if !ok {
			t.missing++
			r.waitingDeps[dep] = append(r.waitingDeps[dep], t)
			continue
		}
		if so := r.shmObjs[dep]; obj.InShm && so != nil && so.spillPath != "" {
			// Spilled: the task waits for it to be read back (outside the lock).
			t.missing++
			dep := dep
			r.whenReadable(nil, dep, func(_ *shmObject, data []byte, _ error) {
				if data != nil {
					if t.spilledArgs == nil {
						t.spilledArgs = map[ids.ObjectID][]byte{}
					}
					t.spilledArgs[dep] = data
				}
				r.depArrived(t)
			})
		}
	}
	return true
}

// validate checks a task's fields and resources, filling in the default of one CPU.
func (r *Raylet) validate(t *task) error {
	spec := t.spec
	if spec.FunctionName == "" {
		return errors.New("invalid task: no function name")
	}
	demand, err := taskDemand(spec.Resources)
	if err != nil {
		return fmt.Errorf("invalid task %s: %w", spec.FunctionName, err)
	}
	t.demand = demand
	for _, a := range spec.Args {
		if a.IsRef {
			if _, err := ids.ObjectIDFromBytes(a.ObjectId); err != nil {
				return fmt.Errorf("invalid task %s: argument %v", spec.FunctionName, err)
			}
		}
	}
	return nil
}

// failedArg is the error object of the task's first failed argument, if any.
func (r *Raylet) failedArg(t *task) *objstore.Object {
	for _, a := range t.spec.Args {
		if !a.IsRef {
			continue
		}
		dep, _ := ids.ObjectIDFromBytes(a.ObjectId)
		if obj, ok := r.store.Get(dep); ok && obj.IsError() {
			return obj
		}
	}
	return nil
}

// argsReady moves a task whose arguments all exist on: a normal task to the ready queue (or to
// its failure when an argument failed), an actor's creation to its start, a call to its actor.
// Called with r.mu held.
func (r *Raylet) argsReady(t *task) {
	if t.actor != nil {
		if !t.isCreation {
			r.dispatchActor(t.actor)
			return
		}
		if errObj := r.failedArg(t); errObj != nil {
			r.actorDied(t.actor, actorrule.FactoryArgumentFailed(string(errObj.Data)), false)
			return
		}
		r.creationReady(t.actor)
		return
	}
	if errObj := r.failedArg(t); errObj != nil {
		r.finish(t, errObj)
		return
	}
	r.ready.push(t)
	r.schedule()
}

// oneCPU is the demand of a task that names no resources (Ray's default for tasks).
var oneCPU, _ = resources.NewSet(map[string]float64{resources.CPU: 1}, resources.Demand)

// taskDemand is a task's demand: its resources, validated once, with one CPU unless it names a
// CPU quantity.
func taskDemand(res map[string]float64) (resources.Set, error) {
	if len(res) == 0 {
		return oneCPU, nil
	}
	if _, ok := res[resources.CPU]; !ok {
		withCPU := make(map[string]float64, len(res)+1)
		for k, v := range res {
			withCPU[k] = v
		}
		withCPU[resources.CPU] = 1
		res = withCPU
	}
	return resources.NewSet(res, resources.Demand)
}

// schedule hands ready tasks to idle workers while resources allow, and starts workers when
// runnable tasks wait for one. Called with r.mu held.
func (r *Raylet) schedule() {
	if r.stopped {
		return
	}
	if len(r.pendingActors) > 0 {
		r.startPendingActors()
	}
	feasibleWaiting := false // tasks wait that this node can run at all
	for _, c := range r.ready.order {
		if len(c.tasks) == 0 {
			continue
		}
		d := r.place(c.demand)
		if d.Status == scheduling.Infeasible {
			if !c.infeasible {
				c.infeasible = true
				glog.Warningf("%s needs %v but this node has %v in total: it stays pending until a node that has them joins", taskLabel(c.tasks[0]), c.demand, r.ledger.Total())
			}
			continue
		}
		// Run here while there is room and a worker; a task the policy places elsewhere (or
		// nowhere yet) waits in the queue.
		for d.Status == scheduling.Run && d.Local && len(c.tasks) > 0 && len(r.idle) > 0 && r.ledger.Fits(c.demand) {
			w := r.idle[0]
			r.idle = r.idle[1:]
			r.dispatch(w, c.pop())
		}
		feasibleWaiting = feasibleWaiting || len(c.tasks) > 0
	}
	// Tasks that wait (for a worker, or for resources busy workers hold) queue on busy workers of
	// their class, which run them next with the resources of the task they finish.
	if feasibleWaiting && r.starting == 0 && r.poolProcesses() >= r.poolSize()+r.blocked {
		r.pipeline()
	}
	// What still waits with resources free needs another worker.
	if runnable := r.runnableWaiting(); runnable > 0 || r.starts.prestart > 0 || len(r.starts.actors) > 0 {
		r.startProcesses(runnable)
	}
	r.ready.prune()
}

// place asks the scheduling policy where work with this demand runs, over the cluster this node
// sees. Called with r.mu held.
func (r *Raylet) place(demand resources.Set) scheduling.Decision {
	if v := r.ledger.Version(); v != r.viewVersion {
		r.view.Nodes[0].Available = r.ledger.Available()
		r.viewVersion = v
	}
	return r.policy.Schedule(scheduling.Request{Demand: demand}, r.view, "")
}

// runnableWaiting counts the ready tasks this node could run now if it had workers for them.
// Called with r.mu held.
func (r *Raylet) runnableWaiting() int {
	n := 0
	for _, c := range r.ready.order {
		if len(c.tasks) > 0 && !c.infeasible && r.ledger.Fits(c.demand) {
			n += len(c.tasks)
		}
	}
	return n
}

// dispatch sends t to w. Called with r.mu held.
func (r *Raylet) dispatch(w *worker, t *task) {
	if w.task != nil {
		w.queued = append(w.queued, t) // pipelined: runs when the worker's task is done
	} else {
		t.alloc = r.ledger.AllocateAnyway(t.demand) // the caller checked that it fits
		w.task = t
	}
	w.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Execute{Execute: &pb.ExecuteTask{Spec: r.resolvedSpec(t)}}})
}

// resolvedSpec is the task as a worker gets it: ObjectRef arguments replaced by their values.
// Called with r.mu held.
func (r *Raylet) resolvedSpec(t *task) *pb.TaskSpec {
	spec := &pb.TaskSpec{
		TaskId:       t.spec.TaskId,
		FunctionName: t.spec.FunctionName,
		Name:         t.spec.Name,
		Resources:    t.spec.Resources,
		ReturnId:     t.spec.ReturnId,
		MaxRetries:   t.spec.MaxRetries,
		CallerId:     t.spec.CallerId,
		TaskType:     t.spec.TaskType,
		ActorId:      t.spec.ActorId,
		ClassName:    t.spec.ClassName,
		Args:         make([]*pb.TaskArg, len(t.spec.Args)),
	}
	for i, a := range t.spec.Args {
		if !a.IsRef {
			spec.Args[i] = a
			continue
		}
		dep, _ := ids.ObjectIDFromBytes(a.ObjectId)
		obj, _ := r.store.Get(dep)
		spec.Args[i] = r.argForTask(t, dep, obj)
	}
	return spec
}

// release gives back what a task holds (less the CPU its blocked worker lent already).
// Called with r.mu held.
func (r *Raylet) release(t *task) {
	r.ledger.Release(t.alloc)
	t.alloc = nil
}

// finish stores a task's result and wakes whoever waits for it. Called with r.mu held.
func (r *Raylet) finish(t *task, obj *objstore.Object) {
	delete(r.pending, t.returnID)
	r.putObject(t.returnID, obj)
	r.unpinTaskArgs(t)
	r.releaseTaskRefs(t)
}

// putObject stores an object, sends it to subscribers and readies tasks waiting for it.
// Called with r.mu held.
func (r *Raylet) putObject(id ids.ObjectID, obj *objstore.Object) {
	if !r.store.Put(id, obj) {
		return
	}
	r.hold(obj.Contained)
	if subs := r.subscribers[id]; len(subs) > 0 {
		delete(r.subscribers, id)
		for _, c := range subs {
			r.sendObjectTo(c, id, obj)
		}
	}
	if waiting := r.waitingDeps[id]; len(waiting) > 0 {
		delete(r.waitingDeps, id)
		for _, t := range waiting {
			r.depArrived(t)
		}
	}
	r.maybeFree(id) // nothing refers to it any more (its caller dropped the ref before it was made)
}

// depArrived counts one argument of t as available, and moves t on when it was the last.
// Called with r.mu held.
func (r *Raylet) depArrived(t *task) {
	t.missing--
	if t.missing == 0 {
		r.argsReady(t)
	}
}

// objectFreed releases what a freed object kept. Called with r.mu held.
func (r *Raylet) objectFreed(id ids.ObjectID, obj *objstore.Object) {
	if obj.InShm {
		r.shmFreed(id)
	}
}

// pipelineDepth is how many tasks may wait on a busy worker behind the one it runs.
const pipelineDepth = 64

// pipeline queues ready tasks on busy workers that run a task of the same class, least loaded
// first, so a worker goes from one task to the next without a round trip to the node. A worker
// hands its queue back when its task blocks in Get or when another worker goes idle. Called with
// r.mu held, with the pool at full size.
func (r *Raylet) pipeline() {
	for _, w := range r.workers {
		if w.client == nil && w.actor == nil {
			return // a pool worker is still connecting: it will take tasks itself
		}
	}
	for _, c := range r.ready.order {
		if len(c.tasks) == 0 || c.infeasible {
			continue
		}
		for len(c.tasks) > 0 {
			var best *worker
			for _, w := range r.workers {
				if w.client == nil || w.actor != nil || w.task == nil || w.blocked || w.reclaiming ||
					!sameClass(w.task.class, c) || len(w.queued) >= pipelineDepth {
					continue
				}
				if best == nil || len(w.queued) < len(best.queued) {
					best = w
				}
			}
			if best == nil || r.argsInArena(c.tasks[0]) {
				break // a task with shared-memory arguments waits for an idle worker (see shmstore.go)
			}
			r.dispatch(best, c.pop())
		}
	}
}

// argsInArena tells whether one of t's arguments is in the shared-memory store: such a task pins
// its arguments while it runs, so it is never queued behind a busy worker. Called with r.mu held.
func (r *Raylet) argsInArena(t *task) bool {
	for _, a := range t.spec.Args {
		if !a.IsRef {
			continue
		}
		dep, _ := ids.ObjectIDFromBytes(a.ObjectId)
		if obj, ok := r.store.Get(dep); ok && obj.InShm {
			return true
		}
	}
	return false
}

// reclaimFor asks the most loaded worker to hand back its queued tasks, for an idle worker.
// Called with r.mu held.
func (r *Raylet) reclaimFor(idle *worker) {
	var most *worker
	for _, w := range r.workers {
		if w != idle && !w.reclaiming && len(w.queued) > 0 && (most == nil || len(w.queued) > len(most.queued)) {
			most = w
		}
	}
	if most != nil {
		most.reclaiming = true
		most.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Reclaim{Reclaim: &pb.Reclaim{}}})
	}
}

// returned puts tasks a worker handed back at the head of the ready queue. Called with r.mu held.
func (r *Raylet) returned(w *worker, returnIDs [][]byte) {
	w.reclaiming = false
	back := map[string]bool{}
	for _, id := range returnIDs {
		back[string(id)] = true
	}
	var requeue []*task
	if t := w.task; t != nil && back[string(t.spec.ReturnId)] {
		// The node had moved the worker on to this task (its previous one was done), but the
		// worker handed it back before starting it: the worker is idle.
		r.release(t)
		if w.blocked {
			w.blocked = false
			r.blocked--
		}
		w.task = nil
		r.unpinTaskArgs(t) // pinned again when it runs
		requeue = append(requeue, t)
	}
	keep := w.queued[:0]
	for _, t := range w.queued {
		if back[string(t.spec.ReturnId)] {
			requeue = append(requeue, t)
		} else {
			keep = append(keep, t)
		}
	}
	w.queued = keep
	for i := len(requeue) - 1; i >= 0; i-- {
		r.ready.pushFront(requeue[i])
	}
	if w.task == nil && len(w.queued) == 0 && !w.exited && !r.isIdle(w) {
		r.idle = append(r.idle, w)
	}
	r.schedule()
}

// Stats is a snapshot of the node's state, for tests and status output.
type Stats struct {
	Workers, IdleWorkers, ReadyTasks, PendingTasks, Objects int
	Available                                               map[string]float64
}

// Stats returns a snapshot of the node's state.
func (r *Raylet) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	avail := r.ledger.Total().Map()
	free := r.ledger.Available()
	for k := range avail {
		avail[k] = free.Get(k).Float()
	}
	return Stats{Workers: len(r.workers), IdleWorkers: len(r.idle), ReadyTasks: r.ready.len(), PendingTasks: len(r.pending), Objects: r.store.Len(), Available: avail}
}

// WorkerPIDs lists the process ids of the node's live workers, sorted.
func (r *Raylet) WorkerPIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pids []int
	for _, w := range r.workers {
		pids = append(pids, w.pid)
	}
	sort.Ints(pids)
	return pids
}
