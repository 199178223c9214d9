package raylet

import (
	"goray/ids"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// objectRefs is what keeps one object alive on the node. The node frees an object (and drops
// the references it contains) as soon as nothing below refers to it:
//   - holders: processes with a live ObjectRef to it (announced with UpdateRefs; implied for
//     the putter of an object and the submitter of the task that returns it);
//   - holds: unfinished tasks that take it as an argument (by ref, or inside a value), live
//     actors whose factory takes it, and stored objects that contain it.
//
// A process's stream is ordered, so a reference handed on (in a task, inside a stored object)
// is counted by its new holder before the message that drops the sender's own arrives.
type objectRefs struct {
	holders map[*client]struct{}
	holds   int
}

// refsOf returns id's entry, making it if needed. Called with r.mu held.
func (r *Raylet) refsOf(id ids.ObjectID) *objectRefs {
	e := r.refs[id]
	if e == nil {
		e = &objectRefs{holders: map[*client]struct{}{}}
		r.refs[id] = e
	}
	return e
}

// addHolder counts c as holding id. Called with r.mu held.
func (r *Raylet) addHolder(c *client, id ids.ObjectID) {
	if _, ok := c.held[id]; ok {
		return
	}
	c.held[id] = struct{}{}
	r.refsOf(id).holders[c] = struct{}{}
}

// removeHolder drops c's hold on id and frees the object if that was the last reference.
// Called with r.mu held.
func (r *Raylet) removeHolder(c *client, id ids.ObjectID) {
	if _, ok := c.held[id]; !ok {
		return
	}
	delete(c.held, id)
	if e := r.refs[id]; e != nil {
		delete(e.holders, c)
	}
	r.maybeFree(id)
}

// dropHolder forgets every reference of a client that went away. Called with r.mu held.
func (r *Raylet) dropHolder(c *client) {
	for id := range c.held {
		r.removeHolder(c, id)
	}
}

// updateRefs applies a client's UpdateRefs. Called with r.mu held.
func (r *Raylet) updateRefs(c *client, m *pb.UpdateRefs) error {
	added, err := ids.ObjectIDsFromBytes(m.Added)
	if err != nil {
		return err
	}
	removed, err := ids.ObjectIDsFromBytes(m.Removed)
	if err != nil {
		return err
	}
	for _, id := range added {
		r.addHolder(c, id)
	}
	for _, id := range removed {
		r.removeHolder(c, id)
	}
	return nil
}

// hold counts one more hold on each id; unhold drops one and frees what nothing refers to any
// more. Called with r.mu held.
func (r *Raylet) hold(list []ids.ObjectID) {
	for _, id := range list {
		r.refsOf(id).holds++
	}
}

func (r *Raylet) unhold(list []ids.ObjectID) {
	for _, id := range list {
		if e := r.refs[id]; e != nil && e.holds > 0 {
			e.holds--
		}
		r.maybeFree(id)
	}
}

// maybeFree frees id when nothing refers to it. A task's return object that is not made yet
// is checked again when it is stored. Called with r.mu held.
func (r *Raylet) maybeFree(id ids.ObjectID) {
	if e := r.refs[id]; e != nil {
		if len(e.holders) > 0 || e.holds > 0 {
			return
		}
		delete(r.refs, id)
	}
	obj, ok := r.store.Get(id)
	if !ok {
		return
	}
	r.store.Delete(id)
	r.objectFreed(id, obj)
	r.unhold(obj.Contained)
}

// holdTaskRefs holds the objects a task's arguments refer to until releaseTaskRefs. Called with
// r.mu held.
func (r *Raylet) holdTaskRefs(t *task) {
	t.heldRefs = wire.ArgRefs(t.spec)
	r.hold(t.heldRefs)
}

// releaseTaskRefs drops what holdTaskRefs held (once). Called with r.mu held.
func (r *Raylet) releaseTaskRefs(t *task) {
	list := t.heldRefs
	t.heldRefs = nil
	r.unhold(list)
}
