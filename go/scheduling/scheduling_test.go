package scheduling

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"goray/resources"
)

// res parses "CPU:4 GPU:0.5" into a Set of the given kind.
func res(t testing.TB, kind resources.Kind, spec string) resources.Set {
	t.Helper()
	m := map[string]float64{}
	for _, f := range strings.Fields(spec) {
		i := strings.LastIndexByte(f, ':')
		v, err := strconv.ParseFloat(f[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad resource %q", f)
		}
		m[f[:i]] = v
	}
	s, err := resources.NewSet(m, kind)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// spec describes a node for a test: "id total / available [dead] [draining]", e.g.
// "a CPU:4 / CPU:2" or "b CPU:4 GPU:1 / CPU:4 GPU:1 dead". Available defaults to the totals.
func node(t testing.TB, spec string) Node {
	t.Helper()
	total, avail, _ := strings.Cut(spec, "/")
	id, total, _ := strings.Cut(strings.TrimSpace(total), " ")
	n := Node{ID: NodeID(id), Alive: true}
	var rest []string
	for _, f := range strings.Fields(avail) {
		switch f {
		case "dead":
			n.Alive = false
		case "draining":
			n.Draining = true
		default:
			rest = append(rest, f)
		}
	}
	n.Total = res(t, resources.Total, total)
	n.Available = n.Total
	if strings.Contains(spec, "/") {
		n.Available = res(t, resources.Total, strings.Join(rest, " "))
	}
	return n
}

func nodes(t testing.TB, specs ...string) []Node {
	t.Helper()
	out := make([]Node, len(specs))
	for i, s := range specs {
		out[i] = node(t, s)
	}
	return out
}

// chooser answers a fixed index and records the n it was asked with.
type chooser struct {
	answer int
	asked  []int
}

func (c *chooser) choose(n int) int {
	c.asked = append(c.asked, n)
	return c.answer
}

// schedCase is one table row: the view (local node first unless local says otherwise), the
// request, the chooser's answer and what must come out.
type schedCase struct {
	name     string
	nodes    []string
	local    string // default: the first node's ID
	demand   string
	strategy Strategy
	prefer   bool
	visited  []NodeID // Request.Visited
	choose   int
	policy   func(*Policy)
	want     Status
	wantNode string
	asked    []int // the n the chooser must be asked with; nil: never asked
}

func runCases(t *testing.T, cases []schedCase) {
	t.Helper()
	for _, c := range cases {
		view := View{Nodes: nodes(t, c.nodes...)}
		view.Local = view.Nodes[0].ID
		if c.local != "" {
			view.Local = NodeID(c.local)
		}
		ch := &chooser{answer: c.choose}
		p := DefaultPolicy(ch.choose)
		if c.policy != nil {
			c.policy(&p)
		}
		req := Request{Demand: res(t, resources.Demand, c.demand), Strategy: c.strategy, PreferLocal: c.prefer, Visited: c.visited}
		d := p.Schedule(req, view, "")
		if d.Status != c.want || string(d.Node) != c.wantNode {
			t.Errorf("%s: got %v %q, want %v %q", c.name, d.Status, d.Node, c.want, c.wantNode)
		}
		if d.Local != (d.Node != "" && d.Node == view.Local) {
			t.Errorf("%s: Local = %v for node %q", c.name, d.Local, d.Node)
		}
		if fmt.Sprint(ch.asked) != fmt.Sprint(c.asked) {
			t.Errorf("%s: chooser asked %v, want %v", c.name, ch.asked, c.asked)
		}
	}
}

func TestHybrid(t *testing.T) {
	runCases(t, []schedCase{
		{name: "one node, idle", nodes: []string{"a CPU:4"}, demand: "CPU:1", want: Run, wantNode: "a"},
		{name: "one node, no room", nodes: []string{"a CPU:4 / CPU:0.5"}, demand: "CPU:1", want: Wait, wantNode: "a"},
		{name: "one node, too small", nodes: []string{"a CPU:4"}, demand: "CPU:5", want: Infeasible},
		{name: "one node, dead", nodes: []string{"a CPU:4 / CPU:4 dead"}, demand: "CPU:1", want: Infeasible},
		{name: "local under the threshold", nodes: []string{"a CPU:4 / CPU:3", "b CPU:4"}, demand: "CPU:1", want: Run, wantNode: "a"},
		{name: "local just under", nodes: []string{"a CPU:10000 / CPU:5000.0001", "b CPU:4"}, demand: "CPU:1", want: Run, wantNode: "a"},
		// Ray truncates scores strictly below the threshold: at exactly 0.5 the local node scores
		// 0.5 and an idle node (0) beats it.
		{name: "local at the threshold", nodes: []string{"a CPU:4 / CPU:2", "b CPU:4"}, demand: "CPU:1", want: Run, wantNode: "b"},
		{name: "local over, remote emptier", nodes: []string{"a CPU:4 / CPU:1", "b CPU:4 / CPU:2.5"}, demand: "CPU:1", want: Run, wantNode: "b"},
		{name: "local over, remote busier", nodes: []string{"a CPU:4 / CPU:1", "b CPU:8 / CPU:1"}, demand: "CPU:1", want: Run, wantNode: "a"},
		{name: "local over, tie", nodes: []string{"b CPU:4 / CPU:1", "a CPU:4 / CPU:1"}, demand: "CPU:1", want: Run, wantNode: "b"},
		{name: "local full", nodes: []string{"a CPU:4 / CPU:0.5", "b CPU:4 / CPU:1"}, demand: "CPU:1", want: Run, wantNode: "b"},
		// No node has room: the request waits at the best feasible node, the local one when it
		// scores no worse.
		{name: "all full, local best", nodes: []string{"a CPU:2 / CPU:1", "b CPU:4 / CPU:0"}, demand: "CPU:2", want: Wait, wantNode: "a"},
		{name: "all full, remote best", nodes: []string{"a CPU:2 / CPU:0", "b CPU:4 / CPU:1"}, demand: "CPU:2", want: Wait, wantNode: "b"},
		{name: "all full, local infeasible", nodes: []string{"a CPU:1", "b CPU:4 / CPU:1"}, demand: "CPU:2", want: Wait, wantNode: "b"},
		{name: "local infeasible", nodes: []string{"a CPU:4", "b CPU:4 GPU:1"}, demand: "GPU:1", want: Run, wantNode: "b"},
		{name: "nobody has the totals", nodes: []string{"a CPU:4", "b CPU:4 GPU:1"}, demand: "GPU:2", want: Infeasible},
		{name: "only a dead node has them", nodes: []string{"a CPU:4", "b CPU:4 GPU:1 / CPU:4 GPU:1 dead"}, demand: "GPU:1", want: Infeasible},
		{name: "dead emptier node skipped", nodes: []string{"a CPU:4 / CPU:1", "b CPU:4 / CPU:4 dead", "c CPU:8 / CPU:1"}, demand: "CPU:1", want: Run, wantNode: "a"},
		{name: "draining node skipped", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4 / CPU:4 draining", "c CPU:4 / CPU:1"}, demand: "CPU:1", want: Run, wantNode: "c"},
		{name: "local dead", nodes: []string{"a CPU:4 / CPU:4 dead", "b CPU:4 / CPU:1"}, demand: "CPU:1", want: Run, wantNode: "b"},
		{name: "local not in view", nodes: []string{"b CPU:4 / CPU:1", "c CPU:4 / CPU:2"}, local: "a", demand: "CPU:1", want: Run, wantNode: "c"},
		// Nodes with room now come first, however busy.
		{name: "available before feasible", nodes: []string{"a CPU:4 GPU:1 / CPU:4", "b CPU:10 GPU:1 / CPU:1 GPU:1"}, demand: "GPU:1", want: Run, wantNode: "b"},
		// Custom resources only some nodes have.
		{name: "custom resource", nodes: []string{"a CPU:4", "b CPU:4 disk:1 / CPU:0 disk:1", "c CPU:4 disk:2 / CPU:4 disk:0.5"}, demand: "disk:1", want: Run, wantNode: "b"},
		{name: "custom resource, none free", nodes: []string{"a CPU:4", "b CPU:4 disk:1 / CPU:0 disk:0", "c CPU:4 disk:2 / CPU:4 disk:0.5"}, demand: "disk:1", want: Wait, wantNode: "c"},
		{name: "custom resource and CPU", nodes: []string{"a CPU:4", "b CPU:4 disk:1 / CPU:0 disk:1"}, demand: "CPU:1 disk:1", want: Wait, wantNode: "b"},
		// Fractions add up exactly: 0.3 left of 1 fits 0.3, 0.2 left does not.
		{name: "fractional fit", nodes: []string{"a CPU:1 / CPU:0.3", "b CPU:1 / CPU:0.2"}, demand: "CPU:0.3", want: Run, wantNode: "a"},
		{name: "fractional remote", nodes: []string{"a CPU:1 / CPU:0.2", "b CPU:1 / CPU:0.3"}, demand: "CPU:0.3", want: Run, wantNode: "b"},
		{name: "smallest unit", nodes: []string{"a CPU:1 / CPU:0", "b CPU:1 / CPU:0.0001"}, demand: "CPU:0.0001", want: Run, wantNode: "b"},
		// GPUs and custom resources do not make a node busy (Ray's critical utilisation).
		{name: "GPU use ignored in score", nodes: []string{"a CPU:4 GPU:4 / CPU:4 GPU:1", "b CPU:4 GPU:4 / CPU:3 GPU:4"}, demand: "GPU:1", want: Run, wantNode: "a"},
		{name: "memory counts", nodes: []string{"a CPU:4 memory:1000 / CPU:4 memory:100", "b CPU:4 memory:1000 / CPU:1 memory:1000"}, demand: "CPU:1", want: Run, wantNode: "b"},
		// A request for nothing fits every live node.
		{name: "zero resources, local idle", nodes: []string{"a CPU:4 / CPU:3", "b CPU:4"}, want: Run, wantNode: "a"},
		{name: "zero resources, local busy", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4"}, want: Run, wantNode: "b"},
		{name: "zero resources, no resources", nodes: []string{"a", "b"}, want: Run, wantNode: "a"},
		{name: "zero resources, all dead", nodes: []string{"a CPU:1 / dead", "b CPU:1 / CPU:1 draining"}, want: Infeasible},
	})
}

// many builds n nodes "n000", "n001", ... with spec(i) giving "total / available".
func many(n int, spec func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%03d %s", i, spec(i))
	}
	return out
}

func TestHybridTopK(t *testing.T) {
	busyLocal := func(free string) func(int) string {
		return func(i int) string {
			if i == 0 {
				return "CPU:4 / CPU:0"
			}
			return "CPU:4 / CPU:" + free
		}
	}
	// Distinct scores over the threshold, best last: node i (i >= 1) is at 0.6 - i/1000; the local
	// node n000 is full.
	graded := func(i int) string {
		if i == 0 {
			return "CPU:100 / CPU:0"
		}
		return fmt.Sprintf("CPU:100 / CPU:%g", 40+float64(i)/10)
	}
	runCases(t, []schedCase{
		// 10 nodes: k = 2.
		{name: "10 nodes, best", nodes: many(10, busyLocal("4")), demand: "CPU:1", choose: 0, want: Run, wantNode: "n001", asked: []int{2}},
		{name: "10 nodes, second", nodes: many(10, busyLocal("4")), demand: "CPU:1", choose: 1, want: Run, wantNode: "n002", asked: []int{2}},
		// Under the threshold every node scores 0: ties go by ID, not by utilisation.
		{name: "10 nodes, ties under threshold", nodes: many(10, func(i int) string {
			return [...]string{"CPU:4 / CPU:0", "CPU:4 / CPU:2.5", "CPU:4 / CPU:3", "CPU:4 / CPU:4"}[i%4]
		}), demand: "CPU:1", choose: 1, want: Run, wantNode: "n002", asked: []int{2}},
		{name: "10 nodes, over threshold ranked", nodes: many(10, func(i int) string {
			return [...]string{"CPU:4 / CPU:0", "CPU:4 / CPU:1", "CPU:4 / CPU:1.5", "CPU:10 / CPU:4"}[i%4]
		}), demand: "CPU:1", choose: 1, want: Run, wantNode: "n007", asked: []int{2}},
		// An out-of-range answer picks the best.
		{name: "10 nodes, bad chooser", nodes: many(10, busyLocal("4")), demand: "CPU:1", choose: 7, want: Run, wantNode: "n001", asked: []int{2}},
		// 7 nodes: floor(7 * 0.2) = 1, as Ray computes it: no random choice.
		{name: "7 nodes, k=1", nodes: many(7, busyLocal("4")), demand: "CPU:1", choose: 1, want: Run, wantNode: "n001"},
		{name: "7 nodes, k absolute 3", nodes: many(7, busyLocal("4")), demand: "CPU:1", choose: 2, want: Run, wantNode: "n003", asked: []int{3},
			policy: func(p *Policy) { p.TopKAbsolute = 3 }},
		{name: "nil chooser", nodes: many(10, busyLocal("4")), demand: "CPU:1", want: Run, wantNode: "n001",
			policy: func(p *Policy) { p.Choose = nil }},
		// 100 nodes: k = 20, over the nodes with room, best first.
		{name: "100 nodes, best", nodes: many(100, graded), demand: "CPU:1", choose: 0, want: Run, wantNode: "n099", asked: []int{20}},
		{name: "100 nodes, 20th", nodes: many(100, graded), demand: "CPU:1", choose: 19, want: Run, wantNode: "n080", asked: []int{20}},
		{name: "100 nodes, 20th of ties", nodes: many(100, busyLocal("4")), demand: "CPU:1", choose: 19, want: Run, wantNode: "n020", asked: []int{20}},
		{name: "100 nodes, listed backwards", nodes: reversed(many(100, graded)), local: "n000", demand: "CPU:1", choose: 3, want: Run, wantNode: "n096", asked: []int{20}},
		// Fewer candidates than k: the chooser picks among those.
		{name: "100 nodes, 3 with room", nodes: many(100, func(i int) string {
			if i%40 == 5 {
				return "CPU:4 / CPU:4"
			}
			return "CPU:4 / CPU:0.5"
		}), demand: "CPU:1", choose: 2, want: Run, wantNode: "n085", asked: []int{3}},
		{name: "100 nodes, too big", nodes: many(100, graded), demand: "CPU:101", want: Infeasible},
		// Nothing has room: the top k of the feasible nodes, to wait there. n000 to n049 are under
		// the threshold and tie; the local node n099 is over it.
		{name: "100 nodes, none with room", nodes: many(100, func(i int) string {
			return fmt.Sprintf("CPU:100 / CPU:%d.5", (i+50)%100)
		}), local: "n099", demand: "CPU:100", choose: 1, want: Wait, wantNode: "n001", asked: []int{20}},
		// The local node under the threshold wins without a random choice.
		{name: "100 nodes, local idle", nodes: many(100, func(int) string { return "CPU:4" }), local: "n042", demand: "CPU:1", want: Run, wantNode: "n042"},
	})
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestNodeAffinity(t *testing.T) {
	two := []string{"a CPU:4 / CPU:0", "b CPU:4 GPU:1 / CPU:1 GPU:1", "c CPU:8 / CPU:8 dead", "d CPU:8 / CPU:8 draining"}
	hard := func(id string) Strategy { return Strategy{Kind: NodeAffinity, Node: NodeID(id)} }
	soft := func(id string) Strategy { return Strategy{Kind: NodeAffinity, Node: NodeID(id), Soft: true} }
	runCases(t, []schedCase{
		{name: "hard, room", nodes: two, demand: "CPU:1", strategy: hard("b"), want: Run, wantNode: "b"},
		{name: "hard, local", nodes: two, demand: "CPU:1", strategy: hard("a"), want: Wait, wantNode: "a"},
		{name: "hard, no room waits there", nodes: two, demand: "CPU:2", strategy: hard("b"), want: Wait, wantNode: "b"},
		{name: "hard, lacks totals", nodes: two, demand: "GPU:1", strategy: hard("a"), want: Unschedulable, wantNode: "a"},
		{name: "hard, dead", nodes: two, demand: "CPU:1", strategy: hard("c"), want: Unschedulable, wantNode: "c"},
		{name: "hard, draining", nodes: two, demand: "CPU:1", strategy: hard("d"), want: Unschedulable, wantNode: "d"},
		{name: "hard, unknown", nodes: two, demand: "CPU:1", strategy: hard("zz"), want: Unschedulable, wantNode: "zz"},
		{name: "hard, empty", nodes: two, demand: "CPU:1", strategy: hard(""), want: Unschedulable},
		{name: "soft, room", nodes: two, demand: "CPU:1", strategy: soft("b"), want: Run, wantNode: "b"},
		{name: "soft, no room waits there", nodes: two, demand: "CPU:4", strategy: soft("a"), want: Wait, wantNode: "a"},
		{name: "soft, dead falls back", nodes: two, demand: "CPU:1", strategy: soft("c"), want: Run, wantNode: "b"},
		{name: "soft, unknown falls back", nodes: two, demand: "CPU:1", strategy: soft("zz"), want: Run, wantNode: "b"},
		{name: "soft, lacks totals falls back", nodes: two, demand: "GPU:1", strategy: soft("a"), want: Run, wantNode: "b"},
		{name: "soft, nothing feasible", nodes: two, demand: "GPU:2", strategy: soft("a"), want: Infeasible},
	})
}

func TestPreferLocal(t *testing.T) {
	busy := []string{"a CPU:4 / CPU:1", "b CPU:4", "c CPU:8 GPU:1 / CPU:0 GPU:1"}
	runCases(t, []schedCase{
		// The hybrid policy would pick b (a is at 0.75); a local-first lease stays.
		{name: "without", nodes: busy, demand: "CPU:1", want: Run, wantNode: "b"},
		{name: "room locally", nodes: busy, demand: "CPU:1", prefer: true, want: Run, wantNode: "a"},
		{name: "room elsewhere only", nodes: busy, demand: "CPU:2", prefer: true, want: Run, wantNode: "b"},
		{name: "room elsewhere, none locally", nodes: busy, demand: "CPU:4", prefer: true, want: Run, wantNode: "b"},
		{name: "too big locally", nodes: busy, demand: "CPU:5", prefer: true, want: Wait, wantNode: "c"},
		{name: "no room anywhere", nodes: []string{"a CPU:4 / CPU:1", "b CPU:4 / CPU:0"}, demand: "CPU:2", want: Wait, wantNode: "a"},
		{name: "no room anywhere, local worse", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4 / CPU:1"}, demand: "CPU:2", want: Wait, wantNode: "b"},
		{name: "no room anywhere, local worse, prefer", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4 / CPU:1"}, demand: "CPU:2", prefer: true, want: Wait, wantNode: "a"},
		{name: "local lacks totals", nodes: busy, demand: "GPU:1", prefer: true, want: Run, wantNode: "c"},
		{name: "local draining", nodes: []string{"a CPU:4 / CPU:4 draining", "b CPU:4"}, demand: "CPU:1", prefer: true, want: Run, wantNode: "b"},
		{name: "spread", nodes: busy, demand: "CPU:1", strategy: Strategy{Kind: Spread}, prefer: true, want: Run, wantNode: "a"},
		{name: "hard affinity elsewhere", nodes: busy, demand: "CPU:1", strategy: Strategy{Kind: NodeAffinity, Node: "c"}, prefer: true, want: Wait, wantNode: "c"},
		{name: "soft affinity elsewhere", nodes: busy, demand: "CPU:1", strategy: Strategy{Kind: NodeAffinity, Node: "c", Soft: true}, prefer: true, want: Run, wantNode: "a"},
	})
}

// TestVisited: a forwarded request goes on to a node it did not come through when one has room
// (the nodes it came through have to take their copies back), to one it came through when only
// those have room, and waits here when none has.
func TestVisited(t *testing.T) {
	busy := []string{"a CPU:4 / CPU:0", "b CPU:4", "c CPU:4 / CPU:1", "d GPU:1"}
	runCases(t, []schedCase{
		{name: "room at a node it did not come through", nodes: busy, demand: "CPU:2", prefer: true, visited: []NodeID{"d"}, want: Run, wantNode: "b"},
		{name: "the next best node it did not come through", nodes: busy, demand: "CPU:1", prefer: true, visited: []NodeID{"b"}, want: Run, wantNode: "c"},
		{name: "room only where it came from: back there", nodes: busy, demand: "CPU:2", prefer: true, visited: []NodeID{"b"}, want: Run, wantNode: "b"},
		{name: "room only on nodes it came through, this one full", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4"}, demand: "CPU:1", prefer: true, visited: []NodeID{"b", "a"}, want: Run, wantNode: "b"},
		{name: "room here: here, even on a loop", nodes: []string{"a CPU:4", "b CPU:4"}, demand: "CPU:1", prefer: true, visited: []NodeID{"b", "a"}, want: Run, wantNode: "a"},
		{name: "no room anywhere: it waits here", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4 / CPU:0", "c CPU:4 / CPU:0"}, demand: "CPU:1", prefer: true, visited: []NodeID{"b", "a"}, want: Wait, wantNode: "a"},
		{name: "no room anywhere, this one came through too: here", nodes: []string{"a CPU:4 / CPU:0", "b CPU:4 / CPU:0"}, demand: "CPU:1", prefer: true, visited: []NodeID{"b", "a"}, want: Wait, wantNode: "a"},
		{name: "here lacks the totals: a node it did not come through", nodes: []string{"a CPU:1", "b GPU:1", "c GPU:1 / GPU:0"}, demand: "GPU:1", prefer: true, visited: []NodeID{"b"}, want: Run, wantNode: "b"},
		{name: "here lacks the totals, none has room: the one it did not come through", nodes: []string{"a CPU:1", "b GPU:1 / GPU:0", "c GPU:1 / GPU:0"}, demand: "GPU:1", prefer: true, visited: []NodeID{"b"}, want: Wait, wantNode: "c"},
		{name: "only where it came from could ever run it", nodes: busy, demand: "GPU:1", prefer: true, visited: []NodeID{"d"}, want: Run, wantNode: "d"},
		{name: "spread skips them too", nodes: busy, demand: "CPU:1", strategy: Strategy{Kind: Spread}, visited: []NodeID{"b"}, want: Run, wantNode: "c"},
		{name: "soft affinity falls back without them", nodes: busy, demand: "CPU:1", strategy: Strategy{Kind: NodeAffinity, Node: "z", Soft: true}, visited: []NodeID{"b"}, want: Run, wantNode: "c"},
		{name: "hard affinity stands", nodes: busy, demand: "CPU:1", strategy: Strategy{Kind: NodeAffinity, Node: "b"}, visited: []NodeID{"b"}, want: Run, wantNode: "b"},
	})
}

// spreadRun places count Spread requests for demand in turn, threading the cursor, and returns the
// nodes chosen ("-" for a decision without one) and the last status.
func spreadRun(t *testing.T, view View, demand string, count int) ([]string, Status) {
	t.Helper()
	p := DefaultPolicy(nil)
	req := Request{Demand: res(t, resources.Demand, demand), Strategy: Strategy{Kind: Spread}}
	var cursor NodeID
	var out []string
	var st Status
	for i := 0; i < count; i++ {
		d := p.Schedule(req, view, cursor)
		if d.Status == Run || d.Status == Wait {
			if d.Cursor != d.Node || d.Local != (d.Node == view.Local) {
				t.Fatalf("decision %+v", d)
			}
		} else if d.Cursor != cursor {
			t.Fatalf("cursor moved without a choice: %+v", d)
		}
		cursor, st = d.Cursor, d.Status
		if d.Node == "" {
			out = append(out, "-")
		} else {
			out = append(out, string(d.Node))
		}
	}
	return out, st
}

func TestSpreadFair100(t *testing.T) {
	view := View{Nodes: nodes(t, reversed(many(100, func(int) string { return "CPU:2 / CPU:1" }))...), Local: "n017"}
	got, st := spreadRun(t, view, "CPU:1", 300)
	if st != Run {
		t.Fatalf("status %v", st)
	}
	for i, id := range got {
		if want := fmt.Sprintf("n%03d", i%100); id != want {
			t.Fatalf("call %d chose %s, want %s (round robin in ID order)", i, id, want)
		}
	}
}

func TestSpread(t *testing.T) {
	cases := []struct {
		name   string
		nodes  []string
		demand string
		want   string // the nodes chosen by successive calls
		status Status // of the last call
	}{
		{"one node", []string{"a CPU:1"}, "CPU:1", "a a a", Run},
		{"two nodes", []string{"b CPU:1", "a CPU:1"}, "CPU:1", "a b a b", Run},
		{"skips full nodes", []string{"a CPU:1", "b CPU:1 / CPU:0", "c CPU:1", "d CPU:2 / CPU:0.5", "e CPU:1"}, "CPU:1", "a c e a c e", Run},
		{"skips dead and draining", []string{"a CPU:1", "b CPU:1 / CPU:1 dead", "c CPU:1 / CPU:1 draining", "d CPU:1"}, "CPU:1", "a d a d", Run},
		{"skips infeasible", []string{"a CPU:1", "b CPU:1 GPU:1", "c CPU:1 GPU:1 / CPU:1", "d CPU:1 GPU:2"}, "GPU:1", "b d b d", Run},
		{"none with room: round robin to wait", []string{"a CPU:1 / CPU:0", "b CPU:1 / CPU:0", "c CPU:1 / CPU:0.5"}, "CPU:1", "a b c a", Wait},
		{"room comes first", []string{"a CPU:1 / CPU:0", "b CPU:2", "c CPU:2 / CPU:0"}, "CPU:2", "b b b", Run},
		{"fractions", []string{"a CPU:1 / CPU:0.2999", "b CPU:1 / CPU:0.3", "c CPU:0.3"}, "CPU:0.3", "b c b c", Run},
		{"zero resources", []string{"a", "b CPU:1 / CPU:0", "c / dead"}, "", "a b a", Run},
		{"infeasible", []string{"a CPU:1", "b CPU:1"}, "CPU:2", "- -", Infeasible},
		{"all dead", []string{"a CPU:1 / CPU:1 dead"}, "CPU:1", "-", Infeasible},
	}
	for _, c := range cases {
		view := View{Nodes: nodes(t, c.nodes...), Local: "a"}
		want := strings.Fields(c.want)
		got, st := spreadRun(t, view, c.demand, len(want))
		if strings.Join(got, " ") != c.want || st != c.status {
			t.Errorf("%s: chose %v (last %v), want %s (last %v)", c.name, got, st, c.want, c.status)
		}
	}
}

// The cursor is a node ID, so the round robin carries on where it was when nodes join or leave.
func TestSpreadViewChanges(t *testing.T) {
	p := DefaultPolicy(nil)
	req := Request{Demand: res(t, resources.Demand, "CPU:1"), Strategy: Strategy{Kind: Spread}}
	view := View{Nodes: nodes(t, "a CPU:1", "c CPU:1", "e CPU:1")}
	d := p.Schedule(req, view, "c") // after c
	if d.Node != "e" {
		t.Fatalf("after c: %v", d.Node)
	}
	view.Nodes = nodes(t, "a CPU:1", "b CPU:1", "d CPU:1") // e left, b and d joined
	if d = p.Schedule(req, view, d.Cursor); d.Node != "a" {
		t.Errorf("after e left: %v", d.Node)
	}
	if d = p.Schedule(req, view, d.Cursor); d.Node != "b" {
		t.Errorf("after a: %v", d.Node)
	}
	// A Default request leaves the cursor alone.
	if d2 := p.Schedule(Request{Demand: req.Demand}, view, d.Cursor); d2.Cursor != "b" {
		t.Errorf("Default moved the cursor to %v", d2.Cursor)
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[fmt.Stringer]string{
		Default: "DEFAULT", Spread: "SPREAD", NodeAffinity: "NODE_AFFINITY", StrategyKind(9): "unknown strategy",
		Run: "run", Wait: "wait", Infeasible: "infeasible", Unschedulable: "unschedulable", Status(0): "no decision",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}

func TestScheduleAllocatesNothing(t *testing.T) {
	view := View{Nodes: nodes(t, many(100, func(i int) string {
		return fmt.Sprintf("CPU:16 memory:1e10 / CPU:%d memory:5e9", i%17)
	})...), Local: "n003"}
	p := DefaultPolicy(func(n int) int { return n - 1 })
	demand := res(t, resources.Demand, "CPU:4")
	for _, s := range []Strategy{{}, {Kind: Spread}, {Kind: NodeAffinity, Node: "n050"}, {Kind: NodeAffinity, Node: "zz", Soft: true}} {
		req := Request{Demand: demand, Strategy: s}
		if n := testing.AllocsPerRun(50, func() { p.Schedule(req, view, "n010") }); n != 0 {
			t.Errorf("%v: %v allocations a call", s.Kind, n)
		}
	}
}

func BenchmarkHybrid100Nodes(b *testing.B) {
	view := View{Nodes: nodes(b, many(100, func(i int) string {
		return fmt.Sprintf("CPU:16 GPU:1 memory:1e10 / CPU:%d memory:%d", i%17, 1e9*(i%10))
	})...), Local: "n003"}
	p := DefaultPolicy(func(n int) int { return n / 2 })
	req := Request{Demand: res(b, resources.Demand, "CPU:4")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := p.Schedule(req, view, ""); d.Status != Run {
			b.Fatal(d)
		}
	}
}

func BenchmarkSpread100Nodes(b *testing.B) {
	view := View{Nodes: nodes(b, many(100, func(i int) string { return fmt.Sprintf("CPU:16 / CPU:%d", i%17) })...)}
	p := DefaultPolicy(nil)
	req := Request{Demand: res(b, resources.Demand, "CPU:4"), Strategy: Strategy{Kind: Spread}}
	b.ReportAllocs()
	b.ResetTimer()
	var cursor NodeID
	for i := 0; i < b.N; i++ {
		cursor = p.Schedule(req, view, cursor).Cursor
	}
}
