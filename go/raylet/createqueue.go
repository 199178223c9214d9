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
	timer    *time.Timer      // fires when the grace period may have run out
}

// createObject reserves a range for a client's new object, at once when there is room and no
// request waits before it, or once the queue gets to it. Called with r.mu held.
func (r *Raylet) createObject(c *client, m *pb.CreateObject) {
	id, err := ids.ObjectIDFromBytes(m.ObjectId)
	if err != nil {
		r.failCreate(c, m, fmt.Errorf("create object: %w", err))
		return
	}
	if m.Size <= 0 {
		r.failCreate(c, m, fmt.Errorf("create object %s: size %d must be positive", id.Hex(), m.Size))
		return
	}
	if _, ok := r.shmObjs[id]; ok {
		r.failCreate(c, m, fmt.Errorf("create object %s: it exists already", id.Hex()))
		return
	}
	if _, ok := r.store.Get(id); ok {
		r.failCreate(c, m, fmt.Errorf("create object %s: it exists already", id.Hex()))
		return
	}
	for _, w := range r.creates.waiting {
		if w.id == id {
			r.failCreate(c, m, fmt.Errorf("create object %s: it is being created already", id.Hex()))
			return
		}
	}
	if len(r.creates.waiting) == 0 {
		r.creates.progress = time.Now()
	}
	r.creates.waiting = append(r.creates.waiting, &createRequest{c: c, m: m, id: id})
	r.serveCreates()
}

func (r *Raylet) failCreate(c *client, m *pb.CreateObject, err error) {
	r.reply(c, &pb.Reply{RequestId: m.RequestId, Error: err.Error(), StoreFull: errors.Is(err, errStoreFull)})
}

// storeChanged tells the create queue that room may have appeared: bytes were freed, an object
// became a spill candidate (sealed, or its last pin dropped). Called with r.mu held.
func (r *Raylet) storeChanged() {
	if len(r.creates.waiting) > 0 {
		r.serveCreates()
	}
}

// serveCreates grants waiting requests in order while they fit, spills for the first that does
// not, or waits for the store to change. Called with r.mu held.
func (r *Raylet) serveCreates() {
	q := &r.creates
	if q.serving {
		q.again = true
		return
	}
	q.serving = true
	defer func() { q.serving = false }()
	for {
		q.again = false
		r.serveCreatesOnce()
		if !q.again {
			return
		}
	}
}

func (r *Raylet) serveCreatesOnce() {
	q := &r.creates
	for len(q.waiting) > 0 && !r.stopped {
		req := q.waiting[0]
		if !r.clients[req.c] {
			q.waiting = q.waiting[1:] // its writer went away
			continue
		}
		off, err := r.reserveNow(req.m.Size)
		if errors.Is(err, errNoRoom) {
			if !q.spilling {
				r.spillFor(req.m.Size)
			}
			if !q.spilling {
				r.armCreateTimer()
			}
			return
		}
		q.waiting = q.waiting[1:]
		if err != nil {
			r.failCreate(req.c, req.m, err)
			continue
		}
		q.progress = time.Now()
		r.grantCreate(req, off)
	}
	if len(q.waiting) == 0 && q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
}

// spillFor starts a spill round that frees room for size bytes, when there is anything to spill.
// Called with r.mu held.
func (r *Raylet) spillFor(size int64) {
	jobs := r.chooseVictims(size)
	if len(jobs) == 0 {
		return
	}
	r.creates.spilling = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		writeSpills(r.cfg.SpillDir, jobs)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.creates.spilling = false
		if r.finishSpills(jobs) > 0 {
			r.creates.progress = time.Now()
		}
		r.serveCreates()
	}()
}

// armCreateTimer makes sure the queue is looked at again when its grace period may run out.
// Called with r.mu held.
func (r *Raylet) armCreateTimer() {
	q := &r.creates
	if q.timer != nil {
		return
	}
	d := time.Until(q.progress.Add(envSeconds(EnvOOMGracePeriod, 2*time.Second)))
	if d < 0 {
		d = 0
	}
	q.timer = time.AfterFunc(d, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		q.timer = nil
		r.createGraceEnded()
	})
}

// createGraceEnded fails the waiting requests that still do not fit once the grace period went by
// with no progress; otherwise it waits again. Called with r.mu held.
func (r *Raylet) createGraceEnded() {
	q := &r.creates
	if r.stopped || len(q.waiting) == 0 {
		return
	}
	grace := envSeconds(EnvOOMGracePeriod, 2*time.Second)
	if q.spilling || time.Since(q.progress) < grace {
		r.serveCreates()
		if len(q.waiting) > 0 && !q.spilling {
			r.armCreateTimer()
		}
		return
	}
	keep := q.waiting[:0]
	for _, req := range q.waiting {
		if !r.clients[req.c] {
			continue
		}
		off, err := r.reserveNow(req.m.Size)
		switch {
		case err == nil:
			r.grantCreate(req, off)
		case errors.Is(err, errNoRoom):
			r.failCreate(req.c, req.m, storeFull("no room for %d bytes after waiting %v without progress: %d of %d bytes are in use by objects that are being written, read or used by running tasks (or the free space is fragmented)",
				req.m.Size, grace, r.alloc.Used(), r.alloc.Capacity()))
		default:
			r.failCreate(req.c, req.m, err)
		}
	}
	for i := range q.waiting {
		q.waiting[i] = nil
	}
	q.waiting = keep
	q.progress = time.Now()
}

// grantCreate records the range reserved for a request and answers it, once the range is backed
// by memory. Called with r.mu held.
func (r *Raylet) grantCreate(req *createRequest, off int64) {
	c, m, id := req.c, req.m, req.id
	r.shmSeq++
	so := &shmObject{off: off, size: m.Size, creator: c, seq: r.shmSeq}
	r.shmObjs[id] = so
	if r.arena.Backed(off, m.Size) {
		r.reply(c, &pb.Reply{RequestId: m.RequestId, ShmOffset: off})
		return
	}
	// Fresh memory: back it (see shm.Arena.Reserve) outside the lock, then answer.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.arena.Reserve(off, m.Size)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.stopped || r.shmObjs[id] != so {
			return // the writer went away meanwhile, and its range with it
		}
		if err != nil {
			delete(r.shmObjs, id)
			if ferr := r.alloc.Free(off, m.Size); ferr != nil {
				glog.Errorf("object store: %v", ferr)
			}
			r.failCreate(c, m, backingFailed(m.Size, err))
			r.storeChanged()
			return
		}
		r.reply(c, &pb.Reply{RequestId: m.RequestId, ShmOffset: off})
	}()
}

// WaitingCreates is how many CreateObject requests wait for room in the object store.
func (r *Raylet) WaitingCreates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.creates.waiting)
}
