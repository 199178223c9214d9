package core

import (
	"testing"
	"time"

	"goray/ids"
	pb "goray/rpc/proto"
)

// Tasks share a lease class when they ask for the same resources and strategy, whatever the
// order of their resource map; SPREAD tasks never go to a lease.
func TestLeaseKey(t *testing.T) {
	a := &pb.TaskSpec{Resources: map[string]float64{"CPU": 1, "r1": 0.5}}
	b := &pb.TaskSpec{Resources: map[string]float64{"r1": 0.5, "CPU": 1}}
	cases := []struct {
		name      string
		x, y      *pb.TaskSpec
		same      bool
		leaseable bool
	}{
		{"same resources", a, b, true, true},
		{"other amounts", a, &pb.TaskSpec{Resources: map[string]float64{"CPU": 1, "r1": 1}}, false, true},
		{"node affinity", a, &pb.TaskSpec{Resources: a.Resources, SchedulingStrategy: 2, AffinityNodeId: "ab"}, false, true},
		{"another node", &pb.TaskSpec{SchedulingStrategy: 2, AffinityNodeId: "ab"}, &pb.TaskSpec{SchedulingStrategy: 2, AffinityNodeId: "cd"}, false, true},
		{"spread", a, &pb.TaskSpec{Resources: a.Resources, SchedulingStrategy: strategySpread}, false, false},
	}
	for _, tc := range cases {
		kx, okx := leaseKey(tc.x)
		ky, oky := leaseKey(tc.y)
		if !okx {
			t.Errorf("%s: the first task has no lease class", tc.name)
		}
		if oky != tc.leaseable || (oky && (kx == ky) != tc.same) {
			t.Errorf("%s: keys %q and %q (leaseable %v), want same %v leaseable %v", tc.name, kx, ky, oky, tc.same, tc.leaseable)
		}
	}
}

// The lease a task goes to: the one with the fewest tasks in flight, below its bound (which grows
// with how fast it finishes them); never one returned or lost, or one whose worker handed tasks
// back (it waits in Get).
func TestLeaseRoomiest(t *testing.T) {
	fast := func() *lease {
		l := &lease{inflight: map[ids.ObjectID]leasedTask{}}
		start := time.Unix(100, 0)
		for i := 1; i <= 2000; i++ { // about 100,000 tasks/s: a bound of about 2,000
			l.meter.Note(start.Add(time.Duration(i) * 10 * time.Microsecond))
		}
		return l
	}
	with := func(l *lease, n int) *lease {
		if l == nil {
			l = &lease{inflight: map[ids.ObjectID]leasedTask{}}
		}
		for i := 0; i < n; i++ {
			l.inflight[ids.NewPutID()] = leasedTask{}
		}
		return l
	}
	ended := with(nil, 0)
	ended.ended = true
	handedBack := with(nil, 0)
	handedBack.handedBack = true
	cases := []struct {
		name string
		held []*lease
		want int // index in held, -1: none
	}{
		{"no lease", nil, -1},
		{"the less loaded", []*lease{with(nil, 1), with(nil, 0)}, 1},
		{"a new lease takes two at most", []*lease{with(nil, leaseMinDepth)}, -1},
		{"a fast one takes many", []*lease{with(fast(), 500)}, 0},
		{"a fast one has a bound too", []*lease{with(fast(), 2100)}, -1},
		{"not an ended one", []*lease{ended, with(nil, 1)}, 1},
		{"not one that handed tasks back", []*lease{handedBack}, -1},
	}
	for _, tc := range cases {
		c := &leaseClass{held: tc.held}
		got := c.roomiest()
		want := (*lease)(nil)
		if tc.want >= 0 {
			want = tc.held[tc.want]
		}
		if got != want {
			t.Errorf("%s: got lease %p, want %p", tc.name, got, want)
		}
	}
	c := &leaseClass{held: []*lease{handedBack}}
	if !c.allHandedBack() {
		t.Error("a class whose only lease handed tasks back: allHandedBack is false")
	}
	c.held = append(c.held, with(nil, 0))
	if c.allHandedBack() {
		t.Error("a class with a lease that takes tasks: allHandedBack is true")
	}
}

// After lease requests that came to nothing, the wait before the next doubles, up to a bound.
func TestLeaseBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {4, 16 * time.Second}, {5, 30 * time.Second}, {100, 30 * time.Second}} {
		if got := leaseBackoff(tc.failures); got != tc.want {
			t.Errorf("leaseBackoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}
