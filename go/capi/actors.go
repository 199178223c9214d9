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
)

func actorID(p *C.uint8_t) ids.ActorID {
	var id ids.ActorID
	copy(id[:], unsafe.Slice((*byte)(unsafe.Pointer(p)), ids.UniqueIDSize))
	return id
}

func writeActorID(out *C.uint8_t, id ids.ActorID) {
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), ids.UniqueIDSize), id[:])
}

func goString(p *C.char, n C.size_t) string {
	if p == nil || n == 0 {
		return ""
	}
	return C.GoStringN(p, C.int(n))
}

//export ray_create_actor
func ray_create_actor(spec *C.ray_actor_spec, outActorID *C.uint8_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if spec == nil {
		return setErr(errOut, core.Errorf(core.CodeInvalidArgument, "no actor spec"))
	}
	if outActorID == nil {
		return setErr(errOut, nullArg("ray_create_actor", "out_actor_id"))
	}
	creation, err := taskSpec(&C.ray_task_spec{
		function_name: spec.function_name, function_name_len: spec.function_name_len,
		args: spec.args, num_args: spec.num_args,
		resource_names: spec.resource_names, resource_values: spec.resource_values, num_resources: spec.num_resources,
		max_retries: 0, scheduling_strategy: spec.scheduling_strategy,
		affinity_node_id: spec.affinity_node_id, affinity_node_id_len: spec.affinity_node_id_len, affinity_soft: spec.affinity_soft,
		placement_group_id: spec.placement_group_id, placement_group_id_len: spec.placement_group_id_len, bundle_index: spec.bundle_index,
		runtime_env: spec.runtime_env, runtime_env_len: spec.runtime_env_len,
	}, "actor creation task")
	if err != nil {
		return setErr(errOut, err)
	}
	namespace := st.namespace
	if spec.ray_namespace != nil {
		namespace = goString(spec.ray_namespace, spec.namespace_len)
	}
	detached := st.detached
	switch spec.lifetime {
	case C.RAY_ACTOR_LIFETIME_DETACHED:
		detached = true
	case C.RAY_ACTOR_LIFETIME_NON_DETACHED:
		detached = false
	}
	id, err := st.cw.CreateActor(core.ActorOptions{
		Creation:       creation,
		ClassName:      goString(spec.class_name, spec.class_name_len),
		Name:           goString(spec.name, spec.name_len),
		Namespace:      namespace,
		MaxRestarts:    int(spec.max_restarts),
		MaxTaskRetries: int(spec.max_task_retries),
		MaxConcurrency: int(spec.max_concurrency),
		Detached:       detached,
	})
	if err != nil {
		return setErr(errOut, err)
	}
	writeActorID(outActorID, id)
	return C.RAY_OK
}

//export ray_submit_actor_task
func ray_submit_actor_task(actor *C.uint8_t, spec *C.ray_task_spec, outReturnID *C.uint8_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if actor == nil {
		return setErr(errOut, core.Errorf(core.CodeInvalidArgument, "no actor id"))
	}
	if outReturnID == nil {
		return setErr(errOut, nullArg("ray_submit_actor_task", "out_return_id"))
	}
	ts, err := taskSpec(spec, "actor task")
	if err != nil {
		return setErr(errOut, err)
	}
	id, err := st.cw.SubmitActorTask(actorID(actor), ts)
	if err != nil {
		return setErr(errOut, err)
	}
	writeID(outReturnID, id)
	return C.RAY_OK
}

//export ray_kill_actor
func ray_kill_actor(actor *C.uint8_t, noRestart C.int, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if actor == nil {
		return setErr(errOut, core.Errorf(core.CodeInvalidArgument, "no actor id"))
	}
	if err := st.cw.KillActor(actorID(actor), noRestart != 0); err != nil {
		return setErr(errOut, err)
	}
	return C.RAY_OK
}

//export ray_get_actor
func ray_get_actor(name *C.char, nameLen C.size_t, ns *C.char, nsLen C.size_t, outActorID *C.uint8_t, outClassName **C.char, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	namespace := st.namespace
	if ns != nil {
		namespace = goString(ns, nsLen)
	}
	n := goString(name, nameLen)
	if n == "" {
		return setErr(errOut, core.Errorf(core.CodeInvalidArgument, "GetActor needs a name"))
	}
	if outActorID == nil {
		return setErr(errOut, nullArg("ray_get_actor", "out_actor_id"))
	}
	id, className, found, err := st.cw.GetActor(n, namespace)
	if err != nil {
		return setErr(errOut, err)
	}
	if !found {
		return setErr(errOut, core.Errorf(core.CodeNotFound, "no actor named %q in namespace %q", n, namespace))
	}
	writeActorID(outActorID, id)
	if outClassName != nil {
		*outClassName = C.CString(className)
	}
	return C.RAY_OK
}

//export ray_exit_actor
func ray_exit_actor(errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if err := st.cw.ExitActor(); err != nil {
		return setErr(errOut, err)
	}
	return C.RAY_OK
}

//export ray_was_current_actor_restarted
func ray_was_current_actor_restarted() C.int {
	if st := current.Load(); st != nil && st.cw.WasCurrentActorRestarted() {
		return 1
	}
	return 0
}

//export ray_get_namespace
func ray_get_namespace() *C.char {
	st := current.Load()
	if st == nil {
		return nil
	}
	return C.CString(st.namespace)
}
