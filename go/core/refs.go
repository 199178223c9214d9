package core

import (
	"sync"

	"goray/ids"
	pb "goray/rpc/proto"
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
	// user is the part of count that is ObjectRefs in user code (AddRef), for `ray memory`; the
	// rest are the process's own holds (arguments of its calls in flight, refs inside objects it
	// has).
	user int64
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

func (r *refCounter) add(list ...ids.ObjectID) { r.addRefs(false, list) }

func (r *refCounter) remove(list ...ids.ObjectID) { r.removeRefs(false, list) }

// addRefs counts one more reference to each id of list (user: an ObjectRef in user code).
func (r *refCounter) addRefs(user bool, list []ids.ObjectID) {
	var added []ids.ObjectID
	r.mu.Lock()
	for _, id := range list {
		e := r.refs[id]
		e.count++
		if user {
			e.user++
		}
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

// removeRefs drops one reference to each id of list (user: an ObjectRef in user code).
func (r *refCounter) removeRefs(user bool, list []ids.ObjectID) {
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
			if user && e.user > 0 {
				e.user--
			}
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

// refCounts is what the counter knows of one id, for a report of the process's references.
type refCounts struct {
	id          ids.ObjectID
	count, user int64
}

// snapshot lists every id the process refers to, with its counts.
func (r *refCounter) snapshot() []refCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]refCounts, 0, len(r.refs))
	for id, e := range r.refs {
		if e.count > 0 {
			out = append(out, refCounts{id: id, count: e.count, user: e.user})
		}
	}
	return out
}

// refsReport lists every object this process refers to, as Ray's `ray memory` shows them: the
// ObjectRefs of user code, the holds for calls in flight and inside objects the process has,
// what it reads in shared memory now, and the size of each copy it has (the node's ReportRefs).
func (cw *CoreWorker) refsReport() []*pb.ObjectRefInfo {
	snap := cw.refs.snapshot()
	captured := map[ids.ObjectID][]ids.ObjectID{} // id -> the objects here that hold it
	cw.containedMu.Lock()
	for container, list := range cw.containedHeld {
		for _, id := range list {
			captured[id] = append(captured[id], container)
		}
	}
	cw.containedMu.Unlock()
	pinned := cw.shm.reading()
	out := make([]*pb.ObjectRefInfo, 0, len(snap))
	for _, rc := range snap {
		id := rc.id
		holders := captured[id]
		// (the counts are apart only in what they tell: no more user refs than the count leaves)
		user := rc.user
		if most := rc.count - int64(len(holders)); user > most {
			user = most
		}
		info := &pb.ObjectRefInfo{ObjectId: id[:], LocalRefCount: user, ObjectSize: -1, PinnedInMemory: pinned[id],
			ContainedInOwned: ids.ToBytes(holders)}
		if n := rc.count - user - int64(len(holders)); n > 0 {
			info.SubmittedTaskRefCount = n
		}
		if obj, ok := cw.store.Get(id); ok && obj.Kind != kindUnknown {
			info.Ready, info.Error, info.ObjectSize = true, obj.IsError(), obj.Size()
		}
		out = append(out, info)
	}
	return out
}
