package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"goray/core"
	"goray/ids"
	"goray/internal/testutil"
	"goray/raylet"
	pb "goray/rpc/proto"
)

// pattern is n position-dependent bytes (seeded so different objects differ).
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ byte(i>>9) ^ seed
	}
	return b
}

// checksum is a cheap, order-sensitive digest of b with its length.
func checksum(b []byte) string {
	var h uint32 = 2166136261
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return strconv.Itoa(len(b)) + ":" + strconv.FormatUint(uint64(h), 16)
}

// startStoreNode starts a node whose object store has capacity bytes, with a driver in process.
func startStoreNode(t *testing.T, capacity int64) (*Node, *core.CoreWorker) {
	t.Helper()
	return startNodeWith(t, Options{Resources: map[string]float64{"CPU": 2}, ObjectStoreMemory: capacity}, true)
}

// putRef puts data and holds one ref to it, as a C++ ObjectRef would.
func putRef(t *testing.T, cw *core.CoreWorker, data []byte, contained ...ids.ObjectID) ids.ObjectID {
	t.Helper()
	id, err := cw.Put(data, contained)
	if err != nil {
		t.Fatal(err)
	}
	cw.AddRef(id)
	return id
}

// readBytes gets id and returns a copy of its value, ending the read.
func readBytes(t *testing.T, cw *core.CoreWorker, id ids.ObjectID) []byte {
	t.Helper()
	obj := getOne(t, cw, id)
	if obj.IsError() {
		t.Fatalf("object %s is an error: %s", id.Hex(), obj.Data)
	}
	b, err := cw.Bytes(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), b...)
	if obj.InShm {
		cw.ReleaseRead(id)
	}
	return out
}

// eventually waits (up to 10 s) for cond, which the node reaches asynchronously.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLargeObjectsLiveInSharedMemoryAndAreFreed(t *testing.T) {
	n, cw := startStoreNode(t, 64<<20)
	if cw.ShmThreshold() <= 0 {
		t.Fatal("the driver has no shared-memory store")
	}
	base := n.Raylet.NumObjects()
	data := pattern(3<<20, 1)
	id := putRef(t, cw, data)
	if _, used, _ := n.Raylet.ShmStats(); used < int64(len(data)) {
		t.Fatalf("store uses %d bytes after a %d-byte put", used, len(data))
	}
	if checksum(readBytes(t, cw, id)) != checksum(data) {
		t.Fatal("the value read back differs")
	}
	// By ref, by value (moved to shared memory), and a large result.
	byRef := submit(t, cw, "Sum", 0, ref(id))
	byValue := submit(t, cw, "Sum", 0, &pb.TaskArg{Data: data})
	big := submit(t, cw, "Big", 0, &pb.TaskArg{Data: []byte(strconv.Itoa(2 << 20))})
	for _, r := range []ids.ObjectID{byRef, byValue} {
		if got := string(readBytes(t, cw, r)); got != checksum(data) {
			t.Fatalf("task read %s, want %s", got, checksum(data))
		}
	}
	if got := readBytes(t, cw, big); checksum(got) != checksum(pattern(2<<20, 7)) {
		t.Fatal("a large task result came back different")
	}
	for _, r := range []ids.ObjectID{id, byRef, byValue, big} {
		cw.AddRef(r) // byRef etc. were never counted: count them once, then drop all
		if r == id {
			cw.RemoveRef(r)
		}
		cw.RemoveRef(r)
	}
	eventually(t, "every object freed", func() bool {
		_, used, _ := n.Raylet.ShmStats()
		return used == 0 && n.Raylet.NumObjects() == base
	})
}

func TestMoreDataThanCapacitySpillsAndRestores(t *testing.T) {
	n, cw := startStoreNode(t, 8<<20)
	var refs []ids.ObjectID
	for i := 0; i < 6; i++ {
		refs = append(refs, putRef(t, cw, pattern(2<<20, byte(i))))
	}
	if _, _, spilled := n.Raylet.ShmStats(); spilled == 0 {
		t.Fatal("12 MiB in an 8 MiB store and nothing spilled")
	}
	if st := n.Raylet.MetricStats(); st.StoreSpilled < 2<<20 || st.StoreObjects != 6 {
		t.Errorf("the metrics: %d bytes spilled, %d objects; want 2 MiB or more, 6", st.StoreSpilled, st.StoreObjects)
	}
	for i, id := range refs {
		if checksum(readBytes(t, cw, id)) != checksum(pattern(2<<20, byte(i))) {
			t.Fatalf("object %d came back from spilling different", i)
		}
		if got := string(readBytes(t, cw, submit(t, cw, "Sum", 0, ref(id)))); got != checksum(pattern(2<<20, byte(i))) {
			t.Fatalf("a task read spilled object %d as %s", i, got)
		}
	}
	// All at once: more than the store holds is in use by the tasks and by one Get.
	var sums []ids.ObjectID
	for _, id := range refs {
		sums = append(sums, submit(t, cw, "Sum", 0, ref(id)))
	}
	for i, s := range sums {
		if got := string(readBytes(t, cw, s)); got != checksum(pattern(2<<20, byte(i))) {
			t.Fatalf("task %d of 6 run together read %s", i, got)
		}
	}
	objs, err := cw.Get(refs, 20*time.Second)
	if err != nil {
		t.Fatalf("one Get of 12 MiB from an 8 MiB store: %v", err)
	}
	for i, obj := range objs {
		b, err := cw.Bytes(obj)
		if err != nil || checksum(b) != checksum(pattern(2<<20, byte(i))) {
			t.Fatalf("object %d of one Get of all: %v", i, err)
		}
	}
	for i, obj := range objs {
		if obj.InShm {
			cw.ReleaseRead(refs[i])
		}
	}
	_, err = cw.Put(make([]byte, 9<<20), nil)
	if core.CodeOf(err) != core.CodeStoreFull {
		t.Fatalf("a put larger than the store gave %v, want a store-full error", err)
	}
	if got := string(readBytes(t, cw, putRef(t, cw, []byte("small")))); got != "small" {
		t.Fatalf("small put after a failed one: %q", got)
	}
	for _, id := range refs {
		cw.RemoveRef(id)
	}
	eventually(t, "spilled objects freed", func() bool {
		_, used, spilled := n.Raylet.ShmStats()
		return used == 0 && spilled == 0
	})
	if st := n.Raylet.MetricStats(); st.StoreSpilled != 0 {
		t.Errorf("%d bytes spilled after every object was freed", st.StoreSpilled)
	}
	if entries, _ := os.ReadDir(n.Session.Dir + "/spill"); len(entries) != 0 {
		t.Fatalf("%d spill files left after every object was freed", len(entries))
	}
}

// getPinned gets id and keeps reading it (its range pinned) until the caller releases it.
func getPinned(t *testing.T, cw *core.CoreWorker, id ids.ObjectID) {
	t.Helper()
	if obj := getOne(t, cw, id); !obj.InShm {
		t.Fatalf("object %s is not in shared memory", id.Hex())
	}
}

// A put that does not fit while the rest of the store is being read waits for the read to end,
// as in Ray's store, instead of failing at once.
func TestCreateWaitsForRoomWhileObjectsAreRead(t *testing.T) {
	n, cw := startStoreNode(t, 8<<20)
	first := putRef(t, cw, pattern(6<<20, 1))
	getPinned(t, cw, first)
	type result struct {
		id  ids.ObjectID
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, err := cw.Put(pattern(4<<20, 2), nil)
		done <- result{id, err}
	}()
	eventually(t, "the second put waits for room", func() bool { return n.Raylet.WaitingCreates() == 1 })
	select {
	case res := <-done:
		t.Fatalf("the put answered while the store was full and pinned: %v", res.err)
	default:
	}
	cw.ReleaseRead(first) // the first object may spill now
	res := <-done
	if res.err != nil {
		t.Fatalf("the put that waited for room: %v", res.err)
	}
	cw.AddRef(res.id)
	if checksum(readBytes(t, cw, res.id)) != checksum(pattern(4<<20, 2)) {
		t.Fatal("the object that waited for room reads back different")
	}
	if checksum(readBytes(t, cw, first)) != checksum(pattern(6<<20, 1)) {
		t.Fatal("the object spilled for it reads back different")
	}
}

// With no progress for the grace period (RAY_oom_grace_period_s) a put fails with
// ObjectStoreFullError, and the node goes on.
func TestCreateFailsAfterTheGracePeriodWithoutProgress(t *testing.T) {
	t.Setenv(raylet.EnvOOMGracePeriod, "0.2")
	n, cw := startStoreNode(t, 8<<20)
	first := putRef(t, cw, pattern(6<<20, 1))
	getPinned(t, cw, first)
	_, err := cw.Put(pattern(4<<20, 2), nil)
	if core.CodeOf(err) != core.CodeStoreFull || !strings.Contains(err.Error(), "without progress") {
		t.Fatalf("a put that cannot fit while everything is pinned gave %v, want a store-full error", err)
	}
	if w := n.Raylet.WaitingCreates(); w != 0 {
		t.Fatalf("%d requests still wait after the grace period", w)
	}
	cw.ReleaseRead(first)
	if got := checksum(readBytes(t, cw, putRef(t, cw, pattern(4<<20, 3)))); got != checksum(pattern(4<<20, 3)) {
		t.Fatal("a put after the failed one reads back different")
	}
}

func TestCreateAndDropKeepsTheStoreFlat(t *testing.T) {
	n, cw := startStoreNode(t, 8<<20)
	base := n.Raylet.NumObjects()
	for i := 0; i < 100000; i++ {
		id := putRef(t, cw, []byte(strconv.Itoa(i)))
		cw.RemoveRef(id)
	}
	for i := 0; i < 300; i++ {
		id := putRef(t, cw, pattern(1<<20, byte(i)))
		cw.RemoveRef(id)
	}
	eventually(t, "all dropped objects freed", func() bool {
		_, used, _ := n.Raylet.ShmStats()
		return n.Raylet.NumObjects() == base && used == 0
	})
	if s := n.Raylet.Spills(); s != 0 {
		t.Fatalf("objects were spilled %d times: dropped objects should have been freed instead", s)
	}
	if entries, _ := os.ReadDir(n.Session.Dir + "/spill"); len(entries) != 0 {
		t.Fatalf("%d spill files: dropped objects were spilled instead of freed", len(entries))
	}
}

func TestNestedRefsAreKeptAliveByTheOuterObject(t *testing.T) {
	n, cw := startStoreNode(t, 64<<20)
	base := n.Raylet.NumObjects()
	small := putRef(t, cw, []byte("inner"))
	large := putRef(t, cw, pattern(1<<20, 3))
	outer := putRef(t, cw, []byte("outer"), small, large)
	cw.RemoveRef(small)
	cw.RemoveRef(large)
	// Through a task too: the task returns the outer object's value, refs included.
	if got := string(readBytes(t, cw, small)); got != "inner" {
		t.Fatalf("inner object read %q after its own refs were dropped", got)
	}
	if checksum(readBytes(t, cw, large)) != checksum(pattern(1<<20, 3)) {
		t.Fatal("large inner object changed")
	}
	cw.RemoveRef(outer)
	eventually(t, "outer and inner objects freed", func() bool {
		_, used, _ := n.Raylet.ShmStats()
		return n.Raylet.NumObjects() == base && used == 0
	})
}

func TestWriterKilledBeforeSealingLeavesTheStoreConsistent(t *testing.T) {
	n, cw := startStoreNode(t, 16<<20)
	obj := getOne(t, cw, submit(t, cw, "WriteThenDie", 0))
	if obj.Kind != 3 { // KindWorkerDied
		t.Fatalf("the killed writer's task gave kind %d: %s", obj.Kind, obj.Data)
	}
	eventually(t, "the dead writer's range freed", func() bool {
		_, used, _ := n.Raylet.ShmStats()
		return used == 0
	})
	// The whole store is usable again.
	id := putRef(t, cw, pattern(15<<20, 4))
	if checksum(readBytes(t, cw, id)) != checksum(pattern(15<<20, 4)) {
		t.Fatal("a value written after the dead writer's came back different")
	}
}

func TestWorkerKilledWhileReadingLeavesTheStoreConsistent(t *testing.T) {
	n, cw := startStoreNode(t, 64<<20)
	data := pattern(8<<20, 5)
	id := putRef(t, cw, data)
	obj := getOne(t, cw, submit(t, cw, "SumThenDie", 0, ref(id)))
	if obj.Kind != 3 { // KindWorkerDied
		t.Fatalf("the killed reader's task gave kind %d: %s", obj.Kind, obj.Data)
	}
	var sums []ids.ObjectID
	for i := 0; i < 8; i++ {
		sums = append(sums, submit(t, cw, "Sum", 0, ref(id)))
	}
	for _, s := range sums {
		if got := string(readBytes(t, cw, s)); got != checksum(data) {
			t.Fatalf("concurrent reader got %s", got)
		}
	}
	if checksum(readBytes(t, cw, id)) != checksum(data) {
		t.Fatal("object changed after its reader was killed")
	}
	cw.RemoveRef(id)
	eventually(t, "object freed once its reader is gone", func() bool {
		_, used, _ := n.Raylet.ShmStats()
		return used == 0
	})
}

func TestArenaFallsBackToTheSessionDirWhenDevShmIsTooSmall(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	if got := arenaPath(dir, 1<<20); got == "" || !strings.HasPrefix(got, shmDir+"/goray_") {
		t.Fatalf("a 1 MiB store goes to %q, want /dev/shm", got)
	}
	if got := arenaPath(dir, 1<<60); got != filepath.Join(dir, "object_store") {
		t.Fatalf("a store larger than /dev/shm goes to %q, want the session directory", got)
	}
}

func TestFragmentedStoreSpillsToMakeAContiguousRange(t *testing.T) {
	n, cw := startStoreNode(t, 8<<20)
	var refs []ids.ObjectID
	for i := 0; i < 4; i++ {
		refs = append(refs, putRef(t, cw, pattern(2<<20-64, byte(i))))
	}
	// Free the 1st and 3rd: 4 MiB free in total, in two 2 MiB holes.
	cw.RemoveRef(refs[0])
	cw.RemoveRef(refs[2])
	eventually(t, "two objects freed", func() bool {
		_, used, _ := n.Raylet.ShmStats()
		return used <= 4<<20
	})
	big := putRef(t, cw, pattern(3<<20, 9))
	if checksum(readBytes(t, cw, big)) != checksum(pattern(3<<20, 9)) {
		t.Fatal("the 3 MiB object came back different")
	}
	for _, i := range []int{1, 3} {
		if checksum(readBytes(t, cw, refs[i])) != checksum(pattern(2<<20-64, byte(i))) {
			t.Fatalf("object %d changed after spilling", i)
		}
	}
	if n.Raylet.Spills() == 0 {
		t.Fatal("the 3 MiB object fit without spilling into a store with only 2 MiB holes")
	}
}

// When another program fills the file system behind the arena, a Put that needs memory the file
// system cannot give fails with ObjectStoreFull (the writer is not killed by SIGBUS), and the node
// and the driver go on working. Needs a tmpfs mount (root).
func TestFullDevShmFailsPutsCleanly(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	saved := shmDir
	shmDir = dir
	t.Cleanup(func() { shmDir = saved })
	n, cw := startStoreNode(t, 16<<20)
	if !strings.HasPrefix(n.Raylet.ArenaPath(), dir) {
		t.Fatalf("the arena is %s, not on the small tmpfs", n.Raylet.ArenaPath())
	}
	// Another program takes 12 of the 16 MiB.
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 12<<20), 0600); err != nil {
		t.Fatal(err)
	}
	_, err := cw.Put(pattern(8<<20, 1), nil)
	if core.CodeOf(err) != core.CodeStoreFull || !strings.Contains(err.Error(), "/dev/shm") {
		t.Fatalf("an 8 MiB put with 4 MiB left behind the arena gave %v, want a store-full error naming /dev/shm", err)
	}
	data := pattern(1<<20, 2)
	id := putRef(t, cw, data)
	if checksum(readBytes(t, cw, id)) != checksum(data) {
		t.Fatal("a 1 MiB put after the failed one came back different")
	}
	if got := string(readBytes(t, cw, submit(t, cw, "Sum", 0, ref(id)))); got != checksum(data) {
		t.Fatalf("a task read %s, want %s", got, checksum(data))
	}
	cw.RemoveRef(id)
}

// A spilled object is read back from disk outside the node's lock: while its file is slow to read
// (here a FIFO nobody writes to yet), the node serves other work; the Get and the task waiting for
// it finish once the bytes come.
func TestRestoreFromDiskDoesNotStopTheNode(t *testing.T) {
	n, cw := startStoreNode(t, 8<<20)
	var refs []ids.ObjectID
	for i := 0; i < 6; i++ {
		refs = append(refs, putRef(t, cw, pattern(2<<20, byte(i))))
	}
	spillDir := filepath.Join(n.Session.Dir, "spill")
	var slow ids.ObjectID
	var data []byte
	for _, id := range refs {
		if b, err := os.ReadFile(filepath.Join(spillDir, id.Hex())); err == nil {
			slow, data = id, b
			break
		}
	}
	if data == nil {
		t.Fatal("12 MiB in an 8 MiB store and no spill file")
	}
	path := filepath.Join(spillDir, slow.Hex())
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0600); err != nil {
		t.Fatal(err)
	}
	fed := make(chan struct{})
	feed := func() {
		select {
		case <-fed:
			return
		default:
		}
		close(fed)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Errorf("opening the FIFO: %v", err)
			return
		}
		defer f.Close()
		if _, err := f.Write(data); err != nil {
			t.Errorf("writing the FIFO: %v", err)
		}
	}
	t.Cleanup(func() { // never leave the node's reader blocked
		go feed()
	})

	got := make(chan []byte, 1)
	go func() {
		objs, err := cw.Get([]ids.ObjectID{slow}, 30*time.Second)
		if err != nil {
			got <- []byte(err.Error())
			return
		}
		b, err := cw.Bytes(objs[0])
		if err != nil {
			got <- []byte(err.Error())
			return
		}
		got <- append([]byte(nil), b...)
		if objs[0].InShm {
			cw.ReleaseRead(slow)
		}
	}()
	sum := submit(t, cw, "Sum", 0, ref(slow))
	time.Sleep(100 * time.Millisecond) // the restore has started and waits for the FIFO

	// Meanwhile the node serves other clients' work.
	echo := submit(t, cw, "Echo", 0, &pb.TaskArg{Data: []byte("meanwhile")})
	objs, err := cw.Get([]ids.ObjectID{echo}, 10*time.Second)
	if err != nil || string(objs[0].Data) != "meanwhile" {
		t.Fatalf("a task while a restore waits on disk: %v", err)
	}
	small := putRef(t, cw, []byte("small"))
	if string(readBytes(t, cw, small)) != "small" {
		t.Fatal("a small put while a restore waits on disk came back different")
	}
	select {
	case b := <-got:
		t.Fatalf("the Get of the object being restored returned before its bytes were on disk: %.80q", b)
	default:
	}

	feed()
	select {
	case b := <-got:
		if checksum(b) != checksum(data) {
			t.Fatalf("the restored object came back different: %.80q", b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the Get of the restored object did not return")
	}
	if s := string(readBytes(t, cw, sum)); s != checksum(data) {
		t.Fatalf("the task waiting for the restored argument read %s, want %s", s, checksum(data))
	}
	for _, id := range refs {
		cw.RemoveRef(id)
	}
	cw.RemoveRef(small)
}
