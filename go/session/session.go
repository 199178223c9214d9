// Package session lays out a session directory like Ray's:
// <root>/session_<date>_<time>_<micros>_<pid>/{logs,sockets}, with <root>/session_latest pointing
// at the newest one, and points glog at its logs.
package session

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"goray/ownerlock"
)

// DefaultRoot is where sessions go when neither RAY_TMPDIR nor a --temp-dir says otherwise.
const DefaultRoot = "/tmp/ray"

// maxSocketPath is the longest unix socket path Linux accepts (sun_path less its NUL).
const maxSocketPath = 107

// LockFile is the file in a session directory that the session's owner holds locked while it
// lives (see go/ownerlock): a session whose lock nobody holds is dead.
const LockFile = "goray.lock"

// Session is one run of a node: its directory, logs and sockets.
type Session struct {
	Dir        string
	LogsDir    string
	SocketsDir string
	lock       *os.File
}

// Close ends the session: its lock is released, so that later nodes may clean what it left.
func (s *Session) Close() {
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

// Root returns the directory sessions are created in: tempDir if set, else $RAY_TMPDIR, else
// /tmp/ray.
func Root(tempDir string) string {
	if tempDir != "" {
		return tempDir
	}
	if env := os.Getenv("RAY_TMPDIR"); env != "" {
		return env
	}
	return DefaultRoot
}

// Create makes a new session under root (dir, when non-empty, is used as the session directory
// itself; logsDir, when non-empty, replaces <dir>/logs) and updates session_latest. The session
// directory, its logs directory and its sockets directory are made mode 0700 whatever the umask,
// existing ones included (their parents are left alone).
func Create(root, dir, logsDir string) (*Session, error) {
	if dir == "" {
		now := time.Now()
		dir = filepath.Join(root, DirName(now, os.Getpid()))
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("session directory: %w", err)
	}
	if logsDir == "" {
		logsDir = filepath.Join(dir, "logs")
	}
	if root == DefaultRoot {
		// Shared by every user of the machine, like /tmp itself.
		if err := os.MkdirAll(root, 0o755); err == nil {
			if st, err := os.Stat(root); err == nil && st.Mode().Perm() != 0o777 && os.Getuid() == int(statUID(st)) {
				_ = os.Chmod(root, 0o777|os.ModeSticky)
			}
		}
	}
	s := &Session{Dir: dir, LogsDir: logsDir, SocketsDir: filepath.Join(dir, "sockets")}
	for _, d := range []string{s.Dir, s.LogsDir, s.SocketsDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating session directory: %w", err)
		}
		// The user's alone whatever the umask (and whatever an existing directory had): its
		// sockets, logs and spilled objects are no other user's business. A directory shared
		// like /tmp (sticky) is refused rather than closed to everyone else.
		if st, err := os.Stat(d); err == nil && st.Mode()&os.ModeSticky != 0 {
			return nil, fmt.Errorf("session directory %s is a shared directory (sticky, like /tmp): give the session a directory of its own", d)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("making session directory %s private: %w", d, err)
		}
	}
	if len(s.Socket("raylet")) > maxSocketPath {
		return nil, fmt.Errorf("session directory %s is too long for unix socket paths (at most %d bytes); set RAY_TMPDIR to a shorter directory", s.Dir, maxSocketPath-20)
	}
	lock, err := ownerlock.Create(filepath.Join(s.Dir, LockFile))
	if errors.Is(err, ownerlock.ErrHeld) {
		return nil, fmt.Errorf("session directory %s belongs to a node that is running", s.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("session directory %s: %w", s.Dir, err)
	}
	s.lock = lock
	latest := filepath.Join(filepath.Dir(s.Dir), "session_latest")
	tmp := fmt.Sprintf("%s.%d.tmp", latest, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(s.Dir, tmp); err == nil {
		if err := os.Rename(tmp, latest); err != nil {
			_ = os.Remove(tmp)
		}
	}
	return s, nil
}

// DirName is the name of the directory of a session of process pid created at t, as Ray names
// them: session_<date>_<time>_<microseconds>_<pid>.
func DirName(t time.Time, pid int) string {
	return fmt.Sprintf("session_%s_%06d_%d", t.Format(nameLayout), t.Nanosecond()/1000, pid)
}

// Socket is the path of the named unix socket of the session.
func (s *Session) Socket(name string) string {
	return filepath.Join(s.SocketsDir, name)
}

// SetupLogging sends glog's files to dir. It only takes effect for a process's first log line,
// as glog opens its files once.
func SetupLogging(dir string) {
	if dir == "" {
		return
	}
	_ = flag.Set("log_dir", dir)
	_ = flag.Set("logtostderr", "false")
}

// Mine reports whether this process's user owns the file st describes.
func Mine(st os.FileInfo) bool { return statUID(st) == int64(os.Geteuid()) }

// statUID is the owner of a file, or -1 where the platform does not say.
func statUID(st os.FileInfo) int64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int64(sys.Uid)
	}
	return -1
}
