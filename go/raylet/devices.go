package raylet

import (
	"os"
	"sort"
	"strconv"
	"strings"

	"goray/placement"
	"goray/resources"
	pb "goray/rpc/proto"
)

// GPUs: the ledger gives each allocation of GPU particular devices (resources.Devices), and the
// node tells the worker which, as Ray does: the worker sets CUDA_VISIBLE_DEVICES to them before
// it runs the task (or creates the actor), and to "" for work that holds no GPU. Work in a
// placement group's bundle sees the devices its bundle holds here.

// EnvVisibleDevices is the variable that names the GPUs a process may use.
const EnvVisibleDevices = "CUDA_VISIBLE_DEVICES"

// EnvNoSetVisibleDevices, set to anything but "" or "0", makes nodes leave CUDA_VISIBLE_DEVICES
// alone (Ray's).
const EnvNoSetVisibleDevices = "RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"

// DevicesFromEnv reads a node's GPU names and its choice about CUDA_VISIBLE_DEVICES from its
// environment: a node started with CUDA_VISIBLE_DEVICES=1,3 calls its GPUs 1 and 3 (as Ray's
// nodes do), else 0, 1, ...
func DevicesFromEnv() (names []string, noSet bool) {
	if v, ok := os.LookupEnv(EnvVisibleDevices); ok && strings.TrimSpace(v) != "" {
		for _, n := range strings.Split(v, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	v := os.Getenv(EnvNoSetVisibleDevices)
	return names, v != "" && v != "0"
}

// deviceName is the name of GPU index.
func (s *state) deviceName(index int) string {
	if index < len(s.cfg.GPUNames) {
		return s.cfg.GPUNames[index]
	}
	return strconv.Itoa(index)
}

// showDevices tells the worker, in the spec it is about to get, the GPUs held by alloc (the
// allocation it runs with; for work in a group, its bundle's). Called with r.mu held.
func (s *state) showDevices(spec *pb.TaskSpec, alloc *resources.Allocation) {
	if s.cfg.NoSetVisibleDevices {
		return
	}
	spec.SetVisibleDevices = true
	spec.VisibleDevices = ""
	if alloc == nil {
		return
	}
	devices := alloc.Devices()
	if len(devices) == 0 {
		devices = s.bundleDevices(alloc.Demand())
	}
	names := make([]string, len(devices))
	for i, d := range devices {
		names[i] = s.deviceName(d)
	}
	spec.VisibleDevices = strings.Join(names, ",")
}

// bundleDevices are the GPUs of the bundles a group demand asks for GPUs of: those of bundle i
// (GPU_group_i_<id>), or of every bundle of the group here (GPU_group_<id>), in order, once
// each. Called with r.mu held.
func (s *state) bundleDevices(demand resources.Set) []int {
	group := groupOfDemand(demand)
	if group == "" {
		return nil
	}
	seen := map[int]bool{}
	var out []int
	add := func(b *heldBundle) {
		if b == nil || b.alloc == nil {
			return
		}
		for _, d := range b.alloc.Devices() {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	indexed := false
	for i := 0; i < demand.Len(); i++ {
		name, _ := demand.At(i)
		if !strings.HasPrefix(name, resources.GPU+"_group_") {
			continue
		}
		for index := range s.bundleIndexes(group) {
			if name == placement.Name(resources.GPU, group, index) {
				indexed = true
				add(s.bundles[bundleKey{group, index}])
			}
		}
	}
	if !indexed && demand.Get(placement.Name(resources.GPU, group, placement.AnyBundle)) > 0 {
		for index := range s.bundleIndexes(group) {
			add(s.bundles[bundleKey{group, index}])
		}
	}
	sort.Ints(out)
	return out
}

// bundleIndexes are the indexes of the bundles of group this node holds. Called with r.mu held.
func (s *state) bundleIndexes(group string) map[int]bool {
	out := map[int]bool{}
	for key := range s.bundles {
		if key.group == group {
			out[key.index] = true
		}
	}
	return out
}
