package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"sync"

	"github.com/golang/glog"
)

// With GORAY_PPROF_DIR set, every goray process (driver and workers) writes a Go CPU profile,
// <dir>/cpu-<pid>.prof, and with GORAY_TRACE_DIR a Go execution trace, <dir>/trace-<pid>.out
// (go tool trace), from ray_init (or ray_worker_run) until shutdown (or exit).
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

func startProfile() {
	profiling.Lock()
	defer profiling.Unlock()
	if profiling.cpu == nil {
		if f := openProfileFile("GORAY_PPROF_DIR", "cpu", "prof"); f != nil {
			if err := pprof.StartCPUProfile(f); err != nil {
				glog.Warningf("GORAY_PPROF_DIR: %v", err)
				f.Close()
			} else {
				profiling.cpu = f
			}
		}
	}
	if profiling.trace == nil {
		if f := openProfileFile("GORAY_TRACE_DIR", "trace", "out"); f != nil {
			if err := trace.Start(f); err != nil {
				glog.Warningf("GORAY_TRACE_DIR: %v", err)
				f.Close()
			} else {
				profiling.trace = f
			}
		}
	}
}

func stopProfile() {
	profiling.Lock()
	defer profiling.Unlock()
	if profiling.cpu != nil {
		pprof.StopCPUProfile()
		profiling.cpu.Close()
		profiling.cpu = nil
	}
	if profiling.trace != nil {
		trace.Stop()
		profiling.trace.Close()
		profiling.trace = nil
	}
}
