// Shared helpers of goray's C++ test suites: the mode switch (GORAY_TEST_MODE=local|node), a
// fixture that does its own ray::Init / ray::Shutdown, and small utilities.
#pragma once

#include <gtest/gtest.h>
#include <ray/api.h>
#include <ray/c_api.h>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace goray_test {

inline bool IsNodeMode() {
  const char *m = std::getenv("GORAY_TEST_MODE");
  return m != nullptr && std::string(m) == "node";
}

inline const char *ModeName() { return IsNodeMode() ? "node" : "local"; }

// A config for the current mode: local -> local_mode = true; node -> embedded node with head_args.
inline ray::RayConfig MakeConfig(std::vector<std::string> head_args = {"--num-cpus", "4"}) {
  ray::RayConfig config;
  if (IsNodeMode()) {
    config.head_args = std::move(head_args);
  } else {
    config.local_mode = true;
  }
  return config;
}

// Fixture: Init in SetUp (override HeadArgs() for another node shape), Shutdown in TearDown.
class RayTest : public ::testing::Test {
 protected:
  virtual std::vector<std::string> HeadArgs() { return {"--num-cpus", "4"}; }
  void SetUp() override {
    ray::RayConfig config = MakeConfig(HeadArgs());
    ray::Init(config);
    ASSERT_TRUE(ray::IsInitialized());
  }
  void TearDown() override { ray::Shutdown(); }
};

// Fixture like RayTest whose HeadArgs apply in local mode too (its CPUs and resources).
class RayHeadArgsTest : public ::testing::Test {
 protected:
  virtual std::vector<std::string> HeadArgs() = 0;
  void SetUp() override {
    ray::RayConfig config = MakeConfig();
    config.head_args = HeadArgs();
    ray::Init(config);
    ASSERT_TRUE(ray::IsInitialized());
  }
  void TearDown() override { ray::Shutdown(); }
};

// A name no other test (or earlier run) uses.
inline std::string UniqueName(const std::string &prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(salt % 100000) + "_" +
         std::to_string(counter.fetch_add(1));
}

inline int64_t RefCount(const std::string &id) {
  return ray_ref_count(reinterpret_cast<const uint8_t *>(id.data()));
}
template <typename T>
int64_t RefCount(const ray::ObjectRef<T> &ref) {
  return RefCount(ref.ID());
}

inline bool Contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

inline std::string Lower(std::string s) {
  for (auto &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline bool ContainsNoCase(const std::string &haystack, const std::string &needle) {
  return Contains(Lower(haystack), Lower(needle));
}

inline double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs fn on its own thread and waits up to timeout_ms for it. Returns false when it did not
// finish in time (the thread is then detached so a hang does not hang the whole suite; the state
// it touches must be owned by the closure).
inline bool RunWithDeadline(std::function<void()> fn, int timeout_ms) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto state = std::make_shared<State>();
  std::thread t([state, fn]() {
    fn();
    std::lock_guard<std::mutex> lock(state->mu);
    state->done = true;
    state->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(state->mu);
  bool finished = state->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                     [&] { return state->done; });
  lock.unlock();
  if (finished) {
    t.join();
  } else {
    t.detach();
  }
  return finished;
}

struct ChildProcess {
  int pid;
  char state;
  std::string comm;
};

// Processes whose parent is this process (zombies included: they were not reaped).
inline std::vector<ChildProcess> ChildProcesses() {
  std::vector<ChildProcess> out;
  int self = static_cast<int>(getpid());
  DIR *dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent *e = readdir(dir)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    // pid (comm) state ppid ...; comm may contain spaces and parentheses.
    size_t open = line.find('(');
    size_t close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = '?';
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) {
      out.push_back({std::atoi(e->d_name), state, line.substr(open + 1, close - open - 1)});
    }
  }
  closedir(dir);
  return out;
}

inline std::string Describe(const std::vector<ChildProcess> &procs) {
  std::ostringstream ss;
  for (auto &p : procs) ss << p.pid << "(" << p.comm << "," << p.state << ") ";
  return ss.str();
}

inline std::string TempDir() {
  const char *t = std::getenv("TMPDIR");
  return (t != nullptr && *t != '\0') ? std::string(t) : std::string("/tmp");
}

// A new directory under TempDir(), removed with everything in it when the object goes.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string pattern = TempDir() + "/goray_dir_XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
    path_ = buf.data();
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir &) = delete;
  ScopedTempDir &operator=(const ScopedTempDir &) = delete;
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace goray_test
