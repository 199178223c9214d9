package session

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"goray/internal/testutil"
	"goray/ownerlock"
)

func TestParseName(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.Local)
	pid, got, ok := parseName(DirName(created, 4321))
	if !ok || pid != 4321 || !got.Equal(created) {
		t.Fatalf("parseName(%s) = %d, %v, %v", DirName(created, 4321), pid, got, ok)
	}
	for _, bad := range []string{"session_latest", "session_latest.12.tmp", "session_mine", "session_2024-05-06_07-08-09_123456_0",
		"session_2024-05-06_07-08-09_123456_x", "session_2024-05-06_07-08-09_12_34_56", "goray_session_2024-05-06_07-08-09_123456_1"} {
		if _, _, ok := parseName(bad); ok {
			t.Errorf("%s parsed as a session name", bad)
		}
	}
}

func TestCleanDeadKeepsLogsOfTheNewestAndNeverTouchesTheLiving(t *testing.T) {
	root := testutil.ShortTempDir(t)
	now := time.Now()
	oldest := makeSession(t, root, DirName(now.Add(-3*time.Hour), 11), false)
	older := makeSession(t, root, DirName(now.Add(-2*time.Hour), 12), false)
	newer := makeSession(t, root, DirName(now.Add(-time.Hour), 13), false)
	alive := makeSession(t, root, DirName(now.Add(-4*time.Hour), 14), true) // its owner holds the lock
	ray := makeSession(t, root, DirName(now.Add(-5*time.Hour), 15), false)  // Ray's own: no lock file
	if err := os.Remove(filepath.Join(ray, LockFile)); err != nil {
		t.Fatal(err)
	}
	other := makeSession(t, root, "sessions_x", false) // not a session directory
	if err := os.Symlink(oldest, filepath.Join(root, "session_latest")); err != nil {
		t.Fatal(err)
	}
	var others string
	if os.Getuid() == 0 {
		others = makeSession(t, root, DirName(now.Add(-6*time.Hour), 16), false)
		chownAll(t, others, 65534)
	}
	before := map[string][]string{}
	for _, d := range []string{alive, ray, other, others} {
		if d != "" {
			before[d] = tree(t, d)
		}
	}

	CleanDead(root, 2)

	if _, err := os.Lstat(oldest); !os.IsNotExist(err) {
		t.Errorf("the oldest of 3 dead sessions with keepLogs=2 is still there: %v", tree(t, oldest))
	}
	for _, d := range []string{older, newer} {
		if got, want := tree(t, d), []string{LockFile, "logs", "logs/raylet.INFO"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("dead session %s holds %v after cleaning, want only its logs and lock %v", filepath.Base(d), got, want)
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

	// Cleaning again with no logs to keep removes the remaining dead sessions entirely.
	CleanDead(root, 0)
	for _, d := range []string{older, newer} {
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

// A session's lock is held from Create to Close: meanwhile the session is alive for CleanDead and
// a second node cannot take its directory; after Close it is dead.
func TestSessionLockLastsUntilClose(t *testing.T) {
	root := testutil.ShortTempDir(t)
	s, err := Create(root, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, s.Dir, ""); err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("a second node in a live session's directory: %v", err)
	}
	CleanDead(root, 0)
	if _, err := os.Stat(s.SocketsDir); err != nil {
		t.Fatalf("a live session was cleaned: %v", err)
	}
	s.Close()
	CleanDead(root, 0)
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("a closed session survives cleaning: %v", err)
	}
}

// makeSession makes a session directory as a node leaves it: logs, sockets (real unix sockets),
// spilled objects and the object store file.
func makeSession(t *testing.T, root, base string, live bool) string {
	t.Helper()
	dir := filepath.Join(root, base)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := ownerlock.Create(filepath.Join(dir, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if live {
		t.Cleanup(func() { lock.Close() })
	} else {
		lock.Close() // its owner is gone
	}
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
