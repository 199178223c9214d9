// raycompat shim for Ray's internal "cpp/src/ray/runtime/object/native_object_store.h" (and the
// ray::ObjectID of "ray/common/id.h" that comes with it).
//
// cluster_mode_test.cc compares NativeObjectStore::GetAllReferenceCounts() (every object id the
// process holds, with its local and submitted-task reference counts) against expected maps.
// goray's public API can report the count of one object but cannot list them all, so the
// stand-in throws: LocalRefrenceTest and DependencyRefrenceTest are expected failures.
// ObjectID is a plain wrapper around the binary id, enough to build the expected maps.
#pragma once
#include <ray/api.h>

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace ray {
class ObjectID {
 public:
  static ObjectID FromBinary(const std::string &binary) {
    ObjectID id;
    id.binary_ = binary;
    return id;
  }
  const std::string &Binary() const { return binary_; }
  bool operator==(const ObjectID &other) const { return binary_ == other.binary_; }

 private:
  std::string binary_;
};
}  // namespace ray

template <>
struct std::hash<ray::ObjectID> {
  std::size_t operator()(const ray::ObjectID &id) const {
    return std::hash<std::string>()(id.Binary());
  }
};

namespace ray {
namespace internal {
class NativeObjectStore {
 public:
  std::unordered_map<ObjectID, std::pair<std::size_t, std::size_t>> GetAllReferenceCounts()
      const {
    throw std::logic_error(
        "raycompat: NativeObjectStore::GetAllReferenceCounts is internal to Ray; goray can "
        "count the references of one object, not list those of all");
  }
};
}  // namespace internal
}  // namespace ray
