// Package shm is the shared memory of a node's object store: one arena file in /dev/shm that the
// node manager creates and every process of the node maps once, and the allocator the node
// manager uses to hand out ranges of it.
//
// Why one arena mapped once, rather than a file or memfd per object: on the machines goray runs
// on, a page fault costs about 20 µs (first touch of shared memory runs at 0.2 GB/s, and so does
// mapping already resident pages into a new mapping), while a copy into mapped, touched pages
// runs at memcpy speed (about 10 GB/s). A process that keeps one mapping of the whole arena pays
// the fault once per page, and the allocator hands out low addresses first, so freed ranges are
// reused and stay warm in every process that touched them.
//
// Objects are written by the process that creates them (its core worker asks the node for a
// range, writes, then seals) and read in place by every reader, straight from the mapping.
//
// The file is sparse, and a store write to a page of it that the file system cannot back (a
// full /dev/shm: other programs filled it, or the arena is larger than what is free) would kill
// the writer with SIGBUS. So the node reserves memory behind a range before it hands the range
// out (Reserve: fallocate, in chunks, each chunk once); when the file system is full the
// reservation fails with an error and the writer never touches the range.
package shm

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"goray/ownerlock"
)

// ReserveChunk is the granularity at which Reserve backs the arena with memory.
const ReserveChunk = 2 << 20

// ErrNoMemory means the file system holding the arena has no room left to back a range.
var ErrNoMemory = errors.New("the file system of the object store arena is full")

// fallocate backs a range of the file with storage; a variable so tests can make it fail.
var fallocate = syscall.Fallocate

// Arena is a shared-memory file mapped into this process.
type Arena struct {
	path string
	data []byte
	file *os.File
	mu   sync.Mutex
	// backed has a bit per ReserveChunk: set once Reserve backed that chunk (pages are never
	// returned while the arena exists, so a set bit stays true). Guarded by mu.
	backed []uint64
}

// Create makes a new arena file of size bytes at path (which must not exist) and maps it. The
// file is sparse: memory is used only as ranges are written. The creator holds the file's owner
// lock (go/ownerlock) until Close: an arena whose lock is free was left by a process that died.
func Create(path string, size int64) (*Arena, error) {
	if size <= 0 {
		return nil, fmt.Errorf("object store arena: size %d must be positive", size)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		return nil, fmt.Errorf("object store arena: %w", err)
	}
	if err := ownerlock.Lock(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("object store arena: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("object store arena: sizing %s to %d bytes: %w", path, size, err)
	}
	a, err := mapFile(path, f, size)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return a, nil
}

// Open maps an existing arena file (made by Create in another process).
func Open(path string) (*Arena, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("object store arena: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("object store arena: %w", err)
	}
	a, err := mapFile(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

func mapFile(path string, f *os.File, size int64) (*Arena, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("object store arena %s: bad size %d", path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("object store arena: mapping %s (%d bytes): %w", path, size, err)
	}
	chunks := (size + ReserveChunk - 1) / ReserveChunk
	return &Arena{path: path, data: data, file: f, backed: make([]uint64, (chunks+63)/64)}, nil
}

// chunks is the range of chunk indexes [first, last] that [off, off+size) touches.
func chunks(off, size int64) (first, last int64) {
	return off / ReserveChunk, (off + size - 1) / ReserveChunk
}

func (a *Arena) isBacked(c int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.backed[c/64]&(1<<(c%64)) != 0
}

// Backed reports whether Reserve already backed every chunk of [off, off+size) (a range out of
// bounds is not).
func (a *Arena) Backed(off, size int64) bool {
	if _, err := a.Bytes(off, size); err != nil {
		return false
	}
	if size == 0 {
		return true
	}
	first, last := chunks(off, size)
	for c := first; c <= last; c++ {
		if !a.isBacked(c) {
			return false
		}
	}
	return true
}

// Reserve makes sure the file system backs [off, off+size) with memory, so writes to the range
// cannot fault. It backs whole chunks, each once; it fails with an error wrapping ErrNoMemory
// when the file system is full (the chunks it did back stay backed). Safe for concurrent use;
// backing fresh memory takes as long as zeroing it, so the node calls it outside its lock.
func (a *Arena) Reserve(off, size int64) error {
	if _, err := a.Bytes(off, size); err != nil || size == 0 {
		return err
	}
	total := int64(len(a.data))
	first, last := chunks(off, size)
	for c := first; c <= last; c++ {
		if a.isBacked(c) {
			continue
		}
		start := c * ReserveChunk
		n := int64(ReserveChunk)
		if start+n > total {
			n = total - start
		}
		// Two callers may back one chunk at once: fallocate of backed pages changes nothing.
		if err := fallocate(int(a.file.Fd()), 0, start, n); err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.ENOMEM) {
				return fmt.Errorf("%w (%s): backing %d bytes at %d: %v", ErrNoMemory, a.path, n, start, err)
			}
			return fmt.Errorf("object store arena %s: backing %d bytes at %d: %w", a.path, n, start, err)
		}
		a.mu.Lock()
		a.backed[c/64] |= 1 << (c % 64)
		a.mu.Unlock()
	}
	return nil
}

// Path is the arena's file.
func (a *Arena) Path() string { return a.path }

// Size is the arena's size in bytes.
func (a *Arena) Size() int64 { return int64(len(a.data)) }

// Bytes returns the range [off, off+size) of the mapping, or an error if it is out of bounds.
// The slice aliases shared memory: it is valid until Close.
func (a *Arena) Bytes(off, size int64) ([]byte, error) {
	if off < 0 || size < 0 || off > int64(len(a.data)) || size > int64(len(a.data))-off {
		return nil, fmt.Errorf("object store arena: range %d+%d is outside its %d bytes", off, size, len(a.data))
	}
	return a.data[off : off+size : off+size], nil
}

// Close unmaps the arena in this process.
func (a *Arena) Close() error {
	var err error
	if a.data != nil {
		err = syscall.Munmap(a.data)
		a.data = nil
	}
	if a.file != nil {
		if cerr := a.file.Close(); err == nil {
			err = cerr
		}
		a.file = nil
	}
	return err
}

// Remove unmaps the arena and deletes its file (the node does this when it stops).
func (a *Arena) Remove() error {
	err := a.Close()
	if rerr := os.Remove(a.path); rerr != nil && !os.IsNotExist(rerr) && err == nil {
		err = rerr
	}
	return err
}
