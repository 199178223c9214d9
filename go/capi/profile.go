package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"

	"github.com/golang/glog"
)

// With GORAY_PPROF_DIR set, every goray process (driver and workers) writes a Go CPU profile,
// <dir>/cpu-<pid>.prof, from ray_init (or ray_worker_run) until shutdown (or exit).
var profiling struct {
	sync.Mutex
	file *os.File
}

func startProfile() {
	dir := os.Getenv("GORAY_PPROF_DIR")
	if dir == "" {
		return
	}
	profiling.Lock()
	defer profiling.Unlock()
	if profiling.file != nil {
		return
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.prof", os.Getpid())))
	if err != nil {
		glog.Warningf("GORAY_PPROF_DIR: %v", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		glog.Warningf("GORAY_PPROF_DIR: %v", err)
		f.Close()
		return
	}
	profiling.file = f
}

func stopProfile() {
	profiling.Lock()
	defer profiling.Unlock()
	if profiling.file == nil {
		return
	}
	pprof.StopCPUProfile()
	profiling.file.Close()
	profiling.file = nil
}
