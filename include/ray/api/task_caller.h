// goray: Ray's C++ API on a Go runtime.
//
// ray::internal::TaskCaller<F>: what ray::Task(f) returns; Remote(args...) submits the task.
#pragma once

#include <ray/api/common.h>
#include <ray/api/function_traits.h>
#include <ray/api/object_ref.h>
#include <ray/api/scheduling_strategy.h>
#include <ray/api/serializer.h>
#include <ray/api/runtime_env.h>
#include <ray/api/task_options.h>

#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// One argument ready for ray_submit_task.
struct PreparedTaskArg {
  /// True: `object_id` names an object the worker resolves to its value.
  bool is_ref = false;
  /// msgpack bytes of a value argument.
  msgpack::sbuffer data;
  /// The id of a ref argument.
  std::string object_id;
  /// Ids of the ObjectRefs serialized inside `data`.
  std::string contained_ids;
};

/// Compile-time check of argument `Index` (0-based) against its parameter type Param.
template <size_t Index, typename Param, typename Arg>
struct TaskArgumentCheck {
  using D = std::decay_t<Param>;
  using A = std::decay_t<Arg>;
  static constexpr bool arg_is_ref = IsObjectRef<A>::value;
  static constexpr bool param_is_ref = IsObjectRef<D>::value;
  /// The argument is a ref the worker resolves (rather than a value or a ref passed as a value).
  static constexpr bool resolved = arg_is_ref && !std::is_same_v<A, D>;

  template <typename T, bool IsRef = IsObjectRef<T>::value>
  struct RefValueType {
    using type = void;
  };
  template <typename T>
  struct RefValueType<T, true> {
    using type = typename IsObjectRef<T>::type;
  };

  static_assert(!std::is_pointer_v<D>,
                "ray::Task(f).Remote(args...): a remote function cannot take a pointer parameter");
  static_assert(!resolved || std::is_same_v<typename RefValueType<A>::type, D>,
                "ray::Task(f).Remote(args...): an ObjectRef<U> argument needs a parameter of type "
                "U (or ObjectRef<U> to pass the ref itself); the types do not match");
  static_assert(arg_is_ref || std::is_convertible_v<Arg &&, D>,
                "ray::Task(f).Remote(args...): an argument is not convertible to the type of its "
                "parameter");
  static constexpr bool ok = !std::is_pointer_v<D> &&
                             (!resolved || std::is_same_v<typename RefValueType<A>::type, D>) &&
                             (arg_is_ref || std::is_convertible_v<Arg &&, D>);
};

/// Prepares argument `Index` for parameter type Param: a value converted to the decayed parameter
/// type and packed, or a ref for the worker to resolve.
template <size_t Index, typename Param, typename Arg>
PreparedTaskArg PrepareTaskArgument(Arg &&arg) {
  using Check = TaskArgumentCheck<Index, Param, Arg>;
  using D = typename Check::D;
  using A = typename Check::A;
  PreparedTaskArg out;
  if constexpr (!Check::ok) {
    (void)arg;  // the static_asserts of TaskArgumentCheck already explain the error
  } else if constexpr (Check::resolved) {
    out.is_ref = true;
    out.object_id = arg.ID();
    if (out.object_id.size() != RAY_ID_SIZE) {
      throw RayException("Task argument " + std::to_string(Index) + " is an empty ObjectRef");
    }
  } else if constexpr (std::is_same_v<A, D>) {
    SerializedValue value = Serializer::SerializeWithRefs(arg);
    out.data = std::move(value.buffer);
    out.contained_ids = std::move(value.contained_ids);
  } else {
    const D converted = std::forward<Arg>(arg);
    SerializedValue value = Serializer::SerializeWithRefs(converted);
    out.data = std::move(value.buffer);
    out.contained_ids = std::move(value.contained_ids);
  }
  return out;
}

/// Prepares the arguments of a call of a function whose declared parameter types are
/// ParamsTuple (a std::tuple); the caller has checked the count.
template <typename ParamsTuple, size_t... I, typename... Args>
std::vector<PreparedTaskArg> PrepareTaskArguments(std::index_sequence<I...>, Args &&...args) {
  std::vector<PreparedTaskArg> prepared;
  prepared.reserve(sizeof...(Args));
  (prepared.push_back(PrepareTaskArgument<I, std::tuple_element_t<I, ParamsTuple>>(
       std::forward<Args>(args))),
   ...);
  return prepared;
}

/// The C view (ray_task_arg) of prepared arguments; valid while the prepared arguments live.
inline std::vector<ray_task_arg> ToCTaskArgs(const std::vector<PreparedTaskArg> &args) {
  std::vector<ray_task_arg> c_args(args.size());
  for (size_t i = 0; i < args.size(); i++) {
    ray_task_arg &c = c_args[i];
    c.is_ref = args[i].is_ref ? 1 : 0;
    c.data = reinterpret_cast<const uint8_t *>(args[i].data.data());
    c.size = args[i].data.size();
    c.object_id = args[i].is_ref ? Bytes(args[i].object_id) : nullptr;
    c.contained_ids = args[i].contained_ids.empty() ? nullptr : Bytes(args[i].contained_ids);
    c.num_contained = args[i].contained_ids.size() / RAY_ID_SIZE;
  }
  return c_args;
}

/// The C view (parallel name and value arrays) of resource requirements; valid while the map
/// lives.
struct CResources {
  /// Builds the arrays from the map.
  explicit CResources(const std::unordered_map<std::string, double> &resources) {
    for (const auto &pair : resources) {
      names.push_back(pair.first.c_str());
      values.push_back(pair.second);
    }
  }
  /// NUL-terminated resource names.
  std::vector<const char *> names;
  /// The amount of each resource.
  std::vector<double> values;
};

/// Submits a task (a free function, or with a non-empty actor_id a method of that actor);
/// returns the id of its return object.
inline std::string SubmitTask(const std::string &function_name, const std::string &task_name,
                              const std::unordered_map<std::string, double> &resources,
                              const std::vector<PreparedTaskArg> &args,
                              const std::string &actor_id = std::string(),
                              const SchedulingStrategy &strategy = SchedulingStrategy(),
                              int max_retries = RAY_TASK_RETRIES_DEFAULT,
                              bool retry_exceptions = false,
                              const std::string &group_id = std::string(), int bundle_index = -1,
                              const std::string &runtime_env = std::string()) {
  std::vector<ray_task_arg> c_args = ToCTaskArgs(args);
  CResources c_resources(resources);
  ray_task_spec spec{};
  spec.function_name = function_name.data();
  spec.function_name_len = function_name.size();
  spec.name = task_name.empty() ? nullptr : task_name.data();
  spec.name_len = task_name.size();
  spec.args = c_args.empty() ? nullptr : c_args.data();
  spec.num_args = c_args.size();
  spec.resource_names = c_resources.names.empty() ? nullptr : c_resources.names.data();
  spec.resource_values = c_resources.values.empty() ? nullptr : c_resources.values.data();
  spec.num_resources = c_resources.names.size();
  spec.max_retries = max_retries;
  spec.retry_exceptions = retry_exceptions ? 1 : 0;
  CSchedulingStrategy c_strategy = ToCStrategy(strategy);
  spec.scheduling_strategy = c_strategy.kind;
  spec.affinity_node_id = c_strategy.node_id;
  spec.affinity_node_id_len = c_strategy.node_id_len;
  spec.affinity_soft = c_strategy.soft;
  spec.placement_group_id = group_id.empty() ? nullptr : group_id.data();
  spec.placement_group_id_len = group_id.size();
  spec.bundle_index = bundle_index;
  spec.runtime_env = runtime_env.empty() ? nullptr : runtime_env.data();
  spec.runtime_env_len = runtime_env.size();
  uint8_t id[RAY_ID_SIZE];
  char *err = nullptr;
  int code = actor_id.empty() ? ray_submit_task(&spec, id, &err)
                              : ray_submit_actor_task(Bytes(actor_id), &spec, id, &err);
  CheckStatus(code, err);
  return std::string(reinterpret_cast<const char *>(id), RAY_ID_SIZE);
}

/// The options every task and actor call takes, and its submission: a base of TaskCaller and
/// ActorTaskCaller (CRTP: the setters return the derived caller, for chaining).
template <typename Derived>
class CallOptions {
 public:
  /// Sets the call's name (shown by the runtime's tools and logs).
  Derived &SetName(std::string name) {
    task_name_ = std::move(name);
    return Self();
  }

  /// Sets the call's resource requirements (replacing earlier ones); throws RayException for an
  /// empty name, a non-positive value or a fractional value greater than 1.
  Derived &SetResources(std::unordered_map<std::string, double> resources) {
    CheckTaskOptions(resources);
    resources_ = std::move(resources);
    return Self();
  }

  /// Sets one resource requirement; validated like SetResources.
  Derived &SetResource(const std::string &name, double value) {
    CheckTaskOptions({{name, value}});
    resources_[name] = value;
    return Self();
  }

 protected:
  /// Prepares the arguments for the parameters in ArgsTuple and submits the call (to the actor
  /// when actor_id is not empty); returns the id of the result.
  template <typename ArgsTuple, typename... Args>
  std::string Submit(const std::string &function_name, const std::string &actor_id,
                     Args &&...args) {
    std::vector<PreparedTaskArg> prepared = PrepareTaskArguments<ArgsTuple>(
        std::index_sequence_for<Args...>{}, std::forward<Args>(args)...);
    return SubmitTask(function_name, task_name_, resources_, prepared, actor_id, strategy_,
                      max_retries_, retry_exceptions_, group_id_, bundle_index_, runtime_env_);
  }

  /// The task's runtime environment (ray::RuntimeEnv's JSON; tasks only).
  std::string runtime_env_;

  /// The placement group and bundle the task runs in (tasks only).
  std::string group_id_;
  int bundle_index_ = -1;

  /// Where the call runs (tasks only; actor calls go to their actor).
  SchedulingStrategy strategy_;
  /// A task's retries (tasks only; see TaskCaller::SetMaxRetries, SetRetryExceptions).
  int max_retries_ = RAY_TASK_RETRIES_DEFAULT;
  bool retry_exceptions_ = false;

 private:
  Derived &Self() { return static_cast<Derived &>(*this); }

  std::string task_name_;
  std::unordered_map<std::string, double> resources_;
};

/// What ray::Task(f) returns: options setters and Remote(args...), which submits the task.
template <typename F>
class TaskCaller : public CallOptions<TaskCaller<F>> {
 public:
  using Traits = FunctionTraits<F>;
  /// The type of the task's result (ObjectRef<ReturnType>).
  using ReturnType = StoredReturnType<typename Traits::ReturnType>;

  /// A caller of the function registered as `function_name`.
  TaskCaller(F func, std::string function_name) : function_name_(std::move(function_name)) {
    (void)func;
  }

  /// Sets where the task runs on a cluster (ray::SpreadSchedulingStrategy,
  /// ray::NodeAffinitySchedulingStrategy; goray's, as Ray's Python API has them).
  TaskCaller &SetSchedulingStrategy(SchedulingStrategy strategy) {
    this->strategy_ = std::move(strategy);
    return *this;
  }

  /// Runs the task in a bundle of a placement group (bundle_index -1: any of its bundles): it
  /// takes its resources (one CPU unless SetResources says otherwise) from that bundle, on the
  /// bundle's node, and waits until the group is created. Throws RayException for an empty group
  /// or a bundle index out of range.
  TaskCaller &SetPlacementGroup(PlacementGroup group, int bundle_index) {
    CheckBundleIndex(group, bundle_index);
    this->group_id_ = group.GetID();
    this->bundle_index_ = bundle_index;
    return *this;
  }

  /// Runs the task in a runtime environment (its env_vars set in the worker process that runs
  /// it), merged with the job's (RayConfig::runtime_env): its fields win, env_vars by name.
  /// Throws RayRuntimeEnvException when the environment cannot be written as JSON.
  TaskCaller &SetRuntimeEnv(const ray::RuntimeEnv &runtime_env) {
    this->runtime_env_ = runtime_env.Empty() ? std::string() : runtime_env.Serialize();
    return *this;
  }

  /// Sets how many times the task runs again when its worker or node dies (goray's, beyond Ray's
  /// C++ API; Ray's Python max_retries): 0 for never, -1 for no limit. The default is the
  /// driver's RAY_TASK_MAX_RETRIES, else 3. Throws RayException below -1.
  TaskCaller &SetMaxRetries(int max_retries) {
    CheckMaxRetries(max_retries);
    this->max_retries_ = max_retries;
    return *this;
  }

  /// Retries the task, within its max_retries, when it throws too (Ray's retry_exceptions).
  TaskCaller &SetRetryExceptions(bool retry_exceptions) {
    this->retry_exceptions_ = retry_exceptions;
    return *this;
  }

  /// Submits the task with the given arguments: values (converted to the parameter types) or
  /// ObjectRef<U> for a parameter of type U (the worker resolves it). Returns the ref of the
  /// result (ObjectRef<void> for a void function).
  template <typename... Args>
  ObjectRef<ReturnType> Remote(Args &&...args) {
    static_assert(sizeof...(Args) == Traits::arity,
                  "ray::Task(f).Remote(args...): the number of arguments does not match the "
                  "number of parameters of f");
    if constexpr (sizeof...(Args) == Traits::arity) {
      return ObjectRef<ReturnType>(this->template Submit<typename Traits::ArgsTuple>(
          function_name_, std::string(), std::forward<Args>(args)...));
    } else {
      return ObjectRef<ReturnType>();
    }
  }

 private:
  std::string function_name_;
};

}  // namespace internal
}  // namespace ray
