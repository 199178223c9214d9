package resources

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// set builds a valid Set for tests.
func set(t testing.TB, kind Kind, m map[string]float64) Set {
	t.Helper()
	s, err := NewSet(m, kind)
	if err != nil {
		t.Fatalf("NewSet(%v): %v", m, err)
	}
	return s
}

func TestNewSetValidation(t *testing.T) {
	cases := []struct {
		res  map[string]float64
		kind Kind
		want []string // substrings of the error; nil: valid
	}{
		{nil, Demand, nil},
		{map[string]float64{"CPU": 1, "GPU": 0.5}, Demand, nil},
		{map[string]float64{"GPU": 0}, Total, nil},
		{map[string]float64{"CPU": 0}, Demand, []string{`"CPU"`, "must be positive"}},
		{map[string]float64{"CPU": math.NaN()}, Demand, []string{`"CPU"`, "not a number"}},
		{map[string]float64{"GPU": math.Inf(1)}, Total, []string{`"GPU"`, "infinite"}},
		{map[string]float64{"CPU": 1, "disk": -2}, Total, []string{`"disk"`, "negative"}},
		{map[string]float64{"memory": 2e13}, Total, []string{`"memory"`, "too large"}},
		{map[string]float64{"CPU": 5e-5}, Demand, []string{`"CPU"`, "too small"}},
		{map[string]float64{"": 1}, Demand, []string{"empty name"}},
		{map[string]float64{"a\tb": 1}, Demand, []string{"control character"}},
	}
	for _, c := range cases {
		s, err := NewSet(c.res, c.kind)
		if c.want == nil {
			if err != nil {
				t.Errorf("NewSet(%v, %v): %v", c.res, c.kind, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("NewSet(%v, %v) accepted as %v", c.res, c.kind, s)
			continue
		}
		if !s.IsEmpty() {
			t.Errorf("NewSet(%v, %v) failed but returned %v", c.res, c.kind, s)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("NewSet(%v, %v): error %q lacks %q", c.res, c.kind, err, w)
			}
		}
	}
}

func TestSetBasics(t *testing.T) {
	s := set(t, Total, map[string]float64{"GPU": 0, "CPU": 4, "r": 0.5, "memory": 1e9})
	if s.Len() != 3 {
		t.Errorf("zero GPU kept: %v", s)
	}
	if got := s.String(); got != "{CPU: 4, memory: 1000000000, r: 0.5}" {
		t.Errorf("String = %q", got)
	}
	for name, want := range map[string]Quantity{"CPU": 4 * Scale, "r": 5000, "GPU": 0, "zzz": 0, "": 0, "memory": 1e13} {
		if got := s.Get(name); got != want {
			t.Errorf("Get(%q) = %v, want %v", name, got, want)
		}
	}
	if name, q := s.At(0); name != "CPU" || q != 4*Scale {
		t.Errorf("At(0) = %q, %v", name, q)
	}
	m := s.Map()
	if len(m) != 3 || m["CPU"] != 4 || m["r"] != 0.5 || m["memory"] != 1e9 {
		t.Errorf("Map = %v", m)
	}
	if back := set(t, Total, m); !back.Equal(s) {
		t.Errorf("Map round trip: %v != %v", back, s)
	}
	var empty Set
	if !empty.IsEmpty() || empty.String() != "{}" || len(empty.Map()) != 0 || !empty.Equal(set(t, Demand, nil)) {
		t.Errorf("zero Set: %v", empty)
	}
}

func TestSetArithmetic(t *testing.T) {
	d := func(m map[string]float64) Set { return set(t, Total, m) }
	cases := []struct {
		a, b      map[string]float64
		sum, diff map[string]float64
		fits      bool // b fits in a
		equal     bool
	}{
		{nil, nil, nil, nil, true, true},
		{map[string]float64{"CPU": 1}, nil, map[string]float64{"CPU": 1}, map[string]float64{"CPU": 1}, true, false},
		{nil, map[string]float64{"CPU": 1}, map[string]float64{"CPU": 1}, nil, false, false},
		{map[string]float64{"CPU": 0.3}, map[string]float64{"CPU": 0.1}, map[string]float64{"CPU": 0.4}, map[string]float64{"CPU": 0.2}, true, false},
		{map[string]float64{"CPU": 0.3}, map[string]float64{"CPU": 0.3}, map[string]float64{"CPU": 0.6}, nil, true, true},
		{map[string]float64{"CPU": 1}, map[string]float64{"CPU": 2}, map[string]float64{"CPU": 3}, nil, false, false},
		{
			map[string]float64{"CPU": 4, "a": 1, "z": 2},
			map[string]float64{"b": 1, "CPU": 1, "z": 2},
			map[string]float64{"CPU": 5, "a": 1, "b": 1, "z": 4},
			map[string]float64{"CPU": 3, "a": 1},
			false, false,
		},
		{
			map[string]float64{"CPU": 4, "a": 1, "z": 2},
			map[string]float64{"z": 2, "CPU": 4},
			map[string]float64{"CPU": 8, "a": 1, "z": 4},
			map[string]float64{"a": 1},
			true, false,
		},
	}
	for _, c := range cases {
		a, b := d(c.a), d(c.b)
		if got := a.Add(b); !got.Equal(d(c.sum)) {
			t.Errorf("%v + %v = %v, want %v", a, b, got, d(c.sum))
		}
		if got := a.Sub(b); !got.Equal(d(c.diff)) {
			t.Errorf("%v - %v = %v, want %v", a, b, got, d(c.diff))
		}
		if got := b.FitsIn(a); got != c.fits {
			t.Errorf("%v.FitsIn(%v) = %v", b, a, got)
		}
		if a.Equal(b) != c.equal || b.Equal(a) != c.equal {
			t.Errorf("%v.Equal(%v) = %v", a, b, a.Equal(b))
		}
	}
	// Add and Sub leave their operands alone.
	a, b := d(map[string]float64{"CPU": 2}), d(map[string]float64{"CPU": 1})
	a.Add(b)
	a.Sub(b)
	if a.Get("CPU") != 2*Scale || b.Get("CPU") != Scale {
		t.Errorf("operands changed: %v %v", a, b)
	}
	// Sums saturate instead of wrapping.
	big := Set{[]item{{"memory", math.MaxInt64 - 1}}}
	if got := big.Add(big).Get("memory"); got != math.MaxInt64 {
		t.Errorf("saturated sum = %v", got)
	}
}

func TestSetLarge(t *testing.T) {
	m := map[string]float64{}
	for i := 0; i < 40; i++ {
		m[string(rune('A'+i))] = float64(i + 1)
	}
	s := set(t, Demand, m)
	for i := 1; i < s.Len(); i++ {
		prev, _ := s.At(i - 1)
		cur, _ := s.At(i)
		if prev >= cur {
			t.Fatalf("not sorted at %d: %q %q", i, prev, cur)
		}
	}
	if !s.FitsIn(s) || s.Get("C") != 3*Scale {
		t.Errorf("large set: %v", s)
	}
}

// A small change to a large set (a demand against a node holding many groups' bundles) takes the
// copy-and-search path; it must agree with the one-pass merge: values changed, resources added,
// resources that reach zero gone, the order kept.
func TestSetSmallChangeOfLargeSet(t *testing.T) {
	big := map[string]float64{"CPU": 4, "memory": 1e9}
	for i := 0; i < 30; i++ {
		big[fmt.Sprintf("CPU_group_%d_%032x", i%3, i)] = 0.5
	}
	large := set(t, Total, big)
	changes := []map[string]float64{
		{"CPU": 1},           // lower (Sub) / raise (Add)
		{"CPU": 4},           // to zero: gone after Sub
		{"CPU": 8, "GPU": 1}, // more than there is; a new one
		{"CPU_group_1_" + fmt.Sprintf("%032x", 4): 0.5, "AAA": 1, "zzz": 2}, // first, last, middle
		{"CPU_group_0_" + fmt.Sprintf("%032x", 3): 0.25},
	}
	for _, c := range changes {
		small := set(t, Demand, c)
		if small.Len()*smallChange > large.Len() {
			t.Fatalf("%v is not small beside %d resources", c, large.Len())
		}
		for _, op := range []struct {
			name string
			f    func(a, b Quantity) Quantity
			got  Set
		}{
			{"Add", addSat, large.Add(small)},
			{"Sub", func(a, b Quantity) Quantity {
				if b >= a {
					return 0
				}
				return a - b
			}, large.Sub(small)},
		} {
			if want := mergeWalk(large, small, op.f); !op.got.Equal(want) {
				t.Errorf("%s %v:\n got %v\nwant %v", op.name, c, op.got, want)
			}
		}
	}
	if got := large.Sub(set(t, Demand, map[string]float64{"CPU": 4})).Get("CPU"); got != 0 {
		t.Errorf("CPU after taking all of it = %v", got)
	}
	if large.Get("CPU") != 4*Scale {
		t.Errorf("the large set changed: %v", large)
	}
}

func TestFitsInAllocatesNothing(t *testing.T) {
	have := set(t, Total, map[string]float64{"CPU": 8, "GPU": 1, "memory": 1e9, "object_store_memory": 1e9})
	want := set(t, Demand, map[string]float64{"CPU": 1, "GPU": 0.5})
	if n := testing.AllocsPerRun(100, func() {
		if !want.FitsIn(have) || want.Get("GPU") == 0 {
			t.Fatal("does not fit")
		}
	}); n != 0 {
		t.Errorf("FitsIn allocates %v times", n)
	}
}

func BenchmarkFitsIn(b *testing.B) {
	have := set(b, Total, map[string]float64{"CPU": 8, "GPU": 1, "memory": 1e9, "object_store_memory": 1e9})
	want := set(b, Demand, map[string]float64{"CPU": 1, "GPU": 0.5})
	for i := 0; i < b.N; i++ {
		if !want.FitsIn(have) {
			b.Fatal("does not fit")
		}
	}
}

func TestSetOnlyAndGet(t *testing.T) {
	s, err := NewSet(map[string]float64{"CPU": 2, "GPU": 1, "a_group_x": 3, "mem": 4}, Total)
	if err != nil {
		t.Fatal(err)
	}
	only := s.Only([]string{"mem", "GPU", "absent"})
	if got := only.Map(); len(got) != 2 || got["GPU"] != 1 || got["mem"] != 4 {
		t.Errorf("only: %v", got)
	}
	if !s.Only([]string{"mem", "a_group_x", "GPU", "CPU"}).Equal(s) {
		t.Error("only every name is not the set")
	}
	if s.Get("a_group_x").Float() != 3 || s.Get("zzz") != 0 || s.Get("") != 0 || s.Get("CPU").Float() != 2 {
		t.Errorf("Get: CPU %v, a_group_x %v", s.Get("CPU"), s.Get("a_group_x"))
	}
}
