// Package clusterstatus renders what `ray status` prints, in Ray's own layout, so that habits and
// scripts built around Ray's output keep working against a goray cluster.
//
// The layout follows Ray's autoscaler status report (python/ray/autoscaler/_private/util.py:
// format_info_string, parse_usage, format_memory, format_resource_demand_summary and
// get_per_node_breakdown) as Ray prints it for a cluster started with `ray start`, where no
// autoscaler manages the nodes: every node is its own node type "node_<hex id>" and there is no
// "Idle:" section. For example:
//
//	======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
//	Node status
//	---------------------------------------------------------------
//	Active:
//	 1 node_0a1b...
//	Pending:
//	 (no pending nodes)
//	Recent failures:
//	 (no failures)
//
//	Resources
//	---------------------------------------------------------------
//	Total Usage:
//	 1.0/2.0 CPU
//	 0B/4.05GiB memory
//	 0B/4.05GiB object_store_memory
//
//	Total Constraints:
//	 (no request_resources() constraints)
//	Total Demands:
//	 (no resource demands)
//
// Numbers print the way Python prints them (1.0, 0.5, 1e-05), byte counts the way Ray's
// format_memory does (0B, 1023B, 1.00KiB, 4.05GiB), and resource shapes as Python dict literals
// ({'CPU': 1.0, 'GPU': 1.0}), because that is what Ray's formatter produces from the same values.
package clusterstatus

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Node is one node as the control store knows it.
type Node struct {
	// ID is the node id in hex. Ray names the node's type "node_<ID>" in the report.
	ID string
	// Address is the node's IP address, shown for a dead node under "Recent failures".
	Address string
	// Alive tells whether the node is alive. Only alive nodes are Active and count towards usage.
	Alive bool
	// Total is the node's total resources, including "memory" and "object_store_memory" in bytes.
	Total map[string]float64
	// Available is what is left of Total. A resource of Total missing here is fully in use.
	Available map[string]float64
	// DeathCause says why a dead node died, e.g. "missed 5 health checks". Ray's report has no
	// place for it, so it is shown only in verbose mode, appended to the node's failure line.
	DeathCause string
}

// Demand is a resource shape waiting for room, with how many wait; Infeasible when no node could
// ever fit it.
//
// Ray's `ray status` lists infeasible shapes among the other demands, in the same
// "{shape}: N+ pending tasks/actors" form, after the shapes that merely wait (Ray's demand vector
// is the waiting bundles followed by the infeasible ones). Format does the same: Infeasible only
// moves a shape to the end of the list.
type Demand struct {
	// Shape is the resources one task or actor asks for.
	Shape map[string]float64
	// Count is how many tasks or actors wait with this shape. Demands with Count < 1 are ignored.
	Count int
	// Infeasible tells that no node could ever fit Shape.
	Infeasible bool
}

// Snapshot is what ray status prints.
type Snapshot struct {
	// Time is when the snapshot was taken, printed in the header in Time's own location. The zero
	// Time means now, as in Ray.
	Time time.Time
	// Nodes is every node the control store knows, alive or dead, in any order.
	Nodes []Node
	// Demands is the resource shapes waiting for room, in any order.
	Demands []Demand
}

// maxFailuresShown is how many "Recent failures" lines Ray shows at most: its
// AUTOSCALER_MAX_FAILURES_DISPLAYED is 20, but the slice it takes
// (failure_lines[:-20:-1]) keeps at most 19.
const maxFailuresShown = 19

// Format renders a snapshot in Ray's `ray status` layout (verbose adds the per-node breakdown).
//
// The text has no trailing newline (Ray's formatter strips it; `ray status` prints it with one).
// The output is deterministic: nodes print in ID order, resources in name order, and demands
// (merged by shape) waiting ones first, then infeasible ones, each in shape order.
//
// In verbose mode, as `ray status -v` does, the header is followed by an empty line, usage is
// headed "Total Usage:" as always, and a "Node: <id>" section with that node's usage follows
// for every alive node. The timing lines Ray adds to the verbose header (GCS request time and
// the like) are measurements of Ray's autoscaler and are not printed.
func Format(s Snapshot, verbose bool) string {
	t := s.Time
	if t.IsZero() {
		t = time.Now()
	}
	header := "======== Autoscaler status: " + pythonDatetime(t) + " ========"
	separator := strings.Repeat("-", utf8.RuneCountInString(header))

	alive, dead := splitNodes(s.Nodes)

	var b strings.Builder
	b.WriteString(header)
	if verbose {
		b.WriteString("\n")
	}
	b.WriteString("\nNode status\n")
	b.WriteString(separator)
	b.WriteString("\nActive:\n")
	b.WriteString(activeReport(alive))
	b.WriteString("\nPending:\n (no pending nodes)\nRecent failures:\n")
	b.WriteString(failureReport(dead, verbose))
	b.WriteString("\n\nResources\n")
	b.WriteString(separator)
	b.WriteString("\nTotal Usage:\n")
	for _, line := range usageLines(clusterUsage(alive), verbose) {
		b.WriteString(" ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	b.WriteString("\nTotal Constraints:\n (no request_resources() constraints)\nTotal Demands:\n")
	b.WriteString(demandReport(s.Demands))
	if verbose {
		for _, n := range alive {
			b.WriteString("\n\nNode: ")
			b.WriteString(n.ID)
			b.WriteString("\n Usage:")
			for _, line := range usageLines(nodeUsage(n, nil), true) {
				b.WriteString("\n  ")
				b.WriteString(line)
			}
		}
	}
	return strings.TrimSpace(b.String())
}

// FormatBytes renders a byte count the way Ray's status does (e.g. "4.05GiB", "0B").
//
// Like Ray's format_memory: the largest of TiB, GiB, MiB and KiB that the count reaches, with two
// decimals; below 1KiB, the whole number of bytes.
func FormatBytes(b float64) string {
	units := []struct {
		suffix string
		size   float64
	}{
		{"TiB", 1 << 40},
		{"GiB", 1 << 30},
		{"MiB", 1 << 20},
		{"KiB", 1 << 10},
	}
	for _, u := range units {
		if b >= u.size {
			return strconv.FormatFloat(b/u.size, 'f', 2, 64) + u.suffix
		}
	}
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return pythonFloat(b) + "B"
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// splitNodes returns the alive and the dead nodes, each sorted by ID.
func splitNodes(nodes []Node) (alive, dead []Node) {
	for _, n := range nodes {
		if n.Alive {
			alive = append(alive, n)
		} else {
			dead = append(dead, n)
		}
	}
	byID := func(ns []Node) {
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
	}
	byID(alive)
	byID(dead)
	return alive, dead
}

// nodeType is the node type Ray gives a node it does not manage (format_readonly_node_type).
func nodeType(n Node) string {
	return "node_" + n.ID
}

// activeReport lists the alive nodes, counted by node type, as " <count> <type>" lines.
func activeReport(alive []Node) string {
	if len(alive) == 0 {
		return " (no active nodes)"
	}
	var types []string
	counts := map[string]int{}
	for _, n := range alive {
		typ := nodeType(n)
		if counts[typ] == 0 {
			types = append(types, typ)
		}
		counts[typ]++
	}
	lines := make([]string, len(types))
	for i, typ := range types {
		lines[i] = fmt.Sprintf(" %d %s", counts[typ], typ)
	}
	return strings.Join(lines, "\n")
}

// failureReport lists the dead nodes as Ray lists terminated nodes:
// " <type>: NodeTerminated (ip: <address>)", with " - <cause>" in verbose mode.
func failureReport(dead []Node, verbose bool) string {
	if len(dead) == 0 {
		return " (no failures)"
	}
	if len(dead) > maxFailuresShown {
		dead = dead[:maxFailuresShown]
	}
	lines := make([]string, len(dead))
	for i, n := range dead {
		line := fmt.Sprintf(" %s: NodeTerminated (ip: %s)", nodeType(n), n.Address)
		if verbose && n.DeathCause != "" {
			line += " - " + n.DeathCause
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

// usage is one resource's used and total amounts.
type usage struct {
	used, total float64
}

// nodeUsage adds n's usage (Total - Available, per resource of Total) into into, creating it if
// nil, and returns it.
func nodeUsage(n Node, into map[string]*usage) map[string]*usage {
	if into == nil {
		into = map[string]*usage{}
	}
	names := make([]string, 0, len(n.Total))
	for name := range n.Total {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		total := n.Total[name]
		u := into[name]
		if u == nil {
			u = &usage{}
			into[name] = u
		}
		u.used += total - n.Available[name]
		u.total += total
	}
	return into
}

// clusterUsage sums the usage of the alive nodes, in ID order.
func clusterUsage(alive []Node) map[string]*usage {
	sum := map[string]*usage{}
	for _, n := range alive {
		nodeUsage(n, sum)
	}
	return sum
}

// Placement-group resources, as Ray names them (ray/_private/utils.py), matched from the start of
// the name as Python's re.match does: "<resource>_group_<bundle index>_<group id>" and the
// wildcard "<resource>_group_<group id>".
var (
	pgIndexedPattern  = regexp.MustCompile(`^(.+)_group_(\d+)_([0-9a-zA-Z]+)`)
	pgWildcardPattern = regexp.MustCompile(`^(.+)_group_([0-9a-zA-Z]+)`)
)

// parsePGResource splits a resource name like Ray's parse_placement_group_resource_str: the
// underlying resource name, the placement group ("" when not a placement-group resource), and
// whether it counts (wildcard resources count; indexed ones duplicate them).
func parsePGResource(name string) (resource, group string, countable bool) {
	if m := pgIndexedPattern.FindStringSubmatch(name); m != nil {
		return m[1], m[3], false
	}
	if m := pgWildcardPattern.FindStringSubmatch(name); m != nil {
		return m[1], m[2], true
	}
	return name, "", true
}

// pgUsage is what placement groups reserve of one resource and use of it.
type pgUsage struct {
	used, total float64
	// counted tells whether a wildcard resource added to used: until then Python's sum is the
	// integer 0, which prints as "0" rather than "0.0".
	counted bool
}

// usageLines renders usage like Ray's parse_usage, one line per resource in name order:
// "<used>/<total> <name>", memory amounts as bytes. Per-node "node:..." resources and
// placement-group resources are left out; what placement groups reserve is folded into the
// underlying resource with a "(X used of Y reserved in placement groups)" note.
// "accelerator_type:..." resources show only when verbose.
func usageLines(u map[string]*usage, verbose bool) []string {
	pg := map[string]*pgUsage{}
	for name, v := range u {
		resource, group, countable := parsePGResource(name)
		if group == "" {
			continue
		}
		p := pg[resource]
		if p == nil {
			p = &pgUsage{}
			pg[resource] = p
		}
		if countable {
			p.used += v.used
			p.total += v.total
			p.counted = true
		}
	}
	names := make([]string, 0, len(u))
	for name := range u {
		names = append(names, name)
	}
	sort.Strings(names)

	var lines []string
	for _, name := range names {
		if strings.Contains(name, "node:") {
			continue
		}
		if _, group, _ := parsePGResource(name); group != "" {
			continue
		}
		used, total := u[name].used, u[name].total
		p := pg[name]
		if p != nil {
			// What groups reserve counts as used; show what they really use instead.
			used = used - p.total + p.used
		}
		switch {
		case name == "memory" || name == "object_store_memory":
			line := FormatBytes(used) + "/" + FormatBytes(total) + " " + name
			if p != nil {
				line += " (" + FormatBytes(p.used) + " used of " + FormatBytes(p.total) +
					" reserved in placement groups)"
			}
			lines = append(lines, line)
		case strings.HasPrefix(name, "accelerator_type:") && !verbose:
			// Ray hides these from the cluster summary.
		default:
			line := pythonFloat(used) + "/" + pythonFloat(total) + " " + name
			if p != nil {
				pgUsed := "0"
				if p.counted {
					pgUsed = pythonFloat(p.used)
				}
				line += " (" + pgUsed + " used of " + pythonFloat(p.total) +
					" reserved in placement groups)"
			}
			lines = append(lines, line)
		}
	}
	return lines
}

// demandLine is one merged demand shape.
type demandLine struct {
	shape   map[string]float64
	key     string
	count   int
	pgCount int
}

// demandReport renders the demands like Ray's format_resource_demand_summary:
// " {shape}: N+ pending tasks/actors", shapes with placement-group resources under the
// underlying resource names with " (M+ using placement groups)", or " (no resource demands)".
func demandReport(demands []Demand) string {
	type entry struct {
		shape      map[string]float64
		usesPG     bool
		count      int
		infeasible bool
		key        string
	}
	var entries []entry
	for _, d := range demands {
		if d.Count < 1 {
			continue
		}
		shape, usesPG := stripPlacementGroups(d.Shape)
		if _, ok := shape["bundle"]; ok {
			// Ray does not report the demand of tasks waiting for a ready placement group.
			continue
		}
		entries = append(entries, entry{shape, usesPG, d.Count, d.Infeasible, pythonDict(shape)})
	}
	// Waiting shapes, then infeasible ones (Ray's demand vector order); each in shape order.
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].infeasible != entries[j].infeasible {
			return !entries[i].infeasible
		}
		return entries[i].key < entries[j].key
	})

	var order []*demandLine
	byKey := map[string]*demandLine{}
	for _, e := range entries {
		l := byKey[e.key]
		if l == nil {
			l = &demandLine{shape: e.shape, key: e.key}
			byKey[e.key] = l
			order = append(order, l)
		}
		l.count += e.count
		if e.usesPG {
			l.pgCount += e.count
		}
	}
	if len(order) == 0 {
		return " (no resource demands)"
	}
	lines := make([]string, len(order))
	for i, l := range order {
		line := fmt.Sprintf(" %s: %d+ pending tasks/actors", l.key, l.count)
		if l.pgCount > 0 {
			line += fmt.Sprintf(" (%d+ using placement groups)", l.pgCount)
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

// stripPlacementGroups renames placement-group resources of shape to their underlying resource
// names and tells whether there were any. Like Ray, a later name (in name order here) wins when
// two map to the same resource.
func stripPlacementGroups(shape map[string]float64) (map[string]float64, bool) {
	names := make([]string, 0, len(shape))
	for name := range shape {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]float64, len(shape))
	usesPG := false
	for _, name := range names {
		resource, group, _ := parsePGResource(name)
		out[resource] = shape[name]
		if group != "" {
			usesPG = true
		}
	}
	return out, usesPG
}

// pythonDatetime renders t as Python's str(datetime) does: "2006-01-02 15:04:05.000000", without
// the fraction when the microseconds are zero.
func pythonDatetime(t time.Time) string {
	t = t.Round(time.Microsecond)
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// pythonFloat renders v as Python's repr(float) does: the shortest digits that read back as v,
// always with a decimal point or an exponent ("1.0", "0.5", "1e-05", "1e+16").
func pythonFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	sci := strconv.FormatFloat(v, 'e', -1, 64)
	exp, err := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	if err == nil && v != 0 && (exp < -4 || exp >= 16) {
		return sci
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pythonDict renders a resource shape as Python's repr of a dict with sorted keys:
// {'CPU': 1.0, 'GPU': 1.0}.
func pythonDict(shape map[string]float64) string {
	names := make([]string, 0, len(shape))
	for name := range shape {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = pythonString(name) + ": " + pythonFloat(shape[name])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// pythonString renders s as Python's repr(str) does: in single quotes, or in double quotes when s
// holds a single quote and no double quote, with backslashes and unprintable characters escaped.
func pythonString(s string) string {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100 && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r):
			if r < 0x10000 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}
