// goray: Ray's C++ API on a Go runtime.
//
// The registry of RAY_REMOTE functions of one binary (executable or shared library), and the
// worker-side invokers that run them: unpack the arguments, call, pack the result or the error.
#pragma once

#include <ray/api/common.h>
#include <ray/api/function_traits.h>
#include <ray/api/serializer.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// Fills a task result; data and ids are copied into malloc'd buffers the runtime frees.
inline void FillTaskResult(ray_task_result *result, int kind, const char *data, size_t size,
                           const std::string &contained_ids = std::string()) {
  result->kind = kind;
  result->data = static_cast<uint8_t *>(std::malloc(size > 0 ? size : 1));
  result->size = result->data != nullptr ? size : 0;
  if (result->data != nullptr && size > 0) std::memcpy(result->data, data, size);
  result->contained_ids = nullptr;
  result->num_contained = 0;
  if (!contained_ids.empty()) {
    result->contained_ids = static_cast<uint8_t *>(std::malloc(contained_ids.size()));
    if (result->contained_ids != nullptr) {
      std::memcpy(result->contained_ids, contained_ids.data(), contained_ids.size());
      result->num_contained = contained_ids.size() / RAY_ID_SIZE;
    }
  }
}

/// Fills a task result with an error message of the given kind.
inline void FillTaskError(ray_task_result *result, int kind, const std::string &message) {
  FillTaskResult(result, kind, message.data(), message.size());
}

/// Thrown (and caught by the invoker) when an argument cannot be deserialized.
class TaskArgumentError : public std::exception {
 public:
  /// Creates the error with its full message.
  explicit TaskArgumentError(std::string msg) : msg_(std::move(msg)) {}
  /// The message.
  const char *what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

/// The message of an actor method result after ray::ExitActor() was called.
inline const char *ActorExitMessage() { return "The actor exited: ray::ExitActor() was called"; }

/// An actor instance as the runtime keeps it (ray_task_result.actor_instance and
/// ray_task_call.actor_instance): the object a factory created, its dynamic class and how to
/// delete it. Member functions of the class or of any public base class can be called on it.
class ActorInstance {
 public:
  /// Takes ownership of an object created by a factory.
  template <typename T>
  static ActorInstance *Create(T *object) {
    auto *instance = new ActorInstance();
    instance->object_ = object;
    instance->type_ = &typeid(T);
    instance->deleter_ = [](void *p) { delete static_cast<T *>(p); };
    instance->thrower_ = [](void *p) { throw static_cast<T *>(p); };
    return instance;
  }

  /// Deletes the object.
  ~ActorInstance() {
    if (object_ != nullptr) deleter_(object_);
  }
  ActorInstance(const ActorInstance &) = delete;
  ActorInstance &operator=(const ActorInstance &) = delete;

  /// The object as a C (its own class or a public, unambiguous base class), or nullptr when it is
  /// not a C. Conversion to a base class goes through throwing and catching the typed pointer, so
  /// that it is exact (multiple and virtual inheritance) without knowing the object's class here.
  template <typename C>
  C *As() const {
    if (object_ == nullptr) return nullptr;
    if (*type_ == typeid(C)) return static_cast<C *>(object_);
    try {
      thrower_(object_);
    } catch (C *converted) {
      return converted;
    } catch (...) {
    }
    return nullptr;
  }

  /// The (mangled) name of the object's class.
  const char *TypeName() const { return type_->name(); }

 private:
  ActorInstance() = default;

  void *object_ = nullptr;
  const std::type_info *type_ = nullptr;
  void (*deleter_)(void *) = nullptr;
  void (*thrower_)(void *) = nullptr;
};

/// Deserializes argument `index` of a call as a D.
template <typename D>
D UnpackTaskArgument(const std::string &function_name, const ray_task_call &call, size_t index) {
  const ray_arg_value &arg = call.args[index];
  try {
    return Serializer::Deserialize<D>(reinterpret_cast<const char *>(arg.data), arg.size);
  } catch (const std::exception &e) {
    throw TaskArgumentError("Failed to deserialize argument " + std::to_string(index) +
                            " (0-based) of function(" + function_name + "): " + e.what());
  }
}

/// Unpacks the arguments of a call as the decayed parameter types (left to right).
template <typename... Params, size_t... I>
std::tuple<std::decay_t<Params>...> UnpackTaskArguments(const std::string &function_name,
                                                        const ray_task_call &call,
                                                        std::index_sequence<I...>) {
  (void)function_name;
  (void)call;
  return std::tuple<std::decay_t<Params>...>{
      UnpackTaskArgument<std::decay_t<Params>>(function_name, call, I)...};
}

/// An exception as a task's error says it: its demangled type, then its what()
/// ("std::logic_error: error"), as Ray's C++ worker reports it.
inline std::string DescribeException(const std::exception &e) {
  return DemangleTypeName(typeid(e).name()) + ": " + e.what();
}

/// Unpacks a call's arguments for a function with parameters ArgsTuple (a std::tuple of declared
/// parameter types) and invokes `body(args_tuple)`, which runs the function and fills the result.
/// Errors become results: wrong argument count and deserialization failures, exceptions thrown
/// by the function -> RAY_OBJECT_TASK_ERROR.
template <typename ArgsTuple>
struct TaskInvoker;

template <typename... Params>
struct TaskInvoker<std::tuple<Params...>> {
  /// Runs `body` with the unpacked arguments (a std::tuple of the decayed parameter types).
  /// `error_prefix` goes before the what() of an exception the body throws (default: "An
  /// exception was thrown while executing function(NAME): "). ray::ExitActor() in the body makes
  /// the result RAY_OBJECT_ACTOR_DIED.
  template <typename Body>
  static void Run(const std::string &function_name, const ray_task_call &call,
                  ray_task_result *result, Body &&body, std::string error_prefix = std::string()) {
    if (error_prefix.empty()) {
      error_prefix = "An exception was thrown while executing function(" + function_name + "): ";
    }
    if (call.num_args != sizeof...(Params)) {
      FillTaskError(result, RAY_OBJECT_TASK_ERROR,
                    "Function(" + function_name + ") takes " +
                        std::to_string(sizeof...(Params)) + " arguments, but the task has " +
                        std::to_string(call.num_args) + ".");
      return;
    }
    try {
      auto args = UnpackTaskArguments<Params...>(function_name, call,
                                                 std::index_sequence_for<Params...>{});
      body(args);
    } catch (const TaskArgumentError &e) {
      FillTaskError(result, RAY_OBJECT_TASK_ERROR, e.what());
    } catch (const RayIntentionalSystemExitException &) {
      FillTaskError(result, RAY_OBJECT_ACTOR_DIED, ActorExitMessage());
    } catch (const std::exception &e) {
      FillTaskError(result, RAY_OBJECT_TASK_ERROR, error_prefix + DescribeException(e));
    } catch (...) {
      FillTaskError(result, RAY_OBJECT_TASK_ERROR, error_prefix + "unknown exception");
    }
  }

  /// Calls f with the unpacked arguments (and an object for member functions), each passed as an
  /// lvalue or rvalue according to its parameter type.
  template <typename F, typename Tuple, size_t... I>
  static decltype(auto) Call(const F &f, Tuple &args, std::index_sequence<I...>) {
    return f(PassArgument<Params>(std::get<I>(args))...);
  }
  template <typename C, typename F, typename Tuple, size_t... I>
  static decltype(auto) CallMember(C *object, const F &f, Tuple &args, std::index_sequence<I...>) {
    return (object->*f)(PassArgument<Params>(std::get<I>(args))...);
  }
};

/// Packs a call's return value (nil for void) into a VALUE result with its contained ids.
template <typename R, typename Callable>
void CallAndPackResult(Callable &&callable, ray_task_result *result) {
  if constexpr (std::is_void_v<R>) {
    callable();
    SerializedValue value = Serializer::SerializeWithRefs(msgpack::type::nil_t());
    FillTaskResult(result, RAY_OBJECT_VALUE, value.buffer.data(), value.buffer.size());
  } else {
    decltype(auto) returned = callable();
    SerializedValue value = Serializer::SerializeWithRefs(returned);
    FillTaskResult(result, RAY_OBJECT_VALUE, value.buffer.data(), value.buffer.size(),
                   value.contained_ids);
    // The ObjectRefs inside the returned value die when this function returns, before the runtime
    // has stored the result. Hand one reference per contained id over to the runtime, which
    // drops it (ray_remove_ref) once the stored result holds its own references.
    for (size_t i = 0; i < result->num_contained; i++) {
      ray_add_ref(result->contained_ids + i * RAY_ID_SIZE);
    }
  }
}

/// The registry of the RAY_REMOTE functions of this binary. Callers map a function pointer to its
/// name; workers map a name to its invoker. Free functions run as normal tasks; member functions
/// and actor factories (static functions returning a pointer to a class) are kept for actor tasks.
class RAY_INTERNAL_HIDDEN FunctionManager {
 public:
  /// Runs a normal task.
  using Invoker = std::function<void(const ray_task_call &, ray_task_result *)>;
  /// Runs an actor task on an actor instance.
  using MemberInvoker =
      std::function<void(const ActorInstance &instance, const ray_task_call &, ray_task_result *)>;
  /// Creates an actor instance (an ActorInstance the caller owns); on failure returns nullptr and
  /// fills the result with the error.
  using ActorCreator = std::function<ActorInstance *(const ray_task_call &, ray_task_result *)>;

  /// Registers one RAY_REMOTE function under a name; throws RayException on a duplicate name or
  /// function.
  template <typename F>
  void Register(const std::string &name, F f) {
    using Traits = FunctionTraits<F>;
    static_assert(Traits::is_function,
                  "RAY_REMOTE accepts functions, static member functions and member function "
                  "pointers (use RAY_FUNC(f, ArgTypes...) to pick an overload)");
    if constexpr (Traits::is_function) {
      static_assert(!HasPointerElement<typename Traits::DecayedArgsTuple>::value,
                    "RAY_REMOTE: a remote function cannot take pointer parameters (its arguments "
                    "are serialized)");
    }
    if (names_.count(name) > 0) throw RayException("Duplicate RAY_REMOTE function: " + name);
    std::string key = FunctionKey(f);
    if (!keys_.emplace(key, name).second) {
      throw RayException("Duplicate RAY_REMOTE function: " + name + " (already registered as " +
                         keys_[key] + ")");
    }
    names_.emplace(name);
    using Args = typename Traits::ArgsTuple;
    using R = typename Traits::ReturnType;
    if constexpr (Traits::is_member) {
      using C = typename Traits::ClassType;
      member_invokers_.emplace(name, [name, f](const ActorInstance &instance,
                                               const ray_task_call &call,
                                               ray_task_result *result) {
        C *object = instance.As<C>();
        if (object == nullptr) {
          FillTaskError(result, RAY_OBJECT_TASK_ERROR,
                        "Function(" + name + ") cannot be called on an actor of class " +
                            DemangleTypeName(instance.TypeName()) + ": it is a member of " +
                            DemangleTypeName(typeid(C).name()) + ".");
          return;
        }
        TaskInvoker<Args>::Run(name, call, result, [&](auto &args) {
          CallAndPackResult<R>(
              [&]() -> decltype(auto) {
                return TaskInvoker<Args>::CallMember(
                    object, f, args, std::make_index_sequence<std::tuple_size_v<Args>>{});
              },
              result);
        });
      });
    } else if constexpr (IsActorFactory<F>::value) {
      using C = std::remove_pointer_t<R>;
      actor_creators_.emplace(name, [name, f](const ray_task_call &call,
                                              ray_task_result *result) -> ActorInstance * {
        ActorInstance *instance = nullptr;
        TaskInvoker<Args>::Run(
            name, call, result,
            [&](auto &args) {
              C *created = TaskInvoker<Args>::Call(
                  f, args, std::make_index_sequence<std::tuple_size_v<Args>>{});
              if (created == nullptr) {
                FillTaskError(result, RAY_OBJECT_TASK_ERROR,
                              "Failed to create the actor with " + name +
                                  ": the factory returned nullptr");
                return;
              }
              try {
                instance = ActorInstance::Create<C>(created);
              } catch (...) {
                delete created;
                throw;
              }
            },
            "An exception was thrown while creating the actor with " + name + ": ");
        return instance;
      });
    } else {
      invokers_.emplace(name, [name, f](const ray_task_call &call, ray_task_result *result) {
        TaskInvoker<Args>::Run(name, call, result, [&](auto &args) {
          CallAndPackResult<R>(
              [&]() -> decltype(auto) {
                return TaskInvoker<Args>::Call(
                    f, args, std::make_index_sequence<std::tuple_size_v<Args>>{});
              },
              result);
        });
      });
    }
  }

  /// This binary's registry (each executable and shared library has its own), as Ray's tests
  /// reach it.
  static FunctionManager &Instance();

  /// Registers f under name, as RAY_REMOTE does; throws RayException when the name, or the
  /// function, is registered already. Returns true.
  template <typename F>
  bool RegisterRemoteFunction(const std::string &name, const F &f) {
    Register(name, f);
    return true;
  }

  /// The class of an actor factory from its RAY_REMOTE name: "Counter::FactoryCreate" and
  /// "RAY_FUNC(Counter::FactoryCreate, int)" give "Counter", "ns::Counter::Make" gives
  /// "ns::Counter"; a name without a class ("FactoryCreate", "::FactoryCreate", "") gives "".
  static std::string GetClassNameByFuncName(const std::string &func_name) {
    std::string name = func_name;
    const std::string wrapper = "RAY_FUNC(";
    if (name.compare(0, wrapper.size(), wrapper) == 0) {
      name = name.substr(wrapper.size());
      size_t end = name.find_first_of(",)");
      name = name.substr(0, end);
    }
    size_t start = name.find_first_not_of(" \t&");
    name = start == std::string::npos ? std::string() : name.substr(start);
    size_t end = name.find_last_not_of(" \t");
    name = end == std::string::npos ? std::string() : name.substr(0, end + 1);
    size_t colons = name.rfind("::");
    if (colons == std::string::npos || colons == 0) return std::string();
    return name.substr(0, colons);
  }

  /// The RAY_REMOTE name of a registered function (or member function), or "" when it is not
  /// registered.
  template <typename F>
  std::string GetFunctionName(const F &f) const {
    const std::decay_t<F> decayed = f;  // (a function, as its pointer)
    auto it = keys_.find(FunctionKey(decayed));
    return it == keys_.end() ? std::string() : it->second;
  }

  /// Whether a function of any kind is registered under the name.
  bool HasFunction(const std::string &name) const { return names_.count(name) > 0; }

  /// The invoker of an actor member function, or nullptr.
  const MemberInvoker *GetMemberInvoker(const std::string &name) const {
    auto it = member_invokers_.find(name);
    return it == member_invokers_.end() ? nullptr : &it->second;
  }

  /// The creator of an actor (its factory), or nullptr.
  const ActorCreator *GetActorCreator(const std::string &name) const {
    auto it = actor_creators_.find(name);
    return it == actor_creators_.end() ? nullptr : &it->second;
  }

  /// Executes a call the runtime hands over; every outcome becomes a result.
  /// RAY_TASK_NORMAL runs a free function; RAY_TASK_ACTOR_CREATION runs a factory and hands the
  /// new ActorInstance over in result->actor_instance; RAY_TASK_ACTOR_METHOD runs a member
  /// function on call.actor_instance; RAY_TASK_ACTOR_DESTROY deletes call.actor_instance.
  void Execute(const ray_task_call &call, ray_task_result *result) const {
    std::string name(call.function_name != nullptr ? call.function_name : "",
                     call.function_name != nullptr ? call.function_name_len : 0);
    result->actor_instance = nullptr;
    try {
      switch (call.task_type) {
        case RAY_TASK_NORMAL: {
          auto it = invokers_.find(name);
          if (it == invokers_.end()) {
            FillFunctionNotFound(result, name);
            return;
          }
          it->second(call, result);
          return;
        }
        case RAY_TASK_ACTOR_CREATION: {
          const ActorCreator *creator = GetActorCreator(name);
          if (creator == nullptr) {
            FillFunctionNotFound(result, name);
            return;
          }
          ActorInstance *instance = (*creator)(call, result);
          if (instance != nullptr) {
            SerializedValue nil = Serializer::SerializeWithRefs(msgpack::type::nil_t());
            FillTaskResult(result, RAY_OBJECT_VALUE, nil.buffer.data(), nil.buffer.size());
            result->actor_instance = instance;
          }
          return;
        }
        case RAY_TASK_ACTOR_METHOD: {
          const MemberInvoker *invoker = GetMemberInvoker(name);
          if (invoker == nullptr) {
            FillFunctionNotFound(result, name);
            return;
          }
          if (call.actor_instance == nullptr) {
            FillTaskError(result, RAY_OBJECT_ACTOR_DIED,
                          "Function(" + name + ") was called without an actor instance.");
            return;
          }
          (*invoker)(*static_cast<const ActorInstance *>(call.actor_instance), call, result);
          return;
        }
        case RAY_TASK_ACTOR_DESTROY: {
          delete static_cast<ActorInstance *>(call.actor_instance);
          SerializedValue nil = Serializer::SerializeWithRefs(msgpack::type::nil_t());
          FillTaskResult(result, RAY_OBJECT_VALUE, nil.buffer.data(), nil.buffer.size());
          return;
        }
        default:
          FillTaskError(result, RAY_OBJECT_FUNCTION_NOT_FOUND,
                        "Unsupported task type " + std::to_string(call.task_type) +
                            " for function " + name + ".");
          return;
      }
    } catch (const RayIntentionalSystemExitException &) {
      FillTaskError(result, RAY_OBJECT_ACTOR_DIED, ActorExitMessage());
    } catch (const std::exception &e) {
      FillTaskError(result, RAY_OBJECT_TASK_ERROR,
                    "An exception was thrown while executing function(" + name + "): " +
                        DescribeException(e));
    } catch (...) {
      FillTaskError(result, RAY_OBJECT_TASK_ERROR,
                    "An exception was thrown while executing function(" + name +
                        "): unknown exception");
    }
  }

 private:
  /// Fills a RAY_OBJECT_FUNCTION_NOT_FOUND result for an unknown name.
  static void FillFunctionNotFound(ray_task_result *result, const std::string &name) {
    FillTaskError(result, RAY_OBJECT_FUNCTION_NOT_FOUND,
                  "Function not found: " + name + ". Please use RAY_REMOTE to register it.");
  }

  /// Identifies a function (or member function) pointer by its type and its bytes (two virtual
  /// member functions of different classes may have the same bytes).
  template <typename F>
  static std::string FunctionKey(const F &f) {
    return std::string(typeid(F).name()) + '\0' +
           std::string(reinterpret_cast<const char *>(&f), sizeof(F));
  }

  std::unordered_map<std::string, std::string> keys_;  // pointer bytes -> name
  std::unordered_map<std::string, Invoker> invokers_;
  std::unordered_map<std::string, MemberInvoker> member_invokers_;
  std::unordered_map<std::string, ActorCreator> actor_creators_;
  std::unordered_set<std::string> names_;
};

/// This binary's registry. Hidden visibility: every executable and shared library has its own.
RAY_INTERNAL_HIDDEN inline FunctionManager &GetFunctionManager() {
  static FunctionManager manager;
  return manager;
}

inline FunctionManager &FunctionManager::Instance() { return GetFunctionManager(); }

/// Executes a call through this binary's registry. This is the callback given to ray_init and
/// ray_worker_run, and what goray_internal_execute runs.
RAY_INTERNAL_HIDDEN inline void ExecuteTaskCall(void *ctx, const ray_task_call *call,
                                                ray_task_result *result) {
  (void)ctx;
  if (call == nullptr || result == nullptr) return;
  GetFunctionManager().Execute(*call, result);
}

/// Whether this binary registers a function under the name (goray_internal_has_function).
RAY_INTERNAL_HIDDEN inline int HasRemoteFunction(const char *name, size_t len) {
  if (name == nullptr) return 0;
  return GetFunctionManager().HasFunction(std::string(name, len)) ? 1 : 0;
}

/// The RAY_REMOTE name of f in this binary, or "" when f is not registered.
template <typename F>
RAY_INTERNAL_HIDDEN std::string GetRemoteFunctionName(const F &f) {
  return GetFunctionManager().GetFunctionName(f);
}

/// Splits the stringized arguments of RAY_REMOTE at top-level commas and removes whitespace:
/// "Plus, RAY_FUNC(Overload, int)" -> {"Plus", "RAY_FUNC(Overload,int)"}.
inline std::vector<std::string> SplitRemoteFunctionNames(const char *text) {
  std::vector<std::string> names;
  std::string current;
  int depth = 0;
  for (const char *p = text; *p != '\0'; p++) {
    char c = *p;
    if (c == '(' || c == '<' || c == '[' || c == '{') depth++;
    if ((c == ')' || c == '>' || c == ']' || c == '}') && depth > 0) depth--;
    if (c == ',' && depth == 0) {
      names.push_back(current);
      current.clear();
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') continue;
    current += c;
  }
  if (!current.empty() || !names.empty()) names.push_back(current);
  return names;
}

/// What RAY_REMOTE runs at static-initialization time: registers every function under its name.
template <typename... Fs>
RAY_INTERNAL_HIDDEN bool RegisterRemoteFunctions(const char *names_text, Fs... fs) {
  std::vector<std::string> names = SplitRemoteFunctionNames(names_text);
  if (names.size() != sizeof...(Fs)) {
    throw RayException(std::string("RAY_REMOTE: cannot split the function names of: ") +
                       names_text);
  }
  size_t index = 0;
  (GetFunctionManager().Register(names[index++], fs), ...);
  return true;
}

}  // namespace internal
}  // namespace ray
