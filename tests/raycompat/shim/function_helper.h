// raycompat shim for Ray's internal "cpp/src/ray/util/function_helper.h".
//
// ray_remote_test.cc uses nothing from that header except that it opens ray::internal at
// global scope (the test names FunctionManager without a namespace). goray's public
// <ray/api.h> declares ray::internal::FunctionManager; this file only opens the namespace.
#pragma once
#include <ray/api.h>

using namespace ::ray::internal;  // NOLINT: the test depends on it
