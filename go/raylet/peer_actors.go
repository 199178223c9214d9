package raylet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/ids"
	pb "goray/rpc/proto"
)

// The I/O of remote_actors.go: actor requests between nodes (over links, answered through the
// answering node's own client) and named actors' names in the control store.

// namesNamespace is the control store's key-value namespace of named actors: the key is the
// actor's namespace and name, the value its id and class name.
const namesNamespace = "goray_actor_names"

func nameKey(k actorKey) string { return k.namespace + "\x00" + k.name }

func nameValue(id ids.ActorID, className string) []byte {
	return append(append([]byte{}, id[:]...), className...)
}

// request sends an actor request to the node at the other end and waits for its reply.
func (l *link) request(ctx context.Context, m *pb.ClientMessage) (*pb.Reply, error) {
	ch := make(chan *pb.Reply, 1)
	l.mu.Lock()
	if l.broken != nil {
		err := l.broken
		l.mu.Unlock()
		return nil, err
	}
	l.nextReq++
	id := l.nextReq
	if l.pending == nil {
		l.pending = map[uint64]chan *pb.Reply{}
	}
	l.pending[id] = ch
	l.mu.Unlock()
	if err := l.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_ActorRequest{ActorRequest: &pb.ActorRequest{Id: id, Message: m}}}); err != nil {
		l.forget(id)
		return nil, err
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, l.brokenErr()
		}
		return rep, nil
	case <-ctx.Done():
		l.forget(id)
		return nil, ctx.Err()
	}
}

func (l *link) forget(id uint64) {
	l.mu.Lock()
	delete(l.pending, id)
	l.mu.Unlock()
}

func (l *link) brokenErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	return errors.New("the link broke")
}

// answered delivers a reply to its request. The reply of an ask settles it: answered returns its
// group when that was the group's last unanswered ask (see peerask.go).
func (l *link) answered(rep *pb.ActorReply) *askGroup {
	l.mu.Lock()
	ch := l.pending[rep.Id]
	delete(l.pending, rep.Id)
	if ch == nil {
		g := l.settleAskLocked(rep.Id, rep.Reply, nil)
		l.mu.Unlock()
		return g
	}
	l.mu.Unlock()
	if rep.Reply != nil {
		ch <- rep.Reply
	}
	return nil
}

// breakOff fails the requests waiting on a link that broke.
func (l *link) breakOff(err error) {
	if err == nil {
		err = errors.New("the link closed")
	}
	l.mu.Lock()
	l.broken = fmt.Errorf("the link to %s broke: %w", l.node, err)
	pending := l.pending
	l.pending = nil
	asks := l.failAsksLocked(l.broken)
	l.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	l.r.deliverAsks(asks)
}

// setRequestID sets the request id of an actor request's message (the answering node's own).
func setRequestID(m *pb.ClientMessage, id uint64) error {
	switch body := m.GetBody().(type) {
	case *pb.ClientMessage_CreateActor:
		body.CreateActor.RequestId = id
	case *pb.ClientMessage_WaitActor:
		body.WaitActor.RequestId = id
	case *pb.ClientMessage_KillActor:
		body.KillActor.RequestId = id
	case *pb.ClientMessage_GetActor:
		body.GetActor.RequestId = id
	case *pb.ClientMessage_RemovePlacementGroup:
		body.RemovePlacementGroup.RequestId = id
	case *pb.ClientMessage_WaitPlacementGroup:
		body.WaitPlacementGroup.RequestId = id
	case *pb.ClientMessage_GetPlacementGroups:
		body.GetPlacementGroups.RequestId = id
	case *pb.ClientMessage_PrepareBundles:
		body.PrepareBundles.RequestId = id
	case *pb.ClientMessage_CommitBundles:
		body.CommitBundles.RequestId = id
	case *pb.ClientMessage_ReturnBundles:
		body.ReturnBundles.RequestId = id
	default:
		return fmt.Errorf("not an actor request: %T", m.GetBody())
	}
	return nil
}

// answerActorRequest answers another node's actor request through this node's own client.
func (fs *forwardServer) answerActorRequest(req *pb.ActorRequest) {
	defer fs.wg.Done()
	var rep *pb.Reply
	err := setRequestID(req.Message, 0)
	create := req.Message.GetCreateActor()
	var pulled []ids.ObjectID
	if err == nil && create.GetCreation() != nil {
		// The actor's code and its factory's arguments, before it is created here.
		create.Creation.Job, err = fs.r.localJob(fs.ctx, create.Creation.Job)
		if err == nil {
			err = fs.pullArgs(create.Creation, &pulled)
		}
	}
	if err == nil {
		rep, err = fs.r.local.request(fs.ctx, func(id uint64) *pb.ClientMessage {
			_ = setRequestID(req.Message, id)
			return req.Message
		})
	}
	for _, id := range pulled {
		fs.r.releasePulled(id) // the actor holds its factory's arguments now
	}
	fs.trackBundles(req.Message, err == nil && rep.Error == "")
	if err == nil && rep.Error == "" && create != nil && create.Hosted {
		if id, e := ids.UniqueIDFromBytes(create.ActorId); e == nil {
			fs.mu.Lock()
			if fs.hosted == nil {
				fs.hosted = map[ids.ActorID]bool{}
			}
			fs.hosted[id] = true
			fs.mu.Unlock()
		}
	}
	if err != nil {
		rep = &pb.Reply{Error: err.Error()}
	}
	_ = fs.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_ActorReply{ActorReply: &pb.ActorReply{Id: req.Id, Reply: rep}}})
}

// hostActor has another node host an actor's incarnation and follows it: alive, then ended.
func (r *Raylet) hostActor(j actorJob) {
	a, inc := j.actor, j.incarnation
	ended := func(cause string, startFailed bool) {
		r.do(func(s *state) { s.hostedEnded(a, inc, cause, startFailed) })
	}
	unreachable := func(err error) {
		cause := fmt.Sprintf("%s could not be reached to host the actor: %v", j.node, err)
		r.do(func(s *state) { s.hostUnreachable(a, inc, j.node, cause) })
	}
	l, err := r.linkTo(j.node)
	if err != nil {
		unreachable(err)
		return
	}
	rep, err := l.request(r.ctx, &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: j.create}})
	if err != nil {
		unreachable(err) // (the node never had the creation)
		return
	}
	if rep.Error != "" {
		ended(fmt.Sprintf("%s could not host the actor: %s", j.node, rep.Error), true)
		return
	}
	wait := func(after int32, endedOnly bool) (*pb.Reply, error) {
		return l.request(r.ctx, &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{
			ActorId: j.create.ActorId, AfterIncarnation: after, EndedOnly: endedOnly}}})
	}
	rep, err = wait(inc-1, false)
	switch {
	case err != nil:
		ended(fmt.Sprintf("The actor's node %s was lost while it started: %v", j.node, err), false)
		return
	case rep.ActorDead:
		r.do(func(s *state) {
			if a.host != nil && int32(a.restarts) == inc && a.state == actorStarting {
				a.noRestart = true // its factory failed: as on its own node, it is not restarted
				a.host = nil
				s.actorDied(a, rep.Cause, false)
			}
		})
		return
	}
	r.do(func(s *state) { s.hostedAlive(a, inc, rep.ActorAddress) })
	rep, err = wait(inc, true)
	cause := ""
	switch {
	case err != nil:
		cause = fmt.Sprintf("The actor's node %s was lost: %v", j.node, err)
	case rep.LostCause != "":
		cause = rep.LostCause
	default:
		cause = rep.Cause
	}
	if err == nil && rep.NoRestart {
		r.do(func(s *state) { s.hostedEndedForGood(a, inc, cause) })
		return
	}
	ended(cause, false)
}

// relay sends a process's question about an actor to its owner and answers the process.
func (r *Raylet) relay(j relayJob) {
	l, err := r.linkTo(j.owner)
	var rep *pb.Reply
	if err == nil {
		rep, err = l.request(r.ctx, j.message)
	}
	if j.client == nil {
		if err != nil {
			glog.Warningf("a request about an actor for %s was lost: %v", j.owner, err)
		}
		return
	}
	if err != nil {
		rep = &pb.Reply{Error: fmt.Sprintf("the node that owns the actor (%s) cannot be reached: %v", j.owner, err)}
		if j.message.GetWaitActor() != nil {
			rep = &pb.Reply{ActorDead: true, Cause: rep.Error}
		}
	}
	r.do(func(s *state) {
		if s.clients[j.client] {
			rep.RequestId = j.requestID
			s.reply(j.client, rep)
		}
	})
}

// nameOp claims, releases or looks up a named actor's name in the control store.
func (r *Raylet) nameOp(j nameJob) {
	store := r.cfg.GCS
	if store == nil {
		if j.op == nameClaim {
			r.do(func(s *state) { s.nameClaimed(j.actor, false, nil) })
		}
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, nameTimeout)
	defer cancel()
	switch j.op {
	case nameClaim:
		rep, err := store.KVPut(ctx, &pb.KVPutRequest{Namespace: namesNamespace, Key: nameKey(j.key), Value: nameValue(j.actorID, j.className)})
		taken := err == nil && !rep.Added
		r.do(func(s *state) { s.nameClaimed(j.actor, taken, err) })
	case nameRelease:
		if _, err := store.KVDel(ctx, &pb.KVDelRequest{Namespace: namesNamespace, Key: nameKey(j.key), IfValue: nameValue(j.actorID, j.className)}); err != nil {
			glog.Warningf("releasing the name %q of actor %s: %v", j.key.name, j.actorID.Hex(), err)
		}
	case nameLookup:
		rep, err := store.KVGet(ctx, &pb.KVGetRequest{Namespace: namesNamespace, Key: nameKey(j.key)})
		out := &pb.Reply{RequestId: j.requestID}
		switch {
		case err != nil:
			out.Error = fmt.Sprintf("looking up the actor named %q: %v", j.key.name, err)
		case rep.Found && len(rep.Value) >= ids.UniqueIDSize:
			out.Found = true
			out.ActorId = rep.Value[:ids.UniqueIDSize]
			out.ClassName = string(rep.Value[ids.UniqueIDSize:])
		}
		r.do(func(s *state) {
			if s.clients[j.client] {
				s.reply(j.client, out)
			}
		})
	}
}

// nameTimeout bounds a call to the control store about a name.
const nameTimeout = 10 * time.Second

// answerBundleOps answers a group owner's requests about its bundles here (those of one batch
// of the link, in its order): decisions of the state alone, made as the requests arrive, all in
// one event.
func (fs *forwardServer) answerBundleOps(reqs []*pb.ActorRequest) {
	reps := make([]*pb.Reply, len(reqs))
	fs.r.do(func(s *state) {
		for i, req := range reqs {
			reps[i] = s.bundleOp(req.Message)
		}
	})
	for i, req := range reqs {
		rep := reps[i]
		rep.RequestId = 0
		fs.trackBundles(req.Message, rep.Error == "")
		if req.Id == 0 {
			continue // (told, not asked)
		}
		_ = fs.sender.Queue(&pb.PeerMessage{Body: &pb.PeerMessage_ActorReply{ActorReply: &pb.ActorReply{Id: req.Id, Reply: rep}}})
	}
}

// trackBundles keeps, for the link's end, the bundles its origin reserved here and has not
// given back (done: the node did what m asked).
func (fs *forwardServer) trackBundles(m *pb.ClientMessage, done bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	switch {
	case m.GetPrepareBundles() != nil && done:
		p := m.GetPrepareBundles()
		if fs.groups == nil {
			fs.groups = map[bundleKey]uint64{}
		}
		for _, i := range p.Indexes {
			fs.groups[bundleKey{p.GroupId, int(i)}] = p.Round
		}
	case m.GetReturnBundles() != nil:
		r := m.GetReturnBundles()
		for key, round := range fs.groups {
			if key.group != r.GroupId || (r.Round != 0 && r.Round != round) {
				continue
			}
			if len(r.Indexes) == 0 {
				delete(fs.groups, key)
				continue
			}
			for _, i := range r.Indexes {
				if int(i) == key.index {
					delete(fs.groups, key)
				}
			}
		}
	}
}
