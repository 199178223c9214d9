// goray: Ray's C++ API on a Go runtime.
//
// Options of tasks: resources and their validation.
#pragma once

#include <ray/api/ray_exception.h>

#include <cmath>
#include <string>
#include <unordered_map>

namespace ray {
namespace internal {

/// Checks resource requirements like Ray: every name non-empty and every value positive; a value
/// greater than 1 must be a whole number. Throws RayException otherwise.
inline void CheckTaskOptions(const std::unordered_map<std::string, double> &resources) {
  for (const auto &pair : resources) {
    if (pair.first.empty() || !(pair.second > 0)) {
      throw RayException("Resource values should be positive. Specified resource: " + pair.first +
                         " = " + std::to_string(pair.second) + ".");
    }
    if (pair.second > 1 && std::floor(pair.second) != pair.second) {
      throw RayException(
          "A resource value should be an integer if it is greater than 1.0. Specified "
          "resource: " +
          pair.first + " = " + std::to_string(pair.second) + ".");
    }
  }
}

}  // namespace internal
}  // namespace ray
