// Package resources validates resource quantities (CPU, GPU, custom resources) wherever they enter
// goray: head arguments, task and actor submissions at the C ABI, the node manager and the control
// store. Every path applies the same rules, so a quantity one path accepts is never refused, or
// mis-scheduled, by another.
//
// The rules: a name is non-empty, at most MaxNameLength bytes of valid UTF-8 without control
// characters; a value is a finite number, not negative, not above MaxQuantity, and either zero or at
// least MinQuantity. Zero is allowed where a quantity is a total (a node may have 0 GPUs) and refused
// where it is a demand (a task that asks for 0 CPUs should leave CPU out).
//
// Past the edge, quantities are exact: a Quantity is Ray's fixed point (units of 1/10,000 in an
// int64), a Set holds a validated demand or total (NewSet validates with the rules above), and a
// Ledger keeps one node's totals and what is available, allocating and releasing Sets.
package resources

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Kind says what the quantities are, which decides whether zero is allowed.
type Kind int

const (
	// Demand is what a task or an actor asks for: every quantity must be positive.
	Demand Kind = iota
	// Total is what a node has: a quantity may be zero.
	Total
)

// String names the kind in error messages.
func (k Kind) String() string {
	if k == Total {
		return "total"
	}
	return "demand"
}

// MaxQuantity is the largest quantity of one resource goray accepts: 1e13.
//
// Ray keeps quantities in fixed point, in units of 1/10,000 in an int64, so nothing above
// math.MaxInt64/10,000 (about 9.2e14) can be represented at all, and sums of quantities (a
// cluster's totals, a node's demands) overflow well before that. 1e13 leaves a factor of 92 of
// headroom for such sums while still covering every real quantity, including Ray's "memory"
// resource, which counts bytes (1e13 bytes is 10 TB, more than any single machine has). Whole
// numbers up to 1e13 are also exact in a float64, the type the quantities travel in.
const MaxQuantity = 1e13

// MinQuantity is the smallest positive quantity: Ray's unit of 1/10,000. Anything smaller rounds to
// zero in Ray's fixed point, which would turn a positive demand into none.
const MinQuantity = 1e-4

// MaxNameLength bounds a resource name in bytes. Ray's longest generated names (placement-group
// resources such as "CPU_group_0_<32 hex digits>") are under 64 bytes.
const MaxNameLength = 1024

// Validate checks every quantity of res (names in sorted order, so the error is deterministic) and
// returns the first problem, naming what holds the resources ("task Foo", "node totals",
// "head argument --resources"), the resource, its value and the rule it breaks. A nil or empty
// map is valid.
func Validate(what string, res map[string]float64, kind Kind) error {
	if Valid(res, kind) {
		return nil
	}
	names := make([]string, 0, len(res))
	for name := range res {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := ValidateQuantity(what, name, res[name], kind); err != nil {
			return err
		}
	}
	return nil
}

// Valid tells whether Validate accepts res, without allocating: callers on hot paths check it
// first and build Validate's what (and its error) only when it fails.
func Valid(res map[string]float64, kind Kind) bool {
	for name, v := range res {
		if ValidateQuantity("", name, v, kind) != nil {
			return false
		}
	}
	return true
}

// ValidateQuantity checks one resource name and its quantity under the rules of Validate.
func ValidateQuantity(what, name string, value float64, kind Kind) error {
	if err := ValidateName(what, name); err != nil {
		return err
	}
	// Formatted only for an error: a valid quantity costs no allocation.
	prefix := func() string { return fmt.Sprintf("%s: resource %q = %s", what, name, Format(value)) }
	switch {
	case math.IsNaN(value):
		return fmt.Errorf("%s is not a number: resource quantities must be finite numbers", prefix())
	case math.IsInf(value, 0):
		return fmt.Errorf("%s is infinite: resource quantities must be finite and at most %s", prefix(), Format(MaxQuantity))
	case value < 0:
		return fmt.Errorf("%s is negative: resource quantities must not be negative", prefix())
	case value == 0 && kind == Demand:
		return fmt.Errorf("%s: a resource demand must be positive (leave the resource out to ask for none)", prefix())
	case value > MaxQuantity:
		return fmt.Errorf("%s is too large: resource quantities must be at most %s (Ray keeps them in units of 1/10,000 in 64-bit integers)", prefix(), Format(MaxQuantity))
	case value > 0 && value < MinQuantity:
		return fmt.Errorf("%s is too small: a positive resource quantity must be at least %s, Ray's smallest unit", prefix(), Format(MinQuantity))
	}
	return nil
}

// ValidateName checks a resource name: non-empty, at most MaxNameLength bytes, valid UTF-8 and
// free of control characters.
func ValidateName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: a resource has an empty name: resource names must not be empty", what)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%s: resource name %q... is %d bytes long: resource names must be at most %d bytes", what, name[:32], len(name), MaxNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s: resource name %q is not valid UTF-8", what, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: resource name %q contains a control character", what, name)
		}
	}
	return nil
}

// Format writes a quantity the way error messages show it: the shortest form that reads back as
// the same float64 ("2", "0.5", "1e+18", "+Inf", "NaN").
func Format(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
