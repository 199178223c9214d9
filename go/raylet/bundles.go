package raylet

import (
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/placement"
	"goray/resources"
)

// Bundles of placement groups that this node holds. The owner of a group decides where its
// bundles go; each node holding one goes through Ray's two phases for it:
//   - prepare: the bundle's resources are taken from the node's ledger, so nothing else gets
//     them (or the prepare fails: no room);
//   - commit: the node's totals grow by the bundle's resources under the group's names (package
//     placement), which the group's tasks and actors ask for;
//   - return (from either phase): everything goes back.
//
// A bundle prepared and not committed within bundlePrepareTimeout is returned: its owner went
// away between the phases.

// bundlePrepareTimeout is how long a prepared bundle waits for its commit.
const bundlePrepareTimeout = 30 * time.Second

// bundleKey names a bundle: its group (hex id) and its index.
type bundleKey struct {
	group string
	index int
}

// heldBundle is a bundle this node holds.
type heldBundle struct {
	alloc     *resources.Allocation // its resources, taken at prepare
	committed bool
	added     resources.Set // what commit added to the totals
}

// prepareBundle is the event of a group's owner asking this node to reserve bundle index of
// group. Preparing a bundle held already succeeds and changes nothing. Called with r.mu held.
func (s *state) prepareBundle(group string, index int, bundle map[string]float64) error {
	key := bundleKey{group, index}
	if s.bundles[key] != nil {
		return nil
	}
	if err := placement.CheckGroupID(group); err != nil {
		return err
	}
	if index < 0 {
		return fmt.Errorf("bundle %d of placement group %s: a bundle's index is 0 or more", index, group)
	}
	if err := placement.Check([]map[string]float64{bundle}); err != nil {
		return fmt.Errorf("bundle %d of placement group %s: %w", index, group, err)
	}
	demand, err := resources.NewSet(bundle, resources.Demand)
	if err != nil {
		return fmt.Errorf("bundle %d of placement group %s: %w", index, group, err)
	}
	alloc, ok := s.ledger.Allocate(demand)
	if !ok {
		return fmt.Errorf("bundle %d of placement group %s: node %s has no room for %v now (it has %v free)", index, group, s.nodeID.Hex(), demand, s.ledger.Available())
	}
	b := &heldBundle{alloc: alloc}
	if s.bundles == nil {
		s.bundles = map[bundleKey]*heldBundle{}
	}
	s.bundles[key] = b
	s.after(bundlePrepareTimeout, func(s *state) {
		if s.bundles[key] == b && !b.committed {
			glog.Warningf("bundle %d of placement group %s was prepared %v ago and never committed: returning it", index, group, bundlePrepareTimeout)
			s.returnBundle(group, index)
		}
	})
	return nil
}

// commitBundle is the event of a group's owner committing bundle index of group, prepared here:
// the group's resources appear in the node's totals, and work waiting for them may run.
// Committing a bundle committed already changes nothing. Called with r.mu held.
func (s *state) commitBundle(group string, index int) error {
	b := s.bundles[bundleKey{group, index}]
	switch {
	case b == nil:
		return fmt.Errorf("bundle %d of placement group %s is not prepared on node %s", index, group, s.nodeID.Hex())
	case b.committed:
		return nil
	}
	add, err := resources.NewSet(placement.BundleResources(group, index, b.alloc.Demand().Map()), resources.Total)
	if err != nil {
		return fmt.Errorf("bundle %d of placement group %s: %w", index, group, err)
	}
	s.ledger.Grow(add)
	b.committed, b.added = true, add
	s.schedule()
	return nil
}

// returnBundle gives back bundle index of group (prepared or committed); a bundle this node
// does not hold is ignored. Called with r.mu held.
func (s *state) returnBundle(group string, index int) {
	key := bundleKey{group, index}
	b := s.bundles[key]
	if b == nil {
		return
	}
	delete(s.bundles, key)
	if b.committed {
		s.ledger.Shrink(b.added)
	}
	s.ledger.Release(b.alloc)
	s.schedule()
}

// returnGroup gives back every bundle of group this node holds. Called with r.mu held.
func (s *state) returnGroup(group string) {
	for key := range s.bundles {
		if key.group == group {
			s.returnBundle(key.group, key.index)
		}
	}
}
