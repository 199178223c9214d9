// goray: Ray's C++ API on a Go runtime.
//
// Compile-time facts about remote functions: return type, parameter types, class of a member.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace ray {
namespace internal {

/// Facts about a function pointer or member function pointer type F:
/// ReturnType, ArgsTuple (std::tuple of the declared parameter types), DecayedArgsTuple, arity,
/// ClassType (void for free functions) and is_member.
template <typename F>
struct FunctionTraits {
  /// False: F is not a function (pointer) type the API can call.
  static constexpr bool is_function = false;
};

template <typename R, typename... Args>
struct FunctionTraits<R (*)(Args...)> {
  static constexpr bool is_function = true;
  static constexpr bool is_member = false;
  static constexpr size_t arity = sizeof...(Args);
  using ReturnType = R;
  using ClassType = void;
  using ArgsTuple = std::tuple<Args...>;
  using DecayedArgsTuple = std::tuple<std::decay_t<Args>...>;
};

template <typename R, typename... Args>
struct FunctionTraits<R (*)(Args...) noexcept> : FunctionTraits<R (*)(Args...)> {};

template <typename R, typename... Args>
struct FunctionTraits<R(Args...)> : FunctionTraits<R (*)(Args...)> {};

template <typename R, typename... Args>
struct FunctionTraits<R(Args...) noexcept> : FunctionTraits<R (*)(Args...)> {};

template <typename R, typename C, typename... Args>
struct FunctionTraits<R (C::*)(Args...)> : FunctionTraits<R (*)(Args...)> {
  static constexpr bool is_member = true;
  using ClassType = C;
};

template <typename R, typename C, typename... Args>
struct FunctionTraits<R (C::*)(Args...) const> : FunctionTraits<R (C::*)(Args...)> {};

template <typename R, typename C, typename... Args>
struct FunctionTraits<R (C::*)(Args...) noexcept> : FunctionTraits<R (C::*)(Args...)> {};

template <typename R, typename C, typename... Args>
struct FunctionTraits<R (C::*)(Args...) const noexcept> : FunctionTraits<R (C::*)(Args...)> {};

/// The type the result of a call returning R is stored as (cv-ref stripped; void stays void).
template <typename R>
using StoredReturnType = std::remove_cv_t<std::remove_reference_t<R>>;

/// True when F is a free (or static member) function pointer that returns a pointer to a class:
/// an actor factory such as `static Counter *Counter::FactoryCreate()`.
template <typename F, typename = void>
struct IsActorFactory : std::false_type {};
template <typename F>
struct IsActorFactory<F, std::enable_if_t<FunctionTraits<F>::is_function &&
                                          !FunctionTraits<F>::is_member>>
    : std::bool_constant<
          std::is_pointer_v<typename FunctionTraits<F>::ReturnType> &&
          std::is_class_v<std::remove_pointer_t<typename FunctionTraits<F>::ReturnType>>> {};

/// True when one of the types of a std::tuple is a pointer.
template <typename Tuple>
struct HasPointerElement;
template <typename... Ts>
struct HasPointerElement<std::tuple<Ts...>> : std::bool_constant<(std::is_pointer_v<Ts> || ...)> {};

/// Passes a worker-side argument to a parameter of type P: an lvalue for lvalue-reference
/// parameters (T&, const T&), an rvalue otherwise (T, T&&).
template <typename P, typename D>
constexpr decltype(auto) PassArgument(D &value) {
  if constexpr (std::is_lvalue_reference_v<P>) {
    return (value);
  } else {
    return std::move(value);
  }
}

/// Selects one overload of a function for RAY_REMOTE / Task: Underload<int, int>{}(f) is f's
/// overload taking (int, int).
template <typename... Args>
struct Underload {
  /// A free function overload.
  template <typename R>
  constexpr auto operator()(R (*f)(Args...)) const noexcept -> R (*)(Args...) {
    return f;
  }
  /// A member function overload.
  template <typename R, typename C>
  constexpr auto operator()(R (C::*f)(Args...)) const noexcept -> R (C::*)(Args...) {
    return f;
  }
  /// A const member function overload.
  template <typename R, typename C>
  constexpr auto operator()(R (C::*f)(Args...) const) const noexcept
      -> R (C::*)(Args...) const {
    return f;
  }
};

}  // namespace internal
}  // namespace ray
