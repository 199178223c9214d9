package raylet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The stderr files in testdata/crash are real: workers of a goray node (default_worker with the
// program's .so, or the driver re-executed: *_noso) running remote functions that crash
// (cpp/test's remote functions and a program like README's), an AddressSanitizer build of the
// driver (asan_*), and a Go c-shared library that panics or overflows its goroutine stack (go_*),
// each captured with the way the process ended.

var (
	waitErrsMu sync.Mutex
	waitErrs   = map[string]error{}
)

// waitErr returns what exec.Cmd.Wait returns for a real process that ends the way script says
// ("kill -QUIT $$", "exit 3").
func waitErr(t *testing.T, script string) error {
	t.Helper()
	waitErrsMu.Lock()
	defer waitErrsMu.Unlock()
	if err, ok := waitErrs[script]; ok {
		return err
	}
	err := exec.Command("sh", "-c", script).Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("sh -c %q: %v, want an exit error", script, err)
	}
	waitErrs[script] = err
	return err
}

func readCrash(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "crash", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkExcerptBounds checks describeExit's promises about every excerpt: at most 20 lines of at
// most 300 bytes (plus "..."), never a register dump.
func checkExcerptBounds(t *testing.T, name, excerpt string) {
	t.Helper()
	lines := strings.Split(excerpt, "\n")
	if len(lines) > excerptMaxLines {
		t.Errorf("%s: excerpt has %d lines:\n%s", name, len(lines), excerpt)
	}
	for _, l := range lines {
		if len(l) > excerptMaxLineBytes+3 {
			t.Errorf("%s: excerpt line of %d bytes: %.80q", name, len(l), l)
		}
		if registerLine.MatchString(l) {
			t.Errorf("%s: excerpt quotes a register: %q", name, l)
		}
	}
}

func TestDescribeExitOfCapturedCrashes(t *testing.T) {
	const cgoFrames = "goroutine 19 [syscall, locked to thread], top frames:\n" +
		"  main._Cfunc_goray_call_exec\n" +
		"  main.ray_worker_run.cExecutor.func2.8\n" +
		"  main.ray_worker_run.cExecutor.func2\n" +
		"  main.ray_worker_run.func1"
	cases := []struct {
		file   string
		ended  string   // how the process really ended
		status string   // the whole status
		want   []string // substrings of the excerpt, in order
		not    []string // strings the excerpt must not hold
	}{
		{"deref_null.err", "kill -QUIT $$",
			"crashed with SIGSEGV (segmentation violation) in C/C++ code, and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGSEGV: segmentation violation\nPC=0x7f7844264fff m=4 sigcode=1 addr=0x0\nsignal arrived during cgo execution\n" + cgoFrames +
				"\nlast output before the crash:\ndefault_worker: loaded library /tmp/crashrepro/prog.so\nDerefNull: about to read through a NULL pointer"},
			[]string{"stack overflow", "rip", "-----", "goroutine 8"}},
		{"deref_null_noso.err", "kill -QUIT $$",
			"crashed with SIGSEGV (segmentation violation) in C/C++ code, and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGSEGV: segmentation violation", "addr=0x0", "goroutine 14 [syscall, locked to thread]", "main._Cfunc_goray_call_exec",
				"running the driver program /tmp/crashrepro/noso/prog in worker mode", "DerefNull: about to read through a NULL pointer"},
			nil},
		// The dump of the issue: 305 lines, "SIGSEGV: segmentation violation" on line 2.
		{"stack_overflow.err", "kill -QUIT $$",
			"crashed with SIGSEGV (segmentation violation) in C/C++ code, probably a stack overflow (the fault address is next to the stack pointer), and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGSEGV: segmentation violation", "PC=0x7fa8ede6204e m=0 sigcode=2 addr=0x7fa93ab1ff0c", "signal arrived during cgo execution",
				"main._Cfunc_goray_call_exec", "last output before the crash:\ndefault_worker: loaded library"},
			[]string{"rsp", "0x7fa93ab1ff00"}},
		{"stack_overflow_noso.err", "kill -QUIT $$",
			"crashed with SIGSEGV (segmentation violation) in C/C++ code, probably a stack overflow (the fault address is next to the stack pointer), and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGSEGV", "addr=0x7f118c7fef1c"}, nil},
		{"div_zero.err", "kill -QUIT $$",
			"crashed with SIGFPE (floating-point exception) in C/C++ code, and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGFPE: floating-point exception", "PC=0x7f32307c3181 m=4 sigcode=1", "goroutine 14"}, []string{"instruction bytes"}},
		{"real_bus.err", "kill -QUIT $$",
			"crashed with SIGBUS (bus error) in C/C++ code, and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGBUS: bus error", "sigcode=2 addr=0x7f0ea410e000"}, nil},
		// raise(SIGBUS): si_code SI_TKILL, printed as an unsigned 64-bit number.
		{"raise_bus.err", "kill -QUIT $$",
			"crashed with SIGBUS (bus error) in C/C++ code, sent by kill or raise rather than caused by a fault, and the Go runtime's crash handler then ended it with SIGQUIT",
			[]string{"SIGBUS: bus error", "sigcode=18446744073709551610"}, nil},
		// The same dump, had the runtime exited instead (GOTRACEBACK below crash), or re-raised the signal.
		{"deref_null.err", "exit 2",
			"crashed with SIGSEGV (segmentation violation) in C/C++ code, and then exited with status 2",
			[]string{"SIGSEGV: segmentation violation"}, nil},
		{"deref_null.err", "kill -SEGV $$",
			"was killed by signal SIGSEGV (segmentation violation) in C/C++ code",
			[]string{"SIGSEGV: segmentation violation"}, nil},
		// abort() is not caught by the Go runtime: the process dies of SIGABRT with no dump.
		{"call_abort.err", "kill -ABRT $$", "was killed by signal SIGABRT (aborted)",
			[]string{"default_worker: loaded library /tmp/crashrepro/prog.so\nCallAbort: calling abort"}, nil},
		{"terminate_noexcept.err", "kill -ABRT $$",
			"was killed by signal SIGABRT (aborted) after std::terminate: an uncaught 'std::logic_error'",
			[]string{"terminate called after throwing an instance of 'std::logic_error'\n  what():  thrown through noexcept\nlast output before the crash:\ndefault_worker: loaded library"},
			nil},
		{"assert_fails.err", "kill -ABRT $$", "was killed by signal SIGABRT (aborted) after a failed assertion",
			[]string{"default_worker: prog.cc:56: int AssertFails(int): Assertion `x == 12345 && \"x must be 12345\"' failed."}, nil},
		{"exit3.err", "exit 3", "exited with status 3", []string{"Exit3: exiting with 3"}, nil},
		{"kill_self.err", "kill -KILL $$", "was killed by signal SIGKILL (killed)", []string{"default_worker: loaded library"}, nil},
		// AddressSanitizer reports, exits with status 1: its error, the user's frames, its summary.
		{"asan_deref_null.err", "exit 1",
			"exited with status 1 after AddressSanitizer caught SIGSEGV: SEGV on unknown address 0x000000000000 (pc 0x55bd00169b66 bp 0x7fc62e9fbf10 sp 0x7fc62e9fbef0 T4)",
			[]string{"ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000", "The signal is caused by a READ memory access.",
				"Hint: address points to the zero page.", "  #0 DerefNull(int) /tmp/crashrepro/prog_asan.cc:15",
				"SUMMARY: AddressSanitizer: SEGV /tmp/crashrepro/prog_asan.cc:15 in DerefNull(int)",
				"last output before the crash:", "DerefNull: about to read through a NULL pointer"},
			[]string{"TaskInvoker", "==12590==", "DEADLYSIGNAL", "====="}},
		{"asan_heap_overflow.err", "exit 1",
			"exited with status 1 after AddressSanitizer: heap-buffer-overflow on address 0x602000001084 at pc 0x5614647261de bp 0x7f68ad5fbee0 sp 0x7f68ad5fbed8",
			[]string{"READ of size 4 at 0x602000001084 thread T4", "is located 4 bytes to the right of 16-byte region",
				"  #0 HeapOverflow(int) /tmp/crashrepro/prog_asan.cc:67", "SUMMARY: AddressSanitizer: heap-buffer-overflow"},
			[]string{"Shadow byte", "operator new", "TaskInvoker"}},
		// Go's own failures in a c-shared library (the runtime aborts).
		{"go_panic.err", "kill -ABRT $$",
			"was killed by signal SIGABRT (aborted) after a Go panic: runtime error: invalid memory address or nil pointer dereference",
			[]string{"panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x7f251f9dd416]",
				"goroutine 17 [running, locked to thread], top frames:\n  main.GoPanic", "worker: running panic"}, nil},
		{"go_explicit.err", "kill -ABRT $$", "was killed by signal SIGABRT (aborted) after a Go panic: invariant broken: -1 workers",
			[]string{"panic: invariant broken: -1 workers", "main.GoExplicitPanic"}, nil},
		{"go_overflow.err", "kill -ABRT $$", "was killed by signal SIGABRT (aborted) after a Go fatal error: stack overflow",
			[]string{"runtime: goroutine stack exceeds 1000000000-byte limit\nfatal error: stack overflow\ngoroutine 17 [running, locked to thread], top frames:\n  main.recurse (93 frames)\n  main.GoStackOverflow"},
			[]string{"runtime.throw", "runtime: sp="}},
	}
	for _, c := range cases {
		name := c.file + " / " + c.ended
		status, excerpt := describeExit(waitErr(t, c.ended), readCrash(t, c.file))
		if status != c.status {
			t.Errorf("%s: status\n got: %s\nwant: %s", name, status, c.status)
		}
		rest := excerpt
		for _, w := range c.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: excerpt lacks (or has out of order) %q:\n%s", name, w, excerpt)
				continue
			}
			rest = rest[i+len(w):]
		}
		for _, n := range c.not {
			if strings.Contains(excerpt, n) {
				t.Errorf("%s: excerpt holds %q:\n%s", name, n, excerpt)
			}
		}
		checkExcerptBounds(t, name, excerpt)
	}
}

func TestDescribeExitOfPlainOutput(t *testing.T) {
	var many []string
	for i := 1; i <= 40; i++ {
		many = append(many, fmt.Sprintf("line %d", i))
	}
	long := strings.Repeat("x", 1000)
	cases := []struct {
		name    string
		wait    error
		stderr  string
		status  string
		excerpt string
	}{
		{"empty", waitErr(t, "exit 1"), "", "exited with status 1", "(empty)"},
		{"clean exit", nil, "bye\n", "exited with status 0", "bye"},
		{"wait failed", errors.New("wait: no child processes"), "x", "ended, but waiting for it failed: wait: no child processes", "x"},
		{"last 20 lines", waitErr(t, "exit 3"), strings.Join(many, "\n") + "\n", "exited with status 3", strings.Join(many[20:], "\n")},
		{"CRLF", waitErr(t, "exit 3"), "a\r\nb\r\n", "exited with status 3", "a\nb"},
		{"long line", waitErr(t, "kill -TERM $$"), long, "was killed by signal SIGTERM (terminated)", long[:excerptMaxLineBytes] + "..."},
		// User output that merely looks like Go's is not taken for a crash report.
		{"not a panic", waitErr(t, "exit 1"), "panic: the disk is full\nSIGSEGV: not really\nfatal error: no\n", "exited with status 1",
			"panic: the disk is full\nSIGSEGV: not really\nfatal error: no"},
		// A register dump with nothing before it is still never quoted.
		{"registers only", waitErr(t, "kill -QUIT $$"), "starting\nrax    0x0\nrbx    0x7f7844264fbd\nrip    0x7fa604665fff\n", "was killed by signal SIGQUIT (quit)", "starting"},
	}
	for _, c := range cases {
		status, excerpt := describeExit(c.wait, []byte(c.stderr))
		if status != c.status {
			t.Errorf("%s: status %q, want %q", c.name, status, c.status)
		}
		if excerpt != c.excerpt {
			t.Errorf("%s: excerpt\n%s\nwant\n%s", c.name, excerpt, c.excerpt)
		}
		checkExcerptBounds(t, c.name, excerpt)
	}
}

// A caller that reads only the end of a long stderr may miss the dump's first lines: the excerpt
// then says so, and still quotes no registers.
func TestDescribeExitOfCutDump(t *testing.T) {
	dump := strings.SplitAfterN(string(readCrash(t, "deref_null.err")), "\n", 12)[11]
	status, excerpt := describeExit(waitErr(t, "kill -QUIT $$"), []byte(dump))
	if status != "was killed by signal SIGQUIT (quit)" {
		t.Errorf("status %q", status)
	}
	if !strings.HasPrefix(excerpt, "(the end of a Go runtime crash dump whose beginning, naming the signal, was not read)\n") {
		t.Errorf("excerpt:\n%s", excerpt)
	}
	checkExcerptBounds(t, "cut", excerpt)
}

// A crash after a lot of output, with a long dump: the excerpt stays bounded and keeps the crash's
// lines first, then as much ordinary output as fits.
func TestDescribeExitBounds(t *testing.T) {
	dump := readCrash(t, "asan_heap_overflow.err")
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "progress %d %s\n", i, strings.Repeat("y", 500))
	}
	b.Write(dump)
	status, excerpt := describeExit(waitErr(t, "exit 1"), []byte(b.String()))
	if !strings.Contains(status, "heap-buffer-overflow") {
		t.Errorf("status %q", status)
	}
	checkExcerptBounds(t, "long", excerpt)
	if !strings.Contains(excerpt, "progress 999 yyy") || strings.Contains(excerpt, "progress 994 ") {
		t.Errorf("want the last 5 lines of output before the crash:\n%s", excerpt)
	}
}
