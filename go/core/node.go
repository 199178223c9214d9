package core

import (
	"context"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"goray/ids"
	"goray/objstore"
	"goray/rpc/batch"
	pb "goray/rpc/proto"
)

// registerTimeout bounds how long a process waits for its node to accept it.
const registerTimeout = 10 * time.Second

// nodeBackend talks to the node manager over one bidirectional stream.
type nodeBackend struct {
	cw         *CoreWorker
	conn       *grpc.ClientConn
	streamCtx  context.Context
	stopStream context.CancelFunc
	sender     *batch.Sender[*pb.ClientMessage]
	registered chan struct{}
	recvDone   chan struct{}
	execDone   chan struct{}

	mu         sync.Mutex
	subscribed map[ids.ObjectID]bool
	execQueue  []*pb.TaskSpec
	execWake   chan struct{}
	lost       error // why the stream ended, once it has
}

func connectNode(cw *CoreWorker, opts Options) (*nodeBackend, error) {
	if opts.RayletSocket == "" {
		return nil, fmt.Errorf("no node socket to connect to")
	}
	conn, err := grpc.Dial("unix://"+opts.RayletSocket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))
	if err != nil {
		return nil, fmt.Errorf("connecting to the node at %s: %w", opts.RayletSocket, err)
	}
	streamCtx, stop := context.WithCancel(context.Background())
	stream, err := pb.NewNodeManagerClient(conn).Connect(streamCtx)
	if err != nil {
		stop()
		conn.Close()
		return nil, fmt.Errorf("opening the node stream at %s: %w", opts.RayletSocket, err)
	}
	b := &nodeBackend{
		cw: cw, conn: conn, streamCtx: streamCtx, stopStream: stop,
		registered: make(chan struct{}), recvDone: make(chan struct{}), execDone: make(chan struct{}),
		subscribed: map[ids.ObjectID]bool{}, execWake: make(chan struct{}, 1),
	}
	b.sender = batch.NewSender(func(msgs []*pb.ClientMessage) error {
		return stream.Send(&pb.ClientBatch{Messages: msgs})
	})
	workerID := opts.WorkerID
	_ = b.sender.Queue(&pb.ClientMessage{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{
		WorkerId: workerID[:], IsDriver: !opts.IsWorker, Pid: int32(os.Getpid()),
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
		return nil, fmt.Errorf("the node at %s refused this process: %v", opts.RayletSocket, err)
	case <-time.After(registerTimeout):
		b.close()
		return nil, fmt.Errorf("the node at %s did not answer within %v", opts.RayletSocket, registerTimeout)
	}
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
				obj := &objstore.Object{Data: body.Object.Object.GetData(), Kind: body.Object.Object.GetKind(),
					Contained: ids.FromBytesList(body.Object.Object.GetContainedIds())}
				b.cw.storeLocal(id, obj)
			case *pb.ServerMessage_Execute:
				b.mu.Lock()
				b.execQueue = append(b.execQueue, body.Execute.Spec)
				b.mu.Unlock()
				b.wakeExec()
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

// execLoop runs the tasks the node sends, one at a time, and reports each result.
func (b *nodeBackend) execLoop() {
	defer close(b.execDone)
	for {
		b.mu.Lock()
		var spec *pb.TaskSpec
		if len(b.execQueue) > 0 {
			spec = b.execQueue[0]
			b.execQueue = b.execQueue[1:]
		}
		b.mu.Unlock()
		if spec == nil {
			select {
			case <-b.execWake:
				continue
			case <-b.cw.ctx.Done():
				return
			}
		}
		args := make([][]byte, len(spec.Args))
		for i, a := range spec.Args {
			args[i] = a.Data
		}
		obj := b.cw.execute(spec, args)
		_ = b.sender.Queue(&pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{
			TaskId: spec.TaskId, ReturnId: spec.ReturnId,
			Result: &pb.Object{Data: obj.Data, Kind: obj.Kind, ContainedIds: ids.ToBytes(obj.Contained)},
		}}})
		// The node has the result (it was queued before any later message of this process).
		b.cw.releaseResultRefs(obj)
	}
}

func (b *nodeBackend) queue(m *pb.ClientMessage) error {
	if err := b.sender.Queue(m); err != nil {
		return Errorf(CodeShutdown, "the connection to the node is closed: %v", err)
	}
	return nil
}

func (b *nodeBackend) submit(spec *pb.TaskSpec) error {
	return b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: spec}})
}

func (b *nodeBackend) put(id ids.ObjectID, obj *objstore.Object) error {
	return b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{
		ObjectId: id[:], Object: &pb.Object{Data: obj.Data, Kind: obj.Kind, ContainedIds: ids.ToBytes(obj.Contained)},
	}}})
}

func (b *nodeBackend) fetch(list []ids.ObjectID) error {
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
	_ = b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_Blocked{Blocked: &pb.WorkerBlocked{Blocked: blocked}}})
}

func (b *nodeBackend) close() {
	b.sender.Close()
	b.stopStream()
	<-b.recvDone
	b.conn.Close()
	b.wakeExec()
}

// Lost is closed when the stream to the node has ended.
func (b *nodeBackend) Lost() <-chan struct{} { return b.recvDone }
