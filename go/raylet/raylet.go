package raylet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"

	"goray/actorrule"
	"goray/ids"
	"goray/metrics"
	"goray/objstore"
	"goray/objxfer"
	"goray/placement"
	"goray/resources"
	"goray/rpc/peercred"
	pb "goray/rpc/proto"
	"goray/scheduling"
	"goray/shm"
	"goray/taskretry"
)

// DefaultMaxRetries is how often a task is retried when its worker dies, when its max_retries is
// the default (its submitter resolves that; this is for clients that do not).
const DefaultMaxRetries = taskretry.RayDefault

// Config says how to run a node.
type Config struct {
	SessionDir string
	LogsDir    string
	SocketPath string
	Resources  map[string]float64 // totals; "CPU" sets the worker pool size
	// GPUNames are the names of the node's GPUs, by index, as workers' CUDA_VISIBLE_DEVICES
	// shows them (nil: their indexes); NoSetVisibleDevices leaves CUDA_VISIBLE_DEVICES alone
	// (Ray's RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES). See DevicesFromEnv.
	GPUNames            []string
	NoSetVisibleDevices bool
	// Metrics takes the users' metrics the node's processes record (nil: they are dropped).
	Metrics        *metrics.Registry
	WorkerCommand  []string // argv of a worker process
	CodeSearchPath []string
	DriverExe      string
	Namespace      string
	// ObjectStoreMemory is the size of the shared-memory object store, in bytes, at ArenaPath;
	// spilled objects go to SpillDir. Without them values travel in messages only.
	ObjectStoreMemory int64
	ArenaPath         string
	SpillDir          string
	// PeerListen (host:port) makes the node one of a cluster: it serves other nodes there
	// (service NodePeer) and forwards tasks to them; Token closes that service.
	PeerListen string
	// DataListen (host:port) is where the node serves the bytes of its objects to other nodes
	// (package objxfer); "": PeerListen's host, any free port.
	DataListen string
	Token      string
	// GCS is the cluster's control store (named actors' names); nil on an embedded node.
	GCS pb.ControlStoreClient
	// ControlStore is the control store the node registered with, in every mode (GCS is nil on
	// an embedded node): where it fetches runtime environments' working_dir packages from (its
	// code store) and lists the cluster's nodes for its clients. nil: neither can be done.
	ControlStore pb.ControlStoreClient
}

// task is a task the node has accepted and not finished.
type task struct {
	spec        *pb.TaskSpec
	job         *job // whose code runs it
	returnID    ids.ObjectID
	demand      resources.Set         // what it needs to run (one CPU unless it says otherwise)
	alloc       *resources.Allocation // what it holds while it runs
	retriesLeft int                   // (taskretry.Unlimited: no limit)
	attempts    int                   // runs started (with those before it came here: TaskSpec.attempts)
	missing     int                   // ObjectRef arguments not yet in the store
	infeasible  bool
	actor       *actor // the actor whose creation it is (the node runs no actor calls)
	isCreation  bool
	class       *schedClass
	heldRefs    []ids.ObjectID // objects its arguments refer to, held until it is done
	deps        []ids.ObjectID // its ObjectRef arguments, in order (set by trackDeps)
	pinned      []ids.ObjectID // its shared-memory arguments, kept in place until it is done
	// spilledArgs holds arguments read back from disk into memory (the arena had no room for
	// them): they travel in the task's message while they stay spilled.
	spilledArgs map[ids.ObjectID][]byte
	// preferLocal: another node forwarded it here; it runs here whenever this node can run it.
	preferLocal bool
	// runAlone: it may have killed its last worker (see TaskSpec.run_alone): it is never queued
	// on a busy worker, nor is anything queued behind it.
	runAlone bool
	// remote is the node the task was forwarded to (nil: none), since forwardedAt (see
	// applyForwarded).
	remote      *remoteNode
	forwardedAt time.Time
	// keptAt is the node that keeps its result (see lineage.go; nil: none), keptSeq its order
	// among kept results; keptLost says why that copy is lost ("": it is there); fetching: a pull
	// of it is under way. lineageSize is the size of its spec, kept to make it again, unless
	// lineageDropped.
	keptAt         *remoteNode
	keptGen        uint64 // the gen of the link it was kept through
	keptSeq        uint64
	keptLost       string
	fetching       bool
	lineageSize    int64
	lineageDropped bool
}

// Raylet is a running node manager.
type Raylet struct {
	pb.UnimplementedNodeManagerServer
	// state is the node's decisions (see state.go): touched only with mu held, through do.
	state

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	grpcServer *grpc.Server
	listener   net.Listener
	serveDone  chan struct{}

	mu sync.Mutex
	// spawning holds the ids of worker processes being started: their registration may arrive
	// before the spawner records them in workers, and then waits on spawned.
	spawning map[ids.UniqueID]bool
	spawned  *sync.Cond           // broadcast (with mu) when a spawn is recorded or abandoned
	arena    *shm.Arena           // the shared-memory object store's mapping (see shmstore.go)
	timers   map[*time.Timer]bool // timers the state asked for, stopped by Stop

	// The cluster (see peer.go): the peer service, the node's own client, links to other nodes.
	peerServer  *grpc.Server
	peerAddr    string
	peerDone    chan struct{}
	xfer        *objxfer.Server // the data path: big ranges of the objects others pull from here
	xferTLS     *tls.Config     // the client TLS config of fetches from others (nil: plain TCP)
	local       *localClient
	linksMu     sync.Mutex // guards links, peerConns and peerStopped
	links       map[scheduling.NodeID]*link
	linkGen     atomic.Uint64 // the last link's gen
	peerConns   map[string]*grpc.ClientConn
	peerStopped bool
	dialMu      sync.Mutex // serializes the opening of links
	pullMu      sync.Mutex // guards pulls
	pulls       map[ids.ObjectID]*pull
	codeState               // the code of jobs other nodes forward work of (jobcode.go)
	envSetups               // the working_dir packages unpacked here (envsetup.go)
	groupWriter groupWriter // placement groups' records on their way to the control store
}

// New makes a node manager; Start runs it.
func New(cfg Config) *Raylet {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Raylet{
		state:    newState(cfg, ids.NewUniqueID()),
		ctx:      ctx,
		cancel:   cancel,
		spawning: map[ids.UniqueID]bool{},
		timers:   map[*time.Timer]bool{},
	}
	r.spawned = sync.NewCond(&r.mu)
	return r
}

// NodeID is this node's id.
func (r *Raylet) NodeID() ids.UniqueID { return r.nodeID }

// Resources returns the node's total resources.
func (r *Raylet) Resources() map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ledger.Total().Map()
}

// poolSize is the number of workers kept: one per whole CPU, at least one.
func (s *state) poolSize() int {
	n := int(math.Floor(s.ledger.Total().Get(resources.CPU).Float()))
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
	r.grpcServer = grpc.NewServer(append(r.cfg.Metrics.RPCServerOptions(),
		grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32),
		// A fixed window turns off grpc-go's bandwidth-estimating pings (a cost on every small message).
		grpc.InitialWindowSize(64<<20), grpc.InitialConnWindowSize(64<<20))...)
	pb.RegisterNodeManagerServer(r.grpcServer, r)
	r.serveDone = make(chan struct{})
	go func() {
		defer close(r.serveDone)
		if err := r.grpcServer.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) { // (stopped before it served: a quick Stop)
			glog.Errorf("node manager stopped serving: %v", err)
		}
	}()
	glog.Infof("node manager %s listening on %s with resources %v", r.nodeID.Hex(), r.cfg.SocketPath, r.ledger.Total())
	if r.cfg.PeerListen != "" {
		if err := r.startPeer(); err != nil {
			r.Stop()
			return err
		}
	}
	r.do(func(s *state) { s.started() })
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
	var procs []*worker
	for _, w := range r.workers {
		procs = append(procs, w)
	}
	for t := range r.timers {
		t.Stop()
		delete(r.timers, t)
	}
	r.mu.Unlock()
	r.stopPeer()
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

// workerEnded is the event of a worker process's end: the task it ran is retried or failed, its
// queued tasks go back to the queue, an actor restarts or dies, and the log files of dead workers
// beyond those kept are pruned.
func (s *state) workerEnded(w *worker, end exit) {
	w.exited = true
	delete(s.workers, w.id)
	s.removeIdle(w)
	if s.stopped {
		return
	}
	if w.lease != nil {
		s.ledger.Release(w.lease) // its caller sees its stream break
		w.lease = nil
		if w.blocked {
			w.blocked = false
			s.blocked--
		}
	}
	glog.Warningf("%s %s", w, end.status)
	s.eff.prune = append(s.eff.prune, s.keepWorkerLogs(w, end)...)
	if w.client == nil && !w.killedByNode {
		how := "before connecting to the node"
		if w.registerTimedOut {
			how = fmt.Sprintf("after it did not connect to the node within %v", registerTimeout())
		}
		s.startFailed(fmt.Sprintf("%s %s %s. Last lines of its stderr (%s):\n%s",
			w, end.status, how, w.stderrPath, end.excerpt))
	}
	if w.actor != nil {
		s.actorProcessDied(w, end)
		s.schedule()
		return
	}
	// With tasks queued behind the running one, the death may be the next task's: the worker may
	// have finished its task and started the next, and the result died with it (unsent). Then
	// neither uses a retry, and both run again alone, where a death is surely their own.
	ambiguous := w.task != nil && len(w.queued) > 0
	if w.killCause != "" {
		for _, t := range w.queued { // (of the same class: work of the same removed group)
			s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("%s cannot run: %s", taskLabel(t), w.killCause))})
		}
		w.queued = nil
	}
	for i := len(w.queued) - 1; i >= 0; i-- {
		if i == 0 && ambiguous {
			w.queued[0].runAlone = true
		}
		s.ready.pushFront(w.queued[i]) // never started (or see ambiguous): back to the queue, no retry used
	}
	w.queued = nil
	if t := w.task; t != nil {
		w.task = nil
		s.taskDiedWith(w, t) // (its run tells the state API, which its worker could not)
		s.release(t)
		if w.blocked {
			s.blocked--
		}
		if w.killCause != "" {
			s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("%s was killed: %s", taskLabel(t), w.killCause))})
		} else if ambiguous {
			t.runAlone = true
			s.unpinTaskArgs(t) // pinned again when it runs
			glog.Warningf("running task %s (%s) again alone: its worker died with another task queued behind it, which may have been running", t.spec.FunctionName, t.returnID.Hex()[:12])
			s.ready.pushFront(t)
		} else if taskretry.Take(&t.retriesLeft) {
			s.unpinTaskArgs(t) // pinned again when it runs
			glog.Warningf("retrying task %s (%s) after its worker died; %s", t.spec.FunctionName, t.returnID.Hex()[:12], taskretry.Describe(t.retriesLeft))
			s.ready.pushFront(t)
		} else {
			msg := fmt.Sprintf("The worker process that ran %s died: %s %s while executing the task (function %s)%s. Last lines of its stderr (%s):\n%s",
				taskLabel(t), w, end.status, t.spec.FunctionName, taskretry.Attempts(t.attempts), w.stderrPath, end.excerpt)
			s.finish(t, &objstore.Object{Kind: objstore.KindWorkerDied, Data: []byte(msg)})
		}
	}
	s.schedule()
}

func taskLabel(t *task) string {
	return actorrule.TaskLabel(t.spec.FunctionName, t.spec.Name, t.isCreation)
}

func (s *state) isIdle(w *worker) bool {
	for _, x := range s.idle {
		if x == w {
			return true
		}
	}
	return false
}

func (s *state) removeIdle(w *worker) {
	for i, x := range s.idle {
		if x == w {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			return
		}
	}
}

// submit accepts a task of job j from a client. Called with r.mu held.
func (s *state) submit(j *job, spec *pb.TaskSpec, forwarded bool) {
	returnID, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		glog.Errorf("dropping a task with a bad return id: %v", err)
		return
	}
	if old := s.pending[returnID]; old != nil && forwarded {
		s.forwardedAgain(old, spec)
		return
	}
	t := &task{spec: spec, job: j, returnID: returnID, retriesLeft: taskretry.Resolve(spec.MaxRetries, DefaultMaxRetries),
		preferLocal: forwarded, runAlone: spec.RunAlone, attempts: int(spec.Attempts)}
	s.pending[returnID] = t
	s.holdTaskRefs(t)
	envJob, envErr := s.envJob(j, spec.RuntimeEnv)
	if envErr == nil {
		t.job = envJob
	}
	if err := s.validate(t); err != nil || envErr != nil {
		if err == nil {
			err = fmt.Errorf("%s cannot run: %w", taskLabel(t), envErr)
		}
		s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())})
		return
	}
	if s.trackDeps(t) && t.missing == 0 {
		s.argsReady(t)
	}
}

// forwardedAgain is the event of a forwarded task coming (spec) while its copy here (old) is
// pending: the node that forwarded it lost its link to this node, took the copy here for lost
// and used a retry of its own (remoteLost); or the task went round, from this node to others
// and back. A copy that is here runs on, charged for the deaths of its workers here, and its
// result answers the new submission too (the new link subscribes to it). A second copy would run
// with the forwarding node's count of retries, as if those deaths had not happened (and the two
// copies, one class, could be queued on one worker, where a death is charged to neither: see
// workerEnded).
//
// A copy this node sent on to another node is taken back and placed again (avoiding the nodes
// the task came through): the copy there may be the one that came back, waiting for this one,
// and only a node that stops waiting when the task reaches it keeps a loop of nodes from
// closing. It keeps the fewer retries and the more attempts of the two copies. When the copy
// there did not come back (the forwarding node lost its link), it may run there too: the task
// then runs twice, and the first result counts. Called with r.mu held.
func (s *state) forwardedAgain(old *task, spec *pb.TaskSpec) {
	old.runAlone = old.runAlone || spec.RunAlone
	old.spec.ForwardedBy = mergePaths(old.spec.ForwardedBy, spec.ForwardedBy)
	r := old.remote
	if r == nil {
		glog.Warningf("task %s (%s) was forwarded here again: its copy here goes on (%d attempts so far; %s)",
			spec.FunctionName, old.returnID.Hex()[:12], old.attempts, taskretry.Describe(old.retriesLeft))
		return
	}
	glog.Warningf("task %s (%s) was forwarded here again (through %s) while this node's copy was on %s: the copy is taken back and placed again",
		spec.FunctionName, old.returnID.Hex()[:12], strings.Join(spec.ForwardedBy, ", "), r)
	r.untrack(old) // (its demand stays charged to r until r's next report: sent back, it should not look free)
	old.attempts-- // (forward counted the run there)
	if int(spec.Attempts) > old.attempts {
		old.attempts = int(spec.Attempts)
	}
	old.retriesLeft = taskretry.Fewer(old.retriesLeft, taskretry.Resolve(spec.MaxRetries, DefaultMaxRetries))
	old.class = nil // (its class names the nodes it came through)
	s.ready.pushFront(old)
	s.schedule()
}

// mergePaths is the nodes of a (in order) followed by those of b not in a.
func mergePaths(a, b []string) []string {
	out := append([]string(nil), a...)
next:
	for _, id := range b {
		for _, x := range out {
			if x == id {
				continue next
			}
		}
		out = append(out, id)
	}
	return out
}

// Task types of TaskSpec.task_type (ray_task_type in c_api.h).
const (
	taskActorMethod = 2
)

// errActorCallToNode is the error an actor call sent to the node ends with.
const errActorCallToNode = "actor calls go straight to the actor's process (CoreWorker.ActorCalls); the node manager does not run them"

// refuseActorCall deals with an actor method call submitted to the node, which no longer runs
// them: its return object is an error, so that nobody waits for it for ever. It returns the
// error to log. Called with r.mu held.
func (s *state) refuseActorCall(spec *pb.TaskSpec) error {
	returnID, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		return fmt.Errorf("an actor call (with a bad return id: %v): %s", err, errActorCallToNode)
	}
	if _, pending := s.pending[returnID]; !pending {
		s.putObject(returnID, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(errActorCallToNode)})
	}
	return fmt.Errorf("actor call %s (%s): %s", spec.FunctionName, returnID.Hex()[:12], errActorCallToNode)
}

// trackDeps counts the task's ObjectRef arguments not yet available (not in the store, or
// spilled to disk) and waits for them; it fails the task and reports false when one of them is
// unknown, before waiting for any. Called with r.mu held.
func (s *state) trackDeps(t *task) bool {
	// Results kept on other nodes are pulled here, or made again, first (one that cannot be
	// made again is stored as its error here and now, before t counts what it waits for).
	if len(s.lineage.kept) > 0 {
		for _, a := range t.spec.Args {
			if dep, err := ids.ObjectIDFromBytes(a.ObjectId); a.IsRef && err == nil {
				s.want(dep)
			}
		}
	}
	deps := make([]ids.ObjectID, 0, len(t.spec.Args))
	for _, a := range t.spec.Args {
		if !a.IsRef {
			continue
		}
		dep, err := ids.ObjectIDFromBytes(a.ObjectId)
		if err != nil {
			s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("invalid argument of %s: %v", taskLabel(t), err))})
			return false
		}
		if _, stored := s.store.Get(dep); !stored && !s.comingUp(dep) {
			msg := actorrule.UnknownArgument(taskLabel(t), dep.Hex())
			if t.isCreation {
				s.actorDied(t.actor, actorrule.FactoryArgumentFailed(msg), false)
			} else {
				s.finish(t, &objstore.Object{Kind: objstore.KindLost, Data: []byte(msg)})
			}
			return false
		}
		deps = append(deps, dep)
	}
	t.deps = deps
	for _, dep := range deps {
		obj, ok := s.store.Get(dep)
		if !ok {
			t.missing++
			s.waitingDeps[dep] = append(s.waitingDeps[dep], t)
			continue
		}
		if so := s.shmObjs[dep]; obj.InShm && so != nil && so.spillPath != "" {
			s.awaitSpilled(t, dep) // read back outside the lock first
		}

	}
	return true
}

// validate checks a task's fields and resources, filling in the default of one CPU.
func (s *state) validate(t *task) error {
	spec := t.spec
	if spec.FunctionName == "" {
		return errors.New("invalid task: no function name")
	}
	demand, err := taskDemand(spec.Resources)
	if err != nil {
		return fmt.Errorf("invalid task %s: %w", spec.FunctionName, err)
	}
	t.demand = demand
	if t.isLease() && len(spec.Args) > 0 {
		return errors.New("invalid worker lease request: it has arguments")
	}
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
func (s *state) failedArg(t *task) *objstore.Object {
	for _, dep := range t.deps {
		if obj, ok := s.store.Get(dep); ok && obj.IsError() {
			return obj
		}
	}
	return nil
}

// argsReady moves a task whose arguments all exist on: a normal task to the ready queue (or to
// its failure when an argument failed), an actor's creation to its start. Called with r.mu held.
func (s *state) argsReady(t *task) {
	if t.actor != nil {
		if errObj := s.failedArg(t); errObj != nil {
			s.actorDied(t.actor, actorrule.FactoryArgumentFailed(string(errObj.Data)), false)
			return
		}
		if a := t.actor; a.state == actorStarting && a.worker != nil && a.worker.client != nil {
			s.sendCreation(a) // its process waited for a spilled argument
			return
		}
		s.creationReady(t.actor)
		return
	}
	if errObj := s.failedArg(t); errObj != nil {
		s.finish(t, errObj)
		return
	}
	s.ready.push(t)
	s.schedule()
}

// oneCPU is the demand of a task that names no resources (Ray's default for tasks).
var oneCPU, _ = resources.NewSet(map[string]float64{resources.CPU: 1}, resources.Demand)

// taskDemand is a task's demand: its resources, validated once, with one CPU unless it names a
// CPU quantity.
func taskDemand(res map[string]float64) (resources.Set, error) {
	if len(res) == 0 {
		return oneCPU, nil
	}
	if _, ok := res[resources.CPU]; !ok && !placement.InGroup(res) {
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
func (s *state) schedule() {
	if s.stopped {
		return
	}
	if len(s.pendingActors) > 0 {
		s.startPendingActors()
	}
	feasibleWaiting := false // tasks wait that this node can run at all
	for _, c := range s.ready.order {
		if len(c.tasks) == 0 {
			continue
		}
		s.placeClass(c)
		feasibleWaiting = feasibleWaiting || len(c.tasks) > 0
	}
	// Tasks that wait (for a worker, or for resources busy workers hold) queue on busy workers of
	// their class, which run them next with the resources of the task they finish.
	if feasibleWaiting && s.starting == 0 && s.poolProcesses() >= s.poolSize()+s.blocked {
		s.pipeline()
	}
	// What still waits with resources free needs another worker.
	if runnable := s.runnableWaiting(); len(runnable) > 0 || s.prestarting() || len(s.starts.actors) > 0 {
		s.startProcesses(runnable)
	}
	s.ready.prune()
}

// placeClass places the ready tasks of class c one by one, as the policy says: here while there
// is room and an idle worker of its job, on another node (forwarded) while the policy picks one
// with room (or, for node affinity, the node it names), until the rest must wait. Called with
// r.mu held.
func (s *state) placeClass(c *schedClass) {
	for len(c.tasks) > 0 {
		cursor := s.spreadCursor
		d := s.place(c.req)
		// A decision nothing comes of leaves SPREAD's round robin where it was: the task's turn
		// is still that node's.
		unplaced := func() { s.spreadCursor = cursor }
		switch d.Status {
		case scheduling.Infeasible:
			if c.lease {
				s.refuseLease(c.pop(), fmt.Sprintf("no node of the cluster has %v in total", c.demand))
				continue
			}
			if !c.infeasible {
				c.infeasible = true
				glog.Warningf("%s needs %v but no node of the cluster has that much in total (this node has %v): it stays pending until a node that has it joins", taskLabel(c.tasks[0]), c.demand, s.ledger.Total())
			}
			return
		case scheduling.Unschedulable:
			s.failClass(c, fmt.Sprintf("its node affinity (hard) names node %s, which is dead, unknown to this node, or can never fit %v", d.Node, c.demand))
			return
		}
		c.infeasible = false
		if d.Local && c.lease && !c.req.PreferLocal {
			unplaced()
			s.refuseLease(c.pop(), "the client's own node runs tasks of this shape")
			continue
		}
		if d.Local {
			if d.Status != scheduling.Run || !s.hasIdle(c.job) || !s.ledger.Fits(c.demand) {
				unplaced()
				return // it waits here for room or a worker
			}
			t := c.pop()
			if s.argsResident(t) { // (else it comes back, argsReady, once they are read back)
				s.dispatch(s.takeIdle(c.job), t)
			}
			continue
		}
		// Another node: one with room, or the one node affinity names (the task waits there).
		if d.Status == scheduling.Wait && c.req.Strategy.Kind == scheduling.Default && !c.req.PreferLocal {
			// No node has room: the task queues on the node least loaded with this node's
			// forwarded work (which runs it next, without a round trip back here), within a
			// bound.
			if r := s.queueNode(c); r != nil {
				if t := c.pop(); s.argsResident(t) {
					s.forward(r, t)
				}
				continue
			}
			unplaced()
			return
		}
		if d.Status != scheduling.Run && !(d.Status == scheduling.Wait && c.req.Strategy.Kind == scheduling.NodeAffinity) {
			unplaced()
			return
		}
		r := s.remotes[d.Node]
		if r == nil || !r.alive || c.job.id == "" {
			unplaced()
			return
		}
		t := c.pop()
		if s.argsResident(t) {
			s.forward(r, t)
		}
	}
}

// failClass fails every task of class c with a task error saying why. Called with r.mu held.
func (s *state) failClass(c *schedClass, why string) {
	failed := c.tasks
	c.tasks = nil
	for _, t := range failed {
		s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("%s cannot run: %s", taskLabel(t), why))})
	}
}

// place asks the scheduling policy where work of this request runs, over the cluster this node
// sees (a SPREAD request moves the round robin on). Called with r.mu held.
func (s *state) place(req scheduling.Request) scheduling.Decision {
	s.refreshLocalView()
	s.foldHeld()
	if len(s.unshown) > 0 {
		s.showCommitted()
	}
	d := s.policy.Schedule(req, s.view, s.spreadCursor)
	s.spreadCursor = d.Cursor
	return d
}

// refreshLocalView brings the local node's entry in the view up to its ledger. Called with r.mu
// held.
func (s *state) refreshLocalView() {
	if v := s.ledger.Version(); v != s.viewVersion {
		s.view.Nodes[0].Total = s.ledger.Total() // (placement groups' bundles grow and shrink it)
		s.view.Nodes[0].Available = s.ledger.Available()
		s.viewVersion = v
	}
}

// requestOf is what a task (or an actor's creation) asks the policy: its demand, its strategy
// (node ids in the view are hex), and for work another node forwarded here (preferLocal), to stay
// here whenever this node can run it (Ray does not spill a spilled lease again).
func requestOf(spec *pb.TaskSpec, demand resources.Set, preferLocal bool) scheduling.Request {
	req := scheduling.Request{Demand: demand, PreferLocal: preferLocal}
	if preferLocal {
		return req // (its strategy was applied where it came from)
	}
	switch spec.GetSchedulingStrategy() {
	case strategySpread:
		req.Strategy.Kind = scheduling.Spread
	case strategyNodeAffinity:
		req.Strategy = scheduling.Strategy{Kind: scheduling.NodeAffinity, Node: scheduling.NodeID(spec.AffinityNodeId), Soft: spec.AffinitySoft}
	}
	return req
}

// Scheduling strategies of TaskSpec.scheduling_strategy (ray_scheduling_strategy in c_api.h).
const (
	strategySpread       = 1
	strategyNodeAffinity = 2
)

// runnableWaiting counts, by job, the ready tasks this node could run now if it had workers for
// them (nil: none). Called with r.mu held.
func (s *state) runnableWaiting() map[*job]int {
	var n map[*job]int
	for _, c := range s.ready.order {
		if len(c.tasks) > 0 && !c.infeasible && s.ledger.Fits(c.demand) {
			if n == nil {
				n = map[*job]int{}
			}
			n[c.job] += len(c.tasks)
		}
	}
	return n
}

// prestarting tells whether a job's pool is still to be prestarted. Called with r.mu held.
func (s *state) prestarting() bool {
	if s.defaultJob.prestart > 0 {
		return true
	}
	for _, j := range s.jobs {
		if j.prestart > 0 {
			return true
		}
	}
	return false
}

// dispatch sends t to w. Called with r.mu held.
func (s *state) dispatch(w *worker, t *task) {
	if w.task != nil {
		w.queued = append(w.queued, t) // pipelined: runs when the worker's task is done
	} else {
		t.alloc = s.ledger.AllocateAnyway(t.demand) // the caller checked that it fits
		w.task = t
	}
	t.attempts++
	spec := s.resolvedSpec(t)
	spec.Attempts = int32(t.attempts) // (the worker tells which run it was: see nodestate.go)
	s.showDevices(spec, w.task.alloc) // (a queued task runs with the resources of the one before it)
	w.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Execute{Execute: &pb.ExecuteTask{Spec: spec}}})
}

// resolvedSpec is the task as a worker gets it: ObjectRef arguments replaced by their values.
// Called with r.mu held.
func (s *state) resolvedSpec(t *task) *pb.TaskSpec {
	spec := t.specCopy()
	spec.CallerId = t.spec.CallerId
	for i, a := range t.spec.Args {
		if !a.IsRef {
			spec.Args[i] = a
			continue
		}
		dep, _ := ids.ObjectIDFromBytes(a.ObjectId)
		obj, _ := s.store.Get(dep)
		spec.Args[i] = s.argForTask(t, dep, obj)
	}
	return spec
}

// specCopy is the task's spec as it is passed on (to a worker, or another node): its fields, and
// room for its arguments, which the caller fills in.
func (t *task) specCopy() *pb.TaskSpec {
	return &pb.TaskSpec{
		TaskId:           t.spec.TaskId,
		FunctionName:     t.spec.FunctionName,
		Name:             t.spec.Name,
		Resources:        t.spec.Resources,
		ReturnId:         t.spec.ReturnId,
		MaxRetries:       t.spec.MaxRetries,
		TaskType:         t.spec.TaskType,
		ActorId:          t.spec.ActorId,
		ClassName:        t.spec.ClassName,
		MaxConcurrency:   t.spec.MaxConcurrency,
		RunAlone:         t.runAlone,
		RetryExceptions:  t.spec.RetryExceptions,
		Attempts:         int32(t.attempts),
		PlacementGroupId: t.spec.PlacementGroupId,
		BundleIndex:      t.spec.BundleIndex,
		RuntimeEnv:       t.spec.RuntimeEnv,
		Args:             make([]*pb.TaskArg, len(t.spec.Args)),
	}
}

// release gives back what a task holds (less the CPU its blocked worker lent already).
// Called with r.mu held.
func (s *state) release(t *task) {
	s.ledger.Release(t.alloc)
	t.alloc = nil
}

// finishOrRetry finishes t with the result its worker reported, unless that is an exception the
// task retries (retry_exceptions, within its retries): then it goes back to the queue, first in
// line. The last exception says how many attempts were made. Called with r.mu held.
func (s *state) finishOrRetry(t *task, obj *objstore.Object) {
	if obj.Kind == objstore.KindTaskError && t.spec.RetryExceptions {
		if taskretry.Take(&t.retriesLeft) {
			glog.Warningf("retrying task %s (%s) after it threw; %s", t.spec.FunctionName, t.returnID.Hex()[:12], taskretry.Describe(t.retriesLeft))
			s.unpinTaskArgs(t) // pinned again when it runs
			s.ready.pushFront(t)
			return
		}
		obj = &objstore.Object{Kind: obj.Kind, Data: taskretry.WithAttempts(obj.Data, t.attempts)}
	}
	s.finish(t, obj)
}

// finish stores a task's result and wakes whoever waits for it. Called with r.mu held.
func (s *state) finish(t *task, obj *objstore.Object) {
	delete(s.pending, t.returnID)
	s.putObject(t.returnID, obj)
	s.unpinTaskArgs(t)
	s.releaseTaskRefs(t)
}

// putObject stores an object (which ends a client's promise to put it), sends it to subscribers
// and readies tasks waiting for it. Called with r.mu held.
func (s *state) putObject(id ids.ObjectID, obj *objstore.Object) {
	s.putExpected(id)
	if !s.store.Put(id, obj) {
		return
	}
	if t := s.lineage.kept[id]; t != nil {
		s.keptEnded(t) // pulled from the node that kept it
	}
	s.hold(obj.Contained)
	if subs := s.subscribers[id]; len(subs) > 0 {
		delete(s.subscribers, id)
		for _, c := range subs {
			s.sendObjectTo(c, id, obj)
		}
	}
	if waiting := s.waitingDeps[id]; len(waiting) > 0 {
		delete(s.waitingDeps, id)
		for _, t := range waiting {
			s.depArrived(t)
		}
	}
	s.maybeFree(id) // nothing refers to it any more (its caller dropped the ref before it was made)
}

// depArrived counts one argument of t as available, and moves t on when it was the last.
// Called with r.mu held.
func (s *state) depArrived(t *task) {
	t.missing--
	if t.missing == 0 {
		s.argsReady(t)
	}
}

// objectFreed releases what a freed object kept. Called with r.mu held.
func (s *state) objectFreed(id ids.ObjectID, obj *objstore.Object) {
	if obj.InShm {
		s.shmFreed(id)
	}
}

// pipelineDepth is how many tasks may wait on a busy worker behind the one it runs.
const pipelineDepth = 64

// pipeline queues ready tasks on busy workers that run a task of the same class, least loaded
// first, so a worker goes from one task to the next without a round trip to the node. A worker
// hands its queue back when its task blocks in Get or when another worker goes idle. Called with
// r.mu held, with the pool at full size.
func (s *state) pipeline() {
	for _, w := range s.workers {
		if w.client == nil && w.actor == nil {
			return // a pool worker is still connecting: it will take tasks itself
		}
	}
	for _, c := range s.ready.order {
		// (Tasks holding GPUs are not queued behind a busy worker: their devices are chosen when
		// they start, and the worker is told them as they are queued.)
		if len(c.tasks) == 0 || c.infeasible || c.lease || s.runsElsewhere(c) || c.demand.Get(resources.GPU) > 0 {
			continue
		}
		for len(c.tasks) > 0 {
			var best *worker
			for _, w := range s.workers {
				if w.client == nil || w.actor != nil || w.task == nil || w.blocked || w.reclaiming || w.task.runAlone ||
					!sameClass(w.task.class, c) || len(w.queued) >= pipelineDepth {
					continue
				}
				if best == nil || len(w.queued) < len(best.queued) || (len(w.queued) == len(best.queued) && w.pid < best.pid) {
					best = w // least loaded; the lowest pid among equals, so decisions are repeatable
				}
			}
			if best == nil || s.argsInArena(c.tasks[0]) || c.tasks[0].runAlone {
				break // a task with shared-memory arguments waits for an idle worker (see shmstore.go)
			}
			s.dispatch(best, c.pop())
		}
	}
}

// argsInArena tells whether one of t's arguments is in the shared-memory store: such a task pins
// its arguments while it runs, so it is never queued behind a busy worker. Called with r.mu held.
func (s *state) argsInArena(t *task) bool {
	for _, dep := range t.deps {
		if obj, ok := s.store.Get(dep); ok && obj.InShm {
			return true
		}
	}
	return false
}

// reclaimFor asks the most loaded worker to hand back its queued tasks, for an idle worker.
// Called with r.mu held.
func (s *state) reclaimFor(idle *worker) {
	var most *worker
	for _, w := range s.workers {
		if w != idle && !w.reclaiming && len(w.queued) > 0 && (most == nil || len(w.queued) > len(most.queued) ||
			(len(w.queued) == len(most.queued) && w.pid < most.pid)) {
			most = w
		}
	}
	if most != nil {
		most.reclaiming = true
		most.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Reclaim{Reclaim: &pb.Reclaim{}}})
	}
}

// returned puts tasks a worker handed back at the head of the ready queue. Called with r.mu held.
func (s *state) returned(w *worker, returnIDs [][]byte) {
	w.reclaiming = false
	back := map[string]bool{}
	for _, id := range returnIDs {
		back[string(id)] = true
	}
	var requeue []*task
	if t := w.task; t != nil && back[string(t.spec.ReturnId)] {
		// The node had moved the worker on to this task (its previous one was done), but the
		// worker handed it back before starting it: the worker is idle.
		s.release(t)
		if w.blocked {
			w.blocked = false
			s.blocked--
		}
		w.task = nil
		s.unpinTaskArgs(t) // pinned again when it runs
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
		s.ready.pushFront(requeue[i])
	}
	if w.task == nil && len(w.queued) == 0 && !w.exited && !s.isIdle(w) {
		s.idle = append(s.idle, w)
	}
	s.schedule()
}

// Stats is a snapshot of the node's state, for tests and status output.
type Stats struct {
	Workers, IdleWorkers, ReadyTasks, PendingTasks, Objects int
	// Total and Available are the node's resources: all of them (with placement groups'
	// bundles), and what is free.
	Total, Available map[string]float64
}

// Stats returns a snapshot of the node's state.
func (r *Raylet) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	total, avail := r.resourceMaps()
	return Stats{Workers: len(r.workers), IdleWorkers: len(r.idle), ReadyTasks: r.ready.len(), PendingTasks: len(r.pending), Objects: r.store.Len(), Total: total, Available: avail}
}

// resourceMaps are the node's resources, all of them and what is free of each. Called with r.mu
// held.
func (s *state) resourceMaps() (total, available map[string]float64) {
	total = s.ledger.Total().Map()
	available = make(map[string]float64, len(total))
	free := s.ledger.Available()
	for k := range total {
		available[k] = free.Get(k).Float()
	}
	return total, available
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

// ConnectedWorkerPIDs lists the process ids of the node's workers that have connected to it (a
// started process that has not is left out), sorted.
func (r *Raylet) ConnectedWorkerPIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var pids []int
	for _, w := range r.workers {
		if w.client != nil {
			pids = append(pids, w.pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// Demands lists the resource shapes of the tasks that wait on the node for room (Ray's resource
// demands, as `ray status` shows them), with how many wait and whether the node could ever run
// them.
func (r *Raylet) Demands() []*pb.ResourceDemand {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*pb.ResourceDemand
	for _, c := range r.ready.order {
		if len(c.tasks) == 0 {
			continue
		}
		out = append(out, &pb.ResourceDemand{Shape: c.demand.Map(), Count: int32(len(c.tasks)), Infeasible: c.infeasible})
	}
	for _, a := range r.pendingActors {
		out = append(out, &pb.ResourceDemand{Shape: a.demand.Map(), Count: 1, Infeasible: a.creation.infeasible})
	}
	return out
}
