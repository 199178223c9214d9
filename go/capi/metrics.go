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
	pb "goray/rpc/proto"
)

// The C ABI of users' metrics (include/ray/c_api.h).

// maxMetricTags bounds the tag keys of a metric and the tags of a value, and maxBoundaries a
// histogram's buckets: far beyond real ones, and safe to read.
const (
	maxMetricTags = 64
	maxBoundaries = 1024
)

// cStrings reads n NUL-terminated strings (what names them, for errors).
func cStrings(p **C.char, n C.size_t, call, what string) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	if n > maxMetricTags {
		return nil, core.Errorf(core.CodeInvalidArgument, "%s: %d %s; at most %d", call, uint64(n), what, maxMetricTags)
	}
	if p == nil {
		return nil, nullArg(call, what)
	}
	out := make([]string, n)
	for i, s := range unsafe.Slice(p, int(n)) {
		if s == nil {
			return nil, nullArg(call, "one of the "+what)
		}
		out[i] = C.GoString(s)
	}
	return out, nil
}

//export ray_metric_define
func ray_metric_define(kind C.int, name *C.char, nameLen C.size_t, description *C.char, descriptionLen C.size_t,
	unit *C.char, unitLen C.size_t, tagKeys **C.char, numTagKeys C.size_t, boundaries *C.double, numBoundaries C.size_t,
	outHandle *C.uint64_t, errOut **C.char) C.int {
	const call = "ray_metric_define"
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if outHandle == nil {
		return setErr(errOut, nullArg(call, "out_handle"))
	}
	keys, err := cStrings(tagKeys, numTagKeys, call, "tag keys")
	if err != nil {
		return setErr(errOut, err)
	}
	def := &pb.MetricDef{Kind: int32(kind), Name: goString(name, nameLen), Description: goString(description, descriptionLen),
		Unit: goString(unit, unitLen), TagKeys: keys}
	if numBoundaries > 0 {
		if numBoundaries > maxBoundaries {
			return setErr(errOut, core.Errorf(core.CodeInvalidArgument, "%s: %d boundaries; at most %d", call, uint64(numBoundaries), maxBoundaries))
		}
		if boundaries == nil {
			return setErr(errOut, nullArg(call, "boundaries"))
		}
		for _, b := range unsafe.Slice(boundaries, int(numBoundaries)) {
			def.Boundaries = append(def.Boundaries, float64(b))
		}
	}
	h, err := st.cw.DefineMetric(def)
	if err != nil {
		return setErr(errOut, err)
	}
	*outHandle = C.uint64_t(h)
	return C.RAY_OK
}

//export ray_metric_record
func ray_metric_record(handle C.uint64_t, value C.double, tagKeys **C.char, tagValues **C.char, numTags C.size_t, errOut **C.char) C.int {
	const call = "ray_metric_record"
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	keys, err := cStrings(tagKeys, numTags, call, "tag keys")
	if err != nil {
		return setErr(errOut, err)
	}
	values, err := cStrings(tagValues, numTags, call, "tag values")
	if err != nil {
		return setErr(errOut, err)
	}
	var tags map[string]string
	if len(keys) > 0 {
		tags = make(map[string]string, len(keys))
		for i, k := range keys {
			tags[k] = values[i]
		}
	}
	if err := st.cw.RecordMetric(uint64(handle), float64(value), tags); err != nil {
		return setErr(errOut, err)
	}
	return C.RAY_OK
}
