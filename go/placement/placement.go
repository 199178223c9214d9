// Package placement names what placement groups put on nodes, as Ray names it: the resources a
// bundle committed on a node adds to the node's totals, and the demand that a task or actor
// placed in a group asks for instead of its own. Tasks of a group then go to the group's nodes
// through the ordinary scheduling policy, since only those nodes have such resources.
//
// A bundle of group G (hex id) at index i, holding {CPU: 2}, adds to its node:
//
//	CPU_group_i_G: 2, CPU_group_G: 2, bundle_group_i_G: 1000, bundle_group_G: 1000
//
// A task asking for {CPU: 1} in bundle i of G asks for CPU_group_i_G: 1 and CPU_group_G: 1 (so
// that what it takes of the bundle is taken of the group too), and bundle_group_i_G: 0.001 (so
// that a task asking for nothing still lands on the bundle's node). In any bundle of G (index
// -1) it asks for CPU_group_G: 1 and bundle_group_G: 0.001.
package placement

import (
	"fmt"
	"strconv"
	"strings"

	"goray/resources"
)

// AnyBundle is the bundle index of a task or actor that may run in any bundle of its group.
const AnyBundle = -1

// BundleUnits is how much of its bundle_group resources a bundle adds, and BundleShare how much
// of it a task or actor asks for: a bundle holds up to 1000 of them at once (Ray's values).
const (
	BundleUnits = 1000
	BundleShare = 0.001
)

// bundleLabel is the name Ray gives the resource that marks a bundle's node.
const bundleLabel = "bundle"

// Name is the resource name of resource in bundle index of group (index AnyBundle: the group's
// wildcard resource, summed over its bundles on a node).
func Name(resource, group string, index int) string {
	if index == AnyBundle {
		return resource + "_group_" + group
	}
	return resource + "_group_" + strconv.Itoa(index) + "_" + group
}

// GroupIDHexLen is the length of a group's id in hex: Ray's placement group ids are 18 bytes.
const GroupIDHexLen = 36

// CheckGroupID validates a group's id: GroupIDHexLen lowercase hex digits.
func CheckGroupID(group string) error {
	if !isHex(group, GroupIDHexLen) {
		return fmt.Errorf("placement group id %q: it must be %d lowercase hex digits", group, GroupIDHexLen)
	}
	return nil
}

// isHex tells whether s is n lowercase hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// IsGroupResource tells whether a resource name is one of a placement group's, in Name's form:
// "<resource>_group_<group id>" or "<resource>_group_<index>_<group id>". A user's resource that
// only contains "_group_" is not.
func IsGroupResource(name string) bool {
	at := strings.LastIndex(name, "_group_")
	if at <= 0 {
		return false
	}
	rest := name[at+len("_group_"):]
	if isHex(rest, GroupIDHexLen) {
		return true
	}
	index, group, ok := strings.Cut(rest, "_")
	if !ok || index == "" || !isHex(group, GroupIDHexLen) {
		return false
	}
	for i := 0; i < len(index); i++ {
		if index[i] < '0' || index[i] > '9' {
			return false
		}
	}
	return true
}

// InGroup tells whether a demand is a group's (Demand's result): it names a group's resources.
// Such a demand already holds the task's default CPU, under the group's names.
func InGroup(demand map[string]float64) bool {
	for r := range demand {
		if IsGroupResource(r) {
			return true
		}
	}
	return false
}

// Marker is the resource that marks the node holding bundle index of group (BundleUnits of it).
func Marker(group string, index int) string { return Name(bundleLabel, group, index) }

// BundleResources is what bundle index of group, holding bundle, adds to its node's totals.
func BundleResources(group string, index int, bundle map[string]float64) map[string]float64 {
	out := make(map[string]float64, 2*len(bundle)+2)
	for r, q := range bundle {
		out[Name(r, group, index)] += q
		out[Name(r, group, AnyBundle)] += q
	}
	out[Name(bundleLabel, group, index)] = BundleUnits
	out[Name(bundleLabel, group, AnyBundle)] = BundleUnits
	return out
}

// Demand is what a task or actor asking for demand asks for in bundle index of group (AnyBundle:
// any of its bundles). An index below AnyBundle, or a demand that already names a group's
// resources, is an error.
func Demand(demand map[string]float64, group string, index int) (map[string]float64, error) {
	if index < AnyBundle {
		return nil, fmt.Errorf("bundle index %d: it must be -1 (any bundle) or a bundle's index", index)
	}
	out := make(map[string]float64, 2*len(demand)+1)
	for r, q := range demand {
		if IsGroupResource(r) {
			return nil, fmt.Errorf("resource %q names a placement group's resource: set the group with SetPlacementGroup instead", r)
		}
		if q == 0 {
			continue
		}
		out[Name(r, group, AnyBundle)] += q
		if index != AnyBundle {
			out[Name(r, group, index)] += q
		}
	}
	out[Name(bundleLabel, group, index)] = BundleShare
	return out, nil
}

// Check validates a group's bundles: at least one, each with at least one resource, each
// quantity a valid demand (positive, within resources' bounds), none a group's resource.
func Check(bundles []map[string]float64) error {
	if len(bundles) == 0 {
		return fmt.Errorf("a placement group needs at least one bundle")
	}
	for i, b := range bundles {
		if len(b) == 0 {
			return fmt.Errorf("bundle %d is empty: a bundle needs at least one resource", i)
		}
		for r, q := range b {
			if IsGroupResource(r) {
				return fmt.Errorf("bundle %d: resource %q names a placement group's resource", i, r)
			}
			if long := Name(r, strings.Repeat("0", GroupIDHexLen), len(bundles)); len(long) > resources.MaxNameLength {
				return fmt.Errorf("bundle %d: resource name %.40q... is too long for a placement group's names (at most %d bytes with its group's suffix)", i, r, resources.MaxNameLength)
			}
			if q <= 0 {
				return fmt.Errorf("bundle %d: resource %q = %v: bundle resources must be positive", i, r, q)
			}
		}
		if err := resources.Validate(fmt.Sprintf("bundle %d", i), b, resources.Demand); err != nil {
			return err
		}
	}
	return nil
}
