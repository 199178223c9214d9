package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/golang/glog"

	"goray/runtimeenv"
)

// EnvSubmissionID is the variable a job's command finds its submission id in.
const EnvSubmissionID = runtimeenv.EnvSubmissionID

// DefaultStopGrace is how long a stopped job's command has between SIGTERM and SIGKILL (Ray's
// RAY_JOB_STOP_WAIT_TIME_S).
const DefaultStopGrace = 3 * time.Second

// ErrNotFreeYet is wrapped by Config.Reserve's errors when the resources may be free later.
var ErrNotFreeYet = errors.New("the entrypoint's resources are not free yet")

// reserveEvery is how often a job waiting for its entrypoint's resources asks for them again.
const reserveEvery = 100 * time.Millisecond

// tailBytes is how much of a failed job's log its message quotes (Ray: 20,000 characters).
const tailBytes = 20000

// MaxLogRead bounds what one read of a job's log returns; a reader pages on with the offset.
const MaxLogRead = 8 << 20

// Config says how a supervisor runs jobs.
type Config struct {
	// LogsDir holds the jobs' logs, job-driver-<submission_id>.log as Ray names them.
	LogsDir string
	// WorkDir holds the jobs' unpacked working_dirs, and the directory of jobs without one.
	WorkDir string
	// Env is the environment of every job's command (the head's, with RAY_ADDRESS and the
	// cluster's token).
	Env []string
	// NodeID is the node that runs the commands (the head), for the records.
	NodeID string
	// Fetch copies the code store's package sum to the file dst.
	Fetch func(ctx context.Context, sum, dst string) error
	// Reserve takes a job's entrypoint resources on the node that runs it (nil: a job that asks
	// for any fails). An error that wraps ErrNotFreeYet means they may be free later: the job
	// waits PENDING and asks again; any other means never.
	Reserve func(res map[string]float64) (release func(), err error)
	// StopGrace is the time between SIGTERM and SIGKILL (0: DefaultStopGrace).
	StopGrace time.Duration
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
}

// Supervisor runs submitted jobs' commands and keeps their records and logs.
type Supervisor struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	table  *Table
	procs  map[string]*proc // running commands, by submission id
	active map[string]bool  // jobs whose run has not returned yet (Delete waits for it)
	groups []int            // process groups signaled to stop (Close ends what is left of them)
	closed bool
}

// proc is a job's running command.
type proc struct {
	pid  int         // its process group too (0 until it started)
	kill *time.Timer // the SIGKILL after a stop's grace
}

// NewSupervisor returns a supervisor with no jobs.
func NewSupervisor(cfg Config) (*Supervisor, error) {
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = DefaultStopGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, d := range []string{cfg.LogsDir, cfg.WorkDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Supervisor{cfg: cfg, ctx: ctx, cancel: cancel, table: NewTable(), procs: map[string]*proc{}, active: map[string]bool{}}, nil
}

// NewSubmissionID makes a submission id as Ray's look: raysubmit_ and 16 letters and digits.
func NewSubmissionID() string {
	const chars = "ABCDEFGHIJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789"
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return "raysubmit_" + string(b)
}

// Submit records a job and starts running it; it returns the job's record.
func (s *Supervisor) Submit(req Request) (Info, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Info{}, errors.New("jobs: the head is stopping")
	}
	info, err := s.table.Submit(req, s.cfg.Now(), s.cfg.NodeID, NewSubmissionID)
	if err == nil {
		s.wg.Add(1)
		s.active[info.SubmissionID] = true
	}
	s.mu.Unlock()
	if err != nil {
		return Info{}, err
	}
	glog.Infof("job %s submitted: %s", info.SubmissionID, info.Entrypoint)
	go s.run(info.SubmissionID)
	return info, nil
}

// LogPath is where a job's output goes.
func (s *Supervisor) LogPath(id string) string {
	return filepath.Join(s.cfg.LogsDir, "job-driver-"+id+".log")
}

// jobDir is the directory a job's command runs in (apart from the packages' cache).
func (s *Supervisor) jobDir(id string) string { return filepath.Join(s.cfg.WorkDir, "job_"+id) }

// run sets up a job's working directory, runs its command and records how it ended.
func (s *Supervisor) run(id string) {
	defer s.wg.Done()
	defer s.event(func(*Table, time.Time) { delete(s.active, id) })
	s.mu.Lock()
	info, env, err := s.table.Submitted(id)
	s.mu.Unlock()
	if err != nil {
		return
	}
	dir, err := s.workingDir(id, env)
	if err != nil {
		s.event(func(t *Table, now time.Time) {
			_ = t.Fail(id, ErrorRuntimeEnvSetup, "Job's runtime_env could not be set up: "+err.Error(), now)
		})
		return
	}
	release, err := s.reserve(info)
	if err != nil {
		s.event(func(t *Table, now time.Time) {
			if errors.Is(err, errStopped) {
				_, _, _ = t.Stop(id, now)
			} else {
				_ = t.Fail(id, ErrorStartFailed, err.Error(), now)
			}
		})
		return
	}
	defer release()
	logFile, err := os.OpenFile(s.LogPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.event(func(t *Table, now time.Time) {
			_ = t.Fail(id, ErrorStartFailed, "Job's log could not be opened: "+err.Error(), now)
		})
		return
	}
	defer logFile.Close()
	cmd := s.command(info, env, dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p := &proc{}
	var started bool
	s.event(func(t *Table, now time.Time) {
		if s.closed {
			_, _, _ = t.Stop(id, now) // (the head stops: the job never runs)
			return
		}
		if started, _ = t.Start(id, now); started {
			s.procs[id] = p
		}
	})
	if !started {
		return // (stopped before it started)
	}
	defer s.event(func(*Table, time.Time) { delete(s.procs, id) })
	if err := cmd.Start(); err != nil {
		s.event(func(t *Table, now time.Time) {
			_ = t.Fail(id, ErrorStartFailed, "Job's entrypoint could not start: "+err.Error(), now)
		})
		return
	}
	var stopping bool
	s.event(func(t *Table, _ time.Time) {
		p.pid = cmd.Process.Pid
		stopping = t.Stopping(id)
	})
	if stopping {
		s.signal(p, id)
	}
	code := 0
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			code = -1
		} else if code = exit.ExitCode(); code < 0 {
			code = -1
		}
	}
	tail := s.tail(id)
	s.event(func(t *Table, now time.Time) { _ = t.Finish(id, code, now, tail) })
	glog.Infof("job %s ended with exit code %d", id, code)
}

// errStopped ends a job's setup: it was stopped meanwhile.
var errStopped = errors.New("Job was intentionally stopped.")

// reserve takes the job's entrypoint resources, waiting while they are not free (the job's
// message says so) until they are, the job is stopped or the supervisor closes.
func (s *Supervisor) reserve(info Info) (func(), error) {
	id := info.SubmissionID
	res := info.entrypointResources()
	if len(res) == 0 {
		return func() {}, nil
	}
	if s.cfg.Reserve == nil {
		return nil, fmt.Errorf("Job's entrypoint resources %v cannot be reserved: this head reserves none", res)
	}
	for waited := false; ; waited = true {
		release, err := s.cfg.Reserve(res)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, ErrNotFreeYet) {
			return nil, fmt.Errorf("Job's entrypoint resources cannot be reserved on the head, which runs entrypoints: %v", err)
		}
		var stopping bool
		s.event(func(t *Table, _ time.Time) {
			stopping = s.closed || t.Stopping(id)
			if !waited && !stopping {
				t.Waiting(id, "Job is waiting for its entrypoint's resources: "+err.Error())
			}
		})
		if stopping {
			return nil, errStopped
		}
		select {
		case <-s.ctx.Done():
			return nil, errStopped
		case <-time.After(reserveEvery):
		}
	}
}

// event runs f on the table with the lock held (f does no I/O).
func (s *Supervisor) event(f func(t *Table, now time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.table, s.cfg.Now())
}

// command is the job's shell command, in its own process group (a stop ends all it started),
// in dir, with the head's environment, the job's variables and its configuration.
func (s *Supervisor) command(info Info, env *runtimeenv.Env, dir string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", info.Entrypoint)
	cmd.Dir = dir
	jobConfig, _ := json.Marshal(map[string]any{"runtime_env": info.RuntimeEnv, "metadata": info.Metadata})
	cmd.Env = append(append(append([]string{}, s.cfg.Env...), env.Vars()...),
		runtimeenv.EnvJobConfig+"="+string(jobConfig), EnvSubmissionID+"="+info.SubmissionID, "PWD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// workingDir is the directory a job's command runs in: its working_dir package unpacked, or an
// empty directory of its own.
func (s *Supervisor) workingDir(id string, env *runtimeenv.Env) (string, error) {
	dir := s.jobDir(id)
	if env.WorkingDir == "" {
		return dir, os.MkdirAll(dir, 0o700)
	}
	sum, _ := runtimeenv.PackageSum(env.WorkingDir)
	if s.cfg.Fetch == nil {
		return "", errors.New("the head has no code store to fetch the working_dir from")
	}
	pkg := filepath.Join(s.cfg.WorkDir, "packages", sum+".zip")
	if err := s.cfg.Fetch(s.ctx, sum, pkg); err != nil {
		return "", fmt.Errorf("fetching working_dir %s: %w (was it uploaded? `ray job submit --working-dir DIR` uploads it)", env.WorkingDir, err)
	}
	if err := runtimeenv.Unpack(pkg, dir); err != nil {
		return "", fmt.Errorf("unpacking working_dir %s: %w", env.WorkingDir, err)
	}
	return dir, nil
}

// tail is the end of a job's log.
func (s *Supervisor) tail(id string) string {
	f, err := os.Open(s.LogPath(id))
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > tailBytes {
		_, _ = f.Seek(st.Size()-tailBytes, io.SeekStart)
	}
	data, _ := io.ReadAll(io.LimitReader(f, tailBytes))
	return string(data)
}

// Stop stops a job: a pending one at once, a running one's command by SIGTERM, then SIGKILL
// after the grace period. stopped is false for a job that was over already.
func (s *Supervisor) Stop(id string) (bool, error) {
	s.mu.Lock()
	stopped, signal, err := s.table.Stop(id, s.cfg.Now())
	p := s.procs[id]
	s.mu.Unlock()
	if err != nil {
		return false, err
	}
	if signal && p != nil {
		s.signal(p, id)
	}
	if stopped {
		glog.Infof("job %s: stop asked", id)
	}
	return stopped, nil
}

// signal sends SIGTERM to a job's process group, and SIGKILL to what is left of the group after
// the grace period.
func (s *Supervisor) signal(p *proc, id string) {
	s.mu.Lock()
	pid := p.pid
	if pid != 0 && p.kill == nil {
		s.groups = append(s.groups, pid)
		// (also when the command ended by then: what it started in its group may still run)
		p.kill = time.AfterFunc(s.cfg.StopGrace, func() {
			if groupAlive(pid) && syscall.Kill(-pid, syscall.SIGKILL) == nil {
				glog.Warningf("job %s: processes of its command outlived the stop's %v of grace: SIGKILL", id, s.cfg.StopGrace)
			}
		})
	}
	s.mu.Unlock()
	if pid != 0 {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	}
}

// Delete forgets a job that is over and removes its log and working directory.
func (s *Supervisor) Delete(id string) error {
	s.mu.Lock()
	var err error
	if info, _ := s.table.Get(id); info.Status.Terminal() && s.active[id] {
		// (stopped during its setup, which is still ending: its files are not all there yet,
		// and a new job of the id must not meet it)
		err = fmt.Errorf("%w: job %s was stopped and is still ending: delete it again in a moment", ErrNotTerminal, id)
	} else {
		err = s.table.Delete(id)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	_ = os.Remove(s.LogPath(id))
	_ = os.RemoveAll(s.jobDir(id))
	return nil
}

// Get returns a job's record.
func (s *Supervisor) Get(id string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.table.Get(id)
}

// List returns every job's record, oldest first.
func (s *Supervisor) List() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.table.List()
}

// Logs returns a job's log from byte offset on (at most MaxLogRead bytes) and the offset after
// it.
func (s *Supervisor) Logs(id string, offset int64) (string, int64, error) {
	if _, err := s.Get(id); err != nil {
		return "", 0, err
	}
	f, err := os.Open(s.LogPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, nil // (not started yet)
	}
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if offset < 0 {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", 0, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxLogRead))
	return string(data), offset + int64(len(data)), err
}

// Close stops every running job (SIGTERM, SIGKILL after the grace period) and waits for them
// and what they started in their process groups.
func (s *Supervisor) Close() {
	s.mu.Lock()
	s.closed = true
	var ids []string
	for id := range s.procs {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	s.cancel()
	for _, id := range ids {
		_, _ = s.Stop(id)
	}
	s.wg.Wait()
	s.mu.Lock()
	groups := s.groups
	s.groups = nil
	s.mu.Unlock()
	deadline := time.Now().Add(s.cfg.StopGrace)
	for _, g := range groups {
		for groupAlive(g) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if groupAlive(g) {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	}
}

// groupAlive tells whether process group g has a process.
func groupAlive(g int) bool {
	return syscall.Kill(-g, 0) == nil
}

// jsonText is v as JSON text.
func jsonText(v any) (string, error) {
	data, err := json.Marshal(v)
	return string(data), err
}
