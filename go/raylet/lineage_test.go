package raylet

// Tests of results kept on the nodes that made them, and of their lineage (lineage.go): when
// they are pulled here, when the other node may free them, and how a lost one is made again,
// on the state alone. No processes, sockets or sleeps.

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
)

// unref drops from's references to list.
func unref(list ...ids.ObjectID) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Removed: ids.ToBytes(list)}}}
}

// keptWorld is a node of a cluster with a driver, two other nodes that have resource R (the
// first is idle, the second has room too), and task F (which needs R) forwarded to the first
// node: its result is kept there.
type keptWorld struct {
	*cluster
	d        *conn
	n, other ViewNode
	ret      ids.ObjectID
}

// newKeptWorld makes the world; F has retries retries, and the driver subscribes to its result
// before it is kept when waiting.
func newKeptWorld(t *testing.T, retries int32, waiting bool, bound int64) *keptWorld {
	c := newCluster(t, cpus(1))
	if bound > 0 {
		c.s.lineage.bound = bound
	}
	d, _ := c.clusterJob("J")
	n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
	other := peerNode(map[string]float64{"CPU": 4, "R": 4}, map[string]float64{"CPU": 2, "R": 2})
	c.update(n, other)
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	msgs := []*pb.ClientMessage{{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:],
		FunctionName: "F", Resources: map[string]float64{"R": 1}, MaxRetries: retries}}}}
	if waiting {
		msgs = append(msgs, subscribe(ret))
	}
	c.send(d, msgs...)
	w := &keptWorld{cluster: c, d: d, n: n, other: other, ret: ret}
	if got := w.forwarded(); got != "0:F" {
		t.Fatalf("forwarded %q, want F to the first node", got)
	}
	c.do(func(s *state) { s.resultKept(keyOf(n), 1, ret) })
	return w
}

// forwarded renders the forward effects since the last call (see forwardedTo).
func (w *keptWorld) forwarded() string {
	return forwardedTo(w.takeCluster(), []ViewNode{w.n, w.other})
}

// arrive is the pull of ret by the node's own client: put here, then let go by it.
func (w *keptWorld) arrive(id ids.ObjectID, v string) {
	agent := w.driver()
	agent.c.agent = true
	w.send(agent, put(id, v), unref(id))
}

// Where a kept result goes, event by event: each case is a list of steps, and what is checked
// after the last: what the driver got, the effects of the last step, and what the node still
// keeps.
func TestLineageKeptResults(t *testing.T) {
	type step func(w *keptWorld)
	subscribeF := func(w *keptWorld) { w.send(w.d, subscribe(w.ret)) }
	nodeDies := func(w *keptWorld) { w.update(dead(w.n, "killed"), w.other) }
	nodeDiesAlone := func(w *keptWorld) { w.update(dead(w.n, "killed")) } // (the other left too)
	linkEnds := func(w *keptWorld) {
		w.do(func(s *state) { s.keptLostAt(keyOf(w.n), 1, "the link to it ended (EOF)") })
	}
	olderLinkEnds := func(w *keptWorld) {
		w.do(func(s *state) { s.keptLostAt(keyOf(w.n), 99, "the link to it ended (EOF)") })
	}
	// pullFails: the last pull asked for fails; firstPullFails: the first.
	pullFails := func(w *keptWorld) {
		j := w.fetches[len(w.fetches)-1]
		w.do(func(s *state) { s.keptFetched(j, errors.New("rpc error: code = NotFound")) })
	}
	firstPullFails := func(w *keptWorld) {
		j := w.fetches[0]
		w.do(func(s *state) { s.keptFetched(j, errors.New("rpc error: code = Unavailable")) })
	}
	noRoomHere := func(w *keptWorld) {
		j := w.fetches[len(w.fetches)-1]
		w.do(func(s *state) { s.keptFetched(j, fmt.Errorf("%w: no room", errLocalStore)) })
	}
	keptAgain := func(w *keptWorld) { w.do(func(s *state) { s.resultKept(keyOf(w.n), 2, w.ret) }) }
	flush := func(w *keptWorld) { w.takeCluster(); w.d.out.take() }
	cases := []struct {
		name    string
		retries int32
		waiting bool  // the driver waits for it before it is kept
		bound   int64 // the lineage bound (0: the default)
		steps   []step
		// What follows the last step: the driver's answer (kind:prefix; "" none), a pull from the
		// first node, a "taken" to it, F forwarded (to "0" or "1"), and whether F is still
		// pending and kept.
		got                string
		fetch, taken       bool
		forward            string
		pending, stillKept bool
	}{
		{name: "kept, nobody waits: stays there", steps: nil, pending: true, stillKept: true},
		{name: "kept while the driver waits: pulled at once", waiting: true, fetch: true, pending: true, stillKept: true},
		{name: "waited for later: pulled then", steps: []step{subscribeF}, fetch: true, pending: true, stillKept: true},
		{name: "pulled: the driver has it, the task is done, the copy there is let go", waiting: true,
			steps: []step{func(w *keptWorld) { w.takeCluster(); w.arrive(w.ret, "big") }}, got: "0:big", taken: true},
		{name: "its ref dropped: freed there", steps: []step{func(w *keptWorld) { w.send(w.d, unref(w.ret)) }}, taken: true},
		{name: "a second wait does not pull twice", steps: []step{subscribeF, func(w *keptWorld) {
			w.takeCluster()
			w.send(w.driver(), subscribe(w.ret))
		}}, pending: true, stillKept: true},
		{name: "its node dies, nobody waits: made again only when wanted", retries: 1,
			steps: []step{nodeDies}, pending: true, stillKept: true},
		{name: "its node died, then wanted: run again on the other node", retries: 1,
			steps: []step{nodeDies, subscribeF}, forward: "1", pending: true},
		{name: "its node dies while wanted: run again at once", retries: 1, waiting: true,
			steps: []step{func(w *keptWorld) { w.takeCluster() }, nodeDies}, forward: "1", pending: true},
		{name: "the link to its node ended, then wanted: run again (there: it is alive and idle)", retries: 1,
			steps: []step{linkEnds, subscribeF}, forward: "0", pending: true},
		{name: "the pull fails: the copy is let go, run again", retries: 1, waiting: true,
			steps: []step{func(w *keptWorld) { w.takeCluster() }, pullFails}, taken: true, forward: "0", pending: true},
		{name: "no room here for it: ObjectLostError at once, the copy let go", retries: 3, waiting: true,
			steps: []step{func(w *keptWorld) { w.takeCluster() }, noRoomHere}, taken: true,
			got: fmt.Sprintf("%d:Object ", objstore.KindLost)},
		{name: "its only capable node died: ObjectLostError", retries: 3,
			steps: []step{nodeDiesAlone, subscribeF}, got: fmt.Sprintf("%d:Object ", objstore.KindLost)},
		{name: "a link older than the one it was kept through ends: still there", retries: 1,
			steps: []step{olderLinkEnds, subscribeF}, fetch: true, pending: true, stillKept: true},
		{name: "a late failure of a pull of an earlier copy of it, kept again on the same node, changes nothing",
			retries: 1, waiting: true,
			steps: []step{linkEnds, keptAgain, flush, firstPullFails}, pending: true, stillKept: true},
		{name: "kept again after the lost copy came after all: freed there, done", retries: 1,
			steps: []step{linkEnds, subscribeF, flush, func(w *keptWorld) { w.arrive(w.ret, "late") }, flush, keptAgain},
			taken: true},
		{name: "a late answer of a pull of a copy lost meanwhile changes nothing", retries: 1, waiting: true,
			steps:   []step{func(w *keptWorld) { w.takeCluster() }, nodeDies, func(w *keptWorld) { w.takeCluster() }, pullFails},
			pending: true},
		{name: "lost with no retries left: ObjectLostError", retries: 0,
			steps: []step{nodeDies, subscribeF}, got: fmt.Sprintf("%d:Object ", objstore.KindLost)},
		{name: "lineage dropped over the bound: lost for good", retries: 3, bound: 1,
			steps: []step{nodeDies, subscribeF}, got: fmt.Sprintf("%d:Object ", objstore.KindLost)},
		{name: "lineage dropped, the copy there still pulled", retries: 3, bound: 1,
			steps: []step{subscribeF}, fetch: true, pending: true, stillKept: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newKeptWorld(t, tc.retries, tc.waiting, tc.bound)
			for _, st := range tc.steps {
				st(w)
			}
			got := objects(w.d.out.take())[w.ret]
			e := w.takeCluster()
			if !strings.HasPrefix(got, tc.got) || (tc.got == "" && got != "") {
				t.Errorf("the driver got %q, want %q", got, tc.got)
			}
			fetched := len(e.fetchKept) == 1 && e.fetchKept[0].id == w.ret && e.fetchKept[0].key == keyOf(w.n) && e.fetchKept[0].addr == w.n.Address
			if fetched != tc.fetch || len(e.fetchKept) > 1 {
				t.Errorf("pulls %+v, want one from the first node: %v", e.fetchKept, tc.fetch)
			}
			taken := len(e.taken) == 1 && e.taken[0].id == w.ret && e.taken[0].key == keyOf(w.n)
			if taken != tc.taken || len(e.taken) > 1 {
				t.Errorf("taken %+v, want one to the first node: %v", e.taken, tc.taken)
			}
			want := ""
			if tc.forward != "" {
				want = tc.forward + ":F"
			}
			if f := forwardedTo(e, []ViewNode{w.n, w.other}); f != want {
				t.Errorf("forwarded %q, want F to %q", f, tc.forward)
			}
			_, pending := w.s.pending[w.ret]
			_, kept := w.s.lineage.kept[w.ret]
			if pending != tc.pending || kept != tc.stillKept {
				t.Errorf("pending %v kept %v, want %v %v", pending, kept, tc.pending, tc.stillKept)
			}
			if tc.got != "" && tc.got != "0:big" && !strings.Contains(got, "cannot be rebuilt") && !strings.Contains(got, "could not be brought here") {
				t.Errorf("the error does not say it cannot be rebuilt: %q", got)
			}
			if !kept && len(w.s.lineage.kept) == 0 && w.s.lineage.bytes != 0 {
				t.Errorf("%d bytes of lineage left with nothing kept", w.s.lineage.bytes)
			}
		})
	}
}

// A task whose argument was lost with the node that kept it makes the argument again first,
// waits for it, pulls it here once it is kept again, and then runs.
func TestLineageLostArgumentIsRebuiltFirst(t *testing.T) {
	w := newKeptWorld(t, 1, false, 0)
	w.update(dead(w.n, "killed"), w.other)
	w.takeCluster()
	tid := ids.NewTaskID()
	g := tid.ReturnID(1)
	w.send(w.d, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: g[:],
		FunctionName: "G", Resources: map[string]float64{"R": 1}, Args: []*pb.TaskArg{{IsRef: true, ObjectId: w.ret[:]}}}}}, subscribe(g))
	if f := w.forwarded(); f != "1:F" {
		t.Fatalf("forwarded %q, want F made again on the other node (G waits for it)", f)
	}
	if gt := w.s.pending[g]; gt == nil || gt.missing != 1 {
		t.Fatalf("G does not wait for its argument")
	}
	w.do(func(s *state) { s.resultKept(keyOf(w.other), 1, w.ret) })
	e := w.takeCluster()
	if len(e.fetchKept) != 1 || e.fetchKept[0].key != keyOf(w.other) {
		t.Fatalf("pulls %+v, want F's new result pulled from the other node for G", e.fetchKept)
	}
	w.arrive(w.ret, "again")
	if f := w.forwarded(); f != "1:G" {
		t.Fatalf("forwarded %q, want G once its argument is here", f)
	}
	if _, pending := w.s.pending[w.ret]; pending {
		t.Errorf("F is still pending once its result is here")
	}
}

// Kept results whose lineage is dropped (over the bound) let go of their arguments; the order of
// kept results does not grow without bound while results come and go.
func TestLineageBoundAndOrder(t *testing.T) {
	w := newKeptWorld(t, 1, false, 0)
	arg := putID()
	w.send(w.d, put(arg, "a"))
	var rets []ids.ObjectID
	for i := 0; i < 300; i++ {
		tid := ids.NewTaskID()
		ret := tid.ReturnID(1)
		w.send(w.d, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:],
			FunctionName: "H", Resources: map[string]float64{"R": 1}, Args: []*pb.TaskArg{{IsRef: true, ObjectId: arg[:]}}}}})
		key := keyOf(w.n)
		if tk := w.s.pending[ret]; tk != nil && tk.remote != nil {
			key = tk.remote.key
		}
		w.do(func(s *state) { s.resultKept(key, 1, ret) })
		rets = append(rets, ret)
	}
	if got := len(w.s.lineage.kept); got != 301 {
		t.Fatalf("%d results kept, want 301", got)
	}
	if holds := w.s.refs[arg].holds; holds != 300 {
		t.Fatalf("the argument has %d holds, want one per kept task (its lineage)", holds)
	}
	// A bound of about a hundred specs drops the oldest lineage, and their holds.
	size := w.s.pending[rets[0]].lineageSize
	w.s.lineage.bound = 100 * size
	w.do(func(s *state) { s.boundLineage() })
	if holds := w.s.refs[arg].holds; holds > 100 || holds < 90 {
		t.Errorf("the argument has %d holds, want those of the hundred newest kept tasks", holds)
	}
	if w.s.lineage.bytes > w.s.lineage.bound {
		t.Errorf("%d bytes of lineage over the bound of %d", w.s.lineage.bytes, w.s.lineage.bound)
	}
	for _, ret := range rets {
		w.send(w.d, unref(ret))
	}
	if got := len(w.s.lineage.kept); got != 1 || len(w.s.lineage.order) > 64 {
		t.Errorf("%d results kept and %d in the order after the refs went, want 1 and a short order", got, len(w.s.lineage.order))
	}
	if e := w.s.refs[arg]; e == nil || e.holds != 0 {
		t.Errorf("the argument keeps holds after its tasks' results went")
	}
}
