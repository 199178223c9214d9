package raylet

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/golang/glog"

	"goray/objstore"
)

// How the node starts worker processes. Starts are bounded: at most maxConcurrent processes are
// starting (spawned and not yet connected) at a time, whatever the node's CPU count says (Ray's
// maximum_startup_concurrency). Processes that die before connecting are start failures; after
// maxStartFailures in a row the node waits before the next start (an exponential back-off, capped
// at maxStartBackoff) and every task waiting for a worker uses one of its retries per further
// failure, so a worker program that cannot start fails its tasks after their retries instead of
// leaving them waiting forever, while a burst of deaths (processes killed as they start) only
// slows the node down: the first process that connects ends the back-off.

// maxStartFailures is how many processes in a row may die before connecting before the node backs
// off and waiting tasks start paying retries.
const maxStartFailures = 3

// Back-off between starts after maxStartFailures: the first pause and the longest.
const (
	startBackoffBase = 50 * time.Millisecond
	maxStartBackoff  = time.Second
)

// EnvMaxStartupConcurrency overrides how many worker processes may be starting at once (Ray's
// RAY_worker_maximum_startup_concurrency; the default is the machine's CPU count).
const EnvMaxStartupConcurrency = "RAY_worker_maximum_startup_concurrency"

// startControl is the node's state about starting processes.
type startControl struct {
	maxConcurrent int
	// prestart is how many pool workers remain to be started without a task waiting for them
	// (the pool started with the node, up to maxConcurrent).
	prestart int
	// actors waiting for a process of their own, in order.
	actors []*actor
	// actorSpawning counts actor processes being spawned (not yet in r.workers).
	actorSpawning int
	// failures counts processes in a row that could not start or died before connecting;
	// lastFailure says what happened to the last of them.
	failures    int
	lastFailure string
	backingOff  bool
	// deadLogs holds the log files of dead workers kept so far, oldest first.
	deadLogs []*worker
}

// maxStartupConcurrency is the bound on processes starting at once.
func maxStartupConcurrency() int {
	if v, err := strconv.Atoi(os.Getenv(EnvMaxStartupConcurrency)); err == nil && v > 0 {
		return v
	}
	if n := runtime.NumCPU(); n > 1 {
		return n
	}
	return 1
}

// startBackoff is the pause before the next start after failures starts in a row.
func startBackoff(failures int) time.Duration {
	d := startBackoffBase
	for i := maxStartFailures; i < failures && d < maxStartBackoff; i++ {
		d *= 2
	}
	if d > maxStartBackoff {
		d = maxStartBackoff
	}
	return d
}

// inStartup counts the processes starting: pool workers, and all (pool and actors).
// Called with r.mu held.
func (r *Raylet) inStartup() (pool, all int) {
	for _, w := range r.workers {
		if w.client == nil {
			all++
			if w.actor == nil {
				pool++
			}
		}
	}
	return pool + r.starting, all + r.starting + r.starts.actorSpawning
}

// startProcesses starts what waits for a process: actors first (each needs its own), then pool
// workers for runnable tasks that wait (and what remains of the prestart), never more than
// maxConcurrent starting at once and none while starts back off. Called with r.mu held.
func (r *Raylet) startProcesses(runnableWaiting int) {
	if r.stopped || r.starts.backingOff {
		return
	}
	poolUp, allUp := r.inStartup()
	room := r.starts.maxConcurrent - allUp
	for room > 0 && len(r.starts.actors) > 0 {
		a := r.starts.actors[0]
		r.starts.actors[0] = nil
		r.starts.actors = r.starts.actors[1:]
		a.startQueued = false
		if a.state != actorStarting || a.worker != nil {
			continue // died (or was killed) while it waited
		}
		room--
		r.starts.actorSpawning++
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.startActorProcess(a)
		}()
	}
	need := runnableWaiting - poolUp
	if r.starts.prestart > need {
		need = r.starts.prestart
	}
	alive := len(r.workers) - r.actorWorkers + r.starting
	if limit := r.poolSize() + r.blocked - alive; need > limit {
		need = limit
	}
	if need > room {
		need = room
	}
	if need <= 0 {
		return
	}
	r.starts.prestart -= need
	if r.starts.prestart < 0 {
		r.starts.prestart = 0
	}
	r.starting += need
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.startWorkers(need)
	}()
}

// queueActorStart puts an actor in line for a process. Called with r.mu held.
func (r *Raylet) queueActorStart(a *actor) {
	a.state = actorStarting
	if !a.startQueued {
		a.startQueued = true
		r.starts.actors = append(r.starts.actors, a)
	}
	r.startProcesses(0)
}

// startSucceeded notes a process that connected: starts work again. Called with r.mu held.
func (r *Raylet) startSucceeded() {
	r.starts.failures = 0
	r.starts.lastFailure = ""
}

// startFailed notes a process that could not start or died before connecting (what says how).
// From maxStartFailures in a row on, starts back off and tasks waiting for a worker pay a retry
// each, failing when they have none left. Called with r.mu held.
func (r *Raylet) startFailed(what string) {
	r.starts.failures++
	r.starts.lastFailure = what
	if r.starts.failures < maxStartFailures {
		return
	}
	msg := fmt.Sprintf("no worker process could be started: %d in a row failed; the last: %s", r.starts.failures, what)
	glog.Errorf("%s", msg)
	r.chargeWaitingTasks(msg)
	if r.starts.backingOff || r.stopped {
		return
	}
	r.starts.backingOff = true
	delay := startBackoff(r.starts.failures)
	glog.Warningf("waiting %v before starting another worker process", delay)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(delay):
		}
		r.mu.Lock()
		r.starts.backingOff = false
		r.schedule()
		r.mu.Unlock()
	}()
}

// chargeWaitingTasks takes one retry from every ready task that waits for a worker to start, and
// fails those that have none left with msg. Called with r.mu held.
func (r *Raylet) chargeWaitingTasks(msg string) {
	if len(r.idle) > 0 {
		return // tasks wait for resources, not for a process
	}
	var failed []*task
	for _, c := range r.ready.order {
		if c.infeasible || len(c.tasks) == 0 || !fits(c.resources, r.available) {
			continue
		}
		keep := c.tasks[:0]
		for _, t := range c.tasks {
			if t.retriesLeft > 0 {
				t.retriesLeft--
				keep = append(keep, t)
			} else {
				failed = append(failed, t)
			}
		}
		for i := len(keep); i < len(c.tasks); i++ {
			c.tasks[i] = nil
		}
		c.tasks = keep
	}
	for _, t := range failed {
		text := fmt.Sprintf("%s cannot run: %s", taskLabel(t), msg)
		r.finish(t, &objstore.Object{Kind: objstore.KindWorkerDied, Data: []byte(text)})
	}
}

// maxDeadWorkerLogs is how many dead workers' log files a node keeps (those with output; empty
// ones are removed at once). A variable for tests.
var maxDeadWorkerLogs = 100

// keepWorkerLogs records the log files of a dead worker and returns the workers whose files are
// to be removed now: this one when its files are empty, else the oldest beyond
// maxDeadWorkerLogs. Called with r.mu held.
func (r *Raylet) keepWorkerLogs(w *worker, end exit) []*worker {
	if end.emptyLogs {
		return []*worker{w}
	}
	r.starts.deadLogs = append(r.starts.deadLogs, w)
	var prune []*worker
	for len(r.starts.deadLogs) > maxDeadWorkerLogs {
		prune = append(prune, r.starts.deadLogs[0])
		r.starts.deadLogs[0] = nil
		r.starts.deadLogs = r.starts.deadLogs[1:]
	}
	return prune
}

// removeWorkerLogs deletes the log files of dead workers: their stdout and stderr, and the files
// the runtime's logger wrote in the same directory (<program>.<host>.<user>.log.<LEVEL>.<time>.<pid>).
// Called without r.mu.
func removeWorkerLogs(ws []*worker) {
	for _, w := range ws {
		_ = os.Remove(w.stdoutPath)
		_ = os.Remove(w.stderrPath)
		if w.pid > 0 {
			logs, _ := filepath.Glob(filepath.Join(filepath.Dir(w.stderrPath), "*.log.*."+strconv.Itoa(w.pid)))
			for _, p := range logs {
				_ = os.Remove(p)
			}
		}
	}
}

// exit is how a worker process ended, read outside the node's lock.
type exit struct {
	status    string // "exit status 3", "was killed by signal SIGSEGV ..."
	excerpt   string // the lines of its stderr that matter
	emptyLogs bool   // it wrote nothing to stdout or stderr
}

// stderrReadLimit is how much of the end of a dead worker's stderr is read.
const stderrReadLimit = 1 << 20

// exitOf reads how w ended: waitErr is what its Wait returned. Reads files: call without r.mu.
func exitOf(w *worker, waitErr error) exit {
	stderr, errErr := readEnd(w.stderrPath, stderrReadLimit)
	end := exit{}
	end.status, end.excerpt = describeExit(waitErr, stderr)
	if errErr != nil {
		end.excerpt = fmt.Sprintf("(cannot read %s: %v)", w.stderrPath, errErr)
	}
	if st, err := os.Stat(w.stdoutPath); err == nil && st.Size() == 0 && errErr == nil && len(stderr) == 0 {
		end.emptyLogs = true
	}
	return end
}

// readEnd returns at most limit bytes from the end of a file.
func readEnd(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := st.Size() - limit
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && n < len(buf) {
		return buf[:n], nil
	}
	return buf, nil
}
