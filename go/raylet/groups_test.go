package raylet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"goray/ids"
	"goray/placement"
	"goray/resources"
	pb "goray/rpc/proto"
	"goray/scheduling"
)

// Tests of the decisions of a placement group's owner (groups.go), on the state alone: where the
// bundles go, the two phases over the other nodes (their answers are scripted), retries, node
// losses, removal, waiters and names. No processes, sockets or sleeps.

// groupCluster is an owner node (2 CPUs) with peers A and B (2 CPUs each), and what it asked of
// them so far.
type groupCluster struct {
	*cluster
	peers map[scheduling.NodeID]string // peer key -> label
	byLbl map[string]ViewNode
	asks  []peerAsk
	puts  []groupPut
	d     *conn
}

func newGroupCluster(t *testing.T, peerLabels ...string) *groupCluster {
	g := &groupCluster{cluster: newCluster(t, cpus(2)), peers: map[scheduling.NodeID]string{}, byLbl: map[string]ViewNode{}}
	var nodes []ViewNode
	for _, l := range peerLabels {
		n := peerNode(cpus(2), nil)
		g.peers[keyOf(n)] = l
		g.byLbl[l] = n
		nodes = append(nodes, n)
	}
	g.update(nodes...)
	g.d = g.driver()
	return g
}

// step delivers an event and keeps the group effects.
func (g *groupCluster) step(event func(s *state)) {
	g.do(func(s *state) {
		event(s)
		g.asks = append(g.asks, s.eff.peerAsks...)
		g.puts = append(g.puts, s.eff.groupPuts...)
		s.eff.peerAsks, s.eff.groupPuts = nil, nil
	})
}

// create asks the owner for a group of strategy with bundles of n CPUs each.
func (g *groupCluster) create(strategy scheduling.BundleStrategy, name string, bundleCPUs ...float64) string {
	info := &pb.PlacementGroupInfo{GroupId: ids.NewGroupID(g.s.nodeID), Name: name, Strategy: int32(strategy)}
	for _, n := range bundleCPUs {
		info.Bundles = append(info.Bundles, &pb.Bundle{Resources: cpus(n)})
	}
	g.step(func(s *state) {
		s.handle(g.d.c, []*pb.ClientMessage{{Body: &pb.ClientMessage_CreatePlacementGroup{CreatePlacementGroup: &pb.CreatePlacementGroup{RequestId: 1, Group: info}}}})
	})
	return info.GroupId
}

// describeAsks names the messages asked of peers since the last call, sorted: "prepare A 1,2",
// "commit B 0", "return A all removed".
func (g *groupCluster) describeAsks() []string {
	var out []string
	for _, a := range g.asks {
		who := g.peers[a.node.key]
		switch body := a.msg.Body.(type) {
		case *pb.ClientMessage_PrepareBundles:
			out = append(out, fmt.Sprintf("prepare %s %s", who, joinInts(body.PrepareBundles.Indexes)))
		case *pb.ClientMessage_CommitBundles:
			out = append(out, fmt.Sprintf("commit %s %s", who, joinInts(body.CommitBundles.Indexes)))
		case *pb.ClientMessage_ReturnBundles:
			idx := joinInts(body.ReturnBundles.Indexes)
			if idx == "" {
				idx = "all"
			}
			if body.ReturnBundles.Removed {
				idx += " removed"
			}
			out = append(out, fmt.Sprintf("return %s %s", who, idx))
		}
	}
	sort.Strings(out)
	return out
}

func joinInts(list []int32) string {
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// answer answers the pending asks of kind (prepare, commit, return) from peer label: ok, or
// with error msg. It returns how many it answered.
func (g *groupCluster) answer(kind, label, errMsg string) int {
	var keep, now []peerAsk
	for _, a := range g.asks {
		k := strings.ToLower(strings.TrimSuffix(fmt.Sprintf("%T", a.msg.Body)[len("*rpcpb.ClientMessage_"):], "Bundles"))
		if k == kind && g.peers[a.node.key] == label {
			now = append(now, a)
		} else {
			keep = append(keep, a)
		}
	}
	g.asks = keep
	for _, a := range now {
		a := a
		g.step(func(s *state) { a.done(s, &pb.Reply{Error: errMsg}, nil) })
	}
	return len(now)
}

// state is the group's state name and where its bundles are ("L" for the owner, peer labels,
// "-" for none): "CREATED L,A,B".
func (g *groupCluster) state(id string) string {
	found := g.s.groupDir.Get(id, "", "")
	if len(found) == 0 {
		return "unknown"
	}
	info := found[0]
	var where []string
	for _, b := range info.Bundles {
		switch {
		case len(b.NodeId) == 0:
			where = append(where, "-")
		case string(b.NodeId) == string(g.s.nodeID[:]):
			where = append(where, "L")
		default:
			u, _ := ids.UniqueIDFromBytes(b.NodeId)
			where = append(where, g.peers[scheduling.NodeID(u.Hex())])
		}
	}
	return placement.StateName(info.State) + " " + strings.Join(where, ",")
}

// fireTimers delivers the timers asked for so far that are shorter than a bundle's prepare
// timeout (retries, waiters' time limits).
func (g *groupCluster) fireTimers() {
	for _, tm := range g.takeEffects().timers {
		if tm.delay < bundlePrepareTimeout {
			g.step(tm.fire)
		}
	}
}

func TestGroupOwner(t *testing.T) {
	type step struct {
		do   func(g *groupCluster, id string)
		asks string // the asks after it, "; "-joined ("" none)
		st   string // the group's state after it
	}
	ok := func(kind, label string) func(g *groupCluster, id string) {
		return func(g *groupCluster, id string) {
			if g.answer(kind, label, "") == 0 {
				g.t.Fatalf("no %s asked of %s", kind, label)
			}
		}
	}
	refuse := func(kind, label string) func(g *groupCluster, id string) {
		return func(g *groupCluster, id string) {
			if g.answer(kind, label, "no room for it now") == 0 {
				g.t.Fatalf("no %s asked of %s", kind, label)
			}
		}
	}
	remove := func(g *groupCluster, id string) {
		g.step(func(s *state) { s.removeGroupRequest(g.d.c, &pb.RemovePlacementGroup{GroupId: id}) })
	}
	dies := func(label string) func(g *groupCluster, id string) {
		return func(g *groupCluster, id string) {
			g.byLbl[label] = dead(g.byLbl[label], "killed")
			var nodes []ViewNode
			for _, n := range g.byLbl {
				nodes = append(nodes, n)
			}
			g.step(func(s *state) { s.updateCluster(nodes) })
		}
	}
	joins := func(label string) func(g *groupCluster, id string) {
		return func(g *groupCluster, id string) {
			n := peerNode(cpus(2), nil)
			g.peers[keyOf(n)] = label
			g.byLbl[label] = n
			var nodes []ViewNode
			for _, n := range g.byLbl {
				nodes = append(nodes, n)
			}
			g.step(func(s *state) { s.updateCluster(nodes) })
		}
	}
	retry := func(g *groupCluster, id string) { g.fireTimers() }
	report := func(free map[string]float64) func(g *groupCluster, id string) { // the peers report
		return func(g *groupCluster, id string) {
			var nodes []ViewNode
			for l, n := range g.byLbl {
				n.Available = cpus(free[l])
				nodes = append(nodes, n)
			}
			g.step(func(s *state) { s.updateCluster(nodes) })
		}
	}
	drop := func(g *groupCluster, id string) { g.asks = nil }

	cases := []struct {
		name     string
		strategy scheduling.BundleStrategy
		bundles  []float64
		first    string // asks and state right after the creation
		firstSt  string
		steps    []step
	}{
		{"PACK that fits here: created at once, nothing asked", scheduling.Pack, []float64{1, 1}, "", "CREATED L,L", nil},
		{"STRICT_SPREAD over three nodes: prepare everywhere, then commit", scheduling.StrictSpread, []float64{1, 1, 1},
			"prepare A 1; prepare B 2", "PENDING -,-,-", []step{
				{ok("prepare", "A"), "prepare B 2", "PENDING -,-,-"},
				{ok("prepare", "B"), "commit A 1; commit B 2", "PENDING -,-,-"},
				{ok("commit", "A"), "commit B 2", "PENDING -,-,-"},
				{ok("commit", "B"), "", "CREATED L,A,B"},
			}},
		{"a refused prepare gives back what others reserved, and retries", scheduling.StrictSpread, []float64{1, 1, 1},
			"prepare A 1; prepare B 2", "PENDING -,-,-", []step{
				{ok("prepare", "A"), "prepare B 2", "PENDING -,-,-"},
				{refuse("prepare", "B"), "return A 1", "PENDING -,-,-"},
				{drop, "", "PENDING -,-,-"},
				{retry, "prepare A 1; prepare B 2", "PENDING -,-,-"},
				{ok("prepare", "A"), "prepare B 2", "PENDING -,-,-"},
				{ok("prepare", "B"), "commit A 1; commit B 2", "PENDING -,-,-"},
			}},
		{"removed during its prepares: late successes are given back", scheduling.StrictSpread, []float64{1, 1, 1},
			"prepare A 1; prepare B 2", "PENDING -,-,-", []step{
				{remove, "prepare A 1; prepare B 2; return A all removed; return B all removed", "REMOVED -,-,-"},
				{drop, "", "REMOVED -,-,-"},
				{func(g *groupCluster, id string) {}, "", "REMOVED -,-,-"},
			}},
		{"a refused commit places that bundle again", scheduling.SpreadBundles, []float64{2, 2, 2},
			"prepare A 1; prepare B 2", "PENDING -,-,-", []step{
				{ok("prepare", "A"), "prepare B 2", "PENDING -,-,-"},
				{ok("prepare", "B"), "commit A 1; commit B 2", "PENDING -,-,-"},
				{ok("commit", "A"), "commit B 2", "PENDING -,-,-"},
				{refuse("commit", "B"), "return B 2", "PENDING L,A,-"},
				{drop, "", "PENDING L,A,-"},
				{report(map[string]float64{"A": 0, "B": 2}), "prepare B 2", "PENDING L,A,-"},
				{ok("prepare", "B"), "commit B 2", "PENDING L,A,-"},
				{ok("commit", "B"), "", "CREATED L,A,B"},
			}},
		{"a node holding a bundle dies: RESCHEDULING, then placed on a new node", scheduling.StrictSpread, []float64{1, 1, 1},
			"prepare A 1; prepare B 2", "PENDING -,-,-", []step{
				{ok("prepare", "A"), "prepare B 2", ""},
				{ok("prepare", "B"), "commit A 1; commit B 2", ""},
				{ok("commit", "A"), "commit B 2", ""},
				{ok("commit", "B"), "", "CREATED L,A,B"},
				{dies("B"), "", "RESCHEDULING L,A,-"},
				{joins("C"), "prepare C 2", "RESCHEDULING L,A,-"},
				{ok("prepare", "C"), "commit C 2", "RESCHEDULING L,A,-"},
				{ok("commit", "C"), "", "CREATED L,A,C"},
			}},
		{"more STRICT_SPREAD bundles than nodes: pending, nothing asked", scheduling.StrictSpread, []float64{1, 1, 1, 1},
			"", "PENDING -,-,-,-", []step{
				{joins("C"), "~prepare A; prepare B; prepare C", "PENDING -,-,-,-"},
			}},
		{"removed once created: every holder gives back, actors killed", scheduling.StrictSpread, []float64{1, 1, 1},
			"prepare A 1; prepare B 2", "PENDING -,-,-", []step{
				{ok("prepare", "A"), "prepare B 2", ""},
				{ok("prepare", "B"), "commit A 1; commit B 2", ""},
				{ok("commit", "A"), "commit B 2", ""},
				{ok("commit", "B"), "", "CREATED L,A,B"},
				{remove, "return A all removed; return B all removed", "REMOVED -,-,-"},
				{remove, "return A all removed; return B all removed", "REMOVED -,-,-"}, // (nothing more)
			}},
		{"STRICT_PACK too big for any node waits", scheduling.StrictPack, []float64{2, 1}, "", "PENDING -,-", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGroupCluster(t, "A", "B")
			id := g.create(c.strategy, "", c.bundles...)
			check := func(what, asks, st string) {
				t.Helper()
				got := strings.Join(g.describeAsks(), "; ")
				if strings.HasPrefix(asks, "~") { // (which bundle goes where depends on the nodes' ids)
					asks, got = asks[1:], strings.TrimRight(strings.Map(func(r rune) rune {
						if r >= '0' && r <= '9' {
							return -1
						}
						return r
					}, got), " ")
					got = strings.ReplaceAll(got, " ;", ";")
				}
				if got != asks {
					t.Errorf("%s: asks %q, want %q", what, got, asks)
				}
				if st != "" {
					if got := g.state(id); got != st {
						t.Errorf("%s: state %q, want %q", what, got, st)
					}
				}
			}
			check("created", c.first, c.firstSt)
			for i, s := range c.steps {
				s.do(g, id)
				check(fmt.Sprintf("step %d", i+1), s.asks, s.st)
			}
		})
	}
}

// The owner's ledger: a group created here takes its bundles from the node's free resources and
// adds the group's; removal gives everything back.
func TestGroupOwnerLedger(t *testing.T) {
	g := newGroupCluster(t)
	id := g.create(scheduling.Pack, "", 1, 1)
	if got := g.state(id); got != "CREATED L,L" {
		t.Fatalf("state %q", got)
	}
	if free := g.s.ledger.Available().Map()["CPU"]; free != 0 {
		t.Errorf("free CPUs %v while the group holds both", free)
	}
	if got := g.s.ledger.Total().Map()[placement.Name("CPU", id, placement.AnyBundle)]; got != 2 {
		t.Errorf("the group's CPUs: %v, want 2", got)
	}
	g.step(func(s *state) { s.removeGroupRequest(g.d.c, &pb.RemovePlacementGroup{GroupId: id}) })
	if free := g.s.ledger.Available().Map()["CPU"]; free != 2 {
		t.Errorf("free CPUs %v after removal, want 2", free)
	}
	if got := g.s.ledger.Total().Map()[placement.Name("CPU", id, placement.AnyBundle)]; got != 0 {
		t.Errorf("the group's CPUs after removal: %v", got)
	}
}

// Waiters: answered when the group is created, when it is removed (an error), or when their
// time runs out (not found); a group nobody has is an error at once.
func TestGroupWaiters(t *testing.T) {
	g := newGroupCluster(t, "A")
	id := g.create(scheduling.StrictSpread, "", 1, 1)
	g.d.out.take()
	wait := func(req uint64, ms int64) {
		g.step(func(s *state) {
			s.handle(g.d.c, []*pb.ClientMessage{{Body: &pb.ClientMessage_WaitPlacementGroup{WaitPlacementGroup: &pb.WaitPlacementGroup{RequestId: req, GroupId: id, TimeoutMs: ms}}}})
		})
	}
	replies := func() map[uint64]string {
		out := map[uint64]string{}
		for _, m := range g.d.out.take() {
			if r := m.GetReply(); r != nil {
				out[r.RequestId] = fmt.Sprintf("found=%v err=%q", r.Found, r.Error)
			}
		}
		return out
	}
	wait(10, 100) // times out
	wait(11, -1)  // answered on creation
	if got := replies(); len(got) != 0 {
		t.Fatalf("answered before anything happened: %v", got)
	}
	g.fireTimers()
	if got := replies()[10]; got != `found=false err=""` {
		t.Errorf("timed-out waiter: %s", got)
	}
	g.answer("prepare", "A", "")
	g.answer("commit", "A", "")
	if got := replies()[11]; got != `found=true err=""` {
		t.Errorf("waiter at creation: %s", got)
	}
	wait(12, 0) // created: at once
	if got := replies()[12]; got != `found=true err=""` {
		t.Errorf("waiter of a created group: %s", got)
	}
	g.step(func(s *state) { s.removeGroupRequest(g.d.c, &pb.RemovePlacementGroup{GroupId: id}) })
	wait(13, -1)
	if got := replies()[13]; !strings.Contains(got, "removed before it is created") {
		t.Errorf("waiter of a removed group: %s", got)
	}
	other := ids.NewGroupID(g.s.nodeID)
	g.step(func(s *state) {
		s.handle(g.d.c, []*pb.ClientMessage{{Body: &pb.ClientMessage_WaitPlacementGroup{WaitPlacementGroup: &pb.WaitPlacementGroup{RequestId: 14, GroupId: other, TimeoutMs: -1}}}})
	})
	if got := replies()[14]; !strings.Contains(got, "does not exist") {
		t.Errorf("waiter of an unknown group: %s", got)
	}
}

// A named group on a cluster claims its name in the control store before it takes anything; a
// taken name fails the creation and leaves nothing behind.
func TestGroupNames(t *testing.T) {
	for _, taken := range []bool{false, true} {
		t.Run(fmt.Sprintf("taken=%v", taken), func(t *testing.T) {
			g := newGroupCluster(t, "A")
			id := g.create(scheduling.Pack, "trainers", 1)
			if len(g.puts) != 1 || g.puts[0].done == nil || g.puts[0].info.Name != "trainers" {
				t.Fatalf("the name is not claimed first: %v", g.puts)
			}
			if got := g.state(id); got != "PENDING -" {
				t.Fatalf("placed before its name is its own: %s", got)
			}
			var err error
			if taken {
				err = placement.NameTakenError("trainers")
			}
			put := g.puts[0]
			g.puts = nil
			g.d.out.take()
			g.step(func(s *state) { put.done(s, err) })
			var rep *pb.Reply
			for _, m := range g.d.out.take() {
				if r := m.GetReply(); r != nil && r.RequestId == 1 {
					rep = r
				}
			}
			if rep == nil {
				t.Fatal("no answer to the creation")
			}
			if taken {
				if !strings.Contains(rep.Error, "already exists") {
					t.Errorf("answer %q", rep.Error)
				}
				if free := g.s.ledger.Available().Map()["CPU"]; free != 2 || len(g.s.groups) != 0 {
					t.Errorf("a refused group left free CPUs %v, groups %d", free, len(g.s.groups))
				}
				return
			}
			if rep.Error != "" || g.state(id) != "CREATED L" {
				t.Errorf("answer %q, state %s", rep.Error, g.state(id))
			}
			// Its later records go to the control store too.
			if len(g.puts) == 0 || g.puts[len(g.puts)-1].info.State != placement.Created {
				t.Errorf("the creation is not recorded: %v", g.puts)
			}
		})
	}
}

// The holder's side: a prepare of several bundles takes all or none; a removal kills the work
// running in the group; an owner's death gives its bundles back.
func TestGroupHolder(t *testing.T) {
	h := newHarness(t, cpus(4))
	h.s.defaultJob.prestart = 0
	owner := ids.NewUniqueID()
	group := ids.NewGroupID(owner)
	var err error
	h.do(func(s *state) {
		err = s.prepareBundles(group, []int{0, 1, 2}, []map[string]float64{cpus(2), cpus(1), cpus(2)}, 1)
	})
	if err == nil || h.s.ledger.Available().Map()["CPU"] != 4 {
		t.Fatalf("a prepare with no room for all: err %v, free %v", err, h.s.ledger.Available())
	}
	h.do(func(s *state) { err = s.prepareBundles(group, []int{0, 1}, []map[string]float64{cpus(2), cpus(1)}, 1) })
	if err != nil {
		t.Fatal(err)
	}
	h.do(func(s *state) {
		for _, i := range []int{0, 1} {
			if e := s.commitBundle(group, i); e != nil {
				t.Fatal(e)
			}
		}
	})
	w := h.worker(nil)
	h.takeEffects()
	ret := h.submit(h.driver(), "inGroup", map[string]float64{placement.Name("CPU", group, 0): 1, placement.Name("CPU", group, placement.AnyBundle): 1, placement.Name("bundle", group, 0): 0.001}, 3)
	if w.w.task == nil {
		t.Fatal("the group's task did not run")
	}
	h.do(func(s *state) { s.returnGroup(group, true) })
	if k := h.takeEffects().kill; len(k) != 1 || k[0] != w.w {
		t.Fatalf("the group's worker was not killed: %v", k)
	}
	h.do(func(s *state) { s.workerEnded(w.w, exit{status: "was killed"}) })
	obj, ok := h.s.store.Get(ret)
	if !ok || !strings.Contains(string(obj.Data), "was removed") {
		t.Errorf("the group's task: %v %q (want a failure naming the removal, no retry)", ok, obj.Data)
	}
	if free := h.s.ledger.Available().Map()["CPU"]; free != 4 {
		t.Errorf("free CPUs %v after the removal, want 4", free)
	}
	// A return names its round: an earlier round's return leaves a bundle the owner reserved
	// again since.
	h.do(func(s *state) { err = s.prepareBundles(group, []int{0}, []map[string]float64{cpus(3)}, 1) })
	if err != nil {
		t.Fatal(err)
	}
	h.do(func(s *state) { err = s.prepareBundles(group, []int{0}, []map[string]float64{cpus(3)}, 2) })
	h.do(func(s *state) { s.returnBundle(group, 0, 1) })
	if free := h.s.ledger.Available().Map()["CPU"]; err != nil || free != 1 {
		t.Errorf("an old round's return gave back a bundle of a later round: err %v, free CPUs %v", err, free)
	}
	// Work waiting here for a removed group fails at once.
	waiting := h.submit(h.driver(), "inGroup", map[string]float64{placement.Name("CPU", group, 1): 1, placement.Name("CPU", group, placement.AnyBundle): 1, placement.Name("bundle", group, 1): 0.001}, 3)
	h.do(func(s *state) { s.killGroupWork(group, "its placement group was removed") })
	if obj, ok := h.s.store.Get(waiting); !ok || !strings.Contains(string(obj.Data), "was removed") {
		t.Errorf("a task waiting for a removed group: %v %q", ok, obj.Data)
	}
	// An owner's death gives back its groups' bundles.
	h.do(func(s *state) { s.ownerGroupsGone(owner) })
	if free := h.s.ledger.Available().Map()["CPU"]; free != 4 {
		t.Errorf("free CPUs %v after the owner died, want 4", free)
	}
}

// Once a bundle is committed on another node, the owner's view shows its resources there before
// that node's report does (so the group's tasks go there at once), and keeps showing them
// through reports that lag behind.
func TestGroupBundlesInView(t *testing.T) {
	g := newGroupCluster(t, "A")
	id := g.create(scheduling.StrictSpread, "", 1, 1)
	g.answer("prepare", "A", "")
	a := keyOf(g.byLbl["A"])
	d, _ := g.clusterJob("01000000")
	inBundle := map[string]float64{placement.Name("CPU", id, 1): 0.5, placement.Name("CPU", id, placement.AnyBundle): 0.5, placement.Marker(id, 1): 0.001}
	for _, when := range []string{"after the commit", "after a report without the bundle"} {
		g.submit(d, "inBundle", inBundle, 0)
		out := g.takeCluster()
		if len(out.forward) != 1 || out.forward[0].node.key != a {
			t.Errorf("%s: a task of bundle 1 was not forwarded to A (%d forwards)", when, len(out.forward))
		}
		g.update(g.byLbl["A"]) // A's report, without the bundle yet
	}
	if got := g.viewNode(a).Total.Get(placement.Marker(id, 1)); got == 0 {
		t.Error("the bundle is not in A's view entry after a lagging report")
	}
}

// What a group's owner reserves on other nodes is not free there in its view until their
// reports say so: for the next groups at once, and for tasks once the policy reads the view.
func TestGroupReservationsInView(t *testing.T) {
	g := newGroupCluster(t, "A", "B")
	g.create(scheduling.StrictSpread, "", 2, 2, 2) // (every node's 2 CPUs)
	if got := strings.Join(g.describeAsks(), "; "); got != "prepare A 1; prepare B 2" {
		t.Fatalf("the first group asks %q", got)
	}
	g.asks = nil
	second := g.create(scheduling.StrictSpread, "", 1, 1)
	if got := strings.Join(g.describeAsks(), "; "); got != "" || g.state(second) != "PENDING -,-" {
		t.Fatalf("a second group found room where the first reserved it: asks %q, state %q", got, g.state(second))
	}
	one, err := resources.NewSet(cpus(1), resources.Demand)
	if err != nil {
		t.Fatal(err)
	}
	g.do(func(s *state) {
		if d := s.place(scheduling.Request{Demand: one}); d.Status == scheduling.Run {
			t.Errorf("a task of 1 CPU is placed on %s, where the groups' reservations took every CPU", d.Node)
		}
		for _, l := range []string{"A", "B"} {
			if free := s.viewNodeOf(keyOf(g.byLbl[l])).Available.Get(resources.CPU); free != 0 {
				t.Errorf("node %s shows %v CPUs free in the view, want 0", l, free)
			}
		}
	})
	// Their reports (the first group's prepares failed there, say) free them again.
	g.step(func(s *state) { s.updateCluster([]ViewNode{g.byLbl["A"], g.byLbl["B"]}) })
	if got := strings.Join(g.describeAsks(), "; "); !strings.Contains(got, "prepare A") || !strings.Contains(got, "prepare B") {
		t.Errorf("after the nodes' reports, the second group asks %q", got)
	}
}

// The control store gets each group's latest record of a batch, and every claim someone waits for.
func TestLatestRecords(t *testing.T) {
	rec := func(id string, st int32, claim bool) groupPut {
		p := groupPut{info: &pb.PlacementGroupInfo{GroupId: id, State: st}}
		if claim {
			p.done = func(*state, error) {}
		}
		return p
	}
	in := []groupPut{rec("a", 0, true), rec("b", 0, false), rec("a", 1, false), rec("b", 1, false), rec("c", 0, false), rec("b", 2, false)}
	var got []string
	for _, p := range latestRecords(in) {
		got = append(got, fmt.Sprintf("%s%d", p.info.GroupId, p.info.State))
	}
	if strings.Join(got, " ") != "a0 a1 c0 b2" {
		t.Errorf("kept %v, want a0 a1 c0 b2", got)
	}
}

// flakyStore is a control store whose PutPlacementGroups fails its first calls.
type flakyStore struct {
	pb.ControlStoreClient
	fails, calls int
}

func (f *flakyStore) PutPlacementGroups(_ context.Context, req *pb.PutPlacementGroupsRequest, _ ...grpc.CallOption) (*pb.PutPlacementGroupsReply, error) {
	f.calls++
	if f.calls <= f.fails {
		return nil, status.Error(codes.Unavailable, "restarting")
	}
	return &pb.PutPlacementGroupsReply{Errors: make([]string, len(req.Groups))}, nil
}

// Records the control store does not take at once are sent again, a few times.
func TestGroupRecordsRetry(t *testing.T) {
	for _, c := range []struct{ fails, calls int }{{0, 1}, {2, 3}, {storeAttempts, storeAttempts}} {
		store := &flakyStore{fails: c.fails}
		r := &Raylet{ctx: context.Background()}
		r.cfg.GCS = store
		errs := r.sendGroups([]groupPut{{info: &pb.PlacementGroupInfo{GroupId: "g"}}})
		if store.calls != c.calls || (errs[0] != nil) != (c.fails >= storeAttempts) {
			t.Errorf("%d failures: %d calls (want %d), error %v", c.fails, store.calls, c.calls, errs[0])
		}
	}
}

// The process that created a group hears each change of its state, once per change: CREATED
// when its bundles are committed, RESCHEDULING when a node holding one is lost, REMOVED.
func TestGroupStateShownToCreator(t *testing.T) {
	g := newGroupCluster(t, "A")
	id := g.create(scheduling.StrictSpread, "", 1, 1)
	shown := func() []int32 {
		var out []int32
		for _, m := range g.d.out.take() {
			if st := m.GetGroupState(); st != nil {
				if st.GroupId != id {
					t.Errorf("state of group %s shown, want %s", st.GroupId, id)
				}
				out = append(out, st.State)
			}
		}
		return out
	}
	if got := shown(); len(got) != 0 {
		t.Fatalf("states shown before anything happened: %v", got)
	}
	g.answer("prepare", "A", "")
	g.answer("commit", "A", "")
	if got := shown(); len(got) != 1 || got[0] != placement.Created {
		t.Fatalf("after the commit: %v, want [CREATED]", got)
	}
	g.step(func(s *state) { s.groupsLostOn(keyOf(g.byLbl["A"]), "its link broke") })
	if got := shown(); len(got) != 1 || got[0] != placement.Rescheduling {
		t.Fatalf("after its node was lost: %v, want [RESCHEDULING]", got)
	}
	g.step(func(s *state) { s.removeGroupRequest(g.d.c, &pb.RemovePlacementGroup{GroupId: id}) })
	if got := shown(); len(got) != 1 || got[0] != placement.Removed {
		t.Fatalf("after its removal: %v, want [REMOVED]", got)
	}
}
