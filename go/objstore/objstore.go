// Package objstore holds objects: the values tasks and Put create, and the errors that stand in
// for values that could not be made. MemoryStore is the index of objects every process keeps (on
// the Go heap); an object whose bytes live in the node's shared-memory store says so (InShm, with
// its range): that store's arena is go/shm, and the node manager's side of it (ranges, pins,
// spilling, restores) is go/raylet/shmstore.go.
package objstore

import (
	"context"
	"sync"

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

// MemoryStore is a Store on the Go heap. It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	objects map[ids.ObjectID]*Object
	waiters map[ids.ObjectID][]*waiter
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{objects: map[ids.ObjectID]*Object{}, waiters: map[ids.ObjectID][]*waiter{}}
}

// Put implements Store.
func (s *MemoryStore) Put(id ids.ObjectID, obj *Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[id]; ok {
		return false
	}
	s.objects[id] = obj
	for _, w := range s.waiters[id] {
		w.need--
		if w.need == 0 {
			close(w.ch)
		}
	}
	delete(s.waiters, id)
	return true
}

// Get implements Store.
func (s *MemoryStore) Get(id ids.ObjectID) (*Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[id]
	return o, ok
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
	missing := map[ids.ObjectID]bool{}
	for _, id := range want {
		if _, ok := s.objects[id]; !ok {
			missing[id] = true
		}
	}
	distinct := map[ids.ObjectID]bool{}
	for _, id := range want {
		distinct[id] = true
	}
	if n > len(distinct) {
		n = len(distinct)
	}
	present := len(distinct) - len(missing)
	var err error
	if present < n {
		w := &waiter{need: n - present, ch: make(chan struct{})}
		for id := range missing {
			s.waiters[id] = append(s.waiters[id], w)
		}
		s.mu.Unlock()
		select {
		case <-w.ch:
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.mu.Lock()
		for id := range missing {
			s.removeWaiter(id, w)
		}
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

func (s *MemoryStore) removeWaiter(id ids.ObjectID, w *waiter) {
	list := s.waiters[id]
	for i, x := range list {
		if x == w {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = list
	}
}
