package raylet

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"goray/actorrule"
	"goray/ids"
	"goray/internal/testutil"
	"goray/objstore"
	pb "goray/rpc/proto"
)

func TestStartBackoff(t *testing.T) {
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{
		{0, startBackoffBase},
		{maxStartFailures, 50 * time.Millisecond},
		{maxStartFailures + 1, 100 * time.Millisecond},
		{maxStartFailures + 4, 800 * time.Millisecond},
		{maxStartFailures + 5, time.Second},
		{maxStartFailures + 60, time.Second},
		{1 << 30, time.Second},
	} {
		if got := startBackoff(c.failures); got != c.want {
			t.Errorf("startBackoff(%d) = %v, want %v", c.failures, got, c.want)
		}
	}
}

// rawDriver is a driver speaking the node's protocol on a raw stream.
type rawDriver struct {
	t      *testing.T
	stream pb.NodeManager_ConnectClient
	nextID uint64
}

func connectDriver(t *testing.T, r *Raylet) *rawDriver {
	t.Helper()
	d := &rawDriver{t: t, stream: openStream(t, r)}
	id := ids.NewUniqueID()
	d.send(&pb.ClientMessage{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: id[:], IsDriver: true}}})
	return d
}

func (d *rawDriver) send(msgs ...*pb.ClientMessage) {
	d.t.Helper()
	if err := d.stream.Send(&pb.ClientBatch{Messages: msgs}); err != nil {
		d.t.Fatal(err)
	}
}

// request sends a message that takes a request id and returns the node's reply to it.
func (d *rawDriver) request(make func(requestID uint64) *pb.ClientMessage) *pb.Reply {
	d.t.Helper()
	d.nextID++
	id := d.nextID
	d.send(make(id))
	for {
		b, err := d.stream.Recv()
		if err != nil {
			d.t.Fatalf("waiting for reply %d: %v", id, err)
		}
		for _, m := range b.Messages {
			if rep := m.GetReply(); rep != nil && rep.RequestId == id {
				return rep
			}
		}
	}
}

// createActor asks for an actor named name in namespace ns; it returns the actor's id and the
// node's error, if any.
func (d *rawDriver) createActor(name, ns string) (ids.ActorID, string) {
	d.t.Helper()
	id := ids.NewUniqueID()
	task := ids.NewTaskID()
	ret := task.ReturnID(1)
	rep := d.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: &pb.CreateActor{
			RequestId: req, ActorId: id[:], Name: name, Namespace: ns, ClassName: "C",
			Creation: &pb.TaskSpec{TaskId: task[:], ReturnId: ret[:], FunctionName: "C::Factory",
				Args: []*pb.TaskArg{{Data: make([]byte, 4096)}}},
		}}}
	})
	return id, rep.Error
}

func (d *rawDriver) getActor(name, ns string) (ids.ActorID, bool) {
	d.t.Helper()
	rep := d.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_GetActor{GetActor: &pb.GetActor{RequestId: req, Name: name, Namespace: ns}}}
	})
	id, _ := ids.UniqueIDFromBytes(rep.ActorId)
	return id, rep.Found
}

// waitActor asks where an actor takes calls after incarnation after, and returns the answer.
func (d *rawDriver) waitActor(actor ids.ActorID, after int32) *pb.Reply {
	d.t.Helper()
	return d.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: req, ActorId: actor[:], AfterIncarnation: after}}}
	})
}

// eventually waits until cond (called with r.mu held) holds.
func eventually(t *testing.T, r *Raylet, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// A node with an enormous CPU count starts (Start returns at once) and never has more than the
// startup bound of processes starting, however many tasks wait for workers.
func TestStartsAreBoundedWhateverTheCPUCount(t *testing.T) {
	t.Setenv(EnvMaxStartupConcurrency, "3")
	dir := testutil.ShortTempDir(t)
	r := New(Config{SessionDir: dir, LogsDir: dir, SocketPath: filepath.Join(dir, "raylet"),
		Resources: map[string]float64{"CPU": 1e12}, WorkerCommand: []string{"/bin/sleep", "60"}})
	started := make(chan error, 1)
	go func() { started <- r.Start() }()
	t.Cleanup(r.Stop)
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return with 1e12 CPUs")
	}
	d := connectDriver(t, r)
	for i := 0; i < 50; i++ {
		task := ids.NewTaskID()
		ret := task.ReturnID(1)
		d.send(&pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: task[:], ReturnId: ret[:], FunctionName: "F"}}})
	}
	eventually(t, r, "three processes start", func() bool { return len(r.workers) == 3 })
	time.Sleep(300 * time.Millisecond)
	if pids := r.WorkerPIDs(); len(pids) != 3 {
		t.Fatalf("%d processes started with a startup bound of 3", len(pids))
	}
	if s := r.Stats(); s.ReadyTasks != 50 {
		t.Fatalf("tasks: %+v", s)
	}
}

// Log files of dead workers: empty ones are removed, others kept up to maxDeadWorkerLogs.
func TestDeadWorkerLogsAreBounded(t *testing.T) {
	for _, c := range []struct {
		name    string
		command string
		keep    int
	}{
		{"quiet", "exit 1", 0},
		// Like a worker whose logger wrote a file of its own, named after its pid.
		{"noisy", `echo dying >&2; touch "$` + EnvLogsDir + `/w.host.user.log.INFO.20261130-000000.$$"; exit 1`, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := maxDeadWorkerLogs
			maxDeadWorkerLogs = 2
			t.Cleanup(func() { maxDeadWorkerLogs = old })
			t.Setenv(EnvMaxStartupConcurrency, "1")
			r := startRaylet(t, []string{"/bin/sh", "-c", c.command})
			d := connectDriver(t, r)
			// Tasks with many retries keep the node starting workers, each of which dies.
			for i := 0; i < 4; i++ {
				task := ids.NewTaskID()
				ret := task.ReturnID(1)
				d.send(&pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: task[:], ReturnId: ret[:], FunctionName: "F", MaxRetries: 100}}})
			}
			eventually(t, r, "six workers died", func() bool { return r.starts.failures >= 6 })
			r.Stop()
			files, _ := filepath.Glob(filepath.Join(r.cfg.LogsDir, "worker-*"))
			// At most one process was alive (or being reaped) when the node stopped.
			logs, _ := filepath.Glob(filepath.Join(r.cfg.LogsDir, "*.log.INFO.*"))
			if len(files) > 2*c.keep+2 || len(logs) > c.keep+1 {
				t.Fatalf("%d log files left after 6 dead workers, keeping %d: %v %v", len(files)+len(logs), c.keep, files, logs)
			}
		})
	}
}

// Names and namespaces are compared as the pairs they are: NUL bytes in them alias nothing.
func TestActorNamesWithNULDoNotAlias(t *testing.T) {
	r := startRaylet(t, []string{"/bin/sleep", "60"})
	d := connectDriver(t, r)
	first, errText := d.createActor("b", "x\x00a")
	if errText != "" {
		t.Fatal(errText)
	}
	if id, found := d.getActor("b", "x\x00a"); !found || id != first {
		t.Fatalf("the actor is not found by its own name: %v %v", id, found)
	}
	if _, found := d.getActor("a\x00b", "x"); found {
		t.Fatal(`GetActor("a\x00b", "x") found the actor named "b" in namespace "x\x00a"`)
	}
	second, errText := d.createActor("a\x00b", "x")
	if errText != "" {
		t.Fatalf(`creating ("a\x00b", "x") failed: %s`, errText)
	}
	if id, found := d.getActor("a\x00b", "x"); !found || id != second {
		t.Fatalf("the second actor is not found: %v %v", id, found)
	}
}

// Dead actors are remembered up to maxDeadActors, without their factory's arguments; WaitActor
// on one that is forgotten still answers it dead.
func TestDeadActorsAreBounded(t *testing.T) {
	old := maxDeadActors
	maxDeadActors = 5
	t.Cleanup(func() { maxDeadActors = old })
	r := startRaylet(t, []string{"/bin/sleep", "60"})
	d := connectDriver(t, r)
	var actors []ids.ActorID
	for i := 0; i < 20; i++ {
		id, errText := d.createActor(fmt.Sprintf("a%d", i), "")
		if errText != "" {
			t.Fatal(errText)
		}
		actors = append(actors, id)
		d.send(&pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: id[:], NoRestart: true}}})
	}
	last := actors[len(actors)-1]
	if rep := d.waitActor(last, -1); !rep.ActorDead || !rep.Found || !strings.Contains(rep.Cause, actorrule.CauseKilled) {
		t.Fatalf("waiting for a recently killed actor: %v", rep)
	}
	if rep := d.waitActor(actors[0], -1); !rep.ActorDead || rep.Found || !strings.Contains(rep.Cause, "No actor") {
		t.Fatalf("waiting for a forgotten actor: %v", rep)
	}
	if _, found := d.getActor("a19", ""); found {
		t.Fatal("a dead actor is found by name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.starts.failures != 0 || r.starts.backingOff {
		t.Fatalf("processes the node killed itself count as start failures: %d", r.starts.failures)
	}
	if len(r.actors) != 5 || len(r.deadActors) != 5 {
		t.Fatalf("%d actors, %d dead remembered, after 20 died (bound 5)", len(r.actors), len(r.deadActors))
	}
	for _, a := range r.actors {
		if len(a.creation.spec.Args) != 0 || a.waiters != nil {
			t.Fatalf("%s keeps its factory's arguments or waiters after its death", a)
		}
	}
}

// submitTask sends a task and subscribes to its result; it returns the result's id.
func (d *rawDriver) submitTask(fn string, retries int32) []byte {
	d.t.Helper()
	task := ids.NewTaskID()
	ret := task.ReturnID(1)
	d.send(&pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: task[:], ReturnId: ret[:], FunctionName: fn, MaxRetries: retries}}},
		&pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{ret[:]}}}})
	return ret[:]
}

// Start failures charge the tasks waiting for a worker one retry per pause, not one per failure.
func TestStartFailuresChargeWaitingTasksOncePerPause(t *testing.T) {
	r := New(Config{Resources: map[string]float64{"CPU": 2}})
	defer func() {
		r.cancel()
		r.wg.Wait()
	}()
	var tasks []*task
	for i, retries := range []int{0, 1, 5} {
		id := ids.NewTaskID().ReturnID(1)
		tk := &task{spec: &pb.TaskSpec{FunctionName: fmt.Sprintf("F%d", i)}, returnID: id, retriesLeft: retries,
			demand: oneCPU}
		r.pending[id] = tk
		r.ready.push(tk)
		tasks = append(tasks, tk)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	step := func(what string, wantRetries []int, wantQueued int, wantBackingOff bool) {
		t.Helper()
		r.startFailed(what)
		for i, tk := range tasks {
			if _, pending := r.pending[tk.returnID]; pending && tk.retriesLeft != wantRetries[i] {
				t.Errorf("after %s: task %d has %d retries, want %d", what, i, tk.retriesLeft, wantRetries[i])
			}
		}
		if n := r.ready.len(); n != wantQueued || r.starts.backingOff != wantBackingOff {
			t.Fatalf("after %s: %d queued, backing off %v; want %d, %v", what, n, r.starts.backingOff, wantQueued, wantBackingOff)
		}
	}
	step("failure 1", []int{0, 1, 5}, 3, false)
	step("failure 2", []int{0, 1, 5}, 3, false)
	step("failure 3", []int{0, 0, 4}, 2, true) // the pause: one retry each, the task without any fails
	step("failure 4", []int{0, 0, 4}, 2, true) // during the pause: no charge
	if _, pending := r.pending[tasks[0].returnID]; pending {
		t.Fatal("the task without retries is still pending")
	}
	r.startSucceeded() // a process connected: the pause ends, and so does the count
	if r.starts.backingOff || r.starts.failures != 0 {
		t.Fatal("a connected process did not end the pause")
	}
	step("failure 5", []int{0, 0, 4}, 2, false)
}

// A process that does not connect within the registration timeout is killed, and its death
// counts as a start failure: a task that waits for it fails after its retries.
func TestProcessesThatNeverConnectAreKilled(t *testing.T) {
	t.Setenv(EnvRegisterTimeout, "0.2")
	t.Setenv(EnvMaxStartupConcurrency, "1")
	r := startRaylet(t, []string{"/bin/sleep", "60"})
	d := connectDriver(t, r)
	ret := d.submitTask("F", 0)
	o := awaitObject(t, d.stream, ret)
	if msg := string(o.Object.Data); o.Object.Kind != objstore.KindWorkerDied || !strings.Contains(msg, "did not connect to the node within 200ms") {
		t.Fatalf("kind %d: %s", o.Object.Kind, msg)
	}
}

// With one start slot: an actor whose start is abandoned (killed while its process started)
// frees the slot for the next actor in line.
func TestQueuedActorStartsWhenASlotFrees(t *testing.T) {
	t.Setenv(EnvMaxStartupConcurrency, "1")
	r := startRaylet(t, []string{"/bin/sleep", "60"})
	// The pool's prestarted worker (it never connects) holds the one slot: the node ends it.
	d := connectDriver(t, r)
	eventually(t, r, "the pool's worker started", func() bool { return len(r.workers) == 1 })
	r.do(func(s *state) {
		for _, w := range s.workers {
			s.kill(w) // frees the slot once reaped
		}
	})
	eventually(t, r, "the pool's worker is reaped", func() bool { return len(r.workers) == 0 && r.starting == 0 })
	first, _ := d.createActor("first", "")
	second, _ := d.createActor("second", "")
	d.send(&pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: first[:], NoRestart: true}}})
	eventually(t, r, "the second actor has a process", func() bool {
		a := r.actors[second]
		return a != nil && a.worker != nil
	})
}

// An actor whose process can never start dies after a bounded number of attempts, even with
// unlimited restarts, and a WaitActor on it is answered with its death instead of waiting forever.
func TestActorWhoseProcessCannotStartDies(t *testing.T) {
	r := startRaylet(t, []string{"/no/such/worker"})
	d := connectDriver(t, r)
	id := ids.NewUniqueID()
	task := ids.NewTaskID()
	ret := task.ReturnID(1)
	rep := d.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: &pb.CreateActor{
			RequestId: req, ActorId: id[:], ClassName: "C", MaxRestarts: -1,
			Creation: &pb.TaskSpec{TaskId: task[:], ReturnId: ret[:], FunctionName: "C::Factory"},
		}}}
	})
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	rep = d.waitActor(id, -1)
	if !rep.ActorDead || !strings.Contains(rep.Cause, fmt.Sprintf("could not start %d times in a row", maxActorStartFailures)) ||
		!strings.Contains(rep.Cause, "/no/such/worker") {
		t.Fatalf("%v", rep)
	}
}
