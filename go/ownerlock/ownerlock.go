// Package ownerlock tells whether the process that owns a file is still alive: the owner holds an
// exclusive flock(2) on the file for as long as it lives, and the kernel drops the lock when the
// owner exits, however it exits (SIGKILL included; a zombie holds nothing). Unlike a pid check it
// is not fooled by zombies, reused pids, pid namespaces or clock steps.
package ownerlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Lock takes the exclusive lock on f, an open file, for as long as it stays open.
func Lock(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return nil
}

// ErrHeld is returned by Create when a live owner holds the lock on path already.
var ErrHeld = errors.New("held by a live owner")

// Create makes the file path and returns it open and locked: close it to release the lock. The
// file appears only once locked (it is locked under a temporary name, then renamed), so nobody
// ever sees it free while its owner lives. A lock file a live owner holds is never replaced
// (ErrHeld); one its owner left is.
func Create(path string) (*os.File, error) {
	release, held, err := Acquire(path)
	switch {
	case held:
		return nil, fmt.Errorf("owner lock %s: %w", path, ErrHeld)
	case release != nil:
		release()
	case err != nil && !errors.Is(err, ErrNoLockFile):
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid())+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("owner lock: %w", err)
	}
	if err := Lock(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("owner lock: %w", err)
	}
	return f, nil
}

// ErrNoLockFile is returned by Acquire when the file does not exist.
var ErrNoLockFile = errors.New("no lock file")

// Acquire takes the lock on path when nobody holds it (its owner is gone) and returns the function
// that releases it; held is true, with a nil release, when a live owner holds it. A missing file
// gives ErrNoLockFile.
func Acquire(path string) (release func(), held bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, ErrNoLockFile
		}
		return nil, false, fmt.Errorf("owner lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("owner lock %s: %w", path, err)
	}
	return func() { f.Close() }, false, nil
}
