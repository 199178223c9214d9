package session

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golang/glog"
)

// DefaultKeepLogs is how many dead sessions keep their logs when a node starts: the logs of the
// ten newest dead sessions stay, older dead sessions are removed entirely.
const DefaultKeepLogs = 10

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// startSlack is how much later than its session's creation a process may seem to have started and
// still be taken for the session's owner: /proc/stat's boot time is rounded to the second and
// moves with clock adjustments.
const startSlack = 10 * time.Second

// nameLayout is the date and time in a session directory's name.
const nameLayout = "2006-01-02_15-04-05"

// CleanDead removes what the dead sessions under root left behind: for every session directory
// of this user whose owner process is gone (see OwnerDead), everything but its logs directory
// (spilled objects, sockets, the object store file); and the newest keepLogs of them keep their
// logs, older ones are removed entirely. Live sessions, other users' sessions, this process's
// and session_latest are left alone. Failures are logged: cleaning is best effort.
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
		modTime time.Time
	}
	var deads []dead
	uid := int64(os.Geteuid())
	for _, e := range entries {
		pid, created, ok := parseName(e.Name())
		if !ok || pid == os.Getpid() {
			continue
		}
		path := filepath.Join(root, e.Name())
		st, err := os.Lstat(path)
		if err != nil || !st.IsDir() || statUID(st) != uid {
			continue
		}
		if ownerAlive(pid, later(created, st.ModTime())) {
			continue
		}
		deads = append(deads, dead{path: path, created: created, modTime: st.ModTime()})
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
			continue
		}
		removeAllButLogs(d.path, d.modTime)
	}
}

// removeAllButLogs empties the session directory dir but for its logs. The directory keeps its
// modification time, which OwnerDead reads as the latest its owner may have started.
func removeAllButLogs(dir string, modTime time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		glog.Warningf("cleaning the dead session %s: %v", dir, err)
		return
	}
	var removed []string
	for _, e := range entries {
		if e.Name() == "logs" {
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
		_ = os.Chtimes(dir, time.Now(), modTime)
	}
}

// OwnerDead reports whether the process that owns the session named name (a session directory's
// base name, session_<date>_<time>_<micros>_<pid>) is gone: no such process, a zombie, or a
// process that started after the session was created (the pid was reused). modTime is when the
// session (or a file of it) was last modified: the later of it and the time in the name is taken
// for the session's creation, so that a clock or time zone that differs from the creator's errs
// on the side of life. Names of another form are never dead.
func OwnerDead(name string, modTime time.Time) bool {
	pid, created, ok := parseName(name)
	if !ok {
		return false
	}
	return !ownerAlive(pid, later(created, modTime))
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

// ownerAlive reports whether pid is a running (not zombie) process that started no later than
// created (give or take startSlack). When it cannot tell, it says alive.
func ownerAlive(pid int, created time.Time) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			// No /proc: only signal 0 can tell, and it takes zombies for live processes.
			return syscall.Kill(pid, 0) != syscall.ESRCH
		}
		return !errors.Is(err, fs.ErrNotExist)
	}
	state, startTicks, err := parseStat(raw)
	if err != nil {
		glog.Warningf("process %d: %v", pid, err)
		return true
	}
	if state == 'Z' || state == 'X' || state == 'x' {
		return false
	}
	boot, err := bootTime()
	if err != nil {
		glog.Warningf("process %d: %v", pid, err)
		return true
	}
	started := boot.Add(time.Duration(startTicks/clockTicks)*time.Second +
		time.Duration(startTicks%clockTicks)*(time.Second/clockTicks))
	return !started.After(created.Add(startSlack))
}

// parseStat reads the state (field 3) and start time (field 22, in clock ticks since boot) of
// the contents of a /proc/<pid>/stat file. The command name (field 2, in parentheses) may hold
// spaces and parentheses itself, so the fields after it are found from its last ')'.
func parseStat(raw []byte) (state byte, startTicks uint64, err error) {
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 || bytes.IndexByte(raw, '(') < 0 {
		return 0, 0, fmt.Errorf("malformed /proc stat %q: no command name", raw)
	}
	fields := strings.Fields(string(raw[end+1:]))
	// fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, fmt.Errorf("malformed /proc stat %q: too few fields", raw)
	}
	startTicks, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("malformed /proc stat start time: %w", err)
	}
	return fields[0][0], startTicks, nil
}

// bootTime is when the machine booted, from /proc/stat's btime line.
func bootTime() (time.Time, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, fmt.Errorf("boot time: %w", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest := strings.TrimPrefix(line, "btime "); rest != line {
			secs, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("boot time: %w", err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	return time.Time{}, errors.New("boot time: no btime line in /proc/stat")
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
