package session

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Fields 4..21 of a real line, then starttime (22) and a few more.
	const middle = "1 1234 1234 0 -1 4194560 100 0 0 0 3 1 0 0 20 0 1 0"
	for _, tc := range []struct {
		name, raw string
		state     byte
		start     uint64
		bad       bool
	}{
		{name: "plain", raw: "1234 (sleep) S " + middle + " 987654 8192 100 18446744073709551615\n", state: 'S', start: 987654},
		{name: "zombie", raw: "42 (true) Z " + middle + " 5 0 0\n", state: 'Z', start: 5},
		{name: "spaces in comm", raw: "7 (my prog 2) R " + middle + " 77 0 0\n", state: 'R', start: 77},
		{name: "parentheses in comm", raw: "7 (a) Z (b)) S " + middle + " 88 0 0\n", state: 'S', start: 88},
		{name: "only the starttime", raw: "7 (x) D " + middle + " 99", state: 'D', start: 99},
		{name: "no comm", raw: "7 x S " + middle + " 99 0", bad: true},
		{name: "truncated", raw: "7 (x) S 1 2 3", bad: true},
		{name: "bad starttime", raw: "7 (x) S " + middle + " soon 0", bad: true},
		{name: "empty", raw: "", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, start, err := parseStat([]byte(tc.raw))
			if tc.bad {
				if err == nil {
					t.Fatalf("parsed %q as state %c start %d, want an error", tc.raw, state, start)
				}
				return
			}
			if err != nil || state != tc.state || start != tc.start {
				t.Fatalf("parseStat(%q) = %c, %d, %v; want %c, %d", tc.raw, state, start, err, tc.state, tc.start)
			}
		})
	}
}

func TestParseName(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.Local)
	pid, got, ok := parseName(name(created, 4321))
	if !ok || pid != 4321 || !got.Equal(created) {
		t.Fatalf("parseName(%s) = %d, %v, %v", name(created, 4321), pid, got, ok)
	}
	for _, bad := range []string{"session_latest", "session_latest.12.tmp", "session_mine", "session_2024-05-06_07-08-09_123456_0",
		"session_2024-05-06_07-08-09_123456_x", "session_2024-05-06_07-08-09_12_34_56", "goray_session_2024-05-06_07-08-09_123456_1"} {
		if _, _, ok := parseName(bad); ok {
			t.Errorf("%s parsed as a session name", bad)
		}
	}
}

func TestOwnerLiveness(t *testing.T) {
	longAgo := time.Now().Add(-time.Hour)
	dead := deadPid(t)
	zombie := zombiePid(t)
	live := livePid(t)
	if !OwnerDead(name(longAgo, dead), longAgo) {
		t.Error("an exited and reaped owner is taken for alive")
	}
	if !OwnerDead(name(longAgo, zombie), longAgo) {
		t.Error("a zombie owner (killed, not reaped) is taken for alive")
	}
	now := time.Now()
	if OwnerDead(name(now, live), now) {
		t.Error("a running owner that started before its session is taken for dead")
	}
	if OwnerDead(name(now, os.Getpid()), now) {
		t.Error("this process is taken for dead")
	}
	// The pid of a process that started after the session was created was reused.
	if !OwnerDead(name(longAgo, live), longAgo) {
		t.Error("a process that started an hour after the session is taken for its owner")
	}
	// A modification time later than the name's (a clock set differently) errs on the side of life.
	if OwnerDead(name(longAgo, live), now) {
		t.Error("the session's modification time is ignored")
	}
	if OwnerDead("session_mine", longAgo) {
		t.Error("a name of another form is taken for a dead session")
	}
}

func TestCleanDeadKeepsLogsOfTheNewestAndNeverTouchesTheLiving(t *testing.T) {
	root := shortTempDir(t)
	now := time.Now()
	dead, zombie, live := deadPid(t), zombiePid(t), livePid(t)

	oldest := makeSession(t, root, name(now.Add(-3*time.Hour), dead))
	older := makeSession(t, root, name(now.Add(-2*time.Hour), zombie))
	reused := makeSession(t, root, name(now.Add(-time.Hour), live)) // live's pid, but live started later
	alive := makeSession(t, root, name(time.Now(), live))
	mine := makeSession(t, root, name(now.Add(-4*time.Hour), os.Getpid()))
	other := makeSession(t, root, "session_mine") // not a session name: not ours to judge
	if err := os.Symlink(oldest, filepath.Join(root, "session_latest")); err != nil {
		t.Fatal(err)
	}
	var others string
	if os.Getuid() == 0 {
		others = makeSession(t, root, name(now.Add(-5*time.Hour), dead))
		chownAll(t, others, 65534)
	}
	// The sessions' last changes were when they were created, not now.
	for _, d := range []string{oldest, older, reused, mine} {
		if err := os.Chtimes(d, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string][]string{}
	for _, d := range []string{alive, mine, other, others} {
		if d != "" {
			before[d] = tree(t, d)
		}
	}

	CleanDead(root, 2)

	if _, err := os.Lstat(oldest); !os.IsNotExist(err) {
		t.Errorf("the oldest of 3 dead sessions with keepLogs=2 is still there: %v", tree(t, oldest))
	}
	for _, d := range []string{older, reused} {
		if got, want := tree(t, d), []string{"logs", "logs/raylet.INFO"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("dead session %s holds %v after cleaning, want only its logs %v", filepath.Base(d), got, want)
		}
	}
	for d, want := range before {
		if got := tree(t, d); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("session %s was touched: %v, was %v", filepath.Base(d), got, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "session_latest")); err != nil {
		t.Errorf("session_latest removed: %v", err)
	}

	// Cleaning again with no logs to keep removes the remaining dead sessions entirely (the
	// first cleaning kept their modification times: the reused pid is still seen as reused).
	CleanDead(root, 0)
	for _, d := range []string{older, reused} {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			t.Errorf("dead session %s survives keepLogs=0", filepath.Base(d))
		}
	}
	for d := range before {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("session %s removed: %v", filepath.Base(d), err)
		}
	}
}

// name is the session directory name Create gives a session of pid created at t.
func name(t time.Time, pid int) string {
	return fmt.Sprintf("session_%s_%06d_%d", t.Format(nameLayout), t.Nanosecond()/1000, pid)
}

// makeSession makes a session directory as a node leaves it: logs, sockets (real unix sockets),
// spilled objects and the object store file.
func makeSession(t *testing.T, root, base string) string {
	t.Helper()
	dir := filepath.Join(root, base)
	for _, d := range []string{"logs", "sockets", "spill"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"logs/raylet.INFO", "spill/0123abcd", "object_store"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"gcs", "raylet"} {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "sockets", s), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false) // as a killed process leaves it
		l.Close()
	}
	return dir
}

// tree lists what is under dir, relative to it and sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// chownAll gives dir and everything in it to uid.
func chownAll(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deadPid is the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// livePid is the pid of a process started now that runs until the test ends.
func livePid(t *testing.T) int {
	t.Helper()
	time.Sleep(20 * time.Millisecond) // started visibly after sessions named "now" by the caller
	cmd := exec.Command("/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// zombiePid is the pid of a process killed but not reaped (until the test ends).
func zombiePid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Wait() })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if state, _, err := parseStat(raw); err == nil && state == 'Z' {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is not a zombie after SIGKILL: %s", pid, raw)
		}
	}
}
