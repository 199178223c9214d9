package raylet

import (
	"context"
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
)

// Objects this node does not know, looked for on the other nodes of its cluster. A process of
// the node that asks for one (an actor given ObjectRefs inside its arguments by a caller on
// another node, say) waits while the node pulls it from the first node that has it; it hears
// that the object is unknown only when no node has it. A node that knows no other live node yet
// waits for the cluster's next view first. The node's own client (its links) never starts a look:
// a node that asks another for an object it lacks is answered at once.

// locateJob asks the driver to look for an object on other nodes (their peer addresses, in the
// view's order), pulling it here from the first that has it; then located.
type locateJob struct {
	id    ids.ObjectID
	nodes []string
}

// locateWait is how long a node that knows no other live node waits for the cluster's next view
// before it says that an object is unknown: a node that has just joined learns of the others with
// its first report.
const locateWait = 300 * time.Millisecond

// locate starts a look for id on the other live nodes, unless one is under way, or (when it knows
// of none) after locateWait; the subscribers of id wait meanwhile. Called with r.mu held.
func (s *state) locate(id ids.ObjectID) {
	if s.locating[id] {
		return
	}
	if s.locating == nil {
		s.locating = map[ids.ObjectID]bool{}
	}
	s.locating[id] = true
	if !s.startLook(id) {
		s.after(locateWait, func(s *state) {
			if s.locating[id] && !s.startLook(id) {
				s.located(id, false)
			}
		})
	}
}

// startLook asks the driver to look for id on the other live nodes; false when there are none.
// Called with r.mu held.
func (s *state) startLook(id ids.ObjectID) bool {
	addrs := s.otherNodes()
	if len(addrs) == 0 {
		return false
	}
	s.eff.locate = append(s.eff.locate, locateJob{id: id, nodes: addrs})
	return true
}

// otherNodes is where the other live nodes of the cluster serve, in the view's order. Called
// with r.mu held.
func (s *state) otherNodes() []string {
	var addrs []string
	for i := 1; i < len(s.view.Nodes); i++ {
		n := &s.view.Nodes[i]
		if r := s.remotes[n.ID]; n.Alive && r != nil && r.alive && r.address != "" {
			addrs = append(addrs, r.address)
		}
	}
	return addrs
}

// located is the event of a look for id ending: found (its copy was put in the store, which
// answered the processes waiting for it) or not (they hear it is unknown). Called with r.mu held.
func (s *state) located(id ids.ObjectID, found bool) {
	delete(s.locating, id)
	if _, ok := s.store.Get(id); ok || s.comingUp(id) {
		return // answered when it was put, or they wait on
	}
	if found {
		glog.V(1).Infof("object %s was found on another node but is gone again", id.Hex())
	}
	subs := s.subscribers[id]
	delete(s.subscribers, id)
	if s.referenced(id) {
		// A process here was handed a reference to it, so it was made: by a process of a node
		// that is gone now, or that let it go. Nobody can find or rebuild it.
		lost := &objstore.Object{Kind: objstore.KindOwnerDied, Data: []byte(ownerDied(id))}
		for _, c := range subs {
			c.sendObject(id, lost)
		}
		return
	}
	for _, c := range subs {
		c.sendUnknown(id)
	}
}

// ownerDied is the error of an object a process of this node holds a reference to that no live
// node of the cluster has (Ray's OwnerDiedError).
func ownerDied(id ids.ObjectID) string {
	return fmt.Sprintf("Object %s is on no live node of the cluster: its owner (the process on another node that made it or submitted its task) died with its node, or let it go; it cannot be rebuilt", id.Hex())
}

// locateObject looks for an object on other nodes and pulls it here from the first that has it.
// The node's own client lets go of its copy once the waiting processes have it (they hold it,
// or pin it, from there on). Called without r.mu.
func (r *Raylet) locateObject(j locateJob) {
	for _, addr := range j.nodes {
		if err := r.acquire(r.ctx, addr, j.id); err != nil {
			glog.V(1).Infof("object %s is not to be had from %s: %v", j.id.Hex(), addr, err)
			continue
		}
		r.tookFrom(addr, j.id)
		r.do(func(s *state) { s.located(j.id, true) })
		r.releasePulled(j.id)
		return
	}
	r.do(func(s *state) { s.located(j.id, false) })
}

// handOverLimit bounds how long a node keeps objects for a process of another node that has not
// taken them (holdForRemote).
const handOverLimit = 10 * time.Minute

// holdForRemote keeps objects of this node handed to a process of another node (the caller of
// an actor here, given ObjectRefs to them in a result): each stays until a node pulls it
// (handedOver), or for handOverLimit at most. Called with r.mu held.
func (s *state) holdForRemote(list []ids.ObjectID) {
	for _, id := range list {
		if _, ok := s.store.Get(id); !ok && !s.comingUp(id) {
			continue // (gone already: the other node hears that it is unknown)
		}
		if s.remoteHolds == nil {
			s.remoteHolds = map[ids.ObjectID][]uint64{}
		}
		s.nextHold++
		token := s.nextHold
		s.hold([]ids.ObjectID{id})
		s.remoteHolds[id] = append(s.remoteHolds[id], token)
		id := id
		s.after(handOverLimit, func(s *state) { s.dropRemoteHold(id, token) })
	}
}

// handedOver is the event of another node having pulled id: the oldest hold holdForRemote took
// on it ends. Called with r.mu held.
func (s *state) handedOver(id ids.ObjectID) {
	if list := s.remoteHolds[id]; len(list) > 0 {
		s.dropRemoteHold(id, list[0])
	}
}

// dropRemoteHold ends the hold token on id, if it has not ended yet. Called with r.mu held.
func (s *state) dropRemoteHold(id ids.ObjectID, token uint64) {
	list := s.remoteHolds[id]
	for i, t := range list {
		if t != token {
			continue
		}
		list = append(list[:i:i], list[i+1:]...)
		if len(list) == 0 {
			delete(s.remoteHolds, id)
		} else {
			s.remoteHolds[id] = list
		}
		s.unhold([]ids.ObjectID{id})
		return
	}
}

// tookFrom tells the node at addr that this node has object id now (a hold it kept for a process
// here ends): a look found it there. In the background, once.
func (r *Raylet) tookFrom(addr string, id ids.ObjectID) {
	r.goTracked(func() {
		conn, err := r.peerConn(addr)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, peerKeepalive)
		defer cancel()
		st, err := pb.NewNodePeerClient(conn).Pull(ctx, &pb.PullRequest{ObjectId: id[:], Done: true})
		if err == nil {
			_, _ = st.Recv() // (io.EOF: done)
		}
	})
}
