package ratemeter

import (
	"testing"
	"time"
)

func TestMeterRate(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		name  string
		every time.Duration // between two finishes
		n     int
		want  float64 // within 1%
	}{
		{"nothing measured within the first window", time.Millisecond, 5, 0},
		{"1,000 per second", time.Millisecond, 100, 1000},
		{"100,000 per second", 10 * time.Microsecond, 5000, 100000},
		{"one every 50 ms", 50 * time.Millisecond, 10, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m Meter
			for i := 1; i <= tc.n; i++ {
				m.Note(start.Add(time.Duration(i) * tc.every))
			}
			got := m.Rate()
			if d := got - tc.want; d > tc.want/100 || d < -tc.want/100 {
				t.Errorf("rate %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBound(t *testing.T) {
	cases := []struct {
		rate                 float64
		backlog              time.Duration
		floor, ceiling, want float64
	}{
		{0, 20 * time.Millisecond, 16, 4096, 16},
		{100000, 20 * time.Millisecond, 16, 4096, 2000},
		{1e7, 20 * time.Millisecond, 16, 4096, 4096},
		{10, 20 * time.Millisecond, 2, 4096, 2},
	}
	for _, tc := range cases {
		if got := Bound(tc.rate, tc.backlog, tc.floor, tc.ceiling); got != tc.want {
			t.Errorf("Bound(%v, %v, %v, %v) = %v, want %v", tc.rate, tc.backlog, tc.floor, tc.ceiling, got, tc.want)
		}
	}
}
