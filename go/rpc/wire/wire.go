// Package wire converts between the runtime's values and their protobuf messages.
package wire

import (
	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
)

// ObjectToProto is obj as a message.
func ObjectToProto(obj *objstore.Object) *pb.Object {
	return &pb.Object{Data: obj.Data, Kind: obj.Kind, ContainedIds: ids.ToBytes(obj.Contained),
		InShm: obj.InShm, ShmOffset: obj.ShmOffset, ShmSize: obj.ShmSize}
}

// ObjectFromProto is the object a message carries; a missing message stands for a lost object.
func ObjectFromProto(p *pb.Object) *objstore.Object {
	if p == nil {
		return &objstore.Object{Kind: objstore.KindLost, Data: []byte("empty object")}
	}
	return &objstore.Object{Data: p.Data, Kind: p.Kind, Contained: ids.FromBytesList(p.ContainedIds),
		InShm: p.InShm, ShmOffset: p.ShmOffset, ShmSize: p.ShmSize}
}

// ArgRefs lists the objects a task's arguments refer to: its ObjectRef arguments and the refs
// inside its value arguments (malformed ids are skipped). The task holds them until it is done.
func ArgRefs(spec *pb.TaskSpec) []ids.ObjectID {
	var out []ids.ObjectID
	for _, a := range spec.Args {
		if a.IsRef {
			if id, err := ids.ObjectIDFromBytes(a.ObjectId); err == nil {
				out = append(out, id)
			}
		}
		out = append(out, ids.FromBytesList(a.ContainedIds)...)
	}
	return out
}
