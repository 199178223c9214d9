package gcs

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"goray/ids"
	pb "goray/rpc/proto"
)

func startServer(t *testing.T) pb.ControlStoreClient {
	t.Helper()
	s := New()
	sock := filepath.Join(t.TempDir(), "gcs")
	if err := s.Serve(sock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	conn, err := grpc.Dial("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewControlStoreClient(conn)
}

// nodeID returns a node id of the right size whose bytes are all b.
func nodeID(b byte) []byte {
	id := make([]byte, ids.UniqueIDSize)
	for i := range id {
		id[i] = b
	}
	return id
}

func TestNodesOverGRPC(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	if _, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{}); err == nil {
		t.Fatal("node without id accepted")
	}
	now := time.Now().UnixMilli()
	for i, id := range [][]byte{nodeID('b'), nodeID('a')} {
		_, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: &pb.NodeInfo{NodeId: id, Address: "127.0.0.1", Alive: true, StartTimeMs: now + int64(i), Resources: map[string]float64{"CPU": 2}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: nodeID('a')}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: nodeID('z')}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown node unregistered: %v", err)
	}
	r, err := c.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Nodes) != 2 || !bytes.Equal(r.Nodes[0].NodeId, nodeID('b')) || r.Nodes[1].Alive || r.Nodes[0].Resources["CPU"] != 2 {
		t.Fatalf("nodes: %v", r.Nodes)
	}
}

// Every control-store call validates what it is given: ids, resources, addresses, start times and
// KV sizes. Each bad request is refused with InvalidArgument and a message that says what is
// wrong, and the store is unchanged afterwards. (Before, RegisterNode took a 3-byte id with
// CPU = -1e300 and the node list then showed two nodes.)
func TestBadRequestsAreRefused(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	now := time.Now()
	good := func() *pb.NodeInfo {
		return &pb.NodeInfo{NodeId: nodeID(1), Address: "127.0.0.1", Alive: true, StartTimeMs: now.UnixMilli(),
			Resources: map[string]float64{"CPU": 4, "GPU": 0}}
	}
	if _, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: good()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVPut(ctx, &pb.KVPutRequest{Namespace: "ns", Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	with := func(f func(n *pb.NodeInfo)) *pb.NodeInfo {
		n := good()
		n.NodeId = nodeID(2)
		f(n)
		return n
	}
	// register is a call that registers the node changed by f.
	register := func(f func(n *pb.NodeInfo)) func() error {
		return func() error {
			_, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: with(f)})
			return err
		}
	}
	long := strings.Repeat("k", MaxKVKeyBytes+1)
	cases := []struct {
		name string
		call func() error
		want []string
	}{
		{"3-byte id, CPU -1e300", register(func(n *pb.NodeInfo) {
			n.NodeId = []byte("abc")
			n.Resources["CPU"] = -1e300
		}), []string{"node id 616263", "3 bytes, want 16"}},
		{"no id", register(func(n *pb.NodeInfo) { n.NodeId = nil }), []string{"0 bytes"}},
		{"17-byte id", register(func(n *pb.NodeInfo) { n.NodeId = append(nodeID(2), 0) }), []string{"17 bytes"}},
		{"all-zero id", register(func(n *pb.NodeInfo) { n.NodeId = nodeID(0) }), []string{"all zero"}},
		{"negative CPU", register(func(n *pb.NodeInfo) { n.Resources["CPU"] = -1e300 }), []string{`"CPU"`, "-1e+300", "negative"}},
		{"NaN GPU", register(func(n *pb.NodeInfo) { n.Resources["GPU"] = math.NaN() }), []string{`"GPU"`, "NaN"}},
		{"infinite resource", register(func(n *pb.NodeInfo) { n.Resources["r"] = math.Inf(1) }), []string{`"r"`, "infinite"}},
		{"huge resource", register(func(n *pb.NodeInfo) { n.Resources["r"] = 1e18 }), []string{`"r"`, "too large"}},
		{"empty resource name", register(func(n *pb.NodeInfo) { n.Resources[""] = 1 }), []string{"empty name"}},
		{"no address", register(func(n *pb.NodeInfo) { n.Address = "" }), []string{"no address"}},
		{"address with a port", register(func(n *pb.NodeInfo) { n.Address = "127.0.0.1:6379" }), []string{`"127.0.0.1:6379"`, "neither an IP address nor a host name"}},
		{"garbage address", register(func(n *pb.NodeInfo) { n.Address = "host; rm -rf /" }), []string{"not allowed in a host name"}},
		{"bad IPv4", register(func(n *pb.NodeInfo) { n.Address = "10.0.0.256" }), []string{"looks like an IPv4 address"}},
		{"unspecified address", register(func(n *pb.NodeInfo) { n.Address = "0.0.0.0" }), []string{"unspecified"}},
		{"control character in address", register(func(n *pb.NodeInfo) { n.Address = "node1\n" }), []string{"not allowed"}},
		{"long address", register(func(n *pb.NodeInfo) { n.Address = strings.Repeat("a", 300) }), []string{"300 bytes"}},
		{"zero start time", register(func(n *pb.NodeInfo) { n.StartTimeMs = 0 }), []string{"start time 0"}},
		{"negative start time", register(func(n *pb.NodeInfo) { n.StartTimeMs = -5 }), []string{"start time -5"}},
		{"start time next year", register(func(n *pb.NodeInfo) { n.StartTimeMs = now.Add(365 * 24 * time.Hour).UnixMilli() }), []string{"in the future"}},
		{"unregister a 3-byte id", func() error {
			_, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: []byte("abc")})
			return err
		}, []string{"UnregisterNode", "3 bytes"}},
		{"unregister without id", func() error {
			_, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{})
			return err
		}, []string{"UnregisterNode", "0 bytes"}},
		{"KVPut without key", func() error {
			_, err := c.KVPut(ctx, &pb.KVPutRequest{Namespace: "ns", Value: []byte("x")})
			return err
		}, []string{"KVPut", "key is needed"}},
		{"KVPut long key", func() error {
			_, err := c.KVPut(ctx, &pb.KVPutRequest{Namespace: "ns", Key: long, Value: []byte("x")})
			return err
		}, []string{"KVPut", "4097 bytes", "at most 4096"}},
		{"KVPut long namespace", func() error {
			_, err := c.KVPut(ctx, &pb.KVPutRequest{Namespace: strings.Repeat("n", MaxKVNamespaceBytes+1), Key: "k", Value: []byte("x"), Overwrite: true})
			return err
		}, []string{"namespace", "1025 bytes"}},
		{"KVGet long key", func() error {
			_, err := c.KVGet(ctx, &pb.KVGetRequest{Namespace: "ns", Key: long})
			return err
		}, []string{"KVGet", "4097 bytes"}},
		{"KVGet without key", func() error {
			_, err := c.KVGet(ctx, &pb.KVGetRequest{Namespace: "ns"})
			return err
		}, []string{"KVGet", "key is needed"}},
	}
	for _, tc := range cases {
		err := tc.call()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: got %v, want InvalidArgument", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(status.Convert(err).Message(), w) {
				t.Errorf("%s: message %q lacks %q", tc.name, status.Convert(err).Message(), w)
			}
		}
	}
	// Nothing changed: one node, alive, as registered; the KV value as put.
	r, err := c.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Nodes) != 1 || !bytes.Equal(r.Nodes[0].NodeId, nodeID(1)) || !r.Nodes[0].Alive || r.Nodes[0].Resources["CPU"] != 4 {
		t.Fatalf("nodes after bad requests: %v", r.Nodes)
	}
	g, err := c.KVGet(ctx, &pb.KVGetRequest{Namespace: "ns", Key: "k"})
	if err != nil || !g.Found || string(g.Value) != "v" {
		t.Fatalf("KV after bad requests: %v %v", g, err)
	}
}

// Values over MaxKVValueBytes are refused (called directly: gRPC's default message limit is lower).
func TestKVValueLimit(t *testing.T) {
	s := New()
	ctx := context.Background()
	_, err := s.KVPut(ctx, &pb.KVPutRequest{Namespace: "ns", Key: "k", Value: make([]byte, MaxKVValueBytes+1)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversized value: %v", err)
	}
	if _, err := s.KVPut(ctx, &pb.KVPutRequest{Namespace: "ns", Key: "k", Value: make([]byte, 1<<20)}); err != nil {
		t.Fatal(err)
	}
}

// Good addresses: IPv4, IPv6 (with a zone), host names (fully qualified with a final dot, or
// with underscores, as machines are named).
func TestValidAddress(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "::1", "fe80::1%eth0", "2001:db8::2", "localhost", "node-1.example.com", "ip-10-0-0-1.ec2.internal", "h", "host.example.com.", "a.", "my_host", "under_score"} {
		if err := validAddress(a); err != nil {
			t.Errorf("%q refused: %v", a, err)
		}
	}
	for _, a := range []string{"", "0.0.0.0", "::", "1.2.3", "-host", "host-", "a..b", ".a", ".", "a..", "host name", "http://x", "[::1]", "127.0.0.1/8", "1.2.3.4.5", "ho\x00st"} {
		if err := validAddress(a); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

func TestKVAndJobIDs(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	put := func(v string, overwrite bool) bool {
		r, err := c.KVPut(ctx, &pb.KVPutRequest{Namespace: "ns", Key: "k", Value: []byte(v), Overwrite: overwrite})
		if err != nil {
			t.Fatal(err)
		}
		return r.Added
	}
	if !put("1", false) || put("2", false) || !put("3", true) {
		t.Fatal("overwrite rules broken")
	}
	g, _ := c.KVGet(ctx, &pb.KVGetRequest{Namespace: "ns", Key: "k"})
	if !g.Found || string(g.Value) != "3" {
		t.Fatalf("get: %v", g)
	}
	g, _ = c.KVGet(ctx, &pb.KVGetRequest{Namespace: "other", Key: "k"})
	if g.Found {
		t.Fatal("namespaces leak")
	}
	if _, err := c.KVPut(ctx, &pb.KVPutRequest{}); err == nil {
		t.Fatal("empty key accepted")
	}
	a, _ := c.NextJobID(ctx, &pb.NextJobIDRequest{})
	b, _ := c.NextJobID(ctx, &pb.NextJobIDRequest{})
	if a.JobId == 0 || b.JobId != a.JobId+1 {
		t.Fatalf("job ids %d %d", a.JobId, b.JobId)
	}
}
