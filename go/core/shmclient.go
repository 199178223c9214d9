package core

import (
	"fmt"
	"sync"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/shm"
)

// shmClient is this process's side of the node's shared-memory object store (see package shm
// and raylet/shmstore.go): the arena mapped once, large values written into ranges the node
// reserves, and the reads of objects in the arena, each pinned by the node until this process
// releases it.
//
// An object in shared memory that the node sent this process stays in the local store only
// while something reads it: a Get's caller until it releases the buffer. When the last reader
// is done (or a Wait only needed to know it is ready), the local entry goes and the node is told
// it may move the range (spill it) again.
type shmClient struct {
	be        *nodeBackend
	arena     *shm.Arena
	threshold int64

	mu      sync.Mutex
	readers map[ids.ObjectID]int
	// waiting counts the calls of Get and Wait under way for each object: the process keeps its
	// copy for them (another thread's last ReleaseRead must not drop it between their check and
	// their wait, or between their wait and their read).
	waiting map[ids.ObjectID]int
	// writing lists the objects CreateShm reserved that are not sealed or aborted yet.
	writing map[ids.ObjectID]bool
}

func openShm(be *nodeBackend, reg *pb.Registered) (*shmClient, error) {
	if reg.ArenaPath == "" || reg.ShmThreshold <= 0 {
		return nil, nil
	}
	arena, err := shm.Open(reg.ArenaPath)
	if err != nil {
		return nil, fmt.Errorf("mapping the node's object store: %w", err)
	}
	return &shmClient{be: be, arena: arena, threshold: reg.ShmThreshold, readers: map[ids.ObjectID]int{}, waiting: map[ids.ObjectID]int{}, writing: map[ids.ObjectID]bool{}}, nil
}

// ShmThreshold is the size from which values go to the node's shared memory (0: they never do).
func (cw *CoreWorker) ShmThreshold() int64 {
	if cw.shm == nil {
		return 0
	}
	return cw.shm.threshold
}

// CreateShm reserves size bytes of shared memory for a new object and returns its id and the
// writable bytes; SealShm or AbortShm must follow.
func (cw *CoreWorker) CreateShm(size int64) (ids.ObjectID, []byte, error) {
	if cw.closed() {
		return ids.Nil, nil, ErrShutdown
	}
	if cw.shm == nil {
		return ids.Nil, nil, Errorf(CodeInvalidArgument, "this process has no shared-memory object store (local mode)")
	}
	id := ids.NewPutID()
	_, buf, err := cw.shm.create(id, size)
	if err != nil {
		return ids.Nil, nil, err
	}
	cw.shm.mu.Lock()
	cw.shm.writing[id] = true
	cw.shm.mu.Unlock()
	return id, buf, nil
}

// endWrite reports whether id is an object of CreateShm still being written, and ends that.
func (s *shmClient) endWrite(id ids.ObjectID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writing[id] {
		return false
	}
	delete(s.writing, id)
	return true
}

// SealShm completes an object made with CreateShm; this process holds it from then on.
func (cw *CoreWorker) SealShm(id ids.ObjectID, contained []ids.ObjectID) error {
	if cw.shm == nil {
		return Errorf(CodeInvalidArgument, "this process has no shared-memory object store (local mode)")
	}
	if !cw.shm.endWrite(id) {
		return Errorf(CodeInvalidArgument, "seal of object %s: this process did not create it with ray_put_create, or sealed or aborted it already", id.Hex())
	}
	cw.refs.markHeld(id)
	cw.be.publish(contained) // before the object that refers to them
	return cw.shm.seal(id, contained, false)
}

// AbortShm gives up an object made with CreateShm.
func (cw *CoreWorker) AbortShm(id ids.ObjectID) {
	if cw.shm != nil && cw.shm.endWrite(id) {
		_ = cw.shm.seal(id, nil, true)
	}
}

// create asks the node for a range for id and returns its offset and its writable bytes.
func (s *shmClient) create(id ids.ObjectID, size int64) (int64, []byte, error) {
	if size <= 0 {
		return 0, nil, Errorf(CodeInvalidArgument, "an object in shared memory needs a positive size, not %d", size)
	}
	reply, err := s.be.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateObject{CreateObject: &pb.CreateObject{RequestId: req, ObjectId: id[:], Size: size}}}
	})
	if err != nil {
		return 0, nil, err
	}
	if reply.Error != "" {
		if reply.StoreFull {
			return 0, nil, Errorf(CodeStoreFull, "%s", reply.Error)
		}
		return 0, nil, Errorf(CodeGeneric, "%s", reply.Error)
	}
	buf, err := s.arena.Bytes(reply.ShmOffset, size)
	if err != nil {
		return 0, nil, Errorf(CodeGeneric, "the node gave a bad range: %v", err)
	}
	return reply.ShmOffset, buf, nil
}

// putBytes stores data as a new object in shared memory under id (written once, here).
func (s *shmClient) putBytes(id ids.ObjectID, data []byte, contained []ids.ObjectID) error {
	_, buf, err := s.create(id, int64(len(data)))
	if err != nil {
		return err
	}
	copy(buf, data)
	return s.seal(id, contained, false)
}

// seal tells the node the object written into id's range is complete (or, with abort, given up).
func (s *shmClient) seal(id ids.ObjectID, contained []ids.ObjectID, abort bool) error {
	return s.be.queue(&pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: &pb.SealObject{
		ObjectId: id[:], ContainedIds: ids.ToBytes(contained), Abort: abort,
	}}})
}

// resultInShm moves a large task result into shared memory under the task's return id; on
// failure the result becomes the error.
func (s *shmClient) resultInShm(ret ids.ObjectID, obj *objstore.Object) *objstore.Object {
	off, buf, err := s.create(ret, int64(len(obj.Data)))
	if err != nil {
		return resultStoreFailed(err)
	}
	copy(buf, obj.Data)
	return &objstore.Object{Kind: obj.Kind, Contained: obj.Contained, InShm: true, ShmOffset: off, ShmSize: int64(len(buf))}
}

// resultStoreFailed is a task's result when it could not be stored in shared memory.
func resultStoreFailed(err error) *objstore.Object {
	return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("storing the task's result: " + err.Error())}
}

// Bytes returns an object's value: its data, or its range of shared memory (valid while the
// object is read: until ReleaseRead for an object Get returned).
func (cw *CoreWorker) Bytes(obj *objstore.Object) ([]byte, error) {
	if !obj.InShm {
		return obj.Data, nil
	}
	if cw.shm == nil {
		return nil, Errorf(CodeGeneric, "an object in shared memory reached a process without the object store")
	}
	b, err := cw.shm.arena.Bytes(obj.ShmOffset, obj.ShmSize)
	if err != nil {
		return nil, Errorf(CodeGeneric, "object in shared memory: %v", err)
	}
	return b, nil
}

// wait adds delta to the calls of Get and Wait under way for each object of list.
func (s *shmClient) wait(list []ids.ObjectID, delta int) {
	s.mu.Lock()
	for _, id := range list {
		if n := s.waiting[id] + delta; n > 0 {
			s.waiting[id] = n
		} else {
			delete(s.waiting, id)
		}
	}
	s.mu.Unlock()
}

// startRead counts a reader of an object in shared memory (Get hands it out).
func (s *shmClient) startRead(id ids.ObjectID) {
	s.mu.Lock()
	s.readers[id]++
	s.mu.Unlock()
}

// reading is the set of objects this process reads in shared memory now (nil-safe).
func (s *shmClient) reading() map[ids.ObjectID]bool {
	out := map[ids.ObjectID]bool{}
	if s == nil {
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.readers {
		if n > 0 {
			out[id] = true
		}
	}
	return out
}

// ReleaseRead ends a read that Get started of an object in shared memory.
func (cw *CoreWorker) ReleaseRead(id ids.ObjectID) {
	if cw.shm == nil {
		return
	}
	s := cw.shm
	s.mu.Lock()
	n := s.readers[id] - 1
	if n > 0 {
		s.readers[id] = n
		s.mu.Unlock()
		return
	}
	delete(s.readers, id)
	s.mu.Unlock()
	cw.dropUnread([]ids.ObjectID{id})
}

// dropUnread removes from the local store the objects of list that are in shared memory and
// that nothing in this process reads, and tells the node. Called after Get and Wait.
func (cw *CoreWorker) dropUnread(list []ids.ObjectID) {
	if cw.shm == nil {
		return
	}
	s := cw.shm
	var release [][]byte
	s.mu.Lock()
	for _, id := range list {
		if s.readers[id] > 0 || s.waiting[id] > 0 {
			continue
		}
		obj, ok := cw.store.Get(id)
		if !ok || !obj.InShm {
			continue
		}
		cw.store.Delete(id)
		s.be.forget(id)
		id := id
		release = append(release, id[:])
	}
	s.mu.Unlock()
	s.release(release)
}

// release tells the node this process no longer reads these objects (raw ids).
func (s *shmClient) release(raw [][]byte) {
	if len(raw) > 0 {
		_ = s.be.queue(&pb.ClientMessage{Body: &pb.ClientMessage_ReleaseObjects{ReleaseObjects: &pb.ReleaseObjects{ObjectIds: raw}}})
	}
}

func (s *shmClient) close() {
	if s != nil && s.arena != nil {
		_ = s.arena.Close()
	}
}
