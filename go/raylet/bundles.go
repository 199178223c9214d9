package raylet

import (
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/ids"
	"goray/placement"
	"goray/resources"
	pb "goray/rpc/proto"
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
	round     uint64        // the owner's round that reserved it last (see ReturnBundles.round)
}

// prepareBundle is the event of a group's owner asking this node to reserve bundle index of
// group in its round. Preparing a bundle held already succeeds and changes nothing but its
// round (the owner counts it as this round's: a return of an earlier round leaves it). Called
// with r.mu held.
func (s *state) prepareBundle(group string, index int, bundle map[string]float64, round uint64) error {
	key := bundleKey{group, index}
	if b := s.bundles[key]; b != nil {
		b.round = round
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
	b := &heldBundle{alloc: alloc, round: round}
	if s.bundles == nil {
		s.bundles = map[bundleKey]*heldBundle{}
	}
	s.bundles[key] = b
	s.after(bundlePrepareTimeout, func(s *state) {
		if s.bundles[key] == b && !b.committed {
			glog.Warningf("bundle %d of placement group %s was prepared %v ago and never committed: returning it", index, group, bundlePrepareTimeout)
			s.returnBundle(group, index, 0)
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

// returnBundle gives back bundle index of group (prepared or committed) when it was reserved in
// round (0: whatever round); a bundle this node does not hold is ignored. Called with r.mu held.
func (s *state) returnBundle(group string, index int, round uint64) {
	key := bundleKey{group, index}
	b := s.bundles[key]
	if b == nil || (round != 0 && b.round != round) {
		return
	}
	delete(s.bundles, key)
	if b.committed {
		s.ledger.Shrink(b.added)
	}
	s.ledger.Release(b.alloc)
	s.schedule()
}

// returnGroup gives back every bundle of group this node holds; removed: the group is gone, and
// the actors and tasks running in it here are killed. Called with r.mu held.
func (s *state) returnGroup(group string, removed bool) {
	if removed {
		s.killGroupWork(group, fmt.Sprintf("its placement group %s was removed", group))
	}
	for key := range s.bundles {
		if key.group == group {
			s.returnBundle(key.group, key.index, 0)
		}
	}
}

// prepareBundles prepares several bundles of a group at once: all of them, or (an error) none.
// Called with r.mu held.
func (s *state) prepareBundles(group string, indexes []int, bundles []map[string]float64, round uint64) error {
	if len(indexes) != len(bundles) || len(indexes) == 0 {
		return fmt.Errorf("placement group %s: a prepare of %d indexes and %d bundles", group, len(indexes), len(bundles))
	}
	var fresh []int // (bundles held before this call stay held)
	for i, index := range indexes {
		held := s.bundles[bundleKey{group, index}] != nil
		if err := s.prepareBundle(group, index, bundles[i], round); err != nil {
			for _, done := range fresh {
				s.returnBundle(group, done, 0)
			}
			return err
		}
		if !held {
			fresh = append(fresh, index)
		}
	}
	return nil
}

// bundleRequest is the event of a client asking for a phase of a group's bundles: only the node's
// own client may (peers' requests come through bundleOp directly). Called with r.mu held.
func (s *state) bundleRequest(c *client, m *pb.ClientMessage) error {
	if !c.agent {
		return fmt.Errorf("%T from a process: only a placement group's owner node asks that", m.Body)
	}
	s.replyIf(c, s.bundleOp(m))
	return nil
}

// isBundleOp tells whether m asks for a phase of a group's bundles.
func isBundleOp(m *pb.ClientMessage) bool {
	switch m.GetBody().(type) {
	case *pb.ClientMessage_PrepareBundles, *pb.ClientMessage_CommitBundles, *pb.ClientMessage_ReturnBundles:
		return true
	}
	return false
}

// bundleOp is the event of a group's owner asking for a phase of its bundles; it returns the
// answer. Called with r.mu held.
func (s *state) bundleOp(m *pb.ClientMessage) *pb.Reply {
	var requestID uint64
	var err error
	switch body := m.Body.(type) {
	case *pb.ClientMessage_PrepareBundles:
		p := body.PrepareBundles
		requestID = p.RequestId
		bundles := make([]map[string]float64, len(p.Bundles))
		for i, b := range p.Bundles {
			bundles[i] = b.GetResources()
		}
		err = s.prepareBundles(p.GroupId, ints(p.Indexes), bundles, p.Round)
	case *pb.ClientMessage_CommitBundles:
		requestID = body.CommitBundles.RequestId
		for _, index := range body.CommitBundles.Indexes {
			if err = s.commitBundle(body.CommitBundles.GroupId, int(index)); err != nil {
				break
			}
		}
	case *pb.ClientMessage_ReturnBundles:
		r := body.ReturnBundles
		requestID = r.RequestId
		if len(r.Indexes) == 0 {
			s.returnGroup(r.GroupId, r.Removed)
		} else {
			if r.Removed {
				s.killGroupWork(r.GroupId, fmt.Sprintf("its placement group %s was removed", r.GroupId))
			}
			for _, index := range r.Indexes {
				s.returnBundle(r.GroupId, int(index), r.Round)
			}
		}
	}
	rep := &pb.Reply{RequestId: requestID}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

func ints(list []int32) []int {
	out := make([]int, len(list))
	for i, v := range list {
		out[i] = int(v)
	}
	return out
}

// ownerGroupsGone gives back the bundles this node holds for groups that node owns (it died, or
// the link it reserved them through ended). Called with r.mu held.
func (s *state) ownerGroupsGone(owner ids.UniqueID) {
	groups := map[string]bool{}
	for key := range s.bundles {
		if ids.GroupOwnedBy(key.group, owner) {
			groups[key.group] = true
		}
	}
	for g := range groups {
		glog.Warningf("placement group %s: its owner node %s is gone (the group is removed); giving back its bundles here", g, owner.Hex())
		s.returnGroup(g, true)
	}
}
