// goray: Ray's C++ API on a Go runtime.
//
// ray::ObjectRef<T>: a reference to an object in the object store.
#pragma once

#include <ray/api/common.h>
#include <ray/api/serializer.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// The objects of one ray_get call; releases them when destroyed.
class ObjectBatch {
 public:
  /// Fetches the objects with the given ids (each RAY_ID_SIZE bytes), waiting up to timeout_ms
  /// (negative: forever). Throws RayException("Get object error: ...") on failure.
  ObjectBatch(const std::vector<std::string> &ids, int timeout_ms) {
    std::string packed;
    packed.reserve(ids.size() * RAY_ID_SIZE);
    for (const auto &id : ids) {
      if (id.size() != RAY_ID_SIZE) {
        throw RayException(
            "Get object error: the ObjectRef is empty or invalid (was it default-constructed?)");
      }
      packed += id;
    }
    objects_.resize(ids.size());
    if (ids.empty()) return;
    char *err = nullptr;
    int code = ray_get(Bytes(packed), ids.size(), static_cast<int64_t>(timeout_ms),
                       objects_.data(), &err);
    if (code != RAY_OK) {
      objects_.clear();
      CheckStatus(code, err, "Get object error: ");
    }
  }
  ~ObjectBatch() {
    for (auto &obj : objects_) ray_object_release(&obj);
  }
  ObjectBatch(const ObjectBatch &) = delete;
  ObjectBatch &operator=(const ObjectBatch &) = delete;

  /// Number of objects.
  size_t Size() const { return objects_.size(); }

  /// Throws the exception that stands for object i when it holds an error instead of a value.
  void ThrowIfError(size_t i) const {
    const ray_object &obj = objects_[i];
    if (obj.kind == RAY_OBJECT_VALUE) return;
    std::string msg(reinterpret_cast<const char *>(obj.data), obj.size);
    switch (obj.kind) {
      case RAY_OBJECT_TASK_ERROR:
        throw RayTaskException(msg);
      case RAY_OBJECT_FUNCTION_NOT_FOUND:
        throw RayFunctionNotFound(msg);
      case RAY_OBJECT_WORKER_DIED:
        throw RayWorkerException(msg);
      case RAY_OBJECT_ACTOR_DIED:
        throw RayActorException(msg);
      case RAY_OBJECT_LOST:
        throw ObjectLostError(msg);
      case RAY_OBJECT_OWNER_DIED:
        throw OwnerDiedError(msg);
      default:
        throw RayException("Get object error: unknown object kind " + std::to_string(obj.kind) +
                           ": " + msg);
    }
  }

  /// Throws for the first object that holds an error.
  void ThrowIfAnyError() const {
    for (size_t i = 0; i < objects_.size(); i++) ThrowIfError(i);
  }

  /// Deserializes object i (which must hold a value) as a T.
  template <typename T>
  std::shared_ptr<T> Value(size_t i) const {
    ThrowIfError(i);
    const ray_object &obj = objects_[i];
    try {
      return std::make_shared<T>(Serializer::Deserialize<T>(
          reinterpret_cast<const char *>(obj.data), obj.size));
    } catch (const RayException &) {
      throw;
    } catch (const std::exception &e) {
      throw RayException(
          std::string("Get object error: the object cannot be deserialized as the requested "
                      "type: ") +
          e.what());
    }
  }

 private:
  std::vector<ray_object> objects_;
};

/// Gets one value.
template <typename T>
std::shared_ptr<T> GetValue(const std::string &id, int timeout_ms) {
  ObjectBatch batch({id}, timeout_ms);
  return batch.Value<T>(0);
}

/// Gets several values, in order.
template <typename T>
std::vector<std::shared_ptr<T>> GetValues(const std::vector<std::string> &ids, int timeout_ms) {
  ObjectBatch batch(ids, timeout_ms);
  batch.ThrowIfAnyError();
  std::vector<std::shared_ptr<T>> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < batch.Size(); i++) out.push_back(batch.Value<T>(i));
  return out;
}

/// Waits for objects whose values are not wanted (ObjectRef<void>); throws their errors.
inline void GetVoid(const std::vector<std::string> &ids, int timeout_ms) {
  ObjectBatch batch(ids, timeout_ms);
  batch.ThrowIfAnyError();
}

/// The id handling shared by ObjectRef<T> and ObjectRef<void>: reference counting through
/// ray_add_ref / ray_remove_ref and msgpack (de)serialization as the raw id bytes.
///
/// A ref made from an id holds one count in the runtime for as long as it or any copy of it lives:
/// copies share the holder (an atomic count in C++, no call into the runtime), so passing refs
/// around, and returning lists of them from Wait, costs one atomic increment per copy. The holder
/// is counted in place (one pointer per ref, the count and the id's bytes beside each other), as
/// Wait and the loops around it copy and drop refs by the hundred thousand.
class ObjectRefCore {
 public:
  /// The raw id (RAY_ID_SIZE bytes; empty for a default-constructed ref).
  const std::string &ID() const { return held_ != nullptr ? held_->id : EmptyID(); }

  /// Packs the ref as the raw id bytes (msgpack bin) and records the id in the active contained-id
  /// collector.
  template <typename Packer>
  void msgpack_pack(Packer &packer) const {
    const std::string &id = ID();
    ContainedIdCollector::Record(id);
    packer.pack_bin(static_cast<uint32_t>(id.size()));
    packer.pack_bin_body(id.data(), static_cast<uint32_t>(id.size()));
  }

  /// Unpacks a ref from id bytes (bin or str; nil gives an empty ref) and counts a reference to it.
  void msgpack_unpack(const msgpack::object &o) {
    std::string id;
    if (o.type == msgpack::type::BIN) {
      id.assign(o.via.bin.ptr, o.via.bin.size);
    } else if (o.type == msgpack::type::STR) {
      id.assign(o.via.str.ptr, o.via.str.size);
    } else if (o.type != msgpack::type::NIL) {
      throw msgpack::type_error();
    }
    if (!id.empty() && id.size() != RAY_ID_SIZE) throw msgpack::type_error();
    Reset(Hold(id));
  }

  /// Builds a msgpack::object (bin) holding the id, allocated in the zone.
  void msgpack_object(msgpack::object *o, msgpack::zone &zone) const {
    const std::string &id = ID();
    char *ptr = static_cast<char *>(zone.allocate_align(id.size() == 0 ? 1 : id.size()));
    if (!id.empty()) std::memcpy(ptr, id.data(), id.size());
    o->type = msgpack::type::BIN;
    o->via.bin.ptr = ptr;
    o->via.bin.size = static_cast<uint32_t>(id.size());
  }

  /// The id's RAY_ID_SIZE bytes, stored beside the holder's count in one cache line (nullptr for
  /// an empty ref, or one made from an id of another size): what ray::Wait packs, without reaching
  /// through the std::string.
  const char *RawID() const {
    return held_ != nullptr && held_->id.size() == RAY_ID_SIZE ? held_->raw : nullptr;
  }

  /// Asks the CPU to fetch the holder's cache line (a loop over many refs reads them ahead).
  void PrefetchHolder() const {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(held_);
#endif
  }

 protected:
  ObjectRefCore() = default;
  explicit ObjectRefCore(const std::string &id) : held_(Hold(id)) {}
  // Copies share the holder; moves take it (the moved-from ref is empty).
  ObjectRefCore(const ObjectRefCore &other) noexcept : held_(other.held_) { Acquire(held_); }
  ObjectRefCore(ObjectRefCore &&other) noexcept : held_(other.held_) { other.held_ = nullptr; }
  ObjectRefCore &operator=(const ObjectRefCore &other) noexcept {
    Acquire(other.held_);  // first: other may share this ref's holder
    Reset(other.held_);
    return *this;
  }
  ObjectRefCore &operator=(ObjectRefCore &&other) noexcept {
    if (this != &other) {
      Reset(other.held_);
      other.held_ = nullptr;
    }
    return *this;
  }
  ~ObjectRefCore() { Release(held_); }

 private:
  /// One count of an id in the runtime, taken when made and given back when the last ref sharing
  /// it goes. One block: the count, the id's bytes and the std::string with its size.
  struct Held {
    explicit Held(const std::string &raw_id) : id(raw_id) {
      std::memset(raw, 0, sizeof(raw));
      std::memcpy(raw, id.data(), id.size() < sizeof(raw) ? id.size() : sizeof(raw));
      ray_add_ref(Bytes(id));
    }
    ~Held() { ray_remove_ref(Bytes(id)); }
    Held(const Held &) = delete;
    Held &operator=(const Held &) = delete;
    std::atomic<uint32_t> refs{1};  // the refs sharing this holder
    char raw[RAY_ID_SIZE];
    const std::string id;
  };

  static Held *Hold(const std::string &id) {
    if (id.empty()) return nullptr;
    return new Held(id);
  }

  static void Acquire(Held *held) noexcept {
    if (held != nullptr) held->refs.fetch_add(1, std::memory_order_relaxed);
  }

  static void Release(Held *held) noexcept {
    if (held != nullptr && held->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete held;
  }

  /// Takes `held` (whose count the caller gave this ref) in place of the current holder.
  void Reset(Held *held) noexcept {
    Held *old = held_;
    held_ = held;
    Release(old);
  }

  static const std::string &EmptyID() {
    static const std::string empty;
    return empty;
  }

  Held *held_ = nullptr;
};

}  // namespace internal

/// A reference to an object of type T in the object store, returned by ray::Put and by
/// Task(...).Remote(...). The object lives while any ObjectRef to it (or a copy) does; copies
/// share one count in the runtime, so copying is cheap. ObjectRefs are serializable, so they can be
/// nested in values (ObjectRef<ObjectRef<int>>, std::vector<ObjectRef<int>>, structs).
template <typename T>
class ObjectRef : public internal::ObjectRefCore {
 public:
  /// An empty reference (no id).
  ObjectRef() = default;

  /// A reference to the object with the given raw id (RAY_ID_SIZE bytes); counts a reference.
  explicit ObjectRef(const std::string &id) : internal::ObjectRefCore(id) {}

  /// Copies the reference (the copies share one count in the runtime).
  ObjectRef(const ObjectRef &other) = default;
  /// Moves the reference; the moved-from ref is empty.
  ObjectRef(ObjectRef &&other) noexcept = default;
  /// Copy-assigns: shares the other's reference and releases the old one.
  ObjectRef &operator=(const ObjectRef &other) = default;
  /// Move-assigns: releases the old reference and steals the other one.
  ObjectRef &operator=(ObjectRef &&other) noexcept = default;
  /// Releases the reference.
  ~ObjectRef() = default;

  /// True when both refer to the same object.
  bool operator==(const ObjectRef<T> &other) const { return ID() == other.ID(); }
  /// True when they refer to different objects.
  bool operator!=(const ObjectRef<T> &other) const { return ID() != other.ID(); }

  /// Gets the value, waiting for it as long as needed. Throws the error that stands for the value
  /// (RayTaskException, ...) or RayException.
  std::shared_ptr<T> Get() const { return internal::GetValue<T>(ID(), -1); }

  /// Gets the value, waiting at most timeout_ms milliseconds (negative: forever); a timeout
  /// throws RayException("Get object error: ...").
  std::shared_ptr<T> Get(const int &timeout_ms) const {
    return internal::GetValue<T>(ID(), timeout_ms);
  }
};

/// A reference to the result of a void task: Get waits for it and throws its error, if any.
template <>
class ObjectRef<void> : public internal::ObjectRefCore {
 public:
  /// An empty reference (no id).
  ObjectRef() = default;

  /// A reference to the object with the given raw id (RAY_ID_SIZE bytes); counts a reference.
  explicit ObjectRef(const std::string &id) : internal::ObjectRefCore(id) {}

  /// Copies the reference (the copies share one count in the runtime).
  ObjectRef(const ObjectRef &other) = default;
  /// Moves the reference; the moved-from ref is empty.
  ObjectRef(ObjectRef &&other) noexcept = default;
  /// Copy-assigns: shares the other's reference and releases the old one.
  ObjectRef &operator=(const ObjectRef &other) = default;
  /// Move-assigns: releases the old reference and steals the other one.
  ObjectRef &operator=(ObjectRef &&other) noexcept = default;
  /// Releases the reference.
  ~ObjectRef() = default;

  /// True when both refer to the same object.
  bool operator==(const ObjectRef<void> &other) const { return ID() == other.ID(); }
  /// True when they refer to different objects.
  bool operator!=(const ObjectRef<void> &other) const { return ID() != other.ID(); }

  /// Waits for the task to finish; throws its error, if any.
  void Get() const { internal::GetVoid({ID()}, -1); }

  /// Waits at most timeout_ms milliseconds (negative: forever) for the task to finish.
  void Get(const int &timeout_ms) const { internal::GetVoid({ID()}, timeout_ms); }
};

namespace internal {

/// Whether T is an ObjectRef<U>; `type` is U.
template <typename T>
struct IsObjectRef : std::false_type {};
template <typename U>
struct IsObjectRef<ObjectRef<U>> : std::true_type {
  using type = U;
};

}  // namespace internal
}  // namespace ray
