// Package profiling turns on, from the environment, the Go profiles of any goray process (driver,
// worker or node daemon): a CPU profile, an execution trace, and goroutine dumps on SIGUSR1.
package profiling

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"syscall"

	"github.com/golang/glog"
)

// With GORAY_PPROF_DIR set, every goray process (driver and workers) writes a Go CPU profile,
// <dir>/cpu-<pid>.prof, and what it allocated, <dir>/allocs-<pid>.prof, and with GORAY_TRACE_DIR a Go execution trace, <dir>/trace-<pid>.out
// (go tool trace), from Start (ray_init, ray_worker_run, a node's start) until Stop.
var profiling struct {
	sync.Mutex
	cpu, trace *os.File
}

// openProfileFile creates <$env>/<prefix>-<pid>.<ext>, or returns nil when env is unset.
func openProfileFile(env, prefix, ext string) *os.File {
	dir := os.Getenv(env)
	if dir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.%s", prefix, os.Getpid(), ext)))
	if err != nil {
		glog.Warningf("%s: %v", env, err)
		return nil
	}
	return f
}

// Start begins the profiles the environment asks for (GORAY_PPROF_DIR, GORAY_TRACE_DIR) and the
// stack dumps (GORAY_STACKS_DIR). Calling it again while they run does nothing.
func Start() {
	watchStackSignal()
	profiling.Lock()
	defer profiling.Unlock()
	start := func(f **os.File, env, prefix, ext string, begin func(*os.File) error) {
		if *f != nil {
			return
		}
		out := openProfileFile(env, prefix, ext)
		if out == nil {
			return
		}
		if err := begin(out); err != nil {
			glog.Warningf("%s: %v", env, err)
			out.Close()
			return
		}
		*f = out
	}
	start(&profiling.cpu, "GORAY_PPROF_DIR", "cpu", "prof", func(f *os.File) error { return pprof.StartCPUProfile(f) })
	start(&profiling.trace, "GORAY_TRACE_DIR", "trace", "out", func(f *os.File) error { return trace.Start(f) })
}

// Stop ends and writes the profiles Start began.
func Stop() {
	profiling.Lock()
	defer profiling.Unlock()
	if profiling.cpu != nil {
		pprof.StopCPUProfile()
		profiling.cpu.Close()
		profiling.cpu = nil
		// Beside it, what the process allocated (go tool pprof -sample_index=alloc_space).
		if f := openProfileFile("GORAY_PPROF_DIR", "allocs", "prof"); f != nil {
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				glog.Warningf("GORAY_PPROF_DIR: %v", err)
			}
			f.Close()
		}
	}
	if profiling.trace != nil {
		trace.Stop()
		profiling.trace.Close()
		profiling.trace = nil
	}
}

// With GORAY_STACKS_DIR set, a goray process writes the stacks of all its goroutines to
// <dir>/stacks-<pid>-<n>.txt each time it gets SIGUSR1 (for a process that seems stuck).
var stacksOnce sync.Once

func watchStackSignal() {
	dir := os.Getenv("GORAY_STACKS_DIR")
	if dir == "" {
		return
	}
	stacksOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		go func() {
			for n := 1; ; n++ {
				<-ch
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("stacks-%d-%d.txt", os.Getpid(), n)))
				if err != nil {
					glog.Warningf("GORAY_STACKS_DIR: %v", err)
					continue
				}
				_ = pprof.Lookup("goroutine").WriteTo(f, 2)
				f.Close()
			}
		}()
	})
}
