package resources

// Devices are the units of a resource that are distinct devices, GPUs: which of them a task or an
// actor gets, as Ray assigns them. A whole demand (1, 2, ...) gets that many devices that are
// entirely free, lowest first; a fractional one (below 1) shares a device, the one with the least
// room that still has enough (so that fractions pack onto few devices, leaving whole ones free).
type Devices struct {
	free []Quantity // per device, at most One
}

// One is a whole device.
const One Quantity = Scale

// DeviceShare is a part of one device.
type DeviceShare struct {
	Index int
	Q     Quantity
}

// NewDevices returns count devices, all free; a fractional count's last device is that fraction.
func NewDevices(count Quantity) *Devices {
	d := &Devices{}
	for count > 0 {
		q := One
		if count < One {
			q = count
		}
		d.free = append(d.free, q)
		count -= q
	}
	return d
}

// Len is the number of devices.
func (d *Devices) Len() int { return len(d.free) }

// fractionAt is the device a fraction q goes to: the one with the least room that has enough
// (-1: none).
func (d *Devices) fractionAt(q Quantity) int {
	best := -1
	for i, f := range d.free {
		if f >= q && (best < 0 || f < d.free[best]) {
			best = i
		}
	}
	return best
}

// wholeFree counts the devices that are entirely free.
func (d *Devices) wholeFree() Quantity {
	var n Quantity
	for _, f := range d.free {
		if f == One {
			n += One
		}
	}
	return n
}

// CanTake tells whether the devices can give q now.
func (d *Devices) CanTake(q Quantity) bool {
	switch {
	case q <= 0:
		return true
	case q < One:
		return d.fractionAt(q) >= 0
	}
	return d.wholeFree() >= q
}

// Take gives q of the devices (see Devices), appending the shares to into, or reports false and
// takes nothing.
func (d *Devices) Take(q Quantity, into []DeviceShare) ([]DeviceShare, bool) {
	if !d.CanTake(q) {
		return into, false
	}
	if q <= 0 {
		return into, true
	}
	if q < One {
		i := d.fractionAt(q)
		d.free[i] -= q
		return append(into, DeviceShare{i, q}), true
	}
	left := q
	for i := range d.free {
		if left <= 0 {
			break
		}
		if d.free[i] == One {
			take := One
			if left < One {
				take = left
			}
			d.free[i] -= take
			into = append(into, DeviceShare{i, take})
			left -= take
		}
	}
	return into, true
}

// Give returns shares Take gave.
func (d *Devices) Give(shares []DeviceShare) {
	for _, s := range shares {
		if s.Index >= 0 && s.Index < len(d.free) {
			d.free[s.Index] += s.Q
			if d.free[s.Index] > One {
				d.free[s.Index] = One
			}
		}
	}
}
