// goray: Ray's C++ API on a Go runtime.
//
// Ray's cross-language types: Python and Java functions, actor classes and actor methods that a
// C++ program names to call them. goray runs C++ only, so these compile as in Ray, take the same
// options, and fail with a clear RayException when the call would go out (Remote).
#pragma once

#include <ray/api/common.h>
#include <ray/api/ray_exception.h>
#include <ray/api/scheduling_strategy.h>
#include <ray/api/task_options.h>

#include <string>
#include <unordered_map>
#include <utility>

namespace ray {

/// A Python function, to call with ray::Task(ray::PyFunction<R>{module, function}).
template <typename R>
struct PyFunction {
  bool is_python() { return true; }
  R operator()() { return {}; }

  std::string module_name;
  std::string function_name;
};

/// A Python actor class, to create with ray::Actor(ray::PyActorClass{module, class}).
struct PyActorClass {
  bool is_python() { return true; }
  void operator()() {}

  std::string module_name;
  std::string class_name;
  std::string function_name = "__init__";
};

/// A method of a Python actor.
template <typename R>
struct PyActorMethod {
  bool is_python() { return true; }
  R operator()() { return {}; }

  std::string function_name;
};

/// A Java static method, to call with ray::Task(ray::JavaFunction<R>{class, method}).
template <typename R>
struct JavaFunction {
  bool is_python() { return false; }
  R operator()() { return {}; }

  std::string class_name;
  std::string function_name;
};

/// A Java actor class, to create with ray::Actor(ray::JavaActorClass{class}).
struct JavaActorClass {
  bool is_python() { return false; }
  void operator()() {}

  std::string class_name;
  std::string module_name = "";
  std::string function_name = "<init>";
};

/// A method of a Java actor.
template <typename R>
struct JavaActorMethod {
  bool is_python() { return false; }
  R operator()() { return {}; }

  std::string function_name;
};

template <typename T>
class ObjectRef;

namespace internal {

/// The error of a cross-language call: what it named, and that goray does not make such calls.
inline RayException CrossLanguageUnsupported(const std::string &what) {
  return RayException("Cross-language call to " + what +
                      ": goray runs C++ tasks and actors only; calls to Python or Java functions "
                      "and actors are not supported.");
}

/// What ray::Task and ray::Actor return for a Python or Java function or class, and an
/// ActorHandleXlang's Task for a method: Ray's options (checked as for C++ calls), then Remote,
/// which throws CrossLanguageUnsupported.
template <typename Result>
class CrossLanguageCaller {
 public:
  /// A caller of `what` (e.g. "Python function module.function").
  explicit CrossLanguageCaller(std::string what) : what_(std::move(what)) {}

  /// Ray's option setters; they check their values and change nothing else.
  CrossLanguageCaller &SetName(std::string) { return *this; }
  CrossLanguageCaller &SetName(std::string, std::string) { return *this; }
  CrossLanguageCaller &SetResources(std::unordered_map<std::string, double> resources) {
    CheckTaskOptions(resources);
    return *this;
  }
  CrossLanguageCaller &SetResource(const std::string &name, double value) {
    CheckTaskOptions({{name, value}});
    return *this;
  }
  CrossLanguageCaller &SetSchedulingStrategy(SchedulingStrategy) { return *this; }
  CrossLanguageCaller &SetMaxRetries(int n) {
    CheckMaxRetries(n);
    return *this;
  }
  CrossLanguageCaller &SetRetryExceptions(bool) { return *this; }
  CrossLanguageCaller &SetMaxRestarts(int n) {
    CheckMaxRestarts(n);
    return *this;
  }
  CrossLanguageCaller &SetMaxTaskRetries(int n) {
    CheckMaxTaskRetries(n);
    return *this;
  }
  CrossLanguageCaller &SetMaxConcurrency(int n) {
    CheckMaxConcurrency(n);
    return *this;
  }

  /// Throws: goray makes no cross-language calls.
  template <typename... Args>
  Result Remote(Args &&...) {
    throw CrossLanguageUnsupported(what_);
  }

 private:
  std::string what_;
};

}  // namespace internal

/// The handle of a Python or Java actor (what Ray's ray::Actor(PyActorClass{...}).Remote()
/// returns). goray never makes one: creating such an actor throws.
class ActorHandleXlang {
 public:
  /// The actor's id (empty).
  const std::string &ID() const { return id_; }

  /// A caller of a method of the Python actor; its Remote throws.
  template <typename R>
  internal::CrossLanguageCaller<ObjectRef<R>> Task(PyActorMethod<R> method) {
    return internal::CrossLanguageCaller<ObjectRef<R>>("Python actor method " + method.function_name);
  }

  /// A caller of a method of the Java actor; its Remote throws.
  template <typename R>
  internal::CrossLanguageCaller<ObjectRef<R>> Task(JavaActorMethod<R> method) {
    return internal::CrossLanguageCaller<ObjectRef<R>>("Java actor method " + method.function_name);
  }

  /// Kills the actor (there is none).
  void Kill() {}
  void Kill(bool) {}

 private:
  std::string id_;
};

/// A caller of a Python function; its Remote throws.
template <typename R>
internal::CrossLanguageCaller<ObjectRef<R>> Task(PyFunction<R> func) {
  return internal::CrossLanguageCaller<ObjectRef<R>>("Python function " + func.module_name + "." +
                                                      func.function_name);
}

/// A caller of a Java static method; its Remote throws.
template <typename R>
internal::CrossLanguageCaller<ObjectRef<R>> Task(JavaFunction<R> func) {
  return internal::CrossLanguageCaller<ObjectRef<R>>("Java function " + func.class_name + "." +
                                                      func.function_name);
}

/// A creator of a Python actor; its Remote throws.
inline internal::CrossLanguageCaller<ActorHandleXlang> Actor(PyActorClass cls) {
  return internal::CrossLanguageCaller<ActorHandleXlang>("Python actor class " + cls.module_name +
                                                         "." + cls.class_name);
}

/// A creator of a Java actor; its Remote throws.
inline internal::CrossLanguageCaller<ActorHandleXlang> Actor(JavaActorClass cls) {
  return internal::CrossLanguageCaller<ActorHandleXlang>("Java actor class " + cls.class_name);
}

}  // namespace ray
