package raylet

import (
	"context"
	"fmt"
	"time"

	pb "goray/rpc/proto"
)

// Asks: the messages one event sends another node about placement groups' bundles (peerAsk),
// sent together over the link to it and answered together in one event, without a goroutine
// per message: the link's receiving goroutine delivers the answers as they come, a timer the
// answers that never come, the link's end those it can no longer bring.

// askGroup is the asks of one event to one node: their answers (or errors) are delivered
// together once each has one.
type askGroup struct {
	asks  []peerAsk
	reps  []*pb.Reply
	errs  []error
	left  int         // asks not answered yet (under the link's mu)
	timer *time.Timer // fails those still unanswered after peerAskTimeout
}

// askSlot is where the answer of one request of an askGroup goes.
type askSlot struct {
	g *askGroup
	i int
}

// deliverAsks hands answered groups' answers to the state, in one event.
func (r *Raylet) deliverAsks(groups []*askGroup) {
	if len(groups) == 0 {
		return
	}
	r.do(func(s *state) {
		for _, g := range groups {
			for i, a := range g.asks {
				a.done(s, g.reps[i], g.errs[i])
			}
		}
	})
}

// askPeers sends other nodes the messages of one event's asks, each node's together over its
// link. Called without r.mu.
func (r *Raylet) askPeers(asks []peerAsk) {
	var order []*remoteNode
	byNode := map[*remoteNode][]peerAsk{}
	for _, a := range asks {
		if a.done == nil {
			// Told, not asked: sent in order with the asks to the node, and not answered.
			// (Without an open link there is nothing to tell: what was reserved through
			// the last one went back when it ended.)
			if l := r.currentLink(a.node); l != nil {
				_ = l.sender.Enqueue(&pb.PeerMessage{Body: &pb.PeerMessage_ActorRequest{ActorRequest: &pb.ActorRequest{Message: a.msg}}})
			}
			continue
		}
		if byNode[a.node] == nil {
			order = append(order, a.node)
		}
		byNode[a.node] = append(byNode[a.node], a)
	}
	for _, n := range order {
		g := &askGroup{asks: byNode[n]}
		if l := r.currentLink(n); l != nil {
			l.ask(g) // (no goroutine: the link is open)
			continue
		}
		n := n
		r.goTracked(func() { // (opening a link may wait on the network)
			l, err := r.linkTo(n)
			if err != nil {
				g.failAll(err)
				r.deliverAsks([]*askGroup{g})
				return
			}
			l.ask(g)
		})
	}
}

// failAll gives every ask of a group not sent the error err.
func (g *askGroup) failAll(err error) {
	g.reps, g.errs = make([]*pb.Reply, len(g.asks)), make([]error, len(g.asks))
	for i := range g.errs {
		g.errs[i] = err
	}
}

// ask sends a group's messages over the link; their answers come back as one event (see
// answeredAsk, askTimedOut, breakOff).
func (l *link) ask(g *askGroup) {
	n := len(g.asks)
	g.reps, g.errs = make([]*pb.Reply, n), make([]error, n)
	reqIDs := make([]uint64, n)
	l.mu.Lock()
	if err := l.broken; err != nil {
		l.mu.Unlock()
		g.failAll(err)
		l.r.goTracked(func() { l.r.deliverAsks([]*askGroup{g}) })
		return
	}
	if l.asks == nil {
		l.asks = map[uint64]askSlot{}
	}
	for i := range g.asks {
		l.nextReq++
		reqIDs[i] = l.nextReq
		l.asks[reqIDs[i]] = askSlot{g, i}
	}
	g.left = n
	g.timer = time.AfterFunc(peerAskTimeout, func() { l.askTimedOut(reqIDs) })
	l.mu.Unlock()
	for i, a := range g.asks {
		msg := &pb.PeerMessage{Body: &pb.PeerMessage_ActorRequest{ActorRequest: &pb.ActorRequest{Id: reqIDs[i], Message: a.msg}}}
		if err := l.sender.Enqueue(msg); err != nil {
			if done := l.settleAsk(reqIDs[i], nil, fmt.Errorf("sending to %s: %w", l.node, err)); done != nil {
				l.r.goTracked(func() { l.r.deliverAsks([]*askGroup{done}) })
			}
		}
	}
}

// settleAsk gives request id its answer (rep) or error; it returns the request's group when
// that was its last unanswered request (nil otherwise, or when id is no ask of this link's, or
// settled already).
func (l *link) settleAsk(id uint64, rep *pb.Reply, err error) *askGroup {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.settleAskLocked(id, rep, err)
}

func (l *link) settleAskLocked(id uint64, rep *pb.Reply, err error) *askGroup {
	slot, ok := l.asks[id]
	if !ok {
		return nil
	}
	delete(l.asks, id)
	g := slot.g
	g.reps[slot.i], g.errs[slot.i] = rep, err
	if rep == nil && err == nil {
		g.errs[slot.i] = fmt.Errorf("%s sent an empty answer", l.node)
	}
	g.left--
	if g.left > 0 {
		return nil
	}
	g.timer.Stop()
	return g
}

// askTimedOut fails the requests of a group still unanswered when its time ran out.
func (l *link) askTimedOut(reqIDs []uint64) {
	var done *askGroup
	l.mu.Lock()
	for _, id := range reqIDs {
		if g := l.settleAskLocked(id, nil, fmt.Errorf("%s did not answer within %v: %w", l.node, peerAskTimeout, context.DeadlineExceeded)); g != nil {
			done = g
		}
	}
	l.mu.Unlock()
	if done != nil {
		l.r.goTracked(func() { l.r.deliverAsks([]*askGroup{done}) })
	}
}

// failAsksLocked fails every request of the link still unanswered with err and returns the
// groups that have all their answers now. Called with l.mu held.
func (l *link) failAsksLocked(err error) []*askGroup {
	var done []*askGroup
	for id := range l.asks {
		if g := l.settleAskLocked(id, nil, err); g != nil {
			done = append(done, g)
		}
	}
	return done
}

// currentLink is the open link to node n, or nil when there is none (to n's current address).
func (r *Raylet) currentLink(n *remoteNode) *link {
	r.linksMu.Lock()
	defer r.linksMu.Unlock()
	if l := r.links[n.key]; l != nil && l.addr == n.address {
		return l
	}
	return nil
}
