package core

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"goray/ids"
	"goray/objstore"
	"goray/rpc/auth"
	"goray/rpc/batch"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// directCalls is the caller's side of actor calls: each call goes straight to the actor's
// process over one stream per actor (service CoreWorker), in the order the caller made them, and
// its result comes back on the same stream. The node manager only says where the actor takes
// calls (WaitActor) and why an incarnation ended.
//
// A small result lives only in this process (refCounter.markLocal) until something refers to
// it elsewhere: publish then puts it to the node (or, while it is still on its way, promises it
// with ExpectObjects and puts it when it comes) before the message that refers to it.
type directCalls struct {
	cw *CoreWorker
	b  *nodeBackend

	mu     sync.Mutex
	actors map[ids.ActorID]*actorClient
	// pending: results on their way, with the refs their calls hold (the call's ObjectRef
	// arguments and the refs inside its arguments) until they come.
	pending map[ids.ObjectID][]ids.ObjectID
	// promised: pending results the node was told to expect; put to it when they come.
	promised map[ids.ObjectID]bool
	// argWaiters: actors whose next call waits for this pending result (it is passed inline).
	argWaiters map[ids.ObjectID][]*actorClient
	closed     bool
}

func newDirectCalls(cw *CoreWorker, b *nodeBackend) *directCalls {
	return &directCalls{cw: cw, b: b, actors: map[ids.ActorID]*actorClient{}, pending: map[ids.ObjectID][]ids.ObjectID{},
		promised: map[ids.ObjectID]bool{}, argWaiters: map[ids.ObjectID][]*actorClient{}}
}

// actorClient is this process's connection to one actor: calls not sent yet (waiting for the
// actor to be alive, or for a result passed to them), and the stream to its current incarnation.
type actorClient struct {
	d  *directCalls
	id ids.ActorID

	mu        sync.Mutex
	queue     []*pb.TaskSpec // not sent yet, in order
	stream    *callStream    // nil while the actor is not reachable
	resolving bool           // a WaitActor is under way
	reached   int32          // the last incarnation connected to (-1: none)
	killed    int32          // incarnations up to this one were killed by this process (-1: none)
	dead      bool
	cause     string // why it is dead
	pumping   bool   // one goroutine sends at a time, so calls leave in order
	again     bool   // pump again: something changed while pumping
	waitArg   bool   // the next call waits for a pending result
	// maxTaskRetries is the actor's max_task_retries (from the node's answers; -1: no limit).
	maxTaskRetries int
}

// sentCall is a call in flight on a stream, numbered in the order it was sent.
type sentCall struct {
	spec *pb.TaskSpec
	seq  uint64
}

// callStream is one stream to one incarnation of an actor.
type callStream struct {
	conn        *grpc.ClientConn
	stream      pb.CoreWorker_ActorCallsClient
	cancel      context.CancelFunc
	sender      *batch.Sender[*pb.TaskSpec]
	incarnation int32
	inflight    map[ids.ObjectID]sentCall // sent, no result yet (guarded by actorClient.mu)
	sent        uint64                    // calls sent on it (sentCall.seq)
	// remote: the actor is on TCP (a cluster's node, perhaps another machine): arguments in this
	// node's shared memory travel by value.
	remote bool
}

// submit sends an actor call (task id and return id set) on its way.
func (d *directCalls) submit(actor ids.ActorID, spec *pb.TaskSpec) error {
	ret, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		return err
	}
	spec.CallerId = d.cw.opts.WorkerID[:] // the holder of its result, if that goes to shared memory
	d.cw.refs.markLocal(ret)
	// The call holds what its arguments refer to until its result comes.
	held := wire.ArgRefs(spec)
	d.cw.refs.add(held...)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		d.cw.refs.remove(held...)
		return ErrShutdown
	}
	d.pending[ret] = held
	c := d.actors[actor]
	if c == nil {
		c = &actorClient{d: d, id: actor, reached: -1, killed: -1}
		d.actors[actor] = c
	}
	d.mu.Unlock()
	c.mu.Lock()
	if c.dead {
		cause := c.cause
		c.mu.Unlock()
		d.arrived(ret, actorDied(cause))
		return nil
	}
	c.queue = append(c.queue, spec)
	if c.stream == nil {
		c.startResolve()
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	c.pump()
	return nil
}

// isPending tells whether id is a direct call's result still on its way (it comes on the
// actor's stream, not from the node).
func (d *directCalls) isPending(id ids.ObjectID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.pending[id]
	return ok
}

// withoutPending is list less the results on their way.
func (d *directCalls) withoutPending(list []ids.ObjectID) []ids.ObjectID {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		return list
	}
	out := list[:0:0]
	for _, id := range list {
		if _, ok := d.pending[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// arrived stores a direct call's result (or its failure) and wakes what waits for it. A result
// promised to the node (publish) is put to it, whether or not this process still refers to it.
func (d *directCalls) arrived(id ids.ObjectID, obj *objstore.Object) {
	if obj.InShm && d.cw.shm == nil {
		obj = &objstore.Object{Kind: objstore.KindLost, Data: []byte("the result is in the node's shared memory, which this process could not map")}
	}
	var drop [][]byte // references the node counts for this process that nothing here holds
	if obj.InShm {
		// The node stored it for this process, which holds it and may read it (see
		// SealObject.holder_id): it is the node's object like any other, promised or not.
		if !d.cw.refs.heldByNode(id) || !d.storeKnown(id, obj) {
			drop = append(drop, id[:])
			d.cw.shm.release([][]byte{id[:]})
		}
	} else {
		d.storeKnown(id, obj)
	}
	if len(obj.Contained) > 0 && !d.cw.refs.known(id) {
		// The actor made this process hold the refs inside (UpdateRefs.holder_id); nothing
		// here keeps the result, so nothing holds them.
		drop = append(drop, ids.ToBytes(obj.Contained)...)
	}
	// Stored before it stops being pending, under the lock publish decides under: publish either
	// promised it already (it is put here) or finds it stored.
	d.mu.Lock()
	held := d.pending[id]
	delete(d.pending, id)
	promised := d.promised[id] && !obj.InShm // (sealing one in shared memory put it)
	delete(d.promised, id)
	if promised {
		_ = d.b.sender.Enqueue(putMessage(id, obj)) // in order after the promise (both under d.mu)
		if !d.cw.refs.known(id) {
			// The put makes this process a holder again: nothing here refers to it any more.
			drop = append(drop, id[:])
		}
	}
	if len(drop) > 0 {
		_ = d.b.sender.Enqueue(refsRemovedMessage(drop))
	}
	waiters := d.argWaiters[id]
	delete(d.argWaiters, id)
	d.mu.Unlock()
	if promised || len(drop) > 0 {
		_ = d.b.sender.Flush()
	}
	if len(held) > 0 {
		d.cw.dropUnread(held) // large arguments fetched for the call (fetchArg): their pins go
		d.cw.refs.remove(held...)
	}
	d.wake(waiters)
}

// storeKnown stores a result this process still refers to, and reports whether it did. (A ref
// dropped while it is stored releases it: the check is made again after.)
func (d *directCalls) storeKnown(id ids.ObjectID, obj *objstore.Object) bool {
	if !d.cw.refs.known(id) || !d.cw.storeLocal(id, obj) {
		return false
	}
	if !d.cw.refs.known(id) {
		d.cw.release(id)
		return false
	}
	return true
}

// wake pumps the actors whose next call waited for an object.
func (d *directCalls) wake(waiters []*actorClient) {
	for _, c := range waiters {
		c.mu.Lock()
		c.waitArg = false
		c.mu.Unlock()
		c.pump()
	}
}

// publish makes the node know the objects of list that only this process knows, before any
// message that refers to them: results here are put, results on their way are promised
// (ExpectObjects) and put when they come. The messages are queued on the node stream, so a
// message queued after publish reaches the node after them. It reports whether it queued any.
func (d *directCalls) publish(list []ids.ObjectID) bool {
	local := d.cw.refs.takeLocal(list)
	if len(local) == 0 {
		return false
	}
	var expect [][]byte
	d.mu.Lock()
	for _, id := range local {
		id := id
		if _, ok := d.pending[id]; ok {
			d.promised[id] = true
			expect = append(expect, id[:])
			continue
		}
		obj, ok := d.cw.store.Get(id)
		if !ok {
			obj = &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("object %s was released by its owner", id.Hex()))}
		}
		_ = d.b.sender.Enqueue(putMessage(id, obj))
	}
	if len(expect) > 0 {
		_ = d.b.sender.Enqueue(&pb.ClientMessage{Body: &pb.ClientMessage_ExpectObjects{ExpectObjects: &pb.ExpectObjects{ObjectIds: expect}}})
	}
	d.mu.Unlock()
	_ = d.b.sender.Flush()
	return true
}

// handOn makes the node ready for refs about to leave this process on another stream than the
// node's (to an actor or to a caller): the objects only this process knows are published, the
// receiver (holder, a worker id; nil: none) is counted as holding them, and it waits until the
// node has handled all that and everything queued before (the puts and submissions that made
// them), so that the receiver finds them there.
func (d *directCalls) handOn(list []ids.ObjectID, holder []byte) error {
	if len(list) == 0 {
		return nil
	}
	d.publish(list)
	if len(holder) > 0 {
		_ = d.b.sender.Enqueue(&pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{
			Added: ids.ToBytes(list), HolderId: holder,
		}}})
	}
	return d.b.barrier()
}

// invalidate drops the stream to an actor's incarnation this process killed (and any up to it):
// calls made from now on go to the next incarnation, or fail.
func (d *directCalls) invalidate(actor ids.ActorID, killed int32) {
	d.mu.Lock()
	c := d.actors[actor]
	d.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	if killed > c.killed {
		c.killed = killed
	}
	if st := c.stream; st != nil && st.incarnation <= c.killed {
		c.lose(st)
	}
	c.mu.Unlock()
}

// close ends every stream; results on their way fail with ErrShutdown's text.
func (d *directCalls) close() {
	d.mu.Lock()
	d.closed = true
	list := make([]*actorClient, 0, len(d.actors))
	for _, c := range d.actors {
		list = append(list, c)
	}
	d.mu.Unlock()
	for _, c := range list {
		c.mu.Lock()
		st := c.stream
		c.stream = nil
		c.mu.Unlock()
		if st != nil {
			st.close()
		}
	}
}

// close ends the stream and its connection (after any send under way).
func (st *callStream) close() {
	st.cancel()
	st.sender.Close()
	_ = st.conn.Close()
}

// startResolve asks the node where the actor takes calls, unless a request is under way.
// Called with c.mu held.
func (c *actorClient) startResolve() {
	if c.resolving || c.dead {
		return
	}
	c.resolving = true
	go c.resolve(c.reached)
}

// resolve waits for the actor to be alive in an incarnation after the one given, connects to it
// and sends the queued calls; or fails them when the actor is dead.
func (c *actorClient) resolve(after int32) {
	failures := 0
	for {
		reply, err := c.d.b.request(func(req uint64) *pb.ClientMessage {
			return &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: req, ActorId: c.id[:], AfterIncarnation: after}}}
		})
		switch {
		case err != nil:
			c.die(fmt.Sprintf("The actor cannot be reached: %v", err))
			return
		case reply.Error != "":
			c.die(reply.Error)
			return
		case reply.ActorDead:
			c.die(reply.Cause)
			return
		}
		c.mu.Lock()
		killed := c.killed
		c.mu.Unlock()
		if reply.Incarnation <= killed {
			after = killed // this process killed it: the next one, or the actor's death
			continue
		}
		st, err := c.d.dial(reply.ActorAddress, reply.Incarnation, nil)
		if err != nil {
			failures++
			glog.Warningf("actor %s (incarnation %d), attempt %d: %v", c.id.Hex(), reply.Incarnation, failures, err)
			if failures >= maxDialFailures {
				after = reply.Incarnation // wait for the next incarnation, or the actor's death
				failures = 0
			} else {
				time.Sleep(time.Duration(failures) * 20 * time.Millisecond)
			}
			continue
		}
		c.mu.Lock()
		if st.incarnation <= c.killed || c.d.cw.closed() {
			// Killed meanwhile (or shutting down): ask again.
			after = c.killed
			c.mu.Unlock()
			st.close()
			if c.d.cw.closed() {
				return
			}
			continue
		}
		c.resolving = false
		c.reached = st.incarnation
		c.maxTaskRetries = int(reply.MaxTaskRetries)
		c.stream = st
		c.mu.Unlock()
		go c.receive(st)
		c.pump()
		return
	}
}

// callKeepalive is how long a TCP call stream may be silent before the caller checks that the
// other side is there (and how long it waits for the answer).
const callKeepalive = 20 * time.Second

// maxDialFailures is how many times in a row a caller tries to open a stream to an incarnation
// the node says is alive before it waits for the next one.
const maxDialFailures = 5

// dial opens a stream to an actor's process at address (a gRPC target: unix:///path,
// unix-abstract:name), or to a leased worker's (host:port; md names the lease).
func (d *directCalls) dial(address string, incarnation int32, md metadata.MD) (*callStream, error) {
	if address == "" {
		return nil, fmt.Errorf("the node gave no address")
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if !strings.HasPrefix(address, "unix") { // an actor of a cluster's node, on TCP
		var err error
		if opts, err = auth.DialOptions(d.cw.opts.Token); err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", address, err)
		}
		// A machine that vanishes (no FIN) is noticed: its calls fail instead of waiting.
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: callKeepalive, Timeout: callKeepalive}))
	}
	conn, err := grpc.Dial(address, append(opts,
		grpc.WithInitialWindowSize(streamWindow), grpc.WithInitialConnWindowSize(streamWindow),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", address, err)
	}
	ctx, cancel := context.WithCancel(d.cw.ctx)
	if md != nil {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	stream, err := pb.NewCoreWorkerClient(conn).ActorCalls(ctx)
	if err != nil {
		cancel()
		_ = conn.Close()
		return nil, fmt.Errorf("opening the call stream at %s: %w", address, err)
	}
	st := &callStream{conn: conn, stream: stream, cancel: cancel, incarnation: incarnation, inflight: map[ids.ObjectID]sentCall{},
		remote: !strings.HasPrefix(address, "unix")}
	st.sender = batch.NewInlineSender(func(calls []*pb.TaskSpec) error {
		return stream.Send(&pb.CallBatch{Calls: calls})
	})
	st.sender.AllowBursts(d.b.burstsAllowed())
	return st, nil
}

// receive takes the results of one stream until it ends.
func (c *actorClient) receive(st *callStream) {
	for {
		batchMsg, err := st.stream.Recv()
		if err != nil {
			c.mu.Lock()
			c.lose(st)
			c.mu.Unlock()
			return
		}
		for _, r := range batchMsg.Results {
			ret, err := ids.ObjectIDFromBytes(r.ReturnId)
			if err != nil {
				glog.Warningf("actor %s sent a result with a bad id: %v", c.id.Hex(), err)
				continue
			}
			c.mu.Lock()
			_, ours := st.inflight[ret]
			delete(st.inflight, ret)
			exiting := r.ActorExiting && c.stream == st
			if exiting {
				// ray::ExitActor: nothing more goes to this incarnation; the node says what next.
				c.stream = nil
				c.startResolve()
			}
			c.mu.Unlock()
			if exiting {
				// The end of this side tells the actor its caller has the result. (After any
				// send under way: a stream's CloseSend must not race its Send.)
				go func() {
					st.sender.Close()
					_ = st.stream.CloseSend()
				}()
			}
			obj := wire.ObjectFromProto(r.Result)
			if !ours {
				glog.Warningf("actor %s sent a result for a call this process is not waiting for", c.id.Hex())
				c.d.unwanted(ret, obj)
				continue
			}
			c.d.arrived(ret, obj)
		}
	}
}

// unwanted lets go of what the node keeps for this process of a result it does not wait for (a
// large result sealed for it, the refs inside it).
func (d *directCalls) unwanted(ret ids.ObjectID, obj *objstore.Object) {
	drop := ids.ToBytes(obj.Contained)
	var unpin [][]byte
	if obj.InShm {
		unpin = [][]byte{ret[:]}
		drop = append(drop, ret[:])
	}
	d.letGo(unpin, drop)
}

// letGo tells the node this process no longer reads the objects of unpin nor holds those of drop
// (raw ids), which the node may keep for it.
func (d *directCalls) letGo(unpin, drop [][]byte) {
	if len(unpin) > 0 && d.cw.shm != nil {
		d.cw.shm.release(unpin)
	}
	if len(drop) > 0 {
		_ = d.b.queue(refsRemovedMessage(drop))
	}
}

// takeRetries takes from inflight the calls that a max_task_retries of max allows to go to the
// next incarnation, and returns them in the order they were sent, each with one more attempt.
func takeRetries(inflight map[ids.ObjectID]sentCall, max int) []*pb.TaskSpec {
	var again []sentCall
	for ret, sc := range inflight {
		if max == -1 || int(sc.spec.Attempts) < max {
			again = append(again, sc)
			delete(inflight, ret)
		}
	}
	sort.Slice(again, func(i, j int) bool { return again[i].seq < again[j].seq })
	specs := make([]*pb.TaskSpec, 0, len(again))
	for _, sc := range again {
		sc.spec.Attempts++
		specs = append(specs, sc.spec)
	}
	return specs
}

// endInflight empties inflight, the calls of a stream that ended: those a max_task_retries of
// max allows go to the next incarnation (again), first in queue and in the order they were
// sent; the others fail (lost). It returns the new queue.
func endInflight(inflight map[ids.ObjectID]sentCall, max int, queue []*pb.TaskSpec) (newQueue, again []*pb.TaskSpec, lost []ids.ObjectID) {
	again = takeRetries(inflight, max)
	for ret := range inflight {
		lost = append(lost, ret)
		delete(inflight, ret)
	}
	return append(again, queue...), again, lost
}

// requeueUnsent puts the calls of unsent (which a broken stream did not take) back at the head
// of queue, in order: those still in inflight, which it takes out. Those the stream's end took
// out already are in the queue, in order (takeRetries), or failed.
func requeueUnsent(inflight map[ids.ObjectID]sentCall, unsent, queue []*pb.TaskSpec) []*pb.TaskSpec {
	rest := make([]*pb.TaskSpec, 0, len(unsent)+len(queue))
	for _, spec := range unsent {
		if ret, err := ids.ObjectIDFromBytes(spec.ReturnId); err == nil {
			if _, ok := inflight[ret]; ok {
				delete(inflight, ret)
				rest = append(rest, spec)
			}
		}
	}
	return append(rest, queue...)
}

// lose detaches a stream that ended (or is dropped): its calls without a result fail with the
// cause the node gives for the end of its incarnation. Called with c.mu held.
func (c *actorClient) lose(st *callStream) {
	var again []*pb.TaskSpec
	var lost []ids.ObjectID
	c.queue, again, lost = endInflight(st.inflight, c.maxTaskRetries, c.queue)
	if len(again) > 0 {
		raw := make([][]byte, 0, len(again))
		for _, spec := range again {
			raw = append(raw, spec.ReturnId)
		}
		glog.Warningf("actor %s: %d calls in flight when incarnation %d ended go to the next (max_task_retries %d)", c.id.Hex(), len(again), st.incarnation, c.maxTaskRetries)
		go c.d.letGo(raw, nil) // (a large result sealed for this process before the end)
	}
	if len(lost) > 0 {
		go c.failLost(lost, st.incarnation)
	}
	if c.stream == st {
		c.stream = nil
	}
	st.cancel() // at once: a send under way ends, and close (which waits for it) does not wait long
	go st.close()
	if len(c.queue) > 0 {
		c.startResolve()
	}
}

// lostCauseWait bounds how long failLost waits for the node to see an incarnation end (a stream
// can break while its process lives on).
const lostCauseWait = 10 * time.Second

// failLost fails calls that were sent to an incarnation that ended, with the cause the node
// gives for its end.
func (c *actorClient) failLost(list []ids.ObjectID, incarnation int32) {
	// A large result the actor sealed for this process before the stream went: the node's pin
	// and hold go (the node ignores them for objects it does not keep for this process).
	raw := ids.ToBytes(list)
	c.d.letGo(raw, raw)
	cause := "The actor's process ended while running this call"
	reply, err := c.d.b.requestWithin(lostCauseWait, func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{
			RequestId: req, ActorId: c.id[:], AfterIncarnation: incarnation, EndedOnly: true}}}
	})
	switch {
	case errors.Is(err, errNoReply):
		cause = fmt.Sprintf("The connection to the actor's process broke while running this call (its process still ran %v later)", lostCauseWait)
	case err != nil:
		cause += ": " + err.Error()
	case reply.LostCause != "":
		cause = reply.LostCause
	case reply.Cause != "":
		cause = reply.Cause
	case reply.Error != "":
		cause = reply.Error
	}
	for _, ret := range list {
		c.d.arrived(ret, actorDied(cause))
	}
}

// die fails the queued calls of an actor that is dead for good, and forgets the actor.
func (c *actorClient) die(cause string) {
	c.mu.Lock()
	c.dead, c.cause, c.resolving = true, cause, false
	queue := c.queue
	c.queue = nil
	c.mu.Unlock()
	c.d.mu.Lock()
	if c.d.actors[c.id] == c {
		delete(c.d.actors, c.id)
	}
	c.d.mu.Unlock()
	for _, spec := range queue {
		if ret, err := ids.ObjectIDFromBytes(spec.ReturnId); err == nil {
			c.d.arrived(ret, actorDied(cause))
		}
	}
}

// pump sends the queued calls that can go, in order. One goroutine pumps at a time; whoever
// finds it busy leaves it a note to look again.
func (c *actorClient) pump() {
	c.mu.Lock()
	if c.pumping {
		c.again = true
		c.mu.Unlock()
		return
	}
	c.pumping = true
	for {
		c.again = false
		st := c.stream
		var out []*pb.TaskSpec
		var failed []failedCall
		for st != nil && !c.waitArg && len(c.queue) > 0 {
			spec := c.queue[0]
			wait, errObj := c.d.inlineArgs(spec, st.remote)
			if wait != nil {
				c.waitArg = true
				c.d.waitFor(*wait, c)
				break
			}
			c.queue[0] = nil
			c.queue = c.queue[1:]
			ret, _ := ids.ObjectIDFromBytes(spec.ReturnId)
			if errObj != nil {
				failed = append(failed, failedCall{ret, errObj})
				continue
			}
			st.sent++
			st.inflight[ret] = sentCall{spec, st.sent}
			out = append(out, spec)
		}
		c.mu.Unlock()
		for _, f := range failed {
			c.d.arrived(f.ret, f.obj)
		}
		if len(out) > 0 {
			c.send(st, out)
		}
		c.mu.Lock()
		if !c.again {
			break
		}
	}
	c.pumping = false
	c.mu.Unlock()
}

type failedCall struct {
	ret ids.ObjectID
	obj *objstore.Object
}

// send sends calls on a stream, after making the node ready for the refs inside their arguments
// (the calls hold them until their results come: the actor's own references to them reach the
// node before its results do).
func (c *actorClient) send(st *callStream, calls []*pb.TaskSpec) {
	var contained []ids.ObjectID
	for _, spec := range calls {
		for _, a := range spec.Args {
			contained = append(contained, ids.FromBytesList(a.ContainedIds)...)
		}
	}
	if err := c.d.handOn(contained, nil); err != nil {
		glog.Warningf("actor %s: %v", c.id.Hex(), err)
	}
	for i, spec := range calls {
		if err := st.sender.QueueBurst(spec); err != nil {
			// The stream is broken: the calls not sent go, in order, to the next incarnation
			// (as Ray resends what it never sent); those sent share the incarnation's fate.
			// Those the stream's end took from inflight already are in the queue, in order.
			glog.Warningf("actor %s: sending a call: %v", c.id.Hex(), err)
			c.mu.Lock()
			c.queue = requeueUnsent(st.inflight, calls[i:], c.queue)
			c.lose(st)
			c.mu.Unlock()
			return
		}
	}
}

// waitFor makes c pump again once the argument id is here: a pending result when it comes, any
// other object once the node has sent it (which also proves the node has it, so the actor's
// process finds it there). Called with c.mu held.
func (d *directCalls) waitFor(id ids.ObjectID, c *actorClient) {
	d.mu.Lock()
	if _, ok := d.pending[id]; ok {
		d.argWaiters[id] = append(d.argWaiters[id], c)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	go d.fetchArg(id, c)
}

// fetchArg brings an ObjectRef argument from the node into this process's store (a small one is
// then passed by value; a large one stays pinned here until the call's result comes), and pumps
// c again.
func (d *directCalls) fetchArg(id ids.ObjectID, c *actorClient) {
	if err := d.b.fetch([]ids.ObjectID{id}); err == nil {
		_, _ = d.cw.store.WaitN(d.cw.ctx, []ids.ObjectID{id}, 1)
	}
	d.wake([]*actorClient{c})
}

// inlineArgs passes by value the ObjectRef arguments whose values this process has (small
// objects: its own puts, the results of its calls, objects it fetched), so the actor need not
// fetch them; a large one (in shared memory) goes by reference. It returns the argument the call
// must wait for (a result on its way, or an object to fetch from the node first: a call is sent
// only once its arguments exist, as Ray's callers do), or the error object an argument holds (the
// call then fails with it without running, as a task with a failed argument does). For a remote
// actor, large arguments go by value too (read from this node's shared memory).
func (d *directCalls) inlineArgs(spec *pb.TaskSpec, remote bool) (*ids.ObjectID, *objstore.Object) {
	for i, a := range spec.Args {
		if !a.IsRef {
			continue
		}
		id, err := ids.ObjectIDFromBytes(a.ObjectId)
		if err != nil {
			return nil, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("invalid ObjectRef argument %d: %v", i+1, err))}
		}
		if d.isPending(id) {
			return &id, nil
		}
		obj, ok := d.cw.store.Get(id)
		switch {
		case !ok:
			return &id, nil
		case obj.InShm && remote:
			data, err := d.cw.Bytes(obj)
			if err != nil {
				return nil, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("ObjectRef argument %d: %v", i+1, err))}
			}
			spec.Args[i] = &pb.TaskArg{Data: append([]byte(nil), data...), ContainedIds: ids.ToBytes(obj.Contained)}
			continue
		case obj.InShm || obj.Kind == kindUnknown || obj.Kind == objstore.KindStoreFull:
			continue // the actor's process reads it from the node (or learns it is unknown there)
		case obj.IsError():
			return nil, obj
		}
		spec.Args[i] = &pb.TaskArg{Data: obj.Data, ContainedIds: ids.ToBytes(obj.Contained)}
	}
	return nil, nil
}
