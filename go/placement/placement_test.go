package placement

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// g is a group id as groups have them.
const g = "0123456789abcdef0123456789abcdef0123"

// sorted puts the fields of s in order.
func sorted(s string) string {
	f := strings.Fields(s)
	sort.Strings(f)
	return strings.Join(f, " ")
}

// render writes a resource map in name order: "a:1 b:2".
func render(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s:%v", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func TestNames(t *testing.T) {
	cases := []struct {
		resource string
		index    int
		want     string
	}{
		{"CPU", 0, "CPU_group_0_" + g},
		{"GPU", 12, "GPU_group_12_" + g},
		{"CPU", AnyBundle, "CPU_group_" + g},
		{"bundle", 3, "bundle_group_3_" + g},
	}
	for _, c := range cases {
		if got := Name(c.resource, g, c.index); got != c.want {
			t.Errorf("Name(%s, %d) = %q, want %q", c.resource, c.index, got, c.want)
		}
		if !IsGroupResource(c.want) {
			t.Errorf("%q is not recognised as a group's resource", c.want)
		}
	}
	for _, name := range []string{"CPU", "my_groups", "io_group_a", "x_group_12_abc", "_group_" + g, "x_group_1a_" + g, "x_group_" + g + "0", "x_group_" + strings.ToUpper(g)} {
		if IsGroupResource(name) {
			t.Errorf("%q is taken for a group's resource", name)
		}
	}
	if CheckGroupID(g) != nil || CheckGroupID("G") == nil || CheckGroupID(strings.ToUpper(g)) == nil {
		t.Errorf("CheckGroupID tells ids wrong")
	}
	if InGroup(map[string]float64{"CPU": 1}) || !InGroup(map[string]float64{"CPU_group_" + g: 1, "bundle_group_" + g: 0.001}) {
		t.Errorf("InGroup tells a group's demand wrong")
	}
}

// What a committed bundle adds to its node, and what a task of the group asks for instead.
func TestBundleResourcesAndDemand(t *testing.T) {
	got := render(BundleResources(g, 1, map[string]float64{"CPU": 2, "GPU": 0.5}))
	want := "CPU_group_1_" + g + ":2 CPU_group_" + g + ":2 GPU_group_1_" + g + ":0.5 GPU_group_" + g + ":0.5 bundle_group_1_" + g + ":1000 bundle_group_" + g + ":1000"
	if got != sorted(want) {
		t.Errorf("bundle resources %q, want %q", got, want)
	}
	cases := []struct {
		name   string
		demand map[string]float64
		index  int
		want   string // or "error"
	}{
		{"in a bundle", map[string]float64{"CPU": 1}, 1, "CPU_group_1_" + g + ":1 CPU_group_" + g + ":1 bundle_group_1_" + g + ":0.001"},
		{"in any bundle", map[string]float64{"CPU": 1}, AnyBundle, "CPU_group_" + g + ":1 bundle_group_" + g + ":0.001"},
		{"asking for nothing still lands on the bundle", nil, 0, "bundle_group_0_" + g + ":0.001"},
		{"zero quantities are left out", map[string]float64{"CPU": 1, "GPU": 0}, 0, "CPU_group_0_" + g + ":1 CPU_group_" + g + ":1 bundle_group_0_" + g + ":0.001"},
		{"a bad index", map[string]float64{"CPU": 1}, -2, "error"},
		{"a group's resource asked for directly", map[string]float64{"CPU_group_0_" + g: 1}, 0, "error"},
		{"a user's resource that only looks like one", map[string]float64{"io_group_a": 1}, 0, "bundle_group_0_" + g + ":0.001 io_group_a_group_" + g + ":1 io_group_a_group_0_" + g + ":1"},
	}
	for _, c := range cases {
		d, err := Demand(c.demand, g, c.index)
		got := render(d)
		if err != nil {
			got = "error"
		}
		if got != sorted(c.want) {
			t.Errorf("%s: %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		bundles []map[string]float64
		ok      bool
	}{
		{[]map[string]float64{{"CPU": 1}}, true},
		{[]map[string]float64{{"CPU": 1}, {"GPU": 0.5, "custom": 2}}, true},
		{nil, false},
		{[]map[string]float64{{"CPU": 1}, {}}, false},
		{[]map[string]float64{{"CPU": 0}}, false},
		{[]map[string]float64{{"CPU": -1}}, false},
		{[]map[string]float64{{"": 1}}, false},
		{[]map[string]float64{{"CPU_group_0_" + g: 1}}, false},
		{[]map[string]float64{{"CPU": 1e300}}, false},
	}
	for _, c := range cases {
		if err := Check(c.bundles); (err == nil) != c.ok {
			t.Errorf("Check(%v) = %v, want ok %v", c.bundles, err, c.ok)
		}
	}
}
