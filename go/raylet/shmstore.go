package raylet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/golang/glog"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/shm"
)

// ShmThreshold is the size from which a value goes to the node's shared-memory arena instead of
// travelling inside messages (Ray's max_direct_call_object_size is the same 100 KiB).
const ShmThreshold = 100 << 10

// The node's shared-memory object store.
//
// The node manager owns the arena (see package shm): it hands out ranges (CreateObject), learns
// when a range holds a complete object (SealObject, or a TaskDone whose result is in shared
// memory), and decides when a range is free again. Every other process maps the arena once and
// reads objects in place.
//
// A range may be reused only when no process can still be reading it, so reads are pinned:
// sending an object in shared memory to a process pins it for that process until the process
// sends ReleaseObjects (or goes away), and a running task pins its shared-memory arguments until
// it is done (tasks with such arguments are given only to idle workers, never queued behind a
// busy one, so a queued task pins nothing). An object freed while pinned keeps its range until
// the last pin goes.
//
// When a new object does not fit, it waits (see createqueue.go) while unpinned objects are
// spilled (oldest first) to files under the session's spill directory: the files are written
// outside the node's lock while the objects stay readable in place, then their ranges are freed
// (unless a reader pinned one meanwhile) and the request is answered. A spilled object comes
// back into the arena when a process or task needs it and there is room; when there is none
// right then, its bytes travel in the message instead (reads never spill). Its file is read
// outside the node's lock too: readers and tasks that need it wait for the restore
// (whenReadable), the rest of the node goes on. When nothing can be spilled for a grace period,
// the request fails with ObjectStoreFullError and nothing else is affected.
//
// A writer that dies before sealing leaves a range reserved to it: freed when its stream ends.
// A reader that dies leaves pins: dropped when its stream ends.
type shmObject struct {
	off, size int64
	sealed    bool
	creator   *client // until sealed
	pins      int
	freed     bool   // nothing refers to it any more: the range goes with the last pin
	spilling  bool   // being written to disk (outside the node's lock); still readable in place
	spillPath string // set while its bytes are on disk instead of in the arena
	seq       uint64 // age, for choosing what to spill
	// restoring: its file is being read back (outside the node's lock); waiters run when done.
	restoring bool
	waiters   []restoreWaiter
}

// restoreWaiter is a reader of a spilled object waiting for its restore: fn runs under the
// node's lock with the object resident (so) or, when the arena had no room, its bytes (data).
// A waiter for a client runs only if the client is still connected.
type restoreWaiter struct {
	client *client
	fn     func(so *shmObject, data []byte, err error)
}

// errStoreFull marks object-store errors that mean "no room".
var errStoreFull = errors.New("ObjectStoreFullError")

// initShm creates the arena. Without one (no /dev/shm, say) every value travels in messages.
func (r *Raylet) initShm() {
	if r.cfg.ArenaPath == "" || r.cfg.ObjectStoreMemory <= 0 {
		return
	}
	arena, err := shm.Create(r.cfg.ArenaPath, r.cfg.ObjectStoreMemory)
	if err != nil {
		glog.Warningf("no shared-memory object store (values will travel in messages): %v", err)
		return
	}
	r.arena = arena
	r.alloc = shm.NewAllocator(arena.Size())
	r.arenaPath = arena.Path()
	glog.Infof("object store: %d bytes of shared memory in %s; spills to %s", arena.Size(), arena.Path(), r.cfg.SpillDir)
}

// closeShm removes the arena and the spill files.
func (r *Raylet) closeShm() {
	if r.arena != nil {
		if err := r.arena.Remove(); err != nil {
			glog.Warningf("removing the object store arena: %v", err)
		}
	}
	if r.cfg.SpillDir != "" {
		_ = os.RemoveAll(r.cfg.SpillDir)
	}
}

func (s *state) shmThreshold() int64 {
	if s.alloc == nil {
		return 0
	}
	return ShmThreshold
}

// storeFull builds the error of a request the store has no room for.
func storeFull(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errStoreFull, fmt.Sprintf(format, args...))
}

// errNoRoom marks a reservation that could succeed after spilling.
var errNoRoom = fmt.Errorf("%w: no free range", errStoreFull)

// reserveNow finds a free range of size bytes without spilling. Called with r.mu held.
func (s *state) reserveNow(size int64) (int64, error) {
	if s.alloc == nil {
		return 0, storeFull("this node has no shared-memory object store")
	}
	if shm.Rounded(size) > s.alloc.Capacity() {
		return 0, storeFull("an object of %d bytes is larger than the whole object store (%d bytes; set it with --object-store-memory in head_args)", size, s.alloc.Capacity())
	}
	if off, ok := s.alloc.Alloc(size); ok {
		return off, nil
	}
	return 0, errNoRoom
}

// backingFailed is the error for a range the arena's file system could not back.
func backingFailed(size int64, err error) error {
	if errors.Is(err, shm.ErrNoMemory) {
		return storeFull("no memory behind the object store for %d bytes: another program filled /dev/shm, or --object-store-memory is larger than what it has free (%v)", size, err)
	}
	return storeFull("%d bytes: %v", size, err)
}

// spillJob is one object being written to disk outside the node's lock.
type spillJob struct {
	id        ids.ObjectID
	so        *shmObject
	off, size int64  // its range
	data      []byte // its range (the driver fills it in): objects are immutable once sealed, and the range stays reserved
	path      string
	err       error
}

// chooseVictims marks unpinned objects, oldest first, for spilling until freeing them would
// leave size bytes free in total (and at least one). While marked (spilling) an object stays readable in place.
// Called with r.mu held.
func (s *state) chooseVictims(size int64) []*spillJob {
	var cands []ids.ObjectID
	for id, so := range s.shmObjs {
		if so.sealed && !so.freed && !so.spilling && so.pins == 0 && so.spillPath == "" {
			cands = append(cands, id)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return s.shmObjs[cands[i]].seq < s.shmObjs[cands[j]].seq })
	free := s.alloc.Capacity() - s.alloc.Used()
	var jobs []*spillJob
	for _, id := range cands {
		// At least one per round: free space may be enough in total but fragmented.
		if len(jobs) > 0 && free >= shm.Rounded(size) {
			break
		}
		so := s.shmObjs[id]
		so.spilling = true
		jobs = append(jobs, &spillJob{id: id, so: so, off: so.off, size: so.size, path: filepath.Join(s.cfg.SpillDir, id.Hex())})
		free += shm.Rounded(so.size)
	}
	return jobs
}

// writeSpills writes the jobs' files. Called without r.mu.
func writeSpills(dir string, jobs []*spillJob) {
	if err := os.MkdirAll(dir, 0700); err != nil {
		for _, j := range jobs {
			j.err = err
		}
		return
	}
	for _, j := range jobs {
		if j.err != nil {
			continue
		}
		if j.err = os.WriteFile(j.path, j.data, 0600); j.err != nil {
			os.Remove(j.path)
		}
		j.data = nil
	}
}

// finishSpills frees the ranges of the objects now on disk; an object that was pinned or freed
// meanwhile, or whose file failed, keeps (or gives up) its range as usual. It returns how many
// objects went to disk. Called with r.mu held.
func (s *state) finishSpills(jobs []*spillJob) (spilled int) {
	for _, j := range jobs {
		so := j.so
		so.spilling = false
		switch {
		case j.err != nil:
			glog.Warningf("spilling object %s to %s failed: %v", j.id.Hex(), j.path, j.err)
		case so.freed || so.pins > 0:
			s.eff.remove = append(s.eff.remove, j.path)
		default:
			if err := s.alloc.Free(so.off, so.size); err != nil {
				glog.Errorf("object store: %v", err)
				s.eff.remove = append(s.eff.remove, j.path)
				continue
			}
			so.spillPath = j.path
			s.spills++
			spilled++
			glog.V(1).Infof("spilled object %s (%d bytes) to %s", j.id.Hex(), so.size, j.path)
			continue
		}
		if so.freed && so.pins == 0 {
			s.releaseShm(j.id, so)
		}
	}
	return spilled
}

// restoreInto backs the reserved range [off, off+size) of the arena and reads a spill file into
// it. Safe without r.mu (the range is reserved to the caller).
func (r *Raylet) restoreInto(path string, off, size int64) error {
	if err := r.arena.Reserve(off, size); err != nil {
		return backingFailed(size, err)
	}
	dst, err := r.arena.Bytes(off, size)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err == nil {
		_, err = readFull(f, dst)
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// restored records that a spilled object is back in the arena at off. Called with r.mu held.
func (s *state) restored(id ids.ObjectID, so *shmObject, off int64) {
	s.eff.remove = append(s.eff.remove, so.spillPath)
	so.spillPath = ""
	so.off = off
	s.shmSeq++
	so.seq = s.shmSeq // just used: the last to spill again
	glog.V(1).Infof("restored object %s (%d bytes)", id.Hex(), so.size)
}

// whenReadable runs fn once object id can be read: at once when it is in the arena; for a
// spilled object, after its file was read back outside the node's lock (into the arena, or into
// memory when the arena has no room now). fn runs under the lock; a reader that keeps using the
// range pins it there. With c set, fn is skipped if c disconnects meanwhile. Called with r.mu held.
func (s *state) whenReadable(c *client, id ids.ObjectID, fn func(so *shmObject, data []byte, err error)) {
	so := s.shmObjs[id]
	if so == nil {
		fn(nil, nil, fmt.Errorf("object %s is not in the object store", id.Hex()))
		return
	}
	if so.spillPath == "" {
		fn(so, nil, nil)
		return
	}
	so.waiters = append(so.waiters, restoreWaiter{client: c, fn: fn})
	if so.restoring {
		return
	}
	so.restoring = true
	off, err := s.reserveNow(so.size) // no spilling on the read path
	s.eff.restore = append(s.eff.restore, &restoreJob{id: id, so: so, path: so.spillPath, size: so.size, off: off, reserved: err == nil})

}

// restoreJob asks the driver to read a spilled object's file back: into the range reserved for it
// (off, when reserved), or, when that fails or there was no room, into data; err when neither.
type restoreJob struct {
	id        ids.ObjectID
	so        *shmObject
	path      string
	size, off int64
	reserved  bool
	data      []byte
	err       error
}

// finishRestore is the event of a restore whenReadable asked for: it runs the object's waiters.
func (s *state) finishRestore(j *restoreJob) {
	id, so, reserved, off, data, err := j.id, j.so, j.reserved, j.off, j.data, j.err
	so.restoring = false
	waiters := so.waiters
	so.waiters = nil
	if s.stopped {
		return
	}
	if reserved {
		if data == nil && err == nil {
			s.restored(id, so, off)
		} else if ferr := s.alloc.Free(off, so.size); ferr != nil {
			glog.Errorf("object store: %v", ferr)
		} else {
			defer s.storeChanged()
		}
	}
	for _, w := range waiters {
		if w.client != nil && !s.clients[w.client] {
			continue
		}
		if so.spillPath == "" {
			w.fn(so, nil, nil)
		} else {
			w.fn(nil, data, err)
		}
	}
	if so.freed && so.pins == 0 {
		s.releaseShm(id, so)
	}
}

func readFull(f *os.File, dst []byte) (int, error) {
	n := 0
	for n < len(dst) {
		m, err := f.Read(dst[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// takeCreated checks that obj names the range c reserved for id and marks it sealed. Called
// with r.mu held.
func (s *state) takeCreated(c *client, id ids.ObjectID, obj *objstore.Object) error {
	so := s.shmObjs[id]
	if so == nil || so.sealed || so.creator != c {
		return fmt.Errorf("object %s: no shared-memory range was reserved for it by this process", id.Hex())
	}
	if obj.ShmOffset != so.off || obj.ShmSize != so.size {
		return fmt.Errorf("object %s: range %d+%d does not match the reserved %d+%d", id.Hex(), obj.ShmOffset, obj.ShmSize, so.off, so.size)
	}
	so.sealed = true
	so.creator = nil
	s.storeChanged() // a spill candidate now
	return nil
}

// sealObject completes (or abandons) a client's put into shared memory, and answers with a Reply
// when the message has a request id (its error, if the seal failed). Called with r.mu held.
func (s *state) sealObject(c *client, m *pb.SealObject) error {
	err := s.seal(c, m)
	if m.RequestId != 0 {
		rep := &pb.Reply{RequestId: m.RequestId}
		if err != nil {
			rep.Error = err.Error()
		}
		s.reply(c, rep)
	}
	return err
}

// seal is sealObject without the reply. The sealer holds its new object, unless the message
// names a holder (an actor call's result, sealed by the actor's process for its caller): then the
// connected client with that worker id holds it instead, pinned for it as if it had been sent the
// object (it may read the range until it sends ReleaseObjects); with no such client connected,
// nobody holds it and it is freed. Called with r.mu held.
func (s *state) seal(c *client, m *pb.SealObject) error {
	id, err := ids.ObjectIDFromBytes(m.ObjectId)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	so := s.shmObjs[id]
	if so == nil || so.sealed || so.creator != c {
		return fmt.Errorf("seal of object %s, which this process did not create", id.Hex())
	}
	if m.Abort {
		s.abandon(id, so)
		return nil
	}
	holder, err := s.clientByWorker(m.HolderId)
	if err != nil {
		return fmt.Errorf("seal of object %s: holder: %w", id.Hex(), err)
	}
	if holder == nil && len(m.HolderId) > 0 {
		glog.V(1).Infof("object %s sealed for %x, which is not connected: freeing it", id.Hex(), m.HolderId)
	}
	if _, stored := s.store.Get(id); stored {
		// Stored meanwhile (as an error, say, when the client that promised it went away):
		// the first object stands, and this range would be nobody's.
		s.abandon(id, so)
		return fmt.Errorf("seal of object %s, which was stored meanwhile: its range is freed", id.Hex())
	}
	obj := &objstore.Object{Kind: objstore.KindValue, Contained: ids.FromBytesList(m.ContainedIds), InShm: true, ShmOffset: so.off, ShmSize: so.size}
	if holder != nil {
		s.pinFor(holder, id, so) // before it is a spill candidate
	}
	if err := s.takeCreated(c, id, obj); err != nil {
		if holder != nil {
			s.unpinFor(holder, id)
		}
		return err
	}
	switch {
	case len(m.HolderId) == 0:
		s.addHolder(c, id) // the putter holds its new object
		s.putObject(id, obj)
	case holder == nil:
		s.putObject(id, obj)
		s.maybeFree(id) // nobody holds it
	default:
		s.addHolder(holder, id)
		s.putObject(id, obj)
	}
	return nil
}

// abandon frees the range of an object that was never sealed. Called with r.mu held.
func (s *state) abandon(id ids.ObjectID, so *shmObject) {
	delete(s.shmObjs, id)
	if err := s.alloc.Free(so.off, so.size); err != nil {
		glog.Errorf("object store: %v", err)
	}
	s.storeChanged()
}

// dropShmClient releases what a client that went away reserved or pinned. Called with r.mu held.
func (s *state) dropShmClient(c *client) {
	for id, so := range s.shmObjs {
		if !so.sealed && so.creator == c {
			glog.Warningf("%s went away before sealing object %s: freeing its %d bytes", c, id.Hex(), so.size)
			s.abandon(id, so)
		}
	}
	for id, n := range c.pins {
		for ; n > 0; n-- {
			s.unpin(id)
		}
	}
	c.pins = nil
}

// unpin drops one pin of an object (readers pin it with so.pins++ while they may use its range).
// Called with r.mu held.
func (s *state) unpin(id ids.ObjectID) {
	so := s.shmObjs[id]
	if so == nil || so.pins == 0 {
		return
	}
	so.pins--
	if so.pins == 0 {
		if so.freed {
			s.releaseShm(id, so)
		} else {
			s.storeChanged() // a spill candidate again
		}
	}
}

// releaseObjects applies a client's ReleaseObjects. Called with r.mu held.
func (s *state) releaseObjects(c *client, m *pb.ReleaseObjects) error {
	list, err := ids.ObjectIDsFromBytes(m.ObjectIds)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	for _, id := range list {
		s.unpinFor(c, id)
	}
	return nil
}

// pinFor pins an object for client c, which may read its range until it releases it (unpinFor).
// Called with r.mu held.
func (s *state) pinFor(c *client, id ids.ObjectID, so *shmObject) {
	so.pins++
	if c.pins == nil {
		c.pins = map[ids.ObjectID]int{}
	}
	c.pins[id]++
}

// unpinFor drops one of c's pins of an object (none: nothing happens). Called with r.mu held.
func (s *state) unpinFor(c *client, id ids.ObjectID) {
	if c.pins[id] == 0 {
		return
	}
	c.pins[id]--
	if c.pins[id] == 0 {
		delete(c.pins, id)
	}
	s.unpin(id)
}

// shmFreed is objectFreed for objects in shared memory. Called with r.mu held.
func (s *state) shmFreed(id ids.ObjectID) {
	so := s.shmObjs[id]
	if so == nil {
		return
	}
	so.freed = true
	if so.pins == 0 {
		s.releaseShm(id, so)
	}
}

func (s *state) releaseShm(id ids.ObjectID, so *shmObject) {
	if so.spilling || so.restoring {
		return // finishSpills or finishRestore releases it once its file is done
	}
	delete(s.shmObjs, id)
	if so.spillPath != "" {
		s.eff.remove = append(s.eff.remove, so.spillPath)
		return
	}
	if err := s.alloc.Free(so.off, so.size); err != nil {
		glog.Errorf("object store: %v", err)
	}
	s.storeChanged()
}

// sendObjectTo sends a stored object to a client, pinning it for the client when it is in
// shared memory; a spilled object is sent once it is restored (or, when the arena has no room
// for it now, in the message). Called with r.mu held.
func (s *state) sendObjectTo(c *client, id ids.ObjectID, obj *objstore.Object) {
	if !obj.InShm {
		c.sendObject(id, obj)
		return
	}
	s.whenReadable(c, id, func(so *shmObject, data []byte, err error) {
		out := obj
		switch {
		case err != nil:
			out = &objstore.Object{Kind: objstore.KindStoreFull, Data: []byte(err.Error())}
		case so == nil:
			out = &objstore.Object{Kind: obj.Kind, Data: data, Contained: obj.Contained}
		default:
			s.pinFor(c, id, so)
			cp := *obj
			cp.ShmOffset, cp.ShmSize = so.off, so.size
			out = &cp
		}
		c.sendObject(id, out)
	})
}

// ArenaPath is the file of the node's object store arena ("" without one).
func (r *Raylet) ArenaPath() string {
	if r.arena == nil {
		return ""
	}
	return r.arena.Path()
}

// ShmStats reports the arena's size and the bytes in use (0, 0 without an arena), and how many
// objects are spilled to disk.
func (r *Raylet) ShmStats() (capacity, used int64, spilled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.arena == nil {
		return 0, 0, 0
	}
	spilled, _ = r.state.spilledNow()
	return r.alloc.Capacity(), r.alloc.Used(), spilled
}

// spilledNow is how many objects are on disk now, and their bytes. Called with r.mu held.
func (s *state) spilledNow() (count int, bytes int64) {
	for _, so := range s.shmObjs {
		if so.spillPath != "" {
			count++
			bytes += so.size
		}
	}
	return count, bytes
}

// Spills is how many times an object was spilled to disk since the node started.
func (r *Raylet) Spills() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spills
}

// NumObjects is how many objects the node stores.
func (r *Raylet) NumObjects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.store.Len()
}

// unpinTaskArgs drops the pins argForTask took for a task (once). Called with r.mu held.
func (s *state) unpinTaskArgs(t *task) {
	for _, id := range t.pinned {
		s.unpin(id)
	}
	t.pinned = nil
}

// argForTask is a resolved argument as a worker gets it. One in shared memory is pinned for the
// task (once) until it is done; one spilled to disk was read back for the task beforehand
// (see argsResident) and travels in the message. Called with the node's lock held.
func (s *state) argForTask(t *task, dep ids.ObjectID, obj *objstore.Object) *pb.TaskArg {
	if obj == nil {
		// trackDeps keeps such tasks from running; never crash the node if one slips through.
		glog.Errorf("argument %s of %s is not in the store at dispatch; the task gets an empty argument", dep.Hex(), taskLabel(t))
		return &pb.TaskArg{}
	}
	contained := ids.ToBytes(obj.Contained)
	if !obj.InShm {
		return &pb.TaskArg{Data: obj.Data, ContainedIds: contained}
	}
	so := s.shmObjs[dep]
	if so == nil || so.spillPath != "" {
		if data, ok := t.spilledArgs[dep]; ok {
			return &pb.TaskArg{Data: data, ContainedIds: contained}
		}
		glog.Errorf("argument %s of %s is not readable at dispatch; the task gets an empty argument", dep.Hex(), taskLabel(t))
		return &pb.TaskArg{ContainedIds: contained}
	}
	pinned := false
	for _, id := range t.pinned {
		pinned = pinned || id == dep
	}
	if !pinned {
		so.pins++
		t.pinned = append(t.pinned, dep)
	}
	return &pb.TaskArg{InShm: true, ShmOffset: so.off, ShmSize: so.size, ContainedIds: contained}
}

// argsResident tells whether every shared-memory argument of t can be read now: in the arena, or
// read back from disk for it. For each that cannot, it asks for a restore and counts the argument
// as missing again, so t moves on (argsReady) once they are back. Called with the node's lock held.
func (s *state) argsResident(t *task) bool {
	ok := true
	for _, dep := range t.deps {
		so := s.shmObjs[dep]
		if so == nil || so.spillPath == "" {
			continue
		}
		if _, have := t.spilledArgs[dep]; have {
			continue
		}
		ok = false
		s.awaitSpilled(t, dep)
	}
	return ok
}

// awaitSpilled counts dep, a spilled argument of t, as missing until it is read back (into the
// arena, or into memory for t). Called with the node's lock held.
func (s *state) awaitSpilled(t *task, dep ids.ObjectID) {
	t.missing++
	s.whenReadable(nil, dep, func(_ *shmObject, data []byte, _ error) {
		if data != nil {
			if t.spilledArgs == nil {
				t.spilledArgs = map[ids.ObjectID][]byte{}
			}
			t.spilledArgs[dep] = data
		}
		s.depArrived(t)
	})
}

// registered is the answer to a client's registration: where the arena is and what goes there.
func (s *state) registered() *pb.Registered {
	reg := &pb.Registered{NodeId: s.nodeID[:], SessionDir: s.cfg.SessionDir, ShmThreshold: s.shmThreshold(), Cluster: s.inCluster()}
	if s.alloc != nil {
		reg.ArenaPath = s.arenaPath
	}
	return reg
}

// resultFromWorker checks a task result a worker reports: one in shared memory must be in the
// range the worker reserved for the task's return id. Called with r.mu held.
func (s *state) resultFromWorker(c *client, id ids.ObjectID, obj *objstore.Object) *objstore.Object {
	if !obj.InShm {
		return obj
	}
	if err := s.takeCreated(c, id, obj); err != nil {
		return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("the worker reported a bad result: " + err.Error())}
	}
	return obj
}
