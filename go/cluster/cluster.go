// Package cluster is what a process needs to reach a goray cluster started with `ray start`: the
// address (RAY_ADDRESS, "auto"), the cluster's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH,
// ~/.ray/auth_token, as Ray's token mode), a connection to the control store that carries it, and
// the choice of the node a driver attaches to: a node of its own machine.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"goray/rpc/auth"
	pb "goray/rpc/proto"
	"goray/session"
)

// DefaultPort is the control store's port unless `ray start --port` says otherwise (Ray's GCS
// port).
const DefaultPort = 6379

// CurrentClusterFile is the file under the session root where `ray start --head` writes its
// control store's address, for RAY_ADDRESS=auto (Ray's ray_current_cluster).
const CurrentClusterFile = "ray_current_cluster"

// DefaultTokenPath is where the cluster token is kept unless RAY_AUTH_TOKEN or
// RAY_AUTH_TOKEN_PATH say otherwise: ~/.ray/auth_token, as Ray keeps it.
func DefaultTokenPath() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".ray", "auth_token")
}

// Token finds the token a process presents to the cluster.
func Token() (string, error) {
	token, err := auth.Resolve(DefaultTokenPath())
	if errors.Is(err, auth.ErrNoToken) {
		return "", fmt.Errorf("%w (the cluster is closed by its token: on the head's machine `ray start --head` keeps it in %s; elsewhere set RAY_AUTH_TOKEN to the output of `ray get-auth-token` on the head, or RAY_AUTH_TOKEN_PATH to a file holding it)", err, DefaultTokenPath())
	}
	return token, err
}

// HeadToken is the token `ray start --head` closes the cluster with: the one a process would
// present (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token), or else a new random one,
// written (0600) to RAY_AUTH_TOKEN_PATH when it is set, else to ~/.ray/auth_token. created says
// whether it is new, and path where it is kept ("" when it came from RAY_AUTH_TOKEN).
func HeadToken() (token, path string, created bool, err error) {
	token, err = Token()
	if err == nil {
		switch {
		case strings.TrimSpace(os.Getenv(auth.EnvToken)) != "":
			return token, "", false, nil
		case os.Getenv(auth.EnvTokenPath) != "":
			return token, os.Getenv(auth.EnvTokenPath), false, nil
		}
		return token, DefaultTokenPath(), false, nil
	}
	// No token yet: make one (also at a RAY_AUTH_TOKEN_PATH that names no file yet).
	if !errors.Is(err, auth.ErrNoToken) && !errors.Is(err, os.ErrNotExist) {
		return "", "", false, err
	}
	path = os.Getenv(auth.EnvTokenPath)
	if path == "" {
		path = DefaultTokenPath()
	}
	if path == "" {
		return "", "", false, fmt.Errorf("no home directory to keep the cluster token in: set RAY_AUTH_TOKEN_PATH")
	}
	if token, err = auth.Generate(); err != nil {
		return "", "", false, err
	}
	if err := auth.WriteFile(path, token); err != nil {
		return "", "", false, fmt.Errorf("writing the cluster token: %w", err)
	}
	return token, path, true, nil
}

// NormalizeAddress checks a control store address (host:port, or a host alone for the default
// port) and returns it as host:port. "auto" is the cluster last started with `ray start --head`
// on this machine under root (RAY_TMPDIR or /tmp/ray).
func NormalizeAddress(addr, root string) (string, error) {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimPrefix(addr, "ray://")
	if addr == "auto" {
		path := filepath.Join(root, CurrentClusterFile)
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("address \"auto\": no cluster was started on this machine under %s (%v): start one with `ray start --head` or give its address", root, err)
		}
		// The root may be shared (/tmp/ray): trust only this user's file, which others cannot
		// have written (the token goes to the address in it).
		if st, err := os.Stat(path); err != nil || !session.Mine(st) || st.Mode().Perm()&0o022 != 0 {
			return "", fmt.Errorf("address \"auto\": %s is not this user's own file (or others may write it): give the cluster's address", path)
		}
		addr = strings.TrimSpace(string(raw))
	}
	if addr == "" {
		return "", fmt.Errorf("an empty cluster address")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			host, port = addr, strconv.Itoa(DefaultPort)
		} else {
			return "", fmt.Errorf("cluster address %q: want HOST:PORT (%v)", addr, err)
		}
	}
	if host == "" {
		return "", fmt.Errorf("cluster address %q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("cluster address %q: port %q is not a port number", addr, port)
	}
	return net.JoinHostPort(host, port), nil
}

// WriteCurrentCluster records addr as the cluster started last under root (for "auto").
func WriteCurrentCluster(root, addr string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	path := filepath.Join(root, CurrentClusterFile)
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Dial connects to the control store at addr (host:port) presenting token, over TLS when
// RAY_USE_TLS says so.
func Dial(addr, token string) (*grpc.ClientConn, error) {
	opts, err := auth.DialOptions(token)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.Dial(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster at %s: %w", addr, err)
	}
	return conn, nil
}

// Nodes lists the cluster's nodes, with a clear error when the control store cannot be reached
// or refuses the token.
func Nodes(ctx context.Context, conn *grpc.ClientConn, addr string) ([]*pb.NodeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rep, err := pb.NewControlStoreClient(conn).GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if err != nil {
		return nil, Explain(err, addr)
	}
	return rep.Nodes, nil
}

// ChooseLocalNode picks the node a driver of this machine attaches to, among the alive nodes
// whose node manager socket exists here (exists) and whose host name is this machine's: the
// node at ip when ip is given (the driver's --ray_node_ip_address), else the node at the
// control store's host, else the head, else the oldest. It says why when there is none.
func ChooseLocalNode(nodes []*pb.NodeInfo, hostname, ip, gcsHost string, exists func(path string) bool) (*pb.NodeInfo, error) {
	var local []*pb.NodeInfo
	for _, n := range nodes {
		if n.Alive && n.RayletSocket != "" && n.Hostname == hostname && exists(n.RayletSocket) {
			local = append(local, n)
		}
	}
	sort.SliceStable(local, func(i, j int) bool { return local[i].StartTimeMs < local[j].StartTimeMs })
	if ip != "" {
		for _, n := range local {
			if n.Address == ip {
				return n, nil
			}
		}
		return nil, fmt.Errorf("no node of the cluster runs on this machine (%s) at %s: start one with `ray start --address=... --node-ip-address=%s`, or leave the node IP address unset", hostname, ip, ip)
	}
	if len(local) == 0 {
		alive := 0
		for _, n := range nodes {
			if n.Alive {
				alive++
			}
		}
		return nil, fmt.Errorf("no node of the cluster runs on this machine (%s; the cluster has %d alive nodes): a driver attaches to the node of its own machine, so start one here with `ray start --address=<head>`", hostname, alive)
	}
	for _, n := range local {
		if n.Address == gcsHost {
			return n, nil
		}
	}
	for _, n := range local {
		if n.IsHead {
			return n, nil
		}
	}
	return local[0], nil
}

// Explain turns a failed call to the control store at addr into an error a user can act on.
func Explain(err error, addr string) error {
	switch status.Code(err) {
	case codes.Unauthenticated:
		return fmt.Errorf("the cluster at %s refused this process: it presented no token (%v); set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH", addr, status.Convert(err).Message())
	case codes.PermissionDenied:
		return fmt.Errorf("the cluster at %s refused this process's token: it is not the cluster's (see `ray get-auth-token` on the head)", addr)
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("cannot reach the cluster at %s: is it running (`ray start --head`) and is the address right? (%v)", addr, status.Convert(err).Message())
	}
	return fmt.Errorf("the cluster at %s: %w", addr, err)
}
