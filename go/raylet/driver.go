package raylet

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/golang/glog"

	pb "goray/rpc/proto"
)

// The driver: the thin layer between the node's decisions (state) and the world. It owns the
// node's lock, the sockets, the processes, the arena's mapping, the files and the clock. Every
// event goes through do: the state handles it under the lock, and the effects it asked for are
// applied once the lock is released.

// do delivers one event to the state under the node's lock, then applies its effects.
func (r *Raylet) do(event func(s *state)) {
	r.mu.Lock()
	r.state.now = time.Now()
	event(&r.state)
	e := r.state.takeEffects()
	r.mu.Unlock()
	r.apply(e)
}

// apply carries out the effects of one event. Called without the node's lock.
func (r *Raylet) apply(e effects) {
	if e.empty() {
		return
	}
	for _, w := range e.kill {
		_ = w.cmd.Process.Signal(syscall.SIGKILL)
	}
	if len(e.spawnPool) > 0 {
		// Processes of environments with a working_dir start on their own: setting one up (a
		// package to fetch and unpack) must not hold up the others.
		var plain []*job
		for _, j := range e.spawnPool {
			if j.env != nil && j.env.WorkingDir != "" {
				j := j
				r.goTracked(func() { r.spawn(j, nil) })
			} else {
				plain = append(plain, j)
			}
		}
		if len(plain) > 0 {
			r.goTracked(func() {
				for _, j := range plain {
					r.spawn(j, nil)
				}
			})
		}
	}
	for _, a := range e.spawnActors {
		a := a
		r.goTracked(func() { r.spawn(a.job, a) })
	}
	for _, jobs := range e.spill {
		r.writeSpills(jobs)
	}
	for _, j := range e.restore {
		r.readSpill(j)
	}
	for _, j := range e.back {
		r.back(j)
	}
	for _, path := range e.remove {
		_ = os.Remove(path)
	}
	removeWorkerLogs(e.prune)
	for _, t := range e.timers {
		r.startTimer(t)
	}
	if len(e.forward) > 0 {
		jobs := e.forward
		r.goTracked(func() { r.sendForward(jobs) }) // (opening a link may wait on the network)
	}
	for _, j := range e.hostActor {
		j := j
		r.goTracked(func() { r.hostActor(j) })
	}
	for _, j := range e.relay {
		j := j
		r.goTracked(func() { r.relay(j) })
	}
	for _, j := range e.names {
		j := j
		r.goTracked(func() { r.nameOp(j) })
	}
	for _, j := range e.locate {
		j := j
		r.goTracked(func() { r.locateObject(j) })
	}
	for _, j := range e.fetchKept {
		j := j
		r.goTracked(func() { r.fetchKept(j) })
	}
	for _, j := range e.taken {
		r.sendTaken(j.key, j.id)
	}
	if len(e.peerAsks) > 0 {
		r.askPeers(e.peerAsks)
	}
	if len(e.groupPuts) > 0 {
		r.putGroups(e.groupPuts)
	}
	for _, g := range e.groupGets {
		g := g
		r.goTracked(func() { r.getGroups(g) })
	}
	for _, l := range e.nodeLists {
		l := l
		r.goTracked(func() { r.listNodes(l) })
	}
	for _, j := range e.jobsStarted {
		j := j
		r.goTracked(func() {
			_ = r.callStore("adding job "+j.JobId, func(ctx context.Context, store pb.ControlStoreClient) error {
				_, err := store.AddJob(ctx, &pb.AddJobRequest{Job: j})
				return err
			})
		})
	}
	for _, id := range e.jobsEnded {
		id := id
		r.goTracked(func() {
			_ = r.callStore("ending job "+id, func(ctx context.Context, store pb.ControlStoreClient) error {
				_, err := store.MarkJobFinished(ctx, &pb.MarkJobFinishedRequest{JobId: id})
				return err
			})
		})
	}
}

// goTracked runs f on a goroutine that Stop waits for, unless the node is stopping (then f does
// not run: effects of events that raced with Stop are dropped). apply runs on goroutines Stop
// does not wait for (timers, streams), so the count is raised under the lock that Stop sets
// stopped under: never while Stop waits with it at zero.
func (r *Raylet) goTracked(f func()) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// spawn starts a process of job j for the pool (a == nil) or for actor a and reports it to the
// state; its reaper reports its end.
func (r *Raylet) spawn(j *job, a *actor) {
	dir, err := r.workingDir(j.env)
	if err != nil {
		r.do(func(s *state) { s.envSetupFailed(j, a, err) })
		return
	}
	w, err := r.spawnWorker(j, dir)
	if err != nil {
		r.do(func(s *state) { s.spawnFailed(j, a, err) })
		return
	}
	if a != nil {
		glog.Infof("%s: started its process %s", a, w)
	} else {
		glog.Infof("started %s for %s: %s", w, j, strings.Join(j.command, " "))
	}
	r.do(func(s *state) {
		s.workerSpawned(w, a)
		r.spawnDoneLocked(w.id)
	})
	// Its end is reported after its start (the spawning goroutine holds the node's WaitGroup).
	r.wg.Add(1)
	go r.reap(w)
}

// reap waits for a worker process to end (reading what it left on stderr) and reports it.
func (r *Raylet) reap(w *worker) {
	defer r.wg.Done()
	end := exitOf(w, w.cmd.Wait())
	r.do(func(s *state) { s.workerEnded(w, end) })
}

// writeSpills writes a spill round's files from the arena, then reports the round.
func (r *Raylet) writeSpills(jobs []*spillJob) {
	for _, j := range jobs {
		if j.data, j.err = r.arena.Bytes(j.off, j.size); j.err != nil {
			j.data = nil
		}
	}
	r.goTracked(func() {
		writeSpills(r.cfg.SpillDir, jobs)
		r.do(func(s *state) { s.spillsWritten(jobs) })
	})
}

// readSpill reads a spilled object's file back (into its reserved range, or into memory), then
// reports the restore.
func (r *Raylet) readSpill(j *restoreJob) {
	r.goTracked(func() {
		err := errNoRoom
		if j.reserved {
			err = r.restoreInto(j.path, j.off, j.size)
		}
		if err != nil {
			// No room in the arena now: the readers get the bytes in their messages.
			data, rerr := os.ReadFile(j.path)
			if rerr != nil {
				j.err = fmt.Errorf("restoring spilled object %s: %v; and reading it from disk: %w", j.id.Hex(), err, rerr)
			} else {
				j.data = data
			}
		}
		r.do(func(s *state) { s.finishRestore(j) })
	})
}

// back backs a granted range with memory unless it is already, then reports it.
func (r *Raylet) back(j *backJob) {
	if r.arena.Backed(j.off, j.size) {
		r.do(func(s *state) { s.rangeBacked(j) })
		return
	}
	r.goTracked(func() {
		j.err = r.arena.Reserve(j.off, j.size)
		r.do(func(s *state) { s.rangeBacked(j) })
	})
}

// startTimer delivers t's event after its delay, unless the node stops first.
func (r *Raylet) startTimer(t timer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	var tm *time.Timer
	tm = time.AfterFunc(t.delay, func() {
		r.do(func(s *state) {
			if !r.timers[tm] {
				return // stopped
			}
			delete(r.timers, tm)
			t.fire(s)
		})
	})
	r.timers[tm] = true
}
