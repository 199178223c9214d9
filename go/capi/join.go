package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang/glog"

	"goray/cluster"
	"goray/config"
	"goray/core"
	"goray/ids"
	pb "goray/rpc/proto"
	"goray/runtimeenv"
	"goray/session"
	"goray/taskretry"
)

// commandLine is this process's command line, as a job's entrypoint shows it (as valid UTF-8:
// the message that carries it takes nothing else).
func commandLine() string {
	return strings.ToValidUTF8(strings.Join(os.Args, " "), "\uFFFD")
}

// joinCluster attaches the driver to the cluster at cfg.Address: it finds the node of this
// machine through the control store (presenting the cluster's token), takes a job id, and
// connects to that node's manager with its job (the code the node's workers of this job run).
func joinCluster(cfg *config.RayConfig, head *config.HeadOptions, st *runtimeState, driverExe string, searchPath []string) error {
	addr, err := cluster.NormalizeAddress(cfg.Address, session.Root(head.TempDir))
	if err != nil {
		return err
	}
	token, err := cluster.Token()
	if err != nil {
		return fmt.Errorf("joining the cluster at %s: %w", addr, err)
	}
	conn, err := cluster.Dial(addr, token)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx := context.Background()
	nodes, err := cluster.Nodes(ctx, conn, addr)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	gcsHost, _, _ := net.SplitHostPort(addr)
	n, err := cluster.ChooseLocalNode(nodes, host, cfg.NodeIPAddress, gcsHost, func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("joining the cluster at %s: %w", addr, err)
	}
	jobRep, err := pb.NewControlStoreClient(conn).NextJobID(ctx, &pb.NextJobIDRequest{})
	if err != nil {
		return cluster.Explain(err, addr)
	}
	jobID := ids.JobIDHex(jobRep.JobId)
	st.jobID = jobID
	session.SetupLogging(filepath.Join(n.SessionDir, "logs"))
	_ = setFlag("logtostderr", "false")
	// The job's code goes to the cluster's code store: other nodes run it from there.
	files, err := cluster.CodeFiles(searchPath, driverExe)
	if err != nil {
		return fmt.Errorf("joining the cluster at %s: %w", addr, err)
	}
	code, err := cluster.UploadCode(ctx, pb.NewControlStoreClient(conn), files)
	if err != nil {
		return fmt.Errorf("joining the cluster at %s: %w", addr, cluster.Explain(err, addr))
	}
	jobEnv, err := jobRuntimeEnv(cfg)
	if err != nil {
		return err
	}
	// A driver that a submitted job started runs in the job's runtime_env, under its own.
	submitted, err := runtimeenv.FromJobConfig(os.Getenv(runtimeenv.EnvJobConfig))
	if err != nil {
		return err
	}
	if jobEnv, err = runtimeenv.Merge(submitted, jobEnv); err != nil {
		return err
	}
	if jobEnv, err = cluster.ShipWorkingDir(ctx, pb.NewControlStoreClient(conn), jobEnv); err != nil {
		return fmt.Errorf("RayConfig::%w", cluster.Explain(err, addr))
	}
	st.cw, err = core.New(core.Options{RayletSocket: n.RayletSocket, WorkerID: ids.NewUniqueID(), Token: token, TaskMaxRetries: os.Getenv(taskretry.EnvMaxRetries), RuntimeEnv: jobEnv, Job: &pb.JobConfig{
		JobId: jobID, WorkerCommand: workerCommand(driverExe), CodeSearchPath: searchPath, DriverExe: driverExe, Namespace: st.namespace,
		Code: code, Entrypoint: commandLine(), SubmissionId: strings.ToValidUTF8(os.Getenv(runtimeenv.EnvSubmissionID), "?"),
	}})
	if err != nil {
		return fmt.Errorf("joining the cluster at %s: attaching to node %x: %w", addr, n.NodeId, err)
	}
	glog.Infof("driver pid %d joined the cluster at %s as job %s, on node %x (%s; namespace %s)", os.Getpid(), addr, jobID, n.NodeId, n.Address, st.namespace)
	return nil
}
