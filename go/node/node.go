// Package node runs a whole node in this process: a session directory, the control store (GCS)
// and the node manager (raylet), each serving gRPC on a unix socket of the session. ray::Init()
// with no address starts one inside the driver; `ray start --head` will run the same code as a
// daemon.
package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"goray/gcs"
	"goray/ownerlock"
	"goray/raylet"
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
	// ObjectStoreMemory sizes the shared-memory object store (0: DefaultObjectStoreMemory; -1: none).
	ObjectStoreMemory int64
}

// Node is a running node.
type Node struct {
	Session *session.Session
	GCS     *gcs.Server
	Raylet  *raylet.Raylet
	cleaned chan struct{} // closed once what dead sessions left is removed
}

// Start creates the session and starts the control store and the node manager.
func Start(opts Options) (*Node, error) {
	sess, err := session.Create(session.Root(opts.TempDir), opts.SessionDir, opts.LogsDir)
	if err != nil {
		return nil, err
	}
	session.SetupLogging(sess.LogsDir)
	n := &Node{Session: sess, GCS: gcs.New(), cleaned: make(chan struct{})}
	// What dead sessions left (a driver killed with SIGKILL cannot clean up): their arenas in
	// /dev/shm, spilled objects, sockets and old logs; off the path of Init.
	go func() {
		defer close(n.cleaned)
		removeStaleArenas()
		session.CleanDead(session.Root(opts.TempDir), session.DefaultKeepLogs)
	}()
	if err := n.GCS.Serve(sess.Socket("gcs")); err != nil {
		n.endSession()
		return nil, err
	}
	memory := storeMemory(opts.ObjectStoreMemory)
	n.Raylet = raylet.New(raylet.Config{
		SessionDir:     sess.Dir,
		LogsDir:        sess.LogsDir,
		SocketPath:     sess.Socket("raylet"),
		Resources:      opts.Resources,
		WorkerCommand:  opts.WorkerCommand,
		CodeSearchPath: opts.CodeSearchPath,
		DriverExe:      opts.DriverExe,
		Namespace:      opts.Namespace,

		ObjectStoreMemory: memory,
		ArenaPath:         arenaPath(sess.Dir, memory),
		SpillDir:          filepath.Join(sess.Dir, "spill"),
	})
	if err := n.Raylet.Start(); err != nil {
		n.GCS.Stop()
		n.endSession()
		return nil, err
	}
	if err := n.register(opts.NodeIP); err != nil {
		n.Stop()
		return nil, err
	}
	glog.Infof("node started in %s", sess.Dir)
	return n, nil
}

// register records the node in the control store, over gRPC like any other process would.
func (n *Node) register(ip string) error {
	if ip == "" {
		ip = "127.0.0.1"
	}
	conn, err := grpc.Dial("unix://"+n.Session.Socket("gcs"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to the control store: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := n.Raylet.NodeID()
	_, err = pb.NewControlStoreClient(conn).RegisterNode(ctx, &pb.RegisterNodeRequest{Node: &pb.NodeInfo{
		NodeId: id[:], Address: ip, Resources: n.Raylet.Resources(), Alive: true, StartTimeMs: time.Now().UnixMilli(),
	}})
	if err != nil {
		return fmt.Errorf("registering the node with the control store: %w", err)
	}
	return nil
}

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

// removeStaleArenas deletes the arenas of this user's nodes that are gone (a driver killed with
// SIGKILL cannot remove its own): their memory would otherwise stay in /dev/shm. A node holds its
// arena's owner lock while it lives (go/ownerlock), so an arena whose lock is free is stale.
func removeStaleArenas() {
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
	return mem * 3 / 10
}

// RayletSocket is the path core workers connect to.
func (n *Node) RayletSocket() string { return n.Session.Socket("raylet") }

// Stop stops the node manager (and with it every worker) and the control store, and ends the
// session.
func (n *Node) Stop() {
	n.Raylet.Stop()
	n.GCS.Stop()
	n.endSession()
	glog.Flush()
}

// endSession waits for the cleaning of dead sessions and releases this session's lock.
func (n *Node) endSession() {
	<-n.cleaned
	n.Session.Close()
}
