// goray: Ray's C++ API on a Go runtime.
//
// ray::RayConfig: the options of ray::Init.
#pragma once

#include <ray/api/runtime_env.h>

#include <optional>
#include <string>
#include <vector>

namespace ray {

/// How long an actor lives: with its job (NON_DETACHED) or until it is killed (DETACHED).
enum class ActorLifetime {
  /// The actor dies with the job that created it.
  NON_DETACHED,
  /// The actor outlives its job until it is killed.
  DETACHED,
};

/// The options of ray::Init. Command-line flags given to Init(config, argc, argv) override them.
class RayConfig {
 public:
  /// Address of the cluster to connect to ("ip:port"). Empty: the runtime reads env RAY_ADDRESS,
  /// and starts an embedded node when that is empty too.
  std::string address = "";

  /// Run every task in this process, synchronously (no cluster, no worker processes).
  bool local_mode = false;

  /// Where workers look for the code of remote functions: shared libraries, or directories of them.
  std::vector<std::string> code_search_path;

  /// The password of Ray's Redis. goray's control store has no Redis (the cluster token
  /// authenticates): Init accepts it, for Ray's programs, and ignores it with a warning.
  std::optional<std::string> redis_password_;

  /// The user name of Ray's Redis: accepted and ignored, as redis_password_.
  std::optional<std::string> redis_username_;

  /// The namespace of the job.
  std::string ray_namespace = "";

  /// Extra arguments of the embedded head node ("ray start --head" arguments).
  std::vector<std::string> head_args = {};

  /// The lifetime of actors created without an explicit one.
  ActorLifetime default_actor_lifetime = ActorLifetime::NON_DETACHED;

  /// The runtime environment of the job.
  std::optional<RuntimeEnv> runtime_env;
};

}  // namespace ray
