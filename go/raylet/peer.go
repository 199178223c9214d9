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
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"goray/ids"
	"goray/objstore"
	"goray/objxfer"
	"goray/rpc/auth"
	"goray/rpc/batch"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
	"goray/scheduling"
)

// The links between node managers (the I/O of remote.go): each node of a cluster serves NodePeer
// on TCP, closed by the cluster's token. A node that forwards tasks to another opens one Forward
// stream to it (a link): tasks go one way, results the other. Objects move by Pull from the node
// that has them into the puller's store: small ranges in chunks on the stream, big ones over the
// node's data path (package objxfer: raw TCP, a one-time ticket per range, given on the stream).
// Both ends act on their own node through its local client, like any process of the node would.

// ChunkSize is the size of the pieces objects move between nodes in (Ray's object manager uses
// 5 MiB chunks).
const ChunkSize = 5 << 20

// peerWindow is the HTTP/2 flow-control window of links and pulls: large enough that one stream
// fills a fast network.
const peerWindow = 64 << 20

// peerKeepalive is how often an idle connection between nodes is checked (and how long the other
// end may take to answer).
const peerKeepalive = 10 * time.Second

// mdPeerAddress is the metadata key under which a forwarding node says where it serves NodePeer
// (the running node pulls the task's arguments from there).
const mdPeerAddress = "goray-peer-address"

// peerService implements pb.NodePeerServer for a Raylet.
type peerService struct {
	pb.UnimplementedNodePeerServer
	r *Raylet
}

// startPeer serves NodePeer on cfg.PeerListen, and the data path on the same host, and connects
// the node's local client. Called by Start on a node of a cluster.
func (r *Raylet) startPeer() error {
	opts, err := auth.ServerOptions(r.cfg.Token)
	if err != nil {
		return fmt.Errorf("node manager: %w", err)
	}
	serverTLS, clientTLS, err := auth.TLSFromEnv()
	if err != nil {
		return fmt.Errorf("node manager: %w", err)
	}
	dataListen := r.cfg.DataListen
	if dataListen == "" {
		host, _, err := net.SplitHostPort(r.cfg.PeerListen)
		if err != nil {
			return fmt.Errorf("node manager: listen on %s: %w", r.cfg.PeerListen, err)
		}
		dataListen = net.JoinHostPort(host, "0")
	}
	if r.xfer, err = objxfer.Listen(dataListen, serverTLS); err != nil {
		return fmt.Errorf("node manager: the data path: %w", err)
	}
	r.xferTLS = clientTLS
	lis, err := net.Listen("tcp", r.cfg.PeerListen)
	if err != nil {
		r.xfer.Close()
		return fmt.Errorf("node manager: listen on %s: %w", r.cfg.PeerListen, err)
	}
	opts = append(r.cfg.Metrics.RPCServerOptions(), opts...) // (measured before the token check: refusals count)
	opts = append(opts, grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.InitialWindowSize(peerWindow), grpc.InitialConnWindowSize(peerWindow),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: peerKeepalive / 2, PermitWithoutStream: true}))
	r.peerServer = grpc.NewServer(opts...)
	pb.RegisterNodePeerServer(r.peerServer, &peerService{r: r})
	r.peerAddr = lis.Addr().String()
	r.peerDone = make(chan struct{})
	go func() {
		defer close(r.peerDone)
		if err := r.peerServer.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) { // (stopped before it served: a quick Stop)
			glog.Errorf("node manager stopped serving other nodes: %v", err)
		}
	}()
	if r.local, err = r.connectLocal(); err != nil {
		r.peerServer.Stop()
		<-r.peerDone
		r.xfer.Close()
		return err
	}
	glog.Infof("node manager %s serves other nodes on %s (data path %s)", r.nodeID.Hex(), r.peerAddr, r.xfer.Addr())
	return nil
}

// stopPeer ends the links and the peer service. Called by Stop.
func (r *Raylet) stopPeer() {
	r.linksMu.Lock()
	r.peerStopped = true
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
	if r.xfer != nil {
		r.xfer.Close()
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
// The links to nodes that are dead now are closed.
func (r *Raylet) UpdateCluster(nodes []ViewNode) {
	r.do(func(s *state) { s.updateCluster(nodes) })
	for _, n := range nodes {
		if !n.Alive {
			r.closeLink(scheduling.NodeID(n.ID.Hex()), n.Address)
		}
	}
}

// closeLink closes the link and the connection to a node that died.
func (r *Raylet) closeLink(key scheduling.NodeID, addr string) {
	r.linksMu.Lock()
	l := r.links[key]
	delete(r.links, key)
	c := r.peerConns[addr]
	delete(r.peerConns, addr)
	r.linksMu.Unlock()
	if l != nil {
		l.cancel()
	}
	if c != nil {
		c.Close()
	}
}

// peerConn returns the connection to the node at addr, dialing it once.
func (r *Raylet) peerConn(addr string) (*grpc.ClientConn, error) {
	r.linksMu.Lock()
	defer r.linksMu.Unlock()
	if r.peerStopped {
		return nil, errNodeStopped
	}
	if r.peerConns == nil {
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
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
		// A node that vanished (powered off, cut off) is noticed in seconds, not when TCP gives up.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: peerKeepalive, Timeout: peerKeepalive, PermitWithoutStream: true}))
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
	gen    uint64 // which of the node's links it is (results kept through it: see lineage.go)
	addr   string
	ctx    context.Context
	cancel context.CancelFunc
	sender *batch.Sender[*pb.PeerMessage]

	mu       sync.Mutex
	nextReq  uint64
	pending  map[uint64]chan *pb.Reply // actor requests waiting for their replies
	asks     map[uint64]askSlot        // asks waiting for their answers (peerask.go)
	broken   error
	jobsSent map[string]bool // jobs whose config went on this link (later tasks name them by id)
}

// sendForward sends the tasks forwardJobs name over their nodes' links. Called without r.mu.
func (r *Raylet) sendForward(jobs []forwardJob) {
	for _, j := range jobs {
		l, err := r.linkTo(j.node)
		if err == nil {
			err = l.sendTask(j.spec)
		}
		if err != nil {
			key := j.node.key
			r.goTracked(func() { r.do(func(s *state) { s.linkFailed(key, err) }) })
		}
	}
}

// sendTask sends a task on the link: its job's whole config the first time, its job id after
// that (the other end keeps the configs of the jobs a link brought).
func (l *link) sendTask(spec *pb.TaskSpec) error {
	l.mu.Lock()
	defer l.mu.Unlock() // (the order of the queue: a job's config before the tasks that name it)
	if job := spec.Job; job != nil && job.JobId != "" {
		if l.jobsSent[job.JobId] {
			spec.Job = &pb.JobConfig{JobId: job.JobId}
		} else {
			if l.jobsSent == nil {
				l.jobsSent = map[string]bool{}
			}
			l.jobsSent[job.JobId] = true
		}
	}
	return l.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_Task{Task: spec}})
}

// linkTo returns the link to node n, opening it once (openings are serialized, so a node never
// has two links at once).
func (r *Raylet) linkTo(n *remoteNode) (*link, error) {
	if l := r.currentLink(n); l != nil {
		return l, nil
	}
	r.dialMu.Lock()
	defer r.dialMu.Unlock()
	if l := r.currentLink(n); l != nil {
		return l, nil
	}
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
	l := &link{r: r, node: n, key: n.key, addr: n.address, ctx: ctx, cancel: cancel, gen: r.linkGen.Add(1)}
	l.sender = batch.NewSender(func(msgs []*pb.PeerMessage) error {
		return stream.Send(&pb.PeerBatch{Messages: msgs})
	})
	r.linksMu.Lock()
	if r.peerStopped {
		r.linksMu.Unlock()
		cancel()
		return nil, errNodeStopped
	}
	if r.links == nil {
		r.links = map[scheduling.NodeID]*link{}
	}
	old := r.links[n.key] // (one to the node's former address)
	r.links[n.key] = l
	r.linksMu.Unlock()
	if old != nil {
		old.cancel()
	}
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
		var kept []ids.ObjectID
		var answered []*askGroup
		for _, m := range b.Messages {
			if rep := m.GetActorReply(); rep != nil {
				if g := l.answered(rep); g != nil {
					answered = append(answered, g)
				}
				continue
			}
			res := m.GetResult()
			if res == nil {
				continue
			}
			if keptThere(res.Object) {
				if id, err := ids.ObjectIDFromBytes(res.ReturnId); err == nil {
					kept = append(kept, id)
				}
				continue
			}
			if res.Object.GetInShm() || len(res.Object.GetContainedIds()) > 0 {
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					l.pullResult(res)
				}()
				continue
			}
			done = append(done, res)
		}
		if len(done) > 0 || len(kept) > 0 {
			r.do(func(s *state) {
				for _, res := range done {
					if id, err := ids.ObjectIDFromBytes(res.ReturnId); err == nil {
						s.remoteDone(l.key, id, wireObject(res.Object))
					}
				}
				for _, id := range kept {
					s.resultKept(l.key, l.gen, id)
				}
			})
		}
		r.deliverAsks(answered)
	}
	l.sender.Close()
	l.breakOff(err)
	// A link closed on purpose (the node stops, the other died, a new address) loses no task
	// here; one that broke loses the tasks sent on it. Either way the other node lets go of the
	// results it kept for this one (see lineage.go). Its tasks are dealt with before the link
	// leaves the map: a task forwarded meanwhile fails to go and is dealt with too.
	broke := l.ctx.Err() == nil
	r.do(func(s *state) {
		if broke {
			s.linkFailed(l.key, err)
		}
		s.keptLostAt(l.key, l.gen, fmt.Sprintf("the link to it ended (%v)", err))
	})
	l.cancel()
	r.linksMu.Lock()
	if r.links[l.key] == l {
		delete(r.links, l.key)
	}
	r.linksMu.Unlock()
}

// keptThere tells whether a forwarded task's result stays on the node that made it until it is
// wanted (see lineage.go): a value in that node's shared memory that refers to no other object.
func keptThere(o *pb.Object) bool {
	return o.GetInShm() && len(o.GetContainedIds()) == 0 && o.GetKind() == objstore.KindValue
}

// fetchKept pulls a result another node kept for this one (the state then lets that node free
// its copy).
func (r *Raylet) fetchKept(j keptFetch) {
	err := r.acquire(r.ctx, j.addr, j.id)
	if err != nil {
		glog.Warningf("the result %s kept on %s could not be pulled: %v", j.id.Hex(), j.addr, err)
	}
	r.do(func(s *state) { s.keptFetched(j, err) })
	if err == nil {
		r.releasePulled(j.id) // its holders here hold it
	}
}

// sendTaken tells node key that it may free the result id it kept for this node (when the link
// to it is gone, it has let go of it already).
func (r *Raylet) sendTaken(key scheduling.NodeID, id ids.ObjectID) {
	r.linksMu.Lock()
	l := r.links[key]
	r.linksMu.Unlock()
	if l != nil {
		_ = l.sender.Queue(takenMessage(id))
	}
}

// takenMessage tells the other end of a link that it may free the result id it kept for this
// node.
func takenMessage(id ids.ObjectID) *pb.PeerMessage {
	return &pb.PeerMessage{Body: &pb.PeerMessage_Taken{Taken: &pb.ObjectIDs{ObjectIds: [][]byte{id[:]}}}}
}

// pullResult brings a result the other node keeps for this one (in its shared memory, or one
// holding ObjectRefs): the result, when in shared memory, into this node's store, and the
// objects it refers to; then it finishes its task and tells the other node it may free it. The
// objects the result refers to stay here as long as the result does. (Objects those refer to in
// turn are not brought.)
func (l *link) pullResult(res *pb.PeerResult) {
	r := l.r
	id, err := ids.ObjectIDFromBytes(res.ReturnId)
	if err != nil {
		return
	}
	var obj *objstore.Object // nil: the result pulled into the store
	inShm := res.Object.GetInShm()
	if !inShm {
		obj = wireObject(res.Object)
	} else if err = r.acquire(l.ctx, l.addr, id); err != nil {
		obj = &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("the result %s could not be moved from %s: %v", id.Hex(), l.node, err))}
	}
	pulled := inShm && err == nil
	var inner []ids.ObjectID
	if err == nil {
		list, _ := ids.ObjectIDsFromBytes(res.Object.GetContainedIds())
		if inner, err = r.acquireAll(l.ctx, l.addr, list); err != nil {
			obj = &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("an object the result %s refers to could not be moved from %s: %v", id.Hex(), l.node, err))}
		}
	}
	_ = l.sender.Queue(takenMessage(id))
	if pulled && obj != nil {
		r.releasePulled(id) // (the error stands for the result)
		pulled = false
	}
	r.do(func(s *state) { s.remoteDone(l.key, id, obj) })
	if pulled {
		r.releasePulled(id) // the task's submitter holds it
	}
	r.releaseAll(inner) // the result holds them
}

// pull is the moving of one object into this node's store, shared by everyone here who needs it
// at the time: the node's own client holds the object until the last of them is done with it. A
// pull that fails leaves the table at once: nobody joins a failed pull, and nothing is held.
type pull struct {
	addr  string // the node it is pulled from
	users int
	done  chan struct{}
	err   error
}

// acquire brings object id from the node at addr into this node's store (once, whoever else
// asks meanwhile) and holds it there until releasePulled. Joining a pull of id from another node
// that fails, it tries addr itself then.
func (r *Raylet) acquire(ctx context.Context, addr string, id ids.ObjectID) error {
	for {
		r.pullMu.Lock()
		p := r.pulls[id]
		first := p == nil
		if first {
			p = &pull{addr: addr, done: make(chan struct{})}
			if r.pulls == nil {
				r.pulls = map[ids.ObjectID]*pull{}
			}
			r.pulls[id] = p
		}
		p.users++
		r.pullMu.Unlock()
		if first {
			p.err = r.pullInto(ctx, addr, id)
			if p.err != nil {
				r.pullMu.Lock()
				if r.pulls[id] == p {
					delete(r.pulls, id)
				}
				r.pullMu.Unlock()
			}
			close(p.done)
		} else {
			select {
			case <-p.done:
			case <-ctx.Done():
				r.leavePull(id, p)
				return ctx.Err()
			}
		}
		switch {
		case p.err == nil:
			return nil
		case !first && (p.addr != addr || (errors.Is(p.err, context.Canceled) && ctx.Err() == nil)):
			continue // another node's failure (or another puller's cancel) says nothing of this pull
		}
		return p.err
	}
}

// releasePulled ends one use of a pulled object; after the last, the node's client lets go of it.
func (r *Raylet) releasePulled(id ids.ObjectID) {
	r.pullMu.Lock()
	p := r.pulls[id]
	r.pullMu.Unlock()
	if p != nil {
		r.leavePull(id, p)
	}
}

// leavePull ends one use of pull p of object id, unless p is no longer the table's (it failed:
// nothing is held for it, and another pull of id may have started since).
func (r *Raylet) leavePull(id ids.ObjectID, p *pull) {
	r.pullMu.Lock()
	if r.pulls[id] != p {
		r.pullMu.Unlock()
		return
	}
	p.users--
	last := p.users == 0
	if last {
		delete(r.pulls, id)
	}
	r.pullMu.Unlock()
	if last && p.err == nil {
		r.local.drop(id)
	}
}

// acquireAll acquires each object of list (once each) from the node at addr, and returns them;
// on an error, naming the object, it lets go of those it had.
func (r *Raylet) acquireAll(ctx context.Context, addr string, list []ids.ObjectID) ([]ids.ObjectID, error) {
	var got []ids.ObjectID
	seen := map[ids.ObjectID]bool{}
	for _, id := range list {
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := r.acquire(ctx, addr, id); err != nil {
			r.releaseAll(got)
			return nil, fmt.Errorf("object %s: %w", id.Hex(), err)
		}
		got = append(got, id)
	}
	return got, nil
}

// releaseAll ends one use of each of the pulled objects of list.
func (r *Raylet) releaseAll(list []ids.ObjectID) {
	for _, id := range list {
		r.releasePulled(id)
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
// has already is left as it is. The chunks must come in order and add up to the size announced,
// and a range fetched over the data path must be the one asked for: a node that sends anything
// else gets the pull failed, never a write outside the object.
func (r *Raylet) pullInto(ctx context.Context, addr string, id ids.ObjectID) error {
	conn, err := r.peerConn(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peer := pb.NewNodePeerClient(conn)
	stream, err := peer.Pull(ctx, &pb.PullRequest{ObjectId: id[:], Length: pullStripe, Raw: true})
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	total := first.TotalSize
	if total < 0 || total > maxPulledObject {
		return fmt.Errorf("the node at %s announced an object of %d bytes", addr, total)
	}
	// rangeOf fills dst[from:to) from a stream whose first reply is head: over the data path
	// when head carries a ticket, else from the stream's chunks, in order. A data path out of
	// reach (a firewall, say) gets the range pulled again in chunks.
	rangeOf := func(st pb.NodePeer_PullClient, head *pb.ObjectChunk, from, to int64, dst []byte) error {
		if len(head.Ticket) > 0 {
			if head.Offset != from || len(head.Data) > 0 {
				return fmt.Errorf("the node at %s offered a range out of place (at %d, want [%d, %d))", addr, head.Offset, from, to)
			}
			err := objxfer.Fetch(ctx, head.DataAddress, head.Ticket, dst[from:to], r.xferTLS)
			var unreachable *objxfer.DialError
			if !errors.As(err, &unreachable) {
				return err
			}
			glog.Warningf("pull of %s: %v; pulling it in chunks from %s instead", id.Hex(), err, addr)
			if st, err = peer.Pull(ctx, &pb.PullRequest{ObjectId: id[:], Offset: from, Length: to - from}); err != nil {
				return err
			}
			if head, err = st.Recv(); err != nil {
				return err
			}
		}
		got := from
		for chunk := head; ; {
			if chunk.Offset != got || int64(len(chunk.Data)) > to-got || (chunk != head && chunk.TotalSize != 0 && chunk.TotalSize != total) {
				return fmt.Errorf("the node at %s sent a chunk out of place (offset %d, %d bytes, at %d of [%d, %d))", addr, chunk.Offset, len(chunk.Data), got, from, to)
			}
			copy(dst[got:], chunk.Data)
			got += int64(len(chunk.Data))
			if got == to {
				return nil
			}
			var err error
			if chunk, err = st.Recv(); err != nil {
				return err
			}
		}
	}
	// fill fills dst (total bytes): the first stripe from the first stream, the rest in a few
	// ranges at once, all of them together.
	fill := func(dst []byte) error {
		head := total
		if head > pullStripe {
			head = pullStripe
		}
		rest := total - head
		n := int((rest + pullStripe - 1) / pullStripe)
		most := pullStreams
		if len(first.Ticket) > 0 {
			most = rawStreams
		}
		if n > most {
			n = most
		}
		errs := make(chan error, n+1)
		if n > 0 {
			per := (rest + int64(n) - 1) / int64(n)
			for i := 0; i < n; i++ {
				from := head + int64(i)*per
				to := from + per
				if to > total {
					to = total
				}
				go func() {
					st, err := peer.Pull(ctx, &pb.PullRequest{ObjectId: id[:], Offset: from, Length: to - from, Raw: true})
					var c *pb.ObjectChunk
					if err == nil {
						c, err = st.Recv()
					}
					if err == nil {
						err = rangeOf(st, c, from, to, dst)
					}
					errs <- err
				}()
			}
		}
		errs <- rangeOf(stream, first, 0, head, dst)
		var firstErr error
		for i := 0; i < n+1; i++ {
			if err := <-errs; err != nil && firstErr == nil {
				firstErr = err
				cancel() // the others stop
			}
		}
		return firstErr
	}
	r.mu.Lock()
	threshold := r.shmThreshold()
	r.mu.Unlock()
	lc := r.local
	if first.Kind != objstore.KindValue || threshold == 0 || total < threshold {
		if total > maxObjectInMemory {
			return fmt.Errorf("%w: an object of %d bytes cannot be held in memory here (this node has no room in shared memory for it)", errLocalStore, total)
		}
		buf := make([]byte, total)
		if err := fill(buf); err != nil {
			return err
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
		if strings.Contains(rep.Error, "exists already") {
			return nil // (stored here since: by a result that came back, say)
		}
		return fmt.Errorf("%w: %s", errLocalStore, rep.Error)
	}
	dst, err := r.arena.Bytes(rep.ShmOffset, total)
	if err == nil {
		err = fill(dst)
	}
	seal := &pb.SealObject{ObjectId: id[:], ContainedIds: first.ContainedIds, Abort: err != nil}
	rep, serr := lc.request(context.Background(), func(req uint64) *pb.ClientMessage {
		seal.RequestId = req
		return &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: seal}}
	})
	switch {
	case err != nil:
		return err
	case serr != nil:
		return serr
	case rep.Error != "":
		return errors.New(rep.Error)
	}
	return nil
}

// errLocalStore marks a pull that failed because this node could not store the object (no
// room), not because its source failed: pulling again from elsewhere would not help.
var errLocalStore = errors.New("this node cannot store the object")

// A big object is pulled in stripes: the first pullStripe bytes with its size, the rest in up to
// pullStreams ranges at once in chunks (one stream alone does not fill a fast link), or in up to
// rawStreams ranges over the data path (2 measured best on 2 cores; 1 and 4 a little slower).
const (
	pullStripe  = 8 << 20
	pullStreams = 4
	rawStreams  = 2
)

// rawMin is the smallest range a pull takes over the data path: smaller ones come in chunks.
const rawMin = 1 << 20

// Bounds on what a pull accepts: an object (Ray's are at most what the object store holds), and
// one that goes to memory instead of shared memory.
const (
	maxPulledObject   = 1 << 40
	maxObjectInMemory = 2 << 30
)

// Pull serves an object of this node once it exists here: a range of it in chunks, or (when the
// puller takes it and the range is big) as a ticket to fetch it over the data path with. The
// object stays held until its bytes have gone.
func (p *peerService) Pull(req *pb.PullRequest, stream pb.NodePeer_PullServer) error {
	r := p.r
	id, err := ids.ObjectIDFromBytes(req.ObjectId)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "pull: %v", err)
	}
	if req.Done {
		// The puller has the whole object: a hold kept for a process of its node ends.
		r.do(func(s *state) { s.handedOver(id) })
		return nil
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
	total := int64(len(data))
	start, stop := req.Offset, total
	if req.Length > 0 && req.Length <= total-start {
		stop = start + req.Length
	}
	if start < 0 || start > total || req.Length < 0 {
		return status.Errorf(codes.OutOfRange, "pull of %s: range at %d (+%d) outside its %d bytes", id.Hex(), req.Offset, req.Length, total)
	}
	first := &pb.ObjectChunk{TotalSize: total, Kind: obj.Kind, ContainedIds: obj.ContainedIds}
	if req.Raw && stop-start > rawMin && r.xfer != nil {
		ticket, done, cancel := r.xfer.Offer(data[start:stop])
		first.Offset, first.DataAddress, first.Ticket = start, r.xfer.Addr(), ticket
		err := stream.Send(first)
		if err == nil {
			select {
			case err = <-done:
				if err != nil {
					return status.Errorf(codes.Unavailable, "pull of %s: %v", id.Hex(), err)
				}
				return nil
			case <-stream.Context().Done():
				err = stream.Context().Err()
			}
		}
		cancel()
		<-done // (its bytes are no longer read)
		return err
	}
	for off := start; off == start || off < stop; {
		end := off + ChunkSize
		if end > stop {
			end = stop
		}
		chunk := &pb.ObjectChunk{Offset: off, Data: data[off:end]}
		if off == start {
			first.Offset, first.Data = off, chunk.Data
			chunk = first
		}
		if err := stream.Send(chunk); err != nil {
			return err
		}
		off = end
		if end == stop {
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
	fs := &forwardServer{r: r, origin: origin, ctx: ctx, cancel: cancel, held: map[ids.ObjectID]bool{},
		awaited: map[ids.ObjectID]bool{}, resWake: make(chan struct{}, 1)}
	fs.sender = batch.NewSender(func(msgs []*pb.PeerMessage) error {
		return stream.Send(&pb.PeerBatch{Messages: msgs})
	})
	defer fs.end()
	fs.wg.Add(1)
	go fs.answerLoop()
	for {
		b, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var plain []*pb.TaskSpec
		// Requests about bundles are answered in the link's order, at once, in one event for
		// those that come together (before the tasks and actors after them, which may need the
		// bundles they commit).
		var bundleOps []*pb.ActorRequest
		for _, m := range b.Messages {
			if len(bundleOps) > 0 && (m.GetTask() != nil || (m.GetActorRequest() != nil && !isBundleOp(m.GetActorRequest().GetMessage()))) {
				fs.answerBundleOps(bundleOps)
				bundleOps = nil
			}
			switch body := m.Body.(type) {
			case *pb.PeerMessage_Task:
				// In the link's order: a job's config comes with its first task.
				body.Task.Job = fs.jobConfig(body.Task.Job)
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
				if isBundleOp(body.ActorRequest.GetMessage()) {
					bundleOps = append(bundleOps, body.ActorRequest)
					continue
				}
				fs.wg.Add(1)
				go fs.answerActorRequest(body.ActorRequest)
			}
		}
		if len(bundleOps) > 0 {
			fs.answerBundleOps(bundleOps)
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

	// Results of the link's tasks, as the node's client gets them (deliver), for answerLoop.
	resMu    sync.Mutex
	results  []*pb.ObjectReady
	awaited  map[ids.ObjectID]bool // watched and not delivered yet
	resEnded bool                  // the link ended: deliver lets results go at once
	resWake  chan struct{}

	mu     sync.Mutex
	held   map[ids.ObjectID]bool           // results kept (held; pinned when true) until the origin has them
	hosted map[ids.ActorID]bool            // actors created here for the origin (killed when the link ends)
	groups map[bundleKey]uint64            // bundles the origin reserved here, and their rounds (given back when the link ends)
	inner  map[ids.ObjectID][]ids.ObjectID // by return id: objects inside a running task's arguments, pulled and held here until it ends
	jobs   map[string]*pb.JobConfig        // the configs of the jobs the link brought, by id
}

// needsPull tells whether a forwarded task needs objects pulled from its origin first: its
// shared-memory arguments, or objects its arguments hold references to.
func needsPull(spec *pb.TaskSpec) bool {
	for _, a := range spec.Args {
		if a.IsRef || len(a.ContainedIds) > 0 {
			return true
		}
	}
	return false
}

// run submits forwarded tasks here (pulling their shared-memory arguments first) and sends each
// result back once it exists, whatever the order they finish in.
func (fs *forwardServer) run(specs []*pb.TaskSpec, pull bool) {
	lc := fs.r.local
	var msgs []*pb.ClientMessage
	var rets []ids.ObjectID
	var pulled []ids.ObjectID
	defer func() {
		for _, id := range pulled {
			fs.r.releasePulled(id) // submitted: the tasks hold their arguments now
		}
	}()
	for _, spec := range specs {
		ret, err := ids.ObjectIDFromBytes(spec.ReturnId)
		if err != nil {
			glog.Warningf("a forwarded task with a bad return id: %v", err)
			continue
		}
		if spec.Job == nil { // (filled in by Forward, in the link's order)
			fs.send(ret, &pb.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("node %s refuses %s: a forwarded task must name a job whose config came on its link", fs.r.nodeID.Hex(), spec.FunctionName))})
			continue
		}
		if spec.Job, err = fs.r.localJob(fs.ctx, spec.Job); err != nil {
			fs.send(ret, &pb.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("node %s cannot run %s: the job's code: %v", fs.r.nodeID.Hex(), spec.FunctionName, err))})
			continue
		}
		if pull {
			if err := fs.pullArgs(spec, &pulled); err != nil {
				fs.send(ret, &pb.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("an argument of %s could not be moved to node %s: %v", spec.FunctionName, fs.r.nodeID.Hex(), err))})
				continue
			}
			inner, err := fs.pullInner(spec)
			if err != nil {
				fs.send(ret, &pb.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("an object an argument of %s refers to could not be moved to node %s: %v", spec.FunctionName, fs.r.nodeID.Hex(), err))})
				continue
			}
			if len(inner) > 0 {
				fs.mu.Lock()
				if fs.inner == nil {
					fs.inner = map[ids.ObjectID][]ids.ObjectID{}
				}
				fs.inner[ret] = inner
				fs.mu.Unlock()
			}
		}
		fs.resMu.Lock()
		fs.awaited[ret] = true
		fs.resMu.Unlock()
		lc.watch(ret, fs, fs.deliver)
		msgs = append(msgs, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: spec}},
			&pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{ret[:]}}}})
		rets = append(rets, ret)
	}
	if len(msgs) == 0 {
		return
	}
	if err := lc.send(msgs...); err != nil {
		for _, ret := range rets {
			fs.releaseInner(ret)
			if fs.unawait(ret) {
				fs.send(ret, &pb.Object{Kind: objstore.KindWorkerDied, Data: []byte("node " + fs.r.nodeID.Hex() + " is stopping: " + err.Error())})
			}
		}
	}
}

// jobConfig is the whole config of a forwarded task's job: the one it brings (kept for the
// link's later tasks, which name the job only), or the one kept; nil when there is none.
func (fs *forwardServer) jobConfig(job *pb.JobConfig) *pb.JobConfig {
	if job == nil || job.JobId == "" {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(job.WorkerCommand) > 0 {
		if fs.jobs == nil {
			fs.jobs = map[string]*pb.JobConfig{}
		}
		fs.jobs[job.JobId] = job
		return job
	}
	return fs.jobs[job.JobId]
}

// pullArgs brings a task's shared-memory arguments from the forwarding node (each held until
// released: the caller adds them to pulled).
func (fs *forwardServer) pullArgs(spec *pb.TaskSpec, pulled *[]ids.ObjectID) error {
	for _, a := range spec.Args {
		if !a.IsRef {
			continue
		}
		dep, err := ids.ObjectIDFromBytes(a.ObjectId)
		if err != nil {
			return err
		}
		if err := fs.r.acquire(fs.ctx, fs.origin, dep); err != nil {
			return err
		}
		*pulled = append(*pulled, dep)
	}
	return nil
}

// pullInner brings the objects a forwarded task's arguments refer to (the ObjectRefs inside
// them) from its origin, and returns them, held here until releaseInner: the task's worker may
// Get them. (Objects those refer to in turn are not brought.)
func (fs *forwardServer) pullInner(spec *pb.TaskSpec) ([]ids.ObjectID, error) {
	var inner []ids.ObjectID
	for _, a := range spec.Args {
		list, err := ids.ObjectIDsFromBytes(a.ContainedIds)
		if err != nil {
			return nil, err
		}
		inner = append(inner, list...)
	}
	return fs.r.acquireAll(fs.ctx, fs.origin, inner)
}

// releaseInner lets go of the objects pulled for a task's arguments once it has ended.
func (fs *forwardServer) releaseInner(ret ids.ObjectID) {
	fs.mu.Lock()
	list := fs.inner[ret]
	delete(fs.inner, ret)
	fs.mu.Unlock()
	fs.r.releaseAll(list)
}

// deliver takes the result of one of the link's tasks from the node's client (on its receiving
// goroutine: it must not block) for answerLoop; once the link has ended, it lets it go.
func (fs *forwardServer) deliver(o *pb.ObjectReady) {
	fs.resMu.Lock()
	if fs.resEnded {
		fs.resMu.Unlock()
		fs.letGo([]*pb.ObjectReady{o})
		return
	}
	if id, err := ids.ObjectIDFromBytes(o.ObjectId); err == nil {
		delete(fs.awaited, id)
	}
	fs.results = append(fs.results, o)
	fs.resMu.Unlock()
	select {
	case fs.resWake <- struct{}{}:
	default:
	}
}

// unawait forgets a result nobody will deliver; false when it came meanwhile.
func (fs *forwardServer) unawait(ret ids.ObjectID) bool {
	fs.resMu.Lock()
	_, ok := fs.awaited[ret]
	delete(fs.awaited, ret)
	fs.resMu.Unlock()
	return ok && fs.r.local.unwatch(ret, fs)
}

// letGo releases and drops results nobody sends back (the link ended).
func (fs *forwardServer) letGo(list []*pb.ObjectReady) {
	var shm, all []ids.ObjectID
	for _, o := range list {
		id, err := ids.ObjectIDFromBytes(o.ObjectId)
		if err != nil {
			continue
		}
		if o.GetObject().GetInShm() {
			shm = append(shm, id)
		}
		all = append(all, id)
	}
	fs.r.local.release(shm...)
	fs.r.local.drop(all...)
}

// answerLoop sends the link's results back as they come, in batches: each in its message, or (in
// shared memory) as its size, kept here until the forwarding node has pulled it. Those sent in
// their messages are dropped here at once, together.
func (fs *forwardServer) answerLoop() {
	defer fs.wg.Done()
	for {
		select {
		case <-fs.resWake:
		case <-fs.ctx.Done():
			return
		}
		fs.resMu.Lock()
		batch := fs.results
		fs.results = nil
		fs.resMu.Unlock()
		var sent []ids.ObjectID
		for _, ready := range batch {
			ret, err := ids.ObjectIDFromBytes(ready.ObjectId)
			if err != nil {
				continue
			}
			fs.releaseInner(ret)
			obj := ready.Object
			if ready.Unknown || obj == nil {
				obj = &pb.Object{Kind: objstore.KindLost, Data: []byte("the result of a forwarded task is unknown on the node that ran it")}
			}
			if obj.InShm || len(obj.ContainedIds) > 0 {
				// Kept here until the origin has it, and with it the objects it refers to. One
				// the origin pulls when it wants it (keptThere) may wait long: it is held but not
				// pinned, so that it may go to disk meanwhile (a pull reads it back).
				pinned := obj.InShm && !keptThere(obj)
				fs.mu.Lock()
				fs.held[ret] = pinned
				fs.mu.Unlock()
				if obj.InShm {
					if !pinned {
						fs.r.local.release(ret)
					}
					obj = &pb.Object{Kind: obj.Kind, ContainedIds: obj.ContainedIds, InShm: true, ShmSize: obj.ShmSize}
				}
				fs.send(ret, obj)
				continue
			}
			fs.send(ret, obj)
			sent = append(sent, ret)
		}
		fs.r.local.drop(sent...)
	}
}

func (fs *forwardServer) send(ret ids.ObjectID, obj *pb.Object) {
	_ = fs.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_Result{Result: &pb.PeerResult{ReturnId: ret[:], Object: obj}}})
}

// taken frees results the origin has pulled, or no longer wants.
func (fs *forwardServer) taken(list []ids.ObjectID) {
	var free, unpin []ids.ObjectID
	fs.mu.Lock()
	for _, id := range list {
		if pinned, ok := fs.held[id]; ok {
			delete(fs.held, id)
			free = append(free, id)
			if pinned {
				unpin = append(unpin, id)
			}
		}
	}
	fs.mu.Unlock()
	fs.r.local.release(unpin...)
	fs.r.local.drop(free...)
}

// end frees what the link kept once it is gone.
func (fs *forwardServer) end() {
	fs.cancel()
	fs.sender.Close()
	fs.wg.Wait()
	// Results still to come are let go when they come; those that came are let go now.
	fs.mu.Lock()
	inner := fs.inner
	fs.inner = nil
	fs.mu.Unlock()
	for _, list := range inner {
		fs.r.releaseAll(list)
	}
	fs.resMu.Lock()
	fs.resEnded = true
	came := fs.results
	fs.results = nil
	awaited := fs.awaited
	fs.awaited = map[ids.ObjectID]bool{}
	fs.resMu.Unlock()
	fs.letGo(came)
	var forgotten []ids.ObjectID
	for id := range awaited {
		if fs.r.local.unwatch(id, fs) {
			forgotten = append(forgotten, id)
		}
	}
	fs.r.local.drop(forgotten...)
	fs.mu.Lock()
	var free, unpin []ids.ObjectID
	for id, pinned := range fs.held {
		free = append(free, id)
		if pinned {
			unpin = append(unpin, id)
		}
	}
	fs.held = map[ids.ObjectID]bool{}
	hosted := fs.hosted
	fs.hosted = nil
	groups := fs.groups
	fs.groups = nil
	fs.mu.Unlock()
	fs.r.local.release(unpin...)
	fs.r.local.drop(free...)
	// The owner of the actors hosted for it through this link has lost them (it restarts them
	// elsewhere, or it is gone): their processes here end.
	var kills []*pb.ClientMessage
	for id := range hosted {
		id := id
		kills = append(kills, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: id[:], NoRestart: true}}})
	}
	if len(kills) > 0 {
		glog.Warningf("the link from %s ended: stopping the %d actors this node hosted for it", fs.origin, len(kills))
		_ = fs.r.local.send(kills...)
	}
	// The groups' owner counts their bundles here as lost (it places them again): they go back.
	var returns []*pb.ClientMessage
	for key, round := range groups {
		returns = append(returns, &pb.ClientMessage{Body: &pb.ClientMessage_ReturnBundles{ReturnBundles: &pb.ReturnBundles{
			GroupId: key.group, Indexes: []int32{int32(key.index)}, Round: round}}})
	}
	if len(returns) > 0 {
		glog.Warningf("the link from %s ended: giving back the %d bundles of placement groups it reserved here", fs.origin, len(returns))
		_ = fs.r.local.send(returns...)
	}
}
