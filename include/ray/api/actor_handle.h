// goray: Ray's C++ API on a Go runtime.
//
// ray::ActorHandle<T>: a reference to an actor, through which its methods are called.
#pragma once

#include <ray/api/actor_task_caller.h>
#include <ray/api/common.h>
#include <ray/api/function_manager.h>
#include <ray/api/function_traits.h>
#include <ray/api/serializer.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace ray {

/// A handle to an actor of class ActorType, returned by ray::Actor(Factory).Remote(...) and
/// ray::GetActor<ActorType>(name). Copies (also ones serialized into task arguments or results)
/// reach the same actor. Serializable with msgpack, so handles can be passed to and returned from
/// tasks and actor methods.
template <typename ActorType>
class ActorHandle {
 public:
  /// An empty handle (no actor); calls through it throw RayException.
  ActorHandle() = default;

  /// A handle to the actor with the given raw id (RAY_ACTOR_ID_SIZE bytes).
  explicit ActorHandle(const std::string &id) : id_(id) {}

  /// Starts a call of a RAY_REMOTE member function of ActorType (or of one of its base classes,
  /// e.g. a virtual method declared in a base): handle.Task(&Counter::Add).Remote(1).
  /// Throws ray::internal::RayFunctionNotFound when the member function is not registered with
  /// RAY_REMOTE in this binary.
  template <typename F>
  RAY_INTERNAL_HIDDEN internal::ActorTaskCaller<F> Task(F actor_func) const {
    static_assert(std::is_member_function_pointer_v<F>,
                  "ActorHandle<T>::Task(f): f must be a member function pointer (&T::Method); "
                  "free functions run with ray::Task(f)");
    if constexpr (std::is_member_function_pointer_v<F>) {
      using Self = typename internal::FunctionTraits<F>::ClassType;
      static_assert(std::is_same_v<ActorType, Self> || std::is_base_of_v<Self, ActorType>,
                    "ActorHandle<T>::Task(&C::Method): C must be T or a base class of T");
    }
    std::string name = internal::GetRemoteFunctionName(actor_func);
    if (name.empty()) {
      throw internal::RayFunctionNotFound(
          "Function not found. Please use RAY_REMOTE to register this function.");
    }
    return internal::ActorTaskCaller<F>(id_, std::move(name));
  }

  /// Kills the actor without restarting it; later calls fail with RayActorException.
  void Kill() const { Kill(true); }

  /// Kills the actor; with no_restart == false it is restarted when it has restarts left
  /// (SetMaxRestarts), otherwise it stays dead.
  void Kill(bool no_restart) const {
    if (id_.size() != RAY_ACTOR_ID_SIZE) {
      throw internal::RayException("Cannot kill the actor: the ActorHandle is empty");
    }
    char *err = nullptr;
    int code = ray_kill_actor(internal::Bytes(id_), no_restart ? 1 : 0, &err);
    internal::CheckStatus(code, err);
  }

  /// The actor's raw id (RAY_ACTOR_ID_SIZE bytes; empty for a default-constructed handle).
  const std::string &ID() const { return id_; }

  /// Rebuilds a handle from the msgpack bytes of a serialized handle.
  static ActorHandle FromBytes(const std::string &serialized_actor_handle) {
    return internal::Serializer::Deserialize<ActorHandle>(serialized_actor_handle.data(),
                                                          serialized_actor_handle.size());
  }

  /// True when both handles refer to the same actor.
  bool operator==(const ActorHandle &other) const { return id_ == other.id_; }
  /// True when the handles refer to different actors.
  bool operator!=(const ActorHandle &other) const { return id_ != other.id_; }

  /// Packs the handle as a msgpack array [bin actor id, str class name].
  template <typename Packer>
  void msgpack_pack(Packer &packer) const {
    const char *class_name = typeid(ActorType).name();
    const uint32_t class_len = static_cast<uint32_t>(std::strlen(class_name));
    packer.pack_array(2);
    packer.pack_bin(static_cast<uint32_t>(id_.size()));
    packer.pack_bin_body(id_.data(), static_cast<uint32_t>(id_.size()));
    packer.pack_str(class_len);
    packer.pack_str_body(class_name, class_len);
  }

  /// Unpacks a handle packed by msgpack_pack (nil gives an empty handle). Throws
  /// msgpack::type_error when the data is not a handle or is a handle of an actor of another
  /// class.
  void msgpack_unpack(const msgpack::object &o) {
    if (o.type == msgpack::type::NIL) {
      id_.clear();
      return;
    }
    if (o.type != msgpack::type::ARRAY || o.via.array.size < 1 || o.via.array.size > 2) {
      throw msgpack::type_error();
    }
    std::string id = BytesOf(o.via.array.ptr[0]);
    if (!id.empty() && id.size() != RAY_ACTOR_ID_SIZE) throw msgpack::type_error();
    if (o.via.array.size == 2) {
      std::string class_name = BytesOf(o.via.array.ptr[1]);
      if (!class_name.empty() && class_name != typeid(ActorType).name()) {
        throw msgpack::type_error();
      }
    }
    id_ = std::move(id);
  }

  /// Builds a msgpack::object (array [bin id, str class name]) allocated in the zone.
  void msgpack_object(msgpack::object *o, msgpack::zone &zone) const {
    const char *class_name = typeid(ActorType).name();
    auto *items = static_cast<msgpack::object *>(
        zone.allocate_align(sizeof(msgpack::object) * 2, MSGPACK_ZONE_ALIGNOF(msgpack::object)));
    char *id = static_cast<char *>(zone.allocate_align(id_.empty() ? 1 : id_.size()));
    if (!id_.empty()) std::memcpy(id, id_.data(), id_.size());
    items[0].type = msgpack::type::BIN;
    items[0].via.bin.ptr = id;
    items[0].via.bin.size = static_cast<uint32_t>(id_.size());
    items[1].type = msgpack::type::STR;
    items[1].via.str.ptr = class_name;  // static storage
    items[1].via.str.size = static_cast<uint32_t>(std::strlen(class_name));
    o->type = msgpack::type::ARRAY;
    o->via.array.ptr = items;
    o->via.array.size = 2;
  }

 private:
  /// The bytes of a msgpack bin or str (nil: empty).
  static std::string BytesOf(const msgpack::object &o) {
    if (o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
    if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
    if (o.type == msgpack::type::NIL) return std::string();
    throw msgpack::type_error();
  }

  std::string id_;
};

}  // namespace ray
