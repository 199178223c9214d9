// goray: Ray's C++ API on a Go runtime.
//
// The whole public API: include <ray/api.h>, link -lray_api.
//
//   int Plus(int a, int b) { return a + b; }
//   RAY_REMOTE(Plus);
//   int main(int argc, char **argv) {
//     ray::RayConfig config;
//     ray::Init(config, argc, argv);
//     auto ref = ray::Task(Plus).Remote(1, 2);
//     int three = *ray::Get(ref);
//     ray::Shutdown();
//   }
//
// Actors: a class with a static factory, both registered:
//   class Counter { public: static Counter *FactoryCreate(int init); int Add(int x); ... };
//   RAY_REMOTE(Counter::FactoryCreate, &Counter::Add);
//   ray::ActorHandle<Counter> actor = ray::Actor(Counter::FactoryCreate).Remote(0);
//   int three = *actor.Task(&Counter::Add).Remote(3).Get();
//
// Public names live in namespace ray (Ray's exact names); everything in ray::internal is private.
// Every translation unit that includes this header defines the weak C symbols
// goray_internal_execute and goray_internal_has_function, through which default_worker runs the
// RAY_REMOTE functions of a shared library.
#pragma once

#include <ray/api/actor_creator.h>
#include <ray/api/actor_handle.h>
#include <ray/api/actor_task_caller.h>
#include <ray/api/common.h>
#include <ray/api/config_internal.h>
#include <ray/api/function_manager.h>
#include <ray/api/logging.h>
#include <ray/api/object_ref.h>
#include <ray/api/placement_group.h>
#include <ray/api/ray_config.h>
#include <ray/api/ray_exception.h>
#include <ray/api/ray_remote.h>
#include <ray/api/runtime_context.h>
#include <ray/api/runtime_env.h>
#include <ray/api/serializer.h>
#include <ray/api/task_caller.h>
#include <ray/api/task_options.h>
#include <ray/api/wait_result.h>
#include <ray/api/xlang_function.h>

#include <algorithm>
#include <any>
#include <cstdio>
#include <iostream>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace ray {

namespace internal {

/// Starts the runtime (or, in a worker process, serves tasks and exits). Hidden so that the
/// execute callback is always the registry of the binary that calls Init.
RAY_INTERNAL_HIDDEN inline void InitImpl(const RayConfig &config, const InitFlags &flags) {
  if (ray_api_version() != RAY_C_API_VERSION) {
    throw RayException("libray_api.so implements C ABI version " +
                       std::to_string(ray_api_version()) + ", but this program was built against "
                       "the headers of version " + std::to_string(RAY_C_API_VERSION) +
                       ": build it against the headers of the same goray as the library.");
  }
  if (ray_is_worker_process() == 1) {
    int code = ray_worker_run(&ExecuteTaskCall, nullptr);
    std::fflush(nullptr);
    _exit(code);
  }
  if (ray_is_initialized() == 1) return;
  InitConfig init_config(config, flags);
  char *err = nullptr;
  int code = ray_init(init_config.Get(), &ExecuteTaskCall, nullptr, &err);
  CheckStatus(code, err);
}

}  // namespace internal

/// Starts Ray with the given configuration; command-line flags are not read. In a process that a
/// node started as a worker, serves tasks until the node goes away and then exits the process
/// (never returns). A second call is a no-op. Throws ray::internal::RayException on failure.
RAY_INTERNAL_HIDDEN inline void Init(ray::RayConfig &config) {
  internal::InitImpl(config, internal::InitFlags());
}

/// Starts Ray with the given configuration, overridden by the --ray_* flags of the command line
/// (--ray_address, --ray_redis_password, --ray_code_search_path, --ray_job_id,
/// --ray_node_manager_port, --ray_session_dir, --ray_logs_dir, --ray_node_ip_address,
/// --ray_head_args, --ray_default_actor_lifetime). Other arguments are left alone.
RAY_INTERNAL_HIDDEN inline void Init(ray::RayConfig &config, int argc, char **argv) {
  if (ray_is_worker_process() == 1) internal::InitImpl(config, internal::InitFlags());
  internal::InitImpl(config, internal::ParseInitFlags(argc, argv));
}

/// Starts Ray with the default configuration.
RAY_INTERNAL_HIDDEN inline void Init() {
  RayConfig config;
  Init(config);
}

/// Whether Ray is initialized (Init succeeded and Shutdown was not called since).
inline bool IsInitialized() { return ray_is_initialized() == 1; }

/// Stops Ray: workers, the embedded node, pending waits.
inline void Shutdown() { ray_shutdown(); }

namespace internal {

/// Stores a value whose msgpack bytes (`measured.size` of them, at least ray_put_threshold())
/// go to the node's shared-memory object store: reserves the bytes with ray_put_create, packs the
/// value straight into them and seals the object with its contained ids. The object is abandoned
/// (ray_put_abort) when packing throws. Returns the new object's id.
template <typename T>
std::string PutInSharedMemory(const T &obj, const MeasuredValue &measured) {
  uint8_t id[RAY_ID_SIZE];
  uint8_t *data = nullptr;
  char *err = nullptr;
  int code = ray_put_create(measured.size, id, &data, &err);
  CheckStatus(code, err);
  try {
    if (data == nullptr) {
      throw RayException("Put: the object store returned no memory for a new object of " +
                         std::to_string(measured.size) + " bytes");
    }
    Serializer::PackInto(obj, reinterpret_cast<char *>(data), measured.size);
  } catch (...) {
    ray_put_abort(id);
    throw;
  }
  code = ray_put_seal(id, measured.contained_ids.empty() ? nullptr : Bytes(measured.contained_ids),
                      measured.NumContained(), &err);
  CheckStatus(code, err);
  return std::string(reinterpret_cast<const char *>(id), RAY_ID_SIZE);
}

/// Stores msgpack bytes through ray_put, which copies them; `contained_ids` lists the ObjectRefs
/// inside (packed ids). Returns the new object's id.
inline std::string PutCopy(const char *data, size_t size, const std::string &contained_ids) {
  uint8_t id[RAY_ID_SIZE];
  char *err = nullptr;
  int code = ray_put(reinterpret_cast<const uint8_t *>(data), size,
                     contained_ids.empty() ? nullptr : Bytes(contained_ids),
                     contained_ids.size() / RAY_ID_SIZE, id, &err);
  CheckStatus(code, err);
  return std::string(reinterpret_cast<const char *>(id), RAY_ID_SIZE);
}

}  // namespace internal

/// Stores a value in the object store and returns a ref to it. ObjectRefs inside the value are
/// recorded as contained in it. On a node, a value whose msgpack bytes reach ray_put_threshold()
/// is packed straight into the node's shared-memory object store (no other copy of its bytes is
/// made); smaller values, and every value in local mode, are copied through ray_put. Throws
/// RayException on failure, with a message starting "ObjectStoreFullError:" when the store has no
/// room for the value even after spilling.
template <typename T>
ray::ObjectRef<T> Put(const T &obj) {
  const size_t threshold = ray_put_threshold();
  std::string id;
  if (threshold == 0) {
    internal::SerializedValue value = internal::Serializer::SerializeWithRefs(obj);
    id = internal::PutCopy(value.buffer.data(), value.buffer.size(), value.contained_ids);
  } else {
    internal::MeasuredValue measured = internal::Serializer::Measure(obj);
    if (measured.size >= threshold) {
      id = internal::PutInSharedMemory(obj, measured);
    } else {
      msgpack::sbuffer buffer(measured.size);  // sized to the measured bytes
      internal::Serializer::PackMeasured(buffer, obj);
      id = internal::PutCopy(buffer.data(), buffer.size(), measured.contained_ids);
    }
  }
  return ray::ObjectRef<T>(id);
}

namespace internal {
/// What Get returns for an ObjectRef<T>: std::shared_ptr<T>, or void for ObjectRef<void>.
template <typename T>
using GetResult = std::conditional_t<std::is_void_v<T>, void, std::shared_ptr<T>>;
/// What Get returns for a vector of ObjectRef<T>: a vector of std::shared_ptr<T>, or void.
template <typename T>
using GetResults =
    std::conditional_t<std::is_void_v<T>, void, std::vector<std::shared_ptr<T>>>;

/// The ids of refs, in order.
template <typename T>
std::vector<std::string> IdsOf(const std::vector<ray::ObjectRef<T>> &objects) {
  std::vector<std::string> ids;
  ids.reserve(objects.size());
  for (const auto &o : objects) ids.push_back(o.ID());
  return ids;
}
}  // namespace internal

/// Gets the value of an object, waiting as long as needed (ObjectRef<void>: waits for the task
/// and returns nothing). Throws the error that stands for the value (RayTaskException,
/// RayWorkerException, ...) or RayException.
template <typename T>
internal::GetResult<T> Get(const ray::ObjectRef<T> &object) {
  if constexpr (std::is_void_v<T>) {
    internal::GetVoid({object.ID()}, -1);
  } else {
    return internal::GetValue<T>(object.ID(), -1);
  }
}

/// Gets the value of an object, waiting at most timeout_ms milliseconds (negative: forever); a
/// timeout throws RayException("Get object error: ...").
template <typename T>
internal::GetResult<T> Get(const ray::ObjectRef<T> &object, const int &timeout_ms) {
  if constexpr (std::is_void_v<T>) {
    internal::GetVoid({object.ID()}, timeout_ms);
  } else {
    return internal::GetValue<T>(object.ID(), timeout_ms);
  }
}

/// Gets the values of several objects, in order (ObjectRef<void>: waits for all of them).
template <typename T>
internal::GetResults<T> Get(const std::vector<ray::ObjectRef<T>> &objects) {
  if constexpr (std::is_void_v<T>) {
    internal::GetVoid(internal::IdsOf(objects), -1);
  } else {
    return internal::GetValues<T>(internal::IdsOf(objects), -1);
  }
}

/// Gets the values of several objects, waiting at most timeout_ms milliseconds in all.
template <typename T>
internal::GetResults<T> Get(const std::vector<ray::ObjectRef<T>> &objects,
                            const int &timeout_ms) {
  if constexpr (std::is_void_v<T>) {
    internal::GetVoid(internal::IdsOf(objects), timeout_ms);
  } else {
    return internal::GetValues<T>(internal::IdsOf(objects), timeout_ms);
  }
}

/// Waits until num_objects of the objects are ready or timeout_ms milliseconds pass (negative:
/// forever). Returns the ready refs (at most num_objects) and the others, each in the given order.
/// Throws RayException when num_objects is not between 1 and the number of objects, or when the
/// list holds the same ref twice.
template <typename T>
WaitResult<T> Wait(const std::vector<ray::ObjectRef<T>> &objects, int num_objects,
                   int timeout_ms) {
  if (num_objects <= 0 || static_cast<size_t>(num_objects) > objects.size()) {
    throw internal::RayException(
        "Number of objects to wait for must be between 1 and the number of ids (" +
        std::to_string(objects.size()) + "), got " + std::to_string(num_objects) + ".");
  }
  // Scratch memory reused by this thread's calls: a loop of Waits over a shrinking list (the usual
  // pattern) allocates nothing here after the first, and checks for duplicates without hashing.
  internal::WaitScratch &scratch = internal::WaitScratch::OfThisThread();
  if (scratch.Pack(objects) != objects.size()) {
    // The error of the first bad ref in the list: a duplicate before it wins.
    if (!scratch.Unique()) {
      throw internal::RayException("Wait requires a list of unique object ids.");
    }
    throw internal::RayException("Wait got an empty ObjectRef.");
  }
  if (!scratch.Unique()) {
    throw internal::RayException("Wait requires a list of unique object ids.");
  }
  uint8_t *ready = scratch.ready.data();
  char *err = nullptr;
  int code = ray_wait(scratch.Packed(), objects.size(), static_cast<size_t>(num_objects),
                      static_cast<int64_t>(timeout_ms), ready, &err);
  if (code == RAY_ERR_TIMEOUT) {
    // A timeout is not an error; the flags are undefined after an error code, so none is ready.
    if (err != nullptr) ray_free(err);
    std::fill(scratch.ready.begin(), scratch.ready.end(), 0);
  } else {
    internal::CheckStatus(code, err);
  }
  std::list<ObjectRef<T>> ready_list;
  std::list<ObjectRef<T>> unready_list;
  for (size_t i = 0; i < objects.size(); i++) {
    (ready[i] != 0 ? ready_list : unready_list).push_back(objects[i]);
  }
  scratch.Trim(objects.size());
  return WaitResult<T>(std::move(ready_list), std::move(unready_list));
}

/// Returns a caller of a RAY_REMOTE function: ray::Task(Plus).Remote(1, 2). Overloads are picked
/// with RAY_FUNC(f, ArgTypes...). Throws ray::internal::RayFunctionNotFound when f is not
/// registered with RAY_REMOTE in this binary.
template <typename F>
RAY_INTERNAL_HIDDEN internal::TaskCaller<F> Task(F func) {
  using Traits = internal::FunctionTraits<F>;
  static_assert(Traits::is_function, "ray::Task(f): f must be a RAY_REMOTE function");
  if constexpr (Traits::is_function) {
    static_assert(!Traits::is_member,
                  "ray::Task(f): member functions run on actors: use "
                  "ray::Actor(Factory).Remote().Task(&Class::Method)");
    static_assert(!internal::IsActorFactory<F>::value,
                  "ray::Task(f): f returns a pointer; actor factories are used with "
                  "ray::Actor(Factory).Remote()");
  }
  std::string name = internal::GetRemoteFunctionName(func);
  if (name.empty()) {
    throw internal::RayFunctionNotFound(
        "Function not found. Please use RAY_REMOTE to register this function.");
  }
  return internal::TaskCaller<F>(func, std::move(name));
}

/// Returns a creator of an actor made by a RAY_REMOTE factory (a static member function or free
/// function returning T*): ray::Actor(Counter::FactoryCreate).SetName("c").Remote(0). Overloads
/// are picked with RAY_FUNC(Counter::FactoryCreate, int). Throws
/// ray::internal::RayFunctionNotFound when the factory is not registered with RAY_REMOTE in this
/// binary.
template <typename F>
RAY_INTERNAL_HIDDEN internal::ActorCreator<F> Actor(F create_func) {
  static_assert(internal::IsActorFactory<F>::value,
                "ray::Actor(factory): factory must be a RAY_REMOTE static member function or free "
                "function returning a pointer to the actor's class (T*)");
  std::string name = internal::GetRemoteFunctionName(create_func);
  if (name.empty()) {
    throw internal::RayFunctionNotFound(
        "Function not found. Please use RAY_REMOTE to register this function.");
  }
  return internal::ActorCreator<F>(std::move(name));
}

namespace internal {

/// Looks up a named actor; returns its id, or nothing when there is no such live actor. Throws
/// RayException when the actor's class is not `expected_class` (a typeid name) or on failure.
inline std::optional<std::string> GetActorId(const std::string &actor_name,
                                             const std::string *ray_namespace,
                                             const char *expected_class) {
  if (actor_name.empty()) return std::nullopt;
  uint8_t id[RAY_ACTOR_ID_SIZE];
  char *class_name = nullptr;
  char *err = nullptr;
  int code = ray_get_actor(actor_name.data(), actor_name.size(),
                           ray_namespace != nullptr ? ray_namespace->data() : nullptr,
                           ray_namespace != nullptr ? ray_namespace->size() : 0, id, &class_name,
                           &err);
  if (code == RAY_ERR_NOT_FOUND) {
    if (err != nullptr) ray_free(err);
    if (class_name != nullptr) ray_free(class_name);
    return std::nullopt;
  }
  if (code != RAY_OK && class_name != nullptr) ray_free(class_name);
  CheckStatus(code, err);
  std::string actual = class_name != nullptr ? class_name : "";
  if (class_name != nullptr) ray_free(class_name);
  if (actual != expected_class) {
    throw RayException("The actor named '" + actor_name + "' is of class " +
                       DemangleTypeName(actual.c_str()) + ", not of the requested class " +
                       DemangleTypeName(expected_class) + ".");
  }
  return std::string(reinterpret_cast<const char *>(id), RAY_ACTOR_ID_SIZE);
}

}  // namespace internal

/// Looks up a live actor by the name it was given with SetName(name), in this job's namespace.
/// Returns an empty optional when there is none; throws RayException when the actor is not of
/// class T.
template <typename T>
std::optional<ActorHandle<T>> GetActor(const std::string &actor_name) {
  std::optional<std::string> id = internal::GetActorId(actor_name, nullptr, typeid(T).name());
  if (!id) return std::nullopt;
  return ActorHandle<T>(*id);
}

/// Looks up a live actor by name in the given namespace (empty: this job's namespace).
/// Returns an empty optional when there is none; throws RayException when the actor is not of
/// class T.
template <typename T>
std::optional<ActorHandle<T>> GetActor(const std::string &actor_name,
                                       const std::string &ray_namespace) {
  std::optional<std::string> id = internal::GetActorId(
      actor_name, ray_namespace.empty() ? nullptr : &ray_namespace, typeid(T).name());
  if (!id) return std::nullopt;
  return ActorHandle<T>(*id);
}

/// Called inside an actor method: ends the actor once the method unwinds (it is not restarted).
/// The calling method's result, and every later call, fail with RayActorException. Never
/// returns: it throws ray::internal::RayIntentionalSystemExitException, which is not a
/// std::exception, so let it propagate. Outside an actor, throws RayException.
[[noreturn]] inline void ExitActor() {
  char *err = nullptr;
  int code = ray_exit_actor(&err);
  internal::CheckStatus(code, err);
  throw internal::RayIntentionalSystemExitException(internal::ActorExitMessage());
}

/// Inside an actor: true when this instance was created again after the actor's process died or
/// the actor was killed with Kill(false) (SetMaxRestarts). False elsewhere.
inline bool WasCurrentActorRestarted() { return ray_was_current_actor_restarted() == 1; }

/// The namespace of this job (RayConfig::ray_namespace, or the one the runtime chose). Throws
/// RayException when Ray is not initialized.
inline std::string GetNamespace() {
  char *ns = ray_get_namespace();
  if (ns == nullptr) {
    throw internal::RayException("GetNamespace: Ray is not initialized; call ray::Init first.");
  }
  std::string out(ns);
  ray_free(ns);
  return out;
}

}  // namespace ray

extern "C" {

/// Runs one call through the RAY_REMOTE registry of the binary (library) this symbol belongs to.
/// Looked up with dlsym by default_worker; weak so that every translation unit may define it.
RAY_INTERNAL_EXPORT_WEAK void goray_internal_execute(void *ctx, const ray_task_call *call,
                                                     ray_task_result *result) {
  ray::internal::ExecuteTaskCall(ctx, call, result);
}

/// 1 when the binary (library) this symbol belongs to registers a function under the name.
RAY_INTERNAL_EXPORT_WEAK int goray_internal_has_function(const char *name, size_t name_len) {
  return ray::internal::HasRemoteFunction(name, name_len);
}

}  // extern "C"
