// raycompat shim for Ray's internal "cpp/src/ray/runtime/abstract_ray_runtime.h" (and the
// ray::rpc::GcsNodeInfo protobuf message the test decodes).
//
// cluster_mode_test.cc reaches through AbstractRayRuntime::GetInstance() to the global state
// accessor and lists the cluster's nodes as serialized protobufs (GetAllNodeInfoTest). Here the
// list comes from goray's public ray::RuntimeContext::GetAllNodeInfo(); each node travels as the
// text "ALIVE" or "DEAD", which this GcsNodeInfo stand-in reads back.
#pragma once
#include <ray/api.h>

#include <memory>
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
  bool ParseFromString(const std::string &data) {
    if (data != "ALIVE" && data != "DEAD") return false;
    state_ = data == "ALIVE" ? GcsNodeInfo_GcsNodeState_ALIVE : GcsNodeInfo_GcsNodeState_DEAD;
    return true;
  }
  GcsNodeInfo_GcsNodeState state() const { return state_; }

 private:
  GcsNodeInfo_GcsNodeState state_ = GcsNodeInfo_GcsNodeState_DEAD;
};
}  // namespace rpc

namespace internal {
class GlobalStateAccessor {
 public:
  std::vector<std::string> GetAllNodeInfo() {
    std::vector<std::string> out;
    for (const auto &node : ray::RuntimeContext::GetAllNodeInfo()) {
      out.push_back(node.is_alive ? "ALIVE" : "DEAD");
    }
    return out;
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
