package shm

import (
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func TestAllocatorReusesLowAddressesAndMerges(t *testing.T) {
	a := NewAllocator(1024)
	x, ok := a.Alloc(100) // 128
	y, ok2 := a.Alloc(64)
	z, ok3 := a.Alloc(1)
	if !ok || !ok2 || !ok3 || x != 0 || y != 128 || z != 192 {
		t.Fatalf("allocations at %d %d %d (%v %v %v)", x, y, z, ok, ok2, ok3)
	}
	if a.Used() != 256 {
		t.Fatalf("used %d, want 256", a.Used())
	}
	if _, ok := a.Alloc(1024); ok {
		t.Fatal("allocated more than is free")
	}
	if err := a.Free(y, 64); err != nil {
		t.Fatal(err)
	}
	if off, _ := a.Alloc(10); off != y {
		t.Fatalf("a small allocation went to %d, not to the freed range at %d", off, y)
	}
	for _, r := range [][2]int64{{y, 10}, {x, 100}, {z, 1}} {
		if err := a.Free(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if a.Used() != 0 || a.Largest() != 1024 || len(a.free) != 1 {
		t.Fatalf("after freeing everything: used %d, largest %d, %d free ranges", a.Used(), a.Largest(), len(a.free))
	}
	if off, ok := a.Alloc(1024); !ok || off != 0 {
		t.Fatal("the whole arena is not one range again")
	}
}

func TestAllocatorRefusesBadFrees(t *testing.T) {
	a := NewAllocator(1024)
	off, _ := a.Alloc(128)
	if err := a.Free(off, 128); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(off, 128); err == nil {
		t.Fatal("double free accepted")
	}
	if err := a.Free(2048, 64); err == nil {
		t.Fatal("free outside the arena accepted")
	}
	if err := a.Free(3, 64); err == nil {
		t.Fatal("unaligned free accepted")
	}
	if a.Used() != 0 {
		t.Fatalf("bad frees changed the count: used %d", a.Used())
	}
}

// Random allocations and frees never overlap, and freeing all leaves one free range.
func TestAllocatorRandomNeverOverlaps(t *testing.T) {
	const size = 1 << 20
	a := NewAllocator(size)
	rng := rand.New(rand.NewSource(1))
	type blk struct{ off, size int64 }
	var live []blk
	owner := make([]int, size/Align)
	for i := 0; i < 20000; i++ {
		if len(live) > 0 && rng.Intn(2) == 0 {
			j := rng.Intn(len(live))
			b := live[j]
			if err := a.Free(b.off, b.size); err != nil {
				t.Fatal(err)
			}
			for k := b.off / Align; k < (b.off+Rounded(b.size))/Align; k++ {
				owner[k] = 0
			}
			live = append(live[:j], live[j+1:]...)
			continue
		}
		n := int64(rng.Intn(8192) + 1)
		off, ok := a.Alloc(n)
		if !ok {
			continue
		}
		for k := off / Align; k < (off+Rounded(n))/Align; k++ {
			if owner[k] != 0 {
				t.Fatalf("allocation %d+%d overlaps a live one", off, n)
			}
			owner[k] = 1
		}
		live = append(live, blk{off, n})
	}
	for _, b := range live {
		if err := a.Free(b.off, b.size); err != nil {
			t.Fatal(err)
		}
	}
	if a.Used() != 0 || len(a.free) != 1 || a.free[0] != (span{0, size}) {
		t.Fatalf("after freeing all: used %d, free %v", a.Used(), a.free)
	}
}

func TestArenaIsSharedBetweenMappings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arena")
	a, err := Create(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Remove()
	if _, err := Create(path, 1<<20); err == nil {
		t.Fatal("Create over an existing arena succeeded")
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w, err := a.Bytes(4096, 5)
	if err != nil {
		t.Fatal(err)
	}
	copy(w, "hello")
	r, err := b.Bytes(4096, 5)
	if err != nil {
		t.Fatal(err)
	}
	if string(r) != "hello" {
		t.Fatalf("the other mapping reads %q", r)
	}
	if _, err := b.Bytes(1<<20-2, 5); err == nil {
		t.Fatal("a range past the end was handed out")
	}
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("arena file left behind: %v", err)
	}
	if _, err := Open(path); err == nil {
		t.Fatal("opened a removed arena")
	}
}

// Reserve backs each chunk once, and a full file system is an error wrapping ErrNoMemory that
// leaves the chunks backed so far backed.
func TestReserveBacksEachChunkOnceAndReportsAFullFileSystem(t *testing.T) {
	a, err := Create(filepath.Join(t.TempDir(), "arena"), 5*ReserveChunk+100)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Remove()
	var calls [][2]int64
	full := false
	fallocate = func(fd int, mode uint32, off, n int64) error {
		if full {
			return syscall.ENOSPC
		}
		calls = append(calls, [2]int64{off, n})
		return nil
	}
	defer func() { fallocate = syscall.Fallocate }()
	if err := a.Reserve(ReserveChunk-1, 2); err != nil { // straddles chunks 0 and 1
		t.Fatal(err)
	}
	if err := a.Reserve(10, ReserveChunk); err != nil { // chunks 0 and 1 again: nothing to do
		t.Fatal(err)
	}
	if err := a.Reserve(5*ReserveChunk, 100); err != nil { // the short last chunk
		t.Fatal(err)
	}
	want := [][2]int64{{0, ReserveChunk}, {ReserveChunk, ReserveChunk}, {5 * ReserveChunk, 100}}
	if len(calls) != len(want) {
		t.Fatalf("fallocate calls %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("fallocate calls %v, want %v", calls, want)
		}
	}
	full = true
	if err := a.Reserve(2*ReserveChunk, 10); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("reserving on a full file system: %v, want ErrNoMemory", err)
	}
	if err := a.Reserve(0, 2*ReserveChunk); err != nil {
		t.Fatalf("chunks backed before the file system filled: %v", err)
	}
	if err := a.Reserve(5*ReserveChunk+50, 100); err == nil {
		t.Fatal("a range past the end was reserved")
	}
}

// On a real file system smaller than the arena, Reserve fails cleanly where a write would have
// raised SIGBUS, and the reserved part is writable. Needs a tmpfs mount (root).
func TestReserveOnAFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	}()
	a, err := Create(filepath.Join(dir, "arena"), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Remove()
	if err := a.Reserve(0, 8<<20); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("reserving 8 MiB on a 4 MiB tmpfs: %v, want ErrNoMemory", err)
	}
	if err := a.Reserve(12<<20, 1<<20); !errors.Is(err, ErrNoMemory) {
		t.Fatalf("reserving past what is left: %v, want ErrNoMemory", err)
	}
	// The first chunk was backed before the file system filled; it can be written.
	b, err := a.Bytes(0, ReserveChunk)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = byte(i)
	}
	if b[12345] != byte(12345%256) {
		t.Fatal("the reserved range does not hold what was written")
	}
}
