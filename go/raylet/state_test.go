package raylet

// Tests of the node's decisions (state) alone: events go in, messages and effects come out. No
// processes, sockets, files or sleeps; time is whatever the test says it is.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/shm"
)

// recorder is a client's outbox that keeps what the node sent.
type recorder struct{ msgs []*pb.ServerMessage }

func (o *recorder) Queue(m *pb.ServerMessage) error {
	o.msgs = append(o.msgs, m)
	return nil
}

// take returns the messages sent since the last take.
func (o *recorder) take() []*pb.ServerMessage {
	m := o.msgs
	o.msgs = nil
	return m
}

// harness drives a state through events as the driver would, keeping the effects of each.
type harness struct {
	t   *testing.T
	s   state
	eff effects // accumulated since the last takeEffects
}

func newHarness(t *testing.T, res map[string]float64) *harness {
	t.Setenv(EnvMaxStartupConcurrency, "4")
	h := &harness{t: t, s: newState(Config{Resources: res}, ids.NewUniqueID())}
	if h.s.resErr != nil {
		t.Fatal(h.s.resErr)
	}
	h.s.now = time.Unix(1000, 0)
	return h
}

// do delivers one event and collects its effects.
func (h *harness) do(event func(s *state)) {
	event(&h.s)
	e := h.s.takeEffects()
	h.eff.spawnPool = append(h.eff.spawnPool, e.spawnPool...)
	h.eff.spawnActors = append(h.eff.spawnActors, e.spawnActors...)
	h.eff.kill = append(h.eff.kill, e.kill...)
	h.eff.spill = append(h.eff.spill, e.spill...)
	h.eff.restore = append(h.eff.restore, e.restore...)
	h.eff.back = append(h.eff.back, e.back...)
	h.eff.remove = append(h.eff.remove, e.remove...)
	h.eff.timers = append(h.eff.timers, e.timers...)
	h.eff.nodeLists = append(h.eff.nodeLists, e.nodeLists...)
	h.eff.jobsStarted = append(h.eff.jobsStarted, e.jobsStarted...)
	h.eff.jobsEnded = append(h.eff.jobsEnded, e.jobsEnded...)
}

// takeEffects returns the effects since the last call.
func (h *harness) takeEffects() effects {
	e := h.eff
	h.eff = effects{}
	return e
}

// conn is a connected client and what it received.
type conn struct {
	c   *client
	out *recorder
	w   *worker
}

// driver connects a driver.
func (h *harness) driver() *conn {
	out := &recorder{}
	c := &client{id: ids.NewUniqueID(), isDriver: true, out: out, held: map[ids.ObjectID]struct{}{}}
	h.do(func(s *state) { s.connected(c, nil, nil) })
	out.take()
	return &conn{c: c, out: out}
}

// worker spawns and connects a pool worker (for actor a when not nil).
func (h *harness) worker(a *actor) *conn {
	return h.jobWorker(h.s.defaultJob, a)
}

// jobWorker spawns and connects a worker of job j (for actor a when not nil).
func (h *harness) jobWorker(j *job, a *actor) *conn {
	w := &worker{id: ids.NewUniqueID(), pid: 100 + len(h.s.workers), job: j}
	if a == nil {
		h.s.starting++ // (an actor's spawn was counted when the node asked for it)
		j.starting++
	}
	h.do(func(s *state) { s.workerSpawned(w, a) })
	out := &recorder{}
	c := &client{id: w.id, out: out, held: map[ids.ObjectID]struct{}{}}
	h.do(func(s *state) { s.connected(c, w, nil) })
	return &conn{c: c, out: out, w: w}
}

// send delivers messages from a client.
func (h *harness) send(from *conn, msgs ...*pb.ClientMessage) {
	h.do(func(s *state) { s.handle(from.c, msgs) })
}

// submit submits a task of function fn with resources res and max retries, and subscribes to
// its result; it returns the result's id.
func (h *harness) submit(from *conn, fn string, res map[string]float64, retries int32) ids.ObjectID {
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	h.send(from,
		&pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: fn, Resources: res, MaxRetries: retries}}},
		&pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{ret[:]}}}})
	return ret
}

// done reports that w finished the task with return id ret, with value v.
func (h *harness) done(w *conn, ret ids.ObjectID, v string) {
	h.send(w, &pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{ReturnId: ret[:], Result: &pb.Object{Data: []byte(v)}}}})
}

// executed lists the functions of the Execute messages among msgs.
func executed(msgs []*pb.ServerMessage) []string {
	var out []string
	for _, m := range msgs {
		if e := m.GetExecute(); e != nil {
			out = append(out, e.Spec.FunctionName)
		}
	}
	return out
}

// toldUnknown tells whether msgs say that object id is unknown.
func toldUnknown(msgs []*pb.ServerMessage, id ids.ObjectID) bool {
	for _, m := range msgs {
		if o := m.GetObject(); o != nil && string(o.ObjectId) == string(id[:]) && o.Unknown {
			return true
		}
	}
	return false
}

// objects maps the ids of the objects among msgs to their kinds and data.
func objects(msgs []*pb.ServerMessage) map[ids.ObjectID]string {
	out := map[ids.ObjectID]string{}
	for _, m := range msgs {
		if o := m.GetObject(); o != nil {
			id, _ := ids.ObjectIDFromBytes(o.ObjectId)
			out[id] = fmt.Sprintf("%d:%s", o.Object.GetKind(), o.Object.GetData())
		}
	}
	return out
}

func count(msgs []*pb.ServerMessage, what func(*pb.ServerMessage) bool) int {
	n := 0
	for _, m := range msgs {
		if what(m) {
			n++
		}
	}
	return n
}

// Dispatch, pipelining depth and starts: where submitted tasks go, by the node's CPUs, its
// connected workers and the tasks' shapes.
func TestStateDispatch(t *testing.T) {
	cases := []struct {
		name       string
		cpus       float64
		workers    int
		tasks      int
		res        map[string]float64
		running    int // tasks sent to a worker with nothing before them
		queued     int // tasks sent behind a running one (pipelined)
		ready      int // tasks left in the node's queue
		spawn      int // pool processes asked for
		infeasible bool
	}{
		{name: "one task, one worker", cpus: 1, workers: 1, tasks: 1, running: 1},
		{name: "two CPUs run two", cpus: 2, workers: 2, tasks: 2, running: 2},
		{name: "more tasks than workers queue on them", cpus: 2, workers: 2, tasks: 5, running: 2, queued: 3},
		{name: "pipelining stops at its depth", cpus: 1, workers: 1, tasks: 70, running: 1, queued: pipelineDepth, ready: 70 - 1 - pipelineDepth},
		{name: "no worker yet: start one, queue nothing", cpus: 1, workers: 0, tasks: 3, ready: 3, spawn: 1},
		{name: "a pool below its size starts what runs", cpus: 4, workers: 1, tasks: 4, running: 1, ready: 3, spawn: 3},
		{name: "half-CPU tasks run two per CPU", cpus: 1, workers: 1, tasks: 2, res: map[string]float64{"CPU": 0.5}, running: 1, queued: 1},
		{name: "a resource the node lacks is infeasible", cpus: 1, workers: 1, tasks: 2, res: map[string]float64{"GPU": 1}, ready: 2, infeasible: true},
		{name: "more CPUs than the node has is infeasible", cpus: 2, workers: 2, tasks: 1, res: map[string]float64{"CPU": 3}, ready: 1, infeasible: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": c.cpus})
			h.s.defaultJob.prestart = 0
			var ws []*conn
			for i := 0; i < c.workers; i++ {
				ws = append(ws, h.worker(nil))
			}
			h.takeEffects()
			d := h.driver()
			for i := 0; i < c.tasks; i++ {
				h.submit(d, fmt.Sprintf("F%d", i), c.res, 0)
			}
			running, queued := 0, 0
			for _, w := range ws {
				n := len(executed(w.out.take()))
				if n > 0 {
					running++
					queued += n - 1
				}
			}
			e := h.takeEffects()
			got := fmt.Sprintf("running %d queued %d ready %d spawn %d", running, queued, h.s.ready.len(), len(e.spawnPool))
			want := fmt.Sprintf("running %d queued %d ready %d spawn %d", c.running, c.queued, c.ready, c.spawn)
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			infeasible := false
			for _, cl := range h.s.ready.order {
				infeasible = infeasible || cl.infeasible
			}
			if infeasible != c.infeasible {
				t.Errorf("infeasible %v, want %v", infeasible, c.infeasible)
			}
		})
	}
}

// A task's result goes to the subscribed driver, the worker moves on to its queued task (which
// takes the resources the finished one gave back), and an idle worker with nothing to do asks the
// busiest worker for its queued tasks, which then run on it.
func TestStateDoneQueuedAndReclaim(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 2})
	h.s.defaultJob.prestart = 0
	w1, w2 := h.worker(nil), h.worker(nil)
	d := h.driver()
	var rets []ids.ObjectID
	for i := 0; i < 6; i++ {
		rets = append(rets, h.submit(d, fmt.Sprintf("F%d", i), nil, 0))
	}
	// w1: F0 running, F2 F4 queued; w2: F1 running, F3 F5 queued.
	if got := strings.Join(executed(w1.out.take()), " ") + " | " + strings.Join(executed(w2.out.take()), " "); got != "F0 F2 F4 | F1 F3 F5" {
		t.Fatalf("dispatch %q", got)
	}
	h.done(w2, rets[1], "one")
	h.done(w2, rets[3], "three")
	h.done(w2, rets[5], "five")
	if got := objects(d.out.take()); got[rets[1]] != "0:one" || got[rets[5]] != "0:five" || len(got) != 3 {
		t.Fatalf("the driver got %v", got)
	}
	// w2 is idle with nothing ready: the busiest worker, w1, is asked to hand back its queue.
	if n := count(w1.out.take(), func(m *pb.ServerMessage) bool { return m.GetReclaim() != nil }); n != 1 {
		t.Fatalf("%d reclaims sent to the busy worker, want 1", n)
	}
	h.send(w1, &pb.ClientMessage{Body: &pb.ClientMessage_ReturnTasks{ReturnTasks: &pb.ReturnTasks{ReturnIds: [][]byte{rets[2][:], rets[4][:]}}}})
	// F2 runs on the idle worker; F4 queues behind a running task again.
	onW2, onW1 := executed(w2.out.take()), executed(w1.out.take())
	if len(onW2) == 0 || onW2[0] != "F2" || len(onW1)+len(onW2) != 2 {
		t.Fatalf("after the hand-back the idle worker got %v and the busy one %v; want F2 first on the idle one, F4 on either", onW2, onW1)
	}
	if s := h.s.ledger.Available().Get("CPU").Float(); s != 0 {
		t.Fatalf("available CPU %v with both workers busy", s)
	}
}

// A worker blocked in Get lends its CPU: a task waiting for one runs on another worker (the pool
// may grow by one), and the blocked worker takes its CPU back when it runs again.
func TestStateBlockedWorkerLendsItsCPU(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	w1 := h.worker(nil)
	d := h.driver()
	h.submit(d, "Outer", nil, 0)
	h.submit(d, "Inner", nil, 0)
	if got := executed(w1.out.take()); len(got) != 2 {
		t.Fatalf("w1 got %v (Outer running, Inner queued)", got)
	}
	h.takeEffects()
	inner := h.s.workers[w1.w.id].queued[0].returnID
	h.send(w1, &pb.ClientMessage{Body: &pb.ClientMessage_Blocked{Blocked: &pb.WorkerBlocked{Blocked: true}}})
	h.send(w1, &pb.ClientMessage{Body: &pb.ClientMessage_ReturnTasks{ReturnTasks: &pb.ReturnTasks{ReturnIds: [][]byte{inner[:]}}}})
	if e := h.takeEffects(); len(e.spawnPool) != 1 {
		t.Fatalf("blocked worker: %d processes asked for, want 1 (the pool grows by the blocked one)", len(e.spawnPool))
	}
	w2 := h.worker(nil)
	if got := strings.Join(executed(w2.out.take()), " "); got != "Inner" {
		t.Fatalf("the new worker got %q, want Inner", got)
	}
	h.send(w1, &pb.ClientMessage{Body: &pb.ClientMessage_Blocked{Blocked: &pb.WorkerBlocked{Blocked: false}}})
	if got := h.s.ledger.Utilization(); got != 2 {
		t.Fatalf("utilisation %v with both running on one CPU, want 2 (over-committed)", got)
	}
}

// A worker that dies running its task alone: the task is retried while it has retries (first in
// line), or fails with the worker's death. One that dies with a task queued behind the running one
// may have finished its task and died in the next (the result dies unsent with it): neither uses a
// retry, both go back (first in line) to run alone, and a death there is charged as usual.
func TestStateWorkerDeathMidTask(t *testing.T) {
	cases := []struct {
		name    string
		retries int32
		queued  bool // B is queued behind A when the worker dies
		want    string
	}{
		{"alone, no retries", 0, false, "A fails"},
		{"alone, two retries", 2, false, "A retried, 1 left"},
		{"a task queued behind, no retries", 0, true, "both again alone, no retry used"},
		{"a task queued behind, two retries", 2, true, "both again alone, no retry used"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 1})
			h.s.defaultJob.prestart = 0
			w := h.worker(nil)
			d := h.driver()
			a := h.submit(d, "A", nil, tc.retries)
			var b ids.ObjectID
			if tc.queued {
				b = h.submit(d, "B", nil, 0)
			}
			if got := strings.Join(executed(w.out.take()), " "); (got == "A B") != tc.queued {
				t.Fatalf("the worker got %q", got)
			}
			h.do(func(s *state) { s.workerEnded(w.w, exit{status: "was killed by signal 9 (SIGKILL)"}) })
			got := objects(d.out.take())
			ta, tb := h.s.pending[a], h.s.pending[b]
			var res string
			switch {
			case ta == nil && strings.HasPrefix(got[a], fmt.Sprint(objstore.KindWorkerDied)) && strings.Contains(got[a], "SIGKILL"):
				res = "A fails"
			case ta != nil && !tc.queued && !ta.runAlone:
				res = fmt.Sprintf("A retried, %d left", ta.retriesLeft)
			case ta != nil && tb != nil && ta.runAlone && tb.runAlone && ta.retriesLeft == int(tc.retries) && tb.retriesLeft == 0:
				res = "both again alone, no retry used"
			default:
				res = fmt.Sprintf("A pending %v (%q), B pending %v", ta != nil, got[a], tb != nil)
			}
			if res != tc.want {
				t.Fatalf("got %s, want %s", res, tc.want)
			}
			if !tc.queued {
				return
			}
			// A new worker takes A alone (B is not queued behind it); A dying there is its own.
			w2 := h.worker(nil)
			if got := strings.Join(executed(w2.out.take()), " "); got != "A" {
				t.Fatalf("the next worker got %q, want A alone", got)
			}
			h.do(func(s *state) { s.workerEnded(w2.w, exit{status: "was killed by signal 9 (SIGKILL)"}) })
			ta = h.s.pending[a]
			if tc.retries == 0 && ta != nil || tc.retries > 0 && (ta == nil || ta.retriesLeft != int(tc.retries)-1) {
				t.Errorf("after A died alone: pending %v, want it charged (retries %d)", ta != nil, tc.retries)
			}
		})
	}
}

// createActor asks the node for an actor of class cls needing res, with max restarts.
func (h *harness) createActor(from *conn, cls string, res map[string]float64, restarts int32) ids.ActorID {
	id := ids.NewUniqueID()
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	h.send(from, &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: &pb.CreateActor{
		RequestId: 1, ActorId: id[:], ClassName: cls, MaxRestarts: restarts,
		Creation: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: cls + "::Make", Resources: res, TaskType: 1},
	}}})
	return id
}

// Actors wait for resources in the order they were created, restart within max_restarts when
// their process dies, and then die for good.
func TestStateActorStartOrderAndRestart(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	var order []ids.ActorID
	for i := 0; i < 4; i++ {
		order = append(order, h.createActor(d, fmt.Sprintf("A%d", i), map[string]float64{"CPU": 1}, 1))
	}
	started := func() string {
		var names []string
		for _, a := range h.takeEffects().spawnActors {
			names = append(names, a.className)
		}
		return strings.Join(names, " ")
	}
	if got := started(); got != "A0" {
		t.Fatalf("started %q, want A0 (one CPU)", got)
	}
	for i := 1; i < 4; i++ {
		// The running actor's process starts; the actor is killed for good and its process ends:
		// the next in creation order starts.
		prev := h.s.actors[order[i-1]]
		w := h.worker(prev)
		h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: order[i-1][:], NoRestart: true}}})
		e := h.takeEffects()
		if len(e.kill) != 1 || e.kill[0] != w.w {
			t.Fatalf("killing A%d: %d kills", i-1, len(e.kill))
		}
		if len(e.spawnActors) != 1 || e.spawnActors[0].className != fmt.Sprintf("A%d", i) {
			t.Fatalf("after killing A%d, %d actors started, want A%d", i-1, len(e.spawnActors), i)
		}
		h.do(func(s *state) { s.workerEnded(w.w, exit{status: "was killed by signal 9 (SIGKILL)"}) })
		if got := started(); got != "" {
			t.Fatalf("the end of A%d's process started %q", i-1, got)
		}
	}
	// The last actor's process starts and dies: it restarts once, then is dead.
	a := h.s.actors[order[3]]
	for round := 0; round < 2; round++ {
		w := h.worker(a)
		if got := executed(w.out.take()); len(got) != 1 || got[0] != "A3::Make" {
			t.Fatalf("round %d: the actor's process got %v, want its factory call", round, got)
		}
		h.do(func(s *state) { s.workerEnded(w.w, exit{status: "exited with status 1"}) })
		if round == 0 && started() != "A3" {
			t.Fatal("the actor did not restart after its first death")
		}
	}
	if a.state != actorDead || started() != "" || h.s.ledger.Available().Get("CPU").Float() != 1 {
		t.Fatalf("after a second death with max_restarts 1: state %d, CPU %v free", a.state, h.s.ledger.Available().Get("CPU").Float())
	}
}

// Spill victims: sealed objects no reader or task pins, oldest first, until the request would
// fit (and at least one); objects being written, pinned, freed or on disk already are skipped.
func TestStateSpillVictims(t *testing.T) {
	type obj struct {
		size   int64
		sealed bool
		pins   int
		onDisk bool
	}
	const unit = 1 << 20
	cases := []struct {
		name    string
		objs    []obj // in age order: seq 1, 2, ...
		request int64
		want    string // indexes chosen, in order
	}{
		{"oldest first until it fits", []obj{{2, true, 0, false}, {2, true, 0, false}, {2, true, 0, false}}, 5, "0 1"},
		{"one is enough", []obj{{4, true, 0, false}, {2, true, 0, false}}, 2, "0"},
		{"pinned ones stay", []obj{{2, true, 1, false}, {2, true, 0, false}, {2, true, 0, false}}, 2, "1"},
		{"unsealed ones stay", []obj{{2, false, 0, false}, {2, true, 0, false}}, 2, "1"},
		{"spilled ones are not spilled again", []obj{{2, true, 0, true}, {2, true, 0, false}}, 2, "1"},
		{"nothing to spill", []obj{{4, true, 1, false}, {4, false, 0, false}}, 2, ""},
		{"at least one even when the space is free but fragmented", []obj{{1, true, 0, false}}, 0, "0"},
	}
	for _, c := range cases {
		h := newHarness(t, map[string]float64{"CPU": 1})
		h.s.alloc = shm.NewAllocator(8 * unit)
		byID := map[ids.ObjectID]int{}
		for i, o := range c.objs {
			id := ids.NewTaskID().ReturnID(1)
			off, ok := h.s.alloc.Alloc(o.size * unit)
			if !ok {
				t.Fatalf("%s: the test's objects do not fit", c.name)
			}
			so := &shmObject{off: off, size: o.size * unit, sealed: o.sealed, pins: o.pins, seq: uint64(i + 1)}
			if o.onDisk {
				so.spillPath = "spilled"
				_ = h.s.alloc.Free(off, so.size)
			}
			h.s.shmObjs[id] = so
			byID[id] = i
		}
		var got []string
		for _, j := range h.s.chooseVictims(c.request * unit) {
			got = append(got, fmt.Sprint(byID[j.id]))
			if !j.so.spilling || j.off != j.so.off || j.size != j.so.size {
				t.Errorf("%s: victim %d not marked spilling with its range", c.name, byID[j.id])
			}
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("%s: chose %q, want %q", c.name, s, c.want)
		}
	}
}

// Object creation that does not fit waits while nothing can be spilled, and fails with
// ObjectStoreFullError once the grace period passed without progress; a request that fits is
// answered once its range is backed.
func TestStateCreateWaitsThenFails(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.alloc = shm.NewAllocator(8 << 20)
	d := h.driver()
	create := func(req uint64, size int64) ids.ObjectID {
		id := ids.NewTaskID().ReturnID(1)
		h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_CreateObject{CreateObject: &pb.CreateObject{RequestId: req, ObjectId: id[:], Size: size}}})
		return id
	}
	create(1, 6<<20)
	e := h.takeEffects()
	if len(e.back) != 1 {
		t.Fatalf("a create that fits: %d ranges to back, want 1", len(e.back))
	}
	h.do(func(s *state) { s.rangeBacked(e.back[0]) })
	if r := d.out.take(); len(r) != 1 || r[0].GetReply().GetError() != "" {
		t.Fatalf("the first create was answered %v", r)
	}
	// The first object is still being written (unsealed): nothing can make room for a second.
	create(2, 4<<20)
	e = h.takeEffects()
	if len(e.timers) != 1 || len(d.out.take()) != 0 || len(e.spill) != 0 {
		t.Fatalf("a create that cannot fit: %d timers, %d spills; want it to wait with a timer", len(e.timers), len(e.spill))
	}
	h.s.now = h.s.now.Add(h.s.creates.grace)
	h.do(e.timers[0].fire)
	r := d.out.take()
	if len(r) != 1 || !r[0].GetReply().GetStoreFull() || !strings.Contains(r[0].GetReply().GetError(), "without progress") {
		t.Fatalf("after the grace period the create got %v, want ObjectStoreFullError", r)
	}
	if len(h.s.creates.waiting) != 0 {
		t.Fatal("the failed request still waits")
	}
}
