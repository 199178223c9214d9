package core

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
)

func newLocal(t *testing.T, threads int, exec Executor) *CoreWorker {
	t.Helper()
	cw, err := New(Options{Local: true, NumCPUs: threads, Exec: exec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cw.Close)
	return cw
}

func concat(call *TaskCall) *objstore.Object {
	var parts []string
	for _, a := range call.Args {
		parts = append(parts, string(a))
	}
	return &objstore.Object{Data: []byte(call.Function + "(" + strings.Join(parts, ",") + ")")}
}

func TestLocalPutGetAndTasks(t *testing.T) {
	cw := newLocal(t, 2, concat)
	put, err := cw.Put([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cw.AddRef(put) // held like a live ObjectRef; otherwise the task's hold is the last
	ret, err := cw.SubmitTask(&pb.TaskSpec{FunctionName: "F", Args: []*pb.TaskArg{{Data: []byte("1")}, {IsRef: true, ObjectId: put[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cw.Get([]ids.ObjectID{ret, put}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(objs[0].Data) != "F(1,x)" || string(objs[1].Data) != "x" {
		t.Fatalf("got %q %q", objs[0].Data, objs[1].Data)
	}
	if _, err := cw.SubmitTask(&pb.TaskSpec{}); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("task without a function: %v", err)
	}
	if _, err := New(Options{Local: true}); err == nil {
		t.Fatal("local mode without an executor accepted")
	}
}

func TestLocalWaitAndTimeouts(t *testing.T) {
	release := make(chan struct{})
	cw := newLocal(t, 4, func(call *TaskCall) *objstore.Object {
		if call.Function == "Block" {
			<-release
		}
		return concat(call)
	})
	defer close(release)
	fast, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Fast"})
	slow, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Block"})
	if _, err := cw.Get([]ids.ObjectID{fast}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ready, err := cw.Wait([]ids.ObjectID{slow, fast}, 1, 50*time.Millisecond)
	if err != nil || ready[0] || !ready[1] {
		t.Fatalf("wait 1: %v %v", ready, err)
	}
	ready, err = cw.Wait([]ids.ObjectID{slow, fast}, 2, 50*time.Millisecond)
	if err != nil || ready[0] || !ready[1] {
		t.Fatalf("wait 2 with timeout: %v %v", ready, err)
	}
	if _, err := cw.Wait([]ids.ObjectID{fast}, 2, 0); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("num_objects > len: %v", err)
	}
	_, err = cw.Get([]ids.ObjectID{slow}, 30*time.Millisecond)
	if CodeOf(err) != CodeTimeout || !strings.HasPrefix(err.Error(), "Get object error") {
		t.Fatalf("timeout: %v", err)
	}
	if _, err := cw.Get([]ids.ObjectID{ids.NewPutID()}, -1); CodeOf(err) != CodeUnknownObject {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestLocalWaitCapsReady(t *testing.T) {
	cw := newLocal(t, 2, concat)
	var list []ids.ObjectID
	for i := 0; i < 5; i++ {
		id, _ := cw.Put([]byte{byte(i)}, nil)
		list = append(list, id)
	}
	ready, err := cw.Wait(list, 3, -1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range ready {
		if r {
			n++
		}
	}
	if n != 3 || !ready[0] || !ready[2] || ready[3] {
		t.Fatalf("ready %v", ready)
	}
}

func TestLocalNestedTasksDoNotDeadlock(t *testing.T) {
	var cw *CoreWorker
	cw = newLocal(t, 1, func(call *TaskCall) *objstore.Object {
		if call.Function == "Outer" {
			inner, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Inner"})
			objs, err := cw.Get([]ids.ObjectID{inner}, 5*time.Second)
			if err != nil {
				return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())}
			}
			return &objstore.Object{Data: append([]byte("Outer>"), objs[0].Data...)}
		}
		return concat(call)
	})
	outer, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Outer"})
	objs, err := cw.Get([]ids.ObjectID{outer}, 5*time.Second)
	if err != nil || string(objs[0].Data) != "Outer>Inner()" {
		t.Fatalf("%v %v", objs, err)
	}
}

func TestRefCountingReleasesLocalObjects(t *testing.T) {
	cw := newLocal(t, 1, concat)
	inner, _ := cw.Put([]byte("inner"), nil)
	cw.AddRef(inner)
	outer, _ := cw.Put([]byte("outer"), []ids.ObjectID{inner})
	cw.AddRef(outer)
	if cw.RefCount(inner) != 2 {
		t.Fatalf("inner count %d, want 2 (ref + outer)", cw.RefCount(inner))
	}
	cw.RemoveRef(inner)
	if _, err := cw.Get([]ids.ObjectID{inner}, 0); err != nil {
		t.Fatalf("inner freed while outer holds it: %v", err)
	}
	cw.RemoveRef(outer)
	if cw.store.Len() != 0 {
		t.Fatalf("%d objects left after every ref went", cw.store.Len())
	}
	if _, err := cw.Get([]ids.ObjectID{inner}, 0); CodeOf(err) != CodeUnknownObject {
		t.Fatalf("freed object: %v", err)
	}
	cw.RemoveRef(ids.NewPutID()) // unknown: ignored
}

func TestCloseFailsWaiters(t *testing.T) {
	var started int32
	block := make(chan struct{})
	defer close(block)
	cw, err := New(Options{Local: true, Exec: func(*TaskCall) *objstore.Object {
		atomic.StoreInt32(&started, 1)
		<-block
		return &objstore.Object{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "F"})
	done := make(chan error)
	go func() {
		_, err := cw.Get([]ids.ObjectID{id}, -1)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cw.Close()
	select {
	case err := <-done:
		if err != ErrShutdown {
			t.Fatalf("pending Get: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending Get hung after Close")
	}
	if _, err := cw.Put(nil, nil); err != ErrShutdown {
		t.Fatalf("Put after Close: %v", err)
	}
}
