package resources

import (
	"math"
	"strings"
	"testing"
)

func TestValidateQuantity(t *testing.T) {
	cases := []struct {
		name  string
		value float64
		kind  Kind
		want  []string // substrings of the error; nil: valid
	}{
		{"CPU", 1, Demand, nil},
		{"CPU", 0.5, Demand, nil},
		{"CPU", MinQuantity, Demand, nil},
		{"GPU", 0, Total, nil},
		{"memory", 2e12, Total, nil},
		{"CPU", MaxQuantity, Total, nil},
		{"CPU", MaxQuantity, Demand, nil},
		{"custom/resource:1", 64, Demand, nil},
		{"CPU", 0, Demand, []string{`"CPU"`, "= 0", "must be positive"}},
		{"CPU", -1, Total, []string{`"CPU"`, "= -1", "negative"}},
		{"CPU", -1e300, Total, []string{`"CPU"`, "-1e+300", "negative"}},
		{"CPU", math.Copysign(0, -1), Demand, []string{"must be positive"}},
		{"CPU", math.NaN(), Total, []string{`"CPU"`, "NaN", "not a number"}},
		{"CPU", math.Inf(1), Demand, []string{`"CPU"`, "+Inf", "infinite", "at most 1e+13"}},
		{"CPU", math.Inf(-1), Total, []string{"-Inf", "infinite"}},
		{"CPU", 1e18, Total, []string{`"CPU"`, "1e+18", "too large", "at most 1e+13", "1/10,000"}},
		{"CPU", math.Nextafter(MaxQuantity, math.Inf(1)), Demand, []string{"too large"}},
		{"CPU", 1e-5, Demand, []string{"1e-05", "too small", "0.0001"}},
		{"CPU", 1e-300, Total, []string{"too small"}},
		{"", 1, Demand, []string{"empty name"}},
		{"", 0, Total, []string{"empty name"}},
		{"C\x00PU", 1, Demand, []string{"control character"}},
		{"CPU\n", 1, Demand, []string{"control character"}},
		{"\xff\xfe", 1, Demand, []string{"not valid UTF-8"}},
		{"GPU\u00e9", 1, Demand, nil},
		{"x\u0085", 1, Demand, []string{"control character"}},
		{strings.Repeat("r", MaxNameLength+1), 1, Demand, []string{"1025 bytes", "at most 1024"}},
	}
	for _, c := range cases {
		err := ValidateQuantity("task F", c.name, c.value, c.kind)
		if fast := Valid(map[string]float64{c.name: c.value}, c.kind); fast != (err == nil) {
			t.Errorf("%q = %v (%v): the fast check says %v, the full one %v", c.name, c.value, c.kind, fast, err)
		}
		if ok := Validate("task F", map[string]float64{c.name: c.value}, c.kind) == nil; ok != (err == nil) {
			t.Errorf("%q = %v (%v): Validate says %v, ValidateQuantity %v", c.name, c.value, c.kind, ok, err)
		}
		if c.want == nil {
			if err != nil {
				t.Errorf("%q = %v (%v): unexpected error %v", c.name, c.value, c.kind, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q = %v (%v) accepted", c.name, c.value, c.kind)
			continue
		}
		if !strings.HasPrefix(err.Error(), "task F: ") {
			t.Errorf("%q = %v: error does not name its owner: %v", c.name, c.value, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q = %v (%v): error %q lacks %q", c.name, c.value, c.kind, err, w)
			}
		}
	}
}

func TestValidateMap(t *testing.T) {
	if err := Validate("node", nil, Total); err != nil {
		t.Errorf("nil map: %v", err)
	}
	if err := Validate("node", map[string]float64{"CPU": 4, "GPU": 0, "r1": 1e6}, Total); err != nil {
		t.Errorf("valid totals: %v", err)
	}
	// The same map as a demand: the zero GPU is refused.
	err := Validate("task F", map[string]float64{"CPU": 4, "GPU": 0}, Demand)
	if err == nil || !strings.Contains(err.Error(), `"GPU"`) {
		t.Errorf("zero demand: %v", err)
	}
	// Several bad entries: the first in name order is reported, every time.
	bad := map[string]float64{"z": math.NaN(), "b": -1, "a": math.Inf(1), "c": 1}
	for i := 0; i < 20; i++ {
		err := Validate("node", bad, Total)
		if err == nil || !strings.Contains(err.Error(), `resource "a"`) {
			t.Fatalf("want the error of \"a\", got %v", err)
		}
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{2: "2", 0.5: "0.5", 1e18: "1e+18", math.Inf(1): "+Inf", -1: "-1"} {
		if got := Format(v); got != want {
			t.Errorf("Format(%v) = %q, want %q", v, got, want)
		}
	}
	if got := Format(math.NaN()); got != "NaN" {
		t.Errorf("Format(NaN) = %q", got)
	}
}
