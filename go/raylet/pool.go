package raylet

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"goray/ids"
	"goray/resources"
	"goray/runtimeenv"
)

// Environment variables through which a node tells a worker process where it belongs.
const (
	EnvWorker         = "GORAY_WORKER"
	EnvWorkerID       = "GORAY_WORKER_ID"
	EnvRayletSocket   = "GORAY_RAYLET_SOCKET"
	EnvSessionDir     = "GORAY_SESSION_DIR"
	EnvLogsDir        = "GORAY_LOGS_DIR"
	EnvCodeSearchPath = "GORAY_CODE_SEARCH_PATH"
	EnvDriverExe      = "GORAY_DRIVER_EXE"
	EnvNamespace      = "GORAY_NAMESPACE"
	EnvJobID          = "GORAY_JOB_ID"
	// On a node of a cluster: the address its actors take calls on (TCP), and the cluster's token
	// they and their callers present.
	EnvNodeIP    = "GORAY_NODE_IP"
	EnvAuthToken = "GORAY_AUTH_TOKEN"
)

// worker is one worker process the node started.
type worker struct {
	id         ids.UniqueID
	job        *job // the code it runs
	cmd        *exec.Cmd
	pid        int
	stdoutPath string
	stderrPath string
	client     *client // set when the process has connected
	task       *task   // the task it executes, if any
	// lease is what the worker holds while it is leased to a caller (see lease.go); nil: not leased.
	lease      *resources.Allocation
	queued     []*task // tasks sent to it behind task (same class), not started yet
	reclaiming bool    // asked to hand its queued tasks back
	blocked    bool    // its task waits in Get and gave its CPU back
	exited     bool
	actor      *actor // the actor this process is dedicated to, if any
	// killedByNode is set when the node itself killed the process (its death is no start failure).
	killedByNode bool
	// registerTimedOut is set when it did not connect in time (see watchRegistration).
	registerTimedOut bool
	// killCause, when set, is why the node killed it: its task fails with it, not retried (its
	// placement group was removed).
	killCause string
}

func (w *worker) String() string {
	return fmt.Sprintf("worker %s (pid %d)", w.id.Hex()[:12], w.pid)
}

// spawnWorker starts one worker process, in directory dir ("": the node's) with dir first on its
// library path. It does not hold the raylet's lock; the caller records the worker (or kills it)
// and then calls spawnDoneLocked with the lock held.
func (r *Raylet) spawnWorker(j *job, dir string) (*worker, error) {
	if len(j.command) == 0 {
		return nil, fmt.Errorf("no worker command configured for %s", j)
	}
	w := &worker{id: ids.NewUniqueID(), job: j}
	short := w.id.Hex()[:16]
	w.stdoutPath = filepath.Join(r.cfg.LogsDir, "worker-"+short+".out")
	w.stderrPath = filepath.Join(r.cfg.LogsDir, "worker-"+short+".err")
	stdout, err := os.Create(w.stdoutPath)
	if err != nil {
		return nil, fmt.Errorf("worker log: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.Create(w.stderrPath)
	if err != nil {
		return nil, fmt.Errorf("worker log: %w", err)
	}
	defer stderr.Close()
	cmd := exec.Command(j.command[0], j.command[1:]...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.Env = os.Environ()
	if j.env != nil {
		// (before goray's own: the node's variables win)
		cmd.Env = append(cmd.Env, j.env.Vars()...)
		cmd.Env = append(cmd.Env, runtimeenv.EnvVar+"="+j.envText)
	}
	cmd.Env = append(cmd.Env,
		EnvWorker+"=1",
		EnvWorkerID+"="+w.id.Hex(),
		EnvRayletSocket+"="+r.cfg.SocketPath,
		EnvSessionDir+"="+r.cfg.SessionDir,
		EnvLogsDir+"="+r.cfg.LogsDir,
		EnvCodeSearchPath+"="+strings.Join(j.codeSearchPath, ":"),
		EnvDriverExe+"="+j.driverExe,
		EnvNamespace+"="+j.namespace,
		EnvJobID+"="+j.id,
	)
	if dir != "" {
		cmd.Dir = dir
		cmd.Env = append(withLibraryPath(cmd.Env, dir), "PWD="+dir)
	}
	if host, _, err := net.SplitHostPort(r.cfg.PeerListen); err == nil {
		cmd.Env = append(cmd.Env, EnvNodeIP+"="+host, EnvAuthToken+"="+r.cfg.Token)
	}
	// The process may register before the caller records it in r.workers: its registration
	// waits for that (see awaitSpawn) as long as the id is in r.spawning.
	r.mu.Lock()
	r.spawning[w.id] = true
	r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		r.spawnDone(w.id)
		_ = os.Remove(w.stdoutPath)
		_ = os.Remove(w.stderrPath)
		return nil, fmt.Errorf("starting worker %s: %w", j.command[0], err)
	}
	w.cmd = cmd
	w.pid = cmd.Process.Pid
	if afterWorkerStart != nil {
		afterWorkerStart()
	}
	return w, nil
}

// afterWorkerStart, when set (by tests), runs between a worker's start and its spawner taking the
// node's lock: the window in which the process may already register.
var afterWorkerStart func()

// spawnDone ends the wait of a registration for a spawned process: the caller has recorded it in
// r.workers, or given up on it. Called without r.mu.
func (r *Raylet) spawnDone(id ids.UniqueID) {
	r.mu.Lock()
	r.spawnDoneLocked(id)
	r.mu.Unlock()
}

// spawnDoneLocked is spawnDone with r.mu held.
func (r *Raylet) spawnDoneLocked(id ids.UniqueID) {
	delete(r.spawning, id)
	r.spawned.Broadcast()
}

// awaitSpawn returns the worker with id, waiting while its spawner has not recorded it yet; nil
// when no process with that id was started by this node. Called with r.mu held.
func (r *Raylet) awaitSpawn(id ids.UniqueID) *worker {
	for r.workers[id] == nil && r.spawning[id] && !r.stopped {
		r.spawned.Wait()
	}
	return r.workers[id]
}

// kill ends a worker process on the node's own decision: its death is then no start failure.
// Called with r.mu held.
func (s *state) kill(w *worker) {
	w.killedByNode = true
	s.eff.kill = append(s.eff.kill, w)
}
