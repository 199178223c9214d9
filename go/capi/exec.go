package main

/*
#define RAY_C_API_NO_FUNCTIONS
#include <stdlib.h>
#include "ray/c_api.h"
void goray_call_exec(ray_execute_fn fn, void *ctx, const ray_task_call *call, ray_task_result *result);
*/
import "C"

import (
	"unsafe"

	"goray/core"
	"goray/ids"
	"goray/objstore"
)

// cExecutor wraps the C callback that runs tasks in user code. Everything handed to C lives in
// C memory for the call's duration; the result is copied back into Go and freed.
func cExecutor(fn C.ray_execute_fn, ctx unsafe.Pointer) core.Executor {
	return func(call *core.TaskCall) *objstore.Object {
		n := len(call.Args)
		cCall := (*C.ray_task_call)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ray_task_call{}))))
		defer C.free(unsafe.Pointer(cCall))
		name := C.CString(call.Function)
		defer C.free(unsafe.Pointer(name))
		cCall.task_type = C.int(call.Type)
		cCall.function_name = name
		cCall.function_name_len = C.size_t(len(call.Function))
		cCall.actor_instance = call.Instance
		if call.ClassName != "" {
			className := C.CString(call.ClassName)
			defer C.free(unsafe.Pointer(className))
			cCall.class_name = className
			cCall.class_name_len = C.size_t(len(call.ClassName))
		}
		if n > 0 {
			args := (*C.ray_arg_value)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.ray_arg_value{}))))
			defer C.free(unsafe.Pointer(args))
			slots := unsafe.Slice(args, n)
			for i, a := range call.Args {
				if len(a) > 0 && i < len(call.Shared) && call.Shared[i] {
					// Shared memory, not Go memory: user code reads it in place.
					slots[i].data = (*C.uint8_t)(unsafe.Pointer(&a[0]))
				} else if len(a) > 0 {
					slots[i].data = (*C.uint8_t)(C.CBytes(a))
					defer C.free(unsafe.Pointer(slots[i].data))
				}
				slots[i].size = C.size_t(len(a))
			}
			cCall.args = args
			cCall.num_args = C.size_t(n)
		}
		result := (*C.ray_task_result)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ray_task_result{}))))
		defer C.free(unsafe.Pointer(result))
		C.goray_call_exec(fn, ctx, cCall, result)
		obj := &objstore.Object{Kind: int32(result.kind)}
		call.NewInstance = result.actor_instance
		if result.data != nil {
			obj.Data = goBytes(result.data, result.size)
			C.free(unsafe.Pointer(result.data))
		}
		if result.contained_ids != nil {
			obj.Contained = objectIDs(result.contained_ids, result.num_contained)
			C.free(unsafe.Pointer(result.contained_ids))
		}
		return obj
	}
}

// appendPacked appends the ids packed back to back in raw.
func appendPacked(out []ids.ObjectID, raw []byte) []ids.ObjectID {
	for ; len(raw) >= ids.ObjectIDSize; raw = raw[ids.ObjectIDSize:] {
		var id ids.ObjectID
		copy(id[:], raw)
		out = append(out, id)
	}
	return out
}
