package raylet

import (
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/actorrule"
	"goray/ids"
	pb "goray/rpc/proto"
	"goray/scheduling"
)

// Actors across nodes. The node of the process that creates an actor owns it (its id says so:
// ids.OwnedBy): the owner keeps its life (placement, restarts, death, kill, name) and answers
// every question about it. When the policy places an actor on another node, the owner has that
// node host it (effect hostActor): the hosting node runs its process as an actor of its own that
// never restarts, and the owner's driver learns, by asking the hosting node (WaitActor), when the
// incarnation is alive (hostedAlive) and when it ends (hostedEnded); a restart is placed again,
// anywhere. Any other node relays its processes' questions about an actor it does not own to the
// owner (effect relay), and a named actor's name is claimed in the control store so that it is
// unique in the cluster and found from every node.

// actorJob asks the driver to have another node host an actor's incarnation.
type actorJob struct {
	node        *remoteNode
	actor       *actor
	incarnation int32
	create      *pb.CreateActor
}

// relayJob asks the driver to send a process's question about an actor to the actor's owner and
// to answer the process with the owner's reply.
type relayJob struct {
	client    *client
	requestID uint64
	owner     *remoteNode
	message   *pb.ClientMessage
}

// nameJob asks the driver to claim (or release, or look up) a named actor's name in the control
// store; claims and lookups come back as events.
type nameJob struct {
	op        nameOp
	key       actorKey
	actor     *actor // claim: the actor waiting for its name
	actorID   ids.ActorID
	className string
	client    *client // lookup: who asked, and under which request id
	requestID uint64
}

type nameOp int

const (
	nameClaim nameOp = iota
	nameRelease
	nameLookup
)

// inCluster tells whether the node is one of a cluster (it has other nodes to reach).
func (s *state) inCluster() bool { return s.cfg.PeerListen != "" }

// ownerOf is the node that owns an actor: nil when it is this node (or no node this one knows).
func (s *state) ownerOf(id ids.ActorID) *remoteNode {
	if ids.OwnedBy(id, s.nodeID) {
		return nil
	}
	for _, r := range s.remotes {
		if r.alive && ids.OwnedBy(id, r.id) {
			return r
		}
	}
	return nil
}

// relayed sends a question about actor id from c to the actor's owner when this node does not
// answer it (it does not own the actor, and it is not asked by the owner about an actor it hosts);
// it reports whether it did. Called with r.mu held.
func (s *state) relayed(c *client, id ids.ActorID, requestID uint64, m *pb.ClientMessage) bool {
	if !s.inCluster() || c.agent || ids.OwnedBy(id, s.nodeID) {
		return false
	}
	owner := s.ownerOf(id)
	if owner == nil {
		return false
	}
	s.eff.relay = append(s.eff.relay, relayJob{client: c, requestID: requestID, owner: owner, message: m})
	return true
}

// placeActor asks the policy where an actor whose factory's arguments exist starts; it reports
// whether that is settled elsewhere: the actor went to another node (hostActorOn), or it can run
// nowhere (hard node affinity to a node that cannot have it: it dies). Called with r.mu held.
func (s *state) placeActor(a *actor) bool {
	if a.hosted {
		return false
	}
	d := s.place(a.request())
	if d.Status == scheduling.Unschedulable {
		a.noRestart = true
		s.actorDied(a, fmt.Sprintf("The actor cannot be placed: its node affinity (hard) names node %s, which is dead, unknown to this node, or can never fit %v", d.Node, a.demand), false)
		return true
	}
	affinityWait := d.Status == scheduling.Wait && a.request().Strategy.Kind == scheduling.NodeAffinity
	if !s.inCluster() || a.job.id == "" || d.Local || (d.Status != scheduling.Run && !affinityWait) {
		return false
	}
	r := s.remotes[d.Node]
	if r == nil || !r.alive {
		return false
	}
	s.hostActorOn(r, a)
	return true
}

// hostActorOn has node r host a's next incarnation. Called with r.mu held.
func (s *state) hostActorOn(r *remoteNode, a *actor) {
	s.removePendingActor(a)
	a.state = actorStarting
	a.host = r
	if n := s.viewNodeOf(r.key); n != nil {
		n.Available = n.Available.Sub(a.demand)
	}
	inc := int32(a.restarts)
	glog.Infof("%s: %s hosts incarnation %d", a, r, inc)
	s.eff.hostActor = append(s.eff.hostActor, actorJob{node: r, actor: a, incarnation: inc, create: &pb.CreateActor{
		ActorId: a.id[:], Creation: s.forwardSpec(a.creation), ClassName: a.className, MaxConcurrency: int32(a.maxConcurrency),
		Namespace: a.namespace, Incarnation: inc, Hosted: true, Detached: true,
	}})
}

// hostedAlive is the event of an actor's incarnation alive on the node hosting it, taking calls at
// address. Called with r.mu held.
func (s *state) hostedAlive(a *actor, inc int32, address string) {
	if a.state != actorStarting || a.host == nil || int32(a.restarts) != inc {
		return // killed or lost meanwhile: hostedEnded deals with it
	}
	a.state = actorAlive
	a.address = address
	a.incarnation = inc
	a.startFailures = 0
	glog.Infof("%s is alive on %s (incarnation %d), taking calls at %s", a, a.host, inc, address)
	s.answerWaiters(a)
}

// hostedEnded is the event of an actor's incarnation inc ending on the node hosting it (or that
// node could not start it: cause says why). Called with r.mu held.
func (s *state) hostedEnded(a *actor, inc int32, cause string, startFailed bool) {
	if a.host == nil || int32(a.restarts) != inc || a.state == actorDead {
		return // dealt with already (killed, or its node was lost)
	}
	if cause == actorrule.CauseExited {
		a.exiting = true
	}
	a.host = nil
	if startFailed {
		s.actorStartFailed(a, cause)
		return
	}
	s.actorLost(a, cause, true)
}

// hostedEndedForGood is hostedEnded for an incarnation that ended so that the actor must not
// restart (its placement group was removed). Called with r.mu held.
func (s *state) hostedEndedForGood(a *actor, inc int32, cause string) {
	if a.host == nil || int32(a.restarts) != inc || a.state == actorDead {
		return
	}
	a.noRestart = true
	a.removedCause = cause
	s.hostedEnded(a, inc, cause, false)
}

// unreachableHold is how long the policy leaves out a node that could not be reached (until the
// control store's health checks say what became of it).
const unreachableHold = 5 * time.Second

// hostUnreachable is the event of node r not being reached to host a's incarnation inc: the
// incarnation never started, so no restart is used; r is left out of placement for
// unreachableHold and the actor is placed again. Called with r.mu held.
func (s *state) hostUnreachable(a *actor, inc int32, r *remoteNode, cause string) {
	r.unreachableUntil = s.now.Add(unreachableHold)
	if n := s.viewNodeOf(r.key); n != nil {
		n.Alive = false
	}
	if a.host != r || int32(a.restarts) != inc || a.state == actorDead {
		return // dealt with already (killed, its node was lost, or placed elsewhere)
	}
	a.host = nil
	glog.Warningf("%s: %s; placing incarnation %d elsewhere", a, cause, inc)
	a.state = actorPending
	s.creationReady(a)
}

// viewNodeOf is another node's entry in the view (nil: none). Called with r.mu held.
func (s *state) viewNodeOf(key scheduling.NodeID) *scheduling.Node {
	for i := 1; i < len(s.view.Nodes); i++ {
		if s.view.Nodes[i].ID == key {
			return &s.view.Nodes[i]
		}
	}
	return nil
}

// hostsLost deals with the actors node r hosted, once it is lost: each incarnation ends, and the
// actor restarts elsewhere if it may. Called with r.mu held.
func (s *state) hostsLost(r *remoteNode, cause string) {
	for _, a := range s.actors {
		if a.host == r && a.state != actorDead {
			a.host = nil
			s.actorLost(a, fmt.Sprintf("The actor died with its node: %s %s", r, cause), true)
		}
	}
}

// killHosted asks the node hosting a to kill its process. Called with r.mu held.
func (s *state) killHosted(a *actor) {
	if a.host == nil {
		return
	}
	s.eff.relay = append(s.eff.relay, relayJob{owner: a.host, message: &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{
		KillActor: &pb.KillActor{ActorId: a.id[:], NoRestart: true}}}})
	a.host = nil
}

// claimName asks the control store for a's name (namespace and name), cluster-wide; the actor's
// creation goes on once it has it (nameClaimed). Called with r.mu held.
func (s *state) claimName(a *actor) {
	s.eff.names = append(s.eff.names, nameJob{op: nameClaim, key: actorKey{a.namespace, a.name}, actor: a, actorID: a.id, className: a.className})
}

// releaseName gives a dead actor's name back to the cluster. Called with r.mu held.
func (s *state) releaseName(a *actor) {
	if s.inCluster() && a.name != "" && a.nameClaimed {
		s.eff.names = append(s.eff.names, nameJob{op: nameRelease, key: actorKey{a.namespace, a.name}, actorID: a.id, className: a.className})
	}
}

// lookupName asks the control store for a named actor this node does not know. Called with r.mu
// held.
func (s *state) lookupName(c *client, m *pb.GetActor) {
	s.eff.names = append(s.eff.names, nameJob{op: nameLookup, key: actorKey{m.Namespace, m.Name}, client: c, requestID: m.RequestId})
}

// request is what an actor's creation asks the policy (see requestOf; the actor a node hosts for
// its owner stays where the owner placed it).
func (a *actor) request() scheduling.Request {
	return requestOf(a.creation.spec, a.demand, a.hosted)
}
