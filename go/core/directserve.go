package core

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	"goray/rpc/auth"
	"goray/rpc/batch"
	"goray/rpc/peercred"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// maxMessage bounds a message on the runtime's streams (gRPC's own default is 4 MiB).
const maxMessage = math.MaxInt32

// maxRemoteResult bounds a direct call's result sent in a message (to a caller on another node):
// a message's bound, less room for the rest of the message.
const maxRemoteResult = maxMessage - 1<<20

// callServer is the actor process's side of direct calls (service CoreWorker): callers' calls go
// into the process's execution queue, in the order each caller sent them, and each result goes
// back on the stream its call came on.
type callServer struct {
	pb.UnimplementedCoreWorkerServer
	b    *nodeBackend
	srv  *grpc.Server
	path string
	// address is where callers on other nodes dial it ("": it serves a unix socket only).
	address string
	done    chan struct{}
}

// callOrigin is one caller's stream: where the results of its calls go.
type callOrigin struct {
	sender *batch.Sender[*pb.CallResult]
	ended  chan struct{} // closed when the caller has ended its side of the stream
	// remote: the caller came over TCP (an actor of a cluster's node), perhaps from another
	// machine: results travel in the message, never as ranges of this node's shared memory.
	remote bool
	// lease: the caller holds this worker's lease (see leaseserve.go).
	lease bool
}

// execItem is a task for this process to run, and the stream to answer on (nil: the node's).
type execItem struct {
	spec   *pb.TaskSpec
	origin *callOrigin
}

// maxSocketPath is the longest unix socket path bind(2) takes (sun_path less its final NUL).
const maxSocketPath = 107

// serveCalls starts taking direct calls and returns the address callers dial (a gRPC target): a
// unix socket in the session's sockets directory, or, when that path is too long for a socket, an
// abstract one named after the actor (both refuse other users' processes).
func (b *nodeBackend) serveCalls(actor ids.ActorID) (string, error) {
	b.mu.Lock()
	dir := b.sessionDir
	b.mu.Unlock()
	if dir == "" {
		return "", errors.New("the node gave no session directory")
	}
	if ip := b.cw.opts.ActorIP; ip != "" {
		return b.serveCallsTCP(ip)
	}
	// Named after the actor: a caller that holds a stale address never reaches another actor.
	// (The id's second half: its first names the owner node, the same for all of a node's actors.)
	path := filepath.Join(dir, "sockets", "a"+actor.Hex()[2*ids.ActorOwnerPrefix:])
	target := "unix://" + path
	if len(path) > maxSocketPath {
		path = fmt.Sprintf("@goray-actor-%s-%d", actor.Hex(), os.Getpid())
		target = "unix-abstract:" + path[1:]
	} else {
		_ = os.Remove(path)
	}
	lis, err := peercred.Listen(path)
	if err != nil {
		return "", fmt.Errorf("listening for actor calls on %s: %w", path, err)
	}
	b.startCallServer(lis, path, nil)
	return target, nil
}

// serveCallsTCP takes direct calls on ip (any free port), from callers that present the
// cluster's token: an actor of a cluster's node, which callers on other machines reach.
func (b *nodeBackend) serveCallsTCP(ip string) (string, error) {
	opts, err := auth.ServerOptions(b.cw.opts.Token)
	if err != nil {
		return "", fmt.Errorf("actor calls: %w", err)
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return "", fmt.Errorf("listening for direct calls on %s: %w", ip, err)
	}
	// Callers' keepalive pings (callKeepalive) are welcome, even between calls.
	opts = append(opts, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: callKeepalive / 2, PermitWithoutStream: true}))
	address := lis.Addr().String()
	b.startCallServer(lis, "", opts).address = address
	return address, nil
}

// startCallServer serves CoreWorker on lis (a unix socket at path, or TCP: path "").
func (b *nodeBackend) startCallServer(lis net.Listener, path string, opts []grpc.ServerOption) *callServer {
	opts = append(opts, grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
		grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(streamWindow))
	s := &callServer{b: b, path: path, done: make(chan struct{}), srv: grpc.NewServer(opts...)}
	pb.RegisterCoreWorkerServer(s.srv, s)
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			// Callers could not reach this actor any more: better it ends, so the node restarts
			// it or reports it dead, than callers wait for ever.
			glog.Errorf("actor calls: %v; the actor process exits", err)
			glog.Flush()
			os.Exit(1)
		}
	}()
	b.mu.Lock()
	b.calls = s
	b.mu.Unlock()
	return s
}

// stop stops taking calls and removes the socket.
func (s *callServer) stop() {
	s.srv.Stop()
	<-s.done
	if s.path != "" && !strings.HasPrefix(s.path, "@") {
		_ = os.Remove(s.path)
	}
}

// ActorCalls takes one caller's calls until the caller ends its side.
func (s *callServer) ActorCalls(stream pb.CoreWorker_ActorCallsServer) error {
	o := &callOrigin{ended: make(chan struct{}), remote: s.path == "",
		sender: batch.NewInlineSender(func(rs []*pb.CallResult) error {
			return stream.Send(&pb.CallResultBatch{Results: rs})
		})}
	o.lease = s.b.claimLease(leaseGenOf(stream.Context()))
	defer func() {
		if o.lease {
			// The lease ends after the tasks this caller sent, which are answered on this
			// stream: it stays open until then (or until the process ends).
			s.b.leaseStreamEnded(o)
			select {
			case <-o.ended:
			case <-s.b.cw.ctx.Done():
			}
			return
		}
		o.sender.Close()
		close(o.ended)
	}()
	for {
		calls, err := stream.Recv()
		if err != nil {
			return nil // the caller ended its side, or went away
		}
		var refused, back []*pb.CallResult
		waiting := false // the tasks handed back arrived while the running one waits in Get
		s.b.mu.Lock()
		for _, spec := range calls.Calls {
			if spec.TaskType == TaskNormal && s.b.actor == nil && s.b.handBack(o) {
				back = append(back, &pb.CallResult{ReturnId: spec.ReturnId, Returned: true})
				waiting = s.b.blockedNow
				continue
			}
			if why := s.b.refuseCall(spec); why != "" {
				refused = append(refused, &pb.CallResult{ReturnId: spec.ReturnId, Result: &pb.Object{Kind: objstore.KindTaskError, Data: []byte(why)}})
				continue
			}
			s.b.execQueue = append(s.b.execQueue, execItem{spec, o})
		}
		s.b.mu.Unlock()
		s.b.wakeExec()
		for _, r := range refused {
			glog.Warningf("refused a direct call: %s", r.Result.Data)
			_ = o.sender.Queue(r)
		}
		if waiting {
			logHandedBack(len(back))
		}
		for _, r := range back {
			_ = o.sender.Queue(r)
		}
	}
}

// refuseCall says why this process does not run a call that came on a call stream ("": it
// does): only method calls of the actor it hosts come that way. Called with b.mu held.
func (b *nodeBackend) refuseCall(spec *pb.TaskSpec) string {
	switch {
	case b.actor == nil && spec.TaskType == TaskNormal:
		return b.refuseLeaseCall(spec)
	case b.actor == nil:
		return "this process hosts no actor"
	case spec.TaskType != TaskActorMethod:
		return fmt.Sprintf("only actor method calls come on an actor's call stream, not task type %d", spec.TaskType)
	case string(spec.ActorId) != string(b.actor.id[:]):
		return fmt.Sprintf("this process hosts actor %s, not %x", b.actor.id.Hex(), spec.ActorId)
	case len(spec.ReturnId) != len(ids.ObjectID{}):
		return "a call without a valid return id"
	}
	return ""
}

// directArgs fetches the ObjectRef arguments of a direct call (the caller passed by value what it
// had): the process holds them, and reads those in shared memory in place, until done runs. A
// failed argument is the call's result instead (failed).
func (b *nodeBackend) directArgs(spec *pb.TaskSpec, args [][]byte, shared []bool) (_ []bool, failed *objstore.Object, done func()) {
	var held, reading []ids.ObjectID
	done = func() {
		for _, id := range reading {
			b.cw.ReleaseRead(id)
		}
		b.cw.refs.remove(held...)
	}
	for i, a := range spec.Args {
		if !a.IsRef {
			continue
		}
		id, err := ids.ObjectIDFromBytes(a.ObjectId)
		if err != nil {
			return shared, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("invalid ObjectRef argument %d: %v", i+1, err))}, done
		}
		b.cw.refs.add(id)
		held = append(held, id)
		objs, err := b.cw.Get([]ids.ObjectID{id}, -1)
		if err != nil {
			if CodeOf(err) == CodeUnknownObject {
				msg := actorrule.UnknownArgument(actorrule.TaskLabel(spec.FunctionName, spec.Name, false), id.Hex())
				return shared, &objstore.Object{Kind: objstore.KindLost, Data: []byte(msg)}, done
			}
			return shared, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("argument %d: %v", i+1, err))}, done
		}
		obj := objs[0]
		if obj.InShm {
			reading = append(reading, id)
		}
		if obj.IsError() {
			return shared, obj, done
		}
		data, err := b.cw.Bytes(obj)
		if err != nil {
			return shared, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("argument %d: %v", i+1, err))}, done
		}
		args[i] = data
		if obj.InShm {
			if shared == nil {
				shared = make([]bool, len(spec.Args))
			}
			shared[i] = true
		}
	}
	return shared, nil, done
}

// answer sends a direct call's result to its caller. A large result goes to the node's shared
// memory, held by the caller (SealObject.holder_id); refs inside it are made known to the node
// first.
func (b *nodeBackend) answer(o *callOrigin, spec *pb.TaskSpec, obj *objstore.Object, exiting bool) {
	ret, err := ids.ObjectIDFromBytes(spec.ReturnId)
	if err != nil {
		glog.Errorf("a direct call with a bad return id: %v", err)
		return
	}
	// The refs inside the result become the caller's at the node, and what the call took from
	// its arguments is known there, before the result (which lets both sides drop theirs) goes.
	var sync error
	switch {
	case len(obj.Contained) > 0:
		sync = b.direct.handOn(obj.Contained, spec.CallerId) // (a barrier too)
	case len(wire.ArgRefs(spec)) > 0:
		sync = b.barrier()
	}
	if sync != nil {
		glog.Warningf("result of %s: %v", spec.FunctionName, sync)
	}
	result := obj
	if s := b.cw.shm; s != nil && !o.remote && !obj.IsError() && int64(len(obj.Data)) >= s.threshold {
		result = s.resultForCaller(ret, obj, spec.CallerId)
	}
	if o.remote && len(obj.Data) > maxRemoteResult {
		// (It could not be sent: the stream would break for every call on it.)
		result = &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf(
			"the result of %s is %d bytes: more than a result sent to a caller on another node may be (%d bytes)",
			spec.FunctionName, len(obj.Data), maxRemoteResult))}
	}
	_ = o.sender.Queue(&pb.CallResult{ReturnId: spec.ReturnId, Result: wire.ObjectToProto(result), ActorExiting: exiting})
	b.cw.releaseResultRefs(obj)
}

// resultForCaller stores a large result in shared memory on behalf of the caller (whose worker
// id is holder): once the node confirms the seal, the caller holds it and may read it.
func (s *shmClient) resultForCaller(ret ids.ObjectID, obj *objstore.Object, holder []byte) *objstore.Object {
	stored := s.resultInShm(ret, obj)
	if stored.IsError() {
		return stored
	}
	reply, err := s.be.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: &pb.SealObject{
			ObjectId: ret[:], ContainedIds: ids.ToBytes(obj.Contained), HolderId: holder, RequestId: req,
		}}}
	})
	if err == nil && reply.Error != "" {
		err = errors.New(reply.Error)
	}
	if err != nil {
		return resultStoreFailed(err)
	}
	return stored
}

// waitEnded waits (a little) until the caller has ended its side of the stream.
func (o *callOrigin) waitEnded(limit time.Duration) {
	select {
	case <-o.ended:
	case <-time.After(limit):
		glog.Warningf("the caller did not end its call stream within %v of the actor's exit", limit)
	}
}

// callServerOf is the process's call server (nil before the actor exists).
func (b *nodeBackend) callServerOf() *callServer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}
