package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"goray/ids"
	"goray/objstore"
	"goray/rpc/batch"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// registerTimeout bounds how long a process waits for its node to accept it.
const registerTimeout = 10 * time.Second

// nodeBackend talks to the node manager over one bidirectional stream.
type nodeBackend struct {
	cw         *CoreWorker
	conn       *grpc.ClientConn // nil for a stream to a node manager in this process
	where      string           // which node, for messages
	stream     pb.NodeManager_ConnectClient
	streamCtx  context.Context
	stopStream context.CancelFunc
	sender     *batch.Sender[*pb.ClientMessage]
	registered chan struct{}
	recvDone   chan struct{}
	execDone   chan struct{}
	// visibleDevices is what showDevices set CUDA_VISIBLE_DEVICES to last (nil: nothing yet);
	// only the exec loop touches it.
	visibleDevices *string

	mu         sync.Mutex
	nextReq    uint64
	replies    map[uint64]chan *pb.Reply
	actor      *actorContext // the actor this worker process hosts, once created
	blockedNow bool          // the running task waits in Get: queued tasks go back to the node
	subscribed map[ids.ObjectID]bool
	execQueue  []execItem
	execWake   chan struct{}
	sessionDir string       // the node's session directory (from Registered)
	calls      *callServer  // direct calls to the actor this process hosts, once it exists
	direct     *directCalls // this process's actor calls
	leases     *leases      // this process's worker leases; nil unless its node is a cluster's
	lease      leaseState   // the lease this worker serves, if any (see leaseserve.go)
	lost       error        // why the stream ended, once it has
	// groupStates are the states of the placement groups this process created, as the node
	// tells them (GroupState): Wait on a group known CREATED needs no question to the node.
	groupStates map[string]int32

	flushPending atomic.Bool // a flush of reference notices is scheduled
	runs         runBuffer   // runs of tasks not yet told to the node (taskevents.go)
}

func connectNode(cw *CoreWorker, opts Options) (*nodeBackend, error) {
	streamCtx, stop := context.WithCancel(context.Background())
	var conn *grpc.ClientConn
	var stream pb.NodeManager_ConnectClient
	var err error
	where := "the node at " + opts.RayletSocket
	if opts.ConnectInProcess != nil {
		where = "the node in this process"
		stream, err = opts.ConnectInProcess(streamCtx)
	} else {
		conn, stream, err = dialNode(streamCtx, opts.RayletSocket)
	}
	if err != nil {
		stop()
		return nil, err
	}
	b := &nodeBackend{
		cw: cw, conn: conn, where: where, stream: stream, streamCtx: streamCtx, stopStream: stop,
		registered: make(chan struct{}), recvDone: make(chan struct{}), execDone: make(chan struct{}),
		subscribed: map[ids.ObjectID]bool{}, execWake: make(chan struct{}, 1), replies: map[uint64]chan *pb.Reply{},
	}
	// Submissions and results go out on the goroutine that makes them: on a sync call that is
	// one hand-off less each way. Bursts of submissions are the exception (see submit).
	b.sender = batch.NewInlineSender(func(msgs []*pb.ClientMessage) error {
		return stream.Send(&pb.ClientBatch{Messages: msgs})
	})
	b.allowBursts()
	b.direct = newDirectCalls(cw, b)
	// The node frees objects no process refers to: tell it about this process's references.
	cw.refs.notify = b.refsChanged
	cw.refs.flush = b.flushSoon
	workerID := opts.WorkerID
	_ = b.sender.Queue(&pb.ClientMessage{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{
		WorkerId: workerID[:], IsDriver: !opts.IsWorker, Pid: int32(os.Getpid()), Job: opts.Job,
	}}})
	go b.recvLoop(stream)
	if opts.IsWorker {
		go b.execLoop()
	} else {
		close(b.execDone)
	}
	select {
	case <-b.registered:
		return b, nil
	case <-b.recvDone:
		err := b.lostErr()
		b.close()
		return nil, fmt.Errorf("%s refused this process: %v", b.where, err)
	case <-time.After(registerTimeout):
		b.close()
		return nil, fmt.Errorf("%s did not answer within %v", b.where, registerTimeout)
	}
}

// streamWindow is the HTTP/2 flow-control window of node streams. Setting it turns off grpc-go's
// bandwidth-estimating pings, which cost every small message a little.
const streamWindow = 64 << 20

// dialNode opens the node stream over the node manager's unix socket.
func dialNode(ctx context.Context, socket string) (*grpc.ClientConn, pb.NodeManager_ConnectClient, error) {
	if socket == "" {
		return nil, nil, fmt.Errorf("no node socket to connect to")
	}
	conn, err := grpc.Dial("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(streamWindow),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the node at %s: %w", socket, err)
	}
	stream, err := pb.NewNodeManagerClient(conn).Connect(ctx)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("opening the node stream at %s: %w", socket, err)
	}
	return conn, stream, nil
}

func (b *nodeBackend) lostErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lost
}

func (b *nodeBackend) recvLoop(stream pb.NodeManager_ConnectClient) {
	defer close(b.recvDone)
	for {
		batchMsg, err := stream.Recv()
		if err != nil {
			b.mu.Lock()
			b.lost = err
			b.mu.Unlock()
			if !b.cw.closed() {
				glog.Warningf("lost the node stream: %v", err)
				b.cw.cancel()
			}
			b.wakeExec()
			return
		}
		for _, m := range batchMsg.Messages {
			switch body := m.Body.(type) {
			case *pb.ServerMessage_Registered:
				s, err := openShm(b, body.Registered)
				if err != nil {
					glog.Warningf("%v: large values will travel in messages", err)
				}
				b.cw.shm = s
				b.mu.Lock()
				b.sessionDir = body.Registered.SessionDir
				b.mu.Unlock()
				if body.Registered.Cluster {
					b.leases = newLeases(b.direct) // (read after registered is closed)
				}
				if node, err := ids.UniqueIDFromBytes(body.Registered.NodeId); err == nil {
					b.cw.ownerNode.Store(&node)
				}
				close(b.registered)
			case *pb.ServerMessage_Object:
				id, err := ids.ObjectIDFromBytes(body.Object.ObjectId)
				if err != nil {
					glog.Warningf("node sent a bad object id: %v", err)
					continue
				}
				b.mu.Lock()
				delete(b.subscribed, id)
				b.mu.Unlock()
				if body.Object.Unknown {
					b.cw.store.Put(id, &objstore.Object{Kind: kindUnknown})
					continue
				}
				obj := wire.ObjectFromProto(body.Object.Object)
				if obj.InShm && b.cw.shm == nil {
					obj = &objstore.Object{Kind: objstore.KindLost, Data: []byte("the object is in the node's shared memory, which this process could not map")}
				}
				if !b.cw.storeLocal(id, obj) && obj.InShm {
					b.cw.shm.release([][]byte{id[:]}) // a second copy: the first stays
				}
			case *pb.ServerMessage_Reply:
				b.mu.Lock()
				ch := b.replies[body.Reply.RequestId]
				delete(b.replies, body.Reply.RequestId)
				b.mu.Unlock()
				if ch != nil {
					ch <- body.Reply
				}
			case *pb.ServerMessage_Execute:
				b.mu.Lock()
				if b.blockedNow && b.actor == nil {
					// Queued behind a task blocked in Get, it might be what that task waits for.
					b.mu.Unlock()
					b.returnTasks([][]byte{body.Execute.Spec.ReturnId})
					continue
				}
				b.execQueue = append(b.execQueue, execItem{spec: body.Execute.Spec})
				b.mu.Unlock()
				b.wakeExec()
			case *pb.ServerMessage_GroupState:
				b.groupStateShown(body.GroupState.GroupId, body.GroupState.State)
			case *pb.ServerMessage_ReportRefs:
				report := &pb.RefsReport{RequestId: body.ReportRefs.RequestId, Refs: b.cw.refsReport()}
				_ = b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_RefsReport{RefsReport: report}})
			case *pb.ServerMessage_Reclaim:
				// Always answer, even with nothing to give back: the node waits for the answer.
				toNode, _ := b.takeQueued(false)
				_ = b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_ReturnTasks{ReturnTasks: &pb.ReturnTasks{ReturnIds: toNode}}})
			}
		}
	}
}

func (b *nodeBackend) wakeExec() {
	select {
	case b.execWake <- struct{}{}:
	default:
	}
}

// execLoop runs the tasks the node sends, in order: one at a time, or for an actor up to its
// max_concurrency at once; it reports each result.
func (b *nodeBackend) execLoop() {
	defer close(b.execDone)
	slots := make(chan struct{}, 1)
	for {
		// Take a thread first: a task leaves the queue only to start, so the queue can always be
		// handed back to the node whole (see setBlocked).
		select {
		case slots <- struct{}{}:
		case <-b.cw.ctx.Done():
			return
		}
		var item execItem
		for item.spec == nil {
			b.mu.Lock()
			if len(b.execQueue) > 0 {
				item = b.execQueue[0]
				b.execQueue[0] = execItem{}
				b.execQueue = b.execQueue[1:]
			}
			b.mu.Unlock()
			if item.spec == nil {
				select {
				case <-b.execWake:
				case <-b.cw.ctx.Done():
					return
				}
			}
		}
		spec := item.spec
		if spec.GetSetVisibleDevices() {
			b.showDevices(spec.VisibleDevices)
		}
		if spec == leaseEndSpec {
			b.endLeaseStream(item.origin)
			<-slots
			continue
		}
		if spec.TaskType == TaskLease && item.origin == nil {
			b.startLease(spec)
			<-slots
			continue
		}
		args, shared := b.argBytes(spec)
		if spec.TaskType == TaskActorCreation {
			if ctx := b.runCreation(spec, args, shared); ctx != nil && ctx.concurrency > 1 {
				workerGoThreads(ctx.concurrency)
				b.allowBursts()
				slots = make(chan struct{}, ctx.concurrency)
			} else {
				<-slots
			}
			continue
		}
		b.mu.Lock()
		actor := b.actor
		b.mu.Unlock()
		run := func(slots chan struct{}) {
			var obj *objstore.Object
			if item.origin != nil {
				// A direct call: its ObjectRef arguments are fetched here.
				sh, failed, done := b.directArgs(spec, args, shared)
				if failed != nil {
					obj = failed
				} else {
					obj = b.cw.execute(spec, args, sh, actor)
				}
				done()
			} else {
				obj = b.cw.execute(spec, args, shared, actor)
			}
			if actor != nil && actor.exiting.Load() {
				b.exitActor(item, obj)
			}
			b.report(item, obj)
			<-slots
		}
		if cap(slots) == 1 {
			// One at a time: run it here, without a goroutine hand-off.
			run(slots)
		} else {
			go run(slots)
		}
	}
}

// showDevices sets CUDA_VISIBLE_DEVICES (for the user code of this process, through the C
// library's setenv) to the GPUs the node gave the task about to run, as Ray does.
func (b *nodeBackend) showDevices(devices string) {
	if b.visibleDevices != nil && *b.visibleDevices == devices {
		return
	}
	if err := os.Setenv("CUDA_VISIBLE_DEVICES", devices); err != nil {
		glog.Warningf("setting CUDA_VISIBLE_DEVICES=%q: %v", devices, err)
		return
	}
	b.visibleDevices = &devices
}

// runCreation runs an actor's factory in this process and reports the outcome.
// argBytes is a task's arguments as user code reads them: values that came in the message, or
// ranges of the node's shared memory (marked in shared), which the node keeps in place until the
// task is done.
func (b *nodeBackend) argBytes(spec *pb.TaskSpec) (args [][]byte, shared []bool) {
	args = make([][]byte, len(spec.Args))
	for i, a := range spec.Args {
		if !a.InShm {
			args[i] = a.Data
			continue
		}
		if shared == nil {
			shared = make([]bool, len(spec.Args))
		}
		if data, err := b.cw.Bytes(&objstore.Object{InShm: true, ShmOffset: a.ShmOffset, ShmSize: a.ShmSize}); err == nil {
			args[i] = data
			shared[i] = true
		} else {
			glog.Errorf("argument %d of %s: %v", i, spec.FunctionName, err)
		}
	}
	return args, shared
}

func (b *nodeBackend) runCreation(spec *pb.TaskSpec, args [][]byte, shared []bool) *actorContext {
	id, _ := ids.UniqueIDFromBytes(spec.ActorId)
	conc := int(spec.MaxConcurrency)
	if conc < 1 {
		conc = 1
	}
	ctx := &actorContext{id: id, className: spec.ClassName, factory: spec.FunctionName, restarted: spec.Restarted, concurrency: conc}
	obj, instance := b.cw.executeCall(&TaskCall{Type: TaskActorCreation, Function: spec.FunctionName, Args: args, Shared: shared, ClassName: spec.ClassName, TaskID: spec.TaskId, Attempt: spec.Attempts}, ctx)
	address := ""
	if !obj.IsError() {
		var err error
		if address, err = b.serveCalls(id); err != nil {
			obj = &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("the actor cannot take calls: " + err.Error())}
		}
	}
	if !obj.IsError() {
		ctx.instance = instance
		b.mu.Lock()
		b.actor = ctx
		b.mu.Unlock()
		glog.Infof("actor %s (%s) created in pid %d (restarted: %v)", id.Hex(), spec.ClassName, os.Getpid(), spec.Restarted)
	}
	b.reportDone(spec, obj, address)
	if obj.IsError() {
		return nil
	}
	return ctx
}

// report sends a task's result where its call came from: the node, or a direct caller.
func (b *nodeBackend) report(item execItem, obj *objstore.Object) {
	if item.origin != nil {
		b.answer(item.origin, item.spec, obj, false)
		return
	}
	b.reportDone(item.spec, obj, "")
}

// reportDone sends a task's result to the node (address: an actor creation's call socket).
func (b *nodeBackend) reportDone(spec *pb.TaskSpec, obj *objstore.Object, address string) {
	b.direct.publish(obj.Contained) // before the result that refers to them, in memory or shared
	if s := b.cw.shm; s != nil && spec.TaskType != TaskActorCreation && !obj.IsError() && int64(len(obj.Data)) >= s.threshold {
		if ret, err := ids.ObjectIDFromBytes(spec.ReturnId); err == nil {
			big := obj
			obj = s.resultInShm(ret, big)
			if obj.IsError() {
				b.cw.releaseResultRefs(big)
			}
		}
	}
	_ = b.sender.Queue(&pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{
		TaskId: spec.TaskId, ReturnId: spec.ReturnId,
		Result: wire.ObjectToProto(obj), ActorAddress: address,
	}}})
	// The node has the result (it was queued before any later message of this process).
	b.cw.releaseResultRefs(obj)
}

// exitActor ends this actor process after the call that asked for it (ray::ExitActor): the
// node learns the exit is intended, gets the call's result, and the process exits.
func (b *nodeBackend) exitActor(item execItem, obj *objstore.Object) {
	_ = b.sender.Queue(&pb.ClientMessage{Body: &pb.ClientMessage_ActorExiting{ActorExiting: &pb.ActorExiting{}}})
	if item.origin != nil {
		// The caller ends its side of the stream once it has the result: then it has it.
		b.answer(item.origin, item.spec, obj, true)
		item.origin.waitEnded(5 * time.Second)
	} else {
		b.reportDone(item.spec, obj, "")
	}
	b.flush()
	glog.Infof("actor exits (ray::ExitActor)")
	glog.Flush()
	os.Exit(0)
}

// flush ends this process's side of the stream once everything queued is sent, and waits (a
// little) for the node to end its side: a stream's Send returning does not mean the bytes have
// left the process, so a process about to exit waits until the node has read what it sent.
func (b *nodeBackend) flush() {
	b.queueRuns() // (the runs of the last tasks go out with the rest)
	b.sender.Close()
	_ = b.stream.CloseSend()
	select {
	case <-b.recvDone:
	case <-time.After(5 * time.Second):
		glog.Warningf("the node did not close the stream within 5 s of this process's last message")
	}
}

// flushDelay is how long messages nobody waits for (reference notices, small puts) may wait for
// company: a burst of them (10,000 ObjectRefs deserialized at once, a loop of puts) goes out in a
// few batches instead of one send each. Any other message sends them sooner, and they stay in
// order with everything else: whatever another process learns about them comes after them on
// this stream.
const flushDelay = 200 * time.Microsecond

// flushSoon sends what Enqueue left queued after flushDelay.
func (b *nodeBackend) flushSoon() {
	if b.flushPending.CompareAndSwap(false, true) {
		time.AfterFunc(flushDelay, func() {
			b.flushPending.Store(false)
			_ = b.sender.Flush()
		})
	}
}

// refsChanged queues a notice of this process's first and last references (see refCounter).
// Notices in a row go out as one message: a loop dropping refs one by one (a Wait loop, a loop
// of sync calls) costs the node one message per batch, not one per ref.
func (b *nodeBackend) refsChanged(added, removed []ids.ObjectID) {
	_ = b.sender.EnqueueMerged(func(last *pb.ClientMessage) bool {
		return mergeRefNotice(last, added, removed)
	}, func() *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{
			Added: ids.ToBytes(added), Removed: ids.ToBytes(removed),
		}}}
	})
}

// mergeRefNotice folds the notice (added, removed) into last when last is a notice too and the
// node, which applies a notice's additions before its removals, ends up where the two in order
// would leave it: removals after anything, additions after additions only.
func mergeRefNotice(last *pb.ClientMessage, added, removed []ids.ObjectID) bool {
	l, ok := last.Body.(*pb.ClientMessage_UpdateRefs)
	if !ok {
		return false
	}
	switch {
	case len(added) == 0:
		l.UpdateRefs.Removed = append(l.UpdateRefs.Removed, ids.ToBytes(removed)...)
		return true
	case len(removed) == 0 && len(l.UpdateRefs.Removed) == 0:
		l.UpdateRefs.Added = append(l.UpdateRefs.Added, ids.ToBytes(added)...)
		return true
	}
	return false
}

func (b *nodeBackend) queue(m *pb.ClientMessage) error {
	return closedErr(b.sender.Queue(m))
}

// closedErr is the caller's error for a message the stream to the node could not take.
func closedErr(err error) error {
	if err != nil {
		return Errorf(CodeShutdown, "the connection to the node is closed: %v", err)
	}
	return nil
}

// allowBursts lets bursts of submissions go out from the sender's helper when this process runs
// Go on more than one thread (see batch.Sender.AllowBursts); call it whenever GOMAXPROCS changes.
func (b *nodeBackend) allowBursts() {
	b.sender.AllowBursts(b.burstsAllowed())
}

// burstsAllowed tells whether senders of this process may hand bursts to a helper goroutine.
func (b *nodeBackend) burstsAllowed() bool { return runtime.GOMAXPROCS(0) > 1 }

func (b *nodeBackend) submit(spec *pb.TaskSpec) error {
	// A loop submitting tasks goes on while its submissions are sent (and, on an embedded node,
	// handled) in batches; a submission on its own goes out from here (see batch.BurstGap).
	return closedErr(b.sender.QueueBurst(&pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: spec}}))
}

func (b *nodeBackend) put(id ids.ObjectID, obj *objstore.Object) error {
	// This process keeps its own copy, so nobody waits for this message: it may wait for company.
	err := closedErr(b.sender.Enqueue(putMessage(id, obj)))
	b.flushSoon()
	return err
}

func (b *nodeBackend) fetch(list []ids.ObjectID) error {
	// Results of this process's actor calls come on their streams, not from the node.
	list = b.direct.withoutPending(list)
	var want [][]byte
	b.mu.Lock()
	for _, id := range list {
		if !b.subscribed[id] {
			b.subscribed[id] = true
			id := id
			want = append(want, id[:])
		}
	}
	b.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	return b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: want}}})
}

func (b *nodeBackend) forget(id ids.ObjectID) {
	b.mu.Lock()
	delete(b.subscribed, id)
	b.mu.Unlock()
}

func (b *nodeBackend) setBlocked(blocked bool) {
	b.mu.Lock()
	b.blockedNow = blocked
	b.mu.Unlock()
	_ = b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_Blocked{Blocked: &pb.WorkerBlocked{Blocked: blocked}}})
	if blocked {
		// Tasks queued behind the blocked one go back, after the node knows this worker is
		// blocked: it runs them elsewhere instead of queueing them here again.
		toNode, toCallers := b.takeQueued(true)
		b.returnTasks(toNode)
		b.giveBack(toCallers)
	}
}

// takeQueued removes the tasks queued on this (non-actor) worker that have not started: the
// node's (their return ids), and with callers those that lease callers sent.
func (b *nodeBackend) takeQueued(callers bool) (toNode [][]byte, toCallers []execItem) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.actor != nil {
		return nil, nil
	}
	var keep []execItem
	for _, item := range b.execQueue {
		switch {
		case item.origin == nil:
			toNode = append(toNode, item.spec.ReturnId)
		case callers && item.spec != leaseEndSpec:
			toCallers = append(toCallers, item)
		default:
			keep = append(keep, item)
		}
	}
	b.execQueue = keep
	return toNode, toCallers
}

// returnTasks hands unstarted tasks back to the node.
func (b *nodeBackend) returnTasks(returnIDs [][]byte) {
	if len(returnIDs) == 0 {
		return
	}
	_ = b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_ReturnTasks{ReturnTasks: &pb.ReturnTasks{ReturnIds: returnIDs}}})
}

// request sends a message that carries a request id and waits for the node's reply.
func (b *nodeBackend) request(build func(id uint64) *pb.ClientMessage) (*pb.Reply, error) {
	return b.requestWithin(-1, build)
}

// errNoReply is requestWithin's error when the reply did not come in time.
var errNoReply = errors.New("the node did not answer in time")

// requestWithin is request waiting at most limit for the reply (negative: no limit).
func (b *nodeBackend) requestWithin(limit time.Duration, build func(id uint64) *pb.ClientMessage) (*pb.Reply, error) {
	var timeout <-chan time.Time
	if limit >= 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	ch := make(chan *pb.Reply, 1)
	b.mu.Lock()
	b.nextReq++
	id := b.nextReq
	b.replies[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.replies, id)
		b.mu.Unlock()
	}()
	if err := b.queue(build(id)); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-b.cw.ctx.Done():
		return nil, ErrShutdown
	case <-timeout:
		return nil, errNoReply
	}
}

// barrier waits until the node has handled every message this process queued before it.
func (b *nodeBackend) barrier() error {
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_Barrier{Barrier: &pb.Barrier{RequestId: req}}}
	})
	if err != nil {
		return err
	}
	if reply.Error != "" {
		return Errorf(CodeGeneric, "%s", reply.Error)
	}
	return nil
}

func (b *nodeBackend) createActor(id ids.ActorID, o ActorOptions) error {
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: &pb.CreateActor{
			RequestId: req, ActorId: id[:], Creation: o.Creation, ClassName: o.ClassName, Name: o.Name,
			Namespace: o.Namespace, MaxRestarts: int32(o.MaxRestarts), MaxConcurrency: int32(o.MaxConcurrency), Detached: o.Detached,
			MaxTaskRetries: int32(o.MaxTaskRetries),
		}}}
	})
	if err != nil {
		return err
	}
	if reply.Error != "" {
		return Errorf(CodeInvalidArgument, "%s", reply.Error)
	}
	return nil
}

func (b *nodeBackend) killActor(id ids.ActorID, noRestart bool) error {
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{RequestId: req, ActorId: id[:], NoRestart: noRestart}}}
	})
	if err != nil {
		return err
	}
	if reply.Error != "" {
		return Errorf(CodeInvalidArgument, "%s", reply.Error)
	}
	// Calls made from now on go to the next incarnation, or fail; never to the killed process.
	if reply.Found {
		b.direct.invalidate(id, reply.Incarnation)
	}
	return nil
}

func (b *nodeBackend) getActor(name, namespace string) (ids.ActorID, string, bool, error) {
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_GetActor{GetActor: &pb.GetActor{RequestId: req, Name: name, Namespace: namespace}}}
	})
	if err != nil {
		return ids.ActorID{}, "", false, err
	}
	if reply.Error != "" {
		return ids.ActorID{}, "", false, Errorf(CodeGeneric, "%s", reply.Error)
	}
	if !reply.Found {
		return ids.ActorID{}, "", false, nil
	}
	id, err := ids.UniqueIDFromBytes(reply.ActorId)
	if err != nil {
		return ids.ActorID{}, "", false, err
	}
	return id, reply.ClassName, true, nil
}

func (b *nodeBackend) close() {
	if b.leases != nil {
		b.leases.close()
	}
	b.direct.close()
	if s := b.callServerOf(); s != nil {
		s.stop()
	}
	b.queueRuns() // (the runs of the last tasks go out with the rest)
	b.sender.Close()
	b.stopStream()
	<-b.recvDone
	if b.conn != nil {
		b.conn.Close()
	}
	b.wakeExec()
}

// Lost is closed when the stream to the node has ended.
func (b *nodeBackend) Lost() <-chan struct{} { return b.recvDone }

// putMessage is the message that stores obj under id at the node (the sender holds it from then).
func putMessage(id ids.ObjectID, obj *objstore.Object) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id[:], Object: wire.ObjectToProto(obj)}}}
}

// refsRemovedMessage is the notice that this process holds none of these objects (raw ids) any
// more.
func refsRemovedMessage(raw [][]byte) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Removed: raw}}}
}

func (b *nodeBackend) submitLeased(spec *pb.TaskSpec) bool {
	return b.leases != nil && b.leases.submit(spec)
}

// submitActor sends an actor call straight to the actor's process.
func (b *nodeBackend) submitActor(actor ids.ActorID, spec *pb.TaskSpec) error {
	return b.direct.submit(actor, spec)
}

// publish makes the node know the objects of list only this process knows (see directCalls).
func (b *nodeBackend) publish(list []ids.ObjectID) { b.direct.publish(list) }

// nodes asks the node for the cluster's nodes (its control store's table).
func (b *nodeBackend) nodes() ([]*pb.NodeInfo, error) {
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_GetNodes{GetNodes: &pb.GetNodes{RequestId: req}}}
	})
	if err != nil {
		return nil, err
	}
	if reply.Error != "" {
		return nil, Errorf(CodeGeneric, "%s", reply.Error)
	}
	return reply.Nodes, nil
}
