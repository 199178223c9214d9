package resources

import (
	"fmt"
	"math"
	"testing"
)

func TestLedgerAllocateRelease(t *testing.T) {
	total := map[string]float64{"CPU": 4, "GPU": 1, "memory": 1e9, "custom": 2}
	cases := []struct {
		name    string
		demands []map[string]float64
		fit     []bool // per demand, in order, allocating each one that fits
	}{
		{"empty demand", []map[string]float64{nil, nil}, []bool{true, true}},
		{"whole node", []map[string]float64{total}, []bool{true}},
		{"one CPU at a time", []map[string]float64{{"CPU": 1}, {"CPU": 1}, {"CPU": 1}, {"CPU": 1}, {"CPU": 1}}, []bool{true, true, true, true, false}},
		{"fractions", []map[string]float64{{"CPU": 0.1}, {"CPU": 0.2}, {"CPU": 3.7}, {"CPU": 0.0001}}, []bool{true, true, true, false}},
		{"unknown resource", []map[string]float64{{"TPU": 1}, {"CPU": 1, "TPU": 1}}, []bool{false, false}},
		{"too much", []map[string]float64{{"CPU": 5}, {"GPU": 1.5}}, []bool{false, false}},
		{"mixed", []map[string]float64{{"CPU": 1, "GPU": 1}, {"GPU": 0.5}, {"CPU": 3, "custom": 2}, {"memory": 1}}, []bool{true, false, true, true}},
		{"memory bytes", []map[string]float64{{"memory": 6e8}, {"memory": 6e8}, {"memory": 4e8}}, []bool{true, false, true}},
	}
	for _, c := range cases {
		l := NewLedger(set(t, Total, total))
		var allocs []*Allocation
		for i, m := range c.demands {
			d := set(t, Demand, m)
			before := l.Available()
			if got := l.Fits(d); got != c.fit[i] {
				t.Errorf("%s: Fits(%v) = %v", c.name, d, got)
			}
			a, ok := l.Allocate(d)
			if ok != c.fit[i] {
				t.Errorf("%s: Allocate(%v) = %v, want %v", c.name, d, ok, c.fit[i])
			}
			if !ok {
				if a != nil || !l.Available().Equal(before) {
					t.Errorf("%s: failed Allocate(%v) changed the ledger: %v -> %v", c.name, d, before, l.Available())
				}
				continue
			}
			if want := before.Sub(d); !l.Available().Equal(want) {
				t.Errorf("%s: after Allocate(%v): available %v, want %v", c.name, d, l.Available(), want)
			}
			if !a.Demand().Equal(d) || a.Released() {
				t.Errorf("%s: allocation %v", c.name, a.Demand())
			}
			allocs = append(allocs, a)
		}
		// Release in reverse order, then check that everything came back; a second release of each
		// is a no-op.
		for i := len(allocs) - 1; i >= 0; i-- {
			if !l.Release(allocs[i]) || !allocs[i].Released() {
				t.Errorf("%s: Release(%d) refused", c.name, i)
			}
		}
		for _, a := range allocs {
			if l.Release(a) {
				t.Errorf("%s: second Release accepted", c.name)
			}
		}
		if !l.Available().Equal(l.Total()) || !l.Total().Equal(set(t, Total, total)) {
			t.Errorf("%s: after releasing everything: available %v, total %v", c.name, l.Available(), l.Total())
		}
	}
}

func TestLedgerFeasible(t *testing.T) {
	l := NewLedger(set(t, Total, map[string]float64{"CPU": 2, "GPU": 0}))
	cases := []struct {
		demand map[string]float64
		want   bool
	}{
		{nil, true},
		{map[string]float64{"CPU": 2}, true},
		{map[string]float64{"CPU": 2.0001}, false},
		{map[string]float64{"GPU": 1}, false},
		{map[string]float64{"CPU": 1, "x": 1}, false},
	}
	// Feasibility looks at totals, whatever is in use.
	if _, ok := l.Allocate(set(t, Demand, map[string]float64{"CPU": 2})); !ok {
		t.Fatal("cannot allocate")
	}
	for _, c := range cases {
		if got := l.Feasible(set(t, Demand, c.demand)); got != c.want {
			t.Errorf("Feasible(%v) = %v", c.demand, got)
		}
	}
}

func TestLedgerManySmall(t *testing.T) {
	l := NewLedger(set(t, Total, map[string]float64{"CPU": 1}))
	d := set(t, Demand, map[string]float64{"CPU": MinQuantity})
	allocs := make([]*Allocation, 0, Scale)
	for i := 0; i < Scale; i++ {
		a, ok := l.Allocate(d)
		if !ok {
			t.Fatalf("allocation %d of %v does not fit", i+1, d)
		}
		allocs = append(allocs, a)
	}
	if _, ok := l.Allocate(d); ok {
		t.Fatalf("allocation %d fits in 1 CPU", Scale+1)
	}
	if !l.Available().IsEmpty() || l.Utilization() != 1 {
		t.Errorf("full: available %v, utilization %v", l.Available(), l.Utilization())
	}
	for _, a := range allocs {
		l.Release(a)
	}
	if !l.Available().Equal(l.Total()) || l.Utilization() != 0 {
		t.Errorf("after release: available %v, utilization %v", l.Available(), l.Utilization())
	}
}

func TestLedgerReleasePart(t *testing.T) {
	l := NewLedger(set(t, Total, map[string]float64{"CPU": 1, "GPU": 1}))
	a, ok := l.Allocate(set(t, Demand, map[string]float64{"CPU": 1, "GPU": 1}))
	if !ok {
		t.Fatal("cannot allocate")
	}
	cpu := set(t, Demand, map[string]float64{"CPU": 1})
	steps := []struct {
		op    string // lend, take (back), alloc and free (another task), fits, release
		name  string
		want  bool
		avail map[string]float64 // available after the step
	}{
		{"lend", "TPU", false, nil},
		{"take", "CPU", false, nil},
		{"lend", "CPU", true, map[string]float64{"CPU": 1}},
		{"lend", "CPU", false, map[string]float64{"CPU": 1}},
		{"take", "CPU", true, nil},
		{"lend", "CPU", true, map[string]float64{"CPU": 1}},
		// Another task takes the lent CPU; taking it back over-commits the node, which then fits
		// nothing until the other task is done.
		{"alloc", "", true, nil},
		{"take", "CPU", true, nil},
		{"take", "CPU", false, nil},
		{"fits", "", false, nil},
		{"free", "", true, nil},
		{"fits", "", false, nil},
		{"lend", "GPU", true, map[string]float64{"GPU": 1}},
		// Releasing gives back what is still held: the CPU, and not the lent GPU a second time.
		{"release", "", true, map[string]float64{"CPU": 1, "GPU": 1}},
		{"lend", "CPU", false, map[string]float64{"CPU": 1, "GPU": 1}},
		{"take", "GPU", false, map[string]float64{"CPU": 1, "GPU": 1}},
		{"release", "", false, map[string]float64{"CPU": 1, "GPU": 1}},
		{"fits", "", true, map[string]float64{"CPU": 1, "GPU": 1}},
	}
	var other *Allocation
	for i, s := range steps {
		var got bool
		switch s.op {
		case "lend":
			got = l.ReleasePart(a, s.name)
		case "take":
			got = l.Reacquire(a, s.name)
		case "alloc":
			other, got = l.Allocate(cpu)
		case "free":
			got = l.Release(other)
		case "fits":
			got = l.Fits(cpu)
		case "release":
			got = l.Release(a)
		}
		if got != s.want {
			t.Errorf("step %d %s %s = %v, want %v", i, s.op, s.name, got, s.want)
		}
		if want := set(t, Total, s.avail); !l.Available().Equal(want) {
			t.Errorf("step %d %s %s: available %v, want %v", i, s.op, s.name, l.Available(), want)
		}
	}
}

func TestLedgerForeignAllocation(t *testing.T) {
	total := set(t, Total, map[string]float64{"CPU": 2})
	l1, l2 := NewLedger(total), NewLedger(total)
	a, _ := l1.Allocate(set(t, Demand, map[string]float64{"CPU": 1}))
	if l2.Release(a) || l2.ReleasePart(a, "CPU") || l2.Reacquire(a, "CPU") || l2.Release(nil) || l2.ReleasePart(nil, "CPU") {
		t.Error("a ledger accepted another's allocation")
	}
	if !l2.Available().Equal(total) || l1.Available().Get("CPU") != Scale {
		t.Errorf("ledgers changed: %v %v", l1.Available(), l2.Available())
	}
}

func TestUtilization(t *testing.T) {
	cases := []struct {
		total, avail map[string]float64
		want         float64
	}{
		{nil, nil, 0},
		{map[string]float64{"CPU": 4}, map[string]float64{"CPU": 4}, 0},
		{map[string]float64{"CPU": 4}, map[string]float64{"CPU": 2}, 0.5},
		{map[string]float64{"CPU": 4}, nil, 1},
		// GPUs and custom resources do not count, as in Ray.
		{map[string]float64{"CPU": 4, "GPU": 2, "x": 1}, map[string]float64{"CPU": 4}, 0},
		// The busiest of CPU, memory and object store memory.
		{
			map[string]float64{"CPU": 4, "memory": 1000, "object_store_memory": 100},
			map[string]float64{"CPU": 3, "memory": 100, "object_store_memory": 50},
			0.9,
		},
		{map[string]float64{"GPU": 1}, nil, 0},
	}
	for _, c := range cases {
		total, avail := set(t, Total, c.total), set(t, Total, c.avail)
		if got := CriticalUtilization(total, avail); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("CriticalUtilization(%v, %v) = %v, want %v", total, avail, got, c.want)
		}
		// The ledger computes the same figure after taking total - available.
		l := NewLedger(total)
		if used := total.Sub(avail); !used.IsEmpty() {
			if _, ok := l.Allocate(used); !ok {
				t.Fatalf("cannot allocate %v", used)
			}
		}
		if got := l.Utilization(); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("ledger %v, available %v: Utilization %v, want %v", total, l.Available(), got, c.want)
		}
	}
}

func TestLedgerAllocatesLittle(t *testing.T) {
	l := NewLedger(set(t, Total, map[string]float64{"CPU": 8, "GPU": 1, "memory": 1e9}))
	d := set(t, Demand, map[string]float64{"CPU": 1, "GPU": 0.5})
	if n := testing.AllocsPerRun(100, func() {
		if !l.Fits(d) || !l.Feasible(d) {
			t.Fatal("does not fit")
		}
		_ = l.Utilization()
	}); n != 0 {
		t.Errorf("Fits allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		a, _ := l.Allocate(d)
		l.Release(a)
	}); n > 1 {
		t.Errorf("Allocate+Release allocates %v times", n)
	}
}

func BenchmarkLedgerAllocateRelease(b *testing.B) {
	l := NewLedger(set(b, Total, map[string]float64{"CPU": 8, "GPU": 1, "memory": 1e9, "object_store_memory": 1e9}))
	d := set(b, Demand, map[string]float64{"CPU": 1})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, ok := l.Allocate(d)
		if !ok {
			b.Fatal("does not fit")
		}
		l.Release(a)
	}
}

// AllocateAnyway over-commits, nothing else fits meanwhile, and releasing it restores the node.
func TestLedgerAllocateAnyway(t *testing.T) {
	l := NewLedger(set(t, Total, map[string]float64{"CPU": 2}))
	two := set(t, Demand, map[string]float64{"CPU": 2})
	a, ok := l.Allocate(two)
	if !ok {
		t.Fatal("2 CPUs do not fit in 2")
	}
	b := l.AllocateAnyway(set(t, Demand, map[string]float64{"CPU": 1}))
	if l.Fits(set(t, Demand, map[string]float64{"CPU": 0.0001})) {
		t.Fatal("something fits in an over-committed node")
	}
	if u := l.Utilization(); u != 1.5 {
		t.Fatalf("utilisation %v, want 1.5", u)
	}
	l.Release(b)
	l.Release(a)
	if got := l.Available().Get("CPU"); got != FromFloat(2) {
		t.Fatalf("available CPU %v after releasing everything, want 2", got)
	}
}

// Totals that grow and shrink (a placement group's bundle resources come and go): allocations
// made before or after, of resources that stay or leave, release exactly what they hold.
func TestLedgerGrowShrink(t *testing.T) {
	base := map[string]float64{"CPU": 4, "custom": 2}
	bundle := map[string]float64{"CPU_group_0_pg": 1, "CPU_group_pg": 1, "bundle_group_0_pg": 1000}
	demand := func(m map[string]float64) Set { return set(t, Demand, m) }
	cases := []struct {
		name  string
		steps func(l *Ledger) // ends with everything released
		want  map[string]float64
	}{
		{"grow adds new resources, available at once", func(l *Ledger) {
			l.Grow(set(t, Total, bundle))
			a, ok := l.Allocate(demand(map[string]float64{"CPU_group_0_pg": 1, "bundle_group_0_pg": 0.001}))
			if !ok || l.Fits(demand(map[string]float64{"CPU_group_0_pg": 0.5})) {
				t.Fatalf("allocating a bundle's CPU: %v; or more of it fits", ok)
			}
			l.Release(a)
		}, map[string]float64{"CPU": 4, "custom": 2, "CPU_group_0_pg": 1, "CPU_group_pg": 1, "bundle_group_0_pg": 1000}},
		{"grow adds to a resource the node has", func(l *Ledger) {
			l.Grow(set(t, Total, map[string]float64{"CPU": 2}))
		}, map[string]float64{"CPU": 6, "custom": 2}},
		{"shrink gives back the totals it grew from", func(l *Ledger) {
			l.Grow(set(t, Total, bundle))
			if !l.Shrink(set(t, Total, bundle)) {
				t.Fatal("shrinking what was grown refused")
			}
		}, base},
		{"shrink of what the node lacks is refused", func(l *Ledger) {
			if l.Shrink(set(t, Total, map[string]float64{"CPU": 5})) || l.Shrink(set(t, Total, bundle)) {
				t.Fatal("a shrink beyond the totals was accepted")
			}
		}, base},
		{"an allocation made before a grow shifts nothing", func(l *Ledger) {
			a, _ := l.Allocate(demand(map[string]float64{"CPU": 1, "custom": 1}))
			l.Grow(set(t, Total, map[string]float64{"B_group": 1, "D_group": 1}))
			l.Release(a)
			l.Shrink(set(t, Total, map[string]float64{"B_group": 1, "D_group": 1}))
		}, base},
		{"an allocation of a resource that left releases the rest", func(l *Ledger) {
			l.Grow(set(t, Total, bundle))
			a, ok := l.Allocate(demand(map[string]float64{"CPU": 1, "CPU_group_0_pg": 1, "custom": 1}))
			if !ok {
				t.Fatal("allocation refused")
			}
			l.Shrink(set(t, Total, bundle)) // (the group is removed while its task runs)
			l.Release(a)
		}, base},
		{"an allocation of a resource that left and came back does not give it back", func(l *Ledger) {
			l.Grow(set(t, Total, bundle))
			a, _ := l.Allocate(demand(map[string]float64{"CPU": 1, "CPU_group_0_pg": 1}))
			l.Shrink(set(t, Total, bundle)) // the group is removed while its task runs...
			l.Grow(set(t, Total, bundle))   // ...and made again
			l.Release(a)                    // the old task ends: its CPU comes back, not the new bundle's
			if got := l.Available().Get("CPU_group_0_pg"); got != FromFloat(1) {
				t.Fatalf("the new bundle has %v free, want 1", got)
			}
			b, ok := l.Allocate(demand(map[string]float64{"CPU_group_0_pg": 1}))
			if !ok {
				t.Fatal("the new bundle's resource cannot be allocated")
			}
			l.Release(b)
			l.Shrink(set(t, Total, bundle))
		}, base},
		{"allocate anyway skips what the node lacks", func(l *Ledger) {
			a := l.AllocateAnyway(demand(map[string]float64{"AAA": 1, "CPU": 5, "zzz": 1}))
			if l.Utilization() <= 1 {
				t.Fatal("not over-committed")
			}
			l.Release(a)
		}, base},
	}
	// Each case also runs on a node with many other resources (as one holding many groups'
	// bundles), where grows and shrinks take resizeSmall's path.
	for _, pad := range []int{0, 40} {
		padded := func(m map[string]float64) map[string]float64 {
			out := map[string]float64{}
			for k, v := range m {
				out[k] = v
			}
			for i := 0; i < pad; i++ {
				out[fmt.Sprintf("CPU_group_%d_other%02d", i%4, i)] = 1
			}
			return out
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%d more", c.name, pad), func(t *testing.T) {
				l := NewLedger(set(t, Total, padded(base)))
				c.steps(l)
				want := set(t, Total, padded(c.want))
				if !l.Total().Equal(want) || !l.Available().Equal(want) {
					t.Errorf("total %v, available %v, want both %v", l.Total(), l.Available(), want)
				}
			})
		}
	}
}

// The totals a caller got from Total stay as they were when the ledger grows and shrinks after
// (it changes them in place only while no one holds them), and Only reads a few resources of a
// large ledger.
func TestLedgerTotalsHandedOutStay(t *testing.T) {
	big := map[string]float64{"CPU": 4}
	for i := 0; i < 40; i++ {
		big[fmt.Sprintf("CPU_group_%02d_pg", i)] = 1
	}
	l := NewLedger(set(t, Total, big))
	before := l.Total()
	bundle := set(t, Total, map[string]float64{"CPU_group_00_new": 2})
	l.Grow(bundle) // (a copy: before is held)
	middle := l.Total()
	l.Shrink(set(t, Total, map[string]float64{"CPU_group_05_pg": 1}))
	l.Shrink(bundle) // (in place: middle was handed out before the first shrink only)
	l.Grow(set(t, Total, map[string]float64{"CPU_group_05_pg": 1}))
	if want := set(t, Total, big); !before.Equal(want) || !l.Total().Equal(want) {
		t.Errorf("totals handed out first %v, now %v; want both %v", before, l.Total(), want)
	}
	withNew := map[string]float64{"CPU_group_00_new": 2}
	for k, v := range big {
		withNew[k] = v
	}
	if want := set(t, Total, withNew); !middle.Equal(want) {
		t.Errorf("totals handed out after the grow changed to %v, want %v", middle, want)
	}

	a, ok := l.Allocate(set(t, Demand, map[string]float64{"CPU": 1.5, "CPU_group_07_pg": 1}))
	if !ok {
		t.Fatal("allocation refused")
	}
	total, avail := l.Only([]string{"memory", "CPU_group_07_pg", "CPU", "CPU_group_08_pg"})
	if want := set(t, Total, map[string]float64{"CPU": 4, "CPU_group_07_pg": 1, "CPU_group_08_pg": 1}); !total.Equal(want) {
		t.Errorf("Only's totals %v, want %v", total, want)
	}
	if want := set(t, Total, map[string]float64{"CPU": 2.5, "CPU_group_08_pg": 1}); !avail.Equal(want) {
		t.Errorf("Only's available %v, want %v (a resource fully in use is left out)", avail, want)
	}
	l.Release(a)
}
