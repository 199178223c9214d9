package scheduling

import (
	"goray/resources"
)

// candidate is a node the hybrid policy may choose: its index in the view and its score.
type candidate struct {
	score float64
	node  int
}

// best keeps the k best candidates of one class (nodes with room now, or nodes that could fit the
// request later), sorted by score and then node ID, as Ray's GetBestNode sorts them, and counts
// the class. Only the best k matter, so it never sorts the whole class.
type best struct {
	nodes []Node
	top   []candidate
	k     int
	count int
}

// less orders candidates by score, then by ID.
func (b *best) less(x, y candidate) bool {
	return x.score < y.score || (x.score == y.score && b.nodes[x.node].ID < b.nodes[y.node].ID)
}

// add offers c to the class.
func (b *best) add(c candidate) {
	b.count++
	j := len(b.top)
	if j < b.k {
		b.top = b.top[:j+1] // within capacity: see hybrid
		b.top[j] = c
	} else if b.less(c, b.top[j-1]) {
		j--
		b.top[j] = c
	} else {
		return
	}
	for ; j > 0 && b.less(b.top[j], b.top[j-1]); j-- {
		b.top[j], b.top[j-1] = b.top[j-1], b.top[j]
	}
}

// pick chooses among the class as GetBestNode does: the preferred (local) node when it is in the
// class and scores no worse than the best; otherwise one of the best k, picked by choose.
func (b *best) pick(local int, localScore float64, choose func(int) int) int {
	if local >= 0 && localScore <= b.top[0].score {
		return local
	}
	i := 0
	if n := len(b.top); n > 1 && choose != nil {
		if c := choose(n); c >= 0 && c < n {
			i = c
		}
	}
	return b.top[i].node
}

// inlineTopK is how many best candidates a class keeps without allocating.
const inlineTopK = 32

// hybrid is Ray's HybridSchedulingPolicy with the local node preferred. Among live nodes that
// have the totals, those with room now come before those without; within each group a node's
// score is its critical utilisation (resources.CriticalUtilization), truncated to 0 below the
// spread threshold. The local node wins its group when its score is no worse than the best score
// there, which is always the case while it is below the threshold; otherwise the choice is random
// among the k best. Nodes skip came through are left out (skip may be nil).
func (p *Policy) hybrid(demand resources.Set, view View, skip *Request) Decision {
	nodes := view.Nodes
	k := p.topK(len(nodes))
	var bufAvail, bufFeas [inlineTopK]candidate
	avail := best{nodes: nodes, k: k, top: bufAvail[:0]}
	feas := best{nodes: nodes, k: k, top: bufFeas[:0]}
	if k > inlineTopK {
		avail.top, feas.top = make([]candidate, 0, k), make([]candidate, 0, k)
	}
	local, localAvail := -1, false
	localScore := 0.0
	for i := range nodes {
		n := &nodes[i]
		if !eligible(n, demand, skip) {
			continue
		}
		c := candidate{score: resources.CriticalUtilization(n.Total, n.Available), node: i}
		if c.score < p.SpreadThreshold {
			c.score = 0
		}
		isAvail := demand.FitsIn(n.Available)
		if n.ID == view.Local {
			local, localAvail, localScore = i, isAvail, c.score
		}
		if isAvail {
			avail.add(c)
		} else {
			feas.add(c)
		}
	}
	switch {
	case avail.count > 0:
		if !localAvail {
			local = -1
		}
		return Decision{Status: Run, Node: nodes[avail.pick(local, localScore, p.Choose)].ID}
	case feas.count > 0:
		return Decision{Status: Wait, Node: nodes[feas.pick(local, localScore, p.Choose)].ID}
	}
	return Decision{Status: Infeasible}
}

// topK is the number of best nodes the hybrid policy picks from in a view of n nodes.
func (p *Policy) topK(n int) int {
	k := int(float64(n) * p.TopKFraction)
	if k < p.TopKAbsolute {
		k = p.TopKAbsolute
	}
	if k < 1 {
		k = 1
	}
	return k
}
