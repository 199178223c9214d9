package raylet

import (
	"strings"
	"testing"

	"goray/actorrule"
	"goray/ids"
	pb "goray/rpc/proto"
)

// jobDriver connects a driver that brings job id (worker command "w-<id>").
func (h *harness) jobDriver(id string) *conn {
	h.t.Helper()
	var j *job
	h.do(func(s *state) {
		var err error
		j, err = s.jobOf(&pb.JobConfig{JobId: id, WorkerCommand: []string{"w-" + id}, Namespace: "ns-" + id})
		if err != nil {
			h.t.Fatal(err)
		}
	})
	out := &recorder{}
	c := &client{id: ids.NewUniqueID(), isDriver: true, out: out, job: j, held: map[ids.ObjectID]struct{}{}}
	h.do(func(s *state) { s.connected(c, nil, nil) })
	out.take()
	return &conn{c: c, out: out}
}

// spawned renders the jobs of the pool processes asked for ("node" for the node's own job).
func spawned(e effects) string {
	var names []string
	for _, j := range e.spawnPool {
		if j.id == "" {
			names = append(names, "node")
		} else {
			names = append(names, j.id)
		}
	}
	return strings.Join(names, " ")
}

// A job's driver brings its code: the node prestarts a pool for it, as far as there is room.
func TestJobPrestart(t *testing.T) {
	cases := []struct {
		name     string
		cpus     float64
		nodeIdle int // idle workers of the node's own job
		want     string
	}{
		{name: "empty node: a pool for the job", cpus: 2, want: "J J"},
		{name: "a full pool of other idle workers: nothing to prestart", cpus: 2, nodeIdle: 2, want: ""},
		{name: "room for one", cpus: 2, nodeIdle: 1, want: "J"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": c.cpus})
			h.s.defaultJob.prestart = 0
			for i := 0; i < c.nodeIdle; i++ {
				h.worker(nil)
			}
			h.takeEffects()
			h.jobDriver("J")
			if got := spawned(h.takeEffects()); got != c.want {
				t.Errorf("processes started for %q, want %q", got, c.want)
			}
		})
	}
}

// A worker runs only its own job's tasks: a task of job J waits for a worker of J, and idle
// workers of another job that fill the pool are stopped to make room.
func TestJobTasksRunInTheirJobsWorkers(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	other := h.worker(nil) // the node's own job, idle
	dj := h.jobDriver("J")
	h.takeEffects()
	h.s.jobs["J"].prestart = 0

	h.submit(dj, "F", nil, 0)
	if got := executed(other.out.take()); len(got) != 0 {
		t.Fatalf("a worker of another job got %v", got)
	}
	e := h.takeEffects()
	if len(e.kill) != 1 || e.kill[0] != other.w || h.s.isIdle(other.w) {
		t.Fatalf("the idle worker of the other job is not stopped to make room: kill %v", e.kill)
	}
	if got := spawned(e); got != "" {
		t.Fatalf("started %q before the stopped worker is gone (the pool has one slot)", got)
	}
	h.do(func(s *state) { s.workerEnded(other.w, exit{status: "was killed"}) })
	if got := spawned(h.takeEffects()); got != "J" {
		t.Fatalf("after the stopped worker is gone: started %q, want a worker of J", got)
	}
	wj := h.jobWorker(h.s.jobs["J"], nil)
	if got := executed(wj.out.take()); len(got) != 1 || got[0] != "F" {
		t.Fatalf("J's worker got %v, want F", got)
	}
	// The node's own driver submits: its task does not go to J's busy worker's queue.
	d := h.driver()
	h.submit(d, "G", nil, 0)
	if got := executed(wj.out.take()); len(got) != 0 {
		t.Fatalf("J's worker got %v, a task of another job", got)
	}
	if h.s.ready.len() != 1 {
		t.Fatalf("ready %d, want G waiting for a worker of its job", h.s.ready.len())
	}
}

// When a job's last driver leaves, its idle workers stop and its actors die unless detached;
// a worker that goes idle afterwards stops too. Another job is untouched.
func TestJobEnds(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 8})
	h.s.defaultJob.prestart = 0
	dj := h.jobDriver("J")
	dk := h.jobDriver("K")
	h.takeEffects()
	j, k := h.s.jobs["J"], h.s.jobs["K"]
	j.prestart, k.prestart = 0, 0
	idleJ, busyJ, idleK := h.jobWorker(j, nil), h.jobWorker(j, nil), h.jobWorker(k, nil)
	ret := h.submit(dj, "F", nil, 0)
	if busyJ.w.task == nil && idleJ.w.task == nil {
		t.Fatal("F did not start")
	}
	if busyJ.w.task == nil {
		idleJ, busyJ = busyJ, idleJ
	}
	plain := h.createActor(dj, "Plain", nil, 5)
	detached := ids.NewUniqueID()
	tid := ids.NewTaskID()
	dret := tid.ReturnID(1)
	h.send(dj, &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: &pb.CreateActor{
		RequestId: 2, ActorId: detached[:], ClassName: "Kept", Name: "kept", Namespace: "ns-J", Detached: true,
		Creation: &pb.TaskSpec{TaskId: tid[:], ReturnId: dret[:], FunctionName: "Kept::Make", TaskType: 1},
	}}})
	for _, id := range []ids.ActorID{plain, detached} {
		h.startActor(h.s.actors[id], "/tmp/"+id.Hex()[:8])
	}
	h.takeEffects()

	// A second driver of J comes and goes: the job goes on.
	dj2 := h.jobDriver("J")
	h.do(func(s *state) { s.clientGone(dj2.c, nil) })
	if e := h.takeEffects(); len(e.kill) != 0 || j.ended {
		t.Fatalf("a driver of a job that has another left: kill %v, ended %v", e.kill, j.ended)
	}

	h.do(func(s *state) { s.clientGone(dj.c, nil) })
	e := h.takeEffects()
	killed := map[*worker]bool{}
	for _, w := range e.kill {
		killed[w] = true
	}
	if !j.ended || !killed[idleJ.w] || killed[busyJ.w] || killed[idleK.w] {
		t.Fatalf("job J ended %v; killed idle J %v, busy J %v, idle K %v", j.ended, killed[idleJ.w], killed[busyJ.w], killed[idleK.w])
	}
	if a := h.s.actors[plain]; a.state != actorDead || a.cause != actorrule.CauseOwnerDied || !killed[a.worker] {
		t.Fatalf("the plain actor: state %v cause %q, process killed %v", a.state, a.cause, killed[a.worker])
	}
	if a := h.s.actors[detached]; a.state != actorAlive || killed[a.worker] {
		t.Fatalf("the detached actor: state %v, process killed %v; want alive", a.state, killed[a.worker])
	}
	// The busy worker finishes: it stops instead of waiting idle.
	h.done(busyJ, ret, "done")
	if e := h.takeEffects(); len(e.kill) != 1 || e.kill[0] != busyJ.w {
		t.Fatalf("the busy worker of the ended job, once done: kill %v", e.kill)
	}
	// The detached actor is still found by name from a driver of another job.
	h.send(dk, &pb.ClientMessage{Body: &pb.ClientMessage_GetActor{GetActor: &pb.GetActor{RequestId: 7, Name: "kept", Namespace: "ns-J"}}})
	if r := replies(dk.out.take())[7]; r == nil || !r.Found {
		t.Fatalf("the detached actor by name: %v", r)
	}
}

// What a driver may register with.
func TestJobOf(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	cases := []struct {
		name string
		cfg  *pb.JobConfig
		err  string
	}{
		{name: "no config: the node's job", cfg: nil},
		{name: "a new job", cfg: &pb.JobConfig{JobId: "01000000", WorkerCommand: []string{"/bin/w"}}},
		{name: "the same job again", cfg: &pb.JobConfig{JobId: "01000000", WorkerCommand: []string{"/bin/w"}}},
		{name: "the same job as another node names it (its paths): the job this node knows", cfg: &pb.JobConfig{JobId: "01000000", WorkerCommand: []string{"/bin/x"}}},
		{name: "no id", cfg: &pb.JobConfig{WorkerCommand: []string{"/bin/w"}}, err: "needs an id"},
		{name: "an id too long", cfg: &pb.JobConfig{JobId: strings.Repeat("a", 65), WorkerCommand: []string{"/bin/w"}}, err: "needs an id"},
		{name: "no command", cfg: &pb.JobConfig{JobId: "02000000"}, err: "no worker command"},
	}
	for _, c := range cases {
		var err error
		var j *job
		h.do(func(s *state) { j, err = s.jobOf(c.cfg) })
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.err)
		case c.err == "" && c.cfg == nil && j != h.s.defaultJob:
			t.Errorf("%s: not the node's job", c.name)
		}
	}
}

// A driver that joins with its job adds the job to the control store's job table, with what it
// told of itself; when it leaves, the job ends there. The node's own job (the driver of an
// embedded node) has no record there.
func TestJobEndsInTheJobTable(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	h.s.defaultJob.prestart = 0
	h.do(func(s *state) {
		if _, err := s.jobOf(&pb.JobConfig{JobId: "J", WorkerCommand: []string{"w"}, Entrypoint: "./prog x", SubmissionId: "sub"}); err != nil {
			t.Fatal(err)
		}
	})
	j, k, own := h.jobDriver("J"), h.jobDriver("K"), h.driver()
	started := h.takeEffects().jobsStarted
	if len(started) != 2 || started[0].JobId != "J" || started[0].Entrypoint != "./prog x" || started[0].SubmissionId != "sub" ||
		string(started[0].DriverNodeId) != string(h.s.nodeID[:]) || started[1].JobId != "K" {
		t.Fatalf("the jobs added: %v", started)
	}
	cases := []struct {
		name  string
		gone  *conn
		ended []string
	}{
		{"the driver of J leaves", j, []string{"J"}},
		{"the node's own driver leaves", own, nil},
		{"the driver of K leaves", k, []string{"K"}},
	}
	for _, c := range cases {
		h.do(func(s *state) { s.clientGone(c.gone.c, nil) })
		if got := h.takeEffects().jobsEnded; strings.Join(got, " ") != strings.Join(c.ended, " ") {
			t.Errorf("%s: jobs ended %v, want %v", c.name, got, c.ended)
		}
	}
}
