package raylet

import (
	"errors"
	"fmt"
	"sync"

	"goray/resources"
)

// Errors of Reserve, for the callers to tell apart (errors.Is).
var (
	// ErrNotFreeNow: the node has the resources, but not free now.
	ErrNotFreeNow = errors.New("the resources are not free now")
	// ErrNeverFits: the node's totals are less than the resources.
	ErrNeverFits = errors.New("the node does not have the resources")
)

// Reserve takes res (resource names and amounts, as tasks ask for them) from the node's free
// resources for a holder other than its tasks and actors: a submitted job's entrypoint (Ray's
// entrypoint_num_cpus, entrypoint_resources, ...). It fails with ErrNotFreeNow or ErrNeverFits
// (wrapped). release gives them back; calls after the first do nothing.
func (r *Raylet) Reserve(res map[string]float64) (release func(), err error) {
	demand, err := resources.NewSet(res, resources.Demand)
	if err != nil {
		return nil, err
	}
	var alloc *resources.Allocation
	r.do(func(s *state) {
		if !s.ledger.Feasible(demand) {
			err = fmt.Errorf("%w: %v, where it has %v in all", ErrNeverFits, demand, s.ledger.Total())
			return
		}
		var ok bool
		if alloc, ok = s.ledger.Allocate(demand); !ok {
			err = fmt.Errorf("%w: %v, where %v is free", ErrNotFreeNow, demand, s.ledger.Available())
		}
	})
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			r.do(func(s *state) {
				s.ledger.Release(alloc)
				s.schedule()
			})
		})
	}, nil
}
