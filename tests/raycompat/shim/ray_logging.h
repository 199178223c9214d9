// raycompat shim for Ray's internal "ray/util/logging.h".
//
// api_test.cc takes two names from that header: ray::RayLog::StartRayLog (route RAYLOG output
// to files in a directory) and RAY_CHECK. goray's public headers give RAYLOG and RayLogLevel but
// have nothing like StartRayLog, so the stand-in throws: the test that calls it (LogTest) is an
// expected failure. RAY_CHECK aborts when its condition is false.
#pragma once
#include <ray/api.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

namespace ray {
struct RayLog {
  static void StartRayLog(const std::string &app_name,
                          RayLogLevel /*severity_threshold*/ = RayLogLevel::INFO,
                          const std::string &log_dir = "") {
    throw std::logic_error("raycompat: RayLog::StartRayLog(" + app_name + ", ..., " + log_dir +
                           ") is internal to Ray; goray has no counterpart");
  }
};
}  // namespace ray

#ifndef RAY_CHECK
namespace raycompat {
// Prints the failed condition and whatever is streamed after it, then aborts.
class CheckFailure {
 public:
  explicit CheckFailure(const char *condition) {
    std::cerr << "raycompat: RAY_CHECK failed: " << condition << " ";
  }
  ~CheckFailure() {
    std::cerr << std::endl;
    std::abort();
  }
  template <typename T>
  CheckFailure &operator<<(const T &value) {
    std::cerr << value;
    return *this;
  }
};
}  // namespace raycompat

#define RAY_CHECK(condition) \
  if (condition) {           \
  } else                     \
    ::raycompat::CheckFailure(#condition)
#endif
