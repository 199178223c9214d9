package core

import (
	"fmt"
	"sync"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// kill requests of a local actor.
const (
	killNone = iota
	killRestart
	killForGood
	killExit
)

// localActor is an actor of local mode: an instance in this process, its calls run in order on
// goroutines (up to max_concurrency at once).
type localActor struct {
	b        *localBackend
	id       ids.ActorID
	opts     ActorOptions
	key      string
	ctx      *actorContext
	restarts int

	mu    sync.Mutex
	queue []*pb.TaskSpec
	kill  int
	dead  bool
	cause string
	wake  chan struct{}
}

func actorKey(name, namespace string) string { return namespace + "\x00" + name }

func (b *localBackend) createActor(id ids.ActorID, o ActorOptions) error {
	a := &localActor{b: b, id: id, opts: o, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if o.Name != "" {
		a.key = actorKey(o.Name, o.Namespace)
		if _, taken := b.named[a.key]; taken {
			b.mu.Unlock()
			return Errorf(CodeInvalidArgument, "an actor named %q already exists in namespace %q", o.Name, o.Namespace)
		}
		b.named[a.key] = a
	}
	b.actors[id] = a
	b.mu.Unlock()
	held := wire.ArgRefs(o.Creation)
	b.cw.refs.add(held...)
	b.actorLoops.Add(1)
	go func() {
		defer b.actorLoops.Done()
		a.run(held)
	}()
	return nil
}

func (b *localBackend) actor(id ids.ActorID) *localActor {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.actors[id]
}

func (b *localBackend) killActor(id ids.ActorID, noRestart bool) error {
	a := b.actor(id)
	var dead bool
	if a != nil {
		a.mu.Lock()
		dead = a.dead
		a.mu.Unlock()
	}
	switch actorrule.Kill(a != nil, dead) {
	case actorrule.KillUnknownActor:
		return Errorf(CodeInvalidArgument, "%s", actorrule.UnknownActor(id.Hex()))
	case actorrule.KillNothing:
		return nil
	}
	req := killRestart
	if noRestart {
		req = killForGood
	}
	a.request(req)
	return nil
}

func (b *localBackend) getActor(name, namespace string) (ids.ActorID, string, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.named[actorKey(name, namespace)]
	if a == nil {
		return ids.ActorID{}, "", false, nil
	}
	return a.id, a.opts.ClassName, true, nil
}

// submitActorCall queues a method call; calls run in the order they were submitted.
func (b *localBackend) submitActorCall(spec *pb.TaskSpec, ret ids.ObjectID) {
	id, err := ids.UniqueIDFromBytes(spec.ActorId)
	a := b.actor(id)
	if err != nil || a == nil {
		b.cw.storeLocal(ret, actorDied(fmt.Sprintf("No actor %x exists in this process", spec.ActorId)))
		return
	}
	held := wire.ArgRefs(spec)
	b.cw.refs.add(held...)
	b.mu.Lock()
	b.pending[ret] = true
	b.mu.Unlock()
	a.mu.Lock()
	if a.dead {
		cause := a.cause
		a.mu.Unlock()
		b.finishCall(ret, actorDied(cause), held)
		return
	}
	a.queue = append(a.queue, spec)
	a.mu.Unlock()
	a.poke()
}

func actorDied(cause string) *objstore.Object {
	return &objstore.Object{Kind: objstore.KindActorDied, Data: []byte(cause)}
}

// finishCall stores a call's result and lets go of what the call held.
func (b *localBackend) finishCall(ret ids.ObjectID, obj *objstore.Object, held []ids.ObjectID) {
	b.cw.storeLocal(ret, obj)
	b.mu.Lock()
	delete(b.pending, ret)
	b.mu.Unlock()
	b.cw.refs.remove(held...)
}

func (a *localActor) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *localActor) request(kill int) {
	a.mu.Lock()
	if !a.dead && kill > a.kill {
		a.kill = kill
	}
	a.mu.Unlock()
	a.poke()
}

// create runs the factory; it reports false (and the actor is dead) when the factory failed.
func (a *localActor) create(args [][]byte, restarted bool) bool {
	ctx := &actorContext{id: a.id, className: a.opts.ClassName, factory: a.opts.Creation.FunctionName, restarted: restarted, concurrency: a.opts.MaxConcurrency}
	call := &TaskCall{Type: TaskActorCreation, Function: a.opts.Creation.FunctionName, Args: args, ClassName: a.opts.ClassName, TaskID: a.opts.Creation.TaskId}
	obj, instance := a.b.cw.executeCall(call, ctx)
	if obj.IsError() {
		a.die(actorrule.CreationFailed(string(obj.Data)))
		return false
	}
	ctx.instance = instance
	a.ctx = ctx
	return true
}

func (a *localActor) destroy() {
	if a.ctx == nil {
		return
	}
	a.b.cw.executeCall(&TaskCall{Type: TaskActorDestroy, Function: a.ctx.factory}, a.ctx)
	a.ctx = nil
}

// die marks the actor dead: queued and later calls fail with cause.
func (a *localActor) die(cause string) {
	a.mu.Lock()
	a.dead = true
	a.cause = cause
	queue := a.queue
	a.queue = nil
	a.mu.Unlock()
	b := a.b
	b.mu.Lock()
	if a.key != "" && b.named[a.key] == a {
		delete(b.named, a.key)
	}
	b.mu.Unlock()
	for _, spec := range queue {
		ret, _ := ids.ObjectIDFromBytes(spec.ReturnId)
		b.finishCall(ret, actorDied(cause), wire.ArgRefs(spec))
	}
}

// resolveArgs waits for a call's ObjectRef arguments; it returns their values, or the error
// object of the first failed argument, or nil on shutdown.
func (b *localBackend) resolveArgs(spec *pb.TaskSpec) ([][]byte, *objstore.Object, bool) {
	deps, unknown := b.deps(spec)
	if unknown != nil {
		what := actorrule.TaskLabel(spec.FunctionName, spec.Name, spec.TaskType == TaskActorCreation)
		return nil, &objstore.Object{Kind: objstore.KindLost, Data: []byte(actorrule.UnknownArgument(what, unknown.Hex()))}, true
	}
	if len(deps) > 0 {
		if _, err := b.cw.store.WaitN(b.cw.ctx, deps, len(deps)); err != nil {
			return nil, nil, false
		}
	}
	args := make([][]byte, len(spec.Args))
	for i, arg := range spec.Args {
		if !arg.IsRef {
			args[i] = arg.Data
			continue
		}
		id, _ := ids.ObjectIDFromBytes(arg.ObjectId)
		obj, _ := b.cw.store.Get(id)
		if obj == nil {
			return nil, &objstore.Object{Kind: objstore.KindLost, Data: []byte("argument " + id.Hex() + " was freed before the call ran")}, true
		}
		if obj.IsError() {
			return nil, obj, true
		}
		args[i] = obj.Data
	}
	return args, nil, true
}

// run creates the instance, then runs calls in submission order until the actor dies.
func (a *localActor) run(held []ids.ObjectID) {
	b := a.b
	args, failed, ok := b.resolveArgs(a.opts.Creation)
	b.cw.refs.remove(held...)
	if !ok {
		return
	}
	if failed != nil {
		a.die(actorrule.FactoryArgumentFailed(string(failed.Data)))
		return
	}
	if !a.create(args, false) {
		return
	}
	slots := make(chan struct{}, a.opts.MaxConcurrency)
	var inflight sync.WaitGroup
	// On shutdown the instance is deleted once its calls in flight return.
	defer func() {
		inflight.Wait()
		a.destroy()
	}()
	for {
		a.mu.Lock()
		kill := a.kill
		var spec *pb.TaskSpec
		if kill == killNone && len(a.queue) > 0 {
			spec = a.queue[0]
			a.queue = a.queue[1:]
		}
		a.mu.Unlock()
		if kill != killNone {
			inflight.Wait()
			a.destroy()
			if b.cw.closed() {
				return
			}
			a.mu.Lock()
			a.kill = killNone
			a.mu.Unlock()
			restartsLeft := a.opts.MaxRestarts == -1 || a.restarts < a.opts.MaxRestarts
			if kill == killRestart && restartsLeft {
				a.restarts++
				if !a.create(args, true) {
					return
				}
				continue
			}
			cause := actorrule.CauseKilled
			if kill == killExit {
				cause = actorrule.CauseExited
			}
			a.die(cause)
			return
		}
		if spec == nil {
			select {
			case <-a.wake:
				continue
			case <-b.cw.ctx.Done():
				return
			}
		}
		ret, _ := ids.ObjectIDFromBytes(spec.ReturnId)
		held := wire.ArgRefs(spec)
		callArgs, failed, ok := b.resolveArgs(spec)
		if !ok {
			return
		}
		if failed != nil {
			b.finishCall(ret, failed, held)
			continue
		}
		slots <- struct{}{}
		inflight.Add(1)
		ctx := a.ctx
		go func() {
			defer inflight.Done()
			obj, _ := b.cw.executeCall(&TaskCall{Type: TaskActorMethod, Function: spec.FunctionName, Args: callArgs, TaskID: spec.TaskId}, ctx)
			<-slots
			if ctx.exiting.Load() {
				a.request(killExit)
			}
			b.finishCall(ret, obj, held)
			b.cw.releaseResultRefs(obj)
		}()
	}
}
