package peercred

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang/glog"
)

// envClient makes the test binary a client: it connects to the socket the variable names and
// reports whether the server closed the connection.
const envClient = "GORAY_PEERCRED_TEST_CLIENT"

// logDir receives this test binary's glog files, so tests can read what was logged.
var logDir string

func TestMain(m *testing.M) {
	if path := os.Getenv(envClient); path != "" {
		os.Exit(runClient(path))
	}
	dir, err := os.MkdirTemp("", "peercred-logs")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logDir = dir
	_ = flag.Set("log_dir", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runClient connects to path and prints "closed" when the server closes the connection, "open"
// when it is still open after a while, or "dial: ..." when it cannot connect.
func runClient(path string) int {
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		fmt.Println("closed")
		return 0
	}
	fmt.Println("open")
	return 1
}

// withUmask runs f with the process's umask set to mask.
func withUmask(mask int, f func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

// serve accepts connections of l until it is closed, sending them to the returned channel.
func serve(t *testing.T, l net.Listener) <-chan net.Conn {
	accepted := make(chan net.Conn, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})
	return accepted
}

// expectAccepted dials path as this process and waits for Accept to hand out the connection.
func expectAccepted(t *testing.T, path string, accepted <-chan net.Conn) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialing as the same user: %v", err)
	}
	defer c.Close()
	select {
	case s := <-accepted:
		s.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("a connection of the same user was not accepted")
	}
}

func TestSocketIsPrivateWhateverTheUmask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	var l net.Listener
	var err error
	withUmask(0, func() { l, err = Listen(path) })
	if err != nil {
		t.Fatal(err)
	}
	accepted := serve(t, l)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v under umask 0, want a 0600 socket", st.Mode())
	}
	expectAccepted(t, path, accepted)
}

func TestOtherUserIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("connecting as another user needs root to start a process as uid 65534")
	}
	// A directory uid 65534 can reach (MkdirTemp under /tmp, not t.TempDir, whose parent is
	// 0700), holding a copy of this test binary it can run (the build directory is private too).
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "client")
	copyFile(t, os.Args[0], exe)
	for _, path := range []string{filepath.Join(dir, "s"), fmt.Sprintf("@goray-peercred-test-%d", os.Getpid())} {
		t.Run(path, func(t *testing.T) { refusesOtherUser(t, exe, path) })
	}
}

// refusesOtherUser checks that a listener on path (a file, or "@" and an abstract name) closes
// the connection of uid 65534 (run from the executable exe), logs it, and still serves its own
// user.
func refusesOtherUser(t *testing.T, exe, path string) {
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	accepted := serve(t, l)
	if !strings.HasPrefix(path, "@") {
		// The socket's mode alone keeps the other user out; open it up to check the second
		// line of defence, the peer's credentials. (An abstract socket has only that one.)
		if err := os.Chmod(path, 0o777); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(exe)
	cmd.Env = append(clientEnv(), envClient+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if got := strings.TrimSpace(out.String()); got != "closed" {
		t.Fatalf("the connection of uid 65534 was not closed by the server: client said %q (%v)", got, err)
	}
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("Accept handed out the connection of uid 65534")
	default:
	}
	// The listener still serves its own user.
	expectAccepted(t, path, accepted)

	glog.Flush()
	logs, _ := filepath.Glob(filepath.Join(logDir, "*WARNING*"))
	var logged []byte
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		logged = append(logged, b...)
	}
	if !bytes.Contains(logged, []byte("of uid 65534")) {
		t.Fatalf("the refusal was not logged with the peer's uid; warnings:\n%s", logged)
	}
}

// clientEnv is this process's environment less Bazel's test-runner variables: under
// `bazel test` they make a Go test binary change to its runfiles directory first, which uid 65534
// may not enter.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEST_SRCDIR=") && !strings.HasPrefix(kv, "TEST_WORKSPACE=") {
			env = append(env, kv)
		}
	}
	return env
}

// copyFile copies the file src to an executable dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
