// Package objstore holds objects: the values tasks and Put create, and the errors that stand in
// for values that could not be made. MemoryStore is the index of objects every process keeps (on
// the Go heap); an object whose bytes live in the node's shared-memory store says so (InShm, with
// its range): that store's arena is go/shm, and the node manager's side of it (ranges, pins,
// spilling, restores) is go/raylet/shmstore.go.
package objstore

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"goray/ids"
)

// Kinds of object; they mirror enum ray_object_kind in include/ray/c_api.h.
const (
	KindValue            int32 = 0
	KindTaskError        int32 = 1
	KindFunctionNotFound int32 = 2
	KindWorkerDied       int32 = 3
	KindActorDied        int32 = 4
	KindLost             int32 = 5
	// KindStoreFull stands in, for one Get, for an object the node could not bring back into
	// shared memory (no room even after spilling). It never reaches user code as a value.
	KindStoreFull int32 = 6
	// KindOwnerDied stands for an object whose owner (the process that made it, with the node
	// that kept it) is gone, so nobody can find or rebuild it: Ray's OwnerDiedError.
	KindOwnerDied int32 = 7
)

// Object is a stored value (msgpack bytes) or an error message, by Kind.
type Object struct {
	Data      []byte
	Kind      int32
	Contained []ids.ObjectID
	// InShm marks a value whose bytes live in the node's shared-memory arena at
	// [ShmOffset, ShmOffset+ShmSize) rather than in Data.
	InShm     bool
	ShmOffset int64
	ShmSize   int64
}

// Size is the bytes of the object's value, wherever they are.
func (o *Object) Size() int64 {
	if o.InShm {
		return o.ShmSize
	}
	return int64(len(o.Data))
}

// IsError tells whether the object stands for a failure rather than a value.
func (o *Object) IsError() bool { return o.Kind != KindValue }

// Store is what a node or a process keeps objects in.
type Store interface {
	// Put stores obj under id; it reports false, and keeps the first, when id is already there.
	Put(id ids.ObjectID, obj *Object) bool
	// Get returns the object if it is present.
	Get(id ids.ObjectID) (*Object, bool)
	// Delete forgets the object.
	Delete(id ids.ObjectID)
	// WaitN blocks until at least n of the ids are present or ctx ends, and tells which are present.
	WaitN(ctx context.Context, want []ids.ObjectID, n int) ([]bool, error)
	// Len is the number of objects held.
	Len() int
}

type waiter struct {
	need int
	ch   chan struct{}
}

// waiters are the waiters of one id: nearly always one, kept in the map's value without an
// allocation of its own.
type waiters struct {
	first *waiter
	more  []*waiter
}

// MemoryStore is a Store on the Go heap. It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	objects map[ids.ObjectID]*Object
	waiters map[ids.ObjectID]waiters
	// spin is how long one waiter at a time polls before it sleeps (see SetSpin).
	spin     time.Duration
	spinning atomic.Bool
}

// SetSpin makes WaitN for a single object poll for up to d before it sleeps, one waiter at a
// time. A result that comes within d then costs no thread wake-up: for a thread that waits for a
// reply a round trip away (a synchronous call), the wake-up is a large part of the wait. (A wait
// for many objects is a batch, whose results come while other work runs: it sleeps at once and
// leaves the CPU to that work.) Use it only where the process has another CPU to receive the
// reply on (GOMAXPROCS > 1); 0 turns it off.
func (s *MemoryStore) SetSpin(d time.Duration) { s.spin = d }

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{objects: map[ids.ObjectID]*Object{}, waiters: map[ids.ObjectID]waiters{}}
}

// Put implements Store.
func (s *MemoryStore) Put(id ids.ObjectID, obj *Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[id]; ok {
		return false
	}
	s.objects[id] = obj
	if ws, ok := s.waiters[id]; ok {
		ws.first.arrived()
		for _, w := range ws.more {
			w.arrived()
		}
		delete(s.waiters, id)
	}
	return true
}

// arrived counts one awaited id as present; called with the store's lock held.
func (w *waiter) arrived() {
	w.need--
	if w.need == 0 {
		close(w.ch)
	}
}

// Get implements Store.
func (s *MemoryStore) Get(id ids.ObjectID) (*Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[id]
	return o, ok
}

// scanChunk is how many ids a scan of a list looks up per hold of the lock, so that a long scan
// does not keep Put (and the waiters it wakes) waiting.
const scanChunk = 128

// scan calls f on list a chunk at a time (start: the chunk's index in list) with the lock held,
// until f returns false.
func (s *MemoryStore) scan(list []ids.ObjectID, f func(start int, chunk []ids.ObjectID) bool) {
	for start := 0; start < len(list); start += scanChunk {
		end := start + scanChunk
		if end > len(list) {
			end = len(list)
		}
		s.mu.Lock()
		more := f(start, list[start:end])
		s.mu.Unlock()
		if !more {
			return
		}
	}
}

// ScanPresent calls visit(i, obj) for each id of list, in order, that is present, until visit
// returns false. It looks ids up a chunk at a time under one hold of the lock rather than one
// lock per id; visit runs with the lock held, so it must not call the store.
func (s *MemoryStore) ScanPresent(list []ids.ObjectID, visit func(i int, obj *Object) bool) {
	s.scan(list, func(start int, chunk []ids.ObjectID) bool {
		for i, id := range chunk {
			if o, ok := s.objects[id]; ok && !visit(start+i, o) {
				return false
			}
		}
		return true
	})
}

// AppendMissing appends to out the ids of list that are not present, in order (an id listed
// twice and missing is appended twice).
func (s *MemoryStore) AppendMissing(out, list []ids.ObjectID) []ids.ObjectID {
	s.scan(list, func(_ int, chunk []ids.ObjectID) bool {
		for _, id := range chunk {
			if _, ok := s.objects[id]; !ok {
				out = append(out, id)
			}
		}
		return true
	})
	return out
}

// AnyMissing tells whether some id of list is not present.
func (s *MemoryStore) AnyMissing(list []ids.ObjectID) bool {
	missing := false
	s.scan(list, func(_ int, chunk []ids.ObjectID) bool {
		for _, id := range chunk {
			if _, ok := s.objects[id]; !ok {
				missing = true
				return false
			}
		}
		return true
	})
	return missing
}

// Delete implements Store.
func (s *MemoryStore) Delete(id ids.ObjectID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, id)
}

// Len implements Store.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects)
}

// WaitN implements Store. n larger than the number of distinct ids waits for all of them.
func (s *MemoryStore) WaitN(ctx context.Context, want []ids.ObjectID, n int) ([]bool, error) {
	s.mu.Lock()
	// The waiter is registered on each distinct missing id as the scan finds it (an id listed
	// again finds it registered already), and taken off again if there is nothing to wait for.
	w := &waiter{}
	var missing []ids.ObjectID // distinct
	presentAll := 0            // present ids, each time listed
	for _, id := range want {
		if _, ok := s.objects[id]; ok {
			presentAll++
		} else if s.addWaiter(id, w) {
			missing = append(missing, id)
		}
	}
	present := presentAll
	if presentAll > 1 {
		// An id may be listed twice: count the present ones once each.
		seen := make(map[ids.ObjectID]bool, presentAll)
		for _, id := range want {
			if _, ok := s.objects[id]; ok {
				seen[id] = true
			}
		}
		present = len(seen)
	}
	if distinct := present + len(missing); n > distinct {
		n = distinct
	}
	var err error
	if present < n {
		w.need = n - present
		w.ch = make(chan struct{})
		s.mu.Unlock()
		if len(want) != 1 || !s.poll(w.ch) {
			select {
			case <-w.ch:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		s.mu.Lock()
	}
	for _, id := range missing {
		s.removeWaiter(id, w)
	}
	ready := make([]bool, len(want))
	for i, id := range want {
		_, ready[i] = s.objects[id]
	}
	s.mu.Unlock()
	if err != nil {
		// Objects may have arrived just as the context ended: report success if they did.
		count := 0
		seen := map[ids.ObjectID]bool{}
		for i, id := range want {
			if ready[i] && !seen[id] {
				seen[id] = true
				count++
			}
		}
		if count >= n {
			err = nil
		}
	}
	return ready, err
}

// addWaiter registers w on id; it reports false when w is registered there already (w is always
// the last one registered on the ids of its scan).
// poll waits for ch to close for up to s.spin without sleeping, when no other waiter polls; it
// reports whether ch closed.
func (s *MemoryStore) poll(ch chan struct{}) bool {
	if s.spin <= 0 || !s.spinning.CompareAndSwap(false, true) {
		return false
	}
	defer s.spinning.Store(false)
	deadline := time.Now().Add(s.spin)
	for {
		select {
		case <-ch:
			return true
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		// A system call, not a busy loop in Go: while it runs, this thread's P may run (or
		// give away) the goroutines this one readied, such as the stream writer of a call
		// just sent; and the CPU goes to any other thread that wants it.
		syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

func (s *MemoryStore) addWaiter(id ids.ObjectID, w *waiter) bool {
	ws, ok := s.waiters[id]
	switch {
	case !ok:
		s.waiters[id] = waiters{first: w}
		return true
	case len(ws.more) > 0 && ws.more[len(ws.more)-1] == w, len(ws.more) == 0 && ws.first == w:
		return false
	}
	ws.more = append(ws.more, w)
	s.waiters[id] = ws
	return true
}

func (s *MemoryStore) removeWaiter(id ids.ObjectID, w *waiter) {
	ws, ok := s.waiters[id]
	if !ok {
		return // the id arrived, which took its waiters off
	}
	if ws.first == w {
		if len(ws.more) == 0 {
			delete(s.waiters, id)
			return
		}
		ws.first = ws.more[0]
		ws.more = ws.more[1:]
	} else {
		for i, x := range ws.more {
			if x == w {
				ws.more = append(ws.more[:i:i], ws.more[i+1:]...)
				break
			}
		}
	}
	if len(ws.more) == 0 {
		ws.more = nil
	}
	s.waiters[id] = ws
}
