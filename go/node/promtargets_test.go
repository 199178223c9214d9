package node

import (
	"os"
	"path/filepath"
	"testing"

	pb "goray/rpc/proto"
)

// The head's Prometheus discovery file: the live nodes' metrics endpoints, sorted, rewritten
// only when they change.
func TestPromTargets(t *testing.T) {
	node := func(addr string, port int32, alive bool) *pb.NodeInfo {
		return &pb.NodeInfo{Address: addr, MetricsExportPort: port, Alive: alive}
	}
	cases := []struct {
		name  string
		nodes []*pb.NodeInfo
		want  string
	}{
		{"none", nil, `[{"labels":{"job":"ray"},"targets":[]}]`},
		{"live nodes with a port, sorted", []*pb.NodeInfo{node("127.0.0.2", 9001, true), node("127.0.0.1", 9000, true),
			node("127.0.0.3", 9002, false), node("127.0.0.4", 0, true)},
			`[{"labels":{"job":"ray"},"targets":["127.0.0.1:9000","127.0.0.2:9001"]}]`},
		{"IPv6", []*pb.NodeInfo{node("::1", 9000, true)}, `[{"labels":{"job":"ray"},"targets":["[::1]:9000"]}]`},
	}
	for _, c := range cases {
		if got := string(promTargetsJSON(c.nodes)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}

	p := promTargets{path: promDiscoveryPath(t.TempDir())}
	p.write([]*pb.NodeInfo{node("127.0.0.1", 9000, true)})
	data, err := os.ReadFile(p.path)
	if err != nil || string(data) != `[{"labels":{"job":"ray"},"targets":["127.0.0.1:9000"]}]` {
		t.Fatalf("the file: %q %v", data, err)
	}
	if err := os.WriteFile(p.path, []byte("changed by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.write([]*pb.NodeInfo{node("127.0.0.1", 9000, true)})
	if data, _ := os.ReadFile(p.path); string(data) != "changed by hand" {
		t.Error("the same targets are not written again")
	}
	p.write(nil)
	if data, _ := os.ReadFile(p.path); string(data) != `[{"labels":{"job":"ray"},"targets":[]}]` {
		t.Errorf("new targets are written: %q", data)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p.path)); len(entries) != 1 {
		t.Errorf("no temporary file is left: %v", entries)
	}
	p.remove()
	if _, err := os.Stat(p.path); !os.IsNotExist(err) {
		t.Errorf("the file is gone when the head stops: %v", err)
	}
	none := &promTargets{} // (a node that writes none)
	none.write(nil)
	none.remove()
}
