package placement

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

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
		{"CPU", 0, "CPU_group_0_G"},
		{"GPU", 12, "GPU_group_12_G"},
		{"CPU", AnyBundle, "CPU_group_G"},
		{"bundle", 3, "bundle_group_3_G"},
	}
	for _, c := range cases {
		if got := Name(c.resource, "G", c.index); got != c.want {
			t.Errorf("Name(%s, %d) = %q, want %q", c.resource, c.index, got, c.want)
		}
		if !IsGroupResource(c.want) {
			t.Errorf("%q is not recognised as a group's resource", c.want)
		}
	}
	if IsGroupResource("CPU") || IsGroupResource("my_groups") {
		t.Errorf("a plain resource is taken for a group's")
	}
	if InGroup(map[string]float64{"CPU": 1}) || !InGroup(map[string]float64{"CPU_group_G": 1, "bundle_group_G": 0.001}) {
		t.Errorf("InGroup tells a group's demand wrong")
	}
}

// What a committed bundle adds to its node, and what a task of the group asks for instead.
func TestBundleResourcesAndDemand(t *testing.T) {
	got := render(BundleResources("G", 1, map[string]float64{"CPU": 2, "GPU": 0.5}))
	want := "CPU_group_1_G:2 CPU_group_G:2 GPU_group_1_G:0.5 GPU_group_G:0.5 bundle_group_1_G:1000 bundle_group_G:1000"
	if got != want {
		t.Errorf("bundle resources %q, want %q", got, want)
	}
	cases := []struct {
		name   string
		demand map[string]float64
		index  int
		want   string // or "error"
	}{
		{"in a bundle", map[string]float64{"CPU": 1}, 1, "CPU_group_1_G:1 CPU_group_G:1 bundle_group_1_G:0.001"},
		{"in any bundle", map[string]float64{"CPU": 1}, AnyBundle, "CPU_group_G:1 bundle_group_G:0.001"},
		{"asking for nothing still lands on the bundle", nil, 0, "bundle_group_0_G:0.001"},
		{"zero quantities are left out", map[string]float64{"CPU": 1, "GPU": 0}, 0, "CPU_group_0_G:1 CPU_group_G:1 bundle_group_0_G:0.001"},
		{"a bad index", map[string]float64{"CPU": 1}, -2, "error"},
		{"a group's resource asked for directly", map[string]float64{"CPU_group_0_X": 1}, 0, "error"},
	}
	for _, c := range cases {
		d, err := Demand(c.demand, "G", c.index)
		got := render(d)
		if err != nil {
			got = "error"
		}
		if got != c.want {
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
		{[]map[string]float64{{"CPU_group_0_G": 1}}, false},
		{[]map[string]float64{{"CPU": 1e300}}, false},
	}
	for _, c := range cases {
		if err := Check(c.bundles); (err == nil) != c.ok {
			t.Errorf("Check(%v) = %v, want ok %v", c.bundles, err, c.ok)
		}
	}
}
