// Package state is Ray's state API over what goray's processes report: records of the cluster's
// nodes, actors, placement groups and jobs with Ray's field names, merged from the nodes'
// reports, filtered (Ray's --filter "key=value" and "key!=value"), limited and printed as Ray's
// `ray list` prints them (a table, or JSON). It does no I/O: its callers gather the reports.
package state

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	pb "goray/rpc/proto"
)

// Node is a node as Ray's state API shows it.
type Node struct {
	NodeID         string             `json:"node_id"`
	NodeIP         string             `json:"node_ip"`
	IsHeadNode     bool               `json:"is_head_node"`
	State          string             `json:"state"`
	NodeName       string             `json:"node_name"`
	ResourcesTotal map[string]float64 `json:"resources_total"`
	StartTimeMs    int64              `json:"start_time_ms"`
	StateMessage   string             `json:"state_message,omitempty"`
	// What is free, as of the node's last report to the control store.
	ResourcesAvailable map[string]float64 `json:"resources_available,omitempty"`
	// The node's object store: bytes its objects hold, and its size (0 when it did not answer).
	ObjectStoreUsedMemory  int64 `json:"object_store_used_memory"`
	ObjectStoreTotalMemory int64 `json:"object_store_total_memory"`
}

// Actor is an actor as Ray's state API shows it.
type Actor struct {
	ActorID           string             `json:"actor_id"`
	ClassName         string             `json:"class_name"`
	State             string             `json:"state"`
	JobID             string             `json:"job_id"`
	Name              string             `json:"name"`
	NodeID            string             `json:"node_id"`
	PID               int32              `json:"pid"`
	RayNamespace      string             `json:"ray_namespace"`
	RequiredResources map[string]float64 `json:"required_resources"`
	DeathCause        string             `json:"death_cause,omitempty"`
	IsDetached        bool               `json:"is_detached"`
	PlacementGroupID  string             `json:"placement_group_id,omitempty"`
	NumRestarts       int32              `json:"num_restarts"`
	MaxRestarts       int32              `json:"max_restarts"`
}

// Bundle is a placement group's bundle as Ray's state API shows it.
type Bundle struct {
	BundleID      string             `json:"bundle_id"`
	NodeID        string             `json:"node_id"`
	UnitResources map[string]float64 `json:"unit_resources"`
}

// PlacementGroup is a placement group as Ray's state API shows it.
type PlacementGroup struct {
	PlacementGroupID string   `json:"placement_group_id"`
	Name             string   `json:"name"`
	CreatorJobID     string   `json:"creator_job_id"`
	State            string   `json:"state"`
	Strategy         string   `json:"strategy"`
	Bundles          []Bundle `json:"bundles"`
	RayNamespace     string   `json:"ray_namespace"`
	CreateTimeMs     int64    `json:"create_time_ms"`
	PendingReason    string   `json:"pending_reason,omitempty"`
}

// Nodes are the records of the control store's nodes, oldest first, with the use of their
// object stores from their reports (nil: none asked).
func Nodes(infos []*pb.NodeInfo, reports []*pb.NodeStateReply) []Node {
	byID := map[string]*pb.NodeStateReply{}
	for _, rep := range reports {
		byID[hex.EncodeToString(rep.NodeId)] = rep
	}
	out := make([]Node, 0, len(infos))
	for _, n := range infos {
		st := "ALIVE"
		if !n.Alive {
			st = "DEAD"
		}
		rec := Node{NodeID: hex.EncodeToString(n.NodeId), NodeIP: NodeIP(n), IsHeadNode: n.IsHead, State: st,
			NodeName: n.Hostname, ResourcesTotal: n.Resources, StartTimeMs: n.StartTimeMs, StateMessage: n.DeathCause}
		if n.Alive {
			rec.ResourcesAvailable = n.Available
		}
		if rep := byID[rec.NodeID]; rep != nil {
			rec.ObjectStoreUsedMemory, rec.ObjectStoreTotalMemory = rep.StoreUsedBytes, rep.StoreCapacityBytes
		}
		out = append(out, rec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartTimeMs < out[j].StartTimeMs })
	return out
}

// HostOf is the host of host:port ("" if addr is none).
func HostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// Actors merges the nodes' actor reports: an actor's owner's record, with the process id that
// the node running it reports (the node the owner names); the running node's own record when
// the owner did not answer. Sorted by id.
func Actors(reports []*pb.NodeStateReply) []Actor {
	byID := map[string]*Actor{}
	hosted := map[string]*Actor{} // (the records of the nodes running actors for others)
	pids := map[[2]string]int32{} // (actor, node running it) -> its process
	for _, rep := range reports {
		reporter := hex.EncodeToString(rep.NodeId)
		for _, a := range rep.GetActors() {
			rec := actorRecord(a)
			if !a.Owned {
				if a.Pid != 0 {
					pids[[2]string{rec.ActorID, reporter}] = a.Pid
				}
				hosted[rec.ActorID] = rec
				continue
			}
			byID[rec.ActorID] = rec
		}
	}
	for id, rec := range hosted {
		if byID[id] == nil {
			byID[id] = rec
		}
	}
	out := make([]Actor, 0, len(byID))
	for id, a := range byID {
		if a.PID == 0 && a.State != "DEAD" {
			a.PID = pids[[2]string{id, a.NodeID}]
		}
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ActorID < out[j].ActorID })
	return out
}

// actorRecord is a node's report of an actor as a record.
func actorRecord(a *pb.ActorState) *Actor {
	rec := &Actor{ActorID: hex.EncodeToString(a.ActorId), ClassName: ClassName(a.ClassName), State: a.State, JobID: a.JobId, Name: a.Name,
		NodeID: hex.EncodeToString(a.NodeId), PID: a.Pid, RayNamespace: a.Namespace, RequiredResources: a.RequiredResources,
		DeathCause: a.DeathCause, IsDetached: a.IsDetached, PlacementGroupID: a.PlacementGroupId,
		NumRestarts: a.NumRestarts, MaxRestarts: a.MaxRestarts}
	if rec.RequiredResources == nil {
		rec.RequiredResources = map[string]float64{}
	}
	return rec
}

// strategies and groupStates are Ray's names of ray::PlacementStrategy and PlacementGroupState.
var (
	strategies  = []string{"PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"}
	groupStates = []string{"PENDING", "CREATED", "REMOVED", "RESCHEDULING"}
)

// PlacementGroups are the records of the control store's placement groups, oldest first.
func PlacementGroups(infos []*pb.PlacementGroupInfo) []PlacementGroup {
	out := make([]PlacementGroup, 0, len(infos))
	for _, g := range infos {
		rec := PlacementGroup{PlacementGroupID: g.GroupId, Name: g.Name, CreatorJobID: g.JobId, State: nameOf(groupStates, g.State),
			Strategy: nameOf(strategies, g.Strategy), RayNamespace: g.Namespace, CreateTimeMs: g.CreateTimeMs, PendingReason: g.PendingReason,
			Bundles: []Bundle{}}
		for i, b := range g.Bundles {
			rec.Bundles = append(rec.Bundles, Bundle{BundleID: fmt.Sprintf("%s_%d", g.GroupId, i), NodeID: hex.EncodeToString(b.NodeId), UnitResources: b.Resources})
		}
		out = append(out, rec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateTimeMs < out[j].CreateTimeMs })
	return out
}

func nameOf(names []string, i int32) string {
	if i < 0 || int(i) >= len(names) {
		return fmt.Sprintf("UNKNOWN(%d)", i)
	}
	return names[i]
}

// Filter is one of Ray's --filter predicates: key=value or key!=value.
type Filter struct {
	Key   string
	Equal bool
	Value string
}

// ParseFilter reads a predicate "key=value" or "key!=value" (spaces around the parts are
// ignored).
func ParseFilter(text string) (Filter, error) {
	if i := strings.Index(text, "!="); i > 0 {
		return Filter{Key: strings.TrimSpace(text[:i]), Value: strings.TrimSpace(text[i+2:])}, nil
	}
	if i := strings.Index(text, "="); i > 0 {
		return Filter{Key: strings.TrimSpace(text[:i]), Equal: true, Value: strings.TrimSpace(text[i+1:])}, nil
	}
	return Filter{}, fmt.Errorf("filter %q: want key=value or key!=value", text)
}

// Rows are records as JSON objects (Ray's field names), the form filters and printing use.
func Rows(records any) ([]map[string]any, error) {
	data, err := json.Marshal(records)
	if err != nil {
		return nil, err
	}
	var rows []map[string]any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// Select keeps the rows every filter admits (values compared as text, without regard to case; a
// row without the key has it empty; a key no row has is an error that names the keys there
// are), at most limit of them (0: all). truncated says whether the limit left rows out.
func Select(rows []map[string]any, filters []Filter, limit int) (out []map[string]any, truncated bool, err error) {
	if len(filters) > 0 && len(rows) > 0 {
		known := map[string]any{}
		for _, r := range rows {
			for k := range r {
				known[k] = nil
			}
		}
		for _, f := range filters {
			if _, ok := known[f.Key]; !ok {
				return nil, false, fmt.Errorf("filter key %q is none of %s", f.Key, strings.Join(keys(known), ", "))
			}
		}
	}
	for _, r := range rows {
		keep := true
		for _, f := range filters {
			if strings.EqualFold(text(r[f.Key]), f.Value) != f.Equal {
				keep = false
				break
			}
		}
		if !keep {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, true, nil
		}
		out = append(out, r)
	}
	return out, false, nil
}

func keys(row map[string]any) []string {
	out := make([]string, 0, len(row))
	for k := range row {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// text is a value as a table cell and as filters compare it.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "True"
		}
		return "False"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range keys(x) {
			parts = append(parts, fmt.Sprintf("%s: %s", k, text(x[k])))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		return fmt.Sprintf("[%d]", len(x))
	}
	return fmt.Sprint(v)
}

// Columns are the columns `ray list KIND` shows by default, as Ray's.
var Columns = map[string][]string{
	"nodes":            {"node_id", "node_ip", "is_head_node", "state", "node_name", "resources_total"},
	"actors":           {"actor_id", "class_name", "state", "job_id", "name", "node_id", "pid", "ray_namespace"},
	"placement-groups": {"placement_group_id", "name", "creator_job_id", "state"},
	"jobs":             {"job_id", "submission_id", "entrypoint", "type", "status", "start_time", "end_time"},
	"tasks":            {"task_id", "attempt_number", "name", "state", "job_id", "actor_id", "type", "func_or_class_name", "node_id", "worker_pid"},
	"objects":          {"object_id", "object_size", "task_status", "reference_type", "call_site", "type", "pid", "ip"},
}

// PrintTable writes rows as Ray's `ray list` does: a header with the time, the total, then a
// table of the columns.
func PrintTable(w io.Writer, kind string, rows []map[string]any, columns []string, now time.Time) error {
	fmt.Fprintf(w, "\n======== List: %s ========\n", now.Format("2006-01-02 15:04:05.000000"))
	fmt.Fprintf(w, "Stats:\n------------------------------\nTotal: %d\n\nTable:\n------------------------------\n", len(rows))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := make([]string, len(columns))
	for i, c := range columns {
		header[i] = strings.ToUpper(c)
	}
	fmt.Fprintf(tw, "\t%s\n", strings.Join(header, "\t"))
	for i, r := range rows {
		cells := make([]string, len(columns))
		for j, c := range columns {
			cells[j] = text(r[c])
		}
		fmt.Fprintf(tw, "%d\t%s\n", i, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// PrintJSON writes rows as a JSON array.
func PrintJSON(w io.Writer, rows []map[string]any) error {
	if rows == nil {
		rows = []map[string]any{}
	}
	data, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(data))
	return err
}

// ClassName is a C++ class's name as its code names it, from the name its type_info gives
// (Itanium ABI: "6Keeper" is Keeper, "N2ns6KeeperE" ns::Keeper). A name this does not read
// (templates, ...) is given back as it is.
func ClassName(mangled string) string {
	s := mangled
	nested := strings.HasPrefix(s, "N") && strings.HasSuffix(s, "E")
	if nested {
		s = s[1 : len(s)-1]
	}
	var parts []string
	for s != "" {
		n := 0
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
			i++
			if n > len(s) {
				return mangled
			}
		}
		if i == 0 || n == 0 || i+n > len(s) {
			return mangled
		}
		parts = append(parts, s[i:i+n])
		s = s[i+n:]
	}
	if len(parts) == 0 || (!nested && len(parts) > 1) {
		return mangled
	}
	return strings.Join(parts, "::")
}
