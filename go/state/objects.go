package state

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	pb "goray/rpc/proto"
)

// Object is one process's reference to an object, as Ray's state API shows it (`ray list
// objects`, `ray memory`).
type Object struct {
	ObjectID string `json:"object_id"`
	// Bytes of its value (-1: not known where it is referred to).
	ObjectSize int64 `json:"object_size"`
	// The state of the task that makes it (Ray's task states), or NIL for a Put.
	TaskStatus    string `json:"task_status"`
	ReferenceType string `json:"reference_type"`
	// goray does not record where references are made (Ray's RAY_record_ref_creation_sites).
	CallSite string `json:"call_site"`
	// DRIVER or WORKER: the process that refers to it.
	Type   string `json:"type"`
	PID    int32  `json:"pid"`
	IP     string `json:"ip"`
	NodeID string `json:"node_id"`
	// What makes the reference: ObjectRefs in user code, holds for calls in flight, objects that
	// hold it, a read of its shared memory under way.
	LocalRefCount         int64    `json:"local_ref_count"`
	SubmittedTaskRefCount int64    `json:"submitted_task_ref_count"`
	ContainedInOwned      []string `json:"contained_in_owned"`
	PinnedInMemory        bool     `json:"pinned_in_memory"`
}

// Ray's reference types, in the order Ray picks one for a reference that is several at once.
const (
	RefPinned   = "PINNED_IN_MEMORY"
	RefPending  = "USED_BY_PENDING_TASK"
	RefLocal    = "LOCAL_REFERENCE"
	RefCaptured = "CAPTURED_IN_OBJECT"
)

// noCallSite is Ray's call site of a reference whose creation site was not recorded.
const noCallSite = "disabled"

// referenceType is Ray's name for what keeps a reference ("" when nothing does).
func referenceType(r *pb.ObjectRefInfo) string {
	switch {
	case r.PinnedInMemory:
		return RefPinned
	case r.SubmittedTaskRefCount > 0:
		return RefPending
	case r.LocalRefCount > 0:
		return RefLocal
	case len(r.ContainedInOwned) > 0:
		return RefCaptured
	}
	return ""
}

// NodeIP is the address a node's records show: the host other nodes reach it at, else the one it
// registered.
func NodeIP(n *pb.NodeInfo) string {
	if host := HostOf(n.PeerAddress); host != "" {
		return host
	}
	return n.Address
}

// Objects are the references the nodes' processes reported (kind "objects"), sorted by object
// id and process; the nodes give their IP addresses.
func Objects(nodes []*pb.NodeInfo, reports []*pb.NodeStateReply) []Object {
	ips := map[string]string{}
	for _, n := range nodes {
		ips[hex.EncodeToString(n.NodeId)] = NodeIP(n)
	}
	out := []Object{}
	for _, rep := range reports {
		node := hex.EncodeToString(rep.NodeId)
		for _, rec := range rep.Objects {
			r := rec.GetRef()
			kind := referenceType(r)
			if r == nil || kind == "" {
				continue // (nothing keeps it: a count that fell to zero as the report was made)
			}
			o := Object{ObjectID: hex.EncodeToString(r.ObjectId), ObjectSize: r.ObjectSize, TaskStatus: rec.TaskStatus, ReferenceType: kind,
				CallSite: noCallSite, Type: "WORKER", PID: rec.Pid, IP: ips[node], NodeID: node, LocalRefCount: r.LocalRefCount,
				SubmittedTaskRefCount: r.SubmittedTaskRefCount, ContainedInOwned: []string{}, PinnedInMemory: r.PinnedInMemory}
			if rec.IsDriver {
				o.Type = "DRIVER"
			}
			for _, c := range r.ContainedInOwned {
				o.ContainedInOwned = append(o.ContainedInOwned, hex.EncodeToString(c))
			}
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ObjectID != out[j].ObjectID {
			return out[i].ObjectID < out[j].ObjectID
		}
		if out[i].NodeID != out[j].NodeID {
			return out[i].NodeID < out[j].NodeID
		}
		return out[i].PID < out[j].PID
	})
	return out
}

// ObjectSummary is Ray's `ray summary objects` line of one call site: its objects (each counted
// once, however many processes refer to it), their size, the processes and nodes that refer to
// them, and the references by task state and by type.
type ObjectSummary struct {
	CallSite        string         `json:"call_site"`
	TotalObjects    int            `json:"total_objects"`
	TotalSizeMB     float64        `json:"total_size_mb"`
	TotalNumWorkers int            `json:"total_num_workers"`
	TotalNumNodes   int            `json:"total_num_nodes"`
	TaskStateCounts map[string]int `json:"task_state_counts"`
	RefTypeCounts   map[string]int `json:"ref_type_counts"`
}

// SummarizeObjects groups references by call site (all "disabled" in goray, which records none).
func SummarizeObjects(objects []Object) []ObjectSummary {
	type group struct {
		sum     ObjectSummary
		objects map[string]int64
		workers map[[2]string]bool
		nodes   map[string]bool
	}
	by := map[string]*group{}
	var order []string
	for _, o := range objects {
		g := by[o.CallSite]
		if g == nil {
			g = &group{sum: ObjectSummary{CallSite: o.CallSite, TaskStateCounts: map[string]int{}, RefTypeCounts: map[string]int{}},
				objects: map[string]int64{}, workers: map[[2]string]bool{}, nodes: map[string]bool{}}
			by[o.CallSite] = g
			order = append(order, o.CallSite)
		}
		size := o.ObjectSize
		if size < 0 {
			size = 0 // (not known where this reference is)
		}
		if prev, seen := g.objects[o.ObjectID]; !seen || size > prev {
			g.objects[o.ObjectID] = size
		}
		g.workers[[2]string{o.NodeID, fmt.Sprint(o.PID)}] = true
		g.nodes[o.NodeID] = true
		g.sum.TaskStateCounts[o.TaskStatus]++
		g.sum.RefTypeCounts[o.ReferenceType]++
	}
	out := make([]ObjectSummary, 0, len(by))
	for _, key := range order {
		g := by[key]
		var size int64
		for _, n := range g.objects {
			size += n
		}
		g.sum.TotalObjects, g.sum.TotalSizeMB = len(g.objects), float64(size)/(1<<20)
		g.sum.TotalNumWorkers, g.sum.TotalNumNodes = len(g.workers), len(g.nodes)
		out = append(out, g.sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TotalObjects > out[j].TotalObjects })
	return out
}

// MemoryOptions are `ray memory`'s flags.
type MemoryOptions struct {
	// GroupBy is NODE_ADDRESS or STACK_TRACE; SortBy PID, OBJECT_SIZE or REFERENCE_TYPE.
	GroupBy, SortBy string
	// Units is B, KB, MB or GB.
	Units string
	// NumEntries bounds the references shown per group (0: all).
	NumEntries int
	// StatsOnly prints the object stores' use only.
	StatsOnly bool
}

// memoryUnits are the sizes of `ray memory --units`.
var memoryUnits = map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}

// Check tells what is wrong with the options, naming what each takes.
func (o *MemoryOptions) Check() error {
	o.GroupBy, o.SortBy, o.Units = strings.ToUpper(o.GroupBy), strings.ToUpper(o.SortBy), strings.ToUpper(o.Units)
	if o.GroupBy != "NODE_ADDRESS" && o.GroupBy != "STACK_TRACE" {
		return fmt.Errorf("--group-by is NODE_ADDRESS or STACK_TRACE, not %q", o.GroupBy)
	}
	if o.SortBy != "PID" && o.SortBy != "OBJECT_SIZE" && o.SortBy != "REFERENCE_TYPE" {
		return fmt.Errorf("--sort-by is PID, OBJECT_SIZE or REFERENCE_TYPE, not %q", o.SortBy)
	}
	if _, ok := memoryUnits[o.Units]; !ok {
		return fmt.Errorf("--units is B, KB, MB or GB, not %q", o.Units)
	}
	if o.NumEntries < 0 {
		return fmt.Errorf("--num-entries %d: 0 (all) or more", o.NumEntries)
	}
	return nil
}

// PrintMemory writes `ray memory`: the references grouped (by node address, or call site) with a
// summary of each group, then the object stores' use across the nodes (reports give it; what the
// nodes could not gather, the gatherer warns of).
func PrintMemory(w io.Writer, objects []Object, reports []*pb.NodeStateReply, o MemoryOptions, now time.Time) error {
	unit := memoryUnits[o.Units]
	size := func(n int64) string {
		if n < 0 {
			return "?"
		}
		return strconv.FormatFloat(float64(n)/unit, 'f', -1, 64) + " " + o.Units
	}
	fmt.Fprintf(w, "======== Object references status: %s ========\n", now.Format("2006-01-02 15:04:05.000000"))
	if !o.StatsOnly {
		entries := "all"
		if o.NumEntries > 0 {
			entries = fmt.Sprint(o.NumEntries)
		}
		groupName := strings.ToLower(strings.ReplaceAll(o.GroupBy, "_", " "))
		fmt.Fprintf(w, "Grouping by %s...        Sorting by %s...        Display %s entries per group...\n\n\n",
			groupName, strings.ToLower(strings.ReplaceAll(o.SortBy, "_", " ")), entries)
		sorted := append([]Object(nil), objects...)
		sort.SliceStable(sorted, func(i, j int) bool {
			a, b := sorted[i], sorted[j]
			switch o.SortBy {
			case "PID":
				return a.PID < b.PID
			case "REFERENCE_TYPE":
				return a.ReferenceType < b.ReferenceType
			}
			return a.ObjectSize > b.ObjectSize
		})
		groups := map[string][]Object{}
		var keys []string
		for _, obj := range sorted {
			key := obj.IP
			if o.GroupBy == "STACK_TRACE" {
				key = obj.CallSite
			}
			if _, ok := groups[key]; !ok {
				keys = append(keys, key)
			}
			groups[key] = append(groups[key], obj)
		}
		sort.Strings(keys)
		for _, key := range keys {
			printMemoryGroup(w, groupName, key, groups[key], o.NumEntries, size)
		}
		fmt.Fprintf(w, "goray does not record where ObjectRefs are made: every call site is %q.\n\n", noCallSite)
	}
	var used, capacity, count int64
	for _, rep := range reports {
		used += rep.StoreUsedBytes
		capacity += rep.StoreCapacityBytes
		count += rep.StoreObjects
	}
	full := 0.0
	if capacity > 0 {
		full = 100 * float64(used) / float64(capacity)
	}
	fmt.Fprintf(w, "--- Aggregate object store stats across all nodes ---\n")
	fmt.Fprintf(w, "Plasma memory usage %d MiB, %d objects, %.1f%% full\n", used>>20, count, full)
	return nil
}

// printMemoryGroup writes one group of `ray memory`: its summary line, then its references.
func printMemoryGroup(w io.Writer, groupName, key string, list []Object, limit int, size func(int64) string) {
	counts := map[string]int{}
	bytes := map[string]int64{}
	var total int64
	seen := map[string]bool{}
	for _, obj := range list {
		counts[obj.ReferenceType]++
		if obj.ObjectSize > 0 {
			bytes[obj.ReferenceType] += obj.ObjectSize
			if !seen[obj.ObjectID] {
				seen[obj.ObjectID] = true
				total += obj.ObjectSize
			}
		}
	}
	cell := func(kind string) string { return fmt.Sprintf("%d, (%s)", counts[kind], size(bytes[kind])) }
	fmt.Fprintf(w, "--- Summary for %s: %s ---\n", groupName, key)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Mem Used by Objects\tLocal References\tPinned\tUsed by task\tCaptured in Objects\tActor Handles")
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", size(total), cell(RefLocal), cell(RefPinned), cell(RefPending), cell(RefCaptured), cell("ACTOR_HANDLE"))
	tw.Flush()
	fmt.Fprintf(w, "\n--- Object references for %s: %s ---\n", groupName, key)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IP Address\tPID\tType\tCall Site\tStatus\tSize\tReference Type\tObject Ref")
	for i, obj := range list {
		if limit > 0 && i == limit {
			break
		}
		status := obj.TaskStatus
		if status == "NIL" {
			status = "-"
		}
		kind := "Worker"
		if obj.Type == "DRIVER" {
			kind = "Driver"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", obj.IP, obj.PID, kind, obj.CallSite, status, size(obj.ObjectSize), obj.ReferenceType, obj.ObjectID)
	}
	tw.Flush()
	fmt.Fprintln(w)
}
