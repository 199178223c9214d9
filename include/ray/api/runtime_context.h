// What the running code can ask of its runtime: its job, node, actor and task, its namespace,
// whether it runs in local mode and the cluster's nodes (the queries of Ray's runtime context, which Ray's Python and
// Java APIs have; Ray's C++ API has GetNamespace, WasCurrentActorRestarted and, internally,
// IsLocalMode).
#pragma once

#include <ray/api/common.h>
#include <ray/api/ray_exception.h>
#include <ray/c_api.h>

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace ray {

namespace internal {
/// Calls a C ABI function that answers with JSON text (malloc'd, freed here) and returns the text;
/// throws RayException with what the runtime said, prefixed by `what: `, on failure.
inline std::string CallForJson(int (*call)(char **, char **), const std::string &what) {
  char *out = nullptr;
  char *err = nullptr;
  int code = call(&out, &err);  // (err is read only after the call set it)
  CheckStatus(code, err, what + ": ");
  std::string text(out == nullptr ? "" : out);
  if (out != nullptr) ray_free(out);
  return text;
}
}  // namespace internal

/// A node of the cluster, as RuntimeContext::GetAllNodeInfo() lists it (Ray Java's NodeInfo).
struct NodeInfo {
  std::string node_id;               ///< hex
  std::string node_manager_address;  ///< the node's IP address
  std::string node_hostname;
  bool is_alive = false;
  bool is_head = false;
  std::unordered_map<std::string, double> resources;            ///< its totals
  std::unordered_map<std::string, double> available_resources;  ///< what was free at its last report
};

/// The runtime context of the calling thread, as ray::GetRuntimeContext() found it. Ids are in
/// hex, as Ray prints them.
class RuntimeContext {
 public:
  /// The job this process belongs to (Ray's job ids: 4 bytes, "01000000" for a cluster's first
  /// job, and for the only job of an embedded node or of local mode).
  const std::string &GetCurrentJobId() const { return job_id_; }
  /// The node this process runs on (in local mode, a stand-in id for the process).
  const std::string &GetCurrentNodeId() const { return node_id_; }
  /// The actor whose method (or constructor) runs on this thread; "" outside an actor.
  const std::string &GetCurrentActorId() const { return actor_id_; }
  /// The task this thread runs; "" on a driver's own thread.
  const std::string &GetCurrentTaskId() const { return task_id_; }
  /// The job's namespace (as ray::GetNamespace()).
  const std::string &GetNamespace() const { return namespace_; }
  /// True when every task runs in the driver's process (RayConfig::local_mode).
  bool IsLocalMode() const { return local_mode_; }
  /// Inside an actor: whether this instance was created again after a failure (as
  /// ray::WasCurrentActorRestarted()).
  bool WasCurrentActorRestarted() const { return restarted_; }

  /// The cluster's nodes, alive and dead, as its control store knows them now (in local mode,
  /// the driver's process as the one node). Throws RayException when the runtime cannot tell.
  static std::vector<NodeInfo> GetAllNodeInfo() {
    std::string text = internal::CallForJson(ray_get_all_node_info, "GetAllNodeInfo");
    std::vector<NodeInfo> nodes;
    try {
      for (const auto &j : nlohmann::json::parse(text)) {
        NodeInfo n;
        n.node_id = j.at("node_id").get<std::string>();
        n.node_manager_address = j.at("node_manager_address").get<std::string>();
        n.node_hostname = j.at("node_hostname").get<std::string>();
        n.is_alive = j.at("alive").get<bool>();
        n.is_head = j.at("is_head").get<bool>();
        n.resources = j.at("resources").get<std::unordered_map<std::string, double>>();
        n.available_resources = j.at("available_resources").get<std::unordered_map<std::string, double>>();
        nodes.push_back(std::move(n));
      }
    } catch (const nlohmann::json::exception &e) {
      throw internal::RayException(std::string("GetAllNodeInfo: the runtime's answer is not understood: ") + e.what());
    }
    return nodes;
  }

  /// Reads the runtime's answer (JSON, see ray_get_runtime_context in c_api.h).
  static RuntimeContext FromJson(const std::string &text) {
    RuntimeContext c;
    try {
      auto j = nlohmann::json::parse(text);
      c.job_id_ = j.at("job_id").get<std::string>();
      c.node_id_ = j.at("node_id").get<std::string>();
      c.actor_id_ = j.at("actor_id").get<std::string>();
      c.task_id_ = j.at("task_id").get<std::string>();
      c.namespace_ = j.at("namespace").get<std::string>();
      c.local_mode_ = j.at("local_mode").get<bool>();
      c.restarted_ = j.at("was_current_actor_restarted").get<bool>();
    } catch (const nlohmann::json::exception &e) {
      throw internal::RayException(std::string("GetRuntimeContext: the runtime's answer is not understood: ") +
                                   e.what());
    }
    return c;
  }

 private:
  std::string job_id_, node_id_, actor_id_, task_id_, namespace_;
  bool local_mode_ = false;
  bool restarted_ = false;
};

/// The runtime context of the calling thread. Throws RayException when Ray is not initialized.
inline RuntimeContext GetRuntimeContext() {
  return RuntimeContext::FromJson(internal::CallForJson(ray_get_runtime_context, "GetRuntimeContext"));
}

namespace internal {
/// Whether the runtime runs in local mode (Ray's internal RayRuntime::IsLocalMode()).
inline bool IsLocalMode() { return GetRuntimeContext().IsLocalMode(); }
}  // namespace internal

}  // namespace ray
