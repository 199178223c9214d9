package raylet

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"goray/ids"
	"goray/internal/testutil"
	"goray/objstore"
	"goray/resources"
	pb "goray/rpc/proto"
)

func startRaylet(t *testing.T, workerCommand []string) *Raylet {
	t.Helper()
	dir := testutil.ShortTempDir(t)
	r := New(Config{SessionDir: dir, LogsDir: dir, SocketPath: filepath.Join(dir, "raylet"),
		Resources: map[string]float64{"CPU": 1}, WorkerCommand: workerCommand})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func openStream(t *testing.T, r *Raylet) pb.NodeManager_ConnectClient {
	t.Helper()
	conn, err := grpc.Dial("unix://"+r.cfg.SocketPath, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	stream, err := pb.NewNodeManagerClient(conn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

func TestStreamMustStartWithRegister(t *testing.T) {
	r := startRaylet(t, []string{"/bin/true"})
	stream := openStream(t, r)
	id := ids.NewPutID()
	if err := stream.Send(&pb.ClientBatch{Messages: []*pb.ClientMessage{{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id[:]}}}}}); err != nil {
		t.Fatal(err)
	}
	_, err := stream.Recv()
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unregistered stream: %v", err)
	}
}

// A driver's raw stream: malformed messages are logged and skipped, the stream lives on.
func TestMalformedMessagesAreSkipped(t *testing.T) {
	r := startRaylet(t, []string{"/bin/true"})
	stream := openStream(t, r)
	driver := ids.NewUniqueID()
	good := ids.NewPutID()
	err := stream.Send(&pb.ClientBatch{Messages: []*pb.ClientMessage{
		{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: driver[:], IsDriver: true}}},
		{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: []byte("short")}}},
		{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{[]byte("x")}}}},
		{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{ReturnId: []byte("bad")}}},
		{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{}}},
		{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: good[:], Object: &pb.Object{Data: []byte("v")}}}},
		{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{good[:]}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := awaitObject(t, stream, good[:]); string(got.Object.Data) != "v" {
		t.Fatalf("got %v", got)
	}
}

// awaitObject receives from stream until the node sends object id, and returns it.
func awaitObject(t *testing.T, stream pb.NodeManager_ConnectClient, id []byte) *pb.ObjectReady {
	t.Helper()
	for {
		b, err := stream.Recv()
		if err != nil {
			t.Fatalf("waiting for object %x: %v", id, err)
		}
		for _, m := range b.Messages {
			if o := m.GetObject(); o != nil && string(o.ObjectId) == string(id) {
				return o
			}
		}
	}
}

func TestWorkersThatCannotStartFailTasks(t *testing.T) {
	r := startRaylet(t, []string{"/bin/sh", "-c", "echo cannot load the library >&2; exit 7"})
	stream := openStream(t, r)
	driver := ids.NewUniqueID()
	task := ids.NewTaskID()
	ret := task.ReturnID(1)
	err := stream.Send(&pb.ClientBatch{Messages: []*pb.ClientMessage{
		{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: driver[:], IsDriver: true}}},
		{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: task[:], ReturnId: ret[:], FunctionName: "F"}}},
		{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{ret[:]}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := awaitObject(t, stream, ret[:])
	msg := string(o.Object.Data)
	if o.Object.Kind != objstore.KindWorkerDied || !strings.Contains(msg, "cannot load the library") || !strings.Contains(msg, "exited with status 7") {
		t.Fatalf("kind %d: %s", o.Object.Kind, msg)
	}
}

func TestReadEnd(t *testing.T) {
	p := filepath.Join(t.TempDir(), "err")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limit int64
		want  string
	}{{4, "6789"}, {10, "0123456789"}, {100, "0123456789"}, {0, ""}} {
		if got, err := readEnd(p, c.limit); err != nil || string(got) != c.want {
			t.Errorf("readEnd(%d) = %q, %v; want %q", c.limit, got, err, c.want)
		}
	}
	if _, err := readEnd("/no/such/file", 3); err == nil {
		t.Fatal("readEnd of a missing file")
	}
}

// A worker whose registration reaches the node before its spawner has recorded it is accepted
// once the spawner has (it used to be refused as unknown, and an actor restarted at that moment died).
func TestRegistrationBeforeTheSpawnerRecordsTheWorker(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	idFile := filepath.Join(dir, "worker-id")
	release := make(chan struct{})
	afterWorkerStart = func() { <-release }
	t.Cleanup(func() { afterWorkerStart = nil })
	r := New(Config{SessionDir: dir, LogsDir: dir, SocketPath: filepath.Join(dir, "raylet"),
		Resources:     map[string]float64{"CPU": 1},
		WorkerCommand: []string{"/bin/sh", "-c", "echo $" + EnvWorkerID + " > " + idFile + ".tmp && mv " + idFile + ".tmp " + idFile + " && exec sleep 60"}})
	started := make(chan error, 1)
	go func() { started <- r.Start() }()
	var startErr error
	startReturned := false
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		if !startReturned {
			startErr = <-started
		}
		r.Stop()
	})
	var hexID []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if hexID, err = os.ReadFile(idFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker process never wrote its id")
		}
	}
	id, err := ids.UniqueIDFromHex(strings.TrimSpace(string(hexID)))
	if err != nil {
		t.Fatal(err)
	}
	stream := openStream(t, r)
	if err := stream.Send(&pb.ClientBatch{Messages: []*pb.ClientMessage{
		{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: id[:]}}},
	}}); err != nil {
		t.Fatal(err)
	}
	replies := make(chan error, 1)
	go func() {
		b, err := stream.Recv()
		if err == nil && (len(b.Messages) == 0 || b.Messages[0].GetRegistered() == nil) {
			err = fmt.Errorf("first reply is not Registered: %v", b)
		}
		replies <- err
	}()
	select {
	case err := <-replies:
		t.Fatalf("answered before the spawner recorded the worker: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-replies; err != nil {
		t.Fatalf("registration refused: %v", err)
	}
	startErr, startReturned = <-started, true
	if startErr != nil {
		t.Fatal(startErr)
	}
}

// The in-process stream: batches after the registration are handled on the sending goroutine, in
// order after it; once the node stops, sends fail instead of hanging.
func TestInProcessStreamHandlesLaterBatchesOnTheSender(t *testing.T) {
	r := startRaylet(t, []string{"/bin/true"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := r.ConnectInProcess(ctx)
	if err != nil {
		t.Fatal(err)
	}
	driver := ids.NewUniqueID()
	id := ids.NewPutID()
	batches := []*pb.ClientBatch{
		{Messages: []*pb.ClientMessage{{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: driver[:], IsDriver: true}}}}},
		{Messages: []*pb.ClientMessage{{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id[:], Object: &pb.Object{Data: []byte("v")}}}}}},
		{Messages: []*pb.ClientMessage{{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{id[:]}}}}}},
	}
	for _, b := range batches {
		if err := stream.Send(b); err != nil {
			t.Fatal(err)
		}
	}
	// Handled already, on this goroutine: the node holds the object.
	if s := r.Stats(); s.Objects != 1 {
		t.Fatalf("the put was not handled by the time Send returned: %+v", s)
	}
	var kinds []string
	for len(kinds) < 2 {
		b, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range b.Messages {
			switch {
			case m.GetRegistered() != nil:
				kinds = append(kinds, "registered")
			case m.GetObject() != nil:
				if string(m.GetObject().Object.GetData()) != "v" {
					t.Fatalf("object %v", m.GetObject())
				}
				kinds = append(kinds, "object")
			}
		}
	}
	if kinds[0] != "registered" || kinds[1] != "object" {
		t.Fatalf("replies out of order: %v", kinds)
	}
	r.Stop()
	if err := stream.Send(batches[1]); err == nil {
		t.Fatal("a send after the node stopped succeeded")
	}
}

// The node refuses what no node could ever run, at submission: the same rules as everywhere else
// (go/resources).
func TestValidateResources(t *testing.T) {
	r := New(Config{})
	for _, c := range []struct {
		res  map[string]float64
		want string // "" when valid
	}{
		{nil, ""},
		{map[string]float64{"CPU": 0.5, "GPU": 1, "r1": 1e12}, ""},
		{map[string]float64{"CPU": math.Inf(1)}, "infinite"},
		{map[string]float64{"CPU": math.NaN()}, "not a number"},
		{map[string]float64{"CPU": -1}, "negative"},
		{map[string]float64{"CPU": 0}, "positive"},
		{map[string]float64{"r": 1e18}, "too large"},
		{map[string]float64{"": 1}, "empty name"},
	} {
		task := &task{spec: &pb.TaskSpec{FunctionName: "F", Resources: c.res}}
		err := r.validate(task)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v refused: %v", c.res, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: got %v, want an error saying %q", c.res, err, c.want)
		case c.want == "" && task.demand.Get(resources.CPU) == 0:
			t.Errorf("%v: no CPU demand filled in: %v", c.res, task.demand)
		}
	}
}
