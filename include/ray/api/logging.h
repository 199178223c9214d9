// goray: Ray's C++ API on a Go runtime.
//
// RAYLOG(level) << ...: log lines written through the runtime's logger (ray_log).
#pragma once

#include <ray/c_api.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace ray {

/// Log severities of RAYLOG, with Ray's names and values.
enum class RayLogLevel { DEBUG = -1, INFO = 0, WARNING = 1, ERROR = 2, FATAL = 3 };

/// Returns true when a message of this severity would be written.
inline bool IsLevelEnabled(RayLogLevel level) {
  return ray_log_enabled(static_cast<int>(level)) != 0;
}

namespace internal {

/// One log line: collects what is streamed into it and hands it to ray_log when destroyed.
class RayLogMessage {
 public:
  /// Starts a message for the given source position and severity.
  RayLogMessage(const char *file, int line, RayLogLevel level)
      : file_(file), line_(line), level_(level) {}

  RayLogMessage(const RayLogMessage &) = delete;
  RayLogMessage &operator=(const RayLogMessage &) = delete;

  /// Writes the line; a FATAL line aborts the process.
  ~RayLogMessage() {
    const std::string msg = stream_.str();
    ray_log(static_cast<int>(level_), file_, line_, msg.data(), msg.size());
    if (level_ == RayLogLevel::FATAL) std::abort();
  }

  /// The stream the message is written to.
  std::ostream &stream() { return stream_; }

 private:
  const char *file_;
  int line_;
  RayLogLevel level_;
  std::ostringstream stream_;
};

/// Turns the streaming expression into void so that RAYLOG can be used in a conditional.
struct RayLogVoidify {
  /// Swallows the stream.
  void operator&(std::ostream &) const {}
};

}  // namespace internal
}  // namespace ray

/// Streams a log line of the given level (DEBUG, INFO, WARNING, ERROR, FATAL):
///   RAYLOG(INFO) << "value " << x;
/// Nothing is formatted when the level is disabled. Works before ray::Init too.
#define RAYLOG(level)                                                              \
  !::ray::IsLevelEnabled(::ray::RayLogLevel::level)                                \
      ? (void)0                                                                    \
      : ::ray::internal::RayLogVoidify() &                                         \
            ::ray::internal::RayLogMessage(__FILE__, __LINE__, ::ray::RayLogLevel::level) \
                .stream()
