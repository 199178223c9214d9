package main

/*
#define RAY_C_API_NO_FUNCTIONS
#include <stdlib.h>
#include "ray/c_api.h"
*/
import "C"

import (
	"unsafe"

	"goray/core"
	"goray/ids"
	"goray/resources"
	pb "goray/rpc/proto"
)

// taskSpec copies a C task spec into its wire form and validates its resources (goray/resources'
// rules for demands), so that a bad quantity is refused at submission in local and node mode
// alike. kind says what the spec is for in error messages: "task", "actor creation task" or
// "actor task".
func taskSpec(spec *C.ray_task_spec, kind string) (*pb.TaskSpec, error) {
	if spec == nil || spec.function_name == nil || spec.function_name_len == 0 {
		return nil, core.Errorf(core.CodeInvalidArgument, "a task needs a function name")
	}
	out := &pb.TaskSpec{
		FunctionName:    C.GoStringN(spec.function_name, C.int(spec.function_name_len)),
		MaxRetries:      int32(spec.max_retries),
		RetryExceptions: spec.retry_exceptions != 0,
	}
	label := func() string { return kind + " " + out.FunctionName } // for errors only
	if spec.max_retries < C.RAY_TASK_RETRIES_DEFAULT {
		return nil, core.Errorf(core.CodeInvalidArgument, "%s: max_retries must be 0 or more, -1 for no limit, or RAY_TASK_RETRIES_DEFAULT, not %d", label(), int(spec.max_retries))
	}
	if err := setStrategy(out, int(spec.scheduling_strategy), spec.affinity_node_id, spec.affinity_node_id_len, spec.affinity_soft != 0, label); err != nil {
		return nil, err
	}
	if spec.name != nil {
		out.Name = C.GoStringN(spec.name, C.int(spec.name_len))
	}
	if spec.args == nil && spec.num_args > 0 {
		return nil, nullArg(label(), "args")
	}
	if (spec.resource_names == nil || spec.resource_values == nil) && spec.num_resources > 0 {
		return nil, nullArg(label(), "resource_names or resource_values")
	}
	if spec.num_args > 0 {
		for _, a := range unsafe.Slice(spec.args, int(spec.num_args)) {
			arg := &pb.TaskArg{IsRef: a.is_ref != 0}
			if arg.IsRef {
				if a.object_id == nil {
					return nil, core.Errorf(core.CodeInvalidArgument, "%s: an ObjectRef argument without an id", label())
				}
				id := objectID(a.object_id)
				arg.ObjectId = id[:]
			} else {
				if a.data == nil && a.size > 0 {
					return nil, nullArg(label(), "the data of an argument")
				}
				arg.Data = goBytes(a.data, a.size)
			}
			if a.contained_ids == nil && a.num_contained > 0 {
				return nil, nullArg(label(), "the contained_ids of an argument")
			}
			for _, id := range objectIDs(a.contained_ids, a.num_contained) {
				id := id
				arg.ContainedIds = append(arg.ContainedIds, id[:])
			}
			out.Args = append(out.Args, arg)
		}
	}
	if spec.num_resources > 0 {
		out.Resources = map[string]float64{}
		names := unsafe.Slice(spec.resource_names, int(spec.num_resources))
		values := unsafe.Slice(spec.resource_values, int(spec.num_resources))
		for i := range names {
			if names[i] == nil {
				return nil, nullArg(label(), "a resource name")
			}
			name := C.GoString(names[i])
			if _, dup := out.Resources[name]; dup {
				return nil, core.Errorf(core.CodeInvalidArgument, "%s: resource %q is given twice", label(), name)
			}
			out.Resources[name] = float64(values[i])
		}
		if !resources.Valid(out.Resources, resources.Demand) {
			return nil, core.Errorf(core.CodeInvalidArgument, "%v", resources.Validate(label(), out.Resources, resources.Demand))
		}
	}
	if spec.runtime_env != nil && spec.runtime_env_len > 0 && kind != "actor task" {
		out.RuntimeEnv = C.GoStringN(spec.runtime_env, C.int(spec.runtime_env_len))
	}
	if spec.placement_group_id != nil && spec.placement_group_id_len > 0 && kind != "actor task" {
		group := C.GoStringN(spec.placement_group_id, C.int(spec.placement_group_id_len))
		if err := core.InGroup(out, group, int(spec.bundle_index), kind == "task"); err != nil {
			return nil, core.Errorf(core.CodeInvalidArgument, "%s: %v", label(), err)
		}
	}
	return out, nil
}

//export ray_submit_task
func ray_submit_task(spec *C.ray_task_spec, outReturnID *C.uint8_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if outReturnID == nil {
		return setErr(errOut, nullArg("ray_submit_task", "out_return_id"))
	}
	ts, err := taskSpec(spec, "task")
	if err != nil {
		return setErr(errOut, err)
	}
	id, err := st.cw.SubmitTask(ts)
	if err != nil {
		return setErr(errOut, err)
	}
	writeID(outReturnID, id)
	return C.RAY_OK
}

// setStrategy checks a task's (or an actor's) scheduling strategy and sets it on spec.
func setStrategy(spec *pb.TaskSpec, kind int, node *C.char, nodeLen C.size_t, soft bool, label func() string) error {
	switch kind {
	case C.RAY_SCHEDULING_DEFAULT, C.RAY_SCHEDULING_SPREAD:
		if nodeLen > 0 {
			return core.Errorf(core.CodeInvalidArgument, "%s: a node id is for node affinity only", label())
		}
	case C.RAY_SCHEDULING_NODE_AFFINITY:
		id := goString(node, nodeLen)
		if _, err := ids.UniqueIDFromHex(id); err != nil {
			return core.Errorf(core.CodeInvalidArgument, "%s: node affinity to %q: not a node id (the hex `ray status` prints after node_): %v", label(), id, err)
		}
		spec.AffinityNodeId = id
		spec.AffinitySoft = soft
	default:
		return core.Errorf(core.CodeInvalidArgument, "%s: unknown scheduling strategy %d", label(), kind)
	}
	spec.SchedulingStrategy = int32(kind)
	return nil
}
