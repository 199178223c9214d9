// Package node runs a whole node in this process: a session directory, the node manager (raylet)
// on a unix socket of the session, and on the head the control store (GCS). ray::Init() with no
// address starts one inside the driver, with the control store on a unix socket of the session;
// `ray start --head` runs the same code as a daemon, with the control store on TCP (closed by the
// cluster's token), and `ray start --address` a node that joins it. A node registers with the
// control store and reports to it every health-check period.
package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"goray/cluster"
	"goray/dashboard"
	"goray/gcs"
	"goray/ids"
	"goray/jobs"
	"goray/metrics"
	"goray/ownerlock"
	"goray/raylet"
	"goray/rpc/auth"
	pb "goray/rpc/proto"
	"goray/session"
)

// Options say how to start a node.
type Options struct {
	TempDir        string // root of session directories ("" -> RAY_TMPDIR or /tmp/ray)
	SessionDir     string // "" -> a new session_<time>_<pid> under the root
	LogsDir        string // "" -> <session>/logs
	Resources      map[string]float64
	WorkerCommand  []string
	CodeSearchPath []string
	DriverExe      string
	Namespace      string
	NodeIP         string
	// NodeManagerPort and ObjectManagerPort are the TCP ports a node of a cluster serves other
	// nodes on (Ray's --node-manager-port and --object-manager-port): the node service, and the
	// data path objects move on. 0: any free port.
	NodeManagerPort   int
	ObjectManagerPort int
	// ObjectStoreMemory sizes the shared-memory object store (0: DefaultObjectStoreMemory; -1: none).
	ObjectStoreMemory int64
	// MetricsExportPort is where the node serves its users' metrics (Prometheus' text format, at
	// /metrics on the node's IP; Ray's --metrics-export-port); 0: any free port, written to the
	// session's metrics_export_port file.
	MetricsExportPort int
	// Dashboard says whether and where a head serves its dashboard and job API.
	Dashboard DashboardOptions

	// Head runs the cluster's control store on TCP at GCSListen (host:port; port 0: any free
	// one), closed by Token. JoinAddress (host:port) joins the cluster whose control store is
	// there instead, presenting Token. With neither, the node is embedded: its control store
	// listens on a unix socket of the session only.
	Head        bool
	GCSListen   string
	JoinAddress string
	Token       string
	// Dead is called (once, on its own goroutine) when the control store holds this node dead:
	// it missed its health checks, and the cluster has retried or restarted its work elsewhere.
	// The node must stop, as Ray's raylet does (its work would run twice); `ray start` stops it.
	Dead func()
}

// Node is a running node.
type Node struct {
	Session *session.Session
	GCS     *gcs.Server // nil on a node that joined a cluster
	Raylet  *raylet.Raylet
	// GCSAddress is where the cluster's control store listens (host:port), on a head or a node
	// that joined; "" on an embedded node.
	GCSAddress string
	cleaned    chan struct{} // closed once what dead sessions left is removed
	gcsConn    *grpc.ClientConn
	info       *pb.NodeInfo
	dead       func() // Options.Dead
	stopReport chan struct{}
	reportDone chan struct{}
	// Metrics are the users' metrics of the node's processes, served by metricsServer.
	Metrics       *metrics.Registry
	metricsServer *metrics.Server
	promTargets   promTargets       // the head's Prometheus discovery file (promtargets.go)
	dashboard     *dashboard.Server // the head's (nil elsewhere, or with --include-dashboard=false)
	jobs          *jobs.Supervisor  // the submitted jobs the head runs
}

// Start creates the session and starts the control store and the node manager.
func Start(opts Options) (*Node, error) {
	sess, err := session.Create(session.Root(opts.TempDir), opts.SessionDir, opts.LogsDir)
	if err != nil {
		return nil, err
	}
	session.SetupLogging(sess.LogsDir)
	n := &Node{Session: sess, cleaned: make(chan struct{}), stopReport: make(chan struct{}), reportDone: make(chan struct{}), dead: opts.Dead}
	close(n.reportDone) // (until the reports start)
	// What dead sessions left (a driver killed with SIGKILL cannot clean up): their arenas in
	// /dev/shm, spilled objects, sockets and old logs; off the path of Init.
	go func() {
		defer close(n.cleaned)
		RemoveStaleArenas()
		session.CleanDead(session.Root(opts.TempDir), session.DefaultKeepLogs)
	}()
	n.Metrics = metrics.NewRegistry()
	if err := n.startControlStore(opts); err != nil {
		n.endSession()
		return nil, err
	}
	memory := storeMemory(opts.ObjectStoreMemory)
	gpuNames, noSetDevices := raylet.DevicesFromEnv()
	if gpus := opts.Resources["GPU"]; len(gpuNames) > 0 && gpus > float64(len(gpuNames)) {
		n.stopControlStore()
		n.endSession()
		return nil, fmt.Errorf("the node has %v GPUs, more than the %d CUDA_VISIBLE_DEVICES names (%s): give --num-gpus at most %d", gpus, len(gpuNames), strings.Join(gpuNames, ","), len(gpuNames))
	}
	n.Raylet = raylet.New(raylet.Config{
		GPUNames:            gpuNames,
		NoSetVisibleDevices: noSetDevices,
		SessionDir:          sess.Dir,
		LogsDir:             sess.LogsDir,
		SocketPath:          sess.Socket("raylet"),
		Resources:           opts.Resources,
		WorkerCommand:       opts.WorkerCommand,
		CodeSearchPath:      opts.CodeSearchPath,
		DriverExe:           opts.DriverExe,
		Namespace:           opts.Namespace,

		ObjectStoreMemory: memory,
		ArenaPath:         arenaPath(sess.Dir, memory),
		SpillDir:          filepath.Join(sess.Dir, "spill"),
		PeerListen:        peerListen(opts, opts.NodeManagerPort),
		DataListen:        peerListen(opts, opts.ObjectManagerPort),
		Token:             opts.Token,
		GCS:               n.clusterStore(opts),
		ControlStore:      n.CodeStore(),
		Metrics:           n.Metrics,
	})
	if err := n.Raylet.Start(); err != nil {
		n.stopControlStore()
		n.endSession()
		return nil, err
	}
	if err := n.Metrics.ExportNode(n.Raylet.MetricStats); err != nil {
		n.Stop()
		return nil, err
	}
	if err := n.serveMetrics(opts); err != nil {
		n.Stop()
		return nil, err
	}
	if err := n.register(opts); err != nil { // (with the metrics' port, for the head's Prometheus targets)
		n.Stop()
		return nil, err
	}
	if err := n.startDashboard(opts); err != nil {
		n.Stop()
		return nil, err
	}
	if opts.Head {
		n.promTargets.path = promDiscoveryPath(session.Root(opts.TempDir))
	}
	if opts.Head || opts.JoinAddress != "" {
		n.reportDone = make(chan struct{})
		go n.report()
	}
	glog.Infof("node %s started in %s", n.Raylet.NodeID().Hex(), sess.Dir)
	return n, nil
}

// serveMetrics serves the node's users' metrics on its IP address (closed by the cluster's
// token when it has one) and writes the port to the session. Called by Start.
func (n *Node) serveMetrics(opts Options) error {
	ip := opts.NodeIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	s, err := metrics.Serve(n.Metrics, ip, opts.MetricsExportPort, opts.Token)
	if err != nil {
		return err
	}
	n.metricsServer = s
	if err := s.WritePortFile(n.Session.Dir); err != nil {
		glog.Warningf("metrics: %v", err)
	}
	glog.Infof("users' metrics at http://%s/metrics", net.JoinHostPort(ip, strconv.Itoa(s.Port())))
	return nil
}

// MetricsPort is the port the node serves its users' metrics on.
func (n *Node) MetricsPort() int { return n.metricsServer.Port() }

// clusterStore is the control store's client for the node manager on a node of a cluster (nil
// on an embedded node).
func (n *Node) clusterStore(opts Options) pb.ControlStoreClient {
	if !opts.Head && opts.JoinAddress == "" {
		return nil
	}
	return pb.NewControlStoreClient(n.gcsConn)
}

// CodeStore is the cluster's code store, where drivers put their jobs' code and working_dir
// packages: the head's, or the embedded node's own.
func (n *Node) CodeStore() pb.ControlStoreClient {
	return pb.NewControlStoreClient(n.gcsConn)
}

// peerListen is where a node of a cluster serves other nodes: its IP address, the port (0: any
// free one); "" for an embedded node, which has no peers.
func peerListen(opts Options, port int) string {
	if !opts.Head && opts.JoinAddress == "" {
		return ""
	}
	ip := opts.NodeIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

// startControlStore starts the control store of an embedded node or a head, and dials the
// control store the node registers with. Called by Start.
func (n *Node) startControlStore(opts Options) error {
	var dial []grpc.DialOption
	target := ""
	switch {
	case opts.JoinAddress != "":
		var err error
		if dial, err = auth.DialOptions(opts.Token); err != nil {
			return err
		}
		n.GCSAddress = opts.JoinAddress
		target = opts.JoinAddress
	case opts.Head:
		serverOpts, err := auth.ServerOptions(opts.Token)
		if err != nil {
			return err
		}
		if dial, err = auth.DialOptions(opts.Token); err != nil {
			return err
		}
		n.GCS = gcs.New()
		if err := n.GCS.SetCodeDir(filepath.Join(n.Session.Dir, "code_store")); err != nil {
			return err
		}
		addr, err := n.GCS.ServeTCP(opts.GCSListen, append(n.Metrics.RPCServerOptions(), serverOpts...)...)
		if err != nil {
			return err
		}
		n.GCS.RunHealthChecks()
		n.GCSAddress = addr.String()
		target = n.GCSAddress
	default:
		n.GCS = gcs.New()
		if err := n.GCS.SetCodeDir(filepath.Join(n.Session.Dir, "code_store")); err != nil {
			return err
		}
		if err := n.GCS.Serve(n.Session.Socket("gcs")); err != nil {
			return err
		}
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		target = "unix://" + n.Session.Socket("gcs")
	}
	conn, err := grpc.Dial(target, dial...)
	if err != nil {
		n.stopControlStore()
		return fmt.Errorf("connecting to the control store at %s: %w", target, err)
	}
	n.gcsConn = conn
	return nil
}

func (n *Node) stopControlStore() {
	if n.gcsConn != nil {
		n.gcsConn.Close()
	}
	if n.GCS != nil {
		n.GCS.Stop()
	}
}

// register records the node in the control store, over gRPC like any other process would.
func (n *Node) register(opts Options) error {
	ip := opts.NodeIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	host, _ := os.Hostname()
	id := n.Raylet.NodeID()
	n.info = &pb.NodeInfo{
		NodeId: id[:], Address: ip, Resources: n.withMemory(n.Raylet.Resources()), Alive: true, StartTimeMs: time.Now().UnixMilli(),
		RayletSocket: n.RayletSocket(), SessionDir: n.Session.Dir, Hostname: host, IsHead: opts.Head || opts.JoinAddress == "", // (an embedded node is its own cluster's head)
		PeerAddress: n.Raylet.PeerAddress(), MetricsExportPort: int32(n.MetricsPort()),
	}
	if err := n.registerOnce(); err != nil {
		if opts.JoinAddress != "" {
			return fmt.Errorf("joining: %w", cluster.Explain(err, opts.JoinAddress))
		}
		return fmt.Errorf("registering the node with the control store: %w", err)
	}
	return nil
}

func (n *Node) registerOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pb.NewControlStoreClient(n.gcsConn).RegisterNode(ctx, &pb.RegisterNodeRequest{Node: n.info})
	return err
}

// report tells the control store every health-check period that the node lives and what it has
// free; a node the store holds dead (it missed its checks) registers again.
func (n *Node) report() {
	defer close(n.reportDone)
	client := pb.NewControlStoreClient(n.gcsConn)
	period := reportPeriod()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-n.stopReport:
			return
		case <-t.C:
		}
		st := n.Raylet.Stats()
		ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
		rep, err := client.ReportNode(ctx, &pb.ReportNodeRequest{NodeId: n.info.NodeId, Total: n.withMemory(st.Total), Available: n.withMemory(st.Available), Demands: n.Raylet.Demands()})
		cancel()
		switch {
		case err != nil:
			glog.Warningf("reporting to the control store at %s: %v", n.GCSAddress, err)
		case rep.Dead:
			glog.Errorf("the control store at %s holds this node dead (it missed its health checks; the cluster has moved its work): the node stops", n.GCSAddress)
			if n.dead != nil {
				go n.dead()
			}
			return
		default:
			if n.Raylet.PeerAddress() != "" {
				n.Raylet.UpdateCluster(viewOf(rep.Nodes))
			}
			n.promTargets.write(rep.Nodes) // (a head's only)
		}
	}
}

// EnvReportPeriodMs is how often a node reports to the control store, in milliseconds (Ray's
// raylet_report_resources_period_milliseconds; default 100). Every report is a health check too.
const EnvReportPeriodMs = "RAY_raylet_report_resources_period_milliseconds"

// reportTimeout bounds one report (a slow one is no missed health check until it times out).
const reportTimeout = 5 * time.Second

func reportPeriod() time.Duration {
	if v, err := strconv.Atoi(os.Getenv(EnvReportPeriodMs)); err == nil && v > 0 && v < 3_600_000 {
		return time.Duration(v) * time.Millisecond
	}
	return 100 * time.Millisecond
}

// viewOf is the control store's nodes as the node manager's view of the cluster.
func viewOf(nodes []*pb.NodeInfo) []raylet.ViewNode {
	out := make([]raylet.ViewNode, 0, len(nodes))
	for _, n := range nodes {
		id, err := ids.UniqueIDFromBytes(n.NodeId)
		if err != nil {
			continue
		}
		out = append(out, raylet.ViewNode{ID: id, Address: n.PeerAddress, IP: n.Address, Alive: n.Alive,
			DeathCause: n.DeathCause, Total: n.Resources, Available: n.Available})
	}
	return out
}

// Ray's memory resources, which `ray status` shows: the object store's bytes and the rest of the
// machine's memory.
const (
	resObjectStoreMemory = "object_store_memory"
	resMemory            = "memory"
)

// withMemory adds the node's memory resources to res (totals, or with available what is free
// now): the object store's capacity (less what is in use) and the machine's memory beside it.
func (n *Node) withMemory(res map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(res)+2)
	for k, v := range res {
		out[k] = v
	}
	capacity, used, _ := n.Raylet.ShmStats()
	if n.info == nil {
		used = 0 // the totals
	}
	out[resObjectStoreMemory] = float64(capacity - used)
	if mem := machineMemory() - capacity; mem > 0 {
		out[resMemory] = float64(mem)
	}
	return out
}

// NodeID is the node's id.
func (n *Node) NodeID() ids.UniqueID { return n.Raylet.NodeID() }

// shmDir is where object store arenas live (a variable for tests).
var shmDir = "/dev/shm"

// arenaPath names the session's arena: in /dev/shm when it has room for size bytes; otherwise
// (a container's 64 MiB /dev/shm, say) a file in the session directory, as Ray falls back to
// /tmp: still one mapping shared by every process, backed by the page cache.
func arenaPath(sessionDir string, size int64) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err == nil && int64(st.Bavail)*int64(st.Bsize) >= size {
		return filepath.Join(shmDir, "goray_"+filepath.Base(sessionDir)+"_objects")
	}
	glog.Warningf("%s has less than the object store's %d bytes free: the object store is a file in %s instead (slower; give the machine a larger /dev/shm or pass a smaller --object-store-memory)", shmDir, size, sessionDir)
	return filepath.Join(sessionDir, "object_store")
}

// RemoveStaleArenas deletes the arenas of this user's nodes that are gone (a driver killed with
// SIGKILL cannot remove its own): their memory would otherwise stay in /dev/shm. A node holds its
// arena's owner lock while it lives (go/ownerlock), so an arena whose lock is free is stale.
func RemoveStaleArenas() {
	paths, _ := filepath.Glob(filepath.Join(shmDir, "goray_session_*_objects"))
	for _, p := range paths {
		if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() || !session.Mine(st) {
			continue
		}
		release, held, err := ownerlock.Acquire(p)
		if err != nil || held {
			continue
		}
		if os.Remove(p) == nil {
			glog.Infof("removed the object store of a dead session: %s", p)
		}
		release()
	}
}

func storeMemory(given int64) int64 {
	switch {
	case given > 0:
		return given
	case given < 0:
		return 0
	}
	return DefaultObjectStoreMemory()
}

// DefaultObjectStoreMemory is Ray's default: 30% of the machine's memory.
func DefaultObjectStoreMemory() int64 {
	return machineMemory() * 3 / 10
}

// machineMemory is the machine's memory in bytes (2 GiB when /proc does not say), read once.
func machineMemory() int64 {
	memoryOnce.Do(func() { memoryBytes = readMachineMemory() })
	return memoryBytes
}

var (
	memoryOnce  sync.Once
	memoryBytes int64
)

func readMachineMemory() int64 {
	mem := int64(0)
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					mem = kb << 10
				}
			}
		}
	}
	if mem == 0 {
		mem = 2 << 30
	}
	return mem
}

// RayletSocket is the path core workers connect to.
func (n *Node) RayletSocket() string { return n.Session.Socket("raylet") }

// Stop stops the node manager (and with it every worker) and the control store, and ends the
// session.
func (n *Node) Stop() {
	n.stopDashboard()
	close(n.stopReport)
	<-n.reportDone
	n.promTargets.remove() // (after the reports, which write it)
	if n.metricsServer != nil {
		n.metricsServer.Stop()
	}
	if n.GCS == nil && n.gcsConn != nil && n.info != nil {
		// A node of a cluster says it leaves (the head's store stops with it).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = pb.NewControlStoreClient(n.gcsConn).UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: n.info.NodeId})
		cancel()
	}
	n.Raylet.Stop()
	n.stopControlStore()
	n.endSession()
	glog.Flush()
}

// endSession waits for the cleaning of dead sessions and releases this session's lock.
func (n *Node) endSession() {
	<-n.cleaned
	n.Session.Close()
}
