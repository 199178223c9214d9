// goray: Ray's C++ API on a Go runtime.
//
// Exception classes thrown by the API. They carry Ray's exact names and live in
// ray::internal, like in Ray.
#pragma once

#include <exception>
#include <string>

namespace ray {
namespace internal {

/// Base of every exception the API throws. The message is public (msg_) as in Ray.
class RayException : public std::exception {
 public:
  /// Creates an exception with the given message.
  RayException(const std::string &msg) : msg_(msg) {}

  /// Returns the message.
  const char *what() const noexcept override { return msg_.c_str(); }

  /// The message.
  std::string msg_;
};

/// Thrown by Get when the object is the error of an actor that died or failed to be created.
class RayActorException : public RayException {
 public:
  /// Creates an exception with the given message.
  RayActorException(const std::string &msg) : RayException(msg) {}
};

/// Thrown by Get when the task that creates the object threw.
class RayTaskException : public RayException {
 public:
  /// Creates an exception with the given message.
  RayTaskException(const std::string &msg) : RayException(msg) {}
};

/// Thrown by Get when the worker process that ran the task died.
class RayWorkerException : public RayException {
 public:
  /// Creates an exception with the given message.
  RayWorkerException(const std::string &msg) : RayException(msg) {}
};

/// Thrown by Get with a timeout when the object is not ready in time (as Ray's C++ API).
class RayTimeoutException : public RayException {
 public:
  /// Creates an exception with the given message.
  RayTimeoutException(const std::string &msg) : RayException(msg) {}
};

/// Thrown by Get when the object is lost and cannot be reconstructed.
class UnreconstructableException : public RayException {
 public:
  /// Creates an exception with the given message.
  UnreconstructableException(const std::string &msg) : RayException(msg) {}
};

/// Thrown by Get when the object was lost (with the node that kept it) and could not be rebuilt
/// from its lineage: it was made by Put, its task ran out of retries, or its lineage was
/// dropped to keep within the lineage memory bound. Ray's ObjectLostError; it is an
/// UnreconstructableException, which Ray's C++ API throws for every lost object.
class ObjectLostError : public UnreconstructableException {
 public:
  /// Creates an exception with the given message.
  ObjectLostError(const std::string &msg) : UnreconstructableException(msg) {}
};

/// Thrown by Get when the object's owner (the process that made it or submitted its task) died,
/// so that nobody can find or rebuild it. Ray's OwnerDiedError, an ObjectLostError as in Ray.
class OwnerDiedError : public ObjectLostError {
 public:
  /// Creates an exception with the given message.
  OwnerDiedError(const std::string &msg) : ObjectLostError(msg) {}
};

/// Thrown when a function was not registered with RAY_REMOTE (by Task on the caller side, or by
/// Get when no worker knows the function).
class RayFunctionNotFound : public RayException {
 public:
  /// Creates an exception with the given message.
  RayFunctionNotFound(const std::string &msg) : RayException(msg) {}
};

/// Thrown by ray::RuntimeEnv when a field cannot be set, found or converted.
class RayRuntimeEnvException : public RayException {
 public:
  /// Creates an exception with the given message.
  RayRuntimeEnvException(const std::string &msg) : RayException(msg) {}
};

/// Thrown by ray::ExitActor() to unwind the actor method that called it; the invoker catches it
/// and reports the call as the actor's intentional exit. It deliberately does not derive from
/// std::exception (nor RayException), so that user code's catch (std::exception &) does not
/// swallow it.
class RayIntentionalSystemExitException {
 public:
  /// Creates the exception with the given message.
  RayIntentionalSystemExitException(const std::string &msg) : msg_(msg) {}

  /// Returns the message.
  const char *what() const noexcept { return msg_.c_str(); }

  /// The message.
  std::string msg_;
};

}  // namespace internal
}  // namespace ray
