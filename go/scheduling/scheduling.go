// Package scheduling is the node manager's scheduling policy, and where the cluster plugs into the
// node: given a request and a view of the cluster's nodes, it decides which node runs the request,
// or that the request must wait, or that no node can ever run it. It follows Ray's raylet policies
// (src/ray/raylet/scheduling/policy): hybrid (Ray's DEFAULT strategy), SPREAD and node affinity.
//
// Policy.Schedule is a pure function of its arguments: no clock, no lock, no I/O and no hidden state.
// What Ray keeps between calls is passed in: SPREAD's round-robin cursor travels in and out of each
// call, and the random pick among the best nodes comes from an injected chooser, so tests are
// deterministic.
package scheduling

import (
	"goray/resources"
)

// NodeID names a node. The policy compares IDs only for equality and, to break ties and to order
// SPREAD's round robin, by string order.
type NodeID string

// Node is the policy's view of one node.
type Node struct {
	// ID names the node; IDs in a view are unique and not empty.
	ID NodeID
	// Total is everything the node has; Available what is free now.
	Total, Available resources.Set
	// Alive is false for a node that is dead, or not known to be alive yet: it is never chosen.
	Alive bool
	// Draining marks a node that is shutting down: like Ray, the policy chooses it for nothing new.
	Draining bool
}

// schedulable tells whether the policy may choose n at all (Ray's NodeAvailable).
func (n *Node) schedulable() bool { return n.Alive && !n.Draining }

// View is the cluster as the deciding node sees it.
type View struct {
	// Nodes is every node known, in any order, the local one included.
	Nodes []Node
	// Local is the deciding node's ID.
	Local NodeID
}

// StrategyKind is a request's scheduling strategy.
type StrategyKind uint8

const (
	// Default is Ray's DEFAULT strategy, the hybrid policy: the local node while it is not busy,
	// otherwise one of the least busy nodes.
	Default StrategyKind = iota
	// Spread places successive requests on successive nodes, round robin.
	Spread
	// NodeAffinity asks for one node, Strategy.Node.
	NodeAffinity
)

// String names the strategy as Ray does.
func (k StrategyKind) String() string {
	switch k {
	case Default:
		return "DEFAULT"
	case Spread:
		return "SPREAD"
	case NodeAffinity:
		return "NODE_AFFINITY"
	}
	return "unknown strategy"
}

// Strategy is how a request wants to be placed.
type Strategy struct {
	// Kind is the strategy.
	Kind StrategyKind
	// Node is the node NodeAffinity asks for.
	Node NodeID
	// Soft makes NodeAffinity a preference: when Node is dead, unknown, draining or lacks the
	// totals, the request is placed as Default would place it. Hard affinity fails instead.
	Soft bool
}

// Request is what to place.
type Request struct {
	// Demand is the resources the request needs while it runs; empty for none.
	Demand resources.Set
	// Strategy is how to place it; the zero Strategy is Default.
	Strategy Strategy
	// PreferLocal runs the request on the local node whenever that has room, and queues it there
	// when no node has room but the local node could fit it later. Ray does this for leases it
	// must not spill again (spilled to this node already, or sent here for data locality). Hard
	// NodeAffinity to another node is left alone.
	PreferLocal bool
	// Visited is the nodes a forwarded request came through: the policy chooses one of them only
	// when none of the rest has room now (or could ever run it). Sent back, the request makes a
	// round trip, and the node it went back to takes back its own copy.
	Visited []NodeID
}

// visited tells whether the request came through node id.
func (r *Request) visited(id NodeID) bool {
	for _, v := range r.Visited {
		if v == id {
			return true
		}
	}
	return false
}

// Status is the kind of a Decision.
type Status uint8

const (
	// Run: Decision.Node has room for the request now.
	Run Status = iota + 1
	// Wait: Decision.Node could fit the request but has no room now (no node has, or the strategy
	// insists on that node); the request queues there, locally when Decision.Local, else on the
	// node it is sent to.
	Wait
	// Infeasible: no live node has the totals the request needs; it waits for the cluster to
	// grow (Ray's infeasible queue).
	Infeasible
	// Unschedulable: hard NodeAffinity to a node that is dead, unknown, draining or lacks the
	// totals (Decision.Node): the request can never run and fails.
	Unschedulable
)

// String names the status.
func (s Status) String() string {
	switch s {
	case Run:
		return "run"
	case Wait:
		return "wait"
	case Infeasible:
		return "infeasible"
	case Unschedulable:
		return "unschedulable"
	}
	return "no decision"
}

// Decision is the policy's answer.
type Decision struct {
	// Status says what the decision is.
	Status Status
	// Node is where the request runs or waits (Run, Wait), or the node hard affinity asked for
	// (Unschedulable); empty for Infeasible.
	Node NodeID
	// Local tells whether Node is the local node.
	Local bool
	// Cursor is the SPREAD round-robin position to pass to the next call: the node this decision
	// chose for a Spread request, the cursor passed in otherwise.
	Cursor NodeID
}

// Policy holds the policy's settings (Ray's scheduler_spread_threshold, scheduler_top_k_fraction,
// scheduler_top_k_absolute) and its source of randomness. It is not changed by Schedule, so one
// Policy may serve concurrent calls if Choose may.
type Policy struct {
	// SpreadThreshold is the critical utilisation below which a node counts as idle (score 0):
	// the local node is kept while it is below it. Ray's default is 0.5.
	SpreadThreshold float64
	// TopKFraction and TopKAbsolute give the number of best nodes the hybrid policy picks from:
	// k = max(TopKAbsolute, floor(number of nodes in the view * TopKFraction)), at least 1.
	// Ray's defaults are 0.2 and 1.
	TopKFraction float64
	// TopKAbsolute is the least k; see TopKFraction.
	TopKAbsolute int
	// Choose returns a number in [0, n), uniformly at random in production (math/rand.Intn); it
	// picks among the best n nodes and is called only when n >= 2. Nil always picks the best
	// node; an answer out of range also does.
	Choose func(n int) int
}

// DefaultPolicy returns Ray's defaults: spread threshold 0.5, top k of 20% of the nodes and at
// least 1, with choose as the random source (nil: always the best node).
func DefaultPolicy(choose func(n int) int) Policy {
	return Policy{SpreadThreshold: 0.5, TopKFraction: 0.2, TopKAbsolute: 1, Choose: choose}
}

// Schedule decides where req runs in view. cursor is the SPREAD round-robin position from the
// previous decision's Cursor (empty at first). It allocates nothing while the hybrid policy's k is
// at most 32 (clusters of up to 164 nodes with Ray's defaults).
func (p *Policy) Schedule(req Request, view View, cursor NodeID) Decision {
	var local *Node
	if req.PreferLocal && (req.Strategy.Kind != NodeAffinity || req.Strategy.Soft || req.Strategy.Node == view.Local) {
		if local = find(view.Nodes, view.Local); local != nil && (!local.schedulable() || !req.Demand.FitsIn(local.Total)) {
			local = nil
		}
	}
	// Ray's ClusterResourceScheduler tries a local-first lease on the local node before any policy.
	if local != nil && req.Demand.FitsIn(local.Available) {
		return Decision{Status: Run, Node: view.Local, Local: true, Cursor: cursor}
	}
	d := p.decide(req, view, &cursor, true)
	if len(req.Visited) > 0 && d.Status != Run {
		// Only nodes it came through have room now (or the totals): one of them then, which
		// takes its own copy back (a node the task reaches stops waiting for another's copy).
		// Without room anywhere, it waits here when this node could run it.
		altCursor := cursor
		if alt := p.decide(req, view, &altCursor, false); alt.Status == Run || (d.Status == Infeasible && local == nil) {
			d, cursor = alt, altCursor
		} else if d.Status == Infeasible {
			d = Decision{Status: Wait, Node: view.Local}
		}
	}
	// And when no node has room, it keeps such a lease queued locally rather than spill it.
	if local != nil && d.Status == Wait {
		d.Node = view.Local
	}
	d.Cursor = cursor
	d.Local = d.Node != "" && d.Node == view.Local
	return d
}

// decide applies the request's strategy, leaving out the nodes it came through when avoid is
// set, and moves SPREAD's cursor on.
func (p *Policy) decide(req Request, view View, cursor *NodeID, avoid bool) Decision {
	var skip *Request
	if avoid && len(req.Visited) > 0 {
		skip = &req
	}
	switch req.Strategy.Kind {
	case Spread:
		d := spread(req.Demand, view.Nodes, *cursor, skip)
		if d.Status == Run || d.Status == Wait {
			*cursor = d.Node
		}
		return d
	case NodeAffinity:
		return p.affinity(req, view, skip)
	}
	return p.hybrid(req.Demand, view, skip)
}

// eligible tells whether the policy may choose n for a request of this demand at all: n is
// schedulable, has the totals, and is not a node skip came through (skip may be nil).
func eligible(n *Node, demand resources.Set, skip *Request) bool {
	return n.schedulable() && demand.FitsIn(n.Total) && (skip == nil || !skip.visited(n.ID))
}

// affinity is Ray's NodeAffinitySchedulingPolicy: the named node if it may be chosen and has the
// totals, whether or not it has room now (the request queues there); otherwise soft affinity
// falls back to the hybrid policy and hard affinity fails.
func (p *Policy) affinity(req Request, view View, skip *Request) Decision {
	target := req.Strategy.Node
	if n := find(view.Nodes, target); n != nil && eligible(n, req.Demand, nil) {
		if req.Demand.FitsIn(n.Available) {
			return Decision{Status: Run, Node: target}
		}
		return Decision{Status: Wait, Node: target}
	}
	if req.Strategy.Soft {
		return p.hybrid(req.Demand, view, skip)
	}
	return Decision{Status: Unschedulable, Node: target}
}

// find returns the node named id in nodes, or nil.
func find(nodes []Node, id NodeID) *Node {
	if id == "" {
		return nil
	}
	for i := range nodes {
		if nodes[i].ID == id {
			return &nodes[i]
		}
	}
	return nil
}
