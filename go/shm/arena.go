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
package shm

import (
	"fmt"
	"os"
	"syscall"
)

// Arena is a shared-memory file mapped into this process.
type Arena struct {
	path string
	data []byte
	file *os.File
}

// Create makes a new arena file of size bytes at path (which must not exist) and maps it. The
// file is sparse: memory is used only as ranges are written.
func Create(path string, size int64) (*Arena, error) {
	if size <= 0 {
		return nil, fmt.Errorf("object store arena: size %d must be positive", size)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
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
	return &Arena{path: path, data: data, file: f}, nil
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

// Release returns the memory of [off, off+size) to the system (the range reads as zeros after).
// The node calls it for freed ranges above what it keeps warm.
func (a *Arena) Release(off, size int64) error {
	b, err := a.Bytes(off, size)
	if err != nil || len(b) == 0 {
		return err
	}
	// MADV_REMOVE frees the pages of a shared file mapping (punches a hole in the file).
	const madvRemove = 9
	if err := syscall.Madvise(b, madvRemove); err != nil {
		return fmt.Errorf("object store arena: releasing %d+%d: %w", off, size, err)
	}
	return nil
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
