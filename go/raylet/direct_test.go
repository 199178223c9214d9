package raylet

// Tests of the node's side of direct actor calls (state alone, as in state_test.go): where an
// actor takes calls (WaitActor), objects a client promised to put (ExpectObjects), Barrier,
// results sealed for another holder, and actor calls the node refuses.

import (
	"fmt"
	"strings"
	"testing"

	"goray/actorrule"
	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/shm"
)

// replies maps the request ids of the replies among msgs to the replies.
func replies(msgs []*pb.ServerMessage) map[uint64]*pb.Reply {
	out := map[uint64]*pb.Reply{}
	for _, m := range msgs {
		if r := m.GetReply(); r != nil {
			out[r.RequestId] = r
		}
	}
	return out
}

// waitActor sends a WaitActor for actor id.
func (h *harness) waitActor(from *conn, id ids.ActorID, req uint64, after int32) {
	h.send(from, &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: req, ActorId: id[:], AfterIncarnation: after}}})
}

// startActor connects a process for actor a and has its factory succeed, with the process
// taking calls at addr; it returns the process.
func (h *harness) startActor(a *actor, addr string) *conn {
	h.t.Helper()
	w := h.worker(a)
	if got := executed(w.out.take()); len(got) != 1 || !strings.HasSuffix(got[0], "::Make") {
		h.t.Fatalf("%s's process got %v, want its factory call", a, got)
	}
	h.created(w, a, addr)
	return w
}

// created reports the factory of a done on its process w, taking calls at addr.
func (h *harness) created(w *conn, a *actor, addr string) {
	ret := a.creation.returnID
	h.send(w, &pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{ReturnId: ret[:], Result: &pb.Object{}, ActorAddress: addr}}})
}

// aliveActor makes a node with one CPU and a driver that created actor "A" (maxRestarts), alive
// in its first process (taking calls at /tmp/a0.sock); the driver's messages so far are taken.
func aliveActor(t *testing.T, maxRestarts int32) (h *harness, d *conn, id ids.ActorID, a *actor, w *conn) {
	h = newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d = h.driver()
	id = h.createActor(d, "A", nil, maxRestarts)
	a = h.s.actors[id]
	w = h.startActor(a, "/tmp/a0.sock")
	d.out.take()
	return h, d, id, a, w
}

// describe renders a WaitActor reply for comparisons.
func describe(r *pb.Reply) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("found=%v addr=%q inc=%d dead=%v cause=%q lost=%q err=%q", r.Found, r.ActorAddress, r.Incarnation, r.ActorDead, r.Cause, r.LostCause, r.Error)
}

// A WaitActor for an actor that is not alive yet waits; the actor's coming alive answers it with
// the address its process reported and incarnation 0. Later requests are answered at once when
// they name an earlier incarnation, and wait when they name the current one.
func TestStateWaitActorParkedUntilAlive(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	id := h.createActor(d, "A", nil, 0)
	d.out.take()
	a := h.s.actors[id]
	h.waitActor(d, id, 10, -1)
	if r := replies(d.out.take()); len(r) != 0 || len(a.waiters) != 1 || d.c.waits[a] != 1 {
		t.Fatalf("a wait for an actor still starting: replies %v, %d waiters; want it parked", r, len(a.waiters))
	}
	h.startActor(a, "/tmp/a.sock")
	r := replies(d.out.take())
	if got, want := describe(r[10]), `found=true addr="/tmp/a.sock" inc=0 dead=false cause="" lost="" err=""`; got != want {
		t.Fatalf("when the actor came alive the wait got %s, want %s", got, want)
	}
	if len(a.waiters) != 0 || len(d.c.waits) != 0 {
		t.Fatalf("answered waiters are kept: %d on the actor, %d on the client", len(a.waiters), len(d.c.waits))
	}
	for _, c := range []struct {
		after int32
		want  string
	}{
		{-1, `found=true addr="/tmp/a.sock" inc=0 dead=false cause="" lost="" err=""`},
		{0, "none"}, // waits for the next incarnation
	} {
		h.waitActor(d, id, 11, c.after)
		if got := describe(replies(d.out.take())[11]); got != c.want {
			t.Errorf("after %d: got %s, want %s", c.after, got, c.want)
		}
	}
}

// When an incarnation ends and the actor restarts, a wait naming the old incarnation is answered
// with the new one, its address, and the cause the old one ended with (which the calls that ran
// in it fail with).
func TestStateWaitActorAfterRestart(t *testing.T) {
	cases := []struct {
		name string
		lose func(h *harness, d, w *conn, id ids.ActorID)
		lost string // in the lost cause
	}{
		{"its process died", func(h *harness, d, w *conn, id ids.ActorID) {
			h.do(func(s *state) { s.workerEnded(w.w, exit{status: "exited with status 3", excerpt: "boom"}) })
		}, "The actor died unexpectedly: its process " + "worker"},
		{"Kill(no_restart=false)", func(h *harness, d, w *conn, id ids.ActorID) {
			h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{RequestId: 2, ActorId: id[:]}}})
			h.do(func(s *state) { s.workerEnded(w.w, exit{status: "was killed by signal 9 (SIGKILL)"}) })
		}, actorrule.CauseKilledRestart},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, d, id, a, w := aliveActor(t, 1)
			h.takeEffects()
			h.waitActor(d, id, 20, 0)
			// A caller with calls in flight asks how incarnation 0 ended (ended_only): parked
			// while it lives, answered as soon as it is lost, before the restart is alive.
			h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: 30, ActorId: id[:], AfterIncarnation: 0, EndedOnly: true}}})
			if r := replies(d.out.take()); r[30] != nil {
				t.Fatalf("ended_only answered while incarnation 0 lives: %s", describe(r[30]))
			}
			c.lose(h, d, w, id)
			r := replies(d.out.take())
			if r[20] != nil {
				t.Fatalf("answered while the actor restarts: %s", describe(r[20]))
			}
			if e := r[30]; e == nil || e.ActorDead || e.ActorAddress != "" || !strings.Contains(e.LostCause, c.lost) {
				t.Fatalf("ended_only after the loss got %s; want the lost cause with %q and no address", describe(e), c.lost)
			}
			if e := h.takeEffects(); len(e.spawnActors) != 1 {
				t.Fatalf("%d actor processes started after the loss, want 1", len(e.spawnActors))
			}
			h.startActor(a, "/tmp/a1.sock")
			after := replies(d.out.take())
			if after[30] != nil {
				t.Fatalf("ended_only answered twice")
			}
			r20 := after[20]
			if r20 == nil || r20.ActorAddress != "/tmp/a1.sock" || r20.Incarnation != 1 || r20.ActorDead || !strings.Contains(r20.LostCause, c.lost) {
				t.Fatalf("after the restart the wait got %s; want incarnation 1 at /tmp/a1.sock, lost cause with %q", describe(r20), c.lost)
			}
			// The same question asked now is answered at once, alike; a caller that never reached
			// an incarnation lost nothing.
			h.waitActor(d, id, 21, 0)
			h.waitActor(d, id, 22, -1)
			rs := replies(d.out.take())
			if describe(rs[21]) != describe(&pb.Reply{Found: true, ActorAddress: "/tmp/a1.sock", Incarnation: 1, LostCause: r20.LostCause}) || rs[22].GetLostCause() != "" || rs[22].GetIncarnation() != 1 {
				t.Fatalf("asked after the restart: %s / %s", describe(rs[21]), describe(rs[22]))
			}
		})
	}
}

// Answers for actors that are dead or that the node never had, at once, and for waiters parked
// when the actor dies. W in a wanted answer stands for the actor's last process.
func TestStateWaitActorDead(t *testing.T) {
	alive := func(h *harness, d *conn, restarts int32) ids.ActorID {
		id := h.createActor(d, "A", nil, restarts)
		h.startActor(h.s.actors[id], "/tmp/a.sock")
		return id
	}
	killForGood := func(h *harness, d *conn, id ids.ActorID) {
		h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: id[:], NoRestart: true}}})
	}
	cases := []struct {
		name string
		// prepare makes the actor (nil: none); kill, if set, ends it after the wait was sent
		// (waitFirst) or before.
		prepare   func(h *harness, d *conn) ids.ActorID
		kill      func(h *harness, d *conn, id ids.ActorID)
		waitFirst bool
		rawID     []byte // sent instead of the actor's id
		after     int32
		want      string
		kills     int // processes the node kills
	}{
		{name: "unknown actor", after: -1,
			want: fmt.Sprintf(`found=false addr="" inc=0 dead=true cause="No actor %%x exists on this node (the node remembers the last %d dead actors)" lost="" err=""`, maxDeadActors)},
		{name: "bad actor id", rawID: []byte("short"), after: -1,
			want: `found=false addr="" inc=0 dead=false cause="" lost="" err="wait actor: id has 5 bytes, want 16"`},
		{name: "killed for good while alive, asked after its incarnation", after: 0,
			prepare: func(h *harness, d *conn) ids.ActorID { return alive(h, d, 3) }, kill: killForGood,
			want:  fmt.Sprintf(`found=true addr="" inc=0 dead=true cause=%q lost=%q err=""`, actorrule.CauseKilled, actorrule.CauseKilled),
			kills: 1},
		{name: "killed for good while alive, asked before any incarnation", after: -1,
			prepare: func(h *harness, d *conn) ids.ActorID { return alive(h, d, 3) }, kill: killForGood,
			want:  fmt.Sprintf(`found=true addr="" inc=0 dead=true cause=%q lost="" err=""`, actorrule.CauseKilled),
			kills: 1},
		{name: "a waiter is answered when a pending actor is killed", waitFirst: true, after: -1,
			prepare: func(h *harness, d *conn) ids.ActorID {
				return h.createActor(d, "A", map[string]float64{"GPU": 1}, 0) // infeasible: pending
			},
			kill: killForGood,
			want: fmt.Sprintf(`found=true addr="" inc=0 dead=true cause=%q lost="" err=""`, actorrule.CauseKilled)},
		{name: "a waiter is answered when the last incarnation's process dies", waitFirst: true, after: 0,
			prepare: func(h *harness, d *conn) ids.ActorID { return alive(h, d, 0) },
			kill: func(h *harness, d *conn, id ids.ActorID) {
				w := h.s.actors[id].worker
				h.do(func(s *state) { s.workerEnded(w, exit{status: "exited with status 1"}) })
			},
			want: `found=true addr="" inc=0 dead=true ` +
				`cause="The actor was killed and has no restarts left (max_restarts reached). The actor died unexpectedly: its process W exited with status 1. Last lines of its stderr ():\n" ` +
				`lost="The actor died unexpectedly: its process W exited with status 1. Last lines of its stderr ():\n" err=""`},
		{name: "a waiter is answered when the factory fails", waitFirst: true, after: -1,
			prepare: func(h *harness, d *conn) ids.ActorID { return h.createActor(d, "A", nil, 3) },
			kill: func(h *harness, d *conn, id ids.ActorID) {
				a := h.s.actors[id]
				ret := a.creation.returnID
				h.send(h.worker(a), &pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{ReturnId: ret[:], Result: &pb.Object{Kind: objstore.KindTaskError, Data: []byte("bad init")}}}})
			},
			want:  fmt.Sprintf(`found=true addr="" inc=0 dead=true cause=%q lost="" err=""`, actorrule.CreationFailed("bad init")),
			kills: 1},
		{name: "a waiter is answered when the process reports no address", waitFirst: true, after: -1,
			prepare: func(h *harness, d *conn) ids.ActorID { return h.createActor(d, "A", nil, 3) },
			kill: func(h *harness, d *conn, id ids.ActorID) {
				a := h.s.actors[id]
				h.created(h.worker(a), a, "")
			},
			want:  fmt.Sprintf(`found=true addr="" inc=0 dead=true cause=%q lost="" err=""`, noAddress),
			kills: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 1})
			h.s.defaultJob.prestart = 0
			d := h.driver()
			id := ids.NewUniqueID()
			if c.prepare != nil {
				id = c.prepare(h, d)
			}
			wait := func() {
				raw := id[:]
				if c.rawID != nil {
					raw = c.rawID
				}
				h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: 30, ActorId: raw, AfterIncarnation: c.after}}})
			}
			d.out.take()
			if c.waitFirst {
				wait()
				if r := replies(d.out.take())[30]; r != nil {
					t.Fatalf("answered before the actor died: %s", describe(r))
				}
			}
			a := h.s.actors[id]
			var last *worker
			if a != nil {
				last = a.worker
			}
			if c.kill != nil {
				c.kill(h, d, id)
			}
			if a != nil && a.worker != nil {
				last = a.worker
			}
			if !c.waitFirst {
				wait()
			}
			got := describe(replies(d.out.take())[30])
			if last != nil {
				got = strings.ReplaceAll(got, last.String(), "W")
			}
			if want := strings.Replace(c.want, "%x", fmt.Sprintf("%x", id[:]), 1); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			if n := len(h.takeEffects().kill); n != c.kills {
				t.Errorf("%d processes killed, want %d", n, c.kills)
			}
			if a != nil && (a.state != actorDead || a.waiters != nil || len(d.c.waits) != 0) {
				t.Errorf("the actor is not dead (%d), or keeps %d waiters (the client %d)", a.state, len(a.waiters), len(d.c.waits))
			}
		})
	}
}

// A parked wait of a client that went away is dropped: the actor's death answers only the
// clients still connected.
func TestStateWaitActorClientGone(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d1, d2 := h.driver(), h.driver()
	id := h.createActor(d1, "A", map[string]float64{"GPU": 1}, 0)
	a := h.s.actors[id]
	h.waitActor(d1, id, 1, -1)
	h.waitActor(d2, id, 2, -1)
	h.waitActor(d2, id, 3, 5)
	if len(a.waiters) != 3 || d2.c.waits[a] != 2 {
		t.Fatalf("%d waiters, %d of the second client; want 3, 2", len(a.waiters), d2.c.waits[a])
	}
	h.do(func(s *state) { s.clientGone(d2.c, nil) })
	if len(a.waiters) != 1 || a.waiters[0].c != d1.c {
		t.Fatalf("after the second client went away: %d waiters", len(a.waiters))
	}
	d1.out.take()
	d2.out.take()
	h.send(d1, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: id[:], NoRestart: true}}})
	if r := replies(d1.out.take())[1]; r == nil || !r.ActorDead {
		t.Fatalf("the connected client got %s", describe(r))
	}
	if msgs := d2.out.take(); len(msgs) != 0 {
		t.Fatalf("the client that went away was sent %v", msgs)
	}
}

// An actor remembers why its last maxLostCauses incarnations ended, keyed by incarnation.
func TestStateLostCausesAreBounded(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	id := h.createActor(d, "A", nil, -1)
	a := h.s.actors[id]
	const lives = maxLostCauses + 3
	for i := 0; i < lives; i++ {
		w := h.startActor(a, fmt.Sprintf("/tmp/a%d.sock", i))
		if a.incarnation != int32(i) {
			t.Fatalf("life %d: incarnation %d", i, a.incarnation)
		}
		h.do(func(s *state) { s.workerEnded(w.w, exit{status: fmt.Sprintf("exited with status %d", i)}) })
	}
	if len(a.lostCauses) != maxLostCauses {
		t.Fatalf("%d lost causes kept, want %d", len(a.lostCauses), maxLostCauses)
	}
	for inc := int32(lives - maxLostCauses); inc < lives; inc++ {
		if !strings.Contains(a.lostCauses[inc], fmt.Sprintf("exited with status %d.", inc)) {
			t.Errorf("incarnation %d ended with %q", inc, a.lostCauses[inc])
		}
	}
}

// putID makes a fresh object id.
func putID() ids.ObjectID { return ids.NewPutID() }

func subscribe(id ids.ObjectID) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{id[:]}}}}
}

func put(id ids.ObjectID, v string) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id[:], Object: &pb.Object{Data: []byte(v)}}}}
}

func expect(list ...ids.ObjectID) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_ExpectObjects{ExpectObjects: &pb.ExpectObjects{ObjectIds: ids.ToBytes(list)}}}
}

// Objects a client promised to put: subscribers wait (instead of hearing Unknown) until the put,
// or until the client goes away first, when they get an owner-died error; tasks taking one as an
// argument wait likewise. The client holds what it promised.
func TestStateExpectObjects(t *testing.T) {
	cases := []struct {
		name   string
		end    func(h *harness, owner *conn, id ids.ObjectID)
		want   string // what the subscriber gets: kind:data (data up to its first 20 bytes)
		stored bool   // the object stays (its owner holds it)
	}{
		{"put", func(h *harness, owner *conn, id ids.ObjectID) { h.send(owner, put(id, "v")) }, "0:v", true},
		{"the owner goes away", func(h *harness, owner *conn, id ids.ObjectID) {
			h.do(func(s *state) { s.clientGone(owner.c, nil) })
		}, fmt.Sprintf("%d:Object ", objstore.KindOwnerDied), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 1})
			h.s.defaultJob.prestart = 0
			owner, reader := h.driver(), h.driver()
			id, other := putID(), putID()
			h.send(owner, expect(id))
			if h.s.expected[id] != owner.c || len(h.s.refs[id].holders) != 1 {
				t.Fatalf("the promise is not recorded or the owner does not hold the object")
			}
			h.send(reader, subscribe(id), subscribe(other))
			msgs := reader.out.take()
			if toldUnknown(msgs, id) || !toldUnknown(msgs, other) || len(h.s.subscribers[id]) != 1 {
				t.Fatalf("a subscribe to a promised object was answered (or one to an unknown object was not): %v", msgs)
			}
			// A task taking it as an argument waits for it too.
			tid := ids.NewTaskID()
			ret := tid.ReturnID(1)
			h.send(reader, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: "F",
				Args: []*pb.TaskArg{{IsRef: true, ObjectId: id[:]}}}}}, subscribe(ret))
			if tk := h.s.pending[ret]; tk == nil || tk.missing != 1 {
				t.Fatalf("a task taking a promised object did not wait for it: %v", objects(reader.out.take()))
			}
			c.end(h, owner, id)
			got := objects(reader.out.take())
			if g := got[id]; !strings.HasPrefix(g, c.want) {
				t.Fatalf("the subscriber got %q, want %q...", g, c.want)
			}
			if c.want != "0:v" {
				if !strings.Contains(got[id], "went away first") {
					t.Errorf("the error does not say the owner went away: %q", got[id])
				}
				if !strings.HasPrefix(got[ret], fmt.Sprintf("%d:", objstore.KindOwnerDied)) {
					t.Errorf("the task taking it ended with %q, want the owner-died error", got[ret])
				}
			} else if tk := h.s.pending[ret]; tk == nil || tk.missing != 0 || h.s.ready.len() != 1 {
				t.Errorf("after the put the task does not wait for a worker")
			}
			if _, stored := h.s.store.Get(id); stored != c.stored || len(h.s.expected) != 0 || len(owner.c.expects) != 0 {
				t.Errorf("stored %v (want %v), %d promises left", stored, c.stored, len(h.s.expected))
			}
		})
	}
}

// Promises about objects that exist already are not recorded; bad ids are a bad message.
func TestStateExpectObjectsOddCases(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	d := h.driver()
	stored := putID()
	h.send(d, put(stored, "v"), expect(stored))
	if len(h.s.expected) != 0 {
		t.Fatal("a promise to put a stored object was recorded")
	}
	bad := &pb.ClientMessage{Body: &pb.ClientMessage_ExpectObjects{ExpectObjects: &pb.ExpectObjects{ObjectIds: [][]byte{[]byte("short")}}}}
	if err := h.s.handleOne(d.c, bad); err == nil {
		t.Fatal("ExpectObjects with a bad id was accepted")
	}
	// The client goes away with the stored object held: no error replaces it.
	h.do(func(s *state) { s.clientGone(d.c, nil) })
	if _, ok := h.s.store.Get(stored); ok {
		t.Fatal("the object outlived its only holder")
	}
}

// A Barrier is answered at once, after everything the client sent before it.
func TestStateBarrier(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	d := h.driver()
	id := putID()
	h.send(d, put(id, "v"), subscribe(id), &pb.ClientMessage{Body: &pb.ClientMessage_Barrier{Barrier: &pb.Barrier{RequestId: 7}}})
	msgs := d.out.take()
	if len(msgs) != 2 || msgs[0].GetObject() == nil || msgs[1].GetReply() == nil {
		t.Fatalf("got %v, want the object then the barrier's reply", msgs)
	}
	if r := msgs[1].GetReply(); r.RequestId != 7 || r.Error != "" {
		t.Fatalf("barrier reply %v", r)
	}
}

// An object sealed for a holder (an actor call's large result, sealed by the actor's process for
// its caller): the holder holds it and may read it (pinned) until it releases it; the sealer
// does not hold it. Sealed for a client that is not connected, it is freed at once.
func TestStateSealForHolder(t *testing.T) {
	cases := []struct {
		name    string
		holder  func(sealer, caller *conn) []byte
		held    string // who holds it: "caller", "sealer" or "" (freed)
		callers int    // pins the caller has
	}{
		{"for a connected caller", func(_, caller *conn) []byte { return caller.c.id[:] }, "caller", 1},
		{"for a client that is not connected", func(_, _ *conn) []byte { id := ids.NewUniqueID(); return id[:] }, "", 0},
		{"for nobody else (as before)", func(_, _ *conn) []byte { return nil }, "sealer", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 1})
			h.s.alloc = shm.NewAllocator(8 << 20)
			sealer, caller := h.driver(), h.driver()
			id := putID()
			h.send(sealer, &pb.ClientMessage{Body: &pb.ClientMessage_CreateObject{CreateObject: &pb.CreateObject{RequestId: 1, ObjectId: id[:], Size: 1 << 20}}})
			e := h.takeEffects()
			if len(e.back) != 1 {
				t.Fatalf("%d ranges to back", len(e.back))
			}
			h.do(func(s *state) { s.rangeBacked(e.back[0]) })
			sealer.out.take()
			h.send(sealer, &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: &pb.SealObject{ObjectId: id[:], HolderId: c.holder(sealer, caller), RequestId: 5}}})
			if r := replies(sealer.out.take())[5]; r == nil || r.Error != "" {
				t.Fatalf("the seal was answered %v", r)
			}
			holders := map[string]bool{}
			if e := h.s.refs[id]; e != nil {
				for cl := range e.holders {
					holders[map[*client]string{sealer.c: "sealer", caller.c: "caller"}[cl]] = true
				}
			}
			_, stored := h.s.store.Get(id)
			if c.held == "" {
				if stored || len(holders) != 0 || h.s.shmObjs[id] != nil || h.s.alloc.Used() != 0 {
					t.Fatalf("an object nobody holds: stored %v, holders %v, range kept %v", stored, holders, h.s.shmObjs[id] != nil)
				}
				return
			}
			if !stored || len(holders) != 1 || !holders[c.held] {
				t.Fatalf("stored %v, held by %v; want held by the %s", stored, holders, c.held)
			}
			so := h.s.shmObjs[id]
			if so.pins != c.callers || caller.c.pins[id] != c.callers || sealer.c.pins[id] != 0 {
				t.Fatalf("pins: %d on the object, %d the caller's, %d the sealer's; want %d, %d, 0", so.pins, caller.c.pins[id], sealer.c.pins[id], c.callers, c.callers)
			}
			if len(caller.out.take()) != 0 {
				t.Fatal("the holder was sent a message (it learns of the object from the actor)")
			}
			if c.held == "caller" {
				// It releases its pin and drops its ref: the object and its range go.
				h.send(caller, &pb.ClientMessage{Body: &pb.ClientMessage_ReleaseObjects{ReleaseObjects: &pb.ReleaseObjects{ObjectIds: [][]byte{id[:]}}}},
					&pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Removed: [][]byte{id[:]}}}})
				if _, stored := h.s.store.Get(id); stored || h.s.alloc.Used() != 0 {
					t.Fatal("the object outlived its holder's release")
				}
			}
		})
	}
}

// A seal that fails is answered with its error when it has a request id.
func TestStateSealReplyWithError(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.alloc = shm.NewAllocator(8 << 20)
	d := h.driver()
	id := putID()
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: &pb.SealObject{ObjectId: id[:], RequestId: 9}}})
	if r := replies(d.out.take())[9]; r == nil || !strings.Contains(r.Error, "did not create") {
		t.Fatalf("got %v, want an error reply", r)
	}
}

// An actor call submitted to the node is refused: its result is an error, so nobody waits for it.
func TestStateActorCallSubmitIsRefused(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	actorID := h.createActor(d, "A", nil, 0)
	d.out.take()
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	call := &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: "A::M",
		TaskType: taskActorMethod, ActorId: actorID[:]}}}
	var err error
	h.do(func(s *state) { err = s.handleOne(d.c, call) })
	if err == nil || !strings.Contains(err.Error(), errActorCallToNode) {
		t.Fatalf("handleOne: %v, want the refusal logged", err)
	}
	h.send(d, subscribe(ret))
	want := fmt.Sprintf("%d:%s", objstore.KindTaskError, errActorCallToNode)
	if got := objects(d.out.take())[ret]; got != want {
		t.Fatalf("the call's result is %q, want %q", got, want)
	}
	if len(h.s.pending) != 0 || len(h.takeEffects().spawnActors) != 1 {
		t.Fatal("the call is pending, or the actor's start was disturbed")
	}
}

// UpdateRefs for another holder (refs handed on in a direct call or result): the named client
// holds them, not the sender; nobody when it is not connected; removals that way and bad ids are
// refused without changing anything.
func TestStateRefsForAnotherHolder(t *testing.T) {
	cases := []struct {
		name    string
		holder  func(receiver *conn) []byte
		removed bool
		held    string // "receiver", "" (nobody)
	}{
		{"a connected receiver", func(r *conn) []byte { return r.c.id[:] }, false, "receiver"},
		{"a receiver that went away", func(*conn) []byte { id := ids.NewUniqueID(); return id[:] }, false, ""},
		{"removals for another holder", func(r *conn) []byte { return r.c.id[:] }, true, ""},
		{"a malformed holder id", func(*conn) []byte { return []byte{1, 2, 3} }, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 1})
			sender, receiver := h.driver(), h.driver()
			id := putID()
			m := &pb.UpdateRefs{Added: [][]byte{id[:]}, HolderId: c.holder(receiver)}
			if c.removed {
				m.Removed = [][]byte{id[:]}
			}
			h.send(sender, &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: m}})
			_, senderHolds := sender.c.held[id]
			_, receiverHolds := receiver.c.held[id]
			if senderHolds || receiverHolds != (c.held == "receiver") {
				t.Fatalf("sender holds %v, receiver holds %v; want only %q", senderHolds, receiverHolds, c.held)
			}
		})
	}
}

// The reply to a kill names the incarnation whose process it killed (callers never send it
// another call), and says whether there was one.
func TestStateKillReplyNamesTheIncarnation(t *testing.T) {
	h, d, id, a, w := aliveActor(t, 2)
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{RequestId: 7, ActorId: id[:]}}})
	if r := replies(d.out.take())[7]; r == nil || r.Error != "" || !r.Found || r.Incarnation != 0 {
		t.Fatalf("the kill of incarnation 0 was answered %s", describe(r))
	}
	h.do(func(s *state) { s.workerEnded(w.w, exit{status: "was killed by signal 9 (SIGKILL)"}) })
	h.takeEffects()
	h.startActor(a, "/tmp/a1.sock")
	d.out.take()
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{RequestId: 8, ActorId: id[:], NoRestart: true}}})
	if r := replies(d.out.take())[8]; r == nil || r.Error != "" || !r.Found || r.Incarnation != 1 {
		t.Fatalf("the kill of incarnation 1 was answered %s", describe(r))
	}
}
