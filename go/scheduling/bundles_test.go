package scheduling

import (
	"strings"
	"testing"

	"goray/resources"
)

// Where a placement group's bundles go, by strategy: each case is a cluster (the first node is
// the local one unless local says otherwise), the bundles, and the decision ("run a a b": the
// node of each bundle, in the bundles' order; "wait"; "infeasible").
func TestPlaceBundles(t *testing.T) {
	cases := []struct {
		name     string
		strategy BundleStrategy
		nodes    []string
		bundles  []string
		want     string
		local    string
	}{
		// One node with room: every strategy but STRICT_SPREAD puts the group there.
		{"pack on one node", Pack, []string{"a CPU:4"}, []string{"CPU:1", "CPU:1"}, "run a a", ""},
		{"spread on one node reuses it", SpreadBundles, []string{"a CPU:4"}, []string{"CPU:1", "CPU:1"}, "run a a", ""},
		{"strict pack on one node", StrictPack, []string{"a CPU:4"}, []string{"CPU:1", "CPU:2"}, "run a a", ""},
		{"strict spread needs a node per bundle", StrictSpread, []string{"a CPU:4"}, []string{"CPU:1", "CPU:1"}, "infeasible", ""},
		{"strict spread on as many nodes", StrictSpread, []string{"a CPU:4", "b CPU:4"}, []string{"CPU:1", "CPU:1"}, "run a b", ""},

		// PACK: the node that holds the most bundles takes them; the rest go on as few nodes.
		{"pack prefers the node that holds them all", Pack, []string{"a CPU:4 / CPU:1", "b CPU:4"}, []string{"CPU:1", "CPU:1"}, "run b b", ""},
		{"pack splits when no node holds them all", Pack, []string{"a CPU:2", "b CPU:2", "c CPU:1"}, []string{"CPU:2", "CPU:1", "CPU:1"}, "run a b b", ""},
		{"pack counts every resource", Pack, []string{"a CPU:4", "b CPU:4 GPU:2"}, []string{"CPU:1 GPU:1", "CPU:1"}, "run b b", ""},

		// SPREAD: a node the group does not use yet, the least used first; then reuse.
		{"spread over idle nodes", SpreadBundles, []string{"a CPU:4", "b CPU:4", "c CPU:4"}, []string{"CPU:1", "CPU:1", "CPU:1"}, "run a b c", ""},
		{"spread takes the least used node first", SpreadBundles, []string{"a CPU:4 / CPU:1", "b CPU:4 / CPU:3", "c CPU:4 / CPU:2"}, []string{"CPU:1", "CPU:1"}, "run b c", ""},
		{"spread reuses nodes when there are fewer", SpreadBundles, []string{"a CPU:4", "b CPU:4"}, []string{"CPU:1", "CPU:1", "CPU:1"}, "run a b a", ""},
		{"spread skips a node without room", SpreadBundles, []string{"a CPU:4 / CPU:0.5", "b CPU:4"}, []string{"CPU:1", "CPU:1"}, "run b b", ""},

		// STRICT_PACK: all of it on one node.
		{"strict pack picks the node that holds the sum", StrictPack, []string{"a CPU:2", "b CPU:8"}, []string{"CPU:2", "CPU:2"}, "run b b", ""},
		{"strict pack waits for room", StrictPack, []string{"a CPU:4 / CPU:1", "b CPU:2"}, []string{"CPU:2", "CPU:2"}, "wait", ""},
		{"strict pack over any node's totals", StrictPack, []string{"a CPU:2", "b CPU:2"}, []string{"CPU:2", "CPU:1"}, "infeasible", ""},

		// STRICT_SPREAD on more bundles than nodes stays pending.
		{"strict spread, more bundles than nodes", StrictSpread, []string{"a CPU:4", "b CPU:4"}, []string{"CPU:1", "CPU:1", "CPU:1"}, "infeasible", ""},
		{"strict spread waits for room on a node", StrictSpread, []string{"a CPU:4", "b CPU:4 / CPU:0"}, []string{"CPU:1", "CPU:1"}, "wait", ""},

		// Nodes that cannot be chosen, and groups that cannot fit.
		{"dead and draining nodes are left out", Pack, []string{"a CPU:1", "b CPU:8 / CPU:8 dead", "c CPU:8 / CPU:8 draining", "d CPU:2"}, []string{"CPU:2"}, "run d", ""},
		{"a resource no node has", Pack, []string{"a CPU:4", "b CPU:4"}, []string{"GPU:1"}, "infeasible", ""},
		{"a bundle bigger than any node", SpreadBundles, []string{"a CPU:4", "b CPU:4"}, []string{"CPU:1", "CPU:5"}, "infeasible", ""},
		{"busy now, would fit when free", Pack, []string{"a CPU:2 / CPU:0", "b CPU:2 / CPU:1"}, []string{"CPU:2"}, "wait", ""},
		{"the local node wins a tie", SpreadBundles, []string{"a CPU:4", "b CPU:4"}, []string{"CPU:1"}, "run b", "b"},

		// Bundles go largest first, so a small one does not take the only room of a large one.
		{"spread places the large bundle first", SpreadBundles, []string{"a CPU:4", "b CPU:1"}, []string{"CPU:1", "CPU:4"}, "run b a", ""},
		{"strict spread places the large bundle first", StrictSpread, []string{"a CPU:4", "b CPU:1"}, []string{"CPU:1", "CPU:4"}, "run b a", ""},
		{"pack fits large bundles first", Pack, []string{"a CPU:4", "b CPU:4"}, []string{"CPU:2", "CPU:3", "CPU:1", "CPU:2"}, "run b a a b", ""},
		{"GPUs before CPUs", SpreadBundles, []string{"a CPU:8 GPU:1", "b CPU:8"}, []string{"CPU:1", "CPU:1 GPU:1"}, "run b a", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			view := View{Nodes: nodes(t, c.nodes...), Local: NodeID(strings.Fields(c.nodes[0])[0])}
			if c.local != "" {
				view.Local = NodeID(c.local)
			}
			var bundles []resources.Set
			for _, b := range c.bundles {
				bundles = append(bundles, res(t, resources.Demand, b))
			}
			d := PlaceBundles(c.strategy, bundles, view)
			got := d.Status.String()
			for _, n := range d.Nodes {
				got += " " + string(n)
			}
			if got != c.want {
				t.Errorf("%s: got %q, want %q", c.strategy, got, c.want)
			}
			if d.Status == Run && len(d.Nodes) != len(bundles) {
				t.Errorf("%d nodes for %d bundles", len(d.Nodes), len(bundles))
			}
		})
	}
}

func TestBundleStrategyNames(t *testing.T) {
	for s, want := range map[BundleStrategy]string{Pack: "PACK", SpreadBundles: "SPREAD", StrictPack: "STRICT_PACK", StrictSpread: "STRICT_SPREAD", 9: "unknown strategy"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}
