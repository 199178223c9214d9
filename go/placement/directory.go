package placement

import (
	"bytes"
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	pb "goray/rpc/proto"
)

// States of a placement group; their values are ray::PlacementGroupState's.
const (
	Pending      int32 = 0
	Created      int32 = 1
	Removed      int32 = 2
	Rescheduling int32 = 3
)

// StateName names a group's state as Ray prints it.
func StateName(state int32) string {
	switch state {
	case Pending:
		return "PENDING"
	case Created:
		return "CREATED"
	case Removed:
		return "REMOVED"
	case Rescheduling:
		return "RESCHEDULING"
	}
	return "UNRECOGNIZED"
}

// MaxRemembered is how many removed groups a directory keeps (oldest forgotten first), so that
// lookups of a recently removed group say REMOVED rather than nothing.
const MaxRemembered = 1000

// Directory is the placement groups of a cluster (or of one node) as their owners recorded them:
// lookups by id and by name, and the names of live groups, unique in their namespace. It has no
// lock: its user holds one.
type Directory struct {
	groups  map[string]*pb.PlacementGroupInfo // by id
	names   map[nameKey]string                // live named groups' ids
	removed []string                          // removed groups' ids, oldest first, from gone on
	gone    int                               // removed[:gone] are forgotten already
}

type nameKey struct{ namespace, name string }

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{groups: map[string]*pb.PlacementGroupInfo{}, names: map[nameKey]string{}}
}

// NameTakenError is Put's error for a group whose name a live group of its namespace has.
func NameTakenError(name string) error {
	return fmt.Errorf("Failed to create placement group '%s' because name '%s' already exists.", name, name)
}

// CheckInfo validates a group's record: its id, strategy, state and bundles.
func CheckInfo(g *pb.PlacementGroupInfo) error {
	if err := CheckGroupID(g.GroupId); err != nil {
		return err
	}
	if g.Strategy < 0 || g.Strategy > 3 {
		return fmt.Errorf("placement group %s: strategy %d is none of PACK (0), SPREAD (1), STRICT_PACK (2), STRICT_SPREAD (3)", g.GroupId, g.Strategy)
	}
	if g.State < Pending || g.State > Rescheduling {
		return fmt.Errorf("placement group %s: state %d is none of Ray's", g.GroupId, g.State)
	}
	bundles := make([]map[string]float64, len(g.Bundles))
	for i, b := range g.Bundles {
		bundles[i] = b.GetResources()
	}
	if err := Check(bundles); err != nil {
		return fmt.Errorf("placement group %s: %w", g.GroupId, err)
	}
	return nil
}

// Put records a group as its owner knows it now (a copy). A group's first record claims its name
// and fails with NameTakenError when a live group of its namespace has it; a REMOVED group lets
// its name go, and stays REMOVED whatever comes later.
func (d *Directory) Put(g *pb.PlacementGroupInfo) error {
	if err := CheckInfo(g); err != nil {
		return err
	}
	return d.PutOwned(proto.Clone(g).(*pb.PlacementGroupInfo))
}

// PutOwned is Put of a record already checked (CheckInfo) that the directory keeps as it is: the
// caller gives it up and neither it nor anyone it shares it with changes it afterwards (they may
// read it).
func (d *Directory) PutOwned(g *pb.PlacementGroupInfo) error {
	old := d.groups[g.GroupId]
	switch {
	case old == nil:
		if g.Name != "" && g.State != Removed {
			key := nameKey{g.Namespace, g.Name}
			if _, taken := d.names[key]; taken {
				return NameTakenError(g.Name)
			}
			d.names[key] = g.GroupId
		}
	case old.State == Removed:
		return nil
	default:
		g = withName(g, old)
	}
	d.groups[g.GroupId] = g
	if g.State == Removed {
		d.forgetName(g)
		d.removed = append(d.removed, g.GroupId)
		if len(d.removed)-d.gone > MaxRemembered {
			delete(d.groups, d.removed[d.gone])
			d.removed[d.gone] = ""
			d.gone++
			if d.gone >= MaxRemembered { // (the forgotten ids' room is reused, in one copy now and then)
				d.removed = append(d.removed[:0], d.removed[d.gone:]...)
				d.gone = 0
			}
		}
	}
	return nil
}

// withName is g with old's name and namespace (a group's name never changes).
func withName(g, old *pb.PlacementGroupInfo) *pb.PlacementGroupInfo {
	if g.Name == old.Name && g.Namespace == old.Namespace {
		return g
	}
	c := proto.Clone(g).(*pb.PlacementGroupInfo)
	c.Name, c.Namespace = old.Name, old.Namespace
	return c
}

func (d *Directory) forgetName(g *pb.PlacementGroupInfo) {
	key := nameKey{g.Namespace, g.Name}
	if g.Name != "" && d.names[key] == g.GroupId {
		delete(d.names, key)
	}
}

// Get looks up groups: by id, else by name in namespace (live groups only), else (neither set)
// all, in creation order. The results are the directory's own records: read only.
func (d *Directory) Get(id, name, namespace string) []*pb.PlacementGroupInfo {
	switch {
	case id != "":
		if g := d.groups[id]; g != nil {
			return []*pb.PlacementGroupInfo{g}
		}
		return nil
	case name != "":
		if g := d.groups[d.names[nameKey{namespace, name}]]; g != nil {
			return []*pb.PlacementGroupInfo{g}
		}
		return nil
	}
	out := make([]*pb.PlacementGroupInfo, 0, len(d.groups))
	for _, g := range d.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateTimeMs != out[j].CreateTimeMs {
			return out[i].CreateTimeMs < out[j].CreateTimeMs
		}
		return out[i].GroupId < out[j].GroupId
	})
	return out
}

// OwnerDied marks REMOVED every live group the node owned (a group lives and dies with its owner)
// and returns how many.
func (d *Directory) OwnerDied(node []byte) int {
	n := 0
	for _, g := range d.Get("", "", "") {
		if g.State != Removed && bytes.Equal(g.OwnerNodeId, node) {
			c := proto.Clone(g).(*pb.PlacementGroupInfo)
			c.State = Removed
			c.PendingReason = "its owner node died"
			_ = d.Put(c)
			n++
		}
	}
	return n
}
