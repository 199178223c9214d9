package raylet

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/ids"
	pb "goray/rpc/proto"
)

// Object creation waits for room, as in Ray's plasma store (its CreateRequestQueue).
//
// A CreateObject that does not fit joins a queue served in arrival order. While the head does not
// fit, unpinned objects are spilled to disk for it (one round at a time, outside the node's lock);
// when nothing can be spilled (every object is pinned by a reader or a running task, or being
// written), the head waits for the store to change: a pin dropped, an object freed or sealed, a
// spill done. Only after a grace period with no progress (RAY_oom_grace_period_s, Ray's name,
// default 2 s) do the requests that still do not fit fail with ObjectStoreFullError. Requests that
// can never fit (larger than the store) fail at once.

// EnvOOMGracePeriod overrides how long object creation waits without progress before it fails
// with ObjectStoreFullError, in seconds (Ray's RAY_oom_grace_period_s; default 2).
const EnvOOMGracePeriod = "RAY_oom_grace_period_s"

// createRequest is a CreateObject waiting for room.
type createRequest struct {
	c  *client
	m  *pb.CreateObject
	id ids.ObjectID
}

// createQueue is the node's waiting CreateObject requests and the state of serving them.
type createQueue struct {
	waiting  []*createRequest // oldest first
	spilling bool             // a spill round for the head is under way
	serving  bool             // serveCreates is running (it loops instead of re-entering)
	again    bool             // the store changed while serving
	progress time.Time        // when the queue last made progress (a grant, a spill, freed bytes)
	grace    time.Duration    // how long it may wait without progress (RAY_oom_grace_period_s)
	// timerArmed is set while a timer will look at the queue again (see armCreateTimer).
	timerArmed bool
}

// createObject reserves a range for a client's new object, at once when there is room and no
// request waits before it, or once the queue gets to it. Called with r.mu held.
func (s *state) createObject(c *client, m *pb.CreateObject) {
	id, err := ids.ObjectIDFromBytes(m.ObjectId)
	if err != nil {
		s.failCreate(c, m, fmt.Errorf("create object: %w", err))
		return
	}
	if m.Size <= 0 {
		s.failCreate(c, m, fmt.Errorf("create object %s: size %d must be positive", id.Hex(), m.Size))
		return
	}
	_, reserved := s.shmObjs[id]
	if _, stored := s.store.Get(id); reserved || stored {
		s.failCreate(c, m, fmt.Errorf("create object %s: it exists already", id.Hex()))
		return
	}
	for _, w := range s.creates.waiting {
		if w.id == id {
			s.failCreate(c, m, fmt.Errorf("create object %s: it is being created already", id.Hex()))
			return
		}
	}
	if len(s.creates.waiting) == 0 {
		s.creates.progress = s.now
	}
	s.creates.waiting = append(s.creates.waiting, &createRequest{c: c, m: m, id: id})
	s.serveCreates()
}

func (s *state) failCreate(c *client, m *pb.CreateObject, err error) {
	s.reply(c, &pb.Reply{RequestId: m.RequestId, Error: err.Error(), StoreFull: errors.Is(err, errStoreFull)})
}

// storeChanged tells the create queue that room may have appeared: bytes were freed, an object
// became a spill candidate (sealed, or its last pin dropped). Called with r.mu held.
func (s *state) storeChanged() {
	if len(s.creates.waiting) > 0 {
		s.serveCreates()
	}
}

// serveCreates grants waiting requests in order while they fit, spills for the first that does
// not, or waits for the store to change. Called with r.mu held.
func (s *state) serveCreates() {
	q := &s.creates
	if q.serving {
		q.again = true
		return
	}
	q.serving = true
	defer func() { q.serving = false }()
	for {
		q.again = false
		s.serveCreatesOnce()
		if !q.again {
			return
		}
	}
}

func (s *state) serveCreatesOnce() {
	q := &s.creates
	for len(q.waiting) > 0 && !s.stopped {
		req := q.waiting[0]
		if !s.clients[req.c] {
			q.waiting = q.waiting[1:] // its writer went away
			continue
		}
		off, err := s.reserveNow(req.m.Size)
		if errors.Is(err, errNoRoom) {
			if !q.spilling {
				s.spillFor(req.m.Size)
			}
			if !q.spilling {
				s.armCreateTimer()
			}
			return
		}
		q.waiting = q.waiting[1:]
		if err != nil {
			s.failCreate(req.c, req.m, err)
			continue
		}
		q.progress = s.now
		s.grantCreate(req, off)
	}
}

// spillFor starts a spill round that frees room for size bytes, when there is anything to spill.
// Called with the node's lock held.
func (s *state) spillFor(size int64) {
	jobs := s.chooseVictims(size)
	if len(jobs) == 0 {
		return
	}
	s.creates.spilling = true
	s.eff.spill = append(s.eff.spill, jobs)
}

// spillsWritten is the event of a spill round written to disk (each job with its error, if any).
func (s *state) spillsWritten(jobs []*spillJob) {
	s.creates.spilling = false
	if s.finishSpills(jobs) > 0 {
		s.creates.progress = s.now
	}
	s.serveCreates()
}

// graceFor is how long object creation may wait without progress.
func graceFor() time.Duration { return envSeconds(EnvOOMGracePeriod, 2*time.Second) }

// armCreateTimer makes sure the queue is looked at again when its grace period may run out.
// Called with the node's lock held.
func (s *state) armCreateTimer() {
	q := &s.creates
	if q.timerArmed {
		return
	}
	q.timerArmed = true
	d := q.progress.Add(q.grace).Sub(s.now)
	if d < 0 {
		d = 0
	}
	s.after(d, func(s *state) {
		s.creates.timerArmed = false
		s.createGraceEnded()
	})
}

// createGraceEnded fails the waiting requests that still do not fit once the grace period went by
// with no progress; otherwise it waits again. Called with the node's lock held.
func (s *state) createGraceEnded() {
	q := &s.creates
	if s.stopped || len(q.waiting) == 0 {
		return
	}
	if q.spilling || s.now.Sub(q.progress) < q.grace {
		s.serveCreates()
		if len(q.waiting) > 0 && !q.spilling {
			s.armCreateTimer()
		}
		return
	}
	keep := q.waiting[:0]
	for _, req := range q.waiting {
		if !s.clients[req.c] {
			continue
		}
		off, err := s.reserveNow(req.m.Size)
		switch {
		case err == nil:
			s.grantCreate(req, off)
		case errors.Is(err, errNoRoom):
			s.failCreate(req.c, req.m, storeFull("no room for %d bytes after waiting %v without progress: %d of %d bytes are in use by objects that are being written, read or used by running tasks (or the free space is fragmented)",
				req.m.Size, q.grace, s.alloc.Used(), s.alloc.Capacity()))
		default:
			s.failCreate(req.c, req.m, err)
		}
	}
	for i := range q.waiting {
		q.waiting[i] = nil
	}
	q.waiting = keep
	q.progress = s.now
}

// backJob asks the driver to back a granted range with memory (see shm.Arena.Reserve) before the
// writer is answered; err is the outcome.
type backJob struct {
	c         *client
	m         *pb.CreateObject
	id        ids.ObjectID
	so        *shmObject
	off, size int64 // the range
	err       error
}

// grantCreate records the range reserved for a request; the writer is answered once the range
// is backed by memory (rangeBacked). Called with the node's lock held.
func (s *state) grantCreate(req *createRequest, off int64) {
	s.shmSeq++
	so := &shmObject{off: off, size: req.m.Size, creator: req.c, seq: s.shmSeq}
	s.shmObjs[req.id] = so
	s.eff.back = append(s.eff.back, &backJob{c: req.c, m: req.m, id: req.id, so: so, off: off, size: req.m.Size})
}

// rangeBacked is the event of a granted range backed with memory (or not: j.err).
func (s *state) rangeBacked(j *backJob) {
	if s.stopped || s.shmObjs[j.id] != j.so {
		return // the writer went away meanwhile, and its range with it
	}
	if j.err != nil {
		delete(s.shmObjs, j.id)
		if ferr := s.alloc.Free(j.so.off, j.so.size); ferr != nil {
			glog.Errorf("object store: %v", ferr)
		}
		s.failCreate(j.c, j.m, backingFailed(j.so.size, j.err))
		s.storeChanged()
		return
	}
	s.reply(j.c, &pb.Reply{RequestId: j.m.RequestId, ShmOffset: j.so.off})
}

// WaitingCreates is how many CreateObject requests wait for room in the object store.
func (r *Raylet) WaitingCreates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.creates.waiting)
}
