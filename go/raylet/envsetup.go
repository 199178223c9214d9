package raylet

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang/glog"

	clusterclient "goray/cluster"
	"goray/runtimeenv"
)

// A runtime environment with a working_dir is set up on the node before a worker of it starts:
// its package is fetched from the cluster's code store into <session>/runtime_resources/packages
// and unpacked into <session>/runtime_resources/working_dir_files/_ray_pkg_<hash> (as Ray lays
// them out), once per package; the worker runs in that directory, with it on its library path.
// An environment that cannot be set up fails the work that waits for it (RuntimeEnvSetupError).

// envSetupTimeout bounds fetching and unpacking one package.
const envSetupTimeout = 10 * time.Minute

// envSetups is the Raylet's record of the packages it set up (by hash): their directories.
type envSetups struct {
	envDirs onceMap[string]
}

// workingDir is the directory a worker of runtime environment env runs in ("" when env has no
// working_dir), set up on first use. Called without r.mu.
func (r *Raylet) workingDir(env *runtimeenv.Env) (string, error) {
	if env == nil || env.WorkingDir == "" {
		return "", nil
	}
	sum, ok := runtimeenv.PackageSum(env.WorkingDir)
	if !ok {
		return "", fmt.Errorf("working_dir %q is not a package of the cluster's code store (a driver ships its job's working_dir as one)", env.WorkingDir)
	}
	if r.cfg.ControlStore == nil {
		return "", fmt.Errorf("working_dir %s: this node has no code store to fetch it from", env.WorkingDir)
	}
	return r.envDirs.do(context.Background(), sum, func() (string, error) { return r.setUpPackage(sum) })
}

// setUpPackage fetches and unpacks the package sum.
func (r *Raylet) setUpPackage(sum string) (string, error) {
	ctx, cancel := context.WithTimeout(r.ctx, envSetupTimeout) // (a stopping node stops it)
	defer cancel()
	root := filepath.Join(r.cfg.SessionDir, "runtime_resources")
	zipPath := filepath.Join(root, "packages", sum+".zip")
	if err := clusterclient.FetchCode(ctx, r.cfg.ControlStore, sum, zipPath); err != nil {
		return "", fmt.Errorf("fetching working_dir package %s: %w", runtimeenv.PackageURI(sum), err)
	}
	dir := filepath.Join(root, "working_dir_files", "_ray_pkg_"+sum)
	if err := runtimeenv.Unpack(zipPath, dir); err != nil {
		return "", fmt.Errorf("unpacking working_dir package %s: %w", runtimeenv.PackageURI(sum), err)
	}
	glog.Infof("working_dir %s set up in %s", runtimeenv.PackageURI(sum), dir)
	return dir, nil
}

// withLibraryPath is environment env (NAME=value entries) with dir first on LD_LIBRARY_PATH.
func withLibraryPath(env []string, dir string) []string {
	const name = "LD_LIBRARY_PATH="
	value := dir
	for i := len(env) - 1; i >= 0; i-- {
		if strings.HasPrefix(env[i], name) {
			if old := env[i][len(name):]; old != "" {
				value = dir + ":" + old
			}
			break
		}
	}
	return append(env, name+value)
}

// envSetupFailed fails the work waiting for a process of job variant j (for actor a, or for its
// pool: its ready tasks) whose runtime environment could not be set up. Unlike a process that
// could not start, this is no reason to pause other starts. Called with r.mu held.
func (s *state) envSetupFailed(j *job, a *actor, err error) {
	msg := fmt.Sprintf("RuntimeEnvSetupError: Failed to set up the runtime environment %s on this node: %v", j.envText, err)
	glog.Errorf("%s", msg)
	if a == nil {
		s.starting--
		j.starting--
		for _, c := range s.ready.order {
			if c.job == j && len(c.tasks) > 0 {
				s.failClass(c, msg)
			}
		}
	} else {
		s.starts.actorSpawning--
		a.noRestart = true
		s.actorDied(a, msg, false)
	}
	s.schedule()
}
