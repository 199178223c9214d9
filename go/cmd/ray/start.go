package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"goray/cluster"
	"goray/config"
	"goray/node"
	"goray/profiling"
	"goray/session"
)

// Environment of a node daemon that `ray start` started in the background: the marker `ray stop`
// finds it by (with its session root), and the descriptor it reports its start on.
const (
	envDaemonRoot = "GORAY_NODE_DAEMON_ROOT"
	envReadyFD    = "GORAY_NODE_READY_FD"
)

// startTimeout bounds how long `ray start` waits for its daemon to report.
const startTimeout = 60 * time.Second

// startFlags are `ray start`'s options, with Ray's names.
type startFlags struct {
	head, block                             bool
	address, nodeIP, resources, tempDir     string
	numCPUs, numGPUs, objectStoreMemory     string
	port                                    int
	includeDashboard, dashboardHost         string
	redisPassword, redisUsername            string
	dashboardPort, nodeManagerPort          int
	metricsExportPort                       int
	objectManagerPort, minWorker, maxWorker int
	disableUsageStats                       bool
	dashboardPortGiven                      bool // --dashboard-port was given (a taken port is then an error)
}

// started is what a node daemon reports once it runs.
type started struct {
	Error      string `json:"error,omitempty"`
	NodeID     string `json:"node_id,omitempty"`
	NodeIP     string `json:"node_ip,omitempty"`
	GCSAddress string `json:"gcs_address,omitempty"`
	SessionDir string `json:"session_dir,omitempty"`
	TokenPath  string `json:"token_path,omitempty"`
	NewToken   bool   `json:"new_token,omitempty"`
	Head       bool   `json:"head,omitempty"`
	Dashboard  string `json:"dashboard,omitempty"`
}

func newStart() *cobra.Command {
	f := &startFlags{}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a node of a goray cluster: the head (--head) or a node that joins it (--address)",
		Long: "Start a node of a goray cluster on this machine, in the background (--block: in the foreground).\n\n" +
			"  ray start --head [--port=6379] [--node-ip-address=IP]   the head: the control store and a node\n" +
			"  ray start --address=HEAD_IP:6379                        a node that joins the head's cluster\n\n" +
			"The cluster is closed by a token: the head makes one (kept in ~/.ray/auth_token unless\n" +
			"RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH give one) and every node, driver and client presents it.\n" +
			"The head listens on 127.0.0.1 unless --node-ip-address says otherwise. A C++ driver joins with\n" +
			"RAY_ADDRESS=HEAD_IP:6379 (or RayConfig::address, or --ray_address) and attaches to the node of\n" +
			"its own machine.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.dashboardPortGiven = cmd.Flags().Changed("dashboard-port")
			return runStart(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.head, "head", false, "start the head node (the cluster's control store and a node)")
	fl.StringVar(&f.address, "address", "", "join the cluster whose head is at HOST:PORT (\"auto\": the last started on this machine)")
	fl.IntVar(&f.port, "port", cluster.DefaultPort, "the head's control store port (0: any free one)")
	fl.StringVar(&f.nodeIP, "node-ip-address", "", "this node's IP address (the head listens on it; default 127.0.0.1)")
	fl.StringVar(&f.numCPUs, "num-cpus", "", "CPUs of this node (default: the machine's)")
	fl.StringVar(&f.numGPUs, "num-gpus", "", "GPUs of this node")
	fl.StringVar(&f.resources, "resources", "", "custom resources of this node as JSON, e.g. '{\"r1\": 1}'")
	fl.StringVar(&f.objectStoreMemory, "object-store-memory", "", "bytes of the node's shared-memory object store (default 30% of memory)")
	fl.StringVar(&f.tempDir, "temp-dir", "", "root of the node's session directory (default $RAY_TMPDIR or /tmp/ray)")
	fl.BoolVar(&f.block, "block", false, "stay in the foreground until stopped (SIGTERM or Ctrl-C)")
	fl.StringVar(&f.includeDashboard, "include-dashboard", "", "serve the dashboard and the job API on the head (true or false; default true)")
	fl.StringVar(&f.dashboardHost, "dashboard-host", "", "where the head's dashboard and job API listen (default: the head's IP address, 127.0.0.1 unless told otherwise)")
	fl.IntVar(&f.dashboardPort, "dashboard-port", 8265, "the port of the head's dashboard and job API (0: any free one; when 8265 is taken and the flag is not given, any free one)")
	fl.IntVar(&f.nodeManagerPort, "node-manager-port", 0, "the TCP port other nodes reach this node's manager on (0: any free port; its own processes use a unix socket)")
	fl.IntVar(&f.objectManagerPort, "object-manager-port", 0, "the TCP port other nodes pull this node's objects from (0: any free port)")
	fl.IntVar(&f.metricsExportPort, "metrics-export-port", 0, "the TCP port this node serves its users' metrics on, at /metrics (0: any free port; written to <session>/metrics_export_port)")
	fl.IntVar(&f.minWorker, "min-worker-port", 10002, "accepted for Ray's scripts")
	fl.IntVar(&f.maxWorker, "max-worker-port", 19999, "accepted for Ray's scripts")
	fl.BoolVar(&f.disableUsageStats, "disable-usage-stats", false, "accepted for Ray's scripts (goray collects no usage statistics)")
	fl.StringVar(&f.redisPassword, "redis-password", "", "accepted for Ray's scripts and ignored: goray's control store has no Redis (the cluster token authenticates)")
	fl.StringVar(&f.redisUsername, "redis-username", "", "accepted for Ray's scripts and ignored, as --redis-password")
	return cmd
}

// nodeOptions checks the flags and turns them into the node's options (the token aside).
func (f *startFlags) nodeOptions() (node.Options, error) {
	var opts node.Options
	if f.head == (f.address != "") {
		return opts, fmt.Errorf("ray start needs either --head or --address=HEAD:PORT")
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--port", f.port}, {"--dashboard-port", f.dashboardPort}, {"--node-manager-port", f.nodeManagerPort}, {"--object-manager-port", f.objectManagerPort}, {"--metrics-export-port", f.metricsExportPort}} {
		if p.port < 0 || p.port > 65535 {
			return opts, fmt.Errorf("%s %d is not a port number (0: any free port)", p.flag, p.port)
		}
	}
	if f.nodeManagerPort != 0 && f.nodeManagerPort == f.objectManagerPort ||
		f.head && f.port != 0 && (f.port == f.nodeManagerPort || f.port == f.objectManagerPort) {
		return opts, fmt.Errorf("--port, --node-manager-port and --object-manager-port must differ (or be 0: any free port)")
	}
	if v := strings.ToLower(f.includeDashboard); v != "" && v != "true" && v != "false" && v != "1" && v != "0" {
		return opts, fmt.Errorf("--include-dashboard takes true or false, not %q", f.includeDashboard)
	}
	ip := f.nodeIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	if parsed := net.ParseIP(ip); parsed == nil || parsed.IsUnspecified() {
		return opts, fmt.Errorf("--node-ip-address %q is not an IP address this node can be reached at", f.nodeIP)
	}
	var words []string
	for _, kv := range [][2]string{{"--num-cpus", f.numCPUs}, {"--num-gpus", f.numGPUs}, {"--resources", f.resources},
		{"--object-store-memory", f.objectStoreMemory}, {"--temp-dir", f.tempDir}} {
		if kv[1] != "" {
			words = append(words, kv[0], kv[1])
		}
	}
	head, err := config.ParseHeadArgs(words)
	if err != nil {
		return opts, errors.New(strings.NewReplacer("head argument ", "").Replace(err.Error())) // (the same rules, said as flags)
	}
	opts = node.Options{
		TempDir:           head.TempDir,
		Resources:         head.NodeResources(runtime.NumCPU()),
		NodeIP:            ip,
		ObjectStoreMemory: head.ObjectStoreMemory,
		Head:              f.head,
		NodeManagerPort:   f.nodeManagerPort,
		ObjectManagerPort: f.objectManagerPort,
		MetricsExportPort: f.metricsExportPort,
		Dashboard: node.DashboardOptions{
			Enabled:     f.head && strings.ToLower(f.includeDashboard) != "false" && f.includeDashboard != "0",
			Host:        f.dashboardHost,
			Port:        f.dashboardPort,
			PortDefault: !f.dashboardPortGiven && f.dashboardPort == 8265,
		},
	}
	if f.head {
		opts.GCSListen = net.JoinHostPort(ip, strconv.Itoa(f.port))
	} else {
		addr, err := cluster.NormalizeAddress(f.address, session.Root(head.TempDir))
		if err != nil {
			return opts, err
		}
		opts.JoinAddress = addr
	}
	return opts, nil
}

func runStart(cmd *cobra.Command, f *startFlags) error {
	opts, err := f.nodeOptions()
	if err != nil {
		return err
	}
	if cmd.Flags().Changed("redis-password") || cmd.Flags().Changed("redis-username") {
		fmt.Fprintln(cmd.ErrOrStderr(), "note: --redis-password and --redis-username are ignored: goray's control store has no Redis; the cluster token authenticates")
	}
	if !f.block {
		return startDaemon(cmd, opts)
	}
	return runNode(cmd, opts)
}

// startDaemon runs this command again in the background with --block, waits for its report and
// prints how to use the node.
func startDaemon(cmd *cobra.Command, opts node.Options) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the ray program to start the node with: %w", err)
	}
	root := session.Root(opts.TempDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("session root %s: %w", root, err)
	}
	errPath := filepath.Join(root, "ray_start.err")
	errFile, err := os.OpenFile(errPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", errPath, err)
	}
	defer errFile.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	args := append(append([]string{}, os.Args[1:]...), "--block")
	child := exec.Command(exe, args...)
	child.Env = append(os.Environ(), envDaemonRoot+"="+root, envReadyFD+"=3")
	child.ExtraFiles = []*os.File{w}
	child.Stdout = errFile
	child.Stderr = errFile
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the node: %w", err)
	}
	w.Close()
	reported := make(chan started, 1)
	go func() {
		var s started
		line, err := bufio.NewReader(r).ReadBytes('\n')
		if err != nil {
			s.Error = fmt.Sprintf("the node exited before it started (see %s)", errPath)
		} else if err := json.Unmarshal(line, &s); err != nil {
			s.Error = fmt.Sprintf("the node's report is garbled: %v", err)
		}
		reported <- s
	}()
	var s started
	select {
	case s = <-reported:
	case <-time.After(startTimeout):
		_ = child.Process.Kill()
		s.Error = fmt.Sprintf("the node did not start within %v (see %s)", startTimeout, errPath)
	}
	if s.Error != "" {
		_ = child.Wait()
		return fmt.Errorf("%s", s.Error)
	}
	_ = child.Process.Release()
	printStarted(cmd.OutOrStdout(), s)
	return nil
}

// nodeGCPercent is the Go garbage collector's target (GOGC) in a node daemon, unless GOGC is set.
const nodeGCPercent = 400

// runNode runs a node in this process until SIGTERM or SIGINT.
func runNode(cmd *cobra.Command, opts node.Options) error {
	var rep started
	readyFD := os.Getenv(envReadyFD)
	report := func() {
		fd, _ := strconv.Atoi(readyFD)
		if fd < 3 {
			if rep.Error == "" {
				printStarted(cmd.OutOrStdout(), rep)
			}
			return
		}
		ready := os.NewFile(uintptr(fd), "ready")
		line, _ := json.Marshal(rep)
		_, _ = ready.Write(append(line, '\n'))
		ready.Close()
	}
	fail := func(err error) error {
		rep.Error = err.Error()
		report()
		return err
	}
	var err error
	if opts.Head {
		opts.Token, rep.TokenPath, rep.NewToken, err = cluster.HeadToken()
	} else {
		opts.Token, err = cluster.Token()
	}
	if err != nil {
		return fail(err)
	}
	// The node's processes (its workers) are not nodes: `ray stop` finds nodes by these.
	_ = os.Unsetenv(envDaemonRoot)
	_ = os.Unsetenv(envReadyFD)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	dead := make(chan struct{})
	var deadOnce sync.Once
	opts.Dead = func() { deadOnce.Do(func() { close(dead) }) }
	if os.Getenv("GOGC") == "" {
		// A node's heap is small and short-lived (messages in flight): collecting it less often
		// saves the CPU its tasks' messages cost (a tenth of it, at the default of 100).
		debug.SetGCPercent(nodeGCPercent)
	}
	profiling.Start()
	defer profiling.Stop()
	n, err := node.Start(opts)
	if err != nil {
		return fail(err)
	}
	if opts.Head {
		if err := cluster.WriteCurrentCluster(session.Root(opts.TempDir), n.GCSAddress); err != nil {
			n.Stop()
			return fail(fmt.Errorf("recording the cluster's address: %w", err))
		}
	}
	rep = started{NodeID: n.NodeID().Hex(), NodeIP: opts.NodeIP, GCSAddress: n.GCSAddress, SessionDir: n.Session.Dir,
		TokenPath: rep.TokenPath, NewToken: rep.NewToken, Head: opts.Head, Dashboard: n.DashboardURL()}
	report()
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP && readyFD != "" {
				continue // a daemon has no terminal to lose
			}
			n.Stop()
			return nil
		case <-dead:
			n.Stop()
			return fmt.Errorf("the cluster holds this node dead (it missed its health checks): it stopped; start it again to rejoin")
		}
	}
}

// printStarted prints, as Ray does, what runs now and how to use it.
func printStarted(out io.Writer, s started) {
	fmt.Fprintf(out, "Local node IP: %s\n\n", s.NodeIP)
	fmt.Fprintf(out, "--------------------\nRay runtime started.\n--------------------\n\n")
	if !s.Head {
		fmt.Fprintf(out, "Node %s joined the cluster at %s (session %s).\n\n", s.NodeID, s.GCSAddress, s.SessionDir)
		fmt.Fprintf(out, "To terminate the Ray runtime, run\n  ray stop\n")
		return
	}
	fmt.Fprintf(out, "Next steps\n")
	fmt.Fprintf(out, "  To add another node to this Ray cluster, run\n    ray start --address='%s'\n\n", s.GCSAddress)
	fmt.Fprintf(out, "  To connect to this Ray cluster, run a C++ driver on a node's machine with\n    RAY_ADDRESS='%s' ./your_program\n", s.GCSAddress)
	fmt.Fprintf(out, "  (or set ray::RayConfig::address, or pass --ray_address=%s)\n\n", s.GCSAddress)
	fmt.Fprintf(out, "  To see the status of the cluster, use\n    ray status\n\n")
	if s.Dashboard != "" {
		fmt.Fprintf(out, "  Ray Dashboard and job API: %s\n", s.Dashboard)
		fmt.Fprintf(out, "  To submit a job (here, a project made by `ray cpp --generate-bazel-project-template-to`), run\n")
		fmt.Fprintf(out, "    RAY_ADDRESS='%s' ray job submit --working-dir . -- bash run.sh\n\n", s.Dashboard)
	}
	where := "RAY_AUTH_TOKEN"
	if s.TokenPath != "" {
		where = s.TokenPath
	}
	made := "The cluster is closed by the token in"
	if s.NewToken {
		made = "The cluster is closed by a new token, written to"
	}
	fmt.Fprintf(out, "  %s %s: processes on this machine\n", made, where)
	fmt.Fprintf(out, "  find it themselves; elsewhere set RAY_AUTH_TOKEN to the output of `ray get-auth-token`.\n\n")
	fmt.Fprintf(out, "  To terminate the Ray runtime, run\n    ray stop\n")
}
