package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"goray/internal/testutil"
	"goray/rpc/auth"
	pb "goray/rpc/proto"
)

// envRunAsRay makes the test binary run as the ray command (tests start real node daemons with
// it: `ray start` starts its daemon by running its own program again).
const envRunAsRay = "GORAY_TEST_RUN_AS_RAY"

func TestMain(m *testing.M) {
	if os.Getenv(envRunAsRay) == "1" {
		os.Exit(runMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// testCluster is the environment of one test's cluster: its own home (and so its own token
// file), session root and health-check settings, and what it started.
type testCluster struct {
	t    *testing.T
	home string
	root string
	env  []string
	addr string // the head's control store, once started
}

func newTestCluster(t *testing.T, extraEnv ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, home: t.TempDir(), root: testutil.ShortTempDir(t)}
	c.env = append(os.Environ(), envRunAsRay+"=1", "HOME="+c.home, "RAY_TMPDIR="+c.root,
		auth.EnvToken+"=", auth.EnvTokenPath+"=", "RAY_ADDRESS=")
	c.env = append(c.env, extraEnv...)
	// Whatever happens, every process of this cluster ends with the test.
	t.Cleanup(func() {
		_, _ = c.ray("stop", "--force")
		for _, p := range c.processes() {
			_ = syscall.Kill(p, syscall.SIGKILL)
			t.Errorf("process %d of the cluster was still running after ray stop", p)
		}
	})
	return c
}

// ray runs the ray command with the cluster's environment (and env added).
func (c *testCluster) ray(args ...string) (string, error) {
	return c.rayEnv(nil, args...)
}

func (c *testCluster) rayEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append([]string{}, c.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRay runs the ray command and fails the test when it fails.
func (c *testCluster) mustRay(args ...string) string {
	c.t.Helper()
	out, err := c.ray(args...)
	if err != nil {
		c.t.Fatalf("ray %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// startHead starts the head on 127.0.0.1 with a free port.
func (c *testCluster) startHead(args ...string) string {
	c.t.Helper()
	out := c.mustRay(append([]string{"start", "--head", "--port=0", "--object-store-memory=50000000"}, args...)...)
	raw, err := os.ReadFile(filepath.Join(c.root, "ray_current_cluster"))
	if err != nil {
		c.t.Fatalf("the head recorded no address: %v\n%s", err, out)
	}
	c.addr = strings.TrimSpace(string(raw))
	if !strings.Contains(out, "ray start --address='"+c.addr+"'") || !strings.Contains(out, "RAY_ADDRESS='"+c.addr+"'") {
		c.t.Errorf("ray start --head does not say how to join and connect:\n%s", out)
	}
	return out
}

// processes lists the processes (nodes and workers) whose environment names this cluster's root.
func (c *testCluster) processes() []int {
	var out []int
	for _, p := range myProcs() {
		if p.env["RAY_TMPDIR"] == c.root || p.env[envDaemonRoot] == c.root {
			out = append(out, p.pid)
		}
	}
	return out
}

// nodePID is the pid of the node daemon started with --node-ip-address=ip (the head: "").
func (c *testCluster) nodePID(ip string) int {
	c.t.Helper()
	for _, p := range myProcs() {
		if p.env[envDaemonRoot] != c.root {
			continue
		}
		joined := strings.Join(p.args, " ")
		if (ip == "" && strings.Contains(joined, "--head")) || (ip != "" && strings.Contains(joined, "--node-ip-address="+ip)) {
			return p.pid
		}
	}
	c.t.Fatalf("no node at %q runs", ip)
	return 0
}

var activeLine = regexp.MustCompile(`(?m)^ 1 node_[0-9a-f]+$`)

// statusSections splits `ray status` into its active node count, its failure lines and its
// usage lines.
func statusSections(out string) (active int, failures, usage []string) {
	section := ""
	for _, line := range strings.Split(out, "\n") {
		switch strings.TrimSpace(line) {
		case "Active:", "Pending:", "Recent failures:", "Total Usage:", "Total Constraints:", "Total Demands:":
			section = strings.TrimSpace(line)
			continue
		}
		if !strings.HasPrefix(line, " ") {
			section = ""
			continue
		}
		switch section {
		case "Active:":
			if activeLine.MatchString(line) {
				active++
			}
		case "Recent failures:":
			if !strings.Contains(line, "(no failures)") {
				failures = append(failures, strings.TrimSpace(line))
			}
		case "Total Usage:":
			usage = append(usage, strings.TrimSpace(line))
		}
	}
	return active, failures, usage
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A head and two nodes on loopback addresses: `ray status` shows the three with their
// resources; `ray stop` ends every process.
func TestClusterStartStatusStop(t *testing.T) {
	c := newTestCluster(t)
	c.startHead("--num-cpus=2")
	nodePort, objectPort := freePort(t, "127.0.0.2"), freePort(t, "127.0.0.2")
	out := c.mustRay("start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--num-cpus=1", `--resources={"r1": 2}`, "--object-store-memory=50000000",
		fmt.Sprintf("--node-manager-port=%d", nodePort), fmt.Sprintf("--object-manager-port=%d", objectPort))
	if !strings.Contains(out, "Ray runtime started.") || !strings.Contains(out, "Local node IP: 127.0.0.2") {
		t.Errorf("a joining node says:\n%s", out)
	}
	// The node serves other nodes, and its objects' bytes, on the ports it was given.
	for _, port := range []int{nodePort, objectPort} {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.2:%d", port), 5*time.Second)
		if err != nil {
			t.Errorf("nothing listens on the port given to ray start: %v", err)
			continue
		}
		conn.Close()
	}
	c.mustRay("start", "--address=auto", "--node-ip-address=127.0.0.3", "--num-cpus=1", "--object-store-memory=50000000")

	status := c.mustRay("status")
	if !strings.HasPrefix(status, "======== Autoscaler status: ") {
		t.Errorf("ray status does not start as Ray's:\n%s", status)
	}
	active, failures, usage := statusSections(status)
	if active != 3 || len(failures) != 0 {
		t.Errorf("ray status: %d active nodes, failures %v; want 3 and none:\n%s", active, failures, status)
	}
	for _, want := range []string{"0.0/4.0 CPU", "0.0/2.0 r1", "0B/143.05MiB object_store_memory"} {
		if !contains(usage, want) {
			t.Errorf("ray status usage %v lacks %q", usage, want)
		}
	}
	if v := c.mustRay("status", "-v", "--address="+c.addr); strings.Count(v, "\nNode: ") != 3 {
		t.Errorf("ray status -v does not break usage down by node:\n%s", v)
	}

	out = c.mustRay("stop")
	if !strings.Contains(out, "Stopped all") {
		t.Errorf("ray stop says %q", out)
	}
	if left := c.processes(); len(left) != 0 {
		t.Errorf("processes left after ray stop: %v", left)
	}
	out, err := c.ray("status")
	if err == nil || !strings.Contains(out, "cannot reach the cluster") {
		t.Errorf("ray status of a stopped cluster: %v\n%s", err, out)
	}
	if out := c.mustRay("stop"); !strings.Contains(out, "Did not find any active Ray processes.") {
		t.Errorf("ray stop with nothing running says %q", out)
	}
}

// The cluster is closed: its token is a 0600 file `ray get-auth-token` prints; calls without it
// or with another are refused, from gRPC clients, nodes and the CLI alike.
func TestClusterTokenRefusesStrangers(t *testing.T) {
	c := newTestCluster(t)
	out := c.startHead("--num-cpus=1")
	tokenPath := filepath.Join(c.home, ".ray", "auth_token")
	if !strings.Contains(out, tokenPath) {
		t.Errorf("ray start --head does not say where the token is:\n%s", out)
	}
	st, err := os.Stat(tokenPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, st)
	}
	token, err := auth.ReadFile(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(c.mustRay("get-auth-token")); got != token {
		t.Errorf("ray get-auth-token printed %q, not the token file's", got)
	}

	conn, err := grpc.Dial(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store := pb.NewControlStoreClient(conn)
	if _, err := store.GetAllNodes(ctx, &pb.GetAllNodesRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a call without the token: %v, want Unauthenticated", err)
	}
	if _, err := store.RegisterNode(ctx, &pb.RegisterNodeRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a node registration without the token: %v, want Unauthenticated", err)
	}
	wrong := strings.Repeat("0", 64)
	if _, err := store.GetAllNodes(ctx, &pb.GetAllNodesRequest{}, grpc.PerRPCCredentials(bearer(wrong))); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a call with a wrong token: %v, want PermissionDenied", err)
	}
	if _, err := store.GetAllNodes(ctx, &pb.GetAllNodesRequest{}, grpc.PerRPCCredentials(bearer(token))); err != nil {
		t.Errorf("a call with the token: %v", err)
	}

	// The CLI and a node without the token, or with another one.
	out, err = c.rayEnv([]string{auth.EnvToken + "=" + wrong}, "status")
	if err == nil || !strings.Contains(out, "refused this process's token") {
		t.Errorf("ray status with a wrong token: %v\n%s", err, out)
	}
	out, err = c.rayEnv([]string{"HOME=" + t.TempDir()}, "start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--object-store-memory=50000000")
	if err == nil || !strings.Contains(out, "no auth token found") {
		t.Errorf("a node without a token: %v\n%s", err, out)
	}
	out, err = c.rayEnv([]string{auth.EnvToken + "=" + wrong}, "start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--object-store-memory=50000000")
	if err == nil || !strings.Contains(out, "refused this process's token") {
		t.Errorf("a node with a wrong token: %v\n%s", err, out)
	}
	// The token from the environment, as on another machine.
	if out, err := c.rayEnv([]string{"HOME=" + t.TempDir(), auth.EnvToken + "=" + token}, "status"); err != nil {
		t.Errorf("ray status with RAY_AUTH_TOKEN: %v\n%s", err, out)
	}
	pathFile := filepath.Join(t.TempDir(), "token")
	if err := auth.WriteFile(pathFile, token); err != nil {
		t.Fatal(err)
	}
	if out, err := c.rayEnv([]string{"HOME=" + t.TempDir(), auth.EnvTokenPath + "=" + pathFile}, "status"); err != nil {
		t.Errorf("ray status with RAY_AUTH_TOKEN_PATH: %v\n%s", err, out)
	}
	// A second head on the same port is refused clearly.
	_, port, _ := strings.Cut(c.addr, ":")
	out, err = c.ray("start", "--head", "--port="+port, "--object-store-memory=50000000")
	if err == nil || !strings.Contains(out, "address already in use") {
		t.Errorf("a head on a port in use: %v\n%s", err, out)
	}
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// A node killed with SIGKILL misses its health checks and is shown dead; a node started again
// joins cleanly; the rest of the cluster goes on.
func TestClusterNodeDeathAndRejoin(t *testing.T) {
	c := newTestCluster(t, "RAY_health_check_period_ms=100", "RAY_health_check_failure_threshold=5")
	c.startHead("--num-cpus=1")
	c.mustRay("start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--num-cpus=1", "--object-store-memory=50000000")
	if active, _, _ := statusSections(c.mustRay("status")); active != 2 {
		t.Fatalf("%d active nodes, want 2", active)
	}
	if err := syscall.Kill(c.nodePID("127.0.0.2"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		out = c.mustRay("status")
		active, failures, _ := statusSections(out)
		if active == 1 && len(failures) == 1 && strings.Contains(failures[0], "(ip: 127.0.0.2)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed node is not shown dead:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := c.mustRay("status", "-v"); !strings.Contains(v, "missed") {
		t.Errorf("ray status -v does not say why the node died:\n%s", v)
	}
	c.mustRay("start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--num-cpus=1", "--object-store-memory=50000000")
	out = c.mustRay("status")
	if active, failures, usage := statusSections(out); active != 2 || len(failures) != 1 || !contains(usage, "0.0/2.0 CPU") {
		t.Errorf("after the node started again: %d active, failures %v, usage %v:\n%s", active, failures, usage, out)
	}
}

// Bad flags get clear errors and start nothing.
func TestStartRefusesBadFlags(t *testing.T) {
	c := newTestCluster(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"start"}, "either --head or --address"},
		{[]string{"start", "--head", "--address=127.0.0.1:1"}, "either --head or --address"},
		{[]string{"start", "--head", "--port=70000"}, "not a port number"},
		{[]string{"start", "--head", "--node-manager-port=-1"}, "--node-manager-port -1 is not a port number"},
		{[]string{"start", "--head", "--object-manager-port=65536"}, "--object-manager-port 65536 is not a port number"},
		{[]string{"start", "--head", "--node-manager-port=40001", "--object-manager-port=40001"}, "must differ"},
		{[]string{"start", "--head", "--port=40002", "--object-manager-port=40002"}, "must differ"},
		{[]string{"start", "--head", "--node-ip-address=0.0.0.0"}, "not an IP address"},
		{[]string{"start", "--head", "--num-cpus=-1"}, "num-cpus"},
		{[]string{"start", "--head", "--resources={bad"}, "JSON"},
		{[]string{"start", "--head", "--include-dashboard=maybe"}, "true or false"},
		{[]string{"start", "--address=127.0.0.1:notaport"}, "not a port number"},
		{[]string{"start", "--address=auto"}, "no cluster was started"},
		{[]string{"stop", "--grace-period=-1"}, "grace-period"},
	}
	for _, tc := range cases {
		out, err := c.ray(tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("ray %s: %v, %q; want an error saying %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	if left := c.processes(); len(left) != 0 {
		t.Errorf("processes started by refused commands: %v", left)
	}
}

// writeTLSFiles makes a CA and one certificate (for servers and clients, valid for 127.0.0.1-4)
// signed by it, and returns the environment that turns TLS on with them.
func writeTLSFiles(t *testing.T) []string {
	t.Helper()
	cert, key, ca := testutil.WriteCerts(t, t.TempDir(), "cluster", "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
	return []string{"RAY_USE_TLS=1", "RAY_TLS_CA_CERT=" + ca, "RAY_TLS_SERVER_CERT=" + cert, "RAY_TLS_SERVER_KEY=" + key}
}

// With Ray's TLS variables, the nodes talk TLS (mutual, with the token on top): a node joins and
// `ray status` reads the cluster over it, while a client without TLS cannot even connect.
func TestClusterTLS(t *testing.T) {
	c := newTestCluster(t, writeTLSFiles(t)...)
	c.startHead("--num-cpus=1")
	c.mustRay("start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--num-cpus=1", "--object-store-memory=50000000")
	if active, _, _ := statusSections(c.mustRay("status")); active != 2 {
		t.Fatalf("%d active nodes over TLS, want 2", active)
	}
	token, err := auth.ReadFile(filepath.Join(c.home, ".ray", "auth_token"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.Dial(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pb.NewControlStoreClient(conn).GetAllNodes(ctx, &pb.GetAllNodesRequest{}, grpc.PerRPCCredentials(bearer(token))); status.Code(err) != codes.Unavailable {
		t.Errorf("a plain-text client of a TLS cluster: %v, want Unavailable", err)
	}
	out, err := c.rayEnv([]string{"RAY_USE_TLS=0"}, "status")
	if err == nil {
		t.Errorf("ray status without TLS against a TLS cluster succeeded:\n%s", out)
	}
}

// A node that was paused long enough to be held dead stops once it runs again (the cluster has
// moved its work; it must not run it twice), as Ray's raylet does: its process ends.
func TestClusterNodeHeldDeadStops(t *testing.T) {
	c := newTestCluster(t, "RAY_health_check_period_ms=100", "RAY_health_check_failure_threshold=5")
	c.startHead("--num-cpus=1")
	c.mustRay("start", "--address="+c.addr, "--node-ip-address=127.0.0.2", "--num-cpus=1", "--object-store-memory=50000000")
	pid := c.nodePID("127.0.0.2")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, failures, _ := statusSections(c.mustRay("status")); len(failures) == 1 {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			t.Fatal("the paused node is not held dead")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatal("the node held dead still runs after it woke up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if active, failures, _ := statusSections(c.mustRay("status")); active != 1 || len(failures) != 1 {
		t.Errorf("after the node stopped: %d active, failures %v; want the head alone and the node dead", active, failures)
	}
}

// freePort is a TCP port free on ip now (the OS's choice).
func freePort(t *testing.T, ip string) int {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}
