// goray: Ray's C++ API on a Go runtime.
//
// Placement groups: ray::CreatePlacementGroup, ray::RemovePlacementGroup, and the lookups
// ray::GetPlacementGroupById, ray::GetPlacementGroup (by name) and ray::GetAllPlacementGroups.
// The types (ray::PlacementGroup, ray::PlacementGroupCreationOptions, ...) are in task_options.h,
// where Ray keeps them.
#pragma once

#include <ray/api/common.h>
#include <ray/api/ray_exception.h>
#include <ray/api/task_options.h>
#include <ray/c_api.h>

#include <nlohmann/json.hpp>

#include <string>
#include <unordered_map>
#include <vector>

namespace ray {
namespace internal {

/// Asks the runtime whether a group is created, waiting up to timeout_seconds.
inline bool WaitPlacementGroupReady(const std::string &id, int timeout_seconds) {
  int ready = 0;
  char *err = nullptr;
  int code = ray_wait_placement_group(id.data(), id.size(), timeout_seconds, &ready, &err);
  CheckStatus(code, err);
  return ready == 1;
}

/// A handle to a group the runtime described (state as of now), whose Wait asks the runtime.
inline PlacementGroup MakePlacementGroup(std::string id, PlacementGroupCreationOptions options,
                                         PlacementGroupState state) {
  PlacementGroup group(std::move(id), std::move(options), state);
  group.SetWaitCallbak(WaitPlacementGroupReady);
  return group;
}

/// Looks groups up (by id, else by name, else all) and returns handles to them.
inline std::vector<PlacementGroup> LookUpPlacementGroups(const std::string &id,
                                                         const std::string &name) {
  char *out = nullptr;
  char *err = nullptr;
  int code = ray_get_placement_groups(id.data(), id.size(), name.data(), name.size(), &out, &err);
  CheckStatus(code, err);
  std::string text(out == nullptr ? "[]" : out);
  if (out != nullptr) ray_free(out);
  std::vector<PlacementGroup> groups;
  try {
    for (const auto &g : nlohmann::json::parse(text)) {
      PlacementGroupCreationOptions options;
      options.name = g.at("name").get<std::string>();
      options.strategy = static_cast<PlacementStrategy>(g.at("strategy").get<int>());
      for (const auto &b : g.at("bundles")) {
        options.bundles.push_back(b.get<std::unordered_map<std::string, double>>());
      }
      groups.push_back(MakePlacementGroup(g.at("id").get<std::string>(), std::move(options),
                                          static_cast<PlacementGroupState>(g.at("state").get<int>())));
    }
  } catch (const nlohmann::json::exception &e) {
    throw RayException(std::string("the runtime described placement groups unreadably: ") + e.what());
  }
  return groups;
}

}  // namespace internal

/// Creates a placement group: its bundles are reserved across the cluster's nodes, all or none,
/// by its strategy. It is PENDING until they are (PlacementGroup::Wait). Throws RayException for
/// bad options (no bundle, an empty bundle, a bad amount) or a name a live group of this job's
/// namespace has.
inline PlacementGroup CreatePlacementGroup(
    const ray::PlacementGroupCreationOptions &create_options) {
  std::vector<size_t> sizes;
  std::vector<const char *> names;
  std::vector<double> values;
  for (const auto &bundle : create_options.bundles) {
    internal::CheckTaskOptions(bundle);
    sizes.push_back(bundle.size());
    for (const auto &pair : bundle) {
      names.push_back(pair.first.c_str());
      values.push_back(pair.second);
    }
  }
  ray_placement_group_spec spec{};
  spec.name = create_options.name.data();
  spec.name_len = create_options.name.size();
  spec.strategy = static_cast<int>(create_options.strategy);
  spec.num_bundles = sizes.size();
  spec.bundle_sizes = sizes.empty() ? nullptr : sizes.data();
  spec.resource_names = names.empty() ? nullptr : names.data();
  spec.resource_values = values.empty() ? nullptr : values.data();
  char id[RAY_PLACEMENT_GROUP_ID_LEN];
  char *err = nullptr;
  int code = ray_create_placement_group(&spec, id, &err);
  internal::CheckStatus(code, err);
  return internal::MakePlacementGroup(std::string(id, RAY_PLACEMENT_GROUP_ID_LEN), create_options,
                                      PlacementGroupState::PENDING);
}

/// Removes a placement group: its resources go back, and the actors and tasks running in it are
/// killed (its actors are not restarted). Removing a removed group does nothing.
inline void RemovePlacementGroup(const std::string &placement_group_id) {
  char *err = nullptr;
  int code =
      ray_remove_placement_group(placement_group_id.data(), placement_group_id.size(), &err);
  internal::CheckStatus(code, err);
}

/// Every placement group of the cluster (removed ones too, for a while), oldest first.
inline std::vector<PlacementGroup> GetAllPlacementGroups() {
  return internal::LookUpPlacementGroups(std::string(), std::string());
}

/// The placement group with this id, in its state now; an empty group (Empty()) when none has it.
inline PlacementGroup GetPlacementGroupById(const std::string &id) {
  if (id.empty()) return PlacementGroup();
  auto found = internal::LookUpPlacementGroups(id, std::string());
  return found.empty() ? PlacementGroup() : found.front();
}

/// The live placement group with this name in this job's namespace; an empty group when none.
inline PlacementGroup GetPlacementGroup(const std::string &name) {
  if (name.empty()) return PlacementGroup();
  auto found = internal::LookUpPlacementGroups(std::string(), name);
  return found.empty() ? PlacementGroup() : found.front();
}

}  // namespace ray
