package raylet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/golang/glog"

	"goray/ids"
	pb "goray/rpc/proto"
)

// localClient is the node's own client of its node manager: how its links to other nodes act on
// this node like any process would (put and pull objects into the store, submit the tasks other
// nodes forward, wait for objects and read them). It speaks the node stream in this process
// (ConnectInProcess): the node's decisions stay in one place, the state.
type localClient struct {
	id     ids.UniqueID
	stream pb.NodeManager_ConnectClient
	cancel context.CancelFunc
	sendMu sync.Mutex

	mu      sync.Mutex
	nextReq uint64
	replies map[uint64]chan *pb.Reply
	objects map[ids.ObjectID][]chan *pb.ObjectReady
	// watchers get objects no channel waits for, in turn, on the receiving goroutine (see watch).
	watchers map[ids.ObjectID][]watcher
	done     chan struct{} // closed when the stream ends
	err      error
}

// errNodeStopped is the error of a local client whose node stopped.
var errNodeStopped = errors.New("the node manager stopped")

// connectLocal registers the node's own client.
func (r *Raylet) connectLocal() (*localClient, error) {
	ctx, cancel := context.WithCancel(r.ctx)
	stream, err := r.ConnectInProcess(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	lc := &localClient{id: ids.NewUniqueID(), stream: stream, cancel: cancel, replies: map[uint64]chan *pb.Reply{},
		objects: map[ids.ObjectID][]chan *pb.ObjectReady{}, watchers: map[ids.ObjectID][]watcher{}, done: make(chan struct{})}
	r.mu.Lock()
	r.agentID = lc.id
	r.mu.Unlock()
	if err := stream.Send(&pb.ClientBatch{Messages: []*pb.ClientMessage{{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{
		WorkerId: lc.id[:], IsDriver: true, Pid: int32(os.Getpid()),
	}}}}}); err != nil {
		cancel()
		return nil, err
	}
	first, err := stream.Recv()
	if err != nil || len(first.Messages) == 0 || first.Messages[0].GetRegistered() == nil {
		cancel()
		return nil, fmt.Errorf("the node manager did not register its own client: %v", err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		lc.recvLoop()
	}()
	return lc, nil
}

func (lc *localClient) recvLoop() {
	defer close(lc.done)
	for {
		b, err := lc.stream.Recv()
		if err != nil {
			lc.mu.Lock()
			lc.err = err
			lc.mu.Unlock()
			return
		}
		for _, m := range b.Messages {
			switch body := m.Body.(type) {
			case *pb.ServerMessage_Reply:
				lc.mu.Lock()
				ch := lc.replies[body.Reply.RequestId]
				delete(lc.replies, body.Reply.RequestId)
				lc.mu.Unlock()
				if ch != nil {
					ch <- body.Reply
				}
			case *pb.ServerMessage_Object:
				id, err := ids.ObjectIDFromBytes(body.Object.ObjectId)
				if err != nil {
					continue
				}
				lc.mu.Lock()
				var ch chan *pb.ObjectReady
				var watcher func(*pb.ObjectReady)
				if q := lc.objects[id]; len(q) > 0 {
					ch = q[0]
					if len(q) == 1 {
						delete(lc.objects, id)
					} else {
						lc.objects[id] = q[1:]
					}
				} else if q := lc.watchers[id]; len(q) > 0 {
					watcher = q[0].f
					if len(q) == 1 {
						delete(lc.watchers, id)
					} else {
						lc.watchers[id] = q[1:]
					}
				}
				lc.mu.Unlock()
				switch {
				case ch != nil:
					ch <- body.Object
				case watcher != nil:
					watcher(body.Object)
				case body.Object.GetObject().GetInShm():
					lc.release(id) // nobody waits for it any more
				}
			}
		}
	}
}

// send sends messages in one batch.
func (lc *localClient) send(msgs ...*pb.ClientMessage) error {
	lc.sendMu.Lock()
	defer lc.sendMu.Unlock()
	return lc.stream.Send(&pb.ClientBatch{Messages: msgs})
}

// request sends the message make builds with a new request id and waits for its reply.
func (lc *localClient) request(ctx context.Context, build func(requestID uint64) *pb.ClientMessage) (*pb.Reply, error) {
	ch := make(chan *pb.Reply, 1)
	lc.mu.Lock()
	lc.nextReq++
	id := lc.nextReq
	lc.replies[id] = ch
	lc.mu.Unlock()
	if err := lc.send(build(id)); err != nil {
		return nil, err
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-ctx.Done():
		lc.mu.Lock()
		delete(lc.replies, id)
		lc.mu.Unlock()
		return nil, ctx.Err()
	case <-lc.done:
		return nil, errNodeStopped
	}
}

// subscribe asks for an object: the channel gets it once it exists (or that it is unknown). An
// object in shared memory is pinned for this client until release.
func (lc *localClient) subscribe(id ids.ObjectID) (<-chan *pb.ObjectReady, error) {
	ch := make(chan *pb.ObjectReady, 1)
	lc.mu.Lock()
	lc.objects[id] = append(lc.objects[id], ch)
	lc.mu.Unlock()
	err := lc.send(&pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{id[:]}}}})
	return ch, err
}

// watch has f (owner's) called with object id once it exists (or with that it is unknown), on the client's
// receiving goroutine: f must not block. The caller sends the Subscribe (with others, in one
// batch). An object in shared memory is pinned for this client until release.
func (lc *localClient) watch(id ids.ObjectID, owner interface{}, f func(*pb.ObjectReady)) {
	lc.mu.Lock()
	lc.watchers[id] = append(lc.watchers[id], watcher{owner: owner, f: f})
	lc.mu.Unlock()
}

// watcher is one watch of an object: who asked (so that only they may take it back) and what to
// call.
type watcher struct {
	owner interface{}
	f     func(*pb.ObjectReady)
}

// unwatch forgets owner's watch of id; false when the object came (f has been or is being
// called).
func (lc *localClient) unwatch(id ids.ObjectID, owner interface{}) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	q := lc.watchers[id]
	for i, w := range q {
		if w.owner != owner {
			continue
		}
		q = append(q[:i:i], q[i+1:]...)
		if len(q) == 0 {
			delete(lc.watchers, id)
		} else {
			lc.watchers[id] = q
		}
		return true
	}
	return false
}

// unsubscribe forgets a subscription nobody waits for any more (its object, when it comes, is
// released at once).
func (lc *localClient) unsubscribe(id ids.ObjectID, ch <-chan *pb.ObjectReady) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	q := lc.objects[id]
	for i, c := range q {
		if c == ch {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(lc.objects, id)
	} else {
		lc.objects[id] = q
	}
}

// await waits for a subscribed object.
func (lc *localClient) await(ctx context.Context, id ids.ObjectID, ch <-chan *pb.ObjectReady) (*pb.ObjectReady, error) {
	select {
	case o := <-ch:
		return o, nil
	case <-ctx.Done():
		lc.unsubscribe(id, ch)
		select {
		case o := <-ch: // it came meanwhile
			if o.GetObject().GetInShm() {
				lc.release(id)
			}
		default:
		}
		return nil, ctx.Err()
	case <-lc.done:
		return nil, errNodeStopped
	}
}

// release drops this client's pin of an object in shared memory.
func (lc *localClient) release(list ...ids.ObjectID) {
	if len(list) == 0 {
		return
	}
	if err := lc.send(&pb.ClientMessage{Body: &pb.ClientMessage_ReleaseObjects{ReleaseObjects: &pb.ReleaseObjects{ObjectIds: ids.ToBytes(list)}}}); err != nil {
		glog.V(1).Infof("releasing objects: %v", err)
	}
}

// drop lets go of this client's references to objects (they are freed when nobody else holds
// them).
func (lc *localClient) drop(list ...ids.ObjectID) {
	if len(list) == 0 {
		return
	}
	if err := lc.send(&pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Removed: ids.ToBytes(list)}}}); err != nil {
		glog.V(1).Infof("dropping references: %v", err)
	}
}

// close ends the client's stream.
func (lc *localClient) close() {
	lc.cancel()
}
