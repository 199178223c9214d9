// goray: Ray's C++ API on a Go runtime.
//
// ray::WaitResult<T>: what ray::Wait returns.
#pragma once

#include <ray/api/object_ref.h>

#include <list>
#include <utility>

namespace ray {

/// The result of ray::Wait: the refs that are ready and the ones that are not, each in the order
/// they were given.
template <typename T>
class WaitResult {
 public:
  /// The refs whose objects are ready.
  std::list<ObjectRef<T>> ready;
  /// The refs whose objects are not ready.
  std::list<ObjectRef<T>> unready;

  /// An empty result.
  WaitResult() = default;

  /// A result with the given lists.
  WaitResult(std::list<ObjectRef<T>> &&ready_list, std::list<ObjectRef<T>> &&unready_list)
      : ready(std::move(ready_list)), unready(std::move(unready_list)) {}
};

}  // namespace ray
