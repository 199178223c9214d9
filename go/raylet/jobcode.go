package raylet

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/golang/glog"
	"google.golang.org/protobuf/proto"

	clusterclient "goray/cluster"
	pb "goray/rpc/proto"
)

// A job that another node forwards work of runs here from this node's own copies of its code,
// fetched from the cluster's code store by content (see clusterclient.UploadCode): the libraries of its
// code search path go to <session>/code/<job>/lib, its driver executable to <session>/code/<job>,
// and its worker command is this node's default_worker with them.

// localJob returns the job as this node runs it: with its code fetched into the session, once per
// job. A job without code in the store (or a node without a control store) runs as given.
func (r *Raylet) localJob(ctx context.Context, job *pb.JobConfig) (*pb.JobConfig, error) {
	if job == nil || len(job.Code) == 0 || r.cfg.GCS == nil {
		return job, nil
	}
	r.mu.Lock()
	_, known := r.jobs[job.JobId]
	r.mu.Unlock()
	if known {
		return job, nil // its driver is here, or its code was fetched already (jobOf keeps this node's)
	}
	if raw, err := hex.DecodeString(job.JobId); err != nil || len(raw) == 0 || len(raw) > 32 {
		return nil, fmt.Errorf("job id %q is not a job id", job.JobId)
	}
	return r.jobCodes.do(ctx, job.JobId, func() (*pb.JobConfig, error) { return r.fetchJob(ctx, job) })
}

// fetchJob fetches a job's code and returns the job with its paths on this node.
func (r *Raylet) fetchJob(ctx context.Context, job *pb.JobConfig) (*pb.JobConfig, error) {
	dir := filepath.Join(r.cfg.SessionDir, "code", job.JobId)
	blobs := filepath.Join(r.cfg.SessionDir, "code", "blobs")
	local := proto.Clone(job).(*pb.JobConfig)
	local.CodeSearchPath = []string{filepath.Join(dir, "lib")}
	if err := os.MkdirAll(local.CodeSearchPath[0], 0o700); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	exe := ""
	for _, f := range job.Code {
		blob := filepath.Join(blobs, f.Sha256)
		if err := clusterclient.FetchCode(ctx, r.cfg.GCS, f.Sha256, blob); err != nil {
			return nil, fmt.Errorf("fetching %s of job %s: %w", f.Path, job.JobId, err)
		}
		name := filepath.Base(f.Path)
		if name == "." || name == "/" || name == ".." {
			return nil, fmt.Errorf("job %s names a bad code file %q", job.JobId, f.Path)
		}
		var dst string
		if f.Path == job.DriverExe {
			dst = filepath.Join(dir, name)
			exe = dst
		} else {
			for i := 1; names[name]; i++ {
				name = fmt.Sprintf("%d_%s", i, filepath.Base(f.Path))
			}
			names[name] = true
			dst = filepath.Join(local.CodeSearchPath[0], name)
		}
		if err := placeFile(blob, dst); err != nil {
			return nil, fmt.Errorf("placing %s of job %s: %w", f.Path, job.JobId, err)
		}
	}
	if exe != "" {
		local.DriverExe = exe
	}
	local.WorkerCommand = localCommand(job, exe, ownDefaultWorker())
	glog.Infof("job %s runs from this node's copies of its code in %s", job.JobId, dir)
	return local, nil
}

// localCommand is a job's worker command with this node's default_worker and its copy of the
// driver executable.
func localCommand(job *pb.JobConfig, exe, defaultWorker string) []string {
	cmd := append([]string{}, job.WorkerCommand...)
	for i, arg := range cmd {
		switch {
		case i == 0 && filepath.Base(arg) == "default_worker" && defaultWorker != "":
			cmd[0] = defaultWorker
		case arg == job.DriverExe && exe != "" && (i == 0 || cmd[i-1] == "--"):
			cmd[i] = exe
		}
	}
	return cmd
}

// ownDefaultWorker is this node's default_worker: $GORAY_DEFAULT_WORKER, or the one beside the
// program that runs the node ("" when there is none).
func ownDefaultWorker() string {
	if env := os.Getenv("GORAY_DEFAULT_WORKER"); env != "" {
		return env
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "default_worker")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// placeFile makes dst the file src (a hard link, or a copy), executable by its owner.
func placeFile(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp := dst + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o700)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// codeState is the Raylet's record of the jobs' code it fetched (by job id).
type codeState struct {
	jobCodes onceMap[*pb.JobConfig]
}
