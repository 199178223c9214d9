package clusterstatus

import (
	"math"
	"strings"
	"testing"
	"time"
)

// Node ids as Ray prints them: 28 bytes in hex. In ID order: idA < idB < idC < idD.
const (
	idA = "4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd"
	idB = "a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7"
	idC = "c4f85086e1d2b3a4f5e6d7c8b9a0e1f2d3c4b5a6978877665544332"
	idD = "f2e99af987618864161970a2b891f4e31f4edf2236deb98329cc5a17"
)

// gib405 is 4.05GiB as Ray prints it (4348654387 / 2**30 = 4.04999...).
const gib405 = 4348654387

var snapTime = time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)

// headNode is a typical head: 2 CPUs, 4.05GiB of memory and of object store, and the per-node
// resources Ray adds, which the report hides.
func headNode(id, ip string, cpuAvailable float64) Node {
	return Node{
		ID:      id,
		Address: ip,
		Alive:   true,
		Total: map[string]float64{
			"CPU": 2, "memory": gib405, "object_store_memory": gib405,
			"node:" + ip: 1, "node:__internal_head__": 1,
		},
		Available: map[string]float64{
			"CPU": cpuAvailable, "memory": gib405, "object_store_memory": gib405,
			"node:" + ip: 1, "node:__internal_head__": 1,
		},
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name    string
		snap    Snapshot
		verbose bool
		want    string
	}{
		{
			name: "one node",
			snap: Snapshot{Time: snapTime, Nodes: []Node{headNode(idB, "10.0.0.1", 1)}},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
Node status
---------------------------------------------------------------
Active:
 1 node_a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Total Usage:
 1.0/2.0 CPU
 0B/4.05GiB memory
 0B/4.05GiB object_store_memory

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 (no resource demands)`,
		},
		{
			name: "three nodes, custom resource and GPU on one, given out of order",
			snap: Snapshot{Time: snapTime, Nodes: []Node{
				{
					ID: idC, Address: "10.0.0.3", Alive: true,
					Total: map[string]float64{
						"CPU": 8, "GPU": 1, "r1": 1, "memory": 8 << 30, "object_store_memory": 2 << 30,
						"accelerator_type:T4": 1, "node:10.0.0.3": 1,
					},
					Available: map[string]float64{
						"CPU": 4, "GPU": 1, "memory": 6 << 30, "object_store_memory": 1 << 30,
						"accelerator_type:T4": 1, "node:10.0.0.3": 1,
					},
				},
				headNode(idB, "10.0.0.2", 2),
				headNode(idA, "10.0.0.1", 1),
			}},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
Node status
---------------------------------------------------------------
Active:
 1 node_4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
 1 node_a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7
 1 node_c4f85086e1d2b3a4f5e6d7c8b9a0e1f2d3c4b5a6978877665544332
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Total Usage:
 5.0/12.0 CPU
 0.0/1.0 GPU
 2.00GiB/16.10GiB memory
 1.00GiB/10.10GiB object_store_memory
 1.0/1.0 r1

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 (no resource demands)`,
		},
		{
			name: "a dead node is a failure, not active, and not in usage",
			snap: Snapshot{Time: snapTime, Nodes: []Node{
				headNode(idA, "10.0.0.1", 2),
				{
					ID: idD, Address: "10.0.0.4", Alive: false, DeathCause: "missed 5 health checks",
					Total:     map[string]float64{"CPU": 16, "memory": 1 << 30},
					Available: map[string]float64{"CPU": 0},
				},
				headNode(idB, "10.0.0.2", 2),
			}},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
Node status
---------------------------------------------------------------
Active:
 1 node_4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
 1 node_a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7
Pending:
 (no pending nodes)
Recent failures:
 node_f2e99af987618864161970a2b891f4e31f4edf2236deb98329cc5a17: NodeTerminated (ip: 10.0.0.4)

Resources
---------------------------------------------------------------
Total Usage:
 0.0/4.0 CPU
 0B/8.10GiB memory
 0B/8.10GiB object_store_memory

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 (no resource demands)`,
		},
		{
			name: "fractional CPU usage, a resource missing from available, header without microseconds",
			snap: Snapshot{Time: time.Date(2020, 12, 28, 1, 2, 3, 0, time.UTC), Nodes: []Node{
				{
					ID: idA, Address: "10.0.0.1", Alive: true,
					Total:     map[string]float64{"CPU": 2, "GPU": 1, "memory": 1023},
					Available: map[string]float64{"CPU": 1.5, "memory": 1023},
				},
				{
					ID: idB, Address: "10.0.0.2", Alive: true,
					Total:     map[string]float64{"CPU": 4, "GPU": 1, "memory": 1024},
					Available: map[string]float64{"CPU": 3.75, "GPU": 0.5, "memory": 0},
				},
			}},
			want: `======== Autoscaler status: 2020-12-28 01:02:03 ========
Node status
--------------------------------------------------------
Active:
 1 node_4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
 1 node_a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
--------------------------------------------------------
Total Usage:
 0.75/6.0 CPU
 1.5/2.0 GPU
 1.00KiB/2.00KiB memory

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 (no resource demands)`,
		},
		{
			name: "demands merged by shape, waiting before infeasible",
			snap: Snapshot{Time: snapTime, Nodes: []Node{headNode(idA, "10.0.0.1", 0)}, Demands: []Demand{
				{Shape: map[string]float64{"CPU": 64}, Count: 1, Infeasible: true},
				{Shape: map[string]float64{"GPU": 1, "CPU": 1}, Count: 2},
				{Shape: map[string]float64{"CPU": 1}, Count: 3},
				{Shape: map[string]float64{"CPU": 0.5, "r1": 1}, Count: 4, Infeasible: true},
				{Shape: map[string]float64{"CPU": 1}, Count: 2},
				{Shape: map[string]float64{"CPU": 8}, Count: 0},
			}},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
Node status
---------------------------------------------------------------
Active:
 1 node_4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Total Usage:
 2.0/2.0 CPU
 0B/4.05GiB memory
 0B/4.05GiB object_store_memory

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 {'CPU': 1.0, 'GPU': 1.0}: 2+ pending tasks/actors
 {'CPU': 1.0}: 5+ pending tasks/actors
 {'CPU': 0.5, 'r1': 1.0}: 4+ pending tasks/actors
 {'CPU': 64.0}: 1+ pending tasks/actors`,
		},
		{
			name: "placement groups: their resources hidden, reservations folded in",
			snap: Snapshot{Time: snapTime, Nodes: []Node{{
				ID: idA, Address: "10.0.0.1", Alive: true,
				Total: map[string]float64{
					"CPU": 4, "memory": 4096,
					"CPU_group_0_9f8e7d6c5b4a39281706f5e4d3c20100":    2,
					"CPU_group_9f8e7d6c5b4a39281706f5e4d3c20100":      2,
					"memory_group_0_9f8e7d6c5b4a39281706f5e4d3c20100": 2048,
					"memory_group_9f8e7d6c5b4a39281706f5e4d3c20100":   2048,
					"bundle_group_0_9f8e7d6c5b4a39281706f5e4d3c20100": 1000,
					"bundle_group_9f8e7d6c5b4a39281706f5e4d3c20100":   1000,
				},
				Available: map[string]float64{
					"CPU": 1, "memory": 2048,
					"CPU_group_0_9f8e7d6c5b4a39281706f5e4d3c20100":    1,
					"CPU_group_9f8e7d6c5b4a39281706f5e4d3c20100":      1,
					"memory_group_0_9f8e7d6c5b4a39281706f5e4d3c20100": 2048,
					"memory_group_9f8e7d6c5b4a39281706f5e4d3c20100":   2048,
					"bundle_group_0_9f8e7d6c5b4a39281706f5e4d3c20100": 1000,
					"bundle_group_9f8e7d6c5b4a39281706f5e4d3c20100":   1000,
				},
			}}, Demands: []Demand{
				{Shape: map[string]float64{"CPU_group_9f8e7d6c5b4a39281706f5e4d3c20100": 1}, Count: 2},
				{Shape: map[string]float64{"CPU": 1}, Count: 1},
				{Shape: map[string]float64{"bundle_group_9f8e7d6c5b4a39281706f5e4d3c20100": 0.001}, Count: 1},
			}},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
Node status
---------------------------------------------------------------
Active:
 1 node_4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Total Usage:
 2.0/4.0 CPU (1.0 used of 2.0 reserved in placement groups)
 0B/4.00KiB memory (0B used of 2.00KiB reserved in placement groups)

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 {'CPU': 1.0}: 3+ pending tasks/actors (2+ using placement groups)`,
		},
		{
			name:    "verbose: blank line after header, failure cause, per-node breakdown",
			verbose: true,
			snap: Snapshot{Time: snapTime, Nodes: []Node{
				{
					ID: idD, Address: "10.0.0.4", Alive: false, DeathCause: "missed 5 health checks",
					Total: map[string]float64{"CPU": 16},
				},
				{
					ID: idB, Address: "10.0.0.2", Alive: true,
					Total: map[string]float64{
						"CPU": 4, "GPU": 1, "accelerator_type:T4": 1, "memory": 1 << 30,
						"object_store_memory": 512 << 20, "node:10.0.0.2": 1,
					},
					Available: map[string]float64{
						"CPU": 3.5, "GPU": 0, "accelerator_type:T4": 1, "memory": 1 << 30,
						"object_store_memory": 256 << 20, "node:10.0.0.2": 1,
					},
				},
				headNode(idA, "10.0.0.1", 1),
			}, Demands: []Demand{{Shape: map[string]float64{"GPU": 1}, Count: 3}}},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========

Node status
---------------------------------------------------------------
Active:
 1 node_4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
 1 node_a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7
Pending:
 (no pending nodes)
Recent failures:
 node_f2e99af987618864161970a2b891f4e31f4edf2236deb98329cc5a17: NodeTerminated (ip: 10.0.0.4) - missed 5 health checks

Resources
---------------------------------------------------------------
Total Usage:
 1.5/6.0 CPU
 1.0/1.0 GPU
 0.0/1.0 accelerator_type:T4
 0B/5.05GiB memory
 256.00MiB/4.55GiB object_store_memory

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 {'GPU': 1.0}: 3+ pending tasks/actors

Node: 4122ac6d486c994414de5ed9704c329002b5ec596fb38dd0806fe1fd
 Usage:
  1.0/2.0 CPU
  0B/4.05GiB memory
  0B/4.05GiB object_store_memory

Node: a9d14d6a94d5e77fbdafdb8802dada067a37417f2f7ad98426aa3eb7
 Usage:
  0.5/4.0 CPU
  1.0/1.0 GPU
  0.0/1.0 accelerator_type:T4
  0B/1.00GiB memory
  256.00MiB/512.00MiB object_store_memory`,
		},
		{
			name: "no nodes at all",
			snap: Snapshot{Time: snapTime},
			want: `======== Autoscaler status: 2026-11-30 12:00:00.123456 ========
Node status
---------------------------------------------------------------
Active:
 (no active nodes)
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Total Usage:

Total Constraints:
 (no request_resources() constraints)
Total Demands:
 (no resource demands)`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Format(tc.snap, tc.verbose)
			if got != tc.want {
				t.Errorf("Format() mismatch\n--- got ---\n%s\n--- want ---\n%s", got, tc.want)
			}
			// Deterministic whatever the order of the input nodes and demands.
			rev := tc.snap
			rev.Nodes = append([]Node(nil), tc.snap.Nodes...)
			rev.Demands = append([]Demand(nil), tc.snap.Demands...)
			for i, j := 0, len(rev.Nodes)-1; i < j; i, j = i+1, j-1 {
				rev.Nodes[i], rev.Nodes[j] = rev.Nodes[j], rev.Nodes[i]
			}
			for i, j := 0, len(rev.Demands)-1; i < j; i, j = i+1, j-1 {
				rev.Demands[i], rev.Demands[j] = rev.Demands[j], rev.Demands[i]
			}
			if again := Format(rev, tc.verbose); again != got {
				t.Errorf("Format() depends on input order\n--- reversed input ---\n%s\n--- original ---\n%s", again, got)
			}
		})
	}
}

func TestFormatSeparatorMatchesHeader(t *testing.T) {
	for _, ts := range []time.Time{snapTime, time.Date(2020, 12, 28, 1, 2, 3, 0, time.UTC)} {
		lines := strings.Split(Format(Snapshot{Time: ts}, false), "\n")
		if got, want := len(lines[2]), len(lines[0]); got != want || strings.Trim(lines[2], "-") != "" {
			t.Errorf("separator %q is not %d dashes (header %q)", lines[2], want, lines[0])
		}
	}
}

func TestFormatCapsFailures(t *testing.T) {
	var nodes []Node
	for i := 0; i < 25; i++ {
		nodes = append(nodes, Node{ID: string(rune('a'+i)) + "0", Address: "10.0.1.1"})
	}
	out := Format(Snapshot{Time: snapTime, Nodes: nodes}, false)
	if n := strings.Count(out, ": NodeTerminated (ip: "); n != maxFailuresShown {
		t.Errorf("%d failure lines, want %d:\n%s", n, maxFailuresShown, out)
	}
	if !strings.Contains(out, "Recent failures:\n node_a0: NodeTerminated (ip: 10.0.1.1)\n node_b0:") {
		t.Errorf("failures not in ID order:\n%s", out)
	}
}

func TestFormatZeroTimeIsNow(t *testing.T) {
	before := time.Now().Add(-time.Second)
	out := Format(Snapshot{}, false)
	const prefix = "======== Autoscaler status: "
	stamp := strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(out, prefix), "\n", 2)[0], " ========")
	got, err := time.ParseInLocation("2006-01-02 15:04:05.999999", stamp, time.Local)
	if err != nil {
		t.Fatalf("header %q: %v", stamp, err)
	}
	if got.Before(before.Truncate(time.Second)) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("header time %v is not now", got)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0B"},
		{0.5, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{1023.9, "1023B"},
		{1024, "1.00KiB"},
		{1025, "1.00KiB"},
		{1037, "1.01KiB"},
		{1200, "1.17KiB"},
		{5555, "5.42KiB"},
		{10282, "10.04KiB"},
		{1<<20 - 10, "1023.99KiB"},
		{1<<20 - 1, "1024.00KiB"},
		{1 << 20, "1.00MiB"},
		{256 << 20, "256.00MiB"},
		{1 << 30, "1.00GiB"},
		{gib405, "4.05GiB"},
		{3.14 * (1 << 30), "3.14GiB"},
		{5.004 * (1 << 30), "5.00GiB"},
		{5.005 * (1 << 30), "5.00GiB"},
		{1 << 40, "1.00TiB"},
		{3 << 50, "3072.00TiB"},
		{-5, "-5B"},
		{math.NaN(), "nanB"},
	}
	for _, tc := range tests {
		if got := FormatBytes(tc.in); got != tc.want {
			t.Errorf("FormatBytes(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Variables, not constants: Go folds constant expressions exactly, Python (and Ray) do not.
var two, onePointNine, pointOne, pointTwo = 2.0, 1.9, 0.1, 0.2

func TestPythonFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{0.5, "0.5"},
		{two - onePointNine, "0.10000000000000009"},
		{pointOne + pointTwo, "0.30000000000000004"},
		{1.0 / 3, "0.3333333333333333"},
		{0.0001, "0.0001"},
		{0.00025, "0.00025"},
		{1e-5, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{123456789, "123456789.0"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tc := range tests {
		if got := pythonFloat(tc.in); got != tc.want {
			t.Errorf("pythonFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPythonDict(t *testing.T) {
	tests := []struct {
		in   map[string]float64
		want string
	}{
		{map[string]float64{}, "{}"},
		{map[string]float64{"GPU": 1, "CPU": 0.5, "custom": 2}, "{'CPU': 0.5, 'GPU': 1.0, 'custom': 2.0}"},
		{map[string]float64{"it's": 1}, `{"it's": 1.0}`},
		{map[string]float64{`a'b"c`: 1}, `{'a\'b"c': 1.0}`},
		{map[string]float64{"x\u00a0y": 1, "é": 1}, `{'x\xa0y': 1.0, 'é': 1.0}`},
	}
	for _, tc := range tests {
		if got := pythonDict(tc.in); got != tc.want {
			t.Errorf("pythonDict(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParsePGResource(t *testing.T) {
	tests := []struct {
		in              string
		resource, group string
		countable       bool
	}{
		{"CPU", "CPU", "", true},
		{"node:10.0.0.1", "node:10.0.0.1", "", true},
		{"CPU_group_abc123", "CPU", "abc123", true},
		{"CPU_group_0_abc123", "CPU", "abc123", false},
		{"my_group_res_group_12_ff00", "my_group_res", "ff00", false},
		{"bundle_group_ff00", "bundle", "ff00", true},
	}
	for _, tc := range tests {
		r, g, c := parsePGResource(tc.in)
		if r != tc.resource || g != tc.group || c != tc.countable {
			t.Errorf("parsePGResource(%q) = %q, %q, %v; want %q, %q, %v", tc.in, r, g, c, tc.resource, tc.group, tc.countable)
		}
	}
}
