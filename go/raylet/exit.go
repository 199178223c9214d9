package raylet

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// How a worker process ended, read outside the node's lock (see describeExit in crash.go), and
// what it left in the logs directory: kept for the last maxDeadWorkerLogs dead workers that wrote
// something, removed at once for those that wrote nothing.

// maxDeadWorkerLogs is how many dead workers' log files a node keeps (those with output; empty
// ones are removed at once). A variable for tests.
var maxDeadWorkerLogs = 100

// logFiles are the log files of a dead worker: its stdout and stderr, and, when pid is not 0, the
// files its logger wrote (<program>.<host>.<user>.log.<LEVEL>.<time>.<pid>, beside them).
type logFiles struct {
	out, err string
	pid      int
}

// keepWorkerLogs records the log files of a dead worker and returns those to remove now: its own
// when it wrote nothing, else the oldest beyond maxDeadWorkerLogs. Called with r.mu held.
func (s *state) keepWorkerLogs(w *worker, end exit) []logFiles {
	files := logFiles{out: w.stdoutPath, err: w.stderrPath, pid: w.pid}
	if end.emptyLogs {
		return []logFiles{files}
	}
	s.deadLogs = append(s.deadLogs, files)
	var prune []logFiles
	for len(s.deadLogs) > maxDeadWorkerLogs {
		old := s.deadLogs[0]
		s.deadLogs = s.deadLogs[1:]
		for _, live := range s.workers {
			if live.pid == old.pid {
				old.pid = 0 // the pid is a live worker's now: its logger's files are not these
			}
		}
		prune = append(prune, old)
	}
	return prune
}

// removeWorkerLogs deletes log files of dead workers. Called without r.mu.
func removeWorkerLogs(prune []logFiles) {
	for _, f := range prune {
		_ = os.Remove(f.out)
		_ = os.Remove(f.err)
		for _, p := range loggerFiles(f.err, f.pid) {
			_ = os.Remove(p)
		}
	}
}

// loggerFiles lists the files the logger of process pid wrote beside the worker log file
// beside (none when pid is 0).
func loggerFiles(beside string, pid int) []string {
	if pid <= 0 {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(beside), "*.log.*."+strconv.Itoa(pid)))
	return paths
}

// exit is how a worker process ended, read outside the node's lock.
type exit struct {
	status    string // "exit status 3", "was killed by signal SIGSEGV ..."
	excerpt   string // the lines of its stderr that matter
	emptyLogs bool   // it wrote nothing: stdout and stderr empty, no logger files
}

// stderrReadLimit is how much of the end of a dead worker's stderr is read.
const stderrReadLimit = 1 << 20

// exitOf reads how w ended: waitErr is what its Wait returned. Reads files: call without r.mu.
func exitOf(w *worker, waitErr error) exit {
	stderr, errErr := readEnd(w.stderrPath, stderrReadLimit)
	end := exit{}
	end.status, end.excerpt = describeExit(waitErr, stderr)
	if errErr != nil {
		end.excerpt = fmt.Sprintf("(cannot read %s: %v)", w.stderrPath, errErr)
	}
	if st, err := os.Stat(w.stdoutPath); err == nil && st.Size() == 0 && errErr == nil && len(stderr) == 0 &&
		len(loggerFiles(w.stderrPath, w.pid)) == 0 {
		end.emptyLogs = true
	}
	return end
}

// readEnd returns at most limit bytes from the end of a file.
func readEnd(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := st.Size() - limit
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(buf, off) // a file cut short meanwhile gives what was there
	return buf[:n], nil
}
