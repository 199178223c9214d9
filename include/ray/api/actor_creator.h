// goray: Ray's C++ API on a Go runtime.
//
// ray::internal::ActorCreator<F>: what ray::Actor(Factory) returns; Remote(args...) creates the
// actor and returns its handle.
#pragma once

#include <ray/api/actor_handle.h>
#include <ray/api/common.h>
#include <ray/api/function_traits.h>
#include <ray/api/task_caller.h>
#include <ray/api/runtime_env.h>
#include <ray/api/task_options.h>

#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// The class of the actors a factory F (a function returning ActorType*) creates.
template <typename F>
using GetActorType = std::remove_pointer_t<typename FunctionTraits<F>::ReturnType>;

/// A pending creation of an actor with the RAY_REMOTE factory F: options setters and
/// Remote(args...), which creates the actor.
template <typename F>
class ActorCreator {
 public:
  /// Facts about the factory.
  using Traits = FunctionTraits<F>;
  /// The actor's class.
  using ActorType = GetActorType<F>;

  /// A creator that runs the factory registered as `function_name`.
  explicit ActorCreator(std::string function_name) : function_name_(std::move(function_name)) {}

  /// Names the actor in this job's namespace, so that ray::GetActor<T>(name) finds it (an empty
  /// name: unnamed). Creating a second live actor with the same name fails.
  ActorCreator &SetName(std::string name) {
    name_ = std::move(name);
    ray_namespace_.reset();
    return *this;
  }

  /// Names the actor in the given namespace (empty: this job's namespace).
  ActorCreator &SetName(std::string name, std::string ray_namespace) {
    name_ = std::move(name);
    if (ray_namespace.empty()) {
      ray_namespace_.reset();
    } else {
      ray_namespace_ = std::move(ray_namespace);
    }
    return *this;
  }

  /// Sets the resources the actor holds while it lives (replacing earlier ones); throws
  /// RayException for an empty name, a non-positive value or a fractional value greater than 1.
  ActorCreator &SetResources(std::unordered_map<std::string, double> resources) {
    CheckTaskOptions(resources);
    resources_ = std::move(resources);
    return *this;
  }

  /// Sets where the actor lives on a cluster (ray::SpreadSchedulingStrategy,
  /// ray::NodeAffinitySchedulingStrategy; goray's, as Ray's Python API has them).
  ActorCreator &SetSchedulingStrategy(SchedulingStrategy strategy) {
    strategy_ = std::move(strategy);
    return *this;
  }

  /// Sets one resource the actor holds; validated like SetResources.
  ActorCreator &SetResource(const std::string &name, double value) {
    CheckTaskOptions({{name, value}});
    resources_[name] = value;
    return *this;
  }

  /// Places the actor in a bundle of a placement group (bundle_index -1: any of its bundles): it
  /// holds its resources (SetResources) in that bundle, on the bundle's node, and starts once the
  /// group is created. Removing the group kills the actor for good. Throws RayException for an
  /// empty group or a bundle index out of range.
  ActorCreator &SetPlacementGroup(PlacementGroup group, int bundle_index) {
    CheckBundleIndex(group, bundle_index);
    group_id_ = group.GetID();
    bundle_index_ = bundle_index;
    return *this;
  }

  /// Runs the actor in a runtime environment (its env_vars set in the actor's process), merged
  /// with the job's (RayConfig::runtime_env). Throws RayRuntimeEnvException when the environment
  /// cannot be written as JSON.
  ActorCreator &SetRuntimeEnv(const ray::RuntimeEnv &runtime_env) {
    runtime_env_ = runtime_env.Empty() ? std::string() : runtime_env.Serialize();
    return *this;
  }

  /// How many times the actor is restarted after its process dies or Kill(false) (default 0;
  /// -1: without limit). Throws RayException for values below -1.
  ActorCreator &SetMaxRestarts(int max_restarts) {
    CheckMaxRestarts(max_restarts);
    max_restarts_ = max_restarts;
    return *this;
  }

  /// How many times a call that was running when the actor's process died is sent again to its
  /// restarted instance (goray's, beyond Ray's C++ API; Ray's Python max_task_retries): 0 (the
  /// default: the call fails with RayActorException), more, or -1 for no limit. A call may so run
  /// more than once. Throws RayException below -1.
  ActorCreator &SetMaxTaskRetries(int max_task_retries) {
    CheckMaxTaskRetries(max_task_retries);
    max_task_retries_ = max_task_retries;
    return *this;
  }

  /// How many calls of the actor may run at once, on different threads (default 1). Throws
  /// RayException for values below 1.
  ActorCreator &SetMaxConcurrency(int max_concurrency) {
    CheckMaxConcurrency(max_concurrency);
    max_concurrency_ = max_concurrency;
    return *this;
  }

  /// Creates the actor with the given factory arguments: values (converted to the parameter
  /// types) or ObjectRef<U> for a parameter of type U (resolved before the factory runs).
  /// Returns its handle. Throws RayException when the runtime refuses the creation (e.g. the
  /// name is taken). A factory that throws makes every later call fail with RayActorException.
  template <typename... Args>
  ActorHandle<ActorType> Remote(Args &&...args) {
    static_assert(sizeof...(Args) == Traits::arity,
                  "ray::Actor(factory).Remote(args...): the number of arguments does not match "
                  "the number of parameters of the factory");
    if constexpr (sizeof...(Args) == Traits::arity) {
      std::vector<PreparedTaskArg> prepared = PrepareTaskArguments<typename Traits::ArgsTuple>(
          std::index_sequence_for<Args...>{}, std::forward<Args>(args)...);
      std::vector<ray_task_arg> c_args = ToCTaskArgs(prepared);
      CResources c_resources(resources_);
      const char *class_name = typeid(ActorType).name();
      ray_actor_spec spec{};
      spec.function_name = function_name_.data();
      spec.function_name_len = function_name_.size();
      spec.class_name = class_name;
      spec.class_name_len = std::char_traits<char>::length(class_name);
      spec.args = c_args.empty() ? nullptr : c_args.data();
      spec.num_args = c_args.size();
      spec.resource_names = c_resources.names.empty() ? nullptr : c_resources.names.data();
      spec.resource_values = c_resources.values.empty() ? nullptr : c_resources.values.data();
      spec.num_resources = c_resources.names.size();
      spec.name = name_.empty() ? nullptr : name_.data();
      spec.name_len = name_.size();
      spec.ray_namespace = ray_namespace_ ? ray_namespace_->data() : nullptr;
      spec.namespace_len = ray_namespace_ ? ray_namespace_->size() : 0;
      spec.max_restarts = max_restarts_;
      spec.max_task_retries = max_task_retries_;
      spec.max_concurrency = max_concurrency_;
      spec.lifetime = RAY_ACTOR_LIFETIME_DEFAULT;
      CSchedulingStrategy c_strategy = ToCStrategy(strategy_);
      spec.scheduling_strategy = c_strategy.kind;
      spec.affinity_node_id = c_strategy.node_id;
      spec.affinity_node_id_len = c_strategy.node_id_len;
      spec.affinity_soft = c_strategy.soft;
      spec.placement_group_id = group_id_.empty() ? nullptr : group_id_.data();
      spec.placement_group_id_len = group_id_.size();
      spec.bundle_index = bundle_index_;
      spec.runtime_env = runtime_env_.empty() ? nullptr : runtime_env_.data();
      spec.runtime_env_len = runtime_env_.size();
      uint8_t id[RAY_ACTOR_ID_SIZE];
      char *err = nullptr;
      int code = ray_create_actor(&spec, id, &err);
      CheckStatus(code, err);
      return ActorHandle<ActorType>(
          std::string(reinterpret_cast<const char *>(id), RAY_ACTOR_ID_SIZE));
    } else {
      return ActorHandle<ActorType>();
    }
  }

 private:
  std::string function_name_;
  std::string name_;
  std::optional<std::string> ray_namespace_;
  std::unordered_map<std::string, double> resources_;
  int max_restarts_ = 0;
  int max_task_retries_ = 0;
  int max_concurrency_ = 1;
  SchedulingStrategy strategy_;
  std::string group_id_;
  int bundle_index_ = -1;
  std::string runtime_env_;
};

}  // namespace internal
}  // namespace ray
