package resources

import (
	"math"
	"strconv"
)

// Scale is the number of Quantity units in one whole resource: Ray's RESOURCE_UNIT_SCALING. A
// Quantity of Scale is one CPU; MinQuantity is one unit.
const Scale = 10000

// Names of the resources Ray predefines. The scheduler's utilisation figure (CriticalUtilization)
// looks at CPU, Memory and ObjectStoreMemory only, as Ray's does.
const (
	// CPU counts logical CPUs.
	CPU = "CPU"
	// GPU counts GPUs.
	GPU = "GPU"
	// Memory counts bytes of heap memory reserved for tasks and actors.
	Memory = "memory"
	// ObjectStoreMemory counts bytes of the node's object store.
	ObjectStoreMemory = "object_store_memory"
)

// Quantity is an amount of one resource in fixed point, in units of 1/Scale (1/10,000), as Ray
// keeps it. Sums and differences of quantities are exact, unlike float64 ones (0.1 + 0.2 is 0.3).
type Quantity int64

// FromFloat converts v to the nearest Quantity (halves round away from zero). v should already be
// valid (ValidateQuantity); out-of-range values saturate at the int64 limits and NaN gives 0, so
// the conversion itself never fails.
func FromFloat(v float64) Quantity {
	u := math.Round(v * Scale)
	switch {
	case u != u: // NaN
		return 0
	case u >= math.MaxInt64:
		return math.MaxInt64
	case u <= math.MinInt64:
		return math.MinInt64
	}
	return Quantity(u)
}

// Float returns q as a float64 number of whole resources (the form quantities travel in).
func (q Quantity) Float() float64 {
	return float64(q) / Scale
}

// String writes q exactly, in whole resources with at most four decimals and no trailing zeros:
// "2", "0.5", "0.0001", "-1.25".
func (q Quantity) String() string {
	var buf [32]byte
	b := buf[:0]
	u := uint64(q)
	if q < 0 {
		b = append(b, '-')
		u = -u // two's complement: also right for math.MinInt64
	}
	b = strconv.AppendUint(b, u/Scale, 10)
	if frac := u % Scale; frac != 0 {
		digits := [4]byte{}
		for i := 3; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 4
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, digits[:n]...)
	}
	return string(b)
}

// addSat adds two quantities, saturating at the int64 limits instead of wrapping: cluster-wide sums
// of byte-counted resources (memory) can exceed int64 in units of 1/10,000.
func addSat(a, b Quantity) Quantity {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
