package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golang/glog"

	"goray/cluster"
	"goray/dashboard"
	"goray/jobclient"
	"goray/jobs"
	"goray/raylet"
	pb "goray/rpc/proto"
	"goray/stategather"
)

// Version is goray's version, as the dashboard reports it.
const Version = "0.1.0"

// DashboardOptions say whether and where a head serves its dashboard and job API.
type DashboardOptions struct {
	// Enabled serves it (Ray's --include-dashboard; a head only).
	Enabled bool
	// Host is where it listens ("": the node's IP, so 127.0.0.1 unless told otherwise).
	Host string
	// Port is its port: 0 any free one; PortDefault Ray's 8265, or any free port when 8265 is
	// taken (said in the log), where an explicit port that is taken is an error.
	Port        int
	PortDefault bool
}

// startDashboard starts the head's job supervisor and its dashboard server, and tells the
// control store where the server is. Called by Start on a head.
func (n *Node) startDashboard(opts Options) error {
	d := opts.Dashboard
	if !opts.Head || !d.Enabled {
		return nil
	}
	host := d.Host
	if host == "" {
		host = opts.NodeIP
	}
	if host == "" {
		host = "127.0.0.1"
	}
	port := d.Port
	if d.PortDefault {
		port = dashboard.DefaultPort
	}
	store := n.CodeStore()
	sup, err := jobs.NewSupervisor(jobs.Config{
		LogsDir: n.Session.LogsDir,
		WorkDir: filepath.Join(n.Session.Dir, "runtime_resources", "jobs"),
		Env:     jobEnv(os.Environ(), n.GCSAddress),
		NodeID:  n.Raylet.NodeID().Hex(),
		Fetch: func(ctx context.Context, sum, dst string) error {
			return cluster.FetchCode(ctx, store, sum, dst)
		},
		Reserve: func(res map[string]float64) (func(), error) {
			release, err := n.Raylet.Reserve(res)
			if errors.Is(err, raylet.ErrNotFreeNow) {
				err = fmt.Errorf("%w: %v", jobs.ErrNotFreeYet, err)
			}
			return release, err
		},
	})
	if err != nil {
		return err
	}
	drivers := jobs.DriversOf(store)
	cfg := dashboard.Config{
		Listen: net.JoinHostPort(host, strconv.Itoa(port)), Token: opts.Token, Jobs: sup,
		Packages: codePackages{store}, Version: Version, TempDir: n.Session.Dir, Drivers: drivers,
		State: stategather.Source{Conn: n.gcsConn, Addr: n.GCSAddress, Token: opts.Token,
			Jobs: func(ctx context.Context) ([]jobs.Info, error) { return jobs.ListWith(ctx, sup.List(), drivers), nil }},
	}
	if net.ParseIP(host) == nil {
		cfg.Hosts = []string{host}
	}
	srv, err := dashboard.Start(cfg)
	if err != nil && d.PortDefault && errors.Is(err, syscall.EADDRINUSE) {
		glog.Warningf("dashboard: port %d is taken: serving on any free port", port)
		cfg.Listen = net.JoinHostPort(host, "0")
		srv, err = dashboard.Start(cfg)
	}
	if err != nil {
		sup.Close()
		return fmt.Errorf("%w (give another --dashboard-port, or --include-dashboard=false)", err)
	}
	n.jobs, n.dashboard = sup, srv
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := store.KVPut(ctx, &pb.KVPutRequest{Namespace: jobclient.KVNamespace, Key: jobclient.KVKey, Value: []byte(srv.Addr().String()), Overwrite: true}); err != nil {
		n.stopDashboard()
		return fmt.Errorf("dashboard: recording its address: %w", err)
	}
	glog.Infof("dashboard and job API at %s", srv.URL())
	return nil
}

// DashboardURL is where the head serves its dashboard (http://host:port; "" if it does not).
func (n *Node) DashboardURL() string {
	if n.dashboard == nil {
		return ""
	}
	return n.dashboard.URL()
}

// stopDashboard stops the server, then the jobs still running.
func (n *Node) stopDashboard() {
	if n.dashboard != nil {
		n.dashboard.Stop()
	}
	if n.jobs != nil {
		n.jobs.Close()
	}
}

// jobEnv is the environment of jobs' commands: the head's, with RAY_ADDRESS the cluster's (a
// driver finds the token as the head did: the same variables and files).
func jobEnv(env []string, gcsAddress string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "RAY_ADDRESS=") {
			out = append(out, kv)
		}
	}
	return append(out, "RAY_ADDRESS="+gcsAddress)
}

// codePackages are the working_dir packages of the cluster's code store.
type codePackages struct{ store pb.ControlStoreClient }

// Has tells whether the store has the package.
func (c codePackages) Has(ctx context.Context, sum string) (bool, error) {
	rep, err := c.store.HasCode(ctx, &pb.HasCodeRequest{Sha256: sum})
	if err != nil {
		return false, err
	}
	return rep.Found, nil
}

// Put stores the package in file path.
func (c codePackages) Put(ctx context.Context, path, _ string) error {
	_, err := cluster.UploadCode(ctx, c.store, []string{path})
	return err
}
