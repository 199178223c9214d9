package resources

import (
	"fmt"
	"strings"
	"testing"
)

// GPUs as Ray gives them out, as a table: each case takes (t) and gives back (g) on devices,
// then says which devices each take got ("-" when refused) and what each device has free.
func TestDevices(t *testing.T) {
	cases := []struct {
		name    string
		devices float64
		steps   []float64
		got     string // each take's devices: "0", "0,1", "-"
		free    string // per device, in units of 1/10,000
	}{
		{"whole devices, lowest first", 4, []float64{1, 2}, "0 1,2", "0 0 0 10000"},
		{"fractions share a device", 2, []float64{0.5, 0.5}, "0 0", "0 10000"},
		{"fractions pack where room is least", 2, []float64{0.5, 0.25, 0.5}, "0 0 1", "2500 5000"},
		{"a whole demand needs whole free devices", 2, []float64{0.5, 2}, "0 -", "5000 10000"},
		{"fragmented: no device has room for the fraction", 2, []float64{0.6, 0.6, 0.6}, "0 1 -", "4000 4000"},
		{"given back, taken again", 2, []float64{1, 1, -1, 1}, "0 1 0", "0 0"},
		{"fractional count", 1.5, []float64{1, 0.5, 0.5}, "0 1 -", "0 0"},
		{"no devices", 0, []float64{1}, "-", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDevices(FromFloat(c.devices))
			var takes [][]DeviceShare
			var got []string
			for _, s := range c.steps {
				if s < 0 {
					d.Give(takes[int(-s)-1])
					continue
				}
				shares, ok := d.Take(FromFloat(s), nil)
				if !ok {
					got = append(got, "-")
					takes = append(takes, nil)
					continue
				}
				takes = append(takes, shares)
				var idx []string
				for _, sh := range shares {
					idx = append(idx, fmt.Sprint(sh.Index))
				}
				got = append(got, strings.Join(idx, ","))
			}
			if g := strings.Join(got, " "); g != c.got {
				t.Errorf("takes %q, want %q", g, c.got)
			}
			var free []string
			for _, f := range d.free {
				free = append(free, fmt.Sprint(int64(f)))
			}
			if f := strings.Join(free, " "); f != c.free {
				t.Errorf("free %q, want %q", f, c.free)
			}
		})
	}
}

// The ledger gives GPU allocations their devices, refuses a demand the devices cannot give even
// when the count would fit, and takes the devices back on release.
func TestLedgerDevices(t *testing.T) {
	l := NewLedger(set(t, Total, map[string]float64{"CPU": 8, "GPU": 2}))
	half := set(t, Demand, map[string]float64{"GPU": 0.6})
	a, _ := l.Allocate(half)
	b, _ := l.Allocate(half)
	if fmt.Sprint(a.Devices(), b.Devices()) != "[0] [1]" {
		t.Errorf("devices %v %v", a.Devices(), b.Devices())
	}
	if l.Fits(set(t, Demand, map[string]float64{"GPU": 0.5})) {
		t.Error("0.5 GPU fits where each device has 0.4 left (0.8 in all)")
	}
	l.Release(a)
	c, ok := l.Allocate(set(t, Demand, map[string]float64{"GPU": 1}))
	if !ok || fmt.Sprint(c.Devices()) != "[0]" {
		t.Errorf("after a release: %v %v", ok, c.Devices())
	}
	if cpu, _ := l.Allocate(set(t, Demand, map[string]float64{"CPU": 1})); len(cpu.Devices()) != 0 {
		t.Errorf("a CPU task got devices %v", cpu.Devices())
	}
}
