// Package ids defines the identifiers goray processes exchange: tasks, objects, workers, nodes.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"
)

// ObjectIDSize is the size of an object id in bytes (RAY_ID_SIZE in c_api.h).
const ObjectIDSize = 28

// TaskIDSize is the size of a task id: an object id is a task id plus a 4-byte index.
const TaskIDSize = 24

// UniqueIDSize is the size of worker and node ids.
const UniqueIDSize = 16

// ObjectID names an object: the task (or put) that created it and an index.
type ObjectID [ObjectIDSize]byte

// TaskID names one task, or one Put.
type TaskID [TaskIDSize]byte

// UniqueID names a worker or a node.
type UniqueID [UniqueIDSize]byte

// Nil is the zero object id.
var Nil ObjectID

// putIndex marks object ids made by Put rather than by a task's return.
const putIndex = 0xFFFFFFFF

var counter uint64

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	counter = binary.LittleEndian.Uint64(b[:])
}

// NewTaskID returns a task id that is unique across processes: 16 random bytes and a counter.
func NewTaskID() TaskID {
	var t TaskID
	_, _ = rand.Read(t[:16])
	binary.LittleEndian.PutUint64(t[16:], atomic.AddUint64(&counter, 1))
	return t
}

// NewUniqueID returns a random worker or node id.
func NewUniqueID() UniqueID {
	var u UniqueID
	_, _ = rand.Read(u[:])
	return u
}

// ReturnID is the id of the task's return object number index (1-based, as in Ray).
func (t TaskID) ReturnID(index uint32) ObjectID {
	var o ObjectID
	copy(o[:], t[:])
	binary.LittleEndian.PutUint32(o[TaskIDSize:], index)
	return o
}

// NewPutID returns the id of a new object created by Put.
func NewPutID() ObjectID {
	return NewTaskID().ReturnID(putIndex)
}

// IsPut tells whether the object was created by Put.
func (o ObjectID) IsPut() bool {
	return binary.LittleEndian.Uint32(o[TaskIDSize:]) == putIndex
}

// Hex is the id in lower-case hexadecimal.
func (o ObjectID) Hex() string { return hex.EncodeToString(o[:]) }

// String is Hex.
func (o ObjectID) String() string { return o.Hex() }

// Hex is the id in lower-case hexadecimal.
func (t TaskID) Hex() string { return hex.EncodeToString(t[:]) }

// Hex is the id in lower-case hexadecimal.
func (u UniqueID) Hex() string { return hex.EncodeToString(u[:]) }

// String is Hex.
func (u UniqueID) String() string { return u.Hex() }

// ObjectIDFromBytes converts wire bytes to an ObjectID.
func ObjectIDFromBytes(b []byte) (ObjectID, error) {
	var o ObjectID
	if len(b) != ObjectIDSize {
		return o, fmt.Errorf("object id has %d bytes, want %d", len(b), ObjectIDSize)
	}
	copy(o[:], b)
	return o, nil
}

// TaskIDFromBytes converts wire bytes to a TaskID.
func TaskIDFromBytes(b []byte) (TaskID, error) {
	var t TaskID
	if len(b) != TaskIDSize {
		return t, fmt.Errorf("task id has %d bytes, want %d", len(b), TaskIDSize)
	}
	copy(t[:], b)
	return t, nil
}

// UniqueIDFromBytes converts wire bytes to a UniqueID.
func UniqueIDFromBytes(b []byte) (UniqueID, error) {
	var u UniqueID
	if len(b) != UniqueIDSize {
		return u, fmt.Errorf("id has %d bytes, want %d", len(b), UniqueIDSize)
	}
	copy(u[:], b)
	return u, nil
}

// UniqueIDFromHex parses the hexadecimal form of a UniqueID.
func UniqueIDFromHex(s string) (UniqueID, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return UniqueID{}, fmt.Errorf("bad id %q: %w", s, err)
	}
	return UniqueIDFromBytes(b)
}

// ToBytes converts ids to their wire form: copies of the ids, in one allocation for all of them
// (each slice capped at its id).
func ToBytes(list []ObjectID) [][]byte {
	if len(list) == 0 {
		return nil
	}
	out := make([][]byte, len(list))
	buf := make([]byte, len(list)*ObjectIDSize)
	for i := range list {
		b := buf[i*ObjectIDSize : (i+1)*ObjectIDSize : (i+1)*ObjectIDSize]
		copy(b, list[i][:])
		out[i] = b
	}
	return out
}

// FromBytesList converts wire ids, skipping malformed ones.
func FromBytesList(raw [][]byte) []ObjectID {
	var out []ObjectID
	for _, b := range raw {
		if id, err := ObjectIDFromBytes(b); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// ActorID names an actor.
type ActorID = UniqueID

// ObjectIDsFromBytes converts wire ids, failing on the first malformed one.
func ObjectIDsFromBytes(raw [][]byte) ([]ObjectID, error) {
	out := make([]ObjectID, 0, len(raw))
	for i, b := range raw {
		id, err := ObjectIDFromBytes(b)
		if err != nil {
			return nil, fmt.Errorf("id %d of %d: %w", i+1, len(raw), err)
		}
		out = append(out, id)
	}
	return out, nil
}

// ActorOwnerPrefix is how many leading bytes of an actor id are those of its owner node's id: any
// node of a cluster tells from an actor's id which node answers for it.
const ActorOwnerPrefix = 8

// OwnedBy tells whether the actor with id is owned by node.
func OwnedBy(actor ActorID, node UniqueID) bool {
	return string(actor[:ActorOwnerPrefix]) == string(node[:ActorOwnerPrefix])
}

// GroupIDSize is the size of a placement group's id (Ray's: 18 bytes); it is written in hex.
const GroupIDSize = 18

// NewGroupID is a new placement group id, in hex, owned by node: its first ActorOwnerPrefix
// bytes are the node's, as an actor's are, and the rest random.
func NewGroupID(node UniqueID) string {
	var raw [GroupIDSize]byte
	copy(raw[:], node[:ActorOwnerPrefix])
	r := NewUniqueID()
	copy(raw[ActorOwnerPrefix:], r[:])
	return hex.EncodeToString(raw[:])
}

// GroupOwnedBy tells whether the placement group with id (hex) is owned by node.
func GroupOwnedBy(group string, node UniqueID) bool {
	prefix := hex.EncodeToString(node[:ActorOwnerPrefix])
	return len(group) >= len(prefix) && group[:len(prefix)] == prefix
}

// JobIDHex is a job's id as Ray prints it: its number as 4 little-endian bytes, in hex.
func JobIDHex(n uint32) string {
	var raw [4]byte
	binary.LittleEndian.PutUint32(raw[:], n)
	return hex.EncodeToString(raw[:])
}
