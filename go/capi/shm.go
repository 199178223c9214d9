package main

/*
#include <stdlib.h>
#include "ray/c_api.h"
*/
import "C"

import (
	"sync"
	"unsafe"

	"goray/core"
	"goray/ids"
)

// readTable maps the handles of ray_object values that point into shared memory to the reads
// they stand for, so ray_object_release can end them.
type readTable struct {
	mu    sync.Mutex
	next  uint64
	reads map[uint64]shmRead
}

type shmRead struct {
	cw *core.CoreWorker
	id ids.ObjectID
}

var reads = &readTable{reads: map[uint64]shmRead{}}

func (t *readTable) add(cw *core.CoreWorker, id ids.ObjectID) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	t.reads[t.next] = shmRead{cw, id}
	return t.next
}

func (t *readTable) end(handle uint64) {
	t.mu.Lock()
	r, ok := t.reads[handle]
	delete(t.reads, handle)
	t.mu.Unlock()
	if ok {
		r.cw.ReleaseRead(r.id)
	}
}

//export ray_put_threshold
func ray_put_threshold() C.size_t {
	st := current.Load()
	if st == nil {
		return 0
	}
	return C.size_t(st.cw.ShmThreshold())
}

//export ray_put_create
func ray_put_create(size C.size_t, outID *C.uint8_t, outData **C.uint8_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	if outID == nil || outData == nil {
		return setErr(errOut, nullArg("ray_put_create", "out_id or out_data"))
	}
	id, buf, err := st.cw.CreateShm(int64(size))
	if err != nil {
		return setErr(errOut, err)
	}
	writeID(outID, id)
	*outData = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
	return C.RAY_OK
}

//export ray_put_seal
func ray_put_seal(id *C.uint8_t, contained *C.uint8_t, numContained C.size_t, errOut **C.char) C.int {
	st, err := state()
	if err != nil {
		return setErr(errOut, err)
	}
	switch {
	case id == nil:
		return setErr(errOut, nullArg("ray_put_seal", "id"))
	case contained == nil && numContained > 0:
		return setErr(errOut, nullArg("ray_put_seal", "contained_ids"))
	}
	if err := st.cw.SealShm(objectID(id), objectIDs(contained, numContained)); err != nil {
		return setErr(errOut, err)
	}
	return C.RAY_OK
}

//export ray_put_abort
func ray_put_abort(id *C.uint8_t) {
	if st := current.Load(); st != nil && id != nil {
		st.cw.AbortShm(objectID(id))
	}
}
