package raylet

import (
	"fmt"
	"strings"
	"testing"

	"goray/placement"
)

// A placement group's bundles on one node, through their two phases, as table cases: each is
// steps on a node with 4 CPUs and one idle worker; then what the node has in total and free, and
// whether a task of the group's bundle 0 (asking for 1 CPU) runs.
func TestStateBundles(t *testing.T) {
	type step func(h *harness) error
	prepare := func(index int, cpus float64) step {
		return func(h *harness) error {
			var err error
			h.do(func(s *state) { err = s.prepareBundle(tg, index, map[string]float64{"CPU": cpus}, 1) })
			return err
		}
	}
	commit := func(index int) step {
		return func(h *harness) error {
			var err error
			h.do(func(s *state) { err = s.commitBundle(tg, index) })
			return err
		}
	}
	give := func(index int) step {
		return func(h *harness) error { h.do(func(s *state) { s.returnBundle(tg, index, 0) }); return nil }
	}
	giveGroup := func(h *harness) error { h.do(func(s *state) { s.returnGroup(tg, false) }); return nil }
	expire := func(h *harness) error {
		for _, tm := range h.takeEffects().timers {
			h.do(tm.fire)
		}
		return nil
	}
	cases := []struct {
		name  string
		steps []step
		errs  string // the steps' errors, "-" for none: "- - no room"
		total string // the node's CPU-ish totals: "CPU:4 CPU_group_0_G:2 ..." (bundle_group left out)
		free  string
		runs  bool // a task of bundle 0 runs
	}{
		{"nothing held", nil, "", "CPU:4", "CPU:4", false},
		{"prepared: taken, not usable yet", []step{prepare(0, 2)}, "-", "CPU:4", "CPU:2", false},
		{"committed: the group's resources appear and its task runs", []step{prepare(0, 2), commit(0)}, "- -",
			"CPU:4 CPU_group_0_G:2 CPU_group_G:2", "CPU:2 CPU_group_0_G:1 CPU_group_G:1", true},
		{"prepare twice reserves once", []step{prepare(0, 2), prepare(0, 2), commit(0), commit(0)}, "- - - -",
			"CPU:4 CPU_group_0_G:2 CPU_group_G:2", "CPU:2 CPU_group_0_G:1 CPU_group_G:1", true},
		{"no room for a bundle", []step{prepare(0, 3), prepare(1, 2)}, "- no room", "CPU:4", "CPU:1", false},
		{"commit without prepare", []step{commit(0)}, "not prepared", "CPU:4", "CPU:4", false},
		{"returned after commit: all back", []step{prepare(0, 2), commit(0), give(0)}, "- - -", "CPU:4", "CPU:4", false},
		{"returned while prepared", []step{prepare(0, 2), give(0)}, "- -", "CPU:4", "CPU:4", false},
		{"a prepare never committed expires", []step{prepare(0, 2), expire}, "- -", "CPU:4", "CPU:4", false},
		{"a committed bundle does not expire", []step{prepare(0, 2), commit(0), expire}, "- - -",
			"CPU:4 CPU_group_0_G:2 CPU_group_G:2", "CPU:2 CPU_group_0_G:1 CPU_group_G:1", true},
		{"two bundles, the whole group returned", []step{prepare(0, 1), prepare(1, 1), commit(0), commit(1), giveGroup}, "- - - - -",
			"CPU:4", "CPU:4", false},
		{"two bundles share the group's wildcard", []step{prepare(0, 1), prepare(1, 2), commit(0), commit(1)}, "- - - -",
			"CPU:4 CPU_group_0_G:1 CPU_group_1_G:2 CPU_group_G:3", "CPU:1 CPU_group_1_G:2 CPU_group_G:2", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 4})
			h.s.defaultJob.prestart = 0
			w := h.worker(nil)
			h.takeEffects()
			var errs []string
			for _, st := range c.steps {
				err := st(h)
				switch {
				case err == nil:
					errs = append(errs, "-")
				case strings.Contains(err.Error(), "no room"):
					errs = append(errs, "no room")
				case strings.Contains(err.Error(), "not prepared"):
					errs = append(errs, "not prepared")
				default:
					errs = append(errs, err.Error())
				}
			}
			if got := strings.Join(errs, " "); got != c.errs {
				t.Errorf("errors %q, want %q", got, c.errs)
			}
			// A task of the group's bundle 0, asking for 1 CPU.
			demand, err := placement.Demand(map[string]float64{"CPU": 1}, tg, 0)
			if err != nil {
				t.Fatal(err)
			}
			h.submit(h.driver(), "InBundle", demand, 0)
			ran := len(executed(w.out.take())) > 0
			if ran != c.runs {
				t.Errorf("the group's task ran: %v, want %v", ran, c.runs)
			}
			if got := cpuish(h.s.ledger.Total().Map()); got != c.total {
				t.Errorf("total %q, want %q", got, c.total)
			}
			if got := cpuish(h.s.ledger.Available().Map()); got != c.free {
				t.Errorf("free %q, want %q", got, c.free)
			}
		})
	}
}

// tg is the id of the group of these tests.
const tg = "00112233445566778899aabbccddeeff0011"

// cpuish renders the CPU resources of m (bundle_group markers left out), in name order, with the
// group's id written G.
func cpuish(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"CPU", "CPU_group_0_G", "CPU_group_1_G", "CPU_group_G"} {
		if v, ok := m[strings.ReplaceAll(k, "G", tg)]; ok {
			parts = append(parts, fmt.Sprintf("%s:%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}

// A task of a group submitted before its bundle is committed waits (no node has the group's
// resources yet), and runs once the bundle is committed here.
func TestStateBundleTaskWaitsForCommit(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 2})
	h.s.defaultJob.prestart = 0
	w := h.worker(nil)
	h.takeEffects()
	demand, _ := placement.Demand(map[string]float64{"CPU": 1}, tg, placement.AnyBundle)
	h.submit(h.driver(), "Early", demand, 0)
	if len(executed(w.out.take())) != 0 {
		t.Fatal("a task of a group with no bundle ran")
	}
	h.do(func(s *state) {
		if err := s.prepareBundle(tg, 0, map[string]float64{"CPU": 1}, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.commitBundle(tg, 0); err != nil {
			t.Fatal(err)
		}
	})
	if got := executed(w.out.take()); len(got) != 1 || got[0] != "Early" {
		t.Fatalf("after the commit the worker got %v, want the waiting task", got)
	}
}
