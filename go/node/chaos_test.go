package node

import (
	"context"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"goray/core"
	"goray/ids"
	"goray/internal/testutil"
	"goray/objstore"
	pb "goray/rpc/proto"
)

// childPIDs lists the live processes whose parent is this process (the node's workers, starting
// or running: the test binary starts no other children).
func childPIDs() []int { return testutil.Children(os.Getpid()) }

// killer sends SIGKILL to this process's children until stopped: pick chooses which of the live
// children to kill in each round, pause how long to wait between rounds.
type killer struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	killed map[int]bool
}

func startKiller(t *testing.T, pick func([]int) []int, pause func() time.Duration) *killer {
	ctx, cancel := context.WithCancel(context.Background())
	k := &killer{cancel: cancel, done: make(chan struct{}), killed: map[int]bool{}}
	t.Cleanup(func() { // the test may end early: the killing must end with it
		cancel()
		<-k.done
	})
	go func() {
		defer close(k.done)
		for {
			for _, pid := range pick(childPIDs()) {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					k.mu.Lock()
					k.killed[pid] = true
					k.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause()):
			}
		}
	}()
	return k
}

// stop ends the killing, waits until the node has reaped every process killed, and returns how
// many there were.
func (k *killer) stop(t *testing.T, n *Node) int {
	t.Helper()
	k.cancel()
	<-k.done
	k.mu.Lock()
	defer k.mu.Unlock()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		unreaped := 0
		for _, pid := range n.Raylet.WorkerPIDs() {
			if k.killed[pid] {
				unreaped++
			}
		}
		if unreaped == 0 {
			return len(k.killed)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d killed workers still not reaped", unreaped)
		}
	}
}

// outcome counts what became of tasks: the right value, a failure that says a worker died
// (after the task's retries), a wrong value or another error, or nothing at all.
type outcome struct{ ok, failed, wrong, lost int }

// collect gets the results of echo tasks whose expected values are want.
func (o *outcome) collect(t *testing.T, cw *core.CoreWorker, rets []ids.ObjectID, want []string) {
	t.Helper()
	for i, id := range rets {
		objs, err := cw.Get([]ids.ObjectID{id}, 60*time.Second)
		switch {
		case err != nil:
			o.lost++
			t.Errorf("task %d: %v", i, err)
		case objs[0].Kind == objstore.KindWorkerDied:
			o.failed++
		case objs[0].Kind != objstore.KindValue || string(objs[0].Data) != want[i]:
			o.wrong++
			t.Errorf("task %d: kind %d %q, want %q", i, objs[0].Kind, objs[0].Data, want[i])
		default:
			o.ok++
		}
	}
}

// echoWave submits n SlowEcho tasks (5 ms each) with the given retries and returns their ids and expected values.
func echoWave(t *testing.T, cw *core.CoreWorker, tag string, n int, retries int32) ([]ids.ObjectID, []string) {
	t.Helper()
	rets := make([]ids.ObjectID, n)
	want := make([]string, n)
	for i := range rets {
		want[i] = tag + "-" + strconv.Itoa(i)
		rets[i] = submit(t, cw, "SlowEcho", retries, &pb.TaskArg{Data: []byte(want[i])})
	}
	return rets, want
}

// expectNormal checks the node runs tasks as usual: every one of a wave returns its value.
func expectNormal(t *testing.T, cw *core.CoreWorker, tag string) {
	t.Helper()
	var o outcome
	rets, want := echoWave(t, cw, tag, 200, 0)
	o.collect(t, cw, rets, want)
	if o.ok != len(rets) {
		t.Fatalf("after the chaos, of %d tasks without retries: %+v", len(rets), o)
	}
}

// A burst of worker deaths (every child killed every 5 ms for 1.5 s, faster than workers start)
// must not stop the node for good: once the killing stops, tasks run again.
func TestWorkerDeathBurstDoesNotStopTheNode(t *testing.T) {
	n, cw := startNode(t, map[string]float64{"CPU": 2})
	k := startKiller(t, func(pids []int) []int { return pids }, func() time.Duration { return 5 * time.Millisecond })
	var o outcome
	var rets []ids.ObjectID
	var want []string
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		r, w := echoWave(t, cw, "burst"+strconv.Itoa(len(rets)), 10, -1)
		rets, want = append(rets, r...), append(want, w...)
		time.Sleep(20 * time.Millisecond)
	}
	kills := k.stop(t, n)
	o.collect(t, cw, rets, want)
	t.Logf("burst: %d tasks, %d kills: %+v", len(rets), kills, o)
	if o.wrong != 0 || o.lost != 0 {
		t.Fatalf("tasks during the burst: %+v", o)
	}
	expectNormal(t, cw, "after")
}

// The chaos case: a random worker killed every 20-100 ms while thousands of tasks run. No task
// may return a wrong value or never finish; tasks fail only when their retries are used up; and
// afterwards the node works normally. The victims are workers that connected to the node: a
// process killed every time before it connects stops any node (where starting a process takes
// longer than the killer's pause, as under the race detector on a slow machine, nothing would
// ever run); TestWorkerDeathBurstDoesNotStopTheNode covers kills of starting processes.
func TestChaosRandomWorkerKills(t *testing.T) {
	n, cw := startNode(t, map[string]float64{"CPU": 2})
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	var rngMu sync.Mutex
	k := startKiller(t, func(children []int) []int {
		connected := map[int]bool{}
		for _, pid := range n.Raylet.ConnectedWorkerPIDs() {
			connected[pid] = true
		}
		var pids []int
		for _, pid := range children {
			if connected[pid] {
				pids = append(pids, pid)
			}
		}
		rngMu.Lock()
		defer rngMu.Unlock()
		if len(pids) == 0 {
			return nil
		}
		return []int{pids[rng.Intn(len(pids))]}
	}, func() time.Duration {
		rngMu.Lock()
		defer rngMu.Unlock()
		return time.Duration(20+rng.Intn(81)) * time.Millisecond
	})
	// Half the waves use the default retries (3), half many: the first may fail after their
	// retries, the second should all succeed.
	var defaults, many outcome
	const waves, perWave = 20, 100
	for w := 0; w < waves; w++ {
		retries, into := int32(-1), &defaults
		if w%2 == 1 {
			retries, into = 1000, &many
		}
		rets, want := echoWave(t, cw, "wave"+strconv.Itoa(w), perWave, retries)
		into.collect(t, cw, rets, want)
	}
	kills := k.stop(t, n)
	t.Logf("chaos: %d tasks, %d workers killed; default retries: %+v; 1000 retries: %+v",
		waves*perWave, kills, defaults, many)
	if defaults.wrong+defaults.lost+many.wrong+many.lost != 0 {
		t.Fatalf("wrong or lost results")
	}
	if many.failed != 0 {
		t.Errorf("%d tasks with 1000 retries failed", many.failed)
	}
	if kills < 20 {
		t.Errorf("only %d kills: the chaos did not happen", kills)
	}
	expectNormal(t, cw, "after")
	if s := n.Raylet.Stats(); s.Available["CPU"] != 2 || s.PendingTasks != 0 {
		t.Fatalf("after the chaos: %+v", s)
	}
}
