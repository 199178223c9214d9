// Scheduling strategies: where a task or an actor runs on a cluster. Ray offers them in Python
// only (scheduling_strategy="SPREAD", NodeAffinitySchedulingStrategy); goray gives them to C++:
//
//   ray::Task(f).SetSchedulingStrategy(ray::SpreadSchedulingStrategy()).Remote(...);
//   ray::Actor(F).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_id)).Remote();
//
// A node's id is the hex `ray status` prints after "node_".
#pragma once

#include <ray/c_api.h>

#include <string>
#include <utility>
#include <variant>

namespace ray {

/// Ray's DEFAULT strategy, the hybrid policy: the local node while it is less than half used,
/// else the least used node with room.
struct DefaultSchedulingStrategy {};

/// Ray's "SPREAD": successive tasks (or actors) on successive nodes with room, round robin.
struct SpreadSchedulingStrategy {};

/// Ray's NodeAffinitySchedulingStrategy: on the node with this id (it waits there for room).
/// When that node is dead, unknown or can never fit the request, a soft affinity runs it where
/// the default strategy would; a hard one fails it.
struct NodeAffinitySchedulingStrategy {
  /// The node, in hex as `ray status` prints it.
  std::string node_id;
  /// Whether another node may run it when this one cannot.
  bool soft = false;

  explicit NodeAffinitySchedulingStrategy(std::string node_id, bool soft = false)
      : node_id(std::move(node_id)), soft(soft) {}
};

/// One of the strategies above.
using SchedulingStrategy =
    std::variant<DefaultSchedulingStrategy, SpreadSchedulingStrategy, NodeAffinitySchedulingStrategy>;

namespace internal {

/// A strategy as the C ABI takes it (node_id borrows from the strategy).
struct CSchedulingStrategy {
  int kind = RAY_SCHEDULING_DEFAULT;
  const char *node_id = nullptr;
  size_t node_id_len = 0;
  int soft = 0;
};

inline CSchedulingStrategy ToCStrategy(const SchedulingStrategy &s) {
  CSchedulingStrategy c;
  if (std::holds_alternative<SpreadSchedulingStrategy>(s)) {
    c.kind = RAY_SCHEDULING_SPREAD;
  } else if (const auto *a = std::get_if<NodeAffinitySchedulingStrategy>(&s)) {
    c.kind = RAY_SCHEDULING_NODE_AFFINITY;
    c.node_id = a->node_id.data();
    c.node_id_len = a->node_id.size();
    c.soft = a->soft ? 1 : 0;
  }
  return c;
}

}  // namespace internal
}  // namespace ray
