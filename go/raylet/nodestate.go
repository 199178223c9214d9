package raylet

import (
	"context"

	pb "goray/rpc/proto"
)

// The node's part of Ray's state API: what it knows of the cluster's actors, as records other
// nodes and `ray list` gather (package state merges them).

// NodeState answers a state request of another node or a client. It implements
// pb.NodePeerServer.
func (p *peerService) NodeState(context.Context, *pb.NodeStateRequest) (*pb.NodeStateReply, error) {
	return p.r.NodeState(), nil
}

// NodeState returns the node's actor records: those it owns, and those it runs for others.
func (r *Raylet) NodeState() *pb.NodeStateReply {
	var rep *pb.NodeStateReply
	r.do(func(s *state) { rep = s.nodeState() })
	return rep
}

// nodeState is the event of a state request. Called with r.mu held.
func (s *state) nodeState() *pb.NodeStateReply {
	rep := &pb.NodeStateReply{NodeId: s.nodeID[:]}
	for _, a := range s.actors {
		rep.Actors = append(rep.Actors, s.actorState(a))
	}
	return rep
}

// actorState is an actor's record, in Ray's terms.
func (s *state) actorState(a *actor) *pb.ActorState {
	st := &pb.ActorState{
		ActorId: a.id[:], ClassName: a.className, Name: a.name, Namespace: a.namespace,
		NumRestarts: int32(a.restarts), MaxRestarts: int32(a.maxRestarts), IsDetached: a.detached,
		Owned: !a.hosted, RequiredResources: a.demand.Map(),
	}
	if a.job != nil {
		st.JobId = a.job.id
	}
	if a.creation != nil && a.creation.spec != nil {
		st.PlacementGroupId = a.creation.spec.PlacementGroupId
	}
	switch a.state {
	case actorAlive:
		st.State = "ALIVE"
	case actorDead:
		st.State = "DEAD"
		st.DeathCause = a.cause
		if a.removedCause != "" {
			st.DeathCause = a.removedCause
		}
	default:
		st.State = "PENDING_CREATION"
		if a.restarts > 0 {
			st.State = "RESTARTING"
		}
	}
	switch {
	case a.host != nil:
		st.NodeId = a.host.id[:]
	case a.worker != nil:
		st.NodeId = s.nodeID[:]
		st.Pid = int32(a.worker.pid)
	}
	return st
}
