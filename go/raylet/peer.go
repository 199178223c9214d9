package raylet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"goray/ids"
	"goray/objstore"
	"goray/rpc/auth"
	"goray/rpc/batch"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
	"goray/scheduling"
)

// The links between node managers (the I/O of remote.go): each node of a cluster serves NodePeer
// on TCP, closed by the cluster's token. A node that forwards tasks to another opens one Forward
// stream to it (a link): tasks go one way, results the other. Objects move by Pull, in chunks,
// from the node that has them into the puller's store; both ends act on their own node through
// its local client, like any process of the node would.

// ChunkSize is the size of the pieces objects move between nodes in (Ray's object manager uses
// 5 MiB chunks).
const ChunkSize = 5 << 20

// peerWindow is the HTTP/2 flow-control window of links and pulls: large enough that one stream
// fills a fast network.
const peerWindow = 64 << 20

// mdPeerAddress is the metadata key under which a forwarding node says where it serves NodePeer
// (the running node pulls the task's arguments from there).
const mdPeerAddress = "goray-peer-address"

// peerService implements pb.NodePeerServer for a Raylet.
type peerService struct {
	pb.UnimplementedNodePeerServer
	r *Raylet
}

// startPeer serves NodePeer on cfg.PeerListen and connects the node's local client. Called by
// Start on a node of a cluster.
func (r *Raylet) startPeer() error {
	opts, err := auth.ServerOptions(r.cfg.Token)
	if err != nil {
		return fmt.Errorf("node manager: %w", err)
	}
	lis, err := net.Listen("tcp", r.cfg.PeerListen)
	if err != nil {
		return fmt.Errorf("node manager: listen on %s: %w", r.cfg.PeerListen, err)
	}
	opts = append(opts, grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.InitialWindowSize(peerWindow), grpc.InitialConnWindowSize(peerWindow))
	r.peerServer = grpc.NewServer(opts...)
	pb.RegisterNodePeerServer(r.peerServer, &peerService{r: r})
	r.peerAddr = lis.Addr().String()
	r.peerDone = make(chan struct{})
	go func() {
		defer close(r.peerDone)
		if err := r.peerServer.Serve(lis); err != nil {
			glog.Errorf("node manager stopped serving other nodes: %v", err)
		}
	}()
	if r.local, err = r.connectLocal(); err != nil {
		r.peerServer.Stop()
		<-r.peerDone
		return err
	}
	glog.Infof("node manager %s serves other nodes on %s", r.nodeID.Hex(), r.peerAddr)
	return nil
}

// stopPeer ends the links and the peer service. Called by Stop.
func (r *Raylet) stopPeer() {
	r.linksMu.Lock()
	links := r.links
	r.links = nil
	conns := r.peerConns
	r.peerConns = nil
	r.linksMu.Unlock()
	for _, l := range links {
		l.cancel()
	}
	if r.peerServer != nil {
		r.peerServer.Stop()
		<-r.peerDone
	}
	for _, c := range conns {
		c.Close()
	}
	if r.local != nil {
		r.local.close()
	}
}

// PeerAddress is where the node serves other nodes (host:port; "" on a node of no cluster).
func (r *Raylet) PeerAddress() string { return r.peerAddr }

// UpdateCluster tells the node manager the cluster's nodes, as the control store reports them.
func (r *Raylet) UpdateCluster(nodes []ViewNode) {
	r.do(func(s *state) { s.updateCluster(nodes) })
}

// peerConn returns the connection to the node at addr, dialing it once.
func (r *Raylet) peerConn(addr string) (*grpc.ClientConn, error) {
	r.linksMu.Lock()
	defer r.linksMu.Unlock()
	if r.peerConns == nil {
		if r.stopped {
			return nil, errNodeStopped
		}
		r.peerConns = map[string]*grpc.ClientConn{}
	}
	if c := r.peerConns[addr]; c != nil {
		return c, nil
	}
	opts, err := auth.DialOptions(r.cfg.Token)
	if err != nil {
		return nil, err
	}
	opts = append(opts, grpc.WithInitialWindowSize(peerWindow), grpc.WithInitialConnWindowSize(peerWindow),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))
	c, err := grpc.Dial(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the node at %s: %w", addr, err)
	}
	r.peerConns[addr] = c
	return c, nil
}

// link is this node's Forward stream to another node.
type link struct {
	r      *Raylet
	node   *remoteNode
	key    scheduling.NodeID
	addr   string
	ctx    context.Context
	cancel context.CancelFunc
	sender *batch.Sender[*pb.PeerMessage]

	mu      sync.Mutex
	nextReq uint64
	pending map[uint64]chan *pb.Reply // actor requests waiting for their replies
	broken  error
}

// sendForward sends the tasks forwardJobs name over their nodes' links. Called without r.mu.
func (r *Raylet) sendForward(jobs []forwardJob) {
	for _, j := range jobs {
		l, err := r.linkTo(j.node)
		if err == nil {
			err = l.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_Task{Task: j.spec}})
		}
		if err != nil {
			key := j.node.key
			r.goTracked(func() { r.do(func(s *state) { s.linkFailed(key, err) }) })
		}
	}
}

// linkTo returns the link to node n, opening it once.
func (r *Raylet) linkTo(n *remoteNode) (*link, error) {
	r.linksMu.Lock()
	if l := r.links[n.key]; l != nil && l.addr == n.address {
		r.linksMu.Unlock()
		return l, nil
	}
	r.linksMu.Unlock()
	conn, err := r.peerConn(n.address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(r.ctx)
	ctx = metadata.AppendToOutgoingContext(ctx, mdPeerAddress, r.peerAddr)
	stream, err := pb.NewNodePeerClient(conn).Forward(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("opening a link to %s: %w", n, err)
	}
	l := &link{r: r, node: n, key: n.key, addr: n.address, ctx: ctx, cancel: cancel}
	l.sender = batch.NewSender(func(msgs []*pb.PeerMessage) error {
		return stream.Send(&pb.PeerBatch{Messages: msgs})
	})
	r.linksMu.Lock()
	if r.links == nil {
		r.links = map[scheduling.NodeID]*link{}
	}
	if old := r.links[n.key]; old != nil {
		old.cancel()
	}
	r.links[n.key] = l
	r.linksMu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		l.recv(stream)
	}()
	return l, nil
}

// recv takes the results the other node sends back until the link breaks.
func (l *link) recv(stream pb.NodePeer_ForwardClient) {
	r := l.r
	var err error
	for {
		var b *pb.PeerBatch
		if b, err = stream.Recv(); err != nil {
			break
		}
		var done []*pb.PeerResult
		for _, m := range b.Messages {
			if rep := m.GetActorReply(); rep != nil {
				l.answered(rep)
				continue
			}
			res := m.GetResult()
			if res == nil {
				continue
			}
			if res.Object.GetInShm() {
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					l.pullResult(res)
				}()
				continue
			}
			done = append(done, res)
		}
		if len(done) > 0 {
			r.do(func(s *state) {
				for _, res := range done {
					if id, err := ids.ObjectIDFromBytes(res.ReturnId); err == nil {
						s.remoteDone(l.key, id, wireObject(res.Object))
					}
				}
			})
		}
	}
	l.sender.Close()
	l.breakOff(err)
	r.linksMu.Lock()
	if r.links[l.key] == l {
		delete(r.links, l.key)
	}
	r.linksMu.Unlock()
	if l.ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		r.do(func(s *state) { s.linkFailed(l.key, err) })
	}
}

// pullResult pulls a result the other node keeps in its shared memory into this node's store,
// finishes its task, and tells the other node it may free it.
func (l *link) pullResult(res *pb.PeerResult) {
	r := l.r
	id, err := ids.ObjectIDFromBytes(res.ReturnId)
	if err != nil {
		return
	}
	err = r.pullInto(l.ctx, l.addr, id)
	_ = l.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_Taken{Taken: &pb.ObjectIDs{ObjectIds: [][]byte{id[:]}}}})
	var obj *objstore.Object
	if err != nil {
		obj = &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("the result %s could not be moved from %s: %v", id.Hex(), l.node, err))}
	}
	r.do(func(s *state) { s.remoteDone(l.key, id, obj) })
	if err == nil {
		r.local.drop(id) // the task's submitter holds it
	}
}

// wireObject is an object as a message carries it.
func wireObject(o *pb.Object) *objstore.Object {
	if o == nil {
		return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("a node sent a result without an object")}
	}
	return wire.ObjectFromProto(o)
}

// pullInto moves object id from the node at addr into this node's store, held by the node's
// local client: small objects into memory, the others into shared memory. An object this node
// has already is left as it is.
func (r *Raylet) pullInto(ctx context.Context, addr string, id ids.ObjectID) error {
	conn, err := r.peerConn(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewNodePeerClient(conn).Pull(ctx, &pb.PullRequest{ObjectId: id[:]})
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	total := first.TotalSize
	if total < 0 {
		return fmt.Errorf("the node at %s sent a bad size %d", addr, total)
	}
	var threshold int64
	r.mu.Lock()
	threshold = r.shmThreshold()
	r.mu.Unlock()
	lc := r.local
	if first.Kind != objstore.KindValue || threshold == 0 || total < threshold {
		buf := make([]byte, 0, total)
		for chunk := first; ; {
			if chunk.Offset != int64(len(buf)) || int64(len(buf)+len(chunk.Data)) > total {
				return fmt.Errorf("the node at %s sent a chunk out of place", addr)
			}
			buf = append(buf, chunk.Data...)
			if int64(len(buf)) == total {
				break
			}
			if chunk, err = stream.Recv(); err != nil {
				return err
			}
		}
		return lc.send(&pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id[:],
			Object: &pb.Object{Data: buf, Kind: first.Kind, ContainedIds: first.ContainedIds}}}})
	}
	rep, err := lc.request(ctx, func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateObject{CreateObject: &pb.CreateObject{RequestId: req, ObjectId: id[:], Size: total}}}
	})
	if err != nil {
		return err
	}
	if rep.Error != "" {
		if strings.Contains(rep.Error, "exists already") || strings.Contains(rep.Error, "being created already") {
			return nil
		}
		return errors.New(rep.Error)
	}
	dst, err := r.arena.Bytes(rep.ShmOffset, total)
	if err == nil {
		for chunk := first; ; {
			if chunk.Offset < 0 || chunk.Offset+int64(len(chunk.Data)) > total {
				err = fmt.Errorf("the node at %s sent a chunk out of place", addr)
				break
			}
			copy(dst[chunk.Offset:], chunk.Data)
			if chunk.Offset+int64(len(chunk.Data)) == total {
				break
			}
			if chunk, err = stream.Recv(); err != nil {
				break
			}
		}
	}
	seal := &pb.SealObject{ObjectId: id[:], ContainedIds: first.ContainedIds, Abort: err != nil}
	rep, serr := lc.request(ctx, func(req uint64) *pb.ClientMessage {
		seal.RequestId = req
		return &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: seal}}
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	if rep.Error != "" {
		return errors.New(rep.Error)
	}
	return nil
}

// Pull serves an object of this node, in chunks, once it exists here.
func (p *peerService) Pull(req *pb.PullRequest, stream pb.NodePeer_PullServer) error {
	r := p.r
	id, err := ids.ObjectIDFromBytes(req.ObjectId)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "pull: %v", err)
	}
	ch, err := r.local.subscribe(id)
	if err != nil {
		return status.Errorf(codes.Unavailable, "pull: %v", err)
	}
	ready, err := r.local.await(stream.Context(), id, ch)
	if err != nil {
		return status.Errorf(codes.Unavailable, "pull: %v", err)
	}
	if ready.Unknown {
		return status.Errorf(codes.NotFound, "object %s is not on node %s", id.Hex(), r.nodeID.Hex())
	}
	obj := ready.Object
	data := obj.Data
	if obj.InShm {
		defer r.local.release(id)
		if data, err = r.arena.Bytes(obj.ShmOffset, obj.ShmSize); err != nil {
			return status.Errorf(codes.Internal, "pull of %s: %v", id.Hex(), err)
		}
	}
	first := &pb.ObjectChunk{TotalSize: int64(len(data)), Kind: obj.Kind, ContainedIds: obj.ContainedIds}
	for off := 0; off == 0 || off < len(data); {
		end := off + ChunkSize
		if end > len(data) {
			end = len(data)
		}
		chunk := &pb.ObjectChunk{Offset: int64(off), Data: data[off:end]}
		if off == 0 {
			first.Data = chunk.Data
			chunk = first
		}
		if err := stream.Send(chunk); err != nil {
			return err
		}
		off = end
		if end == len(data) {
			break
		}
	}
	return nil
}

// Forward runs the tasks another node forwards here and sends their results back.
func (p *peerService) Forward(stream pb.NodePeer_ForwardServer) error {
	r := p.r
	origin := ""
	if md, ok := metadata.FromIncomingContext(stream.Context()); ok {
		if v := md.Get(mdPeerAddress); len(v) == 1 {
			origin = v[0]
		}
	}
	if _, _, err := net.SplitHostPort(origin); err != nil {
		return status.Errorf(codes.InvalidArgument, "forward: the forwarding node names no address to pull from (%q)", origin)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	fs := &forwardServer{r: r, origin: origin, ctx: ctx, cancel: cancel, held: map[ids.ObjectID]bool{}}
	fs.sender = batch.NewSender(func(msgs []*pb.PeerMessage) error {
		return stream.Send(&pb.PeerBatch{Messages: msgs})
	})
	defer fs.end()
	for {
		b, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var plain []*pb.TaskSpec
		for _, m := range b.Messages {
			switch body := m.Body.(type) {
			case *pb.PeerMessage_Task:
				if needsPull(body.Task) {
					spec := body.Task
					fs.wg.Add(1)
					go func() {
						defer fs.wg.Done()
						fs.run([]*pb.TaskSpec{spec}, true)
					}()
				} else {
					plain = append(plain, body.Task)
				}
			case *pb.PeerMessage_Taken:
				fs.taken(ids.FromBytesList(body.Taken.ObjectIds))
			case *pb.PeerMessage_ActorRequest:
				fs.wg.Add(1)
				go fs.answerActorRequest(body.ActorRequest)
			}
		}
		if len(plain) > 0 {
			fs.wg.Add(1)
			go func() {
				defer fs.wg.Done()
				fs.run(plain, false)
			}()
		}
	}
}

// forwardServer is the running end of one link.
type forwardServer struct {
	r      *Raylet
	origin string
	ctx    context.Context
	cancel context.CancelFunc
	sender *batch.Sender[*pb.PeerMessage]
	wg     sync.WaitGroup

	mu   sync.Mutex
	held map[ids.ObjectID]bool // results kept (pinned and held) until the origin has them
}

func needsPull(spec *pb.TaskSpec) bool {
	for _, a := range spec.Args {
		if a.IsRef {
			return true
		}
	}
	return false
}

// run submits forwarded tasks here (pulling their shared-memory arguments first) and sends each
// result back once it exists.
func (fs *forwardServer) run(specs []*pb.TaskSpec, pull bool) {
	lc := fs.r.local
	var msgs []*pb.ClientMessage
	var chans []<-chan *pb.ObjectReady
	var rets []ids.ObjectID
	var pulled []ids.ObjectID
	for _, spec := range specs {
		ret, err := ids.ObjectIDFromBytes(spec.ReturnId)
		if err != nil {
			glog.Warningf("a forwarded task with a bad return id: %v", err)
			continue
		}
		if pull {
			for _, a := range spec.Args {
				if !a.IsRef {
					continue
				}
				dep, err := ids.ObjectIDFromBytes(a.ObjectId)
				if err == nil {
					err = fs.r.pullInto(fs.ctx, fs.origin, dep)
				}
				if err != nil {
					lc.drop(pulled...)
					fs.send(ret, &pb.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("argument %x of %s could not be moved to node %s: %v", a.ObjectId, spec.FunctionName, fs.r.nodeID.Hex(), err))})
					return
				}
				pulled = append(pulled, dep)
			}
		}
		ch := make(chan *pb.ObjectReady, 1)
		lc.mu.Lock()
		lc.objects[ret] = append(lc.objects[ret], ch)
		lc.mu.Unlock()
		msgs = append(msgs, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: spec}},
			&pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{ret[:]}}}})
		chans = append(chans, ch)
		rets = append(rets, ret)
	}
	if len(pulled) > 0 {
		// The task holds its arguments from its submission on.
		msgs = append(msgs, &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Removed: ids.ToBytes(pulled)}}})
	}
	if err := lc.send(msgs...); err != nil {
		for _, ret := range rets {
			fs.send(ret, &pb.Object{Kind: objstore.KindWorkerDied, Data: []byte("node " + fs.r.nodeID.Hex() + " is stopping: " + err.Error())})
		}
		return
	}
	for i, ch := range chans {
		ready, err := lc.await(fs.ctx, rets[i], ch)
		if err != nil {
			lc.drop(rets[i])
			continue
		}
		obj := ready.Object
		if ready.Unknown || obj == nil {
			obj = &pb.Object{Kind: objstore.KindLost, Data: []byte("the result of a forwarded task is unknown on the node that ran it")}
		}
		if obj.InShm {
			fs.mu.Lock()
			fs.held[rets[i]] = true
			fs.mu.Unlock()
			fs.send(rets[i], &pb.Object{Kind: obj.Kind, ContainedIds: obj.ContainedIds, InShm: true, ShmSize: obj.ShmSize})
			continue
		}
		fs.send(rets[i], obj)
		lc.drop(rets[i])
	}
}

func (fs *forwardServer) send(ret ids.ObjectID, obj *pb.Object) {
	_ = fs.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_Result{Result: &pb.PeerResult{ReturnId: ret[:], Object: obj}}})
}

// taken frees results the origin has pulled.
func (fs *forwardServer) taken(list []ids.ObjectID) {
	var free []ids.ObjectID
	fs.mu.Lock()
	for _, id := range list {
		if fs.held[id] {
			delete(fs.held, id)
			free = append(free, id)
		}
	}
	fs.mu.Unlock()
	fs.r.local.release(free...)
	fs.r.local.drop(free...)
}

// end frees what the link kept once it is gone.
func (fs *forwardServer) end() {
	fs.cancel()
	fs.sender.Close()
	fs.wg.Wait()
	fs.mu.Lock()
	var free []ids.ObjectID
	for id := range fs.held {
		free = append(free, id)
	}
	fs.held = map[ids.ObjectID]bool{}
	fs.mu.Unlock()
	fs.r.local.release(free...)
	fs.r.local.drop(free...)
}
