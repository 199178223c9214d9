package raylet

import (
	"fmt"
	"testing"

	"goray/resources"
)

// Pending actors are kept in creation order whatever order they became pending in, once each.
func TestPendingActorsKeepCreationOrder(t *testing.T) {
	cases := []struct {
		added []uint64 // seqs, in the order the actors became pending (repeats: pending again)
		want  string
	}{
		{[]uint64{1, 2, 3}, "[1 2 3]"},
		{[]uint64{3, 1, 2}, "[1 2 3]"},
		{[]uint64{2, 2, 1, 3, 1}, "[1 2 3]"},
		{[]uint64{5}, "[5]"},
		{nil, "[]"},
	}
	for _, c := range cases {
		r := New(Config{})
		actors := map[uint64]*actor{}
		for _, seq := range c.added {
			if actors[seq] == nil {
				actors[seq] = &actor{seq: seq}
			}
			r.addPendingActor(actors[seq])
		}
		var got []uint64
		for _, a := range r.pendingActors {
			got = append(got, a.seq)
		}
		if s := fmt.Sprint(got); s != c.want && !(len(got) == 0 && c.want == "[]") {
			t.Errorf("pending after adding %v: %s, want %s", c.added, s, c.want)
		}
		for _, a := range actors {
			r.removePendingActor(a)
		}
		if len(r.pendingActors) != 0 {
			t.Errorf("%d pending after removing all", len(r.pendingActors))
		}
	}
}

// The node's resources are one fixed-point ledger: tasks take their demand (one CPU by default)
// and give it back exactly, fractions add up without drift, and a blocked worker lends its CPU.
func TestTaskDemandsOnTheLedger(t *testing.T) {
	r := New(Config{Resources: map[string]float64{"CPU": 1, "r": 0.3}})
	if err := r.resErr; err != nil {
		t.Fatal(err)
	}
	demand := func(res map[string]float64) resources.Set {
		d, err := taskDemand(res)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := demand(nil); d.Get(resources.CPU) != resources.FromFloat(1) || d.Len() != 1 {
		t.Fatalf("default demand %v, want CPU 1", d)
	}
	if d := demand(map[string]float64{"r": 0.1}); d.Get(resources.CPU) != resources.FromFloat(1) {
		t.Fatalf("a demand naming no CPU gets %v", d)
	}
	tenth := demand(map[string]float64{"CPU": 0.1, "r": 0.1})
	var allocs []*resources.Allocation
	for i := 0; i < 3; i++ {
		a, ok := r.ledger.Allocate(tenth)
		if !ok {
			t.Fatalf("allocation %d of 0.1 r out of 0.3 refused", i)
		}
		allocs = append(allocs, a)
	}
	if r.ledger.Fits(tenth) {
		t.Fatal("a fourth 0.1 r fits in 0.3")
	}
	r.ledger.ReleasePart(allocs[0], resources.CPU) // blocked in Get
	if got := r.Stats().Available["CPU"]; got != 0.8 {
		t.Fatalf("available CPU %v with one task blocked, want 0.8", got)
	}
	r.ledger.Reacquire(allocs[0], resources.CPU)
	for _, a := range allocs {
		r.ledger.Release(a)
	}
	if s := r.Stats(); s.Available["CPU"] != 1 || s.Available["r"] != 0.3 {
		t.Fatalf("available %v after every release, want all of CPU 1, r 0.3", s.Available)
	}
	if _, err := taskDemand(map[string]float64{"CPU": 1e18}); err == nil {
		t.Fatal("an absurd demand was accepted")
	}
	if err := New(Config{Resources: map[string]float64{"CPU": -1}}).Start(); err == nil {
		t.Fatal("a node with -1 CPUs started")
	}
}
