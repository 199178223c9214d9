package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"goray/runtimeenv"
)

func newSupervisor(t *testing.T, fetch func(ctx context.Context, sum, dst string) error) *Supervisor {
	t.Helper()
	dir := t.TempDir()
	s, err := NewSupervisor(Config{LogsDir: filepath.Join(dir, "logs"), WorkDir: filepath.Join(dir, "work"),
		Env: []string{"PATH=" + os.Getenv("PATH"), "RAY_ADDRESS=127.0.0.1:1"}, NodeID: "node1", Fetch: fetch, StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitEnd waits for a job to be over and returns its record.
func waitEnd(t *testing.T, s *Supervisor, id string) Info {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := s.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status.Terminal() {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is still %s", id, info.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobRunsAndLogs(t *testing.T) {
	s := newSupervisor(t, nil)
	info, err := s.Submit(Request{Entrypoint: `echo "out $RAY_ADDRESS $GREETING"; echo err >&2; echo "$RAY_JOB_CONFIG_JSON_ENV_VAR"`,
		RuntimeEnv: map[string]any{"env_vars": map[string]any{"GREETING": "hello"}}, Metadata: map[string]string{"owner": "me"}})
	if err != nil {
		t.Fatal(err)
	}
	end := waitEnd(t, s, info.SubmissionID)
	if end.Status != Succeeded || end.DriverExitCode == nil || *end.DriverExitCode != 0 {
		t.Fatalf("job ended %+v", end)
	}
	logs, next, err := s.Logs(info.SubmissionID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"out 127.0.0.1:1 hello", "err", `"metadata":{"owner":"me"}`, `"env_vars":{"GREETING":"hello"}`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs %q lack %q", logs, want)
		}
	}
	rest, _, _ := s.Logs(info.SubmissionID, next)
	if rest != "" || next != int64(len(logs)) {
		t.Errorf("reading on from the end: %q at %d", rest, next)
	}
}

func TestJobFails(t *testing.T) {
	s := newSupervisor(t, nil)
	info, _ := s.Submit(Request{Entrypoint: "echo dying words; exit 7"})
	end := waitEnd(t, s, info.SubmissionID)
	if end.Status != Failed || *end.DriverExitCode != 7 || !strings.Contains(end.Message, "dying words") {
		t.Errorf("job ended %+v", end)
	}
	if err := s.Delete(info.SubmissionID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.LogPath(info.SubmissionID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deleted job's log is still there: %v", err)
	}
	if _, _, err := s.Logs(info.SubmissionID, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("logs of a deleted job: %v", err)
	}
}

// stubbornChild is a job's command that starts a child ignoring SIGTERM, which says its pid.
const stubbornChild = `sh -c 'trap "" TERM; echo child $$; while :; do sleep 0.05; done' & wait`

// childPID waits for a stubbornChild job's child to say its pid, and returns it.
func childPID(t *testing.T, s *Supervisor, id string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var logs string
	for !strings.Contains(logs, "\n") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		logs, _, _ = s.Logs(id, 0)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(logs, "child ")))
	if err != nil {
		t.Fatalf("no child pid in %q", logs)
	}
	return pid
}

func TestStopEndsEveryProcessOfTheJob(t *testing.T) {
	s := newSupervisor(t, nil)
	// The command starts a child that ignores SIGTERM: the stop's SIGKILL ends it too.
	info, _ := s.Submit(Request{Entrypoint: stubbornChild})
	pid := childPID(t, s, info.SubmissionID)
	if err := s.Delete(info.SubmissionID); !errors.Is(err, ErrNotTerminal) {
		t.Errorf("deleting a running job: %v", err)
	}
	stopped, err := s.Stop(info.SubmissionID)
	if !stopped || err != nil {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	end := waitEnd(t, s, info.SubmissionID)
	if end.Status != Stopped {
		t.Errorf("a stopped job ended %s", end.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("the job's child %d outlived the stop", pid)
	}
	if again, _ := s.Stop(info.SubmissionID); again {
		t.Errorf("stopping a job over already says it stopped it")
	}
}

func TestWorkingDirPackage(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "data.txt"), []byte("from the package\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg, sum, err := runtimeenv.Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(pkg)
	fetch := func(_ context.Context, want, dst string) error {
		if want != sum {
			return errors.New("no such package")
		}
		data, err := os.ReadFile(pkg)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o600)
	}
	s := newSupervisor(t, fetch)
	good, _ := s.Submit(Request{Entrypoint: "cat data.txt", RuntimeEnv: map[string]any{"working_dir": runtimeenv.PackageURI(sum)}})
	missing, _ := s.Submit(Request{Entrypoint: "true", RuntimeEnv: map[string]any{"working_dir": runtimeenv.PackageURI(strings.Repeat("0", 64))}})
	if end := waitEnd(t, s, good.SubmissionID); end.Status != Succeeded {
		t.Errorf("the job in its working_dir: %+v", end)
	}
	if logs, _, _ := s.Logs(good.SubmissionID, 0); logs != "from the package\n" {
		t.Errorf("its output %q", logs)
	}
	end := waitEnd(t, s, missing.SubmissionID)
	if end.Status != Failed || end.ErrorType == nil || *end.ErrorType != ErrorRuntimeEnvSetup || !strings.Contains(end.Message, "no such package") {
		t.Errorf("a job whose package is missing: %+v", end)
	}
}

func TestCloseStopsRunningJobs(t *testing.T) {
	s := newSupervisor(t, nil)
	info, _ := s.Submit(Request{Entrypoint: "sleep 30"})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if j, _ := s.Get(info.SubmissionID); j.Status == Running {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Close()
	if j, _ := s.Get(info.SubmissionID); j.Status != Stopped {
		t.Errorf("after Close the job is %s", j.Status)
	}
	if _, err := s.Submit(Request{Entrypoint: "true"}); err == nil {
		t.Errorf("a closed supervisor took a job")
	}
}

// alive tells whether process pid runs (a zombie, which nobody reaped yet, does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// fakeNode hands out CPUs as a node's ledger would.
type fakeNode struct {
	mu   sync.Mutex
	free float64
	all  float64
}

func (f *fakeNode) reserve(res map[string]float64) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name := range res {
		if name != "CPU" {
			return nil, fmt.Errorf("the node has no %s", name)
		}
	}
	n := res["CPU"]
	switch {
	case n > f.all:
		return nil, fmt.Errorf("the node has %v CPUs in all", f.all)
	case n > f.free:
		return nil, fmt.Errorf("%w: %v CPUs free", ErrNotFreeYet, f.free)
	}
	f.free -= n
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.free += n
			f.mu.Unlock()
		})
	}, nil
}

func (f *fakeNode) freeCPUs() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.free
}

func TestEntrypointResources(t *testing.T) {
	node := &fakeNode{free: 1, all: 1}
	dir := t.TempDir()
	s, err := NewSupervisor(Config{LogsDir: filepath.Join(dir, "logs"), WorkDir: filepath.Join(dir, "work"),
		Env: []string{"PATH=" + os.Getenv("PATH")}, Reserve: node.reserve, StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _ := s.Submit(Request{Entrypoint: "sleep 0.5", EntrypointNumCPUs: 1})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if j, _ := s.Get(first.SubmissionID); j.Status == Running {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The second waits, PENDING, until the first gives the CPU back; then it runs.
	second, _ := s.Submit(Request{Entrypoint: "true", EntrypointNumCPUs: 1})
	var waiting Info
	for time.Now().Before(deadline) {
		if waiting, _ = s.Get(second.SubmissionID); strings.Contains(waiting.Message, "waiting") || waiting.Status != Pending {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if waiting.Status != Pending || !strings.Contains(waiting.Message, "CPUs free") {
		t.Errorf("the job waiting for the CPU: %s %q", waiting.Status, waiting.Message)
	}
	if end := waitEnd(t, s, second.SubmissionID); end.Status != Succeeded {
		t.Errorf("the second job after the first: %+v", end)
	}
	// More than the node has fails at once; a waiting job can be stopped.
	never, _ := s.Submit(Request{Entrypoint: "true", EntrypointNumCPUs: 2})
	if end := waitEnd(t, s, never.SubmissionID); end.Status != Failed || !strings.Contains(end.Message, "in all") {
		t.Errorf("a job asking for more than the node has: %+v", end)
	}
	hold, _ := s.Submit(Request{Entrypoint: "sleep 30", EntrypointResources: map[string]float64{"CPU": 1}})
	for time.Now().Before(deadline) {
		if j, _ := s.Get(hold.SubmissionID); j.Status == Running {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stuck, _ := s.Submit(Request{Entrypoint: "true", EntrypointNumCPUs: 0.5})
	time.Sleep(3 * reserveEvery)
	if _, err := s.Stop(stuck.SubmissionID); err != nil {
		t.Fatal(err)
	}
	if end := waitEnd(t, s, stuck.SubmissionID); end.Status != Stopped {
		t.Errorf("a job stopped while waiting: %+v", end)
	}
	if _, err := s.Stop(hold.SubmissionID); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, s, hold.SubmissionID)
	for time.Now().Before(deadline) && node.freeCPUs() != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	if got := node.freeCPUs(); got != 1 {
		t.Errorf("after the jobs, %v CPUs are free", got)
	}
}

// A job stopped during its setup cannot be deleted (and its id taken again) before its setup
// has ended: a new job of the id never meets the old one's files or command.
func TestDeleteWaitsForTheSetupToEnd(t *testing.T) {
	gate := make(chan struct{})
	fetch := func(ctx context.Context, sum, dst string) error {
		<-gate // (a slow download)
		return errors.New("gone")
	}
	s := newSupervisor(t, fetch)
	uri := runtimeenv.PackageURI(strings.Repeat("ab", 32))
	info, _ := s.Submit(Request{Entrypoint: "echo OLD", SubmissionID: "reused", RuntimeEnv: map[string]any{"working_dir": uri}})
	if stopped, err := s.Stop(info.SubmissionID); !stopped || err != nil {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	if err := s.Delete(info.SubmissionID); !errors.Is(err, ErrNotTerminal) || !strings.Contains(err.Error(), "still ending") {
		t.Errorf("delete during the setup: %v", err)
	}
	close(gate)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err = s.Delete(info.SubmissionID); err != nil && time.Now().Before(deadline); err = s.Delete(info.SubmissionID) {
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Submit(Request{Entrypoint: "echo NEW", SubmissionID: "reused"})
	if end := waitEnd(t, s, again.SubmissionID); end.Status != Succeeded {
		t.Fatalf("the new job: %+v", end)
	}
	if logs, _, _ := s.Logs("reused", 0); logs != "NEW\n" {
		t.Errorf("the new job's log: %q", logs)
	}
}

// Close ends what a job started that ignores SIGTERM too, before it returns.
func TestCloseEndsTheWholeGroup(t *testing.T) {
	s := newSupervisor(t, nil)
	info, _ := s.Submit(Request{Entrypoint: stubbornChild})
	pid := childPID(t, s, info.SubmissionID)
	s.Close()
	if alive(pid) {
		t.Errorf("the job's child %d outlived Close", pid)
	}
}
