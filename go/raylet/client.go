package raylet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/golang/glog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"goray/ids"
	"goray/objstore"
	"goray/resources"
	"goray/rpc/batch"
	"goray/rpc/inproc"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// client is one connected core worker: a driver or one of the node's workers.
type client struct {
	id       ids.UniqueID
	isDriver bool
	pid      int32
	worker   *worker
	job      *job                      // its job: a worker's, or the one a driver registered with
	agent    bool                      // the node's own client (localclient.go): it asks about actors this node hosts
	out      outbox                    // its messages, sent by a goroutine of its own
	held     map[ids.ObjectID]struct{} // objects it holds refs to (see refs.go)
	pins     map[ids.ObjectID]int      // shared-memory objects it may be reading (see shmstore.go)
	expects  map[ids.ObjectID]struct{} // objects it promised to put (ExpectObjects; see refs.go)
	waits    map[*actor]int            // its parked WaitActor requests, per actor (see actors.go)
	metrics  map[string]*pb.MetricDef  // the definitions of the metrics it recorded (metrics.go)
}

// outbox queues a client's messages without blocking (a batch.Sender drains it to the stream).
type outbox interface {
	Queue(m *pb.ServerMessage) error
}

// sendUnknown tells the client that the node has no object id and expects none.
func (c *client) sendUnknown(id ids.ObjectID) {
	c.send(&pb.ServerMessage{Body: &pb.ServerMessage_Object{Object: &pb.ObjectReady{ObjectId: id[:], Unknown: true}}})
}

// String names the client in messages.
func (c *client) String() string {
	if c.worker != nil {
		return c.worker.String()
	}
	return fmt.Sprintf("driver %s (pid %d)", c.id.Hex()[:12], c.pid)
}

func (c *client) send(m *pb.ServerMessage) {
	if err := c.out.Queue(m); err != nil {
		glog.V(1).Infof("dropping a message to %s: %v", c, err)
	}
}

func (c *client) sendObject(id ids.ObjectID, obj *objstore.Object) {
	c.send(&pb.ServerMessage{Body: &pb.ServerMessage_Object{Object: &pb.ObjectReady{
		ObjectId: id[:],
		Object:   wire.ObjectToProto(obj),
	}}})
}

// ConnectInProcess opens a stream to this node manager from a core worker in its own process
// (the driver of an embedded node): the same handler as Connect, without a socket or marshalling.
// After the registration, the driver's batches are handled on the goroutine that sends them (no
// hand-off to the node's goroutine on the submit path). The stream ends when ctx is cancelled or
// the node stops.
func (r *Raylet) ConnectInProcess(ctx context.Context) (pb.NodeManager_ConnectClient, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, status.Error(codes.Unavailable, "node is shutting down")
	}
	p := inproc.New[*pb.ClientBatch, *pb.ServerBatch](ctx, r.ctx)
	d := &directStream{ClientEnd: p.Client(), r: r, ctx: ctx, registered: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.serve(p.Server(), d.setClient)
		d.setClient(nil) // refused or ended before registering: later sends fail
		p.Server().Finish(err)
	}()
	return d, nil
}

// directStream is the client end of an in-process stream whose batches after the first (the
// registration, which the node's goroutine handles as on any stream) are handled on the sending
// goroutine. Sends come one at a time (the core worker's sender sees to that).
type directStream struct {
	*inproc.ClientEnd[*pb.ClientBatch, *pb.ServerBatch]
	r          *Raylet
	ctx        context.Context
	sentFirst  bool
	once       sync.Once
	registered chan struct{} // closed once c is known (nil: the stream ended unregistered)
	c          *client
}

func (d *directStream) setClient(c *client) {
	d.once.Do(func() {
		d.c = c
		close(d.registered)
	})
}

// Send hands the first batch to the node's goroutine and handles the others here.
func (d *directStream) Send(b *pb.ClientBatch) error {
	if !d.sentFirst {
		d.sentFirst = true
		return d.ClientEnd.Send(b)
	}
	select {
	case <-d.registered:
	case <-d.ctx.Done():
		return d.ctx.Err()
	}
	if d.c == nil {
		return io.EOF
	}
	gone := false
	d.r.do(func(s *state) {
		if s.stopped || !s.clients[d.c] {
			gone = true
			return
		}
		s.handle(d.c, b.Messages)
	})
	if gone {
		return io.EOF
	}
	return nil
}

// Connect serves one core worker's stream: the first message registers it, the rest are its
// submissions, objects, subscriptions and results.
func (r *Raylet) Connect(stream pb.NodeManager_ConnectServer) error {
	return r.serve(stream, nil)
}

// serve is Connect; registered, if set, learns the client once it is registered (with the node's
// lock held, before any later message of the stream is handled).
func (r *Raylet) serve(stream pb.NodeManager_ConnectServer, registered func(*client)) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if len(first.Messages) == 0 || first.Messages[0].GetRegister() == nil {
		return status.Error(codes.InvalidArgument, "the first message on a node stream must register the client")
	}
	reg := first.Messages[0].GetRegister()
	id, err := ids.UniqueIDFromBytes(reg.WorkerId)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "register: %v", err)
	}
	c := &client{id: id, isDriver: reg.IsDriver, pid: reg.Pid, held: map[ids.ObjectID]struct{}{}}
	sender := batch.NewSender(func(msgs []*pb.ServerMessage) error {
		return stream.Send(&pb.ServerBatch{Messages: msgs})
	})
	defer sender.Close()
	c.out = sender

	var refused error
	r.do(func(s *state) {
		if s.stopped {
			refused = status.Error(codes.Unavailable, "node is shutting down")
			return
		}
		var w *worker
		if reg.IsDriver {
			j, err := s.jobOf(reg.Job)
			if err != nil {
				glog.Warningf("refused a driver (pid %d): %v", reg.Pid, err)
				refused = status.Errorf(codes.InvalidArgument, "register: %v", err)
				return
			}
			c.job = j
		} else {
			w = r.awaitSpawn(id)
			if s.stopped {
				refused = status.Error(codes.Unavailable, "node is shutting down")
				return
			}
			if w == nil || w.client != nil {
				glog.Warningf("refused a worker registration with unknown id %s from pid %d", id.Hex(), reg.Pid)
				refused = status.Errorf(codes.PermissionDenied, "worker %s was not started by this node", id.Hex())
				return
			}
		}
		s.connected(c, w, first.Messages[1:])
		if registered != nil {
			registered(c)
		}
	})
	if refused != nil {
		return refused
	}
	glog.V(1).Infof("%s connected", c)

	for {
		b, err := stream.Recv()
		if err != nil {
			r.do(func(s *state) { s.clientGone(c, err) })
			return nil
		}
		r.do(func(s *state) { s.handle(c, b.Messages) })
	}
}

// connected is the event of a client's registration (w: the node's worker process it is, nil for
// a driver), with the messages that came with it.
func (s *state) connected(c *client, w *worker, msgs []*pb.ClientMessage) {
	if w != nil {
		w.client = c
		c.worker = w
		c.job = w.job
		s.startSucceeded()
	} else {
		if c.job == nil {
			c.job = s.defaultJob
		}
		c.agent = s.agentID != (ids.UniqueID{}) && c.id == s.agentID
		s.driverJoined(c, c.job)
	}
	s.clients[c] = true
	s.byWorker[c.id] = c
	c.send(&pb.ServerMessage{Body: &pb.ServerMessage_Registered{Registered: s.registered()}})
	if w != nil {
		if w.actor != nil {
			s.actorWorkerRegistered(w)
			s.schedule() // a start slot is free
		} else {
			s.workerIdle(w)
		}
	}
	s.handle(c, msgs)
}

// clientGone is the event of a client's stream ending: the node forgets it (its parked requests,
// its references; the objects it promised to put fail), and a worker's process is stopped (its
// reaper deals with the task it ran).
func (s *state) clientGone(c *client, err error) {
	delete(s.clients, c)
	if s.byWorker[c.id] == c {
		delete(s.byWorker, c.id)
	}
	s.dropWaiters(c)
	s.refsClientGone(c)
	for _, g := range s.groups {
		if g.creator == c {
			g.creator = nil // (nobody left to tell of its states)
		}
	}
	s.failExpected(c)
	s.dropHolder(c)
	s.dropShmClient(c)
	if c.worker == nil {
		s.driverLeft(c.job)
	}
	if w := c.worker; w != nil && !w.exited && !s.stopped {
		glog.Warningf("%s closed its stream (%v); stopping it", w, err)
		s.removeIdle(w)
		s.kill(w)
	}
}

// handle applies a batch of messages from c. Called with r.mu held.
func (s *state) handle(c *client, msgs []*pb.ClientMessage) {
	for _, m := range msgs {
		if err := s.handleOne(c, m); err != nil {
			glog.Warningf("bad message from %s: %v", c, err)
		}
	}
}

func (s *state) handleOne(c *client, m *pb.ClientMessage) error {
	switch body := m.Body.(type) {
	case *pb.ClientMessage_Submit:
		body.Submit.CallerId = c.id[:]
		if ret, err := ids.ObjectIDFromBytes(body.Submit.ReturnId); err == nil {
			s.addHolder(c, ret)
		}
		if body.Submit.TaskType == taskActorMethod {
			return s.refuseActorCall(body.Submit)
		}
		j := c.job
		if body.Submit.Job != nil { // forwarded by another node
			var err error
			if j, err = s.jobOf(body.Submit.Job); err != nil {
				ret, _ := ids.ObjectIDFromBytes(body.Submit.ReturnId)
				s.putObject(ret, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("invalid forwarded task: " + err.Error())})
				return err
			}
		}
		s.submit(j, body.Submit, c.agent)
	case *pb.ClientMessage_Put:
		id, err := ids.ObjectIDFromBytes(body.Put.ObjectId)
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		s.addHolder(c, id)
		s.putObject(id, wire.ObjectFromProto(body.Put.Object))
	case *pb.ClientMessage_Subscribe:
		for _, raw := range body.Subscribe.ObjectIds {
			id, err := ids.ObjectIDFromBytes(raw)
			if err != nil {
				return fmt.Errorf("subscribe: %w", err)
			}
			if obj, ok := s.store.Get(id); ok {
				s.sendObjectTo(c, id, obj)
			} else if s.comingUp(id) {
				s.subscribers[id] = append(s.subscribers[id], c)
				s.want(id)
			} else if s.inCluster() && !c.agent {
				// Looked for on the other nodes meanwhile. (Never for the node's own client: a
				// node looking for an object another node asks it for would wait for that node's
				// look, which may wait for its own.)
				s.locate(id)
				s.subscribers[id] = append(s.subscribers[id], c)
			} else {
				c.sendUnknown(id)
			}
		}
	case *pb.ClientMessage_Done:
		return s.taskDone(c, body.Done)
	case *pb.ClientMessage_Blocked:
		w := c.worker
		if w == nil || w.blocked == body.Blocked.Blocked {
			return nil
		}
		held := w.lease
		if w.task != nil {
			held = w.task.alloc
		}
		if held == nil {
			return nil
		}
		w.blocked = body.Blocked.Blocked
		if w.blocked {
			s.blocked++
			s.ledger.ReleasePart(held, resources.CPU) // a blocked worker lends its CPU
		} else {
			s.blocked--
			s.ledger.Reacquire(held, resources.CPU)
		}
		s.schedule()
	case *pb.ClientMessage_CreateActor:
		s.createActor(c, body.CreateActor)
	case *pb.ClientMessage_KillActor:
		s.killActor(c, body.KillActor)
	case *pb.ClientMessage_GetActor:
		s.getActor(c, body.GetActor)
	case *pb.ClientMessage_WaitActor:
		s.waitActor(c, body.WaitActor)
	case *pb.ClientMessage_ExpectObjects:
		list, err := ids.ObjectIDsFromBytes(body.ExpectObjects.ObjectIds)
		if err != nil {
			return fmt.Errorf("expect objects: %w", err)
		}
		s.expectObjects(c, list)
	case *pb.ClientMessage_LeaseEnded:
		return s.leaseEnded(c.worker)
	case *pb.ClientMessage_Barrier:
		// A client's messages are handled in order: everything it sent before is handled.
		s.reply(c, &pb.Reply{RequestId: body.Barrier.RequestId})
	case *pb.ClientMessage_ActorExiting:
		if c.worker == nil || c.worker.actor == nil {
			return errors.New("actor exit from a process that hosts no actor")
		}
		c.worker.actor.exiting = true
	case *pb.ClientMessage_ReturnTasks:
		if c.worker == nil {
			return errors.New("a driver returned tasks")
		}
		s.returned(c.worker, body.ReturnTasks.ReturnIds)
	case *pb.ClientMessage_UpdateRefs:
		return s.updateRefs(c, body.UpdateRefs)
	case *pb.ClientMessage_CreateObject:
		s.createObject(c, body.CreateObject)
	case *pb.ClientMessage_SealObject:
		return s.sealObject(c, body.SealObject)
	case *pb.ClientMessage_ReleaseObjects:
		return s.releaseObjects(c, body.ReleaseObjects)
	case *pb.ClientMessage_CreatePlacementGroup:
		if g := body.CreatePlacementGroup.GetGroup(); g != nil && c.job != nil {
			g.JobId = c.job.id
		}
		s.createGroup(c, body.CreatePlacementGroup)
	case *pb.ClientMessage_RemovePlacementGroup:
		s.removeGroupRequest(c, body.RemovePlacementGroup)
	case *pb.ClientMessage_WaitPlacementGroup:
		s.waitGroup(c, body.WaitPlacementGroup)
	case *pb.ClientMessage_GetPlacementGroups:
		s.getGroups(c, body.GetPlacementGroups)
	case *pb.ClientMessage_GetNodes:
		s.eff.nodeLists = append(s.eff.nodeLists, nodeList{c: c, requestID: body.GetNodes.RequestId})
	case *pb.ClientMessage_PrepareBundles, *pb.ClientMessage_CommitBundles, *pb.ClientMessage_ReturnBundles:
		return s.bundleRequest(c, m)
	case *pb.ClientMessage_RecordMetrics:
		return s.recordMetrics(c, body.RecordMetrics)
	case *pb.ClientMessage_TaskEvents:
		s.tasksRan(c, body.TaskEvents.Events)
		return nil
	case *pb.ClientMessage_RefsReport:
		s.refsReported(c, body.RefsReport)
		return nil
	case *pb.ClientMessage_Register:
		return errors.New("register sent twice")
	default:
		return fmt.Errorf("unknown message %T", m.Body)
	}
	return nil
}

func (s *state) taskDone(c *client, done *pb.TaskDone) error {
	w := c.worker
	if w == nil {
		return errors.New("a driver reported a task result")
	}
	if w.actor != nil {
		return s.actorTaskDone(w, done)
	}
	t := w.task
	if t == nil || string(done.ReturnId) != string(t.spec.ReturnId) {
		return fmt.Errorf("%s reported a result for a task it was not running", w)
	}
	w.task = nil
	if t.isLease() {
		s.leaseStarted(w, t, done)
		return nil
	}
	s.release(t)
	if w.blocked {
		w.blocked = false
		s.blocked--
	}
	if done.Result == nil {
		done.Result = &pb.Object{Kind: objstore.KindTaskError, Data: []byte("the worker returned no result")}
	}
	s.finishOrRetry(t, s.resultFromWorker(c, t.returnID, wire.ObjectFromProto(done.Result)))
	if len(w.queued) > 0 {
		// The worker has started the next queued task already.
		next := w.queued[0]
		w.queued[0] = nil
		w.queued = w.queued[1:]
		next.alloc = s.ledger.AllocateAnyway(next.demand) // it runs already
		w.task = next
		s.schedule()
	} else {
		s.workerIdle(w)
	}
	return nil
}

// workerIdle makes w available: it takes waiting work, or, when none waits at the node, work
// queued on a busy worker. Called with r.mu held.
func (s *state) workerIdle(w *worker) {
	s.idle = append(s.idle, w)
	s.schedule()
	if w.job.ended && w.task == nil && s.isIdle(w) {
		s.removeIdle(w) // nothing of its job runs any more
		s.kill(w)
		return
	}
	if w.task == nil && s.ready.len() == 0 {
		s.reclaimFor(w)
	}
}
