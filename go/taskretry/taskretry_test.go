package taskretry

import "testing"

func TestParseDefault(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int
		bad  bool
	}{{"", 3, false}, {"0", 0, false}, {"5", 5, false}, {"-1", -1, false}, {"-2", 0, true}, {"x", 0, true}, {"1.5", 0, true}} {
		got, err := ParseDefault(tc.v)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseDefault(%q) = %d, %v; want %d (error %v)", tc.v, got, err, tc.want, tc.bad)
		}
	}
}

func TestResolveAndTake(t *testing.T) {
	for _, tc := range []struct {
		max   int32
		def   int
		takes int // successful Take calls before it runs out (-1: never within 100)
	}{{Default, 3, 3}, {Default, 0, 0}, {0, 3, 0}, {2, 3, 2}, {Unlimited, 3, -1}, {Default, Unlimited, -1}} {
		left := Resolve(tc.max, tc.def)
		n := 0
		for n < 100 && Take(&left) {
			n++
		}
		if want := tc.takes; (want == -1 && n != 100) || (want >= 0 && n != want) {
			t.Errorf("max %d default %d: %d retries, want %d", tc.max, tc.def, n, tc.takes)
		}
		if Has(left) != (tc.takes == -1) {
			t.Errorf("max %d default %d: Has after taking all = %v", tc.max, tc.def, Has(left))
		}
	}
}

func TestAttempts(t *testing.T) {
	if Attempts(1) != "" || Attempts(4) != " (the task was attempted 4 times)" {
		t.Errorf("Attempts: %q, %q", Attempts(1), Attempts(4))
	}
}

func TestFewer(t *testing.T) {
	for _, c := range []struct{ a, b, want int }{
		{Unlimited, Unlimited, Unlimited}, {Unlimited, 3, 3}, {3, Unlimited, 3}, {2, 5, 2}, {5, 2, 2}, {0, Unlimited, 0},
	} {
		if got := Fewer(c.a, c.b); got != c.want {
			t.Errorf("Fewer(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
