package raylet

import (
	"errors"
	"testing"
)

func TestReserveForAnEntrypoint(t *testing.T) {
	r := startRaylet(t, []string{"/bin/true"})
	release, err := r.Reserve(map[string]float64{"CPU": 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Stats().Available["CPU"]; got != 0 {
		t.Errorf("with the CPU reserved, %v CPUs are free", got)
	}
	if _, err := r.Reserve(map[string]float64{"CPU": 1}); !errors.Is(err, ErrNotFreeNow) {
		t.Errorf("a second reservation of the only CPU: %v", err)
	}
	if _, err := r.Reserve(map[string]float64{"CPU": 2}); !errors.Is(err, ErrNeverFits) {
		t.Errorf("more CPUs than the node has: %v", err)
	}
	if _, err := r.Reserve(map[string]float64{"GPU": 1}); !errors.Is(err, ErrNeverFits) {
		t.Errorf("a GPU the node does not have: %v", err)
	}
	if _, err := r.Reserve(map[string]float64{"CPU": -1}); err == nil || errors.Is(err, ErrNeverFits) || errors.Is(err, ErrNotFreeNow) {
		t.Errorf("a negative amount: %v", err)
	}
	release()
	release() // (a second release gives nothing back twice)
	if got := r.Stats().Available["CPU"]; got != 1 {
		t.Errorf("after the release, %v CPUs are free", got)
	}
}
