package placement

import (
	"fmt"
	"strings"
	"testing"

	pb "goray/rpc/proto"
)

func group(id byte, name, ns string, state int32, owner byte) *pb.PlacementGroupInfo {
	return &pb.PlacementGroupInfo{GroupId: strings.Repeat(fmt.Sprintf("%02x", id), 18), Name: name, Namespace: ns, State: state,
		Bundles: []*pb.Bundle{{Resources: map[string]float64{"CPU": 1}}}, OwnerNodeId: []byte{owner}, CreateTimeMs: int64(id)}
}

// The directory as a table: each case puts groups in order (each put's outcome: "-" or the
// error's first words), then says what lookups by id, by name and of all find.
func TestDirectory(t *testing.T) {
	cases := []struct {
		name   string
		puts   []*pb.PlacementGroupInfo
		errs   string
		byName string // the id's first byte (hex) that name "a" in ns "n" finds, "" for none
		all    string // "id:state ..." in creation order
	}{
		{"one named group", []*pb.PlacementGroupInfo{group(1, "a", "n", Pending, 9)}, "-", "01", "01:PENDING"},
		{"a name is unique among live groups", []*pb.PlacementGroupInfo{group(1, "a", "n", Pending, 9), group(2, "a", "n", Pending, 9)},
			"- Failed", "01", "01:PENDING"},
		{"other namespaces have their own names", []*pb.PlacementGroupInfo{group(1, "a", "n", Pending, 9), group(2, "a", "m", Pending, 9)},
			"- -", "01", "01:PENDING 02:PENDING"},
		{"a removed group frees its name", []*pb.PlacementGroupInfo{group(1, "a", "n", Pending, 9), group(1, "a", "n", Removed, 9), group(2, "a", "n", Pending, 9)},
			"- - -", "02", "01:REMOVED 02:PENDING"},
		{"removed stays removed", []*pb.PlacementGroupInfo{group(1, "", "", Removed, 9), group(1, "", "", Created, 9)},
			"- -", "", "01:REMOVED"},
		{"updates keep the name", []*pb.PlacementGroupInfo{group(1, "a", "n", Pending, 9), group(1, "b", "x", Created, 9)},
			"- -", "01", "01:CREATED"},
		{"bad records are refused", []*pb.PlacementGroupInfo{{GroupId: "zz"}, {GroupId: strings.Repeat("ab", 18), Strategy: 9, Bundles: []*pb.Bundle{{Resources: map[string]float64{"CPU": 1}}}},
			{GroupId: strings.Repeat("ab", 18)}}, "placement placement placement", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDirectory()
			var errs []string
			for _, g := range c.puts {
				if err := d.Put(g); err != nil {
					errs = append(errs, strings.Fields(err.Error())[0])
				} else {
					errs = append(errs, "-")
				}
			}
			if got := strings.Join(errs, " "); got != c.errs {
				t.Errorf("puts: %s, want %s", got, c.errs)
			}
			byName := ""
			if found := d.Get("", "a", "n"); len(found) > 0 {
				byName = found[0].GroupId[:2]
			}
			if byName != c.byName {
				t.Errorf("by name: %q, want %q", byName, c.byName)
			}
			var all []string
			for _, g := range d.Get("", "", "") {
				all = append(all, g.GroupId[:2]+":"+StateName(g.State))
			}
			if got := strings.Join(all, " "); got != c.all {
				t.Errorf("all: %q, want %q", got, c.all)
			}
		})
	}
}

// A dead owner's live groups are removed; others' are not. Old removed groups are forgotten past
// MaxRemembered.
func TestDirectoryOwnersAndMemory(t *testing.T) {
	d := NewDirectory()
	_ = d.Put(group(1, "a", "n", Created, 7))
	_ = d.Put(group(2, "", "", Pending, 8))
	if n := d.OwnerDied([]byte{7}); n != 1 {
		t.Errorf("OwnerDied removed %d", n)
	}
	if g := d.Get(strings.Repeat("01", 18), "", ""); len(g) != 1 || g[0].State != Removed {
		t.Errorf("the dead owner's group: %v", g)
	}
	if len(d.Get("", "a", "n")) != 0 {
		t.Error("its name is still taken")
	}
	if g := d.Get(strings.Repeat("02", 18), "", ""); g[0].State != Pending {
		t.Errorf("another owner's group: %v", g)
	}
	id := func(i int) string { return fmt.Sprintf("%036x", 100000+i) }
	for _, removals := range []int{MaxRemembered + 10, 3*MaxRemembered + 7} { // (the second goes past the compaction of the forgotten)
		for i := 0; i < removals; i++ {
			g := &pb.PlacementGroupInfo{GroupId: id(i), State: Removed, Bundles: []*pb.Bundle{{Resources: map[string]float64{"CPU": 1}}}}
			_ = d.Put(g)
		}
		if n := len(d.Get("", "", "")); n != MaxRemembered+1 {
			t.Errorf("after %d removals: %d groups remembered, want %d (the live one and the newest removed)", removals, n, MaxRemembered+1)
		}
		if len(d.Get(id(removals-1), "", "")) != 1 || len(d.Get(id(removals-MaxRemembered), "", "")) != 1 || len(d.Get(id(removals-MaxRemembered-1), "", "")) != 0 {
			t.Errorf("after %d removals: not the newest %d remembered", removals, MaxRemembered)
		}
	}
}
