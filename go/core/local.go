package core

import (
	"os"
	"sync"
	"time"

	"github.com/golang/glog"

	"goray/actorrule"
	"goray/ids"
	"goray/metrics"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
	"goray/taskretry"
)

// DefaultLocalThreads is local mode's pool size unless --num-cpus says otherwise (Ray's local
// mode runs tasks on a pool of 10 threads).
const DefaultLocalThreads = 10

// cpuPool limits how many tasks run at once. A task blocked in Get leaves its slot and takes it
// back without waiting when it resumes, so nested tasks never deadlock the pool.
type cpuPool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running int
	limit   int
	closed  bool
}

func newCPUPool(limit int) *cpuPool {
	p := &cpuPool{limit: limit}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// acquire waits for a slot; it reports false when the pool closed.
func (p *cpuPool) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.running >= p.limit && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return false
	}
	p.running++
	return true
}

func (p *cpuPool) release() {
	p.mu.Lock()
	p.running--
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *cpuPool) reacquire() {
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
}

func (p *cpuPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
}

// localBackend runs every task in this process (local mode).
type localBackend struct {
	cw      *CoreWorker
	pool    *cpuPool
	mu      sync.Mutex
	pending map[ids.ObjectID]bool // return ids of unfinished tasks
	actors  map[ids.ActorID]*localActor
	named   map[string]*localActor // by actorKey(name, namespace), live ones
	// actorLoops counts the actors' goroutines; close waits for them to delete their instances.
	actorLoops sync.WaitGroup
	groups     *localGroups // placement groups (groups.go), under mu
	// nodeID and total stand for this process as the cluster's one node.
	nodeID  ids.UniqueID
	total   map[string]float64
	started time.Time
	metrics *metrics.Registry
	// afterStoreMiss, a test hook, runs in known between the store miss and the pending check.
	afterStoreMiss func(ids.ObjectID)
}

// actorShutdownGrace bounds how long Shutdown waits for actor calls in flight to return before
// it leaves their instances behind.
const actorShutdownGrace = 10 * time.Second

func newLocalBackend(cw *CoreWorker, threads int) *localBackend {
	if threads <= 0 {
		threads = DefaultLocalThreads
	}
	total := map[string]float64{}
	for k, v := range cw.opts.LocalResources {
		total[k] = v
	}
	total["CPU"] = float64(threads)
	return &localBackend{cw: cw, pool: newCPUPool(threads), pending: map[ids.ObjectID]bool{},
		actors: map[ids.ActorID]*localActor{}, named: map[string]*localActor{}, groups: newLocalGroups(total),
		metrics: metrics.NewRegistry(), nodeID: ids.NewUniqueID(), total: total, started: time.Now()}
}

// nodes is this process as the one node of local mode: its resources, and what its placement
// groups leave of them.
func (b *localBackend) nodes() ([]*pb.NodeInfo, error) {
	host, _ := os.Hostname()
	n := &pb.NodeInfo{NodeId: append([]byte(nil), b.nodeID[:]...), Address: "127.0.0.1", Alive: true, IsHead: true,
		Hostname: host, StartTimeMs: b.started.UnixMilli(), Resources: map[string]float64{}, Available: map[string]float64{}}
	for k, v := range b.total {
		n.Resources[k] = v
	}
	b.mu.Lock()
	for k, v := range b.groups.free {
		n.Available[k] = v
	}
	b.mu.Unlock()
	return []*pb.NodeInfo{n}, nil
}

// known reports whether id was stored or is the result of an unfinished task. A task that
// finishes while known looks stores its result before it leaves pending (finishCall), so the
// store is read again after a pending miss: the result may have landed between the two reads.
func (b *localBackend) known(id ids.ObjectID) bool {
	if _, ok := b.cw.store.Get(id); ok {
		return true
	}
	if b.afterStoreMiss != nil {
		b.afterStoreMiss(id)
	}
	b.mu.Lock()
	pending := b.pending[id]
	b.mu.Unlock()
	if pending {
		return true
	}
	_, ok := b.cw.store.Get(id)
	return ok
}

// deps lists a spec's ObjectRef arguments, or the first one nobody created.
func (b *localBackend) deps(spec *pb.TaskSpec) ([]ids.ObjectID, *ids.ObjectID) {
	var deps []ids.ObjectID
	for _, a := range spec.Args {
		if !a.IsRef {
			continue
		}
		dep, _ := ids.ObjectIDFromBytes(a.ObjectId)
		if !b.known(dep) {
			return nil, &dep
		}
		deps = append(deps, dep)
	}
	return deps, nil
}

// submitLeased: local mode has no leases.
func (b *localBackend) submitLeased(*pb.TaskSpec) bool { return false }

func (b *localBackend) submit(spec *pb.TaskSpec) error {
	ret, _ := ids.ObjectIDFromBytes(spec.ReturnId)
	if spec.TaskType == TaskActorMethod {
		b.submitActorCall(spec, ret)
		return nil
	}
	if _, unknown := b.deps(spec); unknown != nil {
		b.cw.storeLocal(ret, &objstore.Object{Kind: objstore.KindLost, Data: []byte(actorrule.UnknownArgument(actorrule.TaskLabel(spec.FunctionName, spec.Name, false), unknown.Hex()))})
		return nil
	}
	held := wire.ArgRefs(spec)
	b.cw.refs.add(held...)
	b.mu.Lock()
	b.pending[ret] = true
	b.mu.Unlock()
	go b.run(spec, ret, held)
	return nil
}

func (b *localBackend) run(spec *pb.TaskSpec, ret ids.ObjectID, held []ids.ObjectID) {
	args, failed, ok := b.resolveArgs(spec)
	if !ok {
		return // shut down
	}
	if failed != nil {
		b.finishCall(ret, failed, held)
		return
	}
	if !b.pool.acquire() {
		return
	}
	// An exception is retried when the task says so, within its retries (no process dies here,
	// so nothing else is).
	retries := int(spec.MaxRetries)
	result := b.cw.execute(spec, args, nil, nil)
	for attempts := 1; result.Kind == objstore.KindTaskError && spec.RetryExceptions; attempts++ {
		if !taskretry.Take(&retries) {
			result = &objstore.Object{Kind: result.Kind, Data: taskretry.WithAttempts(result.Data, attempts)}
			break
		}
		result = b.cw.execute(spec, args, nil, nil)
	}
	b.pool.release()
	b.finishCall(ret, result, held)
	b.cw.releaseResultRefs(result)
}

func (b *localBackend) put(ids.ObjectID, *objstore.Object) error { return nil }

func (b *localBackend) submitActor(_ ids.ActorID, spec *pb.TaskSpec) error { return b.submit(spec) }

// publish has nothing to do: every object of local mode lives in this process.
func (b *localBackend) publish([]ids.ObjectID) {}

func (b *localBackend) fetch(list []ids.ObjectID) error {
	for _, id := range list {
		if !b.known(id) {
			b.cw.store.Put(id, &objstore.Object{Kind: kindUnknown})
		}
	}
	return nil
}

func (b *localBackend) forget(ids.ObjectID) {}

func (b *localBackend) setBlocked(blocked bool) {
	if blocked {
		b.pool.release()
	} else {
		b.pool.reacquire()
	}
}

func (b *localBackend) close() {
	b.pool.close()
	done := make(chan struct{})
	go func() {
		b.actorLoops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(actorShutdownGrace):
		glog.Warningf("local mode: actor calls still running %v after shutdown; their instances are not deleted", actorShutdownGrace)
	}
}
