// Package configtest writes C ray_config structs (include/ray/c_api.h) into C memory for the tests
// of go/capi, whose test files cannot use cgo. It is linked into tests only, never into
// libray_api.so.
package configtest

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../include
#include <stdlib.h>
#define RAY_C_API_NO_FUNCTIONS
#include "ray/c_api.h"
*/
import "C"

import "unsafe"

// Fields are the values of a ray_config. A nil string is written as NULL, and so is a nil item
// of an array; an empty array is written as {NULL, 0} unless its Count says otherwise.
type Fields struct {
	Address, Namespace, RedisPassword, RuntimeEnv    *string
	JobID, SessionDir, LogsDir, NodeIPAddress        *string
	LocalMode, DefaultActorLifetime, NodeManagerPort int
	CodeSearchPath, HeadArgs                         []*string
	// CodeSearchPathCount and HeadArgsCount, when not nil, replace the arrays' counts.
	CodeSearchPathCount, HeadArgsCount *uint64
}

// Config is a ray_config in C memory, followed by Extra zero bytes (the fields of newer headers
// that the library does not know). Release it with Free.
type Config struct {
	ptr    *C.ray_config
	extra  int
	allocs []unsafe.Pointer
}

// Size is sizeof(ray_config).
const Size = C.sizeof_ray_config

// New writes f into a new ray_config set up by ray_config_init, with extra zero bytes after it
// and struct_size covering them.
func New(f Fields, extra int) *Config {
	c := &Config{extra: extra}
	c.ptr = (*C.ray_config)(c.alloc(C.sizeof_ray_config + extra))
	C.ray_config_init(c.ptr)
	c.ptr.struct_size = C.size_t(C.sizeof_ray_config + extra)
	p := c.ptr
	p.address = c.str(f.Address)
	p.ray_namespace = c.str(f.Namespace)
	p.redis_password = c.str(f.RedisPassword)
	p.runtime_env = c.str(f.RuntimeEnv)
	p.job_id = c.str(f.JobID)
	p.session_dir = c.str(f.SessionDir)
	p.logs_dir = c.str(f.LogsDir)
	p.node_ip_address = c.str(f.NodeIPAddress)
	p.local_mode = C.int(f.LocalMode)
	p.default_actor_lifetime = C.int(f.DefaultActorLifetime)
	p.node_manager_port = C.int(f.NodeManagerPort)
	p.code_search_path = c.array(f.CodeSearchPath, f.CodeSearchPathCount)
	p.head_args = c.array(f.HeadArgs, f.HeadArgsCount)
	return c
}

// Ptr is the address of the ray_config (what ray_init receives).
func (c *Config) Ptr() unsafe.Pointer { return unsafe.Pointer(c.ptr) }

// SetStructSize overwrites struct_size.
func (c *Config) SetStructSize(n uint64) { c.ptr.struct_size = C.size_t(n) }

// Extra is the writable memory after the ray_config.
func (c *Config) Extra() []byte {
	return unsafe.Slice((*byte)(unsafe.Add(c.Ptr(), C.sizeof_ray_config)), c.extra)
}

// Free releases the C memory.
func (c *Config) Free() {
	for _, p := range c.allocs {
		C.free(p)
	}
	c.allocs = nil
}

// alloc returns n zeroed bytes of C memory that Free releases.
func (c *Config) alloc(n int) unsafe.Pointer {
	p := C.calloc(1, C.size_t(n))
	c.allocs = append(c.allocs, p)
	return p
}

func (c *Config) str(s *string) *C.char {
	if s == nil {
		return nil
	}
	p := C.CString(*s)
	c.allocs = append(c.allocs, unsafe.Pointer(p))
	return p
}

func (c *Config) array(items []*string, count *uint64) C.ray_string_array {
	var a C.ray_string_array
	a.count = C.size_t(len(items))
	if count != nil {
		a.count = C.size_t(*count)
	}
	if len(items) == 0 {
		return a
	}
	ptrs := unsafe.Slice((**C.char)(c.alloc(len(items)*int(unsafe.Sizeof((*C.char)(nil))))), len(items))
	for i, s := range items {
		ptrs[i] = c.str(s)
	}
	a.items = &ptrs[0]
	return a
}
