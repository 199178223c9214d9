package core

import (
	"runtime"
	"testing"
)

func TestWorkerGoThreads(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "")
	workerGoThreads(1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("one-at-a-time worker: %d Go threads", got)
	}
	workerGoThreads(1 << 20)
	if got := runtime.GOMAXPROCS(0); got != runtime.NumCPU() {
		t.Fatalf("concurrent actor: %d Go threads, want the CPUs (%d)", got, runtime.NumCPU())
	}
	workerGoThreads(0)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("concurrency 0: %d Go threads", got)
	}
	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3)
	workerGoThreads(1)
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Fatalf("GOMAXPROCS in the environment was overridden: %d", got)
	}
}
