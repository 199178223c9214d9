package raylet

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/golang/glog"

	"goray/objstore"
	"goray/taskretry"
)

// How the node starts worker processes. Starts are bounded: at most maxConcurrent processes are
// starting (spawned and not yet connected) at a time, whatever the node's CPU count says (Ray's
// maximum_startup_concurrency), and a process that has not connected within registerTimeout is
// killed. Processes that die before connecting (and were not killed by the node) are start
// failures; after maxStartFailures in a row the node pauses before the next start (an exponential
// back-off, capped at maxStartBackoff) and every task waiting for a worker to start uses one of its
// retries, once per pause, so a worker program that cannot start fails its tasks after their
// retries instead of leaving them waiting forever, while a burst of deaths (processes killed as
// they start) only slows the node down: a process that connects ends the pause at once.

// maxStartFailures is how many processes in a row may die before connecting before the node backs
// off and waiting tasks start paying retries.
const maxStartFailures = 3

// Back-off between starts after maxStartFailures: the first pause and the longest.
const (
	startBackoffBase = 50 * time.Millisecond
	maxStartBackoff  = time.Second
)

// EnvRegisterTimeout overrides how long a started process may take to connect, in seconds (Ray's
// RAY_worker_register_timeout_seconds; default 60).
const EnvRegisterTimeout = "RAY_worker_register_timeout_seconds"

// registerTimeout is how long a started process may take to connect before it is killed.
func registerTimeout() time.Duration {
	return envSeconds(EnvRegisterTimeout, 60*time.Second)
}

// envSeconds reads a duration in seconds from the environment variable name (Ray's RAY_*_s and
// RAY_*_seconds settings); def when it is unset or not a positive number below a million.
func envSeconds(name string, def time.Duration) time.Duration {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 && v < 1e6 {
		return time.Duration(v * float64(time.Second))
	}
	return def
}

// watchRegistration kills w, a process just started, if it has not connected within
// registerTimeout; its death then counts as a start failure. Called with r.mu held.
func (s *state) watchRegistration(w *worker) {
	d := registerTimeout()
	s.after(d, func(s *state) {
		if s.stopped || w.exited || w.client != nil {
			return
		}
		glog.Warningf("%s did not connect to the node within %v: killing it", w, d)
		w.registerTimedOut = true
		s.eff.kill = append(s.eff.kill, w) // not killedByNode: its death is a start failure
	})
}

// EnvMaxStartupConcurrency overrides how many worker processes may be starting at once (Ray's
// RAY_worker_maximum_startup_concurrency; the default is the machine's CPU count).
const EnvMaxStartupConcurrency = "RAY_worker_maximum_startup_concurrency"

// startControl is the node's state about starting processes.
type startControl struct {
	maxConcurrent int
	// actors waiting for a process of their own, in order.
	actors []*actor
	// actorSpawning counts actor processes being spawned (not yet in r.workers).
	actorSpawning int
	// failures counts processes in a row that could not start or died before connecting.
	failures int
	// backingOff is set while starts pause; round numbers the pauses (a pause ended early by a
	// connecting process must not end a later one when its timer fires).
	backingOff bool
	round      int
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

// poolProcesses counts the pool's worker processes: alive (connected or not) and being spawned.
// Called with r.mu held.
func (s *state) poolProcesses() int {
	return len(s.workers) - s.actorWorkers + s.starting
}

// inStartup counts the processes starting: pool workers of each job, and all (pool and actors).
// Called with r.mu held.
func (s *state) inStartup() (pool map[*job]int, all int) {
	pool = map[*job]int{}
	for _, w := range s.workers {
		if w.client == nil {
			all++
			if w.actor == nil {
				pool[w.job]++
			}
		}
	}
	for _, j := range s.allJobs() {
		pool[j] += j.starting
	}
	return pool, all + s.starting + s.starts.actorSpawning
}

// allJobs lists the node's job and the jobs drivers brought, in a repeatable order (the node's
// first, then by id). Called with r.mu held.
func (s *state) allJobs() []*job {
	list := make([]*job, 0, len(s.jobs)+1)
	list = appendWithVariants(list, s.defaultJob)
	for _, id := range sortedKeys(s.jobs) {
		list = appendWithVariants(list, s.jobs[id])
	}
	return list
}

// appendWithVariants appends j and its runtime environments' variants (see envJob), in order.
func appendWithVariants(list []*job, j *job) []*job {
	list = append(list, j)
	for _, env := range sortedKeys(j.variants) {
		list = append(list, j.variants[env])
	}
	return list
}

// sortedKeys are a map's keys, in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// startProcesses starts what waits for a process: actors first (each needs its own), then pool
// workers for each job's runnable tasks that wait (and what remains of its prestart), never more
// than maxConcurrent starting at once and none while starts back off. A job whose tasks wait
// while the pool is full of other jobs' idle workers has those stopped first; its workers start
// once they are gone. Called with r.mu held.
func (s *state) startProcesses(runnableWaiting map[*job]int) {
	if s.stopped || s.starts.backingOff {
		return
	}
	poolUp, allUp := s.inStartup()
	room := s.starts.maxConcurrent - allUp
	for room > 0 && len(s.starts.actors) > 0 {
		a := s.starts.actors[0]
		s.starts.actors[0] = nil
		s.starts.actors = s.starts.actors[1:]
		a.startQueued = false
		if a.state != actorStarting || a.worker != nil {
			continue // died (or was killed) while it waited
		}
		room--
		s.starts.actorSpawning++
		s.eff.spawnActors = append(s.eff.spawnActors, a)
	}
	for _, j := range s.allJobs() {
		if room <= 0 {
			return
		}
		waiting := runnableWaiting[j] - poolUp[j]
		need := waiting
		if j.prestart > need {
			need = j.prestart
		}
		limit := s.poolSize() + s.blocked - s.poolProcesses()
		if waiting > limit && !j.ended {
			// Idle workers of other jobs make room (they are gone once reaped).
			s.evictIdle(j, waiting-limit)
		}
		if need > limit {
			need = limit
		}
		if need > room {
			need = room
		}
		if need <= 0 {
			continue
		}
		j.prestart -= need
		if j.prestart < 0 {
			j.prestart = 0
		}
		room -= need
		j.starting += need
		s.starting += need
		for i := 0; i < need; i++ {
			s.eff.spawnPool = append(s.eff.spawnPool, j)
		}
	}
}

// queueActorStart puts an actor in line for a process. Called with r.mu held.
func (s *state) queueActorStart(a *actor) {
	a.state = actorStarting
	if !a.startQueued {
		a.startQueued = true
		s.starts.actors = append(s.starts.actors, a)
	}
	s.startProcesses(nil)
}

// started is the event of the node starting: the pool is prestarted in the background, at most
// maxConcurrent processes at a time; the rest of it starts when tasks wait for workers.
func (s *state) started() {
	if j := s.defaultJob; len(j.command) > 0 {
		j.prestart = s.poolSize()
		if j.prestart > s.starts.maxConcurrent {
			j.prestart = s.starts.maxConcurrent
		}
	}
	s.startProcesses(nil)
}

// workerSpawned is the event of a process started for the pool (a == nil) or for actor a. The
// process is recorded in any case (its reaper reports its end); one nobody wants any more (the
// node stops, the actor died meanwhile) is killed. Called with the node's lock held.
func (s *state) workerSpawned(w *worker, a *actor) {
	if a == nil {
		s.starting--
		w.job.starting--
	} else {
		s.starts.actorSpawning--
	}
	s.workers[w.id] = w
	if s.stopped || (a != nil && a.state == actorDead) {
		s.kill(w)
		s.schedule() // its start slot is free
		return
	}
	if a != nil {
		w.actor = a
		a.worker = w
		s.actorWorkers++
	}
	s.watchRegistration(w)
}

// spawnFailed is the event of a process for the pool (a == nil) or for actor a that could not be
// started. Called with the node's lock held.
func (s *state) spawnFailed(j *job, a *actor, err error) {
	if a == nil {
		s.starting--
		j.starting--
		glog.Errorf("cannot start a worker: %v", err)
		s.startFailed(err.Error())
		s.schedule()
		return
	}
	s.starts.actorSpawning--
	s.startFailed(err.Error())
	s.actorStartFailed(a, fmt.Sprintf("The actor could not start a process: %v", err))
	s.schedule()
}

// startSucceeded notes a process that connected: starts work again, at once.
// Called with r.mu held.
func (s *state) startSucceeded() {
	s.starts.failures = 0
	s.starts.backingOff = false
}

// startFailed notes a process that could not start or died before connecting (what says how).
// From maxStartFailures in a row on, starts pause, and each pause takes one retry from every task
// waiting for a worker to start, failing those that have none left. Called with r.mu held.
func (s *state) startFailed(what string) {
	s.starts.failures++
	if s.starts.failures < maxStartFailures || s.starts.backingOff || s.stopped {
		return
	}
	s.starts.backingOff = true
	s.starts.round++
	round := s.starts.round
	delay := startBackoff(s.starts.failures)
	glog.Warningf("%d worker processes in a row could not start: waiting %v before the next", s.starts.failures, delay)
	s.after(delay, func(s *state) {
		if s.starts.round == round {
			s.starts.backingOff = false
		}
		s.schedule()
	})
	msg := fmt.Sprintf("no worker process could be started: %d in a row failed; the last: %s", s.starts.failures, what)
	glog.Errorf("%s", msg)
	s.chargeWaitingTasks(msg)
}

// chargeWaitingTasks takes one retry from every ready task that waits for a worker to start, and
// fails those that have none left with msg. Tasks that wait for a busy pool (at its size limit, or
// with an idle worker) are not charged. Called with r.mu held.
func (s *state) chargeWaitingTasks(msg string) {
	if len(s.idle) > 0 || s.poolProcesses() >= s.poolSize()+s.blocked {
		return
	}
	var failed []*task
	for _, c := range s.ready.order {
		if c.infeasible || len(c.tasks) == 0 || !s.ledger.Fits(c.demand) {
			continue
		}
		keep := c.tasks[:0]
		for _, t := range c.tasks {
			if taskretry.Take(&t.retriesLeft) {
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
		s.finish(t, &objstore.Object{Kind: objstore.KindWorkerDied, Data: []byte(text)})
	}
}
