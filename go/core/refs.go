package core

import (
	"sync"

	"goray/ids"
)

// refCounter counts the references a process holds to each object: live ObjectRefs in user
// code, objects of the local store that contain the id, and arguments of unfinished tasks.
// When a count falls to zero the object is released from this process.
//
// On a node, the node manager frees an object once no process (nor pending task, nor stored
// object) refers to it, so a process tells it when it gains its first reference to an id and
// when it drops its last one. Those notices are queued in the order of the changes (under the
// counter's lock, without blocking) and sent after the lock is released.
type refCounter struct {
	mu     sync.Mutex
	counts map[ids.ObjectID]int64
	// held lists the ids the node counts this process as holding: announced, or implied by the
	// message that created them (Put, task submission).
	held   map[ids.ObjectID]bool
	onZero func(ids.ObjectID)
	// notify queues a notice to the node; called with mu held, it must not block. nil in local mode.
	notify func(added, removed []ids.ObjectID)
	// flush sends what notify queued; called without mu.
	flush func()
}

func newRefCounter(onZero func(ids.ObjectID)) *refCounter {
	return &refCounter{counts: map[ids.ObjectID]int64{}, held: map[ids.ObjectID]bool{}, onZero: onZero}
}

// markHeld records that the node already counts this process as holding id.
func (r *refCounter) markHeld(id ids.ObjectID) {
	if r.notify == nil {
		return
	}
	r.mu.Lock()
	r.held[id] = true
	r.mu.Unlock()
}

func (r *refCounter) add(list ...ids.ObjectID) {
	var added []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		r.counts[id]++
		if r.notify != nil && !r.held[id] {
			r.held[id] = true
			added = append(added, id)
		}
	}
	if len(added) > 0 {
		r.notify(added, nil)
	}
	r.mu.Unlock()
	if len(added) > 0 {
		r.flush()
	}
}

func (r *refCounter) remove(list ...ids.ObjectID) {
	var zero, removed []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		n, ok := r.counts[id]
		if !ok {
			continue
		}
		if n <= 1 {
			delete(r.counts, id)
			zero = append(zero, id)
			if r.held[id] {
				delete(r.held, id)
				removed = append(removed, id)
			}
		} else {
			r.counts[id] = n - 1
		}
	}
	if len(removed) > 0 {
		r.notify(nil, removed)
	}
	r.mu.Unlock()
	if len(removed) > 0 {
		r.flush()
	}
	for _, id := range zero {
		r.onZero(id)
	}
}

func (r *refCounter) count(id ids.ObjectID) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[id]
}
