package core

import (
	"sync"

	"goray/ids"
)

// refCounter counts the references a process holds to each object: live ObjectRefs in user
// code, objects of the local store that contain the id, and arguments of unfinished tasks.
// When a count falls to zero the object is released from this process.
type refCounter struct {
	mu     sync.Mutex
	counts map[ids.ObjectID]int64
	onZero func(ids.ObjectID)
}

func newRefCounter(onZero func(ids.ObjectID)) *refCounter {
	return &refCounter{counts: map[ids.ObjectID]int64{}, onZero: onZero}
}

func (r *refCounter) add(list ...ids.ObjectID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range list {
		r.counts[id]++
	}
}

func (r *refCounter) remove(list ...ids.ObjectID) {
	var zero []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		n, ok := r.counts[id]
		if !ok {
			continue
		}
		if n <= 1 {
			delete(r.counts, id)
			zero = append(zero, id)
		} else {
			r.counts[id] = n - 1
		}
	}
	r.mu.Unlock()
	for _, id := range zero {
		r.onZero(id)
	}
}

func (r *refCounter) count(id ids.ObjectID) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[id]
}
