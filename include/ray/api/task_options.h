// goray: Ray's C++ API on a Go runtime.
//
// Options of tasks: resources and their validation.
#pragma once

#include <ray/api/ray_exception.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ray {

/// How a placement group's bundles go to nodes: as few nodes as possible (PACK), as many as
/// possible (SPREAD), all on one node (STRICT_PACK) or each on a node of its own (STRICT_SPREAD).
enum class PlacementStrategy {
  PACK = 0,
  SPREAD = 1,
  STRICT_PACK = 2,
  STRICT_SPREAD = 3,
  UNRECOGNIZED = -1
};

/// A placement group's state: PENDING until its bundles are reserved, CREATED, REMOVED, or
/// RESCHEDULING while bundles lost with a node are reserved again.
enum PlacementGroupState {
  PENDING = 0,
  CREATED = 1,
  REMOVED = 2,
  RESCHEDULING = 3,
  UNRECOGNIZED = -1,
};

/// What ray::CreatePlacementGroup creates: a name ("": unnamed; else unique in the job's
/// namespace among live groups), the bundles (each a map of resources to amounts) and the
/// strategy.
struct PlacementGroupCreationOptions {
  std::string name;
  std::vector<std::unordered_map<std::string, double>> bundles;
  PlacementStrategy strategy;
};

/// A placement group: resources reserved together across the cluster's nodes, in bundles that
/// tasks and actors then run in (SetPlacementGroup). GetState is the state when this handle was
/// made (ray::GetPlacementGroup gives a fresh one); Wait asks the runtime.
class PlacementGroup {
 public:
  PlacementGroup() = default;
  PlacementGroup(std::string id, PlacementGroupCreationOptions options,
                 PlacementGroupState state = PlacementGroupState::UNRECOGNIZED)
      : id_(std::move(id)), options_(std::move(options)), state_(state) {}
  /// The group's id (hex); ray::GetPlacementGroupById takes it.
  std::string GetID() const { return id_; }
  std::string GetName() { return options_.name; }
  std::vector<std::unordered_map<std::string, double>> GetBundles() { return options_.bundles; }
  ray::PlacementGroupState GetState() { return state_; }
  PlacementStrategy GetStrategy() { return options_.strategy; }
  /// Waits up to timeout_seconds for the group to be created; false when it is not by then.
  /// Throws RayException when it was removed, or does not exist.
  bool Wait(int timeout_seconds) {
    if (!callback_) {
      throw internal::RayException("PlacementGroup::Wait on a group no runtime made");
    }
    return callback_(id_, timeout_seconds);
  }
  /// Sets what Wait calls (the runtime does; the name is Ray's).
  void SetWaitCallbak(std::function<bool(const std::string &, int)> callback) {
    callback_ = std::move(callback);
  }
  /// True for a group made by the default constructor (ray::GetPlacementGroup found none).
  bool Empty() const { return id_.empty(); }

 private:
  std::string id_;
  PlacementGroupCreationOptions options_{};
  PlacementGroupState state_ = PlacementGroupState::UNRECOGNIZED;
  std::function<bool(const std::string &, int)> callback_;
};

namespace internal {

/// Checks a bundle index for a group (-1: any of its bundles). Throws RayException.
inline void CheckBundleIndex(PlacementGroup &group, int bundle_index) {
  if (group.Empty()) {
    throw RayException("SetPlacementGroup: the placement group is empty (no group was found or made)");
  }
  int bundles = static_cast<int>(group.GetBundles().size());
  if (bundle_index < -1 || (bundles > 0 && bundle_index >= bundles)) {
    throw RayException("SetPlacementGroup: bundle index " + std::to_string(bundle_index) +
                       " is out of range: the group has " + std::to_string(bundles) +
                       " bundles (use -1 for any of them)");
  }
}

/// The largest resource quantity goray accepts, as go/resources.MaxQuantity: Ray keeps quantities
/// in units of 1/10,000 in an int64, so nothing above about 9.2e14 can be represented at all.
constexpr double kMaxResourceQuantity = 1e13;

/// The smallest positive resource quantity (Ray's unit), as go/resources.MinQuantity.
constexpr double kMinResourceQuantity = 1e-4;

/// A quantity as error messages show it ("2", "0.5", "inf", "1e+18").
inline std::string FormatResourceQuantity(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  // The shortest of %.15g and %.17g that reads back as the same value.
  char shorter[32];
  std::snprintf(shorter, sizeof shorter, "%.15g", value);
  if (std::strtod(shorter, nullptr) == value) return shorter;
  return buf;
}

/// Checks resource requirements like Ray: every name non-empty and every value positive; a value
/// greater than 1 must be a whole number. Like goray's runtime (go/resources), it also refuses
/// infinite values and values above kMaxResourceQuantity, which Ray's fixed point cannot hold, and
/// positive values below kMinResourceQuantity, which it would round to zero. Throws RayException.
inline void CheckTaskOptions(const std::unordered_map<std::string, double> &resources) {
  for (const auto &pair : resources) {
    // Built only for an error: checks of valid options stay cheap.
    auto spec = [&pair] { return pair.first + " = " + FormatResourceQuantity(pair.second) + "."; };
    if (pair.first.empty() || !(pair.second > 0)) {
      throw RayException("Resource values should be positive. Specified resource: " + spec());
    }
    if (std::isinf(pair.second) || pair.second > kMaxResourceQuantity) {
      throw RayException("Resource values should be finite and at most " +
                         FormatResourceQuantity(kMaxResourceQuantity) +
                         " (Ray keeps them in units of 1/10,000 in 64-bit integers). Specified "
                         "resource: " +
                         spec());
    }
    if (pair.second < kMinResourceQuantity) {
      throw RayException("Resource values should be at least " +
                         FormatResourceQuantity(kMinResourceQuantity) +
                         " (Ray's smallest unit) when positive. Specified resource: " + spec());
    }
    if (pair.second > 1 && std::floor(pair.second) != pair.second) {
      throw RayException(
          "A resource value should be an integer if it is greater than 1.0. Specified "
          "resource: " +
          spec());
    }
  }
}

/// Checks a task's max_retries: 0 or more, or -1 for no limit. Throws RayException.
inline void CheckMaxRetries(int max_retries) {
  if (max_retries < -1) {
    throw RayException("max_retries must be 0 or more, or -1 for no limit, not " +
                       std::to_string(max_retries));
  }
}

/// Checks an actor's max_restarts: -1 (no limit) or more. Throws RayException.
inline void CheckMaxRestarts(int max_restarts) {
  if (max_restarts < -1) {
    throw RayException("max_restarts must be -1 (unlimited) or a non-negative number, got " +
                       std::to_string(max_restarts) + ".");
  }
}

/// Checks an actor's max_task_retries: -1 (no limit) or more. Throws RayException.
inline void CheckMaxTaskRetries(int max_task_retries) {
  if (max_task_retries < -1) {
    throw RayException("max_task_retries must be -1 (unlimited) or a non-negative number, got " +
                       std::to_string(max_task_retries) + ".");
  }
}

/// Checks an actor's max_concurrency: 1 or more. Throws RayException.
inline void CheckMaxConcurrency(int max_concurrency) {
  if (max_concurrency < 1) {
    throw RayException("max_concurrency must be greater than or equal to 1, got " +
                       std::to_string(max_concurrency) + ".");
  }
}

}  // namespace internal
}  // namespace ray
