package resources

import "sort"

// critical tells whether a resource's use makes a node "busy" to Ray's hybrid scheduling policy
// (NodeResources::CalculateCriticalResourceUtilization): CPU, memory and object store memory do;
// GPUs and custom resources do not.
func critical(name string) bool {
	switch name {
	case CPU, Memory, ObjectStoreMemory:
		return true
	}
	return false
}

// CriticalUtilization is Ray's critical resource utilisation of a node: the largest fraction in use,
// (total - available) / total, over CPU, memory and object store memory, skipping those the node
// has none of. It is 0 for a node that has none of the three, and is computed from the node's
// current state, whatever the request being placed. The scheduling policy ranks nodes by it. It
// allocates nothing.
func CriticalUtilization(total, available Set) float64 {
	highest := 0.0
	avail := available.items
	j := 0
	for _, it := range total.items {
		if !critical(it.name) {
			continue
		}
		for j < len(avail) && avail[j].name < it.name {
			j++
		}
		var a Quantity
		if j < len(avail) && avail[j].name == it.name {
			a = avail[j].q
		}
		if u := utilization(it.q, a); u > highest {
			highest = u
		}
	}
	return highest
}

// utilization is the fraction of total in use; 0 when there is no total.
func utilization(total, available Quantity) float64 {
	if total <= 0 {
		return 0
	}
	return float64(total-available) / float64(total)
}

// Ledger accounts for one node's resources: its totals and what is available now. Allocate takes
// a demand's resources when they fit, Release gives them back. It has no lock: it belongs to one
// owner (the node manager's state), which serialises calls.
type Ledger struct {
	total Set
	// avail[i] is what is available of total.items[i]; it may go negative when Reacquire
	// over-commits.
	avail []Quantity
	// version counts the changes of avail (see Version).
	version uint64
	// gen counts the Shrinks that took a resource out of the totals; born[name] is the gen at
	// which Grow brought back (or first brought) a resource: allocations from before then do not
	// hold it, whatever their demand says.
	gen  uint64
	born map[string]uint64
	// devices are the node's GPUs, which allocations of GPU get particular ones of (nil: none).
	devices *Devices
	// shared tells whether total's items may be read by others (Total handed them out, or
	// NewLedger was given them): a resize then changes a copy of them, not them in place.
	shared bool
}

// Allocation is what one Allocate took. Hand it back to the ledger's Release exactly once; further
// Releases of it do nothing. Its fields are the ledger's to change.
type Allocation struct {
	ledger   *Ledger
	demand   Set
	gen      uint64 // the ledger's gen when it was made
	released bool
	// lent[i] tells whether demand's i-th resource is given back for now (ReleasePart); nil until
	// the first ReleasePart.
	lent []bool
	// devices are the GPUs it holds (parts of them for a fraction); one is where a single share
	// lives (no allocation of its own).
	devices []DeviceShare
	one     [1]DeviceShare
}

// Devices returns the indexes of the GPUs the allocation holds (all or part of), in order.
func (a *Allocation) Devices() []int {
	out := make([]int, len(a.devices))
	for i, s := range a.devices {
		out[i] = s.Index
	}
	return out
}

// Demand is what the allocation was made for.
func (a *Allocation) Demand() Set { return a.demand }

// Released tells whether the allocation has been released.
func (a *Allocation) Released() bool { return a.released }

// NewLedger returns a ledger for a node with the given totals, everything available.
func NewLedger(total Set) *Ledger {
	avail := make([]Quantity, len(total.items))
	for i, it := range total.items {
		avail[i] = it.q
	}
	l := &Ledger{total: total, avail: avail, shared: true}
	if gpus := total.Get(GPU); gpus > 0 {
		l.devices = NewDevices(gpus)
	}
	return l
}

// Version changes whenever what is available changes: a copy of Available stays current while
// Version is the same.
func (l *Ledger) Version() uint64 { return l.version }

// Total returns the node's totals. The ledger changes a copy of them when they next change (Grow,
// Shrink), so a caller that does not ask for them saves that copy.
func (l *Ledger) Total() Set {
	l.shared = true
	return l.total
}

// Only returns the node's totals and what is available now of the resources among names (sorted
// or not, without duplicates), in O(len(names) log n): the part of a large ledger a decision reads.
func (l *Ledger) Only(names []string) (total, available Set) {
	tot := l.total.items
	t := make([]item, 0, len(names))
	a := make([]item, 0, len(names))
	for _, name := range names {
		i := sort.Search(len(tot), func(i int) bool { return tot[i].name >= name })
		if i == len(tot) || tot[i].name != name {
			continue
		}
		t = append(t, tot[i])
		if q := l.avail[i]; q > 0 {
			a = append(a, item{name, q})
		}
	}
	sortItems(t)
	sortItems(a)
	return Set{t}, Set{a}
}

// Available returns what is available now (a resource fully in use, or over-committed, is left
// out, as in any Set).
func (l *Ledger) Available() Set {
	out := make([]item, 0, len(l.avail))
	for i, q := range l.avail {
		if q > 0 {
			out = append(out, item{l.total.items[i].name, q})
		}
	}
	if len(out) == 0 {
		return Set{}
	}
	return Set{out}
}

// Feasible tells whether demand fits in the node's totals: whether it could ever run here.
func (l *Ledger) Feasible(demand Set) bool { return demand.FitsIn(l.total) }

// Fits tells whether demand fits in what is available now. It allocates nothing.
func (l *Ledger) Fits(demand Set) bool {
	fits := true
	l.each(demand, l.gen, func(_, slot int, q Quantity) {
		fits = fits && slot >= 0 && l.avail[slot] >= q
	})
	return fits && (l.devices == nil || l.devices.CanTake(demand.Get(GPU)))
}

// Allocate takes demand from what is available and returns the allocation, or returns false and
// changes nothing when demand does not fit now. An empty demand always fits.
func (l *Ledger) Allocate(demand Set) (*Allocation, bool) {
	if !l.Fits(demand) {
		return nil, false
	}
	l.each(demand, l.gen, func(_, slot int, q Quantity) {
		l.avail[slot] -= q // (Fits found every one)
	})
	l.version++
	a := &Allocation{ledger: l, demand: demand, gen: l.gen}
	l.takeDevices(a)
	return a, true
}

// takeDevices gives an allocation its GPUs (none when they cannot be had).
func (l *Ledger) takeDevices(a *Allocation) {
	if l.devices == nil {
		return
	}
	if q := a.demand.Get(GPU); q > 0 {
		a.devices, _ = l.devices.Take(q, a.one[:0])
	}
}

// AllocateAnyway takes demand even when it does not fit now, over-committing the node like
// Reacquire (Ray's allow_going_negative): for work that is running already, such as a task a
// worker started from its own queue. Resources the node has none of are not taken.
func (l *Ledger) AllocateAnyway(demand Set) *Allocation {
	l.each(demand, l.gen, func(_, slot int, q Quantity) {
		if slot >= 0 {
			l.avail[slot] -= q
		}
	})
	l.version++
	a := &Allocation{ledger: l, demand: demand, gen: l.gen}
	l.takeDevices(a)
	return a
}

// Release gives back what a still holds (its demand, less any parts lent with ReleasePart) and
// marks it released. It returns false and does nothing when a is nil, already released or not
// this ledger's.
func (l *Ledger) Release(a *Allocation) bool {
	if a == nil || a.ledger != l || a.released {
		return false
	}
	l.each(a.demand, a.gen, func(i, slot int, q Quantity) {
		if slot >= 0 && (a.lent == nil || !a.lent[i]) {
			l.avail[slot] += q
		}
	})
	if l.devices != nil {
		l.devices.Give(a.devices)
	}
	a.released = true
	a.lent = nil
	l.version++
	return true
}

// ReleasePart gives back, for now, the resource name of a live allocation: a worker blocked in Get
// lends its CPU to other tasks (Ray releases a blocked worker's CPU). It returns false and does
// nothing when a is nil, released or not this ledger's, lacks name, or has already lent it.
func (l *Ledger) ReleasePart(a *Allocation, name string) bool {
	i, slot := l.part(a, name)
	if i < 0 || (a.lent != nil && a.lent[i]) {
		return false
	}
	if a.lent == nil {
		a.lent = make([]bool, len(a.demand.items))
	}
	a.lent[i] = true
	l.avail[slot] += a.demand.items[i].q
	l.version++
	return true
}

// Reacquire takes back the resource name that ReleasePart lent. Like Ray, it always succeeds, even
// when others took the lent resource meanwhile: the worker is running again either way, so the
// node is over-committed (available goes negative) until enough is released, and nothing else
// fits meanwhile. It returns false and does nothing when a did not lend name.
func (l *Ledger) Reacquire(a *Allocation, name string) bool {
	i, slot := l.part(a, name)
	if i < 0 || a.lent == nil || !a.lent[i] {
		return false
	}
	a.lent[i] = false
	l.avail[slot] -= a.demand.items[i].q
	l.version++
	return true
}

// Utilization is the node's CriticalUtilization; above 1 while over-committed.
func (l *Ledger) Utilization() float64 {
	highest := 0.0
	for i, it := range l.total.items {
		if critical(it.name) {
			if u := utilization(it.q, l.avail[i]); u > highest {
				highest = u
			}
		}
	}
	return highest
}

// part finds resource name of a live allocation a of l: its index in a's demand and its slot in
// l; -1, -1 when there is none.
func (l *Ledger) part(a *Allocation, name string) (int, int) {
	if a == nil || a.ledger != l || a.released {
		return -1, -1
	}
	found, slot := -1, -1
	l.each(a.demand, a.gen, func(i, s int, _ Quantity) {
		if s >= 0 && a.demand.items[i].name == name {
			found, slot = i, s
		}
	})
	return found, slot
}

// each calls f with the index in demand, the ledger slot and the quantity of each resource of
// demand, in name order. The slot is -1 for a resource the node has none of, or that it took
// out and brought back after gen since (see born).
func (l *Ledger) each(demand Set, since uint64, f func(i, slot int, q Quantity)) {
	tot := l.total.items
	search := len(demand.items)*smallChange <= len(tot) // (many resources: find each)
	j := 0
	for i, it := range demand.items {
		if search {
			rest := tot[j:]
			j += sort.Search(len(rest), func(k int) bool { return rest[k].name >= it.name })
		}
		for j < len(tot) && tot[j].name < it.name {
			j++
		}
		if j < len(tot) && tot[j].name == it.name && (len(l.born) == 0 || l.born[it.name] <= since) {
			f(i, j, it.q)
		} else {
			f(i, -1, it.q)
		}
	}
}

// Grow adds resources to the node's totals, all of them available: what a placement group's
// bundle committed on the node brings (its resources under the bundle's names).
func (l *Ledger) Grow(add Set) {
	l.resize(add, func(total, avail, q Quantity) (Quantity, Quantity) {
		return addSat(total, q), addSat(avail, q)
	})
}

// Shrink takes resources out of the node's totals and out of what is available (a removed
// bundle's). A resource whose total reaches zero leaves the ledger; allocations that hold some of
// it release the rest of what they hold as usual. It returns false, changing nothing, when the
// totals lack some of remove.
func (l *Ledger) Shrink(remove Set) bool {
	if !remove.FitsIn(l.total) {
		return false
	}
	l.resize(remove, func(total, avail, q Quantity) (Quantity, Quantity) {
		return total - q, avail - q
	})
	return true
}

// resize rebuilds the totals and what is available with f applied to the resources of change
// (a resource the node lacks starts at zero); those whose total ends at zero are left out.
func (l *Ledger) resize(change Set, f func(total, avail, q Quantity) (Quantity, Quantity)) {
	if len(change.items)*smallChange <= len(l.total.items) {
		l.resizeSmall(change, f)
		return
	}
	old, avail := l.total.items, l.avail
	removed := false
	items := make([]item, 0, len(old)+len(change.items))
	newAvail := make([]Quantity, 0, len(old)+len(change.items))
	i, j := 0, 0
	for i < len(old) || j < len(change.items) {
		var name string
		var total, free, q Quantity
		switch {
		case j == len(change.items) || (i < len(old) && old[i].name < change.items[j].name):
			name, total, free = old[i].name, old[i].q, avail[i]
			i++
		case i == len(old) || change.items[j].name < old[i].name:
			name, q = change.items[j].name, change.items[j].q
			j++
			total, free = f(0, 0, q)
			if l.gen > 0 {
				if l.born == nil {
					l.born = map[string]uint64{}
				}
				l.born[name] = l.gen // (allocations from before a Shrink do not hold it)
			}
		default:
			name, q = old[i].name, change.items[j].q
			total, free = f(old[i].q, avail[i], q)
			i++
			j++
		}
		if total > 0 {
			items = append(items, item{name, total})
			newAvail = append(newAvail, free)
		} else {
			removed = true
			delete(l.born, name)
		}
	}
	l.resized(items, newAvail, removed)
}

// resizeSmall is resize for a change much smaller than the ledger: the totals and what is
// available are changed resource by resource, in place (the totals in a copy while they may be
// read elsewhere: see shared).
func (l *Ledger) resizeSmall(change Set, f func(total, avail, q Quantity) (Quantity, Quantity)) {
	items, avail := l.total.items, l.avail
	if l.shared {
		items = append(make([]item, 0, len(items)+len(change.items)), items...)
		l.shared = false
	}
	removed := false
	for _, it := range change.items {
		i := sort.Search(len(items), func(i int) bool { return items[i].name >= it.name })
		if i < len(items) && items[i].name == it.name {
			total, free := f(items[i].q, avail[i], it.q)
			if total > 0 {
				items[i].q, avail[i] = total, free
				continue
			}
			items = append(items[:i], items[i+1:]...)
			avail = append(avail[:i], avail[i+1:]...)
			removed = true
			delete(l.born, it.name)
			continue
		}
		total, free := f(0, 0, it.q)
		if total <= 0 {
			continue
		}
		if l.gen > 0 {
			if l.born == nil {
				l.born = map[string]uint64{}
			}
			l.born[it.name] = l.gen // (allocations from before a Shrink do not hold it)
		}
		items = append(items, item{})
		copy(items[i+1:], items[i:])
		items[i] = item{it.name, total}
		avail = append(avail, 0)
		copy(avail[i+1:], avail[i:])
		avail[i] = free
	}
	l.resized(items, avail, removed)
}

// resized makes items and avail the ledger's totals and what is available, after a resize that
// removed resources or not.
func (l *Ledger) resized(items []item, avail []Quantity, removed bool) {
	if removed {
		l.gen++
	}
	if len(items) == 0 {
		l.total = Set{}
	} else {
		l.total = Set{items}
	}
	l.avail = avail
	l.shared = false
	l.version++
}
