package raylet

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"goray/ids"
	"goray/internal/testutil"
	"goray/rpc/auth"
	pb "goray/rpc/proto"
)

// startPeerNode starts a node of a cluster (no control store) on 127.0.0.1 with a shared-memory
// store.
func startPeerNode(t *testing.T) *Raylet {
	t.Helper()
	dir := testutil.ShortTempDir(t)
	r := New(Config{SessionDir: dir, LogsDir: dir, SocketPath: filepath.Join(dir, "raylet"),
		Resources: map[string]float64{"CPU": 1}, WorkerCommand: []string{"/bin/true"},
		ObjectStoreMemory: 128 << 20, ArenaPath: filepath.Join(dir, "arena"), SpillDir: filepath.Join(dir, "spill"),
		PeerListen: "127.0.0.1:0", Token: "pull-test-token-0123456789abcdef"})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// putShm stores data in r's shared memory as object id, held by the node's own client.
func putShm(t *testing.T, r *Raylet, id ids.ObjectID, data []byte) {
	t.Helper()
	ctx := context.Background()
	rep, err := r.local.request(ctx, func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateObject{CreateObject: &pb.CreateObject{RequestId: req, ObjectId: id[:], Size: int64(len(data))}}}
	})
	if err != nil || rep.Error != "" {
		t.Fatalf("create: %v %s", err, rep.GetError())
	}
	dst, err := r.arena.Bytes(rep.ShmOffset, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	copy(dst, data)
	rep, err = r.local.request(ctx, func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: &pb.SealObject{RequestId: req, ObjectId: id[:]}}}
	})
	if err != nil || rep.Error != "" {
		t.Fatalf("seal: %v %s", err, rep.GetError())
	}
}

// stored returns the bytes of object id in r's store.
func stored(t *testing.T, r *Raylet, id ids.ObjectID) []byte {
	t.Helper()
	ch, err := r.local.subscribe(id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ready, err := r.local.await(ctx, id, ch)
	if err != nil {
		t.Fatal(err)
	}
	if ready.Unknown || ready.Object == nil {
		t.Fatalf("object %s unknown", id.Hex())
	}
	if !ready.Object.InShm {
		return ready.Object.Data
	}
	defer r.local.release(id)
	b, err := r.arena.Bytes(ready.Object.ShmOffset, ready.Object.ShmSize)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), b...)
}

// Objects of every size move between two nodes intact: in chunks, over the data path, and both
// (a big first stripe and a small rest); from shared memory and from memory.
func TestPullBetweenNodes(t *testing.T) {
	a, b := startPeerNode(t), startPeerNode(t)
	pullSizes(t, a, b)
}

// Pulls go over mutual TLS when RAY_USE_TLS is on, the data path's too.
func TestPullBetweenNodesTLS(t *testing.T) {
	cert, key, ca := testutil.WriteCerts(t, t.TempDir(), "pull", "127.0.0.1")
	t.Setenv(auth.EnvUseTLS, "1")
	t.Setenv(auth.EnvTLSServerCert, cert)
	t.Setenv(auth.EnvTLSServerKey, key)
	t.Setenv(auth.EnvTLSCACert, ca)
	a, b := startPeerNode(t), startPeerNode(t)
	if b.xferTLS == nil {
		t.Fatal("the data path is not TLS")
	}
	pullSizes(t, a, b)
}

// A node whose data path is out of reach still has its objects pulled, in chunks.
func TestPullWithoutDataPath(t *testing.T) {
	a, b := startPeerNode(t), startPeerNode(t)
	a.xfer.Close()
	pullSizes(t, a, b)
}

// pullSizes has b pull objects of a few sizes from a and checks their bytes.
func pullSizes(t *testing.T, a, b *Raylet) {
	t.Helper()
	for _, c := range []struct {
		size  int
		inShm bool
	}{
		{600 << 10, true},
		{pullStripe + 1<<20, true},
		{pullStripe + 3<<20, true},
		{40 << 20, true},
		{3 << 20, false},
	} {
		data := make([]byte, c.size)
		for i := range data {
			data[i] = byte(i*31 + i>>16)
		}
		id := ids.NewPutID()
		if c.inShm {
			putShm(t, a, id, data)
		} else if err := a.local.send(&pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id[:], Object: &pb.Object{Data: data}}}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := b.acquire(ctx, a.PeerAddress(), id)
		cancel()
		if err != nil {
			t.Fatalf("pull of %d bytes: %v", c.size, err)
		}
		if got := stored(t, b, id); !bytes.Equal(got, data) {
			t.Fatalf("pull of %d bytes: %d bytes arrived, not the ones sent", c.size, len(got))
		}
		b.releasePulled(id)
	}
}

// A pull that joins another's pull of the same object from another node, which fails (the
// object is not there), pulls from its own node then; and a failed pull is never joined.
func TestPullJoinedFailureTriesItsOwnNode(t *testing.T) {
	a, b := startPeerNode(t), startPeerNode(t)
	id := ids.NewPutID()
	putShm(t, a, id, []byte("the object lives on node a"))
	// Another pull of id, from a node that lacks it, is under way at b.
	other := &pull{addr: "127.0.0.9:1", done: make(chan struct{}), users: 1}
	b.pullMu.Lock()
	b.pulls = map[ids.ObjectID]*pull{id: other}
	b.pullMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- b.acquire(ctx, a.PeerAddress(), id) }()
	for joined := false; !joined; {
		b.pullMu.Lock()
		joined = other.users == 2
		b.pullMu.Unlock()
		if !joined {
			time.Sleep(time.Millisecond)
		}
	}
	// It fails, as a failed pull does: it leaves the table, then says why.
	other.err = errors.New("object not on node 127.0.0.9")
	b.pullMu.Lock()
	delete(b.pulls, id)
	b.pullMu.Unlock()
	close(other.done)
	if err := <-errc; err != nil {
		t.Fatalf("the joined pull's failure became this pull's: %v", err)
	}
	if got := string(stored(t, b, id)); got != "the object lives on node a" {
		t.Fatalf("b has %q", got)
	}
	b.releasePulled(id)
	// A pull from a node that lacks the object fails, and leaves nothing behind to join.
	missing := ids.NewPutID()
	if err := b.acquire(ctx, a.PeerAddress(), missing); err == nil {
		t.Fatal("a pull of an object no node has succeeded")
	}
	b.pullMu.Lock()
	left := b.pulls[missing]
	b.pullMu.Unlock()
	if left != nil {
		t.Errorf("the failed pull is still in the table (%d users)", left.users)
	}
}

// A puller that stops waiting for a pull that failed meanwhile (it left the table, and another
// pull of the object started) takes nothing from the new pull.
func TestPullLeavingAFailedPull(t *testing.T) {
	r := &Raylet{}
	id := ids.NewPutID()
	failed := &pull{addr: "a", users: 2, err: errors.New("not there")}
	current := &pull{addr: "b", users: 1, done: make(chan struct{})}
	r.pulls = map[ids.ObjectID]*pull{id: current}
	r.leavePull(id, failed)
	if current.users != 1 || r.pulls[id] != current {
		t.Errorf("the current pull has %d users (in the table: %v), want 1 (true)", current.users, r.pulls[id] == current)
	}
}
