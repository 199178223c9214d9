package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"goray/core"
	"goray/ids"
	"goray/internal/testutil"
	"goray/objstore"
	"goray/raylet"
	pb "goray/rpc/proto"
)

// The test binary doubles as the worker program: the node starts it with GORAY_WORKER=1.
func TestMain(m *testing.M) {
	if os.Getenv(raylet.EnvWorker) == "1" {
		os.Exit(runWorker())
	}
	if root := os.Getenv(envDriverRoot); root != "" {
		os.Exit(runDriver(root))
	}
	os.Exit(m.Run())
}

// workerCW is the test worker's core worker; tasks run only once it is set (as in capi's
// ray_worker_run: a task may arrive before core.New returns).
var workerCW *core.CoreWorker

func runWorker() int {
	id, err := ids.UniqueIDFromHex(os.Getenv(raylet.EnvWorkerID))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ready := make(chan struct{})
	gated := func(call *core.TaskCall) *objstore.Object {
		<-ready
		return execute(call)
	}
	cw, err := core.New(core.Options{RayletSocket: os.Getenv(raylet.EnvRayletSocket), IsWorker: true, WorkerID: id, Exec: gated})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	workerCW = cw
	close(ready)
	<-cw.Done()
	return 0
}

func value(s string) *objstore.Object { return &objstore.Object{Data: []byte(s)} }

// counter is the state of a test actor.
type counter struct{ n int }

// execute is the test workers' "user code".
func execute(call *core.TaskCall) *objstore.Object {
	switch call.Type {
	case core.TaskActorCreation:
		if call.Function == "BadFactory" {
			return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("factory refused")}
		}
		start, _ := strconv.Atoi(string(call.Args[0]))
		call.NewInstance = unsafe.Pointer(&counter{n: start})
		return value("")
	case core.TaskActorDestroy:
		return value("")
	case core.TaskActorMethod:
		c := (*counter)(call.Instance)
		switch call.Function {
		case "Add":
			d, _ := strconv.Atoi(string(call.Args[0]))
			c.n += d
			return value(strconv.Itoa(c.n))
		case "Pid":
			return value(strconv.Itoa(os.Getpid()))
		case "Restarted":
			return value(strconv.FormatBool(workerCW.WasCurrentActorRestarted()))
		case "Exit":
			if err := workerCW.ExitActor(); err != nil {
				return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())}
			}
			return &objstore.Object{Kind: objstore.KindActorDied, Data: []byte("exiting")}
		}
	}
	switch call.Function {
	case "Sum":
		return value(checksum(call.Args[0]))
	case "WriteThenDie":
		// Reserve shared memory, write half of it, and die before sealing.
		_, buf, err := workerCW.CreateShm(4 << 20)
		if err != nil {
			return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())}
		}
		copy(buf[:2<<20], pattern(2<<20, 9))
		os.Exit(9)
	case "SumThenDie":
		_ = checksum(call.Args[0][:len(call.Args[0])/2])
		os.Exit(9)
	case "Big":
		n, _ := strconv.Atoi(string(call.Args[0]))
		return &objstore.Object{Data: pattern(n, 7)}
	case "SlowEcho":
		time.Sleep(5 * time.Millisecond)
		return value(string(call.Args[0]))
	case "Echo":
		var parts []string
		for _, a := range call.Args {
			parts = append(parts, string(a))
		}
		return value(strings.Join(parts, "+"))
	case "Pid":
		return value(strconv.Itoa(os.Getpid()))
	case "Touch":
		if err := os.WriteFile(string(call.Args[0]), []byte("ran"), 0600); err != nil {
			return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())}
		}
		return value("touched")
	case "Sleep":
		ms, _ := strconv.Atoi(string(call.Args[0]))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return value("slept")
	case "Fail":
		return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("Fail failed on purpose")}
	case "Crash":
		fmt.Fprintln(os.Stderr, "about to crash on purpose")
		os.Exit(3)
	case "Nested":
		ret, err := workerCW.SubmitTask(&pb.TaskSpec{FunctionName: "Echo", Args: []*pb.TaskArg{{Data: []byte("inner")}}, MaxRetries: -1})
		if err != nil {
			return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())}
		}
		objs, err := workerCW.Get([]ids.ObjectID{ret}, 10*time.Second)
		if err != nil {
			return &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(err.Error())}
		}
		return value("outer(" + string(objs[0].Data) + ")")
	}
	return &objstore.Object{Kind: objstore.KindFunctionNotFound, Data: []byte("no function " + call.Function)}
}

// startNode starts a node and a driver connected to it in process, as ray::Init() does.
func startNode(t *testing.T, resources map[string]float64) (*Node, *core.CoreWorker) {
	t.Helper()
	return startNodeDriver(t, resources, true)
}

// startNodeDriver starts a node and a driver connected in process or over the node's socket.
func startNodeDriver(t *testing.T, resources map[string]float64, inProcess bool) (*Node, *core.CoreWorker) {
	t.Helper()
	return startNodeWith(t, Options{Resources: resources}, inProcess)
}

// startNodeWith starts a node with opts (workers are this test binary; a temporary dir) and a
// driver connected in process or over the node's socket; both stop when the test ends.
func startNodeWith(t *testing.T, opts Options, inProcess bool) (*Node, *core.CoreWorker) {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = testutil.ShortTempDir(t)
	}
	opts.WorkerCommand = []string{os.Args[0]}
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	driver := core.Options{RayletSocket: n.RayletSocket(), WorkerID: ids.NewUniqueID()}
	if inProcess {
		driver.ConnectInProcess = n.Raylet.ConnectInProcess
	}
	cw, err := core.New(driver)
	if err != nil {
		n.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cw.Close()
		n.Stop()
	})
	return n, cw
}

func submit(t *testing.T, cw *core.CoreWorker, fn string, retries int32, args ...*pb.TaskArg) ids.ObjectID {
	t.Helper()
	id, err := cw.SubmitTask(&pb.TaskSpec{FunctionName: fn, Args: args, MaxRetries: retries})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func getOne(t *testing.T, cw *core.CoreWorker, id ids.ObjectID) *objstore.Object {
	t.Helper()
	objs, err := cw.Get([]ids.ObjectID{id}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return objs[0]
}

func ref(id ids.ObjectID) *pb.TaskArg { return &pb.TaskArg{IsRef: true, ObjectId: id[:]} }

func TestTasksRunInWorkerProcesses(t *testing.T) {
	for _, inProcess := range []bool{true, false} {
		t.Run(fmt.Sprintf("driver_in_process=%v", inProcess), func(t *testing.T) {
			testTasksRunInWorkerProcesses(t, inProcess)
		})
	}
}

func testTasksRunInWorkerProcesses(t *testing.T, inProcess bool) {
	_, cw := startNodeDriver(t, map[string]float64{"CPU": 2}, inProcess)
	put, err := cw.Put([]byte("put"), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := submit(t, cw, "Echo", -1, &pb.TaskArg{Data: []byte("a")}, ref(put))
	second := submit(t, cw, "Echo", -1, ref(first), &pb.TaskArg{Data: []byte("b")})
	if got := string(getOne(t, cw, second).Data); got != "a+put+b" {
		t.Fatalf("chained tasks gave %q", got)
	}
	pid, _ := strconv.Atoi(string(getOne(t, cw, submit(t, cw, "Pid", -1)).Data))
	if pid == 0 || pid == os.Getpid() {
		t.Fatalf("task ran in pid %d (driver %d)", pid, os.Getpid())
	}
}

func TestManyTasksAndParallelism(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 2})
	var rets []ids.ObjectID
	for i := 0; i < 200; i++ {
		rets = append(rets, submit(t, cw, "Echo", -1, &pb.TaskArg{Data: []byte(strconv.Itoa(i))}))
	}
	objs, err := cw.Get(rets, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if string(o.Data) != strconv.Itoa(i) {
			t.Fatalf("task %d returned %q", i, o.Data)
		}
	}
	start := time.Now()
	a := submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("500")})
	b := submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("500")})
	if _, err := cw.Get([]ids.ObjectID{a, b}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("two 500 ms tasks on 2 CPUs took %v: not parallel", d)
	}
}

func TestNestedTaskDoesNotDeadlockOneCPU(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 1})
	if got := string(getOne(t, cw, submit(t, cw, "Nested", -1)).Data); got != "outer(inner)" {
		t.Fatalf("nested task gave %q", got)
	}
}

func TestWorkerDeathIsRetriedThenReported(t *testing.T) {
	n, cw := startNode(t, map[string]float64{"CPU": 1})
	obj := getOne(t, cw, submit(t, cw, "Crash", 1))
	if obj.Kind != objstore.KindWorkerDied {
		t.Fatalf("kind %d: %s", obj.Kind, obj.Data)
	}
	msg := string(obj.Data)
	for _, want := range []string{"Crash", "exited with status 3", "about to crash on purpose", "worker "} {
		if !strings.Contains(msg, want) {
			t.Errorf("worker death message lacks %q:\n%s", want, msg)
		}
	}
	// The pool recovers: a new worker runs the next task.
	if got := string(getOne(t, cw, submit(t, cw, "Echo", -1, &pb.TaskArg{Data: []byte("ok")})).Data); got != "ok" {
		t.Fatalf("after a crash: %q", got)
	}
	if s := n.Raylet.Stats(); s.Available["CPU"] != 1 {
		t.Fatalf("CPU not given back after the crash: %v", s.Available)
	}
}

func TestErrorsPropagateAndUnknownObjects(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 1})
	failed := submit(t, cw, "Fail", -1)
	dependent := submit(t, cw, "Echo", -1, ref(failed))
	obj := getOne(t, cw, dependent)
	if obj.Kind != objstore.KindTaskError || !strings.Contains(string(obj.Data), "on purpose") {
		t.Fatalf("dependent of a failed task: kind %d %q", obj.Kind, obj.Data)
	}
	bogus := ids.NewPutID()
	if _, err := cw.Get([]ids.ObjectID{bogus}, time.Second); core.CodeOf(err) != core.CodeUnknownObject {
		t.Fatalf("Get of an unknown id: %v", err)
	}
	obj = getOne(t, cw, submit(t, cw, "Echo", -1, ref(bogus)))
	if obj.Kind != objstore.KindLost || !strings.Contains(string(obj.Data), bogus.Hex()) {
		t.Fatalf("task with an unknown argument: kind %d %q", obj.Kind, obj.Data)
	}
	obj = getOne(t, cw, submit(t, cw, "NoSuchFunction", -1))
	if obj.Kind != objstore.KindFunctionNotFound {
		t.Fatalf("unknown function: kind %d", obj.Kind)
	}
}

// A task with an unknown argument fails at once and never runs, even when another of its
// arguments was still pending (it used to wait for that one too, and then ran).
func TestTaskWithAnUnknownArgumentNeverRuns(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 2})
	marker := filepath.Join(testutil.ShortTempDir(t), "ran")
	slow := submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("300")})
	bogus := ids.NewPutID()
	obj := getOne(t, cw, submit(t, cw, "Touch", -1, &pb.TaskArg{Data: []byte(marker)}, ref(slow), ref(bogus)))
	if obj.Kind != objstore.KindLost || !strings.Contains(string(obj.Data), bogus.Hex()) {
		t.Fatalf("task with a pending and an unknown argument: kind %d %q", obj.Kind, obj.Data)
	}
	getOne(t, cw, slow)
	// Whatever the node would still run after slow's result has run once both workers did
	// one more task each.
	for i := 0; i < 2; i++ {
		getOne(t, cw, submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("100")}))
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the failed task ran after its pending argument arrived (%v)", err)
	}
}

func TestInfeasibleTaskStaysPending(t *testing.T) {
	n, cw := startNode(t, map[string]float64{"CPU": 1})
	id, err := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Echo", Resources: map[string]float64{"GPU": 1}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.Get([]ids.ObjectID{id}, 300*time.Millisecond); core.CodeOf(err) != core.CodeTimeout {
		t.Fatalf("infeasible task: %v", err)
	}
	ready, err := cw.Wait([]ids.ObjectID{id}, 1, 100*time.Millisecond)
	if err != nil || ready[0] {
		t.Fatalf("wait: %v %v", ready, err)
	}
	if s := n.Raylet.Stats(); s.PendingTasks != 1 {
		t.Fatalf("stats %+v", s)
	}
	bad, _ := cw.SubmitTask(&pb.TaskSpec{FunctionName: "Echo", Resources: map[string]float64{"CPU": -1}})
	if obj := getOne(t, cw, bad); obj.Kind != objstore.KindTaskError || !strings.Contains(string(obj.Data), "is negative") {
		t.Fatalf("negative resource: %d %q", obj.Kind, obj.Data)
	}
}

func TestStopLeavesNoWorker(t *testing.T) {
	n, err := Start(Options{TempDir: testutil.ShortTempDir(t), Resources: map[string]float64{"CPU": 2}, WorkerCommand: []string{os.Args[0]}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(n.Raylet.WorkerPIDs()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pids := n.Raylet.WorkerPIDs()
	if len(pids) != 2 {
		t.Fatalf("pool has %d workers, want 2", len(pids))
	}
	n.Stop()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("worker %d still alive after Stop", pid)
		}
	}
}

func TestUnknownWorkerIsRefused(t *testing.T) {
	n, _ := startNode(t, map[string]float64{"CPU": 1})
	_, err := core.New(core.Options{RayletSocket: n.RayletSocket(), IsWorker: true, WorkerID: ids.NewUniqueID(), Exec: execute})
	if err == nil || !strings.Contains(err.Error(), "not started by this node") {
		t.Fatalf("a stranger registered as a worker: %v", err)
	}
}

func createCounter(t *testing.T, cw *core.CoreWorker, name string, start string, restarts int) ids.ActorID {
	t.Helper()
	id, err := cw.CreateActor(core.ActorOptions{
		Creation:  &pb.TaskSpec{FunctionName: "Counter", Args: []*pb.TaskArg{{Data: []byte(start)}}},
		ClassName: "Counter", Name: name, Namespace: "ns", MaxRestarts: restarts, MaxConcurrency: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func call(t *testing.T, cw *core.CoreWorker, actor ids.ActorID, fn string, args ...*pb.TaskArg) *objstore.Object {
	t.Helper()
	ret, err := cw.SubmitActorTask(actor, &pb.TaskSpec{FunctionName: fn, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	return getOne(t, cw, ret)
}

func TestActorLifecycle(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 1})
	a := createCounter(t, cw, "c1", "10", 1)
	var rets []ids.ObjectID
	for i := 0; i < 50; i++ {
		ret, err := cw.SubmitActorTask(a, &pb.TaskSpec{FunctionName: "Add", Args: []*pb.TaskArg{{Data: []byte("1")}}})
		if err != nil {
			t.Fatal(err)
		}
		rets = append(rets, ret)
	}
	objs, err := cw.Get(rets, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if string(o.Data) != strconv.Itoa(11+i) {
			t.Fatalf("call %d returned %q: out of order or state lost", i, o.Data)
		}
	}
	pid := string(call(t, cw, a, "Pid").Data)
	if pid == strconv.Itoa(os.Getpid()) {
		t.Fatal("actor runs in the driver")
	}
	if id, class, found, err := cw.GetActor("c1", "ns"); err != nil || !found || id != a || class != "Counter" {
		t.Fatalf("GetActor: %v %v %v %v", id, class, found, err)
	}
	if _, _, found, _ := cw.GetActor("c1", "other"); found {
		t.Fatal("name leaked across namespaces")
	}
	if _, err := cw.CreateActor(core.ActorOptions{Creation: &pb.TaskSpec{FunctionName: "Counter", Args: []*pb.TaskArg{{Data: []byte("0")}}},
		Name: "c1", Namespace: "ns", MaxConcurrency: 1}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate name: %v", err)
	}
	// Kill with restart: a new instance, state reset, knows it was restarted.
	if err := cw.KillActor(a, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		o := call(t, cw, a, "Restarted")
		if o.Kind == objstore.KindValue && string(o.Data) == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("actor not restarted: kind %d %q", o.Kind, o.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := string(call(t, cw, a, "Add", &pb.TaskArg{Data: []byte("1")}).Data); got != "11" {
		t.Fatalf("restarted actor state: %q", got)
	}
	// Out of restarts: dead for good, and the name is free again.
	cw.KillActor(a, false)
	for {
		o := call(t, cw, a, "Pid")
		if o.Kind == objstore.KindActorDied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("actor without restarts left still answers")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, found, _ := cw.GetActor("c1", "ns"); found {
		t.Fatal("dead actor still named")
	}
}

func TestActorExitAndFactoryFailure(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 1})
	a := createCounter(t, cw, "", "0", 3)
	if o := call(t, cw, a, "Exit"); o.Kind != objstore.KindActorDied {
		t.Fatalf("exit call: %d %q", o.Kind, o.Data)
	}
	if o := call(t, cw, a, "Pid"); o.Kind != objstore.KindActorDied || !strings.Contains(string(o.Data), "ExitActor") {
		t.Fatalf("call after exit: %d %q", o.Kind, o.Data)
	}
	bad, err := cw.CreateActor(core.ActorOptions{Creation: &pb.TaskSpec{FunctionName: "BadFactory"}, ClassName: "X", MaxConcurrency: 1, MaxRestarts: 5})
	if err != nil {
		t.Fatal(err)
	}
	if o := call(t, cw, bad, "Pid"); o.Kind != objstore.KindActorDied || !strings.Contains(string(o.Data), "factory refused") {
		t.Fatalf("call on a failed actor: %d %q", o.Kind, o.Data)
	}
	if o := call(t, cw, ids.NewUniqueID(), "Pid"); o.Kind != objstore.KindActorDied {
		t.Fatalf("call on an unknown actor: %d", o.Kind)
	}
}

// Tasks queued on a worker behind a long task are handed back to idle workers (reclaim), so they
// do not wait for the long one.
func TestQueuedTasksDoNotWaitBehindALongTask(t *testing.T) {
	_, cw := startNode(t, map[string]float64{"CPU": 2})
	// Warm both workers up so the pool is at full size and pipelining is on.
	if _, err := cw.Get([]ids.ObjectID{submit(t, cw, "Echo", -1), submit(t, cw, "Echo", -1)}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	long := submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("3000")})
	var short []ids.ObjectID
	for i := 0; i < 40; i++ {
		short = append(short, submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("5")}))
	}
	start := time.Now()
	if _, err := cw.Get(short, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("40 short tasks took %v: they waited behind the 3 s task", d)
	}
	if _, err := cw.Get([]ids.ObjectID{long}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// With every CPU taken, waiting tasks queue on the busy workers (which run them next, with no
// round trip to the node); a worker that finishes early takes queued work back from a busy one.
func TestBusyWorkersQueueTasksAndShareThemBack(t *testing.T) {
	n, cw := startNode(t, map[string]float64{"CPU": 2})
	long := submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("3000")})
	short := submit(t, cw, "Sleep", -1, &pb.TaskArg{Data: []byte("1000")})
	deadline := time.Now().Add(10 * time.Second)
	for n.Raylet.Stats().Available["CPU"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the two sleeps never ran: %+v", n.Raylet.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var echoes []ids.ObjectID
	for i := 0; i < 10; i++ {
		echoes = append(echoes, submit(t, cw, "Echo", -1, &pb.TaskArg{Data: []byte(strconv.Itoa(i))}))
	}
	// All twelve are at the node and none waits in its queue, well before the short sleep ends.
	queuedBy := time.Now().Add(800 * time.Millisecond)
	for {
		s := n.Raylet.Stats()
		if s.ReadyTasks == 0 && s.PendingTasks == 12 {
			break
		}
		if time.Now().After(queuedBy) {
			t.Fatalf("tasks stay in the node's queue while workers are busy: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
	objs, err := cw.Get(echoes, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if string(o.Data) != strconv.Itoa(i) {
			t.Fatalf("echo %d returned %q", i, o.Data)
		}
	}
	// Every echo is done while the long sleep still runs: none waited behind it.
	if ready, err := cw.Wait([]ids.ObjectID{long}, 1, 0); err != nil || ready[0] {
		t.Fatalf("the echoes waited for the long task (ready %v, err %v)", ready, err)
	}
	if got := getOne(t, cw, short); string(got.Data) != "slept" {
		t.Fatalf("short sleep: %q", got.Data)
	}
	if got := getOne(t, cw, long); string(got.Data) != "slept" {
		t.Fatalf("long sleep: %q", got.Data)
	}
}
