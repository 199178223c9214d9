package node

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/golang/glog"

	pb "goray/rpc/proto"
)

// PromDiscoveryFile is the head's Prometheus service discovery file, in the temp dir (as Ray's
// /tmp/ray/prom_metrics_service_discovery.json): a file_sd_configs file that names the /metrics
// endpoint of every live node of the cluster, so that one Prometheus scrape config finds them
// all as they come and go.
const PromDiscoveryFile = "prom_metrics_service_discovery.json"

// promTargetGroup is one group of Prometheus' file-based service discovery.
type promTargetGroup struct {
	Labels  map[string]string `json:"labels"`
	Targets []string          `json:"targets"`
}

// promTargetsJSON is the discovery file for nodes: the metrics endpoints of the live ones, sorted.
func promTargetsJSON(nodes []*pb.NodeInfo) []byte {
	targets := []string{}
	for _, n := range nodes {
		if n.Alive && n.MetricsExportPort > 0 && n.Address != "" {
			targets = append(targets, net.JoinHostPort(n.Address, strconv.Itoa(int(n.MetricsExportPort))))
		}
	}
	sort.Strings(targets)
	data, _ := json.Marshal([]promTargetGroup{{Labels: map[string]string{"job": "ray"}, Targets: targets}})
	return data
}

// promTargets keeps the head's discovery file up to date.
type promTargets struct {
	path string // "" on a node that writes none
	last string // what the file holds
}

// write rewrites the file when the nodes' endpoints changed (atomically: Prometheus may read it
// at any time).
func (p *promTargets) write(nodes []*pb.NodeInfo) {
	if p.path == "" {
		return
	}
	data := promTargetsJSON(nodes)
	if string(data) == p.last {
		return
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		glog.Warningf("metrics: the Prometheus discovery file: %v", err)
		return
	}
	if err := os.Rename(tmp, p.path); err != nil {
		glog.Warningf("metrics: the Prometheus discovery file: %v", err)
		_ = os.Remove(tmp)
		return
	}
	p.last = string(data)
}

// promDiscoveryPath is where a head started with opts writes the discovery file.
func promDiscoveryPath(tempDir string) string {
	return filepath.Join(tempDir, PromDiscoveryFile)
}

// remove deletes the file this node wrote (its targets end with the cluster).
func (p *promTargets) remove() {
	if p.path != "" && p.last != "" {
		_ = os.Remove(p.path)
	}
}
