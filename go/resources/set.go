package resources

import (
	"sort"
	"strings"
)

// item is one resource of a Set.
type item struct {
	name string
	q    Quantity
}

// Set is a set of resources, name -> Quantity, validated once (NewSet) and exact from then on. It
// is an immutable value: no method changes its receiver, so a Set may be shared and copied freely
// (the Ledger keeps its own mutable counts). The zero Set is empty.
//
// It is a slice sorted by name holding positive quantities only: a resource it lacks has quantity
// 0. Sets hold a handful of resources, so lookups are linear scans, and FitsIn, the check the node
// runs on every task, is one merge pass that allocates nothing.
type Set struct {
	items []item
}

// NewSet validates res under the rules of Validate and converts it; the error, Validate's, names
// the resource and starts with the kind ("demand: resource "CPU" = -1 is negative: ..."), for the
// caller to wrap with what holds the resources. Zero quantities, which Validate allows in totals
// only, are left out: a node with 0 GPUs and a node without GPUs are the same to the scheduler.
func NewSet(res map[string]float64, kind Kind) (Set, error) {
	if !Valid(res, kind) {
		return Set{}, Validate(kind.String(), res, kind)
	}
	n := 0
	for _, v := range res {
		if v != 0 {
			n++
		}
	}
	if n == 0 {
		return Set{}, nil
	}
	items := make([]item, 0, n)
	for name, v := range res {
		if v != 0 {
			items = append(items, item{name, FromFloat(v)})
		}
	}
	sortItems(items)
	return Set{items}, nil
}

// sortItems sorts by name: insertion sort for the usual handful, which allocates nothing.
func sortItems(items []item) {
	if len(items) > 12 {
		sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })
		return
	}
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].name < items[j-1].name; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

// Len is the number of resources in s (those with a positive quantity).
func (s Set) Len() int { return len(s.items) }

// At returns the i-th resource of s in name order, 0 <= i < Len(): a way to walk a Set without
// building a map.
func (s Set) At(i int) (name string, q Quantity) {
	it := s.items[i]
	return it.name, it.q
}

// IsEmpty tells whether s holds no resource.
func (s Set) IsEmpty() bool { return len(s.items) == 0 }

// Get returns the quantity of name in s, 0 when s lacks it.
func (s Set) Get(name string) Quantity {
	i := sort.Search(len(s.items), func(i int) bool { return s.items[i].name >= name })
	if i < len(s.items) && s.items[i].name == name {
		return s.items[i].q
	}
	return 0
}

// Only returns the resources of s among names (sorted or not, without duplicates), in
// O(len(names) log Len()).
func (s Set) Only(names []string) Set {
	out := make([]item, 0, len(names))
	for _, name := range names {
		if q := s.Get(name); q > 0 {
			out = append(out, item{name, q})
		}
	}
	sortItems(out)
	return Set{items: out}
}

// FitsIn tells whether every quantity of s is at most the same resource's quantity in have: whether
// a demand s fits in a node's available (or total) resources. The empty Set fits anywhere. It
// allocates nothing.
func (s Set) FitsIn(have Set) bool {
	h := have.items
	j := 0
	for _, it := range s.items {
		for j < len(h) && h[j].name < it.name {
			j++
		}
		if j == len(h) || h[j].name != it.name || h[j].q < it.q {
			return false
		}
	}
	return true
}

// Equal tells whether s and o hold the same resources in the same quantities.
func (s Set) Equal(o Set) bool {
	if len(s.items) != len(o.items) {
		return false
	}
	for i, it := range s.items {
		if o.items[i] != it {
			return false
		}
	}
	return true
}

// Add returns s + o, resource by resource (saturating at the int64 limit).
func (s Set) Add(o Set) Set {
	return merge(s, o, addSat)
}

// Sub returns s - o, resource by resource, saturating at zero: a resource o has more of than s is
// left out of the result, as are resources s lacks.
func (s Set) Sub(o Set) Set {
	return merge(s, o, func(a, b Quantity) Quantity {
		if b >= a {
			return 0
		}
		return a - b
	})
}

// smallChange is how many times more resources than o a set s must hold for merge to change a
// copy of s in place (a copy and a binary search per resource of o) rather than walk both: a node
// holding many placement groups' bundles has hundreds of resources, whose long names share
// prefixes, while a demand has a few.
const smallChange = 8

// merge combines s and o name by name with f (a missing resource is 0), keeping positive results.
func merge(s, o Set, f func(a, b Quantity) Quantity) Set {
	if len(o.items)*smallChange <= len(s.items) {
		return mergeSmall(s, o, f)
	}
	return mergeWalk(s, o, f)
}

// mergeWalk is merge in one pass over both sets.
func mergeWalk(s, o Set, f func(a, b Quantity) Quantity) Set {
	a, b := s.items, o.items
	out := make([]item, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var it item
		switch {
		case j == len(b) || (i < len(a) && a[i].name < b[j].name):
			it = item{a[i].name, f(a[i].q, 0)}
			i++
		case i == len(a) || b[j].name < a[i].name:
			it = item{b[j].name, f(0, b[j].q)}
			j++
		default:
			it = item{a[i].name, f(a[i].q, b[j].q)}
			i++
			j++
		}
		if it.q > 0 {
			out = append(out, it)
		}
	}
	if len(out) == 0 {
		return Set{}
	}
	return Set{out}
}

// mergeSmall is merge for an o much smaller than s: a copy of s changed resource by resource.
func mergeSmall(s, o Set, f func(a, b Quantity) Quantity) Set {
	out := make([]item, len(s.items), len(s.items)+len(o.items))
	copy(out, s.items)
	for _, it := range o.items {
		i := sort.Search(len(out), func(i int) bool { return out[i].name >= it.name })
		if i < len(out) && out[i].name == it.name {
			if q := f(out[i].q, it.q); q > 0 {
				out[i].q = q
			} else {
				out = append(out[:i], out[i+1:]...)
			}
			continue
		}
		if q := f(0, it.q); q > 0 {
			out = append(out, item{})
			copy(out[i+1:], out[i:])
			out[i] = item{it.name, q}
		}
	}
	if len(out) == 0 {
		return Set{}
	}
	return Set{out}
}

// Map returns s as a map of float64 quantities, the form of the wire and of the C ABI. Quantities
// that came from NewSet read back as the float64 they were given, rounded to 1/10,000.
func (s Set) Map() map[string]float64 {
	m := make(map[string]float64, len(s.items))
	for _, it := range s.items {
		m[it.name] = it.q.Float()
	}
	return m
}

// String writes s in name order: "{CPU: 1, GPU: 0.5}"; "{}" when empty.
func (s Set) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, it := range s.items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.name)
		b.WriteString(": ")
		b.WriteString(it.q.String())
	}
	b.WriteByte('}')
	return b.String()
}
