// raycompat shim for Ray's internal "cpp/src/ray/runtime/abstract_ray_runtime.h" (and the
// ray::rpc::GcsNodeInfo protobuf message the test decodes).
//
// cluster_mode_test.cc reaches through AbstractRayRuntime::GetInstance() to the global state
// accessor and lists the cluster's nodes as serialized protobufs (GetAllNodeInfoTest). goray
// exposes no global state accessor or node table in its public API, so GetAllNodeInfo throws and
// the test is an expected failure. GcsNodeInfo exists only so the test compiles.
#pragma once
#include <ray/api.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ray {
namespace rpc {
enum GcsNodeInfo_GcsNodeState {
  GcsNodeInfo_GcsNodeState_ALIVE = 0,
  GcsNodeInfo_GcsNodeState_DEAD = 1,
};

class GcsNodeInfo {
 public:
  bool ParseFromString(const std::string & /*data*/) { return false; }
  GcsNodeInfo_GcsNodeState state() const { return GcsNodeInfo_GcsNodeState_DEAD; }
};
}  // namespace rpc

namespace internal {
class GlobalStateAccessor {
 public:
  std::vector<std::string> GetAllNodeInfo() {
    throw std::logic_error(
        "raycompat: GlobalStateAccessor::GetAllNodeInfo is internal to Ray; goray has no "
        "counterpart");
  }
};

class AbstractRayRuntime {
 public:
  static std::shared_ptr<AbstractRayRuntime> GetInstance() {
    static std::shared_ptr<AbstractRayRuntime> instance = std::make_shared<AbstractRayRuntime>();
    return instance;
  }
  const std::unique_ptr<GlobalStateAccessor> &GetGlobalStateAccessor() { return accessor_; }

 private:
  std::unique_ptr<GlobalStateAccessor> accessor_ = std::make_unique<GlobalStateAccessor>();
};
}  // namespace internal
}  // namespace ray
