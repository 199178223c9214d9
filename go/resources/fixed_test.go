package resources

import (
	"math"
	"testing"
)

func TestFromFloat(t *testing.T) {
	cases := []struct {
		v    float64
		want Quantity
	}{
		{0, 0},
		{1, Scale},
		{0.5, 5000},
		{MinQuantity, 1},
		{0.1, 1000},
		{0.3, 3000},
		{0.00025, 3},     // halves (2.5 units) round away from zero
		{0.00015, 1},     // 1.4999999999999998 units: below half
		{0.12345, 1235},  // 1234.5 units
		{0.99999, Scale}, // 9999.9 units: the nearest is 10000
		{MaxQuantity, 1e17},
		{-1.25, -12500},
		{math.NaN(), 0},
		{math.Inf(1), math.MaxInt64},
		{math.Inf(-1), math.MinInt64},
		{1e300, math.MaxInt64},
	}
	for _, c := range cases {
		if got := FromFloat(c.v); got != c.want {
			t.Errorf("FromFloat(%v) = %d, want %d", c.v, got, c.want)
		}
	}
	// The float64 sum is not 0.3, the fixed-point one is.
	a, b := 0.1, 0.2
	if a+b == 0.3 {
		t.Fatal("float64 arithmetic changed")
	}
	if FromFloat(a)+FromFloat(b) != FromFloat(0.3) {
		t.Errorf("0.1 + 0.2 = %v in fixed point", FromFloat(a)+FromFloat(b))
	}
	if got := (FromFloat(0.1) + FromFloat(0.2)).Float(); got != 0.3 {
		t.Errorf("(0.1 + 0.2).Float() = %v, want 0.3", got)
	}
}

func TestQuantityString(t *testing.T) {
	cases := []struct {
		q    Quantity
		want string
	}{
		{0, "0"},
		{Scale, "1"},
		{2 * Scale, "2"},
		{5000, "0.5"},
		{1, "0.0001"},
		{12345, "1.2345"},
		{10010, "1.001"},
		{-12500, "-1.25"},
		{1e17, "10000000000000"},
		{math.MinInt64, "-922337203685477.5808"},
		{math.MaxInt64, "922337203685477.5807"},
	}
	for _, c := range cases {
		if got := c.q.String(); got != c.want {
			t.Errorf("Quantity(%d).String() = %q, want %q", int64(c.q), got, c.want)
		}
	}
}
