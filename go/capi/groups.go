package main

/*
#define RAY_C_API_NO_FUNCTIONS
#include <stdlib.h>
#include "ray/c_api.h"
*/
import "C"

import (
	"encoding/json"
	"time"
	"unsafe"

	"goray/core"
	pb "goray/rpc/proto"
)

// The C ABI of placement groups (include/ray/c_api.h).

//export ray_create_placement_group
func ray_create_placement_group(spec *C.ray_placement_group_spec, outID *C.char, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if spec == nil {
		return setErr(errOut, nullArg("ray_create_placement_group", "spec"))
	}
	if outID == nil {
		return setErr(errOut, nullArg("ray_create_placement_group", "out_id"))
	}
	bundles, err := groupBundles(spec)
	if err != nil {
		return setErr(errOut, err)
	}
	id, err := st.cw.CreatePlacementGroup(core.GroupOptions{
		Name: goString(spec.name, spec.name_len), Namespace: st.namespace, Strategy: int32(spec.strategy), Bundles: bundles,
	})
	if err != nil {
		return setErr(errOut, err)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(outID)), C.RAY_PLACEMENT_GROUP_ID_LEN), id)
	return C.RAY_OK
}

// Bounds of what ray_create_placement_group reads: far beyond any real group, and small enough
// that the sums cannot overflow.
const (
	maxBundles         = 1 << 16
	maxBundleResources = 1 << 10
)

// groupBundles reads a group spec's bundles.
func groupBundles(spec *C.ray_placement_group_spec) ([]map[string]float64, error) {
	const call = "ray_create_placement_group"
	if spec.num_bundles == 0 {
		return nil, nil // (refused with the group's other errors)
	}
	if spec.bundle_sizes == nil {
		return nil, nullArg(call, "bundle_sizes")
	}
	if spec.num_bundles > maxBundles {
		return nil, core.Errorf(core.CodeInvalidArgument, "%s: %d bundles; a placement group has at most %d", call, uint64(spec.num_bundles), maxBundles)
	}
	sizes := unsafe.Slice(spec.bundle_sizes, int(spec.num_bundles))
	total := 0
	for i, n := range sizes {
		if n > maxBundleResources {
			return nil, core.Errorf(core.CodeInvalidArgument, "%s: bundle %d has %d resources; at most %d", call, i, uint64(n), maxBundleResources)
		}
		total += int(n)
	}
	if total > 0 && (spec.resource_names == nil || spec.resource_values == nil) {
		return nil, nullArg(call, "resource_names or resource_values")
	}
	var names []*C.char
	var values []C.double
	if total > 0 {
		names = unsafe.Slice(spec.resource_names, total)
		values = unsafe.Slice(spec.resource_values, total)
	}
	out := make([]map[string]float64, len(sizes))
	at := 0
	for i, n := range sizes {
		out[i] = map[string]float64{}
		for k := 0; k < int(n); k, at = k+1, at+1 {
			if names[at] == nil {
				return nil, nullArg(call, "a resource name")
			}
			name := C.GoString(names[at])
			if _, dup := out[i][name]; dup {
				return nil, core.Errorf(core.CodeInvalidArgument, "bundle %d: resource %q is given twice", i, name)
			}
			out[i][name] = float64(values[at])
		}
	}
	return out, nil
}

//export ray_remove_placement_group
func ray_remove_placement_group(id *C.char, idLen C.size_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if err := st.cw.RemovePlacementGroup(goString(id, idLen)); err != nil {
		return setErr(errOut, err)
	}
	return C.RAY_OK
}

//export ray_wait_placement_group
func ray_wait_placement_group(id *C.char, idLen C.size_t, timeoutSeconds C.int64_t, outReady *C.int, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if outReady == nil {
		return setErr(errOut, nullArg("ray_wait_placement_group", "out_ready"))
	}
	timeout := time.Duration(-1)
	if timeoutSeconds >= 0 {
		timeout = time.Duration(timeoutSeconds) * time.Second
	}
	ready, err := st.cw.WaitPlacementGroup(goString(id, idLen), timeout)
	if err != nil {
		return setErr(errOut, err)
	}
	*outReady = 0
	if ready {
		*outReady = 1
	}
	return C.RAY_OK
}

// groupJSON is a group as ray_get_placement_groups describes it.
type groupJSON struct {
	ID       string               `json:"id"`
	Name     string               `json:"name"`
	Strategy int32                `json:"strategy"`
	State    int32                `json:"state"`
	Bundles  []map[string]float64 `json:"bundles"`
}

//export ray_get_placement_groups
func ray_get_placement_groups(id *C.char, idLen C.size_t, name *C.char, nameLen C.size_t, outJSON **C.char, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if outJSON == nil {
		return setErr(errOut, nullArg("ray_get_placement_groups", "out_json"))
	}
	found, err := st.cw.GetPlacementGroups(goString(id, idLen), goString(name, nameLen), st.namespace)
	if err != nil {
		return setErr(errOut, err)
	}
	data, err := json.Marshal(describeGroups(found))
	if err != nil {
		return setErr(errOut, err)
	}
	*outJSON = C.CString(string(data))
	return C.RAY_OK
}

func describeGroups(found []*pb.PlacementGroupInfo) []groupJSON {
	out := make([]groupJSON, 0, len(found))
	for _, g := range found {
		d := groupJSON{ID: g.GroupId, Name: g.Name, Strategy: g.Strategy, State: g.State, Bundles: make([]map[string]float64, len(g.Bundles))}
		for i, b := range g.Bundles {
			d.Bundles[i] = b.GetResources()
			if d.Bundles[i] == nil {
				d.Bundles[i] = map[string]float64{}
			}
		}
		out = append(out, d)
	}
	return out
}
