package node

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"goray/internal/testutil"
	"goray/ownerlock"
	"goray/session"
)

// A node started under umask 000 keeps its session to its user: directories 0700, sockets 0600.
func TestSessionIsPrivateWhateverTheUmask(t *testing.T) {
	n := func() *Node {
		defer syscall.Umask(syscall.Umask(0))
		n, _ := startNodeWith(t, Options{Resources: map[string]float64{"CPU": 1}}, false)
		return n
	}()
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

// envDriverRoot makes the test binary a driver: it starts a node under the given root, leaves
// a spilled object, prints "<session dir> <arena path>" and waits to be killed.
const envDriverRoot = "GORAY_TEST_DRIVER_ROOT"

func runDriver(root string) int {
	n, err := Start(Options{TempDir: root, Resources: map[string]float64{"CPU": 1}, WorkerCommand: []string{os.Args[0]}, ObjectStoreMemory: 16 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	spill := filepath.Join(n.Session.Dir, "spill")
	if err := os.MkdirAll(spill, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(spill, "0123abcd"), make([]byte, 1<<20), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s %s\n", n.Session.Dir, n.Raylet.ArenaPath())
	select {}
}

// A node cleans what a driver killed with SIGKILL (and not yet reaped: a zombie) left: its
// spilled objects, sockets and arena go, its logs stay; a live node's session and arena are
// left alone.
func TestStartCleansWhatAKilledDriverLeft(t *testing.T) {
	root := testutil.ShortTempDir(t)
	live, _ := startNodeWith(t, Options{Resources: map[string]float64{"CPU": 1}, TempDir: root}, true)
	driver := exec.Command(os.Args[0])
	driver.Env = append(os.Environ(), envDriverRoot+"="+root)
	out, err := driver.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = driver.Process.Kill()
		_ = driver.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) != 2 {
		t.Fatalf("the driver printed %q: %v", line, err)
	}
	deadDir, deadArena := fields[0], fields[1]
	if err := driver.Process.Kill(); err != nil { // not reaped until the test ends
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if state, _, ok := testutil.Stat(driver.Process.Pid); ok && state == "Z" && !lockHeld(t, filepath.Join(deadDir, session.LockFile)) {
			break // a zombie whose threads are all gone: their files are closed
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed driver did not become a zombie")
		}
	}

	n, err := Start(Options{TempDir: root, Resources: map[string]float64{"CPU": 1}, WorkerCommand: []string{os.Args[0]}, ObjectStoreMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	<-n.cleaned

	entries, err := os.ReadDir(deadDir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != session.LockFile+" logs" {
		t.Errorf("the dead session holds %v after a node started, want only its logs and lock", left)
	}
	if _, err := os.Stat(deadArena); !os.IsNotExist(err) {
		t.Errorf("the arena of a killed, not yet reaped driver survived a node's start: %v", err)
	}
	for _, p := range []string{live.Session.SocketsDir, live.Raylet.ArenaPath(), n.Raylet.ArenaPath()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a live node's %s was removed: %v", p, err)
		}
	}
}

// lockHeld tells whether a live process holds the owner lock at path. A killed multi-threaded
// process shows as a zombie as soon as its main thread exits, while its other threads may still
// hold its files open for a moment.
func lockHeld(t *testing.T, path string) bool {
	t.Helper()
	release, held, err := ownerlock.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if !held {
		release()
	}
	return held
}

// A node asked for more GPUs than its CUDA_VISIBLE_DEVICES names is refused with a clear error,
// and leaves nothing behind.
func TestMoreGPUsThanVisibleDevicesIsRefused(t *testing.T) {
	t.Setenv("CUDA_VISIBLE_DEVICES", "3")
	root := testutil.ShortTempDir(t)
	n, err := Start(Options{TempDir: root, Resources: map[string]float64{"CPU": 1, "GPU": 2}, WorkerCommand: []string{os.Args[0]}, ObjectStoreMemory: 16 << 20})
	if err == nil {
		n.Stop()
		t.Fatal("the node started")
	}
	if !strings.Contains(err.Error(), "CUDA_VISIBLE_DEVICES") {
		t.Errorf("error: %v", err)
	}
}
