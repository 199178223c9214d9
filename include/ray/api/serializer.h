// goray: Ray's C++ API on a Go runtime.
//
// msgpack serialization of values, with collection of the ObjectRef ids a value contains.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <ray/api/common.h>

#include <string>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// The slot of this thread's active collector of contained ObjectRef ids (nullptr when none).
/// ObjectRef's msgpack packer appends its id to the active collector.
inline std::vector<std::string> *&ContainedIdCollectorSlot() {
  static thread_local std::vector<std::string> *slot = nullptr;
  return slot;
}

/// While alive, collects the id of every ObjectRef packed on this thread (nests: an inner collector
/// hides the outer one until it is destroyed).
class ContainedIdCollector {
 public:
  /// Makes this collector the active one on this thread.
  ContainedIdCollector() : previous_(ContainedIdCollectorSlot()) {
    ContainedIdCollectorSlot() = &ids_;
  }
  /// Restores the previously active collector.
  ~ContainedIdCollector() { ContainedIdCollectorSlot() = previous_; }
  ContainedIdCollector(const ContainedIdCollector &) = delete;
  ContainedIdCollector &operator=(const ContainedIdCollector &) = delete;

  /// The ids collected so far, in packing order (may repeat).
  const std::vector<std::string> &Ids() const { return ids_; }

  /// Records an id in the active collector of this thread, if any.
  static void Record(const std::string &id) {
    if (auto *ids = ContainedIdCollectorSlot()) {
      if (!id.empty()) ids->push_back(id);
    }
  }

 private:
  std::vector<std::string> *previous_;
  std::vector<std::string> ids_;
};

/// A serialized value: its msgpack bytes and the ids of the ObjectRefs inside it.
struct SerializedValue {
  /// msgpack bytes.
  msgpack::sbuffer buffer;
  /// Contained ids, RAY_ID_SIZE bytes each, back to back, without duplicates.
  std::string contained_ids;
  /// Number of ids in contained_ids.
  size_t NumContained() const { return contained_ids.size() / RAY_ID_SIZE; }
};

/// msgpack (de)serialization used for every value the API stores or sends.
class Serializer {
 public:
  /// Packs a value into msgpack bytes.
  template <typename T>
  static msgpack::sbuffer Serialize(const T &t) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, t);
    return buffer;
  }

  /// Packs a value and collects the ids of the ObjectRefs it contains.
  template <typename T>
  static SerializedValue SerializeWithRefs(const T &t) {
    SerializedValue out;
    ContainedIdCollector collector;
    msgpack::pack(out.buffer, t);
    out.contained_ids = PackIds(collector.Ids());
    return out;
  }

  /// Unpacks msgpack bytes into a T; throws msgpack exceptions on malformed data or a type
  /// mismatch.
  template <typename T>
  static T Deserialize(const char *data, size_t size) {
    msgpack::object_handle handle = msgpack::unpack(data, size);
    return handle.get().as<T>();
  }

  /// Unpacks msgpack bytes into an existing object.
  template <typename T>
  static void Deserialize(const char *data, size_t size, T *out) {
    msgpack::object_handle handle = msgpack::unpack(data, size);
    handle.get().convert(*out);
  }
};

}  // namespace internal
}  // namespace ray
