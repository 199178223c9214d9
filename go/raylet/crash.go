package raylet

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Bounds of a crash excerpt.
const (
	excerptMaxLines     = 20  // lines in all
	excerptMaxLineBytes = 300 // bytes of one line, before "..."
	excerptOrdinary     = 5   // lines of ordinary output before the crash
	excerptGoFrames     = 4   // frames of the crashing goroutine
	excerptNativeFrames = 4   // frames of a sanitizer's report
	stackOverflowReach  = 64 << 10
)

var (
	// "SIGSEGV: segmentation violation", the first line of the Go runtime's dump of a fatal signal;
	// the next line is "PC=0x... m=N sigcode=N [addr=0x...]".
	goSignalLine = regexp.MustCompile(`^(SIG[A-Z0-9]+): (.+)$`)
	goPCLine     = regexp.MustCompile(`^PC=0x[0-9a-f]+ m=\d+ sigcode=(\d+)(?: addr=(0x[0-9a-f]+))?`)
	// "goroutine 19 gp=0x... m=4 mp=0x... [syscall, locked to thread]:" or "goroutine 1 [running]:".
	goroutineHeader = regexp.MustCompile(`^goroutine (\d+) (?:.* )?(\[[^\]]*\]):$`)
	// The stack pointer in the register dump (amd64, 386, arm64/others).
	stackPointerLine = regexp.MustCompile(`^(?:rsp|esp|sp)\s+0x([0-9a-f]+)$`)
	// Lines of a register dump ("rax    0x0", "r15    0xffff...", "x29  0x..."): never quoted.
	registerLine = regexp.MustCompile(`^[a-z][a-z0-9]{0,6}\s+0x[0-9a-f]+$`)
	// Go arguments at the end of a frame: "(0x1, {0x2, 0x3}, ...)", "(...)", "()".
	goFrameArgs = regexp.MustCompile(`\((?:[0-9a-fx?, .{}]*)\)$`)
	// A frame of a sanitizer's report: "    #0 0x55bd00169b66 in DerefNull(int) /tmp/prog.cc:15".
	sanitizerFrame  = regexp.MustCompile(`^\s*#(\d+) 0x[0-9a-f]+ (?:in )?(.*)$`)
	sanitizerPrefix = regexp.MustCompile(`^==\d+==`)
	sanitizerError  = regexp.MustCompile(`ERROR: [A-Za-z]+Sanitizer: `)
	// C and C++ runtime messages printed just before an abort.
	assertionLine = regexp.MustCompile(`Assertion [` + "`" + `'].*' failed\.?$`)
	glibcLine     = regexp.MustCompile(`^(?:\*\*\* .+ \*\*\*: terminated|(?:free|malloc|realloc|calloc|munmap_chunk|malloc_consolidate|_int_free|_int_malloc)\(\): .+|double free or corruption.*|corrupted (?:size|double-linked list|top size).*)$`)
	ubsanLine     = regexp.MustCompile(`:\d+:\d+: runtime error: `)
)

// crashReport is what describeExit found in a worker's stderr.
type crashReport struct {
	lines []string // stderr, split

	start int // index of the first line of the crash report; len(lines) when none was found

	// The Go runtime's dump of a fatal signal.
	signal, signalDesc string
	signalLines        []string // the signal, PC and "signal arrived during cgo execution" lines
	inCgo              bool     // the signal arrived while C or C++ code ran
	sent               bool     // the signal was sent (kill, raise), not caused by a fault
	stackOverflow      bool     // a SIGSEGV/SIGBUS at the stack pointer: a native stack overflow

	goPanic, goFatal string   // "panic: ..." and "fatal error: ..." messages, without the prefix
	goLines          []string // their lines
	goroutine        []string // the crashing goroutine's header and top frames

	terminate   []string // "terminate called after throwing ..." and "  what():  ..."
	assertion   string
	libcMessage string

	sanitizer       string   // "AddressSanitizer: SEGV on unknown address ..."
	sanitizerLines  []string // its error, access and hint lines
	sanitizerFrames []string
	sanitizerSumm   string
	ubsan           []string
}

// describeExit says how a worker process ended and quotes what in its stderr explains it.
//
// waitErr is what exec.Cmd.Wait returned for the process; stderr is the content of its stderr file
// (read by the caller, outside any lock). The line that names the signal is the first of the Go
// runtime's dump, which lists every goroutine (about 1.5 KiB each; 20-25 KiB for a worker's ~15),
// so a caller that reads only the end of the file must read enough to reach it: the last MiB is
// ample. status reads after "worker ... (pid N) ", for example:
//
//	was killed by signal SIGKILL (killed)
//	exited with status 3
//	crashed with SIGSEGV (segmentation violation) in C/C++ code, and the Go runtime's crash handler then ended it with SIGQUIT
//	crashed with SIGSEGV (segmentation violation) in C/C++ code, and then exited with status 2
//	was killed by signal SIGABRT (aborted) after std::terminate: an uncaught 'std::logic_error'
//	exited with status 1 after AddressSanitizer: heap-buffer-overflow on address 0x602000001084 ...
//	exited with status 1 after AddressSanitizer caught SIGSEGV: SEGV on unknown address 0x000000000000 ...
//
// A fatal signal in a process that has the Go runtime loaded (every worker: libray_api.so) is
// caught by the runtime, which prints a dump of every goroutine and register and then ends the
// process itself, with SIGQUIT, SIGABRT or exit status 2; the signal named in status is the one in
// the dump ("SIGSEGV: segmentation violation"), not the one that ended the process.
//
// excerpt quotes the lines that explain the crash, at most 20 of at most about 300 bytes each:
// the runtime's signal, panic or fatal-error lines; the crashing goroutine's top frames (function
// names only); C++'s "terminate called after throwing ..." and "what():" lines; failed
// assertions; glibc's heap-corruption messages; a sanitizer's error, top frames and summary; then
// the last few lines the process wrote before the crash. It never quotes register dumps. When
// stderr holds none of these, excerpt is its last 20 lines, as before (with a note when they are
// the end of a Go dump whose beginning is missing); "(empty)" when there are none.
func describeExit(waitErr error, stderr []byte) (status string, excerpt string) {
	r := parseCrash(stderr)
	return r.status(waitErr), r.excerpt()
}

// parseCrash finds the parts of a crash report in stderr.
func parseCrash(stderr []byte) *crashReport {
	text := strings.TrimRight(string(bytes.ReplaceAll(stderr, []byte("\r\n"), []byte("\n"))), "\n")
	r := &crashReport{}
	if text != "" {
		r.lines = strings.Split(text, "\n")
	}
	r.start = len(r.lines)
	mark := func(i int) {
		if i < r.start {
			r.start = i
		}
	}
	lines := r.lines
	goStart := -1 // the first line of the Go runtime's report
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case r.signal == "" && r.goPanic == "" && r.goFatal == "" && goSignalLine.MatchString(line) && i+1 < len(lines) && goPCLine.MatchString(lines[i+1]):
			m := goSignalLine.FindStringSubmatch(line)
			r.signal, r.signalDesc = m[1], m[2]
			r.signalLines = []string{line, lines[i+1]}
			pc := goPCLine.FindStringSubmatch(lines[i+1])
			if code, err := strconv.ParseUint(pc[1], 10, 64); err == nil {
				// SI_USER (kill), SI_QUEUE (sigqueue), SI_TKILL (raise, tgkill): sent, not a fault.
				switch int32(int64(code)) {
				case 0, -1, -6:
					r.sent = true
				}
			}
			for j := i + 2; j < len(lines) && j <= i+4; j++ {
				if lines[j] == "signal arrived during cgo execution" {
					r.inCgo = true
					r.signalLines = append(r.signalLines, lines[j])
				}
			}
			if pc[2] != "" && (r.signal == "SIGSEGV" || r.signal == "SIGBUS") && !r.sent {
				r.stackOverflow = nearStackPointer(pc[2], lines[i+2:])
			}
			goStart = i
			mark(i)
		case r.goPanic == "" && r.goFatal == "" && r.signal == "" && strings.HasPrefix(line, "panic: ") && goReportFollows(lines, i):
			r.goPanic = strings.TrimPrefix(line, "panic: ")
			r.goLines = append(r.goLines, line)
			// "[recovered]", nested "\tpanic: ..." and "[signal SIGSEGV: ...]" lines belong to it.
			for j := i + 1; j < len(lines) && j <= i+4 && lines[j] != ""; j++ {
				if strings.HasPrefix(lines[j], "goroutine ") {
					break
				}
				r.goLines = append(r.goLines, strings.TrimLeft(lines[j], "\t"))
			}
			goStart = i
			mark(i)
		case r.goFatal == "" && r.goPanic == "" && r.signal == "" && strings.HasPrefix(line, "fatal error: ") && goReportFollows(lines, i):
			r.goFatal = strings.TrimPrefix(line, "fatal error: ")
			// "runtime: goroutine stack exceeds 1000000000-byte limit" and the like come first.
			first := i
			for first > 0 && i-first < 3 && strings.HasPrefix(lines[first-1], "runtime: ") {
				first--
			}
			for j := first; j < i; j++ {
				if !strings.HasPrefix(lines[j], "runtime: sp=") {
					r.goLines = append(r.goLines, lines[j])
				}
			}
			r.goLines = append(r.goLines, line)
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "[signal ") {
				r.goLines = append(r.goLines, lines[i+1])
			}
			goStart = i
			mark(first)
		case r.terminate == nil && strings.HasPrefix(line, "terminate called "):
			r.terminate = []string{line}
			if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "what():") {
				r.terminate = append(r.terminate, lines[i+1])
			}
			mark(i)
		case r.assertion == "" && assertionLine.MatchString(line):
			r.assertion = line
			mark(i)
		case r.libcMessage == "" && glibcLine.MatchString(line):
			r.libcMessage = line
			mark(i)
		case len(r.ubsan) < 2 && ubsanLine.MatchString(line):
			r.ubsan = append(r.ubsan, line)
			mark(i)
		case r.sanitizer == "" && sanitizerError.MatchString(line):
			r.parseSanitizer(i)
		case r.sanitizer != "" && r.sanitizerSumm == "" && strings.HasPrefix(line, "SUMMARY: ") && strings.Contains(line, "Sanitizer"):
			r.sanitizerSumm = line
		}
	}
	if goStart >= 0 {
		r.goroutine = crashingGoroutine(lines[goStart:])
	}
	return r
}

// goReportFollows reports whether the Go runtime's report of a panic or fatal error follows line
// i: a goroutine's or the runtime's stack within a few lines (user output that merely starts with
// "panic: " has none).
func goReportFollows(lines []string, i int) bool {
	for j := i + 1; j < len(lines) && j <= i+8; j++ {
		if strings.HasPrefix(lines[j], "goroutine ") || lines[j] == "runtime stack:" {
			return true
		}
	}
	return false
}

// nearStackPointer reports whether the fault address addr is within stackOverflowReach of the
// stack pointer of the first register dump in rest (the dump of the faulting thread's context): a
// fault there is a stack overflow, since the pages next to a thread's stack are its guard pages.
func nearStackPointer(addr string, rest []string) bool {
	a, err := strconv.ParseUint(strings.TrimPrefix(addr, "0x"), 16, 64)
	if err != nil {
		return false
	}
	for _, line := range rest {
		if m := stackPointerLine.FindStringSubmatch(line); m != nil {
			sp, err := strconv.ParseUint(m[1], 16, 64)
			if err != nil {
				return false
			}
			d := a - sp
			if sp > a {
				d = sp - a
			}
			return d <= stackOverflowReach
		}
		if line == "-----" { // the dumps of other threads follow
			return false
		}
	}
	return false
}

// crashingGoroutine returns the first goroutine of a Go runtime report (the one that crashed) as
// its header without addresses and its top frames' function names, leading runtime frames left
// out (runtime.cgocall says nothing the "signal arrived during cgo execution" line does not) and
// repeated frames counted once.
func crashingGoroutine(lines []string) []string {
	h := -1
	for i, line := range lines {
		if goroutineHeader.MatchString(line) {
			h = i
			break
		}
	}
	if h < 0 {
		return nil
	}
	m := goroutineHeader.FindStringSubmatch(lines[h])
	var names []string
	for i := h + 1; i+1 < len(lines) && lines[i] != "" && len(names) < 200; i++ {
		line := lines[i]
		if strings.HasPrefix(line, "\t") || !strings.HasPrefix(lines[i+1], "\t") {
			continue // a file:line line, or "...additional frames elided..."
		}
		if strings.HasPrefix(line, "created by ") {
			break
		}
		names = append(names, goFrameArgs.ReplaceAllString(line, ""))
	}
	for len(names) > 1 && strings.HasPrefix(names[0], "runtime.") {
		names = names[1:]
	}
	out := []string{fmt.Sprintf("goroutine %s %s, top frames:", m[1], m[2])}
	for i := 0; i < len(names) && len(out) <= excerptGoFrames; {
		j := i
		for j < len(names) && names[j] == names[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("  %s (%d frames)", names[i], j-i))
		} else {
			out = append(out, "  "+names[i])
		}
		i = j
	}
	return out
}

// parseSanitizer reads a sanitizer's report from its ERROR line at i: the error, the access and
// hint lines, and the first stack's top frames, up to the first frame of goray's or the standard
// library's plumbing.
func (r *crashReport) parseSanitizer(i int) {
	lines := r.lines
	line := sanitizerPrefix.ReplaceAllString(lines[i], "")
	r.sanitizer = strings.TrimPrefix(line, "ERROR: ")
	r.sanitizerLines = []string{line}
	start := i
	// The separator line and "AddressSanitizer:DEADLYSIGNAL" before it are part of the report.
	for start > 0 && i-start < 3 && (strings.Trim(lines[start-1], "=") == "" || strings.HasSuffix(lines[start-1], ":DEADLYSIGNAL")) {
		start--
	}
	if start < r.start {
		r.start = start
	}
	j := i + 1
	for ; j < len(lines) && j <= i+4; j++ {
		l := sanitizerPrefix.ReplaceAllString(lines[j], "")
		if strings.HasPrefix(l, "READ of size") || strings.HasPrefix(l, "WRITE of size") ||
			strings.HasPrefix(l, "The signal is caused by") || strings.HasPrefix(l, "Hint: ") {
			r.sanitizerLines = append(r.sanitizerLines, l)
			continue
		}
		break
	}
	done := false // the frames to quote are read: the rest of the stack is skipped
	for ; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
		m := sanitizerFrame.FindStringSubmatch(lines[j])
		if m == nil {
			break
		}
		if done || len(r.sanitizerFrames) > 0 && plumbing(m[2]) {
			done = true
			continue
		}
		r.sanitizerFrames = append(r.sanitizerFrames, "  #"+m[1]+" "+m[2])
		done = len(r.sanitizerFrames) >= excerptNativeFrames
	}
	// "0x602000001084 is located 4 bytes to the right of 16-byte region [...)".
	for ; j < len(lines) && j <= i+200; j++ {
		if strings.Contains(lines[j], " is located ") && strings.Contains(lines[j], "region") {
			r.sanitizerLines = append(r.sanitizerLines, lines[j])
			break
		}
		if strings.HasPrefix(lines[j], "SUMMARY: ") {
			break
		}
	}
}

// sanitizerSignals are the signals behind the errors a sanitizer reports for a fatal signal it
// caught ("AddressSanitizer: SEGV on unknown address ...").
var sanitizerSignals = map[string]string{
	"SEGV": "SIGSEGV", "BUS": "SIGBUS", "FPE": "SIGFPE", "ILL": "SIGILL", "ABRT": "SIGABRT",
	"TRAP": "SIGTRAP", "stack-overflow": "SIGSEGV",
}

// sanitizerCause names a sanitizer's error ("AddressSanitizer: SEGV on unknown address 0x0 ...")
// and, when it is a fatal signal the sanitizer caught, the signal: "AddressSanitizer caught
// SIGSEGV: SEGV on unknown address 0x0 ...".
func sanitizerCause(err string) string {
	tool, what, ok := strings.Cut(err, ": ")
	if !ok {
		return err
	}
	kind, _, _ := strings.Cut(what, " ")
	if sig, ok := sanitizerSignals[kind]; ok {
		return tool + " caught " + sig + ": " + what
	}
	return err
}

// plumbing reports whether a native frame belongs to goray's dispatch, the C++ standard library
// or the Go runtime rather than to the user's code.
func plumbing(frame string) bool {
	for _, p := range []string{"ray::internal::", "decltype(auto) ray::internal::", "std::", "void std::", "runtime.", "_cgo_", "goray_"} {
		if strings.HasPrefix(frame, p) {
			return true
		}
	}
	return strings.Contains(frame, " ray::internal::")
}

// status says how the process ended, naming the crash that made it end when stderr shows one.
func (r *crashReport) status(waitErr error) string {
	ended, sig := "exited with status 0", syscall.Signal(0)
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		ws, ok := exitErr.Sys().(syscall.WaitStatus)
		switch {
		case ok && ws.Signaled():
			sig = ws.Signal()
			ended = "was killed by signal " + signalName(sig) + " (" + sig.String() + ")"
			if ws.CoreDump() {
				ended += " (core dumped)"
			}
		case ok && ws.Exited():
			ended = fmt.Sprintf("exited with status %d", ws.ExitStatus())
		default:
			ended = exitErr.Error()
		}
	default:
		ended = fmt.Sprintf("ended, but waiting for it failed: %v", waitErr)
	}
	if r.signal != "" {
		crash := r.signal + " (" + r.signalDesc + ")"
		if r.inCgo {
			crash += " in C/C++ code"
		}
		if r.stackOverflow {
			crash += ", probably a stack overflow (the fault address is next to the stack pointer)"
		}
		if r.sent {
			crash += ", sent by kill or raise rather than caused by a fault"
		}
		switch {
		case sig != 0 && signalName(sig) == r.signal:
			return "was killed by signal " + crash
		case sig != 0:
			return "crashed with " + crash + ", and the Go runtime's crash handler then ended it with " + signalName(sig)
		default:
			return "crashed with " + crash + ", and then " + ended
		}
	}
	var cause string
	switch {
	case r.goPanic != "":
		cause = "a Go panic: " + r.goPanic
	case r.goFatal != "":
		cause = "a Go fatal error: " + r.goFatal
	case r.sanitizer != "":
		cause = sanitizerCause(r.sanitizer)
	case r.terminate != nil:
		cause = "std::terminate"
		if t := strings.TrimPrefix(r.terminate[0], "terminate called after throwing an instance of "); t != r.terminate[0] {
			cause += ": an uncaught " + t
		}
	case r.assertion != "":
		cause = "a failed assertion"
	case r.libcMessage != "":
		cause = "the C library found heap or stack corruption: " + r.libcMessage
	case len(r.ubsan) > 0:
		cause = "UndefinedBehaviorSanitizer: runtime error"
	default:
		return ended
	}
	return ended + " after " + truncateLine(cause)
}

// excerpt quotes the crash's lines, then the last lines of output before it (excerpt's rules are
// describeExit's).
func (r *crashReport) excerpt() string {
	if len(r.lines) == 0 {
		return "(empty)"
	}
	var out []string
	add := func(lines ...string) {
		for _, l := range lines {
			if len(out) < excerptMaxLines-1 { // keep room for ordinary output's heading at least
				out = append(out, truncateLine(l))
			}
		}
	}
	add(r.signalLines...)
	add(r.goLines...)
	add(r.terminate...)
	if r.assertion != "" {
		add(r.assertion)
	}
	if r.libcMessage != "" {
		add(r.libcMessage)
	}
	add(r.ubsan...)
	add(r.sanitizerLines...)
	add(r.sanitizerFrames...)
	if r.sanitizerSumm != "" {
		add(r.sanitizerSumm)
	}
	add(r.goroutine...)
	if len(out) == 0 {
		// Nothing recognisable: the last lines, as they are (but never a register dump). When they
		// are the end of a Go crash dump whose start was not read, say so.
		var last []string
		n := excerptMaxLines
		if r.cutDump() {
			n--
		}
		for i := len(r.lines) - 1; i >= 0 && len(last) < n; i-- {
			if !registerLine.MatchString(r.lines[i]) {
				last = append(last, truncateLine(r.lines[i]))
			}
		}
		for i, j := 0, len(last)-1; i < j; i, j = i+1, j-1 {
			last[i], last[j] = last[j], last[i]
		}
		if n < excerptMaxLines {
			last = append([]string{"(the end of a Go runtime crash dump whose beginning, naming the signal, was not read)"}, last...)
		}
		return strings.Join(last, "\n")
	}
	var before []string
	for i := r.start - 1; i >= 0 && len(before) < excerptOrdinary; i-- {
		l := r.lines[i]
		if strings.TrimSpace(l) == "" || registerLine.MatchString(l) || strings.Trim(l, "=") == "" || strings.HasSuffix(l, ":DEADLYSIGNAL") {
			continue
		}
		before = append(before, truncateLine(l))
	}
	if n := excerptMaxLines - len(out) - 1; len(before) > n {
		before = before[:n]
	}
	if len(before) > 0 {
		out = append(out, "last output before the crash:")
		for i := len(before) - 1; i >= 0; i-- {
			out = append(out, before[i])
		}
	}
	return strings.Join(out, "\n")
}

// cutDump reports whether stderr holds goroutine tracebacks or the runtime's thread separator
// but no signal, panic or fatal-error line: the end of a Go crash dump read without its start.
func (r *crashReport) cutDump() bool {
	for _, l := range r.lines {
		if l == "-----" || goroutineHeader.MatchString(l) {
			return true
		}
	}
	return false
}

// truncateLine cuts a line at excerptMaxLineBytes (at a character boundary) and marks the cut.
func truncateLine(s string) string {
	if len(s) <= excerptMaxLineBytes {
		return s
	}
	cut := excerptMaxLineBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// signalName names a signal ("SIGSEGV"), or numbers it when it has no name.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
