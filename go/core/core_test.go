package core

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"goray/actorrule"
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
		if !errors.Is(err, ErrShutdown) {
			t.Fatalf("pending Get: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending Get hung after Close")
	}
	if _, err := cw.Put(nil, nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Put after Close: %v", err)
	}
}

type counterState struct{ n int }

// counterExec is a local-mode actor: "Counter" creates, "Add" adds, "Exit" exits.
func counterExec(cw **CoreWorker) Executor {
	return func(call *TaskCall) *objstore.Object {
		switch call.Type {
		case TaskActorCreation:
			if call.Function == "Bad" {
				return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("no way")}
			}
			call.NewInstance = unsafe.Pointer(&counterState{})
			return &objstore.Object{}
		case TaskActorMethod:
			c := (*counterState)(call.Instance)
			switch call.Function {
			case "Add":
				c.n++
				return &objstore.Object{Data: []byte(strconv.Itoa(c.n))}
			case "Restarted":
				return &objstore.Object{Data: []byte(strconv.FormatBool((*cw).WasCurrentActorRestarted()))}
			case "Exit":
				(*cw).ExitActor()
				return &objstore.Object{Kind: objstore.KindActorDied, Data: []byte("bye")}
			}
		}
		return &objstore.Object{}
	}
}

func TestLocalActors(t *testing.T) {
	var cw *CoreWorker
	cw = newLocal(t, 2, counterExec(&cw))
	if err := cw.ExitActor(); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("ExitActor outside an actor: %v", err)
	}
	a, err := cw.CreateActor(ActorOptions{Creation: &pb.TaskSpec{FunctionName: "Counter"}, ClassName: "C", Name: "n", Namespace: "ns", MaxRestarts: 1, MaxConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.CreateActor(ActorOptions{Creation: &pb.TaskSpec{FunctionName: "Counter"}, Name: "n", Namespace: "ns", MaxConcurrency: 1}); err == nil {
		t.Fatal("duplicate name accepted")
	}
	callOne := func(fn string) *objstore.Object {
		ret, err := cw.SubmitActorTask(a, &pb.TaskSpec{FunctionName: fn})
		if err != nil {
			t.Fatal(err)
		}
		objs, err := cw.Get([]ids.ObjectID{ret}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return objs[0]
	}
	var rets []ids.ObjectID
	for i := 0; i < 20; i++ {
		ret, _ := cw.SubmitActorTask(a, &pb.TaskSpec{FunctionName: "Add"})
		rets = append(rets, ret)
	}
	objs, err := cw.Get(rets, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if string(o.Data) != strconv.Itoa(i+1) {
			t.Fatalf("call %d: %q", i, o.Data)
		}
	}
	if id, class, found, _ := cw.GetActor("n", "ns"); !found || id != a || class != "C" {
		t.Fatal("GetActor")
	}
	cw.KillActor(a, false)
	if got := string(callOne("Restarted").Data); got != "true" {
		t.Fatalf("after Kill(false): restarted = %q", got)
	}
	if got := string(callOne("Add").Data); got != "1" {
		t.Fatalf("restarted state: %q", got)
	}
	if o := callOne("Exit"); o.Kind != objstore.KindActorDied {
		t.Fatalf("exit: %d", o.Kind)
	}
	if o := callOne("Add"); o.Kind != objstore.KindActorDied || string(o.Data) != actorrule.CauseExited {
		t.Fatalf("after exit: %d %q", o.Kind, o.Data)
	}
	if _, _, found, _ := cw.GetActor("n", "ns"); found {
		t.Fatal("dead actor still named")
	}
	bad, _ := cw.CreateActor(ActorOptions{Creation: &pb.TaskSpec{FunctionName: "Bad"}, MaxConcurrency: 1})
	ret, _ := cw.SubmitActorTask(bad, &pb.TaskSpec{FunctionName: "Add"})
	objs, _ = cw.Get([]ids.ObjectID{ret}, 5*time.Second)
	if objs[0].Kind != objstore.KindActorDied || !strings.Contains(string(objs[0].Data), "no way") {
		t.Fatalf("failed factory: %d %q", objs[0].Kind, objs[0].Data)
	}
	if _, err := cw.CreateActor(ActorOptions{Creation: &pb.TaskSpec{FunctionName: "Counter"}, MaxConcurrency: 0}); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("max_concurrency 0: %v", err)
	}
}

// A task argument whose producing task finishes while the argument is being checked is still
// known: it left pending only after its result was stored. (Was a rare "no process created"
// failure of chained tasks in local mode.)
func TestLocalArgumentFinishingDuringTheCheckIsKnown(t *testing.T) {
	cw := newLocal(t, 1, concat)
	b := cw.be.(*localBackend)
	id := ids.NewTaskID().ReturnID(1)
	b.mu.Lock()
	b.pending[id] = true
	b.mu.Unlock()
	b.afterStoreMiss = func(ids.ObjectID) {
		b.afterStoreMiss = nil
		b.finishCall(id, &objstore.Object{Data: []byte("done")}, nil)
	}
	ret, err := cw.SubmitTask(&pb.TaskSpec{FunctionName: "F", Args: []*pb.TaskArg{{IsRef: true, ObjectId: id[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cw.Get([]ids.ObjectID{ret}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].IsError() || string(objs[0].Data) != "F(done)" {
		t.Fatalf("got kind %d %q", objs[0].Kind, objs[0].Data)
	}
}

// Errors match sentinels by code, wherever they were made and however wrapped.
func TestErrorsMatchByCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{ErrShutdown, true},
		{Errorf(CodeShutdown, "the stream to the node ended"), true},
		{fmt.Errorf("fetch: %w", Errorf(CodeShutdown, "gone")), true},
		{Errorf(CodeTimeout, "timed out"), false},
		{errors.New("shut down"), false},
	} {
		if got := errors.Is(c.err, ErrShutdown); got != c.want {
			t.Errorf("errors.Is(%v, ErrShutdown) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A Get keeps the deadline of its first call when it fetches an object again: past the
// deadline it reports a timeout at once instead of waiting its whole timeout over.
func TestGetKeepsItsDeadline(t *testing.T) {
	release := make(chan struct{})
	cw := newLocal(t, 1, func(*TaskCall) *objstore.Object {
		<-release
		return &objstore.Object{}
	})
	defer close(release)
	slow, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Block"})
	start := time.Now()
	_, err := cw.getUntil([]ids.ObjectID{slow}, time.Hour, time.Now().Add(-time.Second))
	if CodeOf(err) != CodeTimeout {
		t.Fatalf("past its deadline: %v", err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("a Get past its deadline waited %v", waited)
	}
}

// Wait's fast path (readyPrefix) marks the first n distinct present objects in the order given,
// past any missing ones and duplicates, also beyond the few it compares one by one (n > 8), and
// WaitInto writes the same flags into a buffer it is given (every flag, not only the ready ones).
func TestLocalWaitIntoOrderAndDuplicates(t *testing.T) {
	release := make(chan struct{})
	cw := newLocal(t, 2, func(call *TaskCall) *objstore.Object {
		<-release
		return concat(call)
	})
	defer close(release)
	var present []ids.ObjectID
	for i := 0; i < 12; i++ {
		id, _ := cw.Put([]byte{byte(i)}, nil)
		present = append(present, id)
	}
	missing, err := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Block"}) // never done in the test
	if err != nil {
		t.Fatal(err)
	}
	// missing, p0, p0 (again), p1, missing, p2..p11
	list := []ids.ObjectID{missing, present[0], present[0], present[1], missing}
	list = append(list, present[2:]...)
	for _, n := range []int{1, 2, 9, 10, 12} {
		buf := make([]bool, len(list))
		for i := range buf {
			buf[i] = true // stale flags from an earlier call must be cleared
		}
		if err := cw.WaitInto(list, n, 0, buf); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		want := make([]bool, len(list))
		count := 0
		for i := range list {
			if count == n {
				break
			}
			if list[i] == missing || (i == 2) { // i == 2 repeats p0
				continue
			}
			want[i] = true
			count++
		}
		for i := range want {
			if buf[i] != want[i] {
				t.Fatalf("n=%d: flags %v, want %v", n, buf, want)
			}
		}
		ready, err := cw.Wait(list, n, 0)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for i := range want {
			if ready[i] != want[i] {
				t.Fatalf("n=%d: Wait %v, want %v", n, ready, want)
			}
		}
	}
	// 12 distinct objects are present: waiting for 13 of the 14 entries times out with all 12.
	ready, err := cw.Wait(list, 13, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ready[0] || ready[4] || !ready[1] || !ready[3] || !ready[len(ready)-1] {
		t.Fatalf("after the timeout: %v", ready)
	}
	if err := cw.WaitInto(list, 1, 0, make([]bool, len(list)-1)); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("short flag buffer: %v", err)
	}
}

// An unknown id ahead of the ready ones sends Wait down its slow path, which reports it.
func TestLocalWaitUnknownObject(t *testing.T) {
	cw := newLocal(t, 2, concat)
	a, _ := cw.Put([]byte("a"), nil)
	unknown := ids.NewPutID()
	if _, err := cw.Get([]ids.ObjectID{unknown}, 0); CodeOf(err) != CodeUnknownObject {
		t.Fatalf("get: %v", err)
	}
	// Get found it unknown (and dropped the marker); Wait asks again and learns the same.
	if _, err := cw.Wait([]ids.ObjectID{unknown, a}, 2, time.Second); CodeOf(err) != CodeUnknownObject {
		t.Fatalf("wait: %v", err)
	}
}

// The loop of single Waits over a shrinking list (bench: single_client_wait_1k_refs) finds the
// objects in order as they finish, and leaves no waiter behind.
func TestLocalWaitLoopAsTasksFinish(t *testing.T) {
	cw := newLocal(t, 3, concat)
	var list []ids.ObjectID
	for i := 0; i < 200; i++ {
		ret, err := cw.SubmitTask(&pb.TaskSpec{FunctionName: "F" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, ret)
	}
	seen := map[ids.ObjectID]bool{}
	for len(list) > 0 {
		ready, err := cw.Wait(list, 1, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var rest []ids.ObjectID
		got := 0
		for i, r := range ready {
			if r {
				got++
				seen[list[i]] = true
			} else {
				rest = append(rest, list[i])
			}
		}
		if got != 1 {
			t.Fatalf("%d ready of %d, want 1", got, len(list))
		}
		list = rest
	}
	if len(seen) != 200 {
		t.Fatalf("%d distinct results", len(seen))
	}
}

// Reference notices in a row travel as one message, merged only where the node (additions
// before removals) ends up as with the notices one by one.
func TestMergeRefNotice(t *testing.T) {
	a, b, c := ids.NewPutID(), ids.NewPutID(), ids.NewPutID()
	one := func(id ids.ObjectID) []ids.ObjectID { return []ids.ObjectID{id} }
	last := &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Added: ids.ToBytes(one(a))}}}
	if !mergeRefNotice(last, one(b), nil) { // additions after additions
		t.Fatal("additions not merged")
	}
	if !mergeRefNotice(last, nil, one(a)) { // removals after anything
		t.Fatal("removal not merged")
	}
	if mergeRefNotice(last, one(a), nil) { // a re-added after its removal
		t.Fatal("an addition was merged after a removal: the node would apply it first")
	}
	if !mergeRefNotice(last, nil, one(c)) {
		t.Fatal("removal not merged")
	}
	u := last.GetUpdateRefs()
	if len(u.Added) != 2 || len(u.Removed) != 2 || string(u.Added[1]) != string(b[:]) || string(u.Removed[1]) != string(c[:]) {
		t.Fatalf("merged notice %v", u)
	}
	submit := &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{}}}
	if mergeRefNotice(submit, nil, one(a)) {
		t.Fatal("merged into a message that is not a notice")
	}
}
