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
	mu   sync.Mutex
	refs map[ids.ObjectID]refEntry
	// onZero runs (without mu) for each id whose count fell to zero.
	onZero func(ids.ObjectID)
	// notify queues a notice to the node; called with mu held, it must not block. nil in local mode.
	notify func(added, removed []ids.ObjectID)
	// flush sends what notify queued; called without mu.
	flush func()
}

// refEntry is what the counter knows of one id: one map entry (one lookup per change) for both.
type refEntry struct {
	count int64
	// held: the node counts this process as holding the id, announced or implied by the message
	// that created it (Put, task submission). An entry may be held with a count of zero.
	held bool
	// local: the object is a direct actor call's result that only this process knows (see
	// directCalls): no notices go to the node about it until it is published.
	local bool
}

func newRefCounter(onZero func(ids.ObjectID)) *refCounter {
	return &refCounter{refs: map[ids.ObjectID]refEntry{}, onZero: onZero}
}

// markHeld records that the node already counts this process as holding id.
func (r *refCounter) markHeld(id ids.ObjectID) {
	if r.notify == nil {
		return
	}
	r.mu.Lock()
	e := r.refs[id]
	e.held = true
	r.refs[id] = e
	r.mu.Unlock()
}

// markLocal records that id is a direct call's result the node does not know: no notices about
// it until takeLocal.
func (r *refCounter) markLocal(id ids.ObjectID) {
	if r.notify == nil {
		return
	}
	r.mu.Lock()
	e := r.refs[id]
	e.local = true
	r.refs[id] = e
	r.mu.Unlock()
}

// takeLocal returns the ids of list that only this process knows (markLocal), marking them held:
// the caller publishes them to the node (a message that makes the node count this process as
// holding them) before anything else refers to them there.
func (r *refCounter) takeLocal(list []ids.ObjectID) []ids.ObjectID {
	if r.notify == nil || len(list) == 0 {
		return nil
	}
	var out []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		e, ok := r.refs[id]
		if !ok || !e.local {
			continue
		}
		e.local, e.held = false, true
		r.refs[id] = e
		out = append(out, id)
	}
	r.mu.Unlock()
	return out
}

// heldByNode turns a local entry into one the node counts as held (a direct call's result the
// node stored in shared memory on this process's behalf). It reports false when this process
// has no entry for id any more (every reference was dropped before the result came).
func (r *refCounter) heldByNode(id ids.ObjectID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.refs[id]
	if !ok {
		return false
	}
	e.local, e.held = false, true
	r.refs[id] = e
	return true
}

// known reports whether this process has an entry (a reference or a mark) for id.
func (r *refCounter) known(id ids.ObjectID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.refs[id]
	return ok
}

func (r *refCounter) add(list ...ids.ObjectID) {
	var added []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		e := r.refs[id]
		e.count++
		if r.notify != nil && !e.held && !e.local {
			e.held = true
			added = append(added, id)
		}
		r.refs[id] = e
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
	var few [4]ids.ObjectID // the usual call drops one ref: no allocation for the ids it frees
	zero := few[:0]
	var removed []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		e, ok := r.refs[id]
		if !ok || e.count == 0 {
			continue
		}
		if e.count > 1 {
			e.count--
			r.refs[id] = e
			continue
		}
		delete(r.refs, id)
		zero = append(zero, id)
		if e.held {
			removed = append(removed, id)
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
	return r.refs[id].count
}
