package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goray/rpc/auth"
	pb "goray/rpc/proto"
)

// Which node a driver of this machine attaches to.
func TestChooseLocalNode(t *testing.T) {
	node := func(name, ip, host string, start int64, head, alive bool) *pb.NodeInfo {
		return &pb.NodeInfo{NodeId: []byte(name), Address: ip, Hostname: host, StartTimeMs: start, IsHead: head, Alive: alive, RayletSocket: "/s/" + name}
	}
	here := func(p string) bool { return !strings.HasSuffix(p, "gone") }
	head := node("head", "127.0.0.1", "vm", 1, true, true)
	b := node("b", "127.0.0.2", "vm", 2, false, true)
	c := node("c", "127.0.0.3", "vm", 3, false, true)
	far := node("far", "10.0.0.9", "other", 0, false, true)
	dead := node("dead", "127.0.0.4", "vm", 0, false, false)
	gone := node("gone", "127.0.0.5", "vm", 0, false, true)
	cases := []struct {
		name    string
		nodes   []*pb.NodeInfo
		ip, gcs string
		want    string // node id, or "error: ..." text
	}{
		{"the node at the control store's host", []*pb.NodeInfo{c, b, head}, "", "127.0.0.2", "b"},
		{"the head when no node is at the store's host", []*pb.NodeInfo{c, b, head}, "", "10.1.1.1", "head"},
		{"the oldest without a head", []*pb.NodeInfo{c, b}, "", "10.1.1.1", "b"},
		{"the node at the driver's IP", []*pb.NodeInfo{c, b, head}, "127.0.0.3", "127.0.0.1", "c"},
		{"no node at the driver's IP", []*pb.NodeInfo{b, head}, "127.0.0.3", "127.0.0.1", "error: at 127.0.0.3"},
		{"another machine's nodes, dead nodes and missing sockets do not count", []*pb.NodeInfo{far, dead, gone}, "", "127.0.0.1", "error: no node of the cluster runs on this machine"},
		{"a dead node's IP", []*pb.NodeInfo{dead, head}, "127.0.0.4", "127.0.0.1", "error: at 127.0.0.4"},
	}
	for _, tc := range cases {
		got, err := ChooseLocalNode(tc.nodes, "vm", tc.ip, tc.gcs, here)
		switch {
		case strings.HasPrefix(tc.want, "error: "):
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(tc.want, "error: ")) {
				t.Errorf("%s: %v, %v; want %s", tc.name, got, err, tc.want)
			}
		case err != nil || string(got.NodeId) != tc.want:
			t.Errorf("%s: %v, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

func TestNormalizeAddress(t *testing.T) {
	root := t.TempDir()
	cases := []struct{ in, want string }{
		{"127.0.0.1:6379", "127.0.0.1:6379"},
		{" 127.0.0.2:1234 ", "127.0.0.2:1234"},
		{"127.0.0.1", "127.0.0.1:6379"},
		{"ray://127.0.0.1:10001", "127.0.0.1:10001"},
		{"[::1]:6379", "[::1]:6379"},
		{"auto", "error: no cluster was started"},
		{"", "error: empty"},
		{":6379", "error: no host"},
		{"127.0.0.1:0", "error: not a port number"},
		{"127.0.0.1:http", "error: not a port number"},
		{"a:b:c", "error: want HOST:PORT"},
	}
	for _, c := range cases {
		got, err := NormalizeAddress(c.in, root)
		if strings.HasPrefix(c.want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(c.want, "error: ")) {
				t.Errorf("%q: %q, %v; want %s", c.in, got, err, c.want)
			}
		} else if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %s", c.in, got, err, c.want)
		}
	}
	if err := WriteCurrentCluster(root, "127.0.0.1:4321"); err != nil {
		t.Fatal(err)
	}
	if got, err := NormalizeAddress("auto", root); err != nil || got != "127.0.0.1:4321" {
		t.Errorf("auto: %q, %v", got, err)
	}
}

// The head's token: made once (0600) where processes look for it, and kept after that.
func TestHeadToken(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(auth.EnvToken, "")
	t.Setenv(auth.EnvTokenPath, "")
	if _, err := Token(); err == nil || !strings.Contains(err.Error(), "get-auth-token") {
		t.Fatalf("no token anywhere: %v", err)
	}
	token, path, created, err := HeadToken()
	if err != nil || !created || path != filepath.Join(home, ".ray", "auth_token") {
		t.Fatalf("first head: %v %q %v", err, path, created)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file %v", st)
	}
	again, _, created, err := HeadToken()
	if err != nil || created || again != token {
		t.Fatalf("second head: a new token (%v, %v)", created, err)
	}
	if got, err := Token(); err != nil || got != token {
		t.Fatalf("a client finds %q, %v", got, err)
	}
	other := filepath.Join(t.TempDir(), "tok")
	t.Setenv(auth.EnvTokenPath, other)
	token2, path, created, err := HeadToken()
	if err != nil || !created || path != other || token2 == token {
		t.Fatalf("with RAY_AUTH_TOKEN_PATH: %v %q %v", err, path, created)
	}
	t.Setenv(auth.EnvToken, strings.Repeat("ab", 20))
	if got, path, created, err := HeadToken(); err != nil || created || path != "" || got != strings.Repeat("ab", 20) {
		t.Fatalf("with RAY_AUTH_TOKEN: %q %q %v %v", got, path, created, err)
	}
}
