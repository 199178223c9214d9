package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

func TestStopEndsEveryProcessOfTheJob(t *testing.T) {
	s := newSupervisor(t, nil)
	// The command starts a child that ignores SIGTERM: the stop's SIGKILL ends it too.
	info, _ := s.Submit(Request{Entrypoint: `sh -c 'trap "" TERM; echo child $$; while :; do sleep 0.05; done' & wait`})
	deadline := time.Now().Add(10 * time.Second)
	var logs string
	for !strings.Contains(logs, "child ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		logs, _, _ = s.Logs(info.SubmissionID, 0)
	}
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
	var pid int
	for _, f := range strings.Fields(logs) {
		if n, err := parsePID(f); err == nil {
			pid = n
		}
	}
	if pid == 0 {
		t.Fatalf("no child pid in %q", logs)
	}
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

func parsePID(s string) (int, error) { return strconv.Atoi(s) }

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
