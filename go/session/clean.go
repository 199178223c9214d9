package session

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang/glog"

	"goray/ownerlock"
)

// DefaultKeepLogs is how many dead sessions keep their logs when a node starts: the logs of the
// ten newest dead sessions stay, older dead sessions are removed entirely.
const DefaultKeepLogs = 10

// nameLayout is the date and time in a session directory's name.
const nameLayout = "2006-01-02_15-04-05"

// CleanDead removes what the dead goray sessions under root left behind. A goray session is a
// session_* directory of this user with a LockFile; it is dead when no process holds that lock
// (the node that owned it has ended, however it ended). Of each dead session, everything but its
// logs (and its lock file) goes: spilled objects, sockets, the object store file; the newest
// keepLogs of them keep their logs, older ones are removed entirely. Live sessions, other users'
// sessions, directories without a lock file (Ray's own sessions among them) and session_latest
// are left alone. Failures are logged: cleaning is best effort.
func CleanDead(root string, keepLogs int) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			glog.Warningf("cleaning dead sessions: %v", err)
		}
		return
	}
	type dead struct {
		path    string
		created time.Time
		release func()
	}
	var deads []dead
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "session_") || e.Name() == "session_latest" {
			continue
		}
		path := filepath.Join(root, e.Name())
		st, err := os.Lstat(path)
		if err != nil || !st.IsDir() || !Mine(st) {
			continue
		}
		release, held, err := ownerlock.Acquire(filepath.Join(path, LockFile))
		if err != nil || held {
			if err != nil && !errors.Is(err, ownerlock.ErrNoLockFile) {
				glog.Warningf("cleaning dead sessions: %v", err)
			}
			continue // alive, or not a goray session
		}
		created := st.ModTime()
		if _, t, ok := parseName(e.Name()); ok {
			created = t
		}
		deads = append(deads, dead{path: path, created: created, release: release})
	}
	sort.Slice(deads, func(i, j int) bool {
		if !deads[i].created.Equal(deads[j].created) {
			return deads[i].created.After(deads[j].created)
		}
		return deads[i].path > deads[j].path
	})
	for i, d := range deads {
		if i >= keepLogs {
			if err := os.RemoveAll(d.path); err != nil {
				glog.Warningf("removing the dead session %s: %v", d.path, err)
			} else {
				glog.Infof("removed the dead session %s (only the newest %d dead sessions keep their logs)", d.path, keepLogs)
			}
		} else {
			removeAllButLogs(d.path)
		}
		d.release()
	}
}

// removeAllButLogs empties the session directory dir but for its logs and its lock file.
func removeAllButLogs(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		glog.Warningf("cleaning the dead session %s: %v", dir, err)
		return
	}
	var removed []string
	for _, e := range entries {
		if e.Name() == "logs" || e.Name() == LockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			glog.Warningf("cleaning the dead session %s: %v", dir, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	if len(removed) > 0 {
		glog.Infof("removed what the dead session %s left: %s", dir, strings.Join(removed, ", "))
	}
}

// parseName reads the owner's pid and the creation time of a session directory's base name.
func parseName(name string) (pid int, created time.Time, ok bool) {
	if !strings.HasPrefix(name, "session_") {
		return 0, time.Time{}, false
	}
	parts := strings.Split(strings.TrimPrefix(name, "session_"), "_")
	if len(parts) != 4 {
		return 0, time.Time{}, false
	}
	t, err := time.ParseInLocation(nameLayout, parts[0]+"_"+parts[1], time.Local)
	if err != nil {
		return 0, time.Time{}, false
	}
	micros, err := strconv.Atoi(parts[2])
	if err != nil || micros < 0 || micros >= 1e6 {
		return 0, time.Time{}, false
	}
	pid, err = strconv.Atoi(parts[3])
	if err != nil || pid <= 0 {
		return 0, time.Time{}, false
	}
	return pid, t.Add(time.Duration(micros) * time.Microsecond), true
}
