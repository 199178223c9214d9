package main

/*
#define RAY_C_API_NO_FUNCTIONS
#include "ray/c_api.h"
*/
import "C"

import (
	"unsafe"

	"goray/config"
	"goray/core"
)

const (
	// maxConfigSize bounds the struct_size ray_init accepts from a caller built against newer
	// headers (whose fields this library does not know). Anything larger is no ray_config (for
	// example the JSON text that headers of ABI version 1 passed).
	maxConfigSize = 1 << 16
	// maxConfigItems bounds the length of a string array in the config: a longer one is garbage
	// (an uninitialized count), not a list of paths or arguments.
	maxConfigItems = 1 << 20
)

// configError is the error of a ray_config ray_init cannot read (RAY_ERR_INVALID_ARGUMENT).
func configError(format string, args ...any) error {
	return core.Errorf(core.CodeInvalidArgument, "ray_init: "+format, args...)
}

// readConfig copies the ray_config at p (a *C.ray_config) into Go memory. It checks what only
// the C side can get wrong (NULL, struct_size, NULL strings in arrays, enum values); the settings
// themselves are config.Validate's to check.
func readConfig(p unsafe.Pointer) (*config.RayConfig, error) {
	if p == nil {
		return nil, configError("the config is NULL (initialize a ray_config with ray_config_init)")
	}
	c := (*C.ray_config)(p)
	known := unsafe.Sizeof(*c)
	size := uintptr(c.struct_size)
	if size < known || size > maxConfigSize {
		return nil, configError("ray_config.struct_size is %d, not the %d bytes of this library's ray_config: initialize the config with ray_config_init, and build the program against the headers of this goray (C ABI version %d)", size, known, C.RAY_C_API_VERSION)
	}
	// Fields of newer headers that this library does not know must be unset.
	for i, b := range unsafe.Slice((*byte)(p), size)[known:] {
		if b != 0 {
			return nil, configError("ray_config byte %d (beyond the %d bytes this library knows) is set: the program was built against newer headers than this library (C ABI version %d)", int(known)+i, known, C.RAY_C_API_VERSION)
		}
	}
	cfg := &config.RayConfig{
		Address:         goCString(c.address),
		Namespace:       goCString(c.ray_namespace),
		RedisPassword:   optionalString(c.redis_password),
		RuntimeEnv:      optionalString(c.runtime_env),
		JobID:           goCString(c.job_id),
		NodeManagerPort: int(c.node_manager_port),
		SessionDir:      goCString(c.session_dir),
		LogsDir:         goCString(c.logs_dir),
		NodeIPAddress:   goCString(c.node_ip_address),
	}
	switch c.local_mode {
	case 0, 1:
		cfg.LocalMode = c.local_mode == 1
	default:
		return nil, configError("local_mode must be 0 or 1, not %d", int(c.local_mode))
	}
	switch c.default_actor_lifetime {
	case C.RAY_ACTOR_LIFETIME_DEFAULT, C.RAY_ACTOR_LIFETIME_NON_DETACHED:
	case C.RAY_ACTOR_LIFETIME_DETACHED:
		cfg.DetachedActors = true
	default:
		return nil, configError("default_actor_lifetime must be RAY_ACTOR_LIFETIME_NON_DETACHED (%d) or RAY_ACTOR_LIFETIME_DETACHED (%d), not %d", C.RAY_ACTOR_LIFETIME_NON_DETACHED, C.RAY_ACTOR_LIFETIME_DETACHED, int(c.default_actor_lifetime))
	}
	var err error
	if cfg.CodeSearchPath, err = goStrings("code_search_path", c.code_search_path); err != nil {
		return nil, err
	}
	if cfg.HeadArgs, err = goStrings("head_args", c.head_args); err != nil {
		return nil, err
	}
	return cfg, nil
}

// goCString copies a NUL-terminated C string; NULL reads as "".
func goCString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// optionalString copies a NUL-terminated C string; NULL is nil (not given).
func optionalString(s *C.char) *string {
	if s == nil {
		return nil
	}
	v := C.GoString(s)
	return &v
}

// goStrings copies a ray_string_array; every item must be a string (not NULL).
func goStrings(field string, a C.ray_string_array) ([]string, error) {
	n := uint64(a.count)
	if n == 0 {
		return nil, nil
	}
	if n > maxConfigItems {
		return nil, configError("%s.count is %d: more than %d strings (an uninitialized count?)", field, n, maxConfigItems)
	}
	if a.items == nil {
		return nil, configError("%s.items is NULL but %s.count is %d", field, field, n)
	}
	items := unsafe.Slice(a.items, int(n))
	out := make([]string, len(items))
	for i, s := range items {
		if s == nil {
			return nil, configError("%s.items[%d] is NULL", field, i)
		}
		out[i] = C.GoString(s)
	}
	return out, nil
}
