package scheduling

import (
	"sort"

	"goray/resources"
)

// Placement groups: where each bundle of a group goes, by the group's strategy (Ray's bundle
// scheduling policies, src/ray/raylet/scheduling/policy/bundle_scheduling_policy.cc). Like
// Schedule, PlaceBundles is a pure function of its arguments.
//
//   - PACK puts the bundles on as few nodes as it can: again and again, the node that holds the
//     most of the bundles still to place takes them.
//   - SPREAD puts each bundle on a node the group does not use yet when one has room, else on one
//     it uses.
//   - STRICT_PACK puts every bundle on one node, or none.
//   - STRICT_SPREAD puts each bundle on a node of its own, or none.
//
// Bundles are placed largest first, as Ray sorts them (GPUs, then other resources but CPU and
// memory, then memory, then CPUs), so that a small bundle does not take the only room a large
// one had. Among nodes that qualify alike, the one least used once the bundle is on it wins
// (its critical utilisation, as the hybrid policy scores nodes), then the local node, then the
// earlier in the view.

// BundleStrategy is a placement group's strategy; its values are ray::PlacementStrategy's.
type BundleStrategy uint8

const (
	// Pack places the bundles on as few nodes as possible.
	Pack BundleStrategy = iota
	// SpreadBundles places the bundles on as many nodes as possible.
	SpreadBundles
	// StrictPack places every bundle on one node.
	StrictPack
	// StrictSpread places every bundle on a node of its own.
	StrictSpread
)

// String names the strategy as Ray does.
func (s BundleStrategy) String() string {
	switch s {
	case Pack:
		return "PACK"
	case SpreadBundles:
		return "SPREAD"
	case StrictPack:
		return "STRICT_PACK"
	case StrictSpread:
		return "STRICT_SPREAD"
	}
	return "unknown strategy"
}

// BundleDecision is where a group's bundles go.
type BundleDecision struct {
	// Status is Run (Nodes holds a node for each bundle, by index: they have room for them now),
	// Wait (the live nodes could hold the group when empty, but not now) or Infeasible (they
	// never could: the group waits for the cluster to grow).
	Status Status
	// Nodes is the node of each bundle (Run only).
	Nodes []NodeID
}

// PlaceBundles decides where the bundles of a group with strategy go in view. Bundles are
// demands (at least one; the caller validates them).
func PlaceBundles(strategy BundleStrategy, bundles []resources.Set, view View) BundleDecision {
	if nodes := placeBundles(strategy, bundles, view, false); nodes != nil {
		return BundleDecision{Status: Run, Nodes: nodes}
	}
	if placeBundles(strategy, bundles, view, true) != nil {
		return BundleDecision{Status: Wait}
	}
	return BundleDecision{Status: Infeasible}
}

// bundleNode is a node the bundles may go to, with what is left on it as they are placed.
type bundleNode struct {
	node *Node
	left resources.Set
	used bool // the group has a bundle there already
}

// score is how used n would be with demand on it (lower is better).
func (b *bundleNode) score(demand resources.Set) float64 {
	return resources.CriticalUtilization(b.node.Total, b.left.Sub(demand))
}

// placeBundles places the bundles on the schedulable nodes of view (the local node first, then
// the others in the view's order), counting what they have free now, or (empty) their totals.
// It returns the node of each bundle, or nil when the strategy cannot place them all.
func placeBundles(strategy BundleStrategy, bundles []resources.Set, view View, empty bool) []NodeID {
	var nodes []*bundleNode
	add := func(n *Node) {
		if !n.schedulable() {
			return
		}
		left := n.Available
		if empty {
			left = n.Total
		}
		nodes = append(nodes, &bundleNode{node: n, left: left})
	}
	for i := range view.Nodes {
		if view.Nodes[i].ID == view.Local {
			add(&view.Nodes[i])
		}
	}
	for i := range view.Nodes {
		if view.Nodes[i].ID != view.Local {
			add(&view.Nodes[i])
		}
	}
	order := largestFirst(bundles)
	out := make([]NodeID, len(bundles))
	put := func(i int, b *bundleNode) {
		out[i] = b.node.ID
		b.left = b.left.Sub(bundles[i])
		b.used = true
	}
	// lightest is the node with room for demand that qualifies (ok) and is least used once it
	// holds it; nil when none.
	lightest := func(demand resources.Set, ok func(*bundleNode) bool) *bundleNode {
		var best *bundleNode
		bestScore := 0.0
		for _, b := range nodes {
			if !ok(b) || !demand.FitsIn(b.left) {
				continue
			}
			if s := b.score(demand); best == nil || s < bestScore {
				best, bestScore = b, s
			}
		}
		return best
	}
	switch strategy {
	case StrictPack:
		var sum resources.Set
		for _, d := range bundles {
			sum = sum.Add(d)
		}
		b := lightest(sum, func(*bundleNode) bool { return true })
		if b == nil {
			return nil
		}
		for i := range bundles {
			put(i, b)
		}
	case SpreadBundles, StrictSpread:
		for _, i := range order {
			d := bundles[i]
			b := lightest(d, func(b *bundleNode) bool { return !b.used })
			if b == nil && strategy == SpreadBundles {
				b = lightest(d, func(*bundleNode) bool { return true })
			}
			if b == nil {
				return nil
			}
			put(i, b)
		}
	default: // Pack
		placed := make([]bool, len(bundles))
		for remaining := len(bundles); remaining > 0; {
			// The node that holds the most of the bundles still to place (taking them largest
			// first, first fit); ties go to a node the group uses, then the earlier one.
			var best *bundleNode
			var bestTaken []int
			for _, b := range nodes {
				left := b.left
				var taken []int
				for _, i := range order {
					if d := bundles[i]; !placed[i] && d.FitsIn(left) {
						left = left.Sub(d)
						taken = append(taken, i)
					}
				}
				if len(taken) > len(bestTaken) || (len(taken) == len(bestTaken) && len(taken) > 0 && b.used && !best.used) {
					best, bestTaken = b, taken
				}
			}
			if best == nil {
				return nil
			}
			for _, i := range bestTaken {
				put(i, best)
				placed[i] = true
			}
			remaining -= len(bestTaken)
		}
	}
	return out
}

// largestFirst is the order to place bundles in: largest first, by their GPUs, then their other
// resources but CPU and memory (summed), then memory, then CPUs; equal bundles keep their order.
func largestFirst(bundles []resources.Set) []int {
	type key struct{ gpu, other, memory, cpu resources.Quantity }
	keys := make([]key, len(bundles))
	for i, b := range bundles {
		for j := 0; j < b.Len(); j++ {
			name, q := b.At(j)
			switch name {
			case resources.GPU:
				keys[i].gpu = q
			case resources.Memory:
				keys[i].memory = q
			case resources.CPU:
				keys[i].cpu = q
			default:
				keys[i].other += q
			}
		}
	}
	order := make([]int, len(bundles))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := keys[order[x]], keys[order[y]]
		switch {
		case a.gpu != b.gpu:
			return a.gpu > b.gpu
		case a.other != b.other:
			return a.other > b.other
		case a.memory != b.memory:
			return a.memory > b.memory
		}
		return a.cpu > b.cpu
	})
	return order
}
