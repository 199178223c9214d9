// raycompat shim for Ray's internal "cpp/src/ray/util/process_helper.h".
//
// With --external_cluster=true, cluster_mode_test.cc starts a head node itself through
// ProcessHelper::StartRayNode and stops it at exit with StopRayNode. The stand-in runs goray's
// `ray` command line ($RAYCOMPAT_RAY_CLI, else `ray` from PATH):
//   ray start --head --port P --node-ip-address IP --redis-username U --redis-password PW
//             --temp-dir $RAY_TMPDIR
//   ray stop --force            (with the same RAY_TMPDIR: only this node)
// run.sh gives each run its own RAY_TMPDIR and RAY_AUTH_TOKEN_PATH; the shim refuses to start a
// node without a RAY_TMPDIR so that it never touches the machine's default session directory.
#pragma once
#include <chrono>  // cluster_mode_test.cc sleeps with std::this_thread and gets these headers
#include <thread>  // through Ray's ones
#include <cstdlib>
#include <iostream>
#include <string>

namespace ray {
namespace internal {
class ProcessHelper {
 public:
  static ProcessHelper &GetInstance() {
    static ProcessHelper helper;
    return helper;
  }

  void StartRayNode(const std::string node_ip_address, const int port,
                    const std::string redis_username, const std::string redis_password) {
    const char *tmp = std::getenv("RAY_TMPDIR");
    if (tmp == nullptr || *tmp == '\0') {
      std::cerr << "raycompat: StartRayNode needs RAY_TMPDIR (run the test from run.sh)"
                << std::endl;
      std::abort();
    }
    temp_dir_ = tmp;
    std::string cmd = Cli() + " start --head --port " + std::to_string(port) +
                      " --node-ip-address " + Quote(node_ip_address) + " --redis-username " +
                      Quote(redis_username) + " --redis-password " + Quote(redis_password) +
                      " --temp-dir " + Quote(temp_dir_);
    std::cerr << "raycompat: StartRayNode: " << cmd << std::endl;
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "raycompat: StartRayNode: `ray start` failed" << std::endl;
      std::abort();  // as Ray's helper does when the node does not start
    }
    started_ = true;
  }

  // Older Ray versions of the test pass only the port and the password.
  void StartRayNode(const int port, const std::string redis_password) {
    StartRayNode("127.0.0.1", port, "default", redis_password);
  }

  void StopRayNode() {
    if (!started_) return;
    started_ = false;
    std::string cmd = "RAY_TMPDIR=" + Quote(temp_dir_) + " " + Cli() + " stop --force";
    std::cerr << "raycompat: StopRayNode: " << cmd << std::endl;
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "raycompat: StopRayNode: `ray stop` failed" << std::endl;
    }
  }

 private:
  static std::string Cli() {
    const char *cli = std::getenv("RAYCOMPAT_RAY_CLI");
    return Quote(cli != nullptr && *cli != '\0' ? cli : "ray");
  }
  // Single-quotes a word for /bin/sh.
  static std::string Quote(const std::string &word) {
    std::string quoted = "'";
    for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
  }

  bool started_ = false;
  std::string temp_dir_;
};
}  // namespace internal
}  // namespace ray
