package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateLaysOutSession(t *testing.T) {
	root := t.TempDir()
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
	root := t.TempDir()
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
