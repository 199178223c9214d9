package ownerlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The test binary doubles as an owner process: it takes the lock and waits to be killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("OWNERLOCK_HOLD"); path != "" {
		if _, err := Create(path); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	os.Exit(m.Run())
}

func TestHeldWhileTheOwnerLivesFreeOnceItDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if _, _, err := Acquire(path); !errors.Is(err, ErrNoLockFile) {
		t.Fatalf("a missing file: %v", err)
	}
	owner := exec.Command(os.Args[0])
	owner.Env = append(os.Environ(), "OWNERLOCK_HOLD="+path)
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = owner.Process.Kill()
		_ = owner.Wait()
	})
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("owner: %q %v", buf, err)
	}
	if release, held, err := Acquire(path); err != nil || !held || release != nil {
		t.Fatalf("with a live owner: held %v, %v", held, err)
	}
	// Killed, not yet reaped (a zombie): the kernel has dropped the lock already.
	if err := owner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var release func()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		var held bool
		release, held, err = Acquire(path)
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock is still held after the owner was killed")
		}
	}
	// Whoever took it holds it: another acquirer sees it held.
	if _, held, _ := Acquire(path); !held {
		t.Fatal("a lock taken by Acquire is not held")
	}
	release()
	if r, held, err := Acquire(path); err != nil || held {
		t.Fatalf("after release: held %v, %v", held, err)
	} else {
		r()
	}
}

func TestOwnLockIsHeldForOthersInTheSameProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, held, err := Acquire(path); err != nil || !held {
		t.Fatalf("held %v, %v", held, err)
	}
	f.Close()
	r, held, err := Acquire(path)
	if err != nil || held {
		t.Fatalf("after close: held %v, %v", held, err)
	}
	r()
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}
