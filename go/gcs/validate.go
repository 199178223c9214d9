package gcs

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"goray/ids"
	"goray/resources"
	pb "goray/rpc/proto"
)

// Limits of the key-value store. Keys and namespaces are names, so a few KiB is generous; values
// are metadata.
const (
	// MaxKVNamespaceBytes bounds a KV namespace (Ray's namespaces are user-chosen names or UUIDs).
	MaxKVNamespaceBytes = 1 << 10
	// MaxKVKeyBytes bounds a KV key: 4 KiB holds any path-like key, and a store of millions of
	// keys still fits in memory.
	MaxKVKeyBytes = 4 << 10
	// MaxKVValueBytes bounds a KV value: 100 MiB, the largest thing Ray itself keeps in its GCS KV
	// (a job's working_dir package, capped at GCS_STORAGE_MAX_SIZE = 100 MiB), so one call cannot
	// pin more than that in the store's memory. The transport's message size limit still applies.
	MaxKVValueBytes = 100 << 20
)

// maxClockSkew is how far in the future a node's start time may be (the clocks of a cluster's
// machines differ a little; a day is far more than NTP-synchronised machines ever differ).
const maxClockSkew = 24 * time.Hour

// maxHostNameBytes is DNS's limit on a host name.
const maxHostNameBytes = 253

// validNode checks what RegisterNode stores: an id of the node id size, an address, resource
// totals under goray/resources' rules (zero allowed), and a start time that is a positive number
// of milliseconds since the epoch and not in the future (beyond clock skew) at now.
func validNode(n *pb.NodeInfo, now time.Time) error {
	if err := validNodeID(n.NodeId); err != nil {
		return err
	}
	what := fmt.Sprintf("node %x", n.NodeId)
	if err := validAddress(n.Address); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := resources.Validate(what, n.Resources, resources.Total); err != nil {
		return err
	}
	if n.StartTimeMs <= 0 {
		return fmt.Errorf("%s: start time %d ms is not a time: it must be a positive number of milliseconds since 1970", what, n.StartTimeMs)
	}
	if latest := now.Add(maxClockSkew).UnixMilli(); n.StartTimeMs > latest {
		return fmt.Errorf("%s: start time %d ms (%s) is in the future: this control store's clock says %s", what, n.StartTimeMs,
			time.UnixMilli(n.StartTimeMs).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// validNodeID checks that id is a node id: ids.UniqueIDSize bytes, not all zero.
func validNodeID(id []byte) error {
	u, err := ids.UniqueIDFromBytes(id)
	if err != nil {
		return fmt.Errorf("node id %x: %w", truncateBytes(id), err)
	}
	if u == (ids.UniqueID{}) {
		return fmt.Errorf("node id %x is all zero: not the id of a node", id)
	}
	return nil
}

// validAddress checks a node's address: an IP address (IPv6 with an optional zone) that other
// nodes can reach (not 0.0.0.0 or ::), or a host name of letters, digits, hyphens and underscores
// in dot-separated labels (RFC 1123, and the underscores machines are named with), optionally
// ending in a dot, with no port, path, spaces or other characters.
func validAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("no address: a node needs the IP address or host name other nodes reach it at")
	}
	if len(addr) > maxHostNameBytes {
		return fmt.Errorf("address %q... is %d bytes long: an address must be at most %d bytes", addr[:32], len(addr), maxHostNameBytes)
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		if ip.IsUnspecified() {
			return fmt.Errorf("address %s is the unspecified address: other nodes cannot reach it", addr)
		}
		return nil
	}
	// A fully qualified name may end in a dot.
	labels := strings.Split(strings.TrimSuffix(addr, "."), ".")
	for _, label := range labels {
		if err := validHostLabel(label); err != nil {
			return fmt.Errorf("address %q is neither an IP address nor a host name: %v", addr, err)
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("address %q is neither an IP address nor a host name: it looks like an IPv4 address but is not one", addr)
	}
	return nil
}

// validHostLabel checks one dot-separated label of a host name.
func validHostLabel(label string) error {
	if label == "" {
		return fmt.Errorf("it has an empty label")
	}
	if len(label) > 63 {
		return fmt.Errorf("label %q is longer than 63 bytes", label)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		// Underscores are not in RFC 1123 host names, but machines are named so (and resolve).
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q is not allowed in a host name", c)
		}
	}
	return nil
}

// validKVKey checks a KV call's namespace and key: a non-empty key, both within their limits.
func validKVKey(namespace, key string) error {
	if key == "" {
		return fmt.Errorf("a key is needed")
	}
	if len(key) > MaxKVKeyBytes {
		return fmt.Errorf("key %q is %d bytes: keys must be at most %d bytes", truncate(key), len(key), MaxKVKeyBytes)
	}
	if len(namespace) > MaxKVNamespaceBytes {
		return fmt.Errorf("namespace %q is %d bytes: namespaces must be at most %d bytes", truncate(namespace), len(namespace), MaxKVNamespaceBytes)
	}
	return nil
}

// truncate shortens a long string for an error message.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}

// truncateBytes shortens a long byte string for an error message.
func truncateBytes(b []byte) []byte {
	if len(b) <= 64 {
		return b
	}
	return b[:64]
}
