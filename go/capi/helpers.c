// C helpers of the cgo layer: calling C function pointers and finding this library's path.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#define RAY_C_API_NO_FUNCTIONS
#include "ray/c_api.h"

void goray_call_exec(ray_execute_fn fn, void *ctx, const ray_task_call *call, ray_task_result *result) {
  fn(ctx, call, result);
}

const char *goray_library_path(void) {
  Dl_info info;
  if (dladdr((void *)&goray_library_path, &info) && info.dli_fname != NULL) {
    return info.dli_fname;
  }
  return NULL;
}
