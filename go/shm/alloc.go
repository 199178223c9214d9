package shm

import (
	"fmt"
	"sort"
)

// Align is the alignment of every range the allocator hands out.
const Align = 64

// Allocator hands out ranges of an arena: first fit at the lowest address, so freed memory is
// reused (its pages are already touched in the processes that used it) and used memory stays
// packed at the start. Free ranges are kept sorted and merged with their neighbours. It is not
// safe for concurrent use: the node manager calls it under its lock.
type Allocator struct {
	size int64
	used int64
	free []span // sorted by offset, never adjacent, never empty
}

type span struct{ off, size int64 }

// NewAllocator manages [0, size).
func NewAllocator(size int64) *Allocator {
	a := &Allocator{size: size}
	if size > 0 {
		a.free = []span{{0, size}}
	}
	return a
}

// Rounded is the size the allocator reserves for a request of size bytes.
func Rounded(size int64) int64 {
	if size <= 0 {
		return Align
	}
	return (size + Align - 1) / Align * Align
}

// Alloc reserves size bytes and returns the range's offset; ok is false when no free range is
// large enough (the caller may free or spill objects and try again).
func (a *Allocator) Alloc(size int64) (off int64, ok bool) {
	n := Rounded(size)
	for i, s := range a.free {
		if s.size < n {
			continue
		}
		off = s.off
		if s.size == n {
			a.free = append(a.free[:i], a.free[i+1:]...)
		} else {
			a.free[i] = span{s.off + n, s.size - n}
		}
		a.used += n
		return off, true
	}
	return 0, false
}

// Free returns the range Alloc gave for a request of size bytes at off.
func (a *Allocator) Free(off, size int64) error {
	n := Rounded(size)
	if off < 0 || off%Align != 0 || off+n > a.size {
		return fmt.Errorf("object store allocator: freeing %d+%d outside [0, %d)", off, n, a.size)
	}
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].off >= off })
	if (i < len(a.free) && a.free[i].off < off+n) || (i > 0 && a.free[i-1].off+a.free[i-1].size > off) {
		return fmt.Errorf("object store allocator: range %d+%d is already free", off, n)
	}
	a.used -= n
	mergePrev := i > 0 && a.free[i-1].off+a.free[i-1].size == off
	mergeNext := i < len(a.free) && off+n == a.free[i].off
	switch {
	case mergePrev && mergeNext:
		a.free[i-1].size += n + a.free[i].size
		a.free = append(a.free[:i], a.free[i+1:]...)
	case mergePrev:
		a.free[i-1].size += n
	case mergeNext:
		a.free[i] = span{off, n + a.free[i].size}
	default:
		a.free = append(a.free, span{})
		copy(a.free[i+1:], a.free[i:])
		a.free[i] = span{off, n}
	}
	return nil
}

// Used is the number of bytes reserved.
func (a *Allocator) Used() int64 { return a.used }

// Capacity is the size of the managed range.
func (a *Allocator) Capacity() int64 { return a.size }

// Largest is the size of the largest free range.
func (a *Allocator) Largest() int64 {
	var m int64
	for _, s := range a.free {
		if s.size > m {
			m = s.size
		}
	}
	return m
}
