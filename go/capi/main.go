// Command capi is libray_api.so: the Go runtime behind the plain-C ABI of include/ray/c_api.h,
// built with -buildmode=c-shared. Every exported function here is declared in that header.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#define RAY_C_API_NO_FUNCTIONS
#include <stdlib.h>
#include <string.h>
#include "ray/c_api.h"
const char *goray_library_path(void);
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golang/glog"

	"goray/cluster"
	"goray/config"
	"goray/core"
	"goray/ids"
	"goray/metrics"
	"goray/node"
	"goray/objstore"
	"goray/profiling"
	"goray/raylet"
	"goray/runtimeenv"
	"goray/session"
	"goray/taskretry"
)

func main() {}

// runtimeState is what ray_init set up in this process.
type runtimeState struct {
	cw        *core.CoreWorker
	node      *node.Node // the embedded node, in a driver that started one
	namespace string
	jobID     string // in hex, as Ray prints job ids
	localMode bool
	isWorker  bool
	detached  bool // RayConfig::default_actor_lifetime is DETACHED
	// metrics serves a local-mode process's users' metrics (a node serves its own).
	metrics *metrics.Server
	// restoreEnv undoes, at shutdown, what local mode set of the job's env_vars and working_dir in
	// this process.
	restoreEnv func()
}

var (
	lifecycle sync.Mutex // serialises init and shutdown
	current   atomic.Pointer[runtimeState]
)

func init() {
	// Until a session exists, log lines go to stderr.
	session.SetupLogging("")
	_ = setFlag("logtostderr", "true")
}

func setErr(out **C.char, err error) C.int {
	if out != nil {
		*out = C.CString(err.Error())
	}
	return C.int(core.CodeOf(err))
}

var errNotInitialized = core.Errorf(core.CodeNotInitialized, "Ray is not initialized: call ray::Init() first")

// nullArg is the error of a call given NULL where it needs memory (a caller's bug: reported,
// never dereferenced).
func nullArg(call, what string) error {
	return core.Errorf(core.CodeInvalidArgument, "%s: %s is NULL", call, what)
}

// goBytes copies size bytes of C memory at p (C.GoBytes takes an int32 length: values of 2 GiB
// and more would not fit).
func goBytes(p *C.uint8_t, size C.size_t) []byte {
	if p == nil || size == 0 {
		return []byte{}
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(p)), int(size))...)
}

func state() (*runtimeState, error) {
	st := current.Load()
	if st == nil {
		return nil, errNotInitialized
	}
	return st, nil
}

func objectID(p *C.uint8_t) ids.ObjectID {
	var id ids.ObjectID
	copy(id[:], unsafe.Slice((*byte)(unsafe.Pointer(p)), ids.ObjectIDSize))
	return id
}

func objectIDs(p *C.uint8_t, n C.size_t) []ids.ObjectID {
	if n == 0 {
		return nil
	}
	return appendPacked(make([]ids.ObjectID, 0, int(n)), packedIDs(p, n))
}

// packedIDs views n ids packed back to back in C memory at p (read in place, not copied).
func packedIDs(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)*ids.ObjectIDSize)
}

// idsView views n ids packed back to back in C memory at p as ids (read in place, not copied:
// valid only during the call that was given p).
func idsView(p *C.uint8_t, n C.size_t) []ids.ObjectID {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*ids.ObjectID)(unsafe.Pointer(p)), int(n))
}

func writeID(out *C.uint8_t, id ids.ObjectID) {
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), ids.ObjectIDSize), id[:])
}

func timeout(ms C.int64_t) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

//export ray_api_version
func ray_api_version() C.int { return C.RAY_C_API_VERSION }

//export ray_is_initialized
func ray_is_initialized() C.int {
	if current.Load() != nil {
		return 1
	}
	return 0
}

//export ray_is_worker_process
func ray_is_worker_process() C.int {
	if os.Getenv(raylet.EnvWorker) == "1" {
		return 1
	}
	return 0
}

//export ray_init
func ray_init(cfg *C.ray_config, exec C.ray_execute_fn, execCtx unsafe.Pointer, errOut **C.char) C.int {
	lifecycle.Lock()
	defer lifecycle.Unlock()
	if current.Load() != nil {
		return C.RAY_OK
	}
	profiling.Start()
	st, err := initRuntime(unsafe.Pointer(cfg), exec, execCtx)
	if err != nil {
		profiling.Stop()
		return setErr(errOut, err)
	}
	current.Store(st)
	return C.RAY_OK
}

// envFromC are the variables ray_init reads that a C++ program may have set with setenv after
// this library loaded (Go keeps its own copy of the environment from process start).
var envFromC = []string{"RAY_ADDRESS", "RAY_TMPDIR", "GORAY_DEFAULT_WORKER", taskretry.EnvMaxRetries}

func syncEnvFromC() {
	for _, k := range envFromC {
		name := C.CString(k)
		v := C.getenv(name)
		C.free(unsafe.Pointer(name))
		if v != nil {
			_ = os.Setenv(k, C.GoString(v))
		} else {
			_ = os.Unsetenv(k)
		}
	}
}

// setEnvVars sets variables in this process and returns what sets them back as they were.
func setEnvVars(vars map[string]string) func() {
	old := make(map[string]*string, len(vars))
	for k, v := range vars {
		if prev, ok := os.LookupEnv(k); ok {
			prev := prev
			old[k] = &prev
		} else {
			old[k] = nil
		}
		_ = os.Setenv(k, v)
	}
	return func() {
		for k, prev := range old {
			if prev == nil {
				_ = os.Unsetenv(k)
			} else {
				_ = os.Setenv(k, *prev)
			}
		}
	}
}

// jobRuntimeEnv is the canonical runtime environment of the job RayConfig::runtime_env gives.
func jobRuntimeEnv(cfg *config.RayConfig) (string, error) {
	if cfg.RuntimeEnv == nil {
		return "", nil
	}
	text, err := runtimeenv.Merge("", *cfg.RuntimeEnv)
	if err != nil {
		return "", fmt.Errorf("RayConfig::%w", err)
	}
	env, _ := runtimeenv.Parse(text)
	if env.WorkingDir == "" {
		return text, nil
	}
	if _, shipped := runtimeenv.PackageSum(env.WorkingDir); !shipped {
		// A local directory: the driver's, wherever its workers run.
		if env.WorkingDir, err = filepath.Abs(env.WorkingDir); err != nil {
			return "", fmt.Errorf("RayConfig::runtime_env working_dir: %w", err)
		}
		if st, err := os.Stat(env.WorkingDir); err != nil || !st.IsDir() {
			return "", fmt.Errorf("RayConfig::runtime_env working_dir %s: not a directory", env.WorkingDir)
		}
	}
	return env.String(), nil
}

// localWorkingDir makes the process's working directory a copy of the job's working_dir, as
// local mode runs every task in this process; the function it returns goes back and removes the
// copy.
func localWorkingDir(jobEnv string) (func(), error) {
	env, _ := runtimeenv.Parse(jobEnv)
	if env == nil || env.WorkingDir == "" {
		return func() {}, nil
	}
	if _, shipped := runtimeenv.PackageSum(env.WorkingDir); shipped {
		return nil, fmt.Errorf("RayConfig::runtime_env working_dir %s: local mode needs a local directory", env.WorkingDir)
	}
	pkg, _, err := runtimeenv.Pack(env.WorkingDir)
	if err != nil {
		return nil, fmt.Errorf("RayConfig::%w", err)
	}
	defer os.Remove(pkg)
	parent, err := os.MkdirTemp("", "goray_working_dir_")
	if err != nil {
		return nil, err
	}
	copyDir := filepath.Join(parent, filepath.Base(env.WorkingDir))
	prev, err := os.Getwd()
	if err == nil {
		err = runtimeenv.Unpack(pkg, copyDir)
	}
	if err == nil {
		err = os.Chdir(copyDir)
	}
	if err != nil {
		os.RemoveAll(parent)
		return nil, fmt.Errorf("RayConfig::runtime_env working_dir %s: %w", env.WorkingDir, err)
	}
	return func() {
		_ = os.Chdir(prev)
		os.RemoveAll(parent)
	}, nil
}

func initRuntime(rayConfig unsafe.Pointer, exec C.ray_execute_fn, execCtx unsafe.Pointer) (*runtimeState, error) {
	syncEnvFromC()
	cfg, err := readConfig(rayConfig)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	head, err := config.ParseHeadArgs(cfg.HeadArgs)
	if err != nil {
		return nil, err
	}
	namespace := cfg.Namespace
	if namespace == "" {
		namespace = ids.NewUniqueID().Hex()
	}
	st := &runtimeState{namespace: namespace, detached: cfg.DetachedActors, jobID: soleJobID}
	jobEnv, err := jobRuntimeEnv(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.LocalMode {
		st.localMode = true
		if exec == nil {
			return nil, fmt.Errorf("local mode needs a task executor")
		}
		threads := 0
		if head.NumCPUs >= 1 {
			threads = int(head.NumCPUs)
		}
		// Every task runs in this process: the job's env_vars and working_dir are this process's.
		env, _ := runtimeenv.Parse(jobEnv)
		leaveDir, err := localWorkingDir(jobEnv)
		if err != nil {
			return nil, err
		}
		restoreVars := setEnvVars(env.EnvVars)
		st.restoreEnv = func() { restoreVars(); leaveDir() }
		st.cw, err = core.New(core.Options{Local: true, NumCPUs: threads, LocalResources: head.NodeResources(runtime.NumCPU()), RuntimeEnv: jobEnv,
			Exec: cExecutor(exec, execCtx), TaskMaxRetries: os.Getenv(taskretry.EnvMaxRetries)})
		if err != nil {
			st.restoreEnv()
			return nil, err
		}
		if st.metrics, err = metrics.Serve(st.cw.LocalMetrics(), "127.0.0.1", head.MetricsExportPort, ""); err != nil {
			st.cw.Close()
			st.restoreEnv()
			return nil, err
		}
		glog.Infof("local mode: users' metrics at http://127.0.0.1:%d/metrics", st.metrics.Port())
		return st, nil
	}
	driverExe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the driver executable: %w", err)
	}
	searchPath := cfg.CodeSearchPath
	if len(searchPath) == 0 {
		searchPath = []string{filepath.Dir(driverExe)}
	}
	if cfg.Address != "" && cfg.Address != "local" {
		if err := joinCluster(cfg, head, st, driverExe, searchPath); err != nil {
			return nil, err
		}
		return st, nil
	}
	n, err := node.Start(node.Options{
		TempDir:        head.TempDir,
		SessionDir:     cfg.SessionDir,
		LogsDir:        cfg.LogsDir,
		Resources:      head.NodeResources(runtime.NumCPU()),
		WorkerCommand:  workerCommand(driverExe),
		CodeSearchPath: searchPath,
		DriverExe:      driverExe,
		Namespace:      namespace,
		NodeIP:         cfg.NodeIPAddress,

		ObjectStoreMemory: head.ObjectStoreMemory,
		MetricsExportPort: head.MetricsExportPort,
	})
	if err != nil {
		return nil, err
	}
	_ = setFlag("logtostderr", "false")
	st.node = n
	if jobEnv, err = cluster.ShipWorkingDir(context.Background(), n.CodeStore(), jobEnv); err != nil {
		n.Stop()
		return nil, fmt.Errorf("RayConfig::%w", err)
	}
	st.cw, err = core.New(core.Options{ConnectInProcess: n.Raylet.ConnectInProcess, WorkerID: ids.NewUniqueID(), TaskMaxRetries: os.Getenv(taskretry.EnvMaxRetries), RuntimeEnv: jobEnv})
	if err != nil {
		n.Stop()
		return nil, err
	}
	glog.Infof("driver pid %d connected to its embedded node (session %s, namespace %s)", os.Getpid(), n.Session.Dir, namespace)
	return st, nil
}

// workerCommand is how the node starts a worker: default_worker (found beside this library, or
// in ../bin, or at $GORAY_DEFAULT_WORKER) followed by the driver's own command line, which it
// runs in worker mode when no library on the code search path has the code. Without
// default_worker, the driver binary itself is the worker.
func workerCommand(driverExe string) []string {
	driverArgs := append([]string{driverExe}, os.Args[1:]...)
	var candidates []string
	if env := os.Getenv("GORAY_DEFAULT_WORKER"); env != "" {
		candidates = append(candidates, env)
	}
	if p := C.goray_library_path(); p != nil {
		lib := C.GoString(p)
		libs := []string{lib}
		// Build systems (Bazel's _solib dirs) link to the library; default_worker sits by the real file.
		if real, err := filepath.EvalSymlinks(lib); err == nil && real != lib {
			libs = append(libs, real)
		}
		for _, l := range libs {
			dir := filepath.Dir(l)
			candidates = append(candidates, filepath.Join(dir, "default_worker"), filepath.Join(dir, "..", "bin", "default_worker"))
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			abs, _ := filepath.Abs(c)
			return append([]string{abs, "--"}, driverArgs...)
		}
	}
	glog.Warningf("default_worker not found (looked at %s); workers run the driver program itself", strings.Join(candidates, ", "))
	return driverArgs
}

//export ray_worker_run
func ray_worker_run(exec C.ray_execute_fn, execCtx unsafe.Pointer) C.int {
	lifecycle.Lock()
	socket := os.Getenv(raylet.EnvRayletSocket)
	workerID, err := ids.UniqueIDFromHex(os.Getenv(raylet.EnvWorkerID))
	if err != nil || socket == "" || os.Getenv(raylet.EnvWorker) != "1" {
		lifecycle.Unlock()
		fmt.Fprintf(os.Stderr, "goray: this process was not started by a node as a worker (%v)\n", err)
		return 2
	}
	session.SetupLogging(os.Getenv(raylet.EnvLogsDir))
	_ = setFlag("logtostderr", "false")
	profiling.Start()
	// Tasks may arrive as soon as the stream is up; they wait until this process's runtime state
	// is in place, so that the ray:: calls they make find it.
	ready := make(chan struct{})
	run := cExecutor(exec, execCtx)
	gated := func(call *core.TaskCall) *objstore.Object {
		<-ready
		return run(call)
	}
	cw, err := core.New(core.Options{RayletSocket: socket, IsWorker: true, WorkerID: workerID, Exec: gated, RuntimeEnv: os.Getenv(runtimeenv.EnvVar),
		ActorIP: os.Getenv(raylet.EnvNodeIP), Token: os.Getenv(raylet.EnvAuthToken), TaskMaxRetries: os.Getenv(taskretry.EnvMaxRetries)})
	if err != nil {
		lifecycle.Unlock()
		if _, statErr := os.Stat(socket); statErr != nil {
			// The node stopped before this worker connected (a Shutdown right after it started it).
			glog.Infof("worker %s: the node is gone (%v); exiting", workerID.Hex(), err)
			glog.Flush()
			return 0
		}
		fmt.Fprintf(os.Stderr, "goray worker: %v\n", err)
		glog.Errorf("worker %s: %v", workerID.Hex(), err)
		glog.Flush()
		return 1
	}
	current.Store(&runtimeState{cw: cw, namespace: os.Getenv(raylet.EnvNamespace), jobID: jobIDOr(os.Getenv(raylet.EnvJobID)), isWorker: true})
	close(ready)
	// Processes the task code starts are not workers of this node.
	for _, k := range []string{raylet.EnvWorker, raylet.EnvWorkerID, raylet.EnvRayletSocket, raylet.EnvAuthToken} {
		_ = os.Unsetenv(k)
	}
	lifecycle.Unlock()
	glog.Infof("worker %s (pid %d) connected to %s", workerID.Hex(), os.Getpid(), socket)
	<-cw.Done()
	glog.Infof("worker %s: the node went away; exiting", workerID.Hex())
	profiling.Stop()
	glog.Flush()
	return 0
}

//export ray_shutdown
func ray_shutdown() {
	lifecycle.Lock()
	defer lifecycle.Unlock()
	st := current.Load()
	if st == nil || st.isWorker {
		return
	}
	current.Store(nil)
	defer profiling.Stop()
	st.cw.Close()
	if st.metrics != nil {
		st.metrics.Stop()
	}
	if st.restoreEnv != nil {
		st.restoreEnv()
	}
	if st.node != nil {
		st.node.Stop()
	}
	// (A driver that joined a cluster logged into its node's session: what is buffered goes
	// there before later lines go back to stderr.)
	glog.Flush()
	_ = setFlag("logtostderr", "true")
	// Everything the session held is garbage now: collect it and give the memory back, so the
	// process shrinks after Shutdown and a later session starts from a small heap (the collector
	// paces itself by the heap it last saw alive).
	debug.FreeOSMemory()
}

//export ray_put
func ray_put(data *C.uint8_t, size C.size_t, contained *C.uint8_t, numContained C.size_t, outID *C.uint8_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	switch {
	case data == nil && size > 0:
		return setErr(errOut, nullArg("ray_put", "data"))
	case contained == nil && numContained > 0:
		return setErr(errOut, nullArg("ray_put", "contained_ids"))
	case outID == nil:
		return setErr(errOut, nullArg("ray_put", "out_id"))
	}
	id, err := st.cw.Put(goBytes(data, size), objectIDs(contained, numContained))
	if err != nil {
		return setErr(errOut, err)
	}
	writeID(outID, id)
	return C.RAY_OK
}

//export ray_get
func ray_get(idsPtr *C.uint8_t, numIDs C.size_t, timeoutMs C.int64_t, out *C.ray_object, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	switch {
	case idsPtr == nil && numIDs > 0:
		return setErr(errOut, nullArg("ray_get", "ids"))
	case out == nil && numIDs > 0:
		return setErr(errOut, nullArg("ray_get", "out"))
	}
	list := objectIDs(idsPtr, numIDs)
	objs, err := st.cw.Get(list, timeout(timeoutMs))
	if err != nil {
		return setErr(errOut, err)
	}
	outs := unsafe.Slice(out, int(numIDs))
	for i, o := range objs {
		outs[i].data = nil
		outs[i].kind = C.int(o.Kind)
		outs[i].handle = 0
		if o.InShm {
			// Straight from shared memory (not Go memory): read in place until released.
			b, err := st.cw.Bytes(o)
			if err != nil {
				// Nothing is returned: what was filled in is released, and so are the reads
				// Get started for the objects not reached yet.
				for j := 0; j < i; j++ {
					ray_object_release(&outs[j])
				}
				for j := i; j < len(objs); j++ {
					if objs[j].InShm {
						st.cw.ReleaseRead(list[j])
					}
				}
				return setErr(errOut, fmt.Errorf("reading object %s: %w", list[i].Hex(), err))
			}
			if len(b) > 0 {
				outs[i].data = (*C.uint8_t)(unsafe.Pointer(&b[0]))
			}
			outs[i].size = C.size_t(len(b))
			outs[i].handle = C.uint64_t(reads.add(st.cw, list[i]))
			continue
		}
		if len(o.Data) > 0 {
			outs[i].data = (*C.uint8_t)(C.CBytes(o.Data))
		}
		outs[i].size = C.size_t(len(o.Data))
	}
	return C.RAY_OK
}

//export ray_object_release
func ray_object_release(obj *C.ray_object) {
	if obj == nil {
		return
	}
	if obj.handle != 0 {
		reads.end(uint64(obj.handle))
		obj.handle = 0
	} else if obj.data != nil {
		C.free(unsafe.Pointer(obj.data))
	}
	obj.data = nil
	obj.size = 0
}

//export ray_wait
func ray_wait(idsPtr *C.uint8_t, numIDs C.size_t, numObjects C.size_t, timeoutMs C.int64_t, outReady *C.uint8_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	switch {
	case idsPtr == nil && numIDs > 0:
		return setErr(errOut, nullArg("ray_wait", "ids"))
	case outReady == nil && numIDs > 0:
		return setErr(errOut, nullArg("ray_wait", "out_ready"))
	}
	// Read and written in place: Wait keeps neither the ids nor the flags, so a loop of Waits
	// over a long list copies nothing here.
	var flags []bool
	if numIDs > 0 {
		flags = unsafe.Slice((*bool)(unsafe.Pointer(outReady)), int(numIDs))
	}
	if err := st.cw.WaitInto(idsView(idsPtr, numIDs), int(numObjects), timeout(timeoutMs), flags); err != nil {
		return setErr(errOut, err)
	}
	return C.RAY_OK
}

//export ray_add_ref
func ray_add_ref(id *C.uint8_t) {
	if st := current.Load(); st != nil && id != nil {
		st.cw.AddRef(objectID(id))
	}
}

//export ray_remove_ref
func ray_remove_ref(id *C.uint8_t) {
	if st := current.Load(); st != nil && id != nil {
		st.cw.RemoveRef(objectID(id))
	}
}

//export ray_ref_count
func ray_ref_count(id *C.uint8_t) C.int64_t {
	if st := current.Load(); st != nil && id != nil {
		return C.int64_t(st.cw.RefCount(objectID(id)))
	}
	return 0
}

//export ray_free
func ray_free(p unsafe.Pointer) { C.free(p) }
