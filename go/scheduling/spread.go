package scheduling

import (
	"goray/resources"
)

// ring finds, among some nodes, the round robin's next one after a cursor in ID order: the
// smallest ID above the cursor, or else (wrapping round) the smallest ID.
type ring struct {
	cursor      NodeID
	next, first *Node
}

// offer considers n.
func (r *ring) offer(n *Node) {
	if r.first == nil || n.ID < r.first.ID {
		r.first = n
	}
	if n.ID > r.cursor && (r.next == nil || n.ID < r.next.ID) {
		r.next = n
	}
}

// chosen is the next node, nil when none was offered.
func (r *ring) chosen() *Node {
	if r.next != nil {
		return r.next
	}
	return r.first
}

// spread is Ray's SpreadSchedulingPolicy: round robin, in node ID order, over the live nodes with
// room now, starting after the cursor (the node chosen last); when none has room, round robin over
// the live nodes that have the totals, for the request to wait there. Ray keeps an index into the
// sorted node list instead of the last node: the same order while the cluster does not change, and
// this one stays fair when nodes join or leave. Nodes skip came through are left out (skip may be
// nil).
func spread(demand resources.Set, nodes []Node, cursor NodeID, skip *Request) Decision {
	avail, feas := ring{cursor: cursor}, ring{cursor: cursor}
	for i := range nodes {
		n := &nodes[i]
		if !eligible(n, demand, skip) {
			continue
		}
		feas.offer(n)
		if demand.FitsIn(n.Available) {
			avail.offer(n)
		}
	}
	if n := avail.chosen(); n != nil {
		return Decision{Status: Run, Node: n.ID}
	}
	if n := feas.chosen(); n != nil {
		return Decision{Status: Wait, Node: n.ID}
	}
	return Decision{Status: Infeasible}
}
