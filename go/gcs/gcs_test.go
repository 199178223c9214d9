package gcs

import (
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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

func TestNodesOverGRPC(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	if _, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{}); err == nil {
		t.Fatal("node without id accepted")
	}
	for i, id := range []string{"b", "a"} {
		_, err := c.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: &pb.NodeInfo{NodeId: []byte(id), Alive: true, StartTimeMs: int64(i), Resources: map[string]float64{"CPU": 2}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: []byte("zz")}); err == nil {
		t.Fatal("unknown node unregistered")
	}
	r, err := c.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Nodes) != 2 || string(r.Nodes[0].NodeId) != "b" || r.Nodes[1].Alive || r.Nodes[0].Resources["CPU"] != 2 {
		t.Fatalf("nodes: %v", r.Nodes)
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
