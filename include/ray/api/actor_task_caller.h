// goray: Ray's C++ API on a Go runtime.
//
// ray::internal::ActorTaskCaller<F>: what ActorHandle<T>::Task(&T::Method) returns; Remote(args...)
// calls the method on the actor.
#pragma once

#include <ray/api/common.h>
#include <ray/api/function_traits.h>
#include <ray/api/object_ref.h>
#include <ray/api/task_caller.h>
#include <ray/api/task_options.h>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// A pending call of a RAY_REMOTE member function F on one actor: options setters and
/// Remote(args...), which submits the call.
template <typename F>
class ActorTaskCaller : public CallOptions<ActorTaskCaller<F>> {
 public:
  /// Facts about the member function.
  using Traits = FunctionTraits<F>;
  /// The type of the call's result (ObjectRef<ReturnType>).
  using ReturnType = StoredReturnType<typename Traits::ReturnType>;

  /// A caller of the member function registered as `function_name` on the actor `actor_id`
  /// (RAY_ACTOR_ID_SIZE raw bytes; empty for a default-constructed handle).
  ActorTaskCaller(std::string actor_id, std::string function_name)
      : actor_id_(std::move(actor_id)), function_name_(std::move(function_name)) {}

  /// Calls the method with the given arguments: values (converted to the parameter types) or
  /// ObjectRef<U> for a parameter of type U (resolved before the method runs). Calls through
  /// one handle run in submission order. Returns the ref of the result (ObjectRef<void> for a
  /// void method); a call on a dead actor gives a ref whose Get throws RayActorException.
  template <typename... Args>
  ObjectRef<ReturnType> Remote(Args &&...args) {
    static_assert(sizeof...(Args) == Traits::arity,
                  "ActorHandle<T>::Task(&T::Method).Remote(args...): the number of arguments does "
                  "not match the number of parameters of the method");
    if constexpr (sizeof...(Args) == Traits::arity) {
      if (actor_id_.size() != RAY_ACTOR_ID_SIZE) {
        throw RayException("Cannot call " + function_name_ +
                           ": the ActorHandle is empty (was it default-constructed?)");
      }
      return ObjectRef<ReturnType>(this->template Submit<typename Traits::ArgsTuple>(
          function_name_, actor_id_, std::forward<Args>(args)...));
    } else {
      return ObjectRef<ReturnType>();
    }
  }

 private:
  std::string actor_id_;
  std::string function_name_;
};

}  // namespace internal
}  // namespace ray
