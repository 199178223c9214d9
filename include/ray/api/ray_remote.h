// goray: Ray's C++ API on a Go runtime.
//
// RAY_REMOTE and RAY_FUNC.
#pragma once

#include <ray/api/function_manager.h>

/// Registers remote functions at static-initialization time:
///   RAY_REMOTE(Plus, Triple, RAY_FUNC(Overload, int), Counter::FactoryCreate, &Counter::Add);
/// Each function is named by its spelling with whitespace removed ("Plus", "RAY_FUNC(Overload,int)",
/// "Counter::FactoryCreate", "&Counter::Add"); caller and worker agree on the names because they
/// share the source. Free functions run as tasks; actor factories and member functions are kept
/// for actors. Registering a name or a function twice throws ray::internal::RayException.
#define RAY_REMOTE(...)                                                             \
  [[maybe_unused]] static const bool RAY_INTERNAL_CONCAT(goray_remote_registered_, \
                                                         __COUNTER__) =            \
      ::ray::internal::RegisterRemoteFunctions(#__VA_ARGS__, __VA_ARGS__)

/// Picks the overload of f that takes exactly ArgTypes...:
///   RAY_REMOTE(RAY_FUNC(Overload, int)); ray::Task(RAY_FUNC(Overload, int)).Remote(1);
#define RAY_FUNC(f, ...) ::ray::internal::Underload<__VA_ARGS__>{}(f)
