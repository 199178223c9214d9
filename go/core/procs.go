package core

import (
	"os"
	"runtime"
)

// Worker processes run their Go side on one thread unless told otherwise.
//
// A worker's Go code only moves messages and calls into C++; user code runs on OS threads of its
// own in cgo calls and needs no Go thread while it computes. With two or more Go threads, every
// message that readies a goroutine also wakes an idle thread (a futex wake, 10-30 us on these
// VMs), which is most of a sync task's latency: one thread makes tasks_sync and actor_sync about
// 15-30% faster. Actors with max_concurrency > 1 get as many Go threads as they run calls at once
// (up to the CPUs). GOMAXPROCS in the environment overrides both.

// workerGoThreads sets the Go threads of a worker process that runs up to `concurrent` calls at
// once.
func workerGoThreads(concurrent int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	n := concurrent
	if n > runtime.NumCPU() {
		n = runtime.NumCPU()
	}
	if n < 1 {
		n = 1
	}
	runtime.GOMAXPROCS(n)
}
