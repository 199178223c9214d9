package session

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"goray/internal/testutil"
)

func TestCreateLaysOutSession(t *testing.T) {
	root := testutil.ShortTempDir(t)
	s, err := Create(root, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(s.Dir), "session_") {
		t.Fatalf("session dir %s", s.Dir)
	}
	for _, d := range []string{s.LogsDir, s.SocketsDir} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Fatalf("%s missing: %v", d, err)
		}
	}
	target, err := os.Readlink(filepath.Join(root, "session_latest"))
	if err != nil || target != s.Dir {
		t.Fatalf("session_latest -> %q (%v), want %q", target, err, s.Dir)
	}
	s2, err := Create(root, "", "")
	if err != nil {
		t.Fatal(err)
	}
	target, _ = os.Readlink(filepath.Join(root, "session_latest"))
	if target != s2.Dir {
		t.Fatalf("session_latest not moved to the newest session")
	}
}

func TestCreateHonoursDirs(t *testing.T) {
	root := testutil.ShortTempDir(t)
	s, err := Create(root, filepath.Join(root, "mine"), filepath.Join(root, "mylogs"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != filepath.Join(root, "mine") || s.LogsDir != filepath.Join(root, "mylogs") {
		t.Fatalf("%+v", s)
	}
}

func TestCreateRejectsLongPaths(t *testing.T) {
	root := filepath.Join(t.TempDir(), strings.Repeat("x", 120))
	if _, err := Create(root, "", ""); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("long path: %v", err)
	}
}

func TestRoot(t *testing.T) {
	if Root("/a") != "/a" {
		t.Fatal("explicit temp dir ignored")
	}
	t.Setenv("RAY_TMPDIR", "/b")
	if Root("") != "/b" {
		t.Fatal("RAY_TMPDIR ignored")
	}
	t.Setenv("RAY_TMPDIR", "")
	if Root("") != DefaultRoot {
		t.Fatal("default root")
	}
}

func TestCreateMakesPrivateDirsWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	root := testutil.ShortTempDir(t)
	s, err := Create(root, "", "")
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := Create(root, filepath.Join(root, "mine"), filepath.Join(root, "parent", "mylogs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{s.Dir, s.LogsDir, s.SocketsDir, explicit.Dir, explicit.LogsDir, explicit.SocketsDir} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s is %v under umask 0, want 0700", d, st.Mode().Perm())
		}
	}
	// An existing directory given as the session directory becomes private too.
	open := filepath.Join(root, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, open, ""); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(open); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("existing session directory %s: %v %v, want 0700", open, st.Mode().Perm(), err)
	}
	// A shared directory such as /tmp is refused, not closed to every other user.
	shared := filepath.Join(root, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, "", shared); err == nil || !strings.Contains(err.Error(), "shared") {
		t.Fatalf("a sticky logs directory: %v, want an error", err)
	}
	if st, err := os.Stat(shared); err != nil || st.Mode().Perm() != 0o777 {
		t.Fatalf("the shared directory's mode changed: %v %v", st.Mode(), err)
	}
}
