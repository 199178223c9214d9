package raylet

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// objectRefs is what keeps one object alive on the node. The node frees an object (and drops
// the references it contains) as soon as nothing below refers to it:
//   - holders: processes with a live ObjectRef to it (announced with UpdateRefs; implied for
//     the putter of an object, the submitter of the task that returns it, a client that promised
//     to put it (ExpectObjects), and the holder a SealObject names);
//   - holds: unfinished tasks that take it as an argument (by ref, or inside a value), live
//     actors whose factory takes it, and stored objects that contain it.
//
// A process's stream is ordered, so a reference handed on (in a task, inside a stored object)
// is counted by its new holder before the message that drops the sender's own arrives. A
// reference handed on outside the node (a direct actor call's arguments or result) is announced
// for its new holder by the sender (UpdateRefs.holder_id), which waits for the node to have it
// (Barrier) before the call or result leaves.
type objectRefs struct {
	holders map[*client]struct{}
	holds   int
}

// refsOf returns id's entry, making it if needed. Called with r.mu held.
func (s *state) refsOf(id ids.ObjectID) *objectRefs {
	e := s.refs[id]
	if e == nil {
		e = &objectRefs{holders: map[*client]struct{}{}}
		s.refs[id] = e
	}
	return e
}

// addHolder counts c as holding id. Called with r.mu held.
func (s *state) addHolder(c *client, id ids.ObjectID) {
	if _, ok := c.held[id]; ok {
		return
	}
	c.held[id] = struct{}{}
	s.refsOf(id).holders[c] = struct{}{}
}

// removeHolder drops c's hold on id and frees the object if that was the last reference.
// Called with r.mu held.
func (s *state) removeHolder(c *client, id ids.ObjectID) {
	if _, ok := c.held[id]; !ok {
		return
	}
	delete(c.held, id)
	if e := s.refs[id]; e != nil {
		delete(e.holders, c)
	}
	s.maybeFree(id)
}

// dropHolder forgets every reference of a client that went away. Called with r.mu held.
func (s *state) dropHolder(c *client) {
	for id := range c.held {
		s.removeHolder(c, id)
	}
}

// updateRefs applies a client's UpdateRefs. Called with r.mu held.
func (s *state) updateRefs(c *client, m *pb.UpdateRefs) error {
	added, err := ids.ObjectIDsFromBytes(m.Added)
	if err != nil {
		return err
	}
	removed, err := ids.ObjectIDsFromBytes(m.Removed)
	if err != nil {
		return err
	}
	if len(m.HolderId) > 0 {
		// References handed to another process on a stream that bypasses the node.
		holder, err := s.clientByWorker(m.HolderId)
		if err != nil {
			return fmt.Errorf("update refs: holder: %w", err)
		}
		if len(removed) > 0 {
			return errors.New("update refs: a notice for another holder may only add references")
		}
		if c = holder; c == nil {
			if s.inCluster() && len(added) > 0 {
				// A process of another node (one of this node's actors answered its call), or
				// one that went away: kept until a node pulls them, within a bound.
				s.holdForRemote(added)
			}
			return nil
		}
	}
	for _, id := range added {
		s.addHolder(c, id)
	}
	for _, id := range removed {
		s.removeHolder(c, id)
	}
	return nil
}

// hold counts one more hold on each id; unhold drops one and frees what nothing refers to any
// more. Called with r.mu held.
func (s *state) hold(list []ids.ObjectID) {
	for _, id := range list {
		s.refsOf(id).holds++
	}
}

func (s *state) unhold(list []ids.ObjectID) {
	for _, id := range list {
		if e := s.refs[id]; e != nil && e.holds > 0 {
			e.holds--
		}
		s.maybeFree(id)
	}
}

// referenced tells whether anything of this node refers to id. Called with r.mu held.
func (s *state) referenced(id ids.ObjectID) bool {
	e := s.refs[id]
	return e != nil && (len(e.holders) > 0 || e.holds > 0)
}

// maybeFree frees id when nothing refers to it. A task's return object that is not made yet
// is checked again when it is stored. Called with r.mu held.
func (s *state) maybeFree(id ids.ObjectID) {
	if s.referenced(id) {
		return
	}
	delete(s.refs, id)
	if t := s.lineage.kept[id]; t != nil {
		s.keptEnded(t)
		return
	}
	obj, ok := s.store.Get(id)
	if !ok {
		return
	}
	s.store.Delete(id)
	s.objectFreed(id, obj)
	s.unhold(obj.Contained)
}

// holdTaskRefs holds the objects a task's arguments refer to until releaseTaskRefs. Called with
// r.mu held.
func (s *state) holdTaskRefs(t *task) {
	t.heldRefs = wire.ArgRefs(t.spec)
	s.hold(t.heldRefs)
}

// releaseTaskRefs drops what holdTaskRefs held (once). Called with r.mu held.
func (s *state) releaseTaskRefs(t *task) {
	list := t.heldRefs
	t.heldRefs = nil
	s.unhold(list)
}

// clientByWorker is the connected client with the worker id raw (nil: none, or raw is empty).
// Called with r.mu held.
func (s *state) clientByWorker(raw []byte) (*client, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	id, err := ids.UniqueIDFromBytes(raw)
	if err != nil {
		return nil, err
	}
	return s.byWorker[id], nil
}

// expectObjects records a client's promise to put objects later (the results of its direct
// actor calls, which other processes may now read): it holds them, requests for them wait
// (comingUp) until they are put, and they fail if the client goes away first (failExpected).
// Objects stored already or returned by a pending task need no promise. Called with r.mu held.
func (s *state) expectObjects(c *client, list []ids.ObjectID) {
	for _, id := range list {
		s.addHolder(c, id)
		if _, stored := s.store.Get(id); stored {
			continue
		}
		if _, pending := s.pending[id]; pending {
			continue
		}
		if prev := s.expected[id]; prev != nil && prev != c {
			delete(prev.expects, id) // the latest promise stands
		}
		s.expected[id] = c
		if c.expects == nil {
			c.expects = map[ids.ObjectID]struct{}{}
		}
		c.expects[id] = struct{}{}
	}
}

// comingUp tells whether an object not stored yet will be: the return of a pending task, or an
// object a client promised to put. Called with r.mu held.
func (s *state) comingUp(id ids.ObjectID) bool {
	if _, pending := s.pending[id]; pending {
		return true
	}
	return s.expected[id] != nil
}

// putExpected ends the promise to put id, if any, now that it is stored. Called with r.mu held.
func (s *state) putExpected(id ids.ObjectID) {
	if c := s.expected[id]; c != nil {
		delete(s.expected, id)
		delete(c.expects, id)
	}
}

// failExpected stores an error for each object a client that went away promised to put and did
// not (Ray's OwnerDiedError), so that whoever waits for one is answered. Called with r.mu held.
func (s *state) failExpected(c *client) {
	var list []ids.ObjectID
	for id := range c.expects {
		if s.expected[id] == c {
			list = append(list, id)
		}
	}
	c.expects = nil
	sort.Slice(list, func(i, j int) bool { return bytes.Compare(list[i][:], list[j][:]) < 0 })
	for _, id := range list {
		delete(s.expected, id)
		if _, pending := s.pending[id]; pending {
			continue // a task makes it after all
		}
		msg := fmt.Sprintf("Object %s was to be put by %s, which went away first (its owner died)", id.Hex(), c)
		s.putObject(id, &objstore.Object{Kind: objstore.KindOwnerDied, Data: []byte(msg)})
	}
}
