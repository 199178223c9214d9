// Package testutil holds what several packages' tests need: processes' states and children read
// from /proc, temporary directories short enough for unix socket paths, and TLS certificates.
package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Stat reads a process's state letter and parent pid from /proc/<pid>/stat; ok is false when the
// process does not exist.
func Stat(pid int) (state string, ppid int, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// Children lists the live (not zombie) processes whose parent is pid.
func Children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, ppid, ok := Stat(child); ok && ppid == pid && state != "Z" {
			out = append(out, child)
		}
	}
	return out
}

// ShortTempDir is a temporary directory, removed when the test ends, short enough for the unix
// socket paths of sessions inside it (at most ~108 bytes).
func ShortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
