package node

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A node started under umask 000 keeps its session to its user: directories 0700, sockets 0600.
func TestSessionIsPrivateWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0)
	n, _ := startNodeWith(t, Options{Resources: map[string]float64{"CPU": 1}}, false)
	syscall.Umask(old)
	for _, d := range []string{n.Session.Dir, n.Session.LogsDir, n.Session.SocketsDir} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Errorf("%s is %v, want a 0700 directory", d, st.Mode())
		}
	}
	for _, s := range []string{"gcs", "raylet"} {
		st, err := os.Stat(n.Session.Socket(s))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want a 0600 socket", n.Session.Socket(s), st.Mode())
		}
	}
}

// A node cleans what the sessions of killed drivers left: spilled objects, sockets and the object
// store file go, logs stay; and it removes the arena of a driver killed a moment ago, not yet
// reaped (a zombie), but not that of a live one.
func TestStartCleansDeadSessions(t *testing.T) {
	root := shortTempDir(t)
	shm := shortTempDir(t)
	saved := shmDir
	shmDir = shm
	t.Cleanup(func() { shmDir = saved })

	longAgo := time.Now().Add(-time.Hour)
	dead := sessionName(longAgo, exitedPid(t))
	deadDir := filepath.Join(root, dead)
	for _, d := range []string{"logs", "sockets", "spill"} {
		if err := os.MkdirAll(filepath.Join(deadDir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"logs/raylet.INFO", "spill/0123abcd", "object_store"} {
		if err := os.WriteFile(filepath.Join(deadDir, f), make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(deadDir, "sockets", "raylet"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // as a killed driver leaves it
	l.Close()
	if err := os.Chtimes(deadDir, longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	zombieArena := filepath.Join(shm, "goray_"+sessionName(longAgo, zombiePid(t))+"_objects")
	liveArena := filepath.Join(shm, "goray_"+sessionName(time.Now(), os.Getpid())+"_objects")
	for _, a := range []string{zombieArena, liveArena} {
		if err := os.WriteFile(a, []byte("arena"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(a, longAgo, longAgo); err != nil {
			t.Fatal(err)
		}
	}

	n, err := Start(Options{TempDir: root, Resources: map[string]float64{"CPU": 1}, WorkerCommand: []string{os.Args[0]}, ObjectStoreMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()

	entries, err := os.ReadDir(deadDir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != "logs" {
		t.Errorf("the dead session holds %v after a node started, want only its logs", left)
	}
	if _, err := os.Stat(filepath.Join(deadDir, "logs", "raylet.INFO")); err != nil {
		t.Errorf("the dead session's logs: %v", err)
	}
	if _, err := os.Stat(zombieArena); !os.IsNotExist(err) {
		t.Errorf("the arena of a killed, not yet reaped driver survived a node's start: %v", err)
	}
	if _, err := os.Stat(liveArena); err != nil {
		t.Errorf("the arena of a live session was removed: %v", err)
	}
}

// sessionName is the session directory name of a session of pid created at t.
func sessionName(t time.Time, pid int) string {
	return fmt.Sprintf("session_%s_%06d_%d", t.Format("2006-01-02_15-04-05"), t.Nanosecond()/1000, pid)
}

// exitedPid is the pid of a process that has exited and been reaped.
func exitedPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// zombiePid is the pid of a process killed but not reaped until the test ends.
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
	stat := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		raw, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.LastIndexByte(string(raw), ')'); i >= 0 && strings.HasPrefix(string(raw[i:]), ") Z") {
			return cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is not a zombie after SIGKILL: %s", cmd.Process.Pid, raw)
		}
	}
}
