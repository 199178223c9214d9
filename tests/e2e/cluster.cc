// A driver for the cluster tests (tests/e2e/cluster.sh): each mode does one thing a user does on
// a cluster and prints what a test checks. Run with RAY_ADDRESS set.
#include <ray/api.h>
#include <ray/api/metric.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// The node a task runs on: its node's session directory (each node of the test has its own).
std::string WhereAmI(int sleep_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  const char *dir = std::getenv("GORAY_SESSION_DIR");
  return dir ? dir : "?";
}
RAY_REMOTE(WhereAmI);

// Adds n to the metric cluster_handled (tag who) from the process running it.
int CountHandled(std::string who, int n) {
  ray::Counter counter("cluster_handled", "handled on a node of the cluster", "", {"who"});
  counter.Inc(n, {{"who", who}});
  return n;
}
RAY_REMOTE(CountHandled);

// The GPUs of the worker running a task (its CUDA_VISIBLE_DEVICES), after ms milliseconds.
std::string VisibleDevices(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  const char *v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? v : "(unset)";
}
RAY_REMOTE(VisibleDevices);

// The file name, read from the working directory, and where that is.
std::string ReadHere(std::string name) {
  std::ifstream in(name);
  std::stringstream ss;
  ss << in.rdbuf();
  char cwd[4096];
  return (in ? ss.str() : std::string("(missing)")) + " in " + (getcwd(cwd, sizeof cwd) ? cwd : "?");
}
RAY_REMOTE(ReadHere);

// The job and node ray::GetRuntimeContext() reports where the task runs.
std::string JobAndNode() {
  auto c = ray::GetRuntimeContext();
  return c.GetCurrentJobId() + " " + c.GetCurrentNodeId();
}
RAY_REMOTE(JobAndNode);

// Where the worker running a task took its code from (its code search path).
std::string CodePath() {
  const char *p = std::getenv("GORAY_CODE_SEARCH_PATH");
  return p ? p : "?";
}
RAY_REMOTE(CodePath);

int Plus(int a, int b) { return a + b; }
RAY_REMOTE(Plus);

// i + 1 after sleeping ms milliseconds.
int SlowPlusOne(int i, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return i + 1;
}
RAY_REMOTE(SlowPlusOne);

// The worker killer's task (its retries are counted in the logs by its name): i + 1 after 1 ms.
int ChaosPlusOne(int i) { return SlowPlusOne(i, 1); }
RAY_REMOTE(ChaosPlusOne);

// The first time it runs (no file at marker yet), its worker process dies; then it returns i.
int CrashOnce(int i, std::string marker) {
  if (std::ifstream(marker).fail()) {
    std::ofstream(marker) << "crashed";
    std::_Exit(1);
  }
  return i;
}
RAY_REMOTE(CrashOnce);

// Its worker process dies on each of its first `crashes` attempts (counted in the file at path);
// then it returns the number of its attempt.
int CrashTimes(std::string path, int crashes) {
  int n = 0;
  std::ifstream(path) >> n;
  if (n < crashes) {
    std::ofstream(path) << n + 1;
    std::_Exit(1);
  }
  return n + 1;
}
RAY_REMOTE(CrashTimes);

// A task that waits for a task it submits (which needs a CPU, wherever it runs).
int OuterPlusOne(int i) { return *ray::Get(ray::Task(SlowPlusOne).Remote(i, 5)); }
RAY_REMOTE(OuterPlusOne);

// A big object made where the task runs: n bytes, byte i = (i * 7 + seed) % 251.
std::vector<uint8_t> MakeBig(int64_t n, int seed) {
  std::vector<uint8_t> v(n);
  for (int64_t i = 0; i < n; i++) v[i] = uint8_t((i * 7 + seed) % 251);
  return v;
}
RAY_REMOTE(MakeBig);

// Checks a big object where the task runs: "ok <size> <where>" or what is wrong.
std::string CheckBig(std::vector<uint8_t> v, int seed) {
  for (size_t i = 0; i < v.size(); i++) {
    if (v[i] != uint8_t((i * 7 + seed) % 251)) return "bad byte at " + std::to_string(i);
  }
  return "ok " + std::to_string(v.size()) + " " + WhereAmI(0);
}
RAY_REMOTE(CheckBig);

// Nested refs: the values behind ObjectRefs inside an argument, read by a task on another node
// (with where it ran), and ObjectRefs a task puts on its node and returns.
std::string SumInner(std::vector<ray::ObjectRef<std::vector<int64_t>>> refs) {
  int64_t sum = 0;
  for (auto &r : refs) {
    auto v = ray::Get(r);  // (kept: a range-for over *ray::Get(r) would outlive its vector)
    for (auto x : *v) sum += x;
  }
  return std::to_string(sum) + " on " + WhereAmI(0);
}
RAY_REMOTE(SumInner);
std::vector<ray::ObjectRef<std::vector<int64_t>>> PutInner(int64_t n) {
  return {ray::Put(std::vector<int64_t>(10, 1)), ray::Put(std::vector<int64_t>(n, 2))};
}
RAY_REMOTE(PutInner);

// The node killer's actor: each call's effect is its argument, with the incarnation that ran it
// (a random token drawn at its start) and how many calls that incarnation ran so far.
class Tally {
 public:
  Tally() : token_(std::to_string(std::random_device()()) + std::to_string(std::random_device()())) {}
  static Tally *Make() { return new Tally(); }
  std::string Add(int i) { return token_ + " " + std::to_string(++calls_) + " " + std::to_string(i); }

 private:
  std::string token_;
  int calls_ = 0;
};
RAY_REMOTE(Tally::Make, &Tally::Add);

// The nested chaos tasks: the inner one makes 50 KiB from i, the outer one submits it and sums
// what it got.
std::vector<uint8_t> Fifty(int i) {
  std::vector<uint8_t> v(50 << 10);
  for (size_t k = 0; k < v.size(); k++) v[k] = uint8_t((k * 13 + i) % 251);
  return v;
}
RAY_REMOTE(Fifty);
int64_t FiftySum(int i) {
  int64_t sum = 0;
  for (auto b : Fifty(i)) sum += b;
  return sum;
}
int64_t NestedFifty(int i) {
  auto v = ray::Get(ray::Task(Fifty).SetMaxRetries(-1).Remote(i));
  int64_t sum = 0;
  for (auto b : *v) sum += b;
  return sum;
}
RAY_REMOTE(NestedFifty);

// Gets the results of a chaos case's tasks, counts the wrong ones (result i must be
// expected(i)) and the lost ones (their Get threw), and prints the case's line:
// "<name> tasks N wrong W lost L seconds S".
template <typename T, typename Expected>
void ReportChaosTasks(const std::string &name, const std::vector<ray::ObjectRef<T>> &refs,
                      Expected expected, std::chrono::steady_clock::time_point start) {
  int wrong = 0, lost = 0;
  for (size_t i = 0; i < refs.size(); i++) {
    try {
      wrong += *ray::Get(refs[i]) != expected(int(i));
    } catch (const std::exception &e) {
      if (lost++ == 0) std::cout << "first lost: " << e.what() << std::endl;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << name << " tasks " << refs.size() << " wrong " << wrong << " lost " << lost
            << " seconds " << seconds << std::endl;
}

// The bytes of s in hex.
std::string Hex(const std::string &s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

class Counter {
 public:
  explicit Counter(int start) : n_(start) {}
  static Counter *Make(int start) { return new Counter(start); }
  int Add(int k) {
    n_ += k;
    return n_;
  }
  std::string Where() { return WhereAmI(0); }
  std::string Devices() { return VisibleDevices(0); }
  std::string ReadHere(std::string name) { return ::ReadHere(name); }
  // Where it runs, after ms milliseconds, and its count then.
  std::string SlowWhere(int ms) { return WhereAmI(ms) + " count " + std::to_string(n_); }
  // The values behind ObjectRefs inside its argument (made by a caller on another node).
  std::string SumInner(std::vector<ray::ObjectRef<std::vector<int64_t>>> refs) {
    return ::SumInner(refs);
  }
  // ObjectRefs it puts on its node and returns.
  std::vector<ray::ObjectRef<std::vector<int64_t>>> PutInner(int64_t n) { return ::PutInner(n); }
  // Large values both ways: checks its argument, returns a fresh one.
  std::vector<uint8_t> Reverse(std::vector<uint8_t> v) {
    for (size_t i = 0; i < v.size(); i++) {
      if (v[i] != uint8_t((i * 7 + 1) % 251)) return {};
    }
    return std::vector<uint8_t>(v.rbegin(), v.rend());
  }

 private:
  int n_;
};
RAY_REMOTE(Counter::Make, &Counter::Add, &Counter::Where, &Counter::Reverse, &Counter::SumInner,
           &Counter::PutInner, &Counter::SlowWhere, &Counter::Devices, &Counter::ReadHere);

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  config.ray_namespace = "cluster-test";
  if (mode == "config") config.address = argc > 2 ? argv[2] : "";  // RayConfig::address
  if (mode == "detached") config.default_actor_lifetime = ray::ActorLifetime::DETACHED;
  if (mode == "placement" || mode == "pgfind") config.ray_namespace = "pgtest";
  if (mode == "workdir") {
    ray::RuntimeEnv env;
    env.Set("working_dir", std::string(argc > 2 ? argv[2] : "."));
    config.runtime_env = env;
  }
  ray::Init(config, argc, argv);
  if (mode == "config" || mode == "flag") {
    std::cout << mode << " joined " << *ray::Get(ray::Task(Plus).SetResource("r2", 1).Remote(1, 2)) << std::endl;
  } else if (mode == "spread") {
    // Many slow tasks: more than one node runs them.
    int n = argc > 2 ? std::atoi(argv[2]) : 12;
    std::vector<ray::ObjectRef<std::string>> refs;
    for (int i = 0; i < n; i++) refs.push_back(ray::Task(WhereAmI).Remote(300));
    std::map<std::string, int> where;
    for (auto &r : refs) where[*ray::Get(r)]++;
    std::cout << "nodes " << where.size() << std::endl;
    for (auto &w : where) std::cout << "ran " << w.second << " on " << w.first << std::endl;
  } else if (mode == "resource") {
    // A task that needs a resource only one node has runs there.
    auto r = ray::Task(WhereAmI).SetResource("r1", 1).Remote(0);
    std::cout << "r1 task on " << *ray::Get(r) << std::endl;
    auto sum = ray::Task(Plus).SetResource("r1", 1).Remote(ray::Task(Plus).Remote(1, 2), 10);
    std::cout << "r1 sum " << *ray::Get(sum) << std::endl;
  } else if (mode == "big") {
    // A big object made on the node with r1 (A), read by a task on the node with r2 (C).
    int64_t n = argc > 2 ? std::atoll(argv[2]) : (64 << 20);
    auto big = ray::Task(MakeBig).SetResource("r1", 1).Remote(n, 3);
    auto check = ray::Task(CheckBig).SetResource("r2", 1).Remote(big, 3);
    std::cout << "check " << *ray::Get(check) << std::endl;
    auto local = ray::Get(big);
    std::cout << "driver got " << local->size() << " bytes, last " << int((*local)[local->size() - 1]) << std::endl;
    auto put = ray::Put(MakeBig(n, 5));
    auto check2 = ray::Task(CheckBig).SetResource("r2", 1).Remote(put, 5);
    std::cout << "put check " << *ray::Get(check2) << std::endl;
  } else if (mode == "nested") {
    // ObjectRefs inside values cross nodes both ways: a small and a shared-memory object.
    const int64_t n = 1 << 20;  // 8 MiB
    std::vector<ray::ObjectRef<std::vector<int64_t>>> refs{ray::Put(std::vector<int64_t>(10, 1)),
                                                           ray::Put(std::vector<int64_t>(n, 2))};
    std::cout << "inner sum " << *ray::Get(ray::Task(SumInner).SetResource("r2", 1).Remote(refs))
              << std::endl;
    auto made = *ray::Get(ray::Task(PutInner).SetResource("r1", 1).Remote(n));
    int64_t sum = 0;
    for (auto &r : made) {
      auto v = ray::Get(r);
      for (auto x : *v) sum += x;
    }
    std::cout << "returned inner sum " << sum << std::endl;
    // The same refs given to an actor on node B, called straight from this driver.
    auto counter = ray::Actor(Counter::Make).SetResource("r1", 1).Remote(0);
    std::cout << "actor inner sum " << *ray::Get(counter.Task(&Counter::SumInner).Remote(refs))
              << std::endl;
    // And refs the actor puts and returns, read twice by this driver.
    auto from_actor = *ray::Get(counter.Task(&Counter::PutInner).Remote(n));
    for (int read = 1; read <= 2; read++) {
      int64_t s = 0;
      for (auto &r : from_actor) {
        auto v = ray::Get(r);
        for (auto x : *v) s += x;
      }
      std::cout << "actor returned inner sum " << s << " (read " << read << ")" << std::endl;
    }
  } else if (mode == "lease") {
    // Tasks for node B (r1) in waves: the first tasks go through the nodes, then this driver
    // leases workers of node B and sends them the rest itself. Arguments: values, ObjectRefs to
    // small values, refs inside values (a small and an 8 MiB object).
    auto ten = ray::Put(10);
    int wrong = 0, n = 0;
    std::map<std::string, int> where;
    for (int wave = 0; wave < 4; wave++) {
      std::vector<ray::ObjectRef<int>> refs;
      for (int i = 0; i < 500; i++) {
        refs.push_back(i % 2 ? ray::Task(Plus).SetResource("r1", 1).Remote(i, 1)
                             : ray::Task(Plus).SetResource("r1", 1).Remote(ten, i));
      }
      for (int i = 0; i < 500; i++, n++) wrong += *ray::Get(refs[i]) != (i % 2 ? i + 1 : i + 10);
      std::vector<ray::ObjectRef<std::string>> places;
      for (int i = 0; i < 20; i++) places.push_back(ray::Task(WhereAmI).SetResource("r1", 1).Remote(0));
      for (auto &p : places) where[*ray::Get(p)]++;
    }
    std::cout << "lease tasks " << n << " wrong " << wrong << std::endl;
    for (auto &w : where) std::cout << "lease ran " << w.second << " on " << w.first << std::endl;
    const int64_t big = 1 << 20;  // 8 MiB
    std::vector<ray::ObjectRef<std::vector<int64_t>>> inner{ray::Put(std::vector<int64_t>(10, 1)),
                                                            ray::Put(std::vector<int64_t>(big, 2))};
    int inner_wrong = 0;
    const std::string want = std::to_string(10 + 2 * big) + " on ";
    for (int wave = 0; wave < 2; wave++) {
      std::vector<ray::ObjectRef<std::string>> sums;
      for (int i = 0; i < 40; i++) sums.push_back(ray::Task(SumInner).SetResource("r1", 1).Remote(inner));
      for (auto &s : sums) inner_wrong += ray::Get(s)->rfind(want, 0) != 0;
    }
    std::cout << "lease inner sums wrong " << inner_wrong << std::endl;
    // Leases with nothing to do are given back: then a task that needs both CPUs of node B runs
    // there while this driver still lives.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto whole = ray::Task(WhereAmI).SetResources({{"r1", 1}, {"CPU", 2}}).Remote(0);
    std::vector<ray::ObjectRef<std::string>> wait_for{whole};
    std::cout << "idle leases returned " << (ray::Wait(wait_for, 1, 10000).ready.size() == 1 ? "yes" : "no") << std::endl;
  } else if (mode == "leasecrash") {
    // Tasks for node C (r2) lead to a lease there; a trickle of tasks keeps it busy (an idle lease
    // goes back after 100 ms) until it surely came; then a task whose (leased) worker process dies
    // the first time it runs: it runs again (a retry), and every result is right.
    std::string markers = argc > 2 ? argv[2] : "";
    int wrong = 0;
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < 30; i++) refs.push_back(ray::Task(SlowPlusOne).SetResource("r2", 1).Remote(i, 20));
    for (int i = 0; i < 30; i++) wrong += *ray::Get(refs[i]) != i + 1;
    refs.clear();
    for (int i = 0; i < 15; i++) {
      refs.push_back(ray::Task(SlowPlusOne).SetResource("r2", 1).Remote(i, 30));
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    auto crash = ray::Task(CrashOnce).SetResource("r2", 1).Remote(7, markers + "/crashed");
    for (int i = 0; i < 15; i++) wrong += *ray::Get(refs[i]) != i + 1;
    wrong += *ray::Get(crash) != 7;
    std::cout << "leasecrash wrong " << wrong << std::endl;
  } else if (mode == "killedthrice") {
    // Ray's test_worker_killer case, on node B: a task with 3 retries whose worker is killed on
    // each of its first 3 attempts finishes on its 4th; with 2 retries it fails, saying so.
    std::string dir = argc > 2 ? argv[2] : "";
    auto four = ray::Task(CrashTimes).SetMaxRetries(3).SetResource("r1", 1).Remote(dir + "/four", 3);
    std::cout << "killedthrice attempts " << *ray::Get(four) << std::endl;
    try {
      auto three = ray::Task(CrashTimes).SetMaxRetries(2).SetResource("r1", 1).Remote(dir + "/three", 3);
      int attempts = *ray::Get(three);
      std::cout << "killedthrice ran " << attempts << std::endl;
    } catch (const ray::internal::RayWorkerException &e) {
      std::cout << "killedthrice out of retries: " << e.what() << std::endl;
    }
  } else if (mode == "leaseblock") {
    // Tasks for node B (r1) that each wait for a task they submit: a first wave leads to a lease,
    // a trickle keeps it busy (an idle lease goes back after 100 ms) until it surely came, then a
    // burst gives it two at a time: the first waits in Get, lends its CPU and hands the second
    // back, which runs elsewhere. Every result is right.
    int wrong = 0;
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < 30; i++) refs.push_back(ray::Task(OuterPlusOne).SetResource("r1", 1).Remote(i));
    for (int i = 0; i < 30; i++) wrong += *ray::Get(refs[i]) != i + 1;
    refs.clear();
    for (int i = 0; i < 15; i++) {
      refs.push_back(ray::Task(OuterPlusOne).SetResource("r1", 1).Remote(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    for (int i = 15; i < 55; i++) refs.push_back(ray::Task(OuterPlusOne).SetResource("r1", 1).Remote(i));
    for (int i = 0; i < 55; i++) wrong += *ray::Get(refs[i]) != i + 1;
    std::cout << "leaseblock wrong " << wrong << std::endl;
  } else if (mode == "workerkiller") {
    // Chaos (Ray's test_chaos): many small tasks with a known result, with no limit on retries,
    // while the test kills a random worker process of the cluster every 100 ms.
    int n = argc > 2 ? std::atoi(argv[2]) : 10000;
    auto start = std::chrono::steady_clock::now();
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(n);
    for (int i = 0; i < n; i++) refs.push_back(ray::Task(ChaosPlusOne).SetMaxRetries(-1).Remote(i));
    ReportChaosTasks("workerkiller", refs, [](int i) { return i + 1; }, start);
  } else if (mode == "nodekiller") {
    // Chaos (Ray's test_chaos actor case): actors with no limit on restarts and call retries,
    // spread over the two nodes the test kills in turn (only they have the resource "chaos"), get
    // calls at a steady pace while the test kills a node and starts it again every few seconds. Every call's effect must come back, and each actor's state must
    // be consistent: along its calls, incarnations follow each other (never back to an old one),
    // and within one the count of calls it ran grows with every call.
    int actors = argc > 2 ? std::atoi(argv[2]) : 16;
    int calls = argc > 3 ? std::atoi(argv[3]) : 300;
    int pace_ms = argc > 4 ? std::atoi(argv[4]) : 20;
    auto start = std::chrono::steady_clock::now();
    std::vector<ray::ActorHandle<Tally>> handles;
    for (int a = 0; a < actors; a++) {
      handles.push_back(ray::Actor(Tally::Make)
                            .SetMaxRestarts(-1)
                            .SetMaxTaskRetries(-1)
                            .SetResources({{"CPU", 0.1}, {"chaos", 1}})
                            .SetSchedulingStrategy(ray::SpreadSchedulingStrategy())
                            .Remote());
    }
    std::vector<std::vector<ray::ObjectRef<std::string>>> refs(actors);
    for (int i = 0; i < calls; i++) {
      for (int a = 0; a < actors; a++) refs[a].push_back(handles[a].Task(&Tally::Add).Remote(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    }
    int wrong = 0, lost = 0, restarts = 0;
    for (int a = 0; a < actors; a++) {
      std::vector<std::string> seen;  // incarnations in the order the calls met them
      int last_count = 0;
      std::string last_reply;
      for (int i = 0; i < calls; i++) {
        try {
          std::istringstream in(*ray::Get(refs[a][i]));
          std::string token;
          int count = -1, arg = -1;
          in >> token >> count >> arg;
          bool fresh = seen.empty() || seen.back() != token;
          bool old = fresh && std::find(seen.begin(), seen.end(), token) != seen.end();
          if (fresh) seen.push_back(token), last_count = 0;
          if (arg != i || old || count <= last_count) {
            if (wrong++ == 0) {
              std::cout << "first wrong: actor " << a << " call " << i << ": " << in.str()
                        << " (the call before: " << last_reply << ")" << std::endl;
            }
          }
          last_count = count;
          last_reply = in.str();
        } catch (const std::exception &e) {
          if (lost++ == 0) std::cout << "first lost: " << e.what() << std::endl;
        }
      }
      restarts += seen.empty() ? 0 : int(seen.size()) - 1;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "nodekiller actors " << actors << " calls " << actors * calls << " wrong " << wrong << " lost "
              << lost << " restarts " << restarts << " seconds " << seconds << std::endl;
  } else if (mode == "nestedkiller") {
    // Chaos with nested tasks: each task, spread over the two nodes the test kills in turn,
    // submits a task that returns 50 KiB (placed by the default policy: there, or anywhere) and
    // sums it. Every sum must be right.
    int n = argc > 2 ? std::atoi(argv[2]) : 400;
    int pace_ms = argc > 3 ? std::atoi(argv[3]) : 10;
    auto start = std::chrono::steady_clock::now();
    std::vector<ray::ObjectRef<int64_t>> refs;
    for (int i = 0; i < n; i++) {
      refs.push_back(ray::Task(NestedFifty)
                         .SetMaxRetries(-1)
                         .SetResources({{"CPU", 1}, {"chaos", 1}})
                         .SetSchedulingStrategy(ray::SpreadSchedulingStrategy())
                         .Remote(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    }
    ReportChaosTasks("nestedkiller", refs, FiftySum, start);
  } else if (mode == "infeasible") {
    auto r = ray::Task(WhereAmI).SetResource("nowhere", 1).Remote(0);
    std::vector<ray::ObjectRef<std::string>> refs{r};
    auto ready = ray::Wait(refs, 1, 1500);
    std::cout << "infeasible ready " << ready.ready.size() << " unready " << ready.unready.size() << std::endl;
  } else if (mode == "metrics") {
    // A task on node B records there; the driver records on its own node.
    std::cout << "metrics task " << *ray::Get(ray::Task(CountHandled).SetResource("r1", 1).Remote(std::string("task"), 5)) << std::endl;
    CountHandled("driver", 2);
  } else if (mode == "gpu") {
    auto devices = [] { return ray::Task(VisibleDevices).SetResource("GPU", 1); };
    auto a = devices().Remote(1000);
    auto b = devices().Remote(1000);
    std::set<std::string> both{*ray::Get(a), *ray::Get(b)};
    std::string joined;
    for (auto &d : both) joined += (joined.empty() ? "" : ",") + d;
    std::cout << "gpu tasks " << joined << std::endl;
    auto actor = ray::Actor(Counter::Make).SetResource("GPU", 1).Remote(0);
    std::string first = *ray::Get(actor.Task(&Counter::Devices).Remote());
    std::cout << "gpu actor " << first << " then " << *ray::Get(actor.Task(&Counter::Devices).Remote()) << std::endl;
    std::cout << "gpu none [" << *ray::Get(ray::Task(VisibleDevices).SetResource("r1", 1).Remote(0)) << "]" << std::endl;
  } else if (mode == "context") {
    auto here = ray::GetRuntimeContext();
    std::string there = *ray::Get(ray::Task(JobAndNode).SetResource("r1", 1).Remote());
    std::string job = there.substr(0, there.find(' '));
    std::string node = there.substr(there.find(' ') + 1);
    std::cout << "context job " << (job == here.GetCurrentJobId() ? "same" : "differs " + job + " " + here.GetCurrentJobId())
              << " node " << (node != here.GetCurrentNodeId() && node.size() == 32 ? "other" : "same " + node) << std::endl;
    int alive = 0, heads = 0, with_node = 0;
    auto nodes = ray::RuntimeContext::GetAllNodeInfo();
    for (auto &n : nodes) {
      alive += n.is_alive;
      heads += n.is_head;
      with_node += n.node_id == node;
    }
    std::cout << "context nodes " << nodes.size() << " alive " << alive << " heads " << heads
              << " listed " << with_node << std::endl;
  } else if (mode == "workdir") {
    std::cout << "workdir task " << *ray::Get(ray::Task(ReadHere).SetResource("r1", 1).Remote(std::string("data.txt"))) << std::endl;
    auto actor = ray::Actor(Counter::Make).SetResource("r2", 1).Remote(0);
    std::cout << "workdir actor " << *ray::Get(actor.Task(&Counter::ReadHere).Remote(std::string("data.txt"))) << std::endl;
  } else if (mode == "placement") {
    // Placement groups over the four nodes (head, B, C, D: 2 CPUs each).
    auto create = [](std::string name, ray::PlacementStrategy strategy,
                     std::vector<std::unordered_map<std::string, double>> bundles) {
      return ray::CreatePlacementGroup(ray::PlacementGroupCreationOptions{name, bundles, strategy});
    };
    auto where_in = [](ray::PlacementGroup &pg, int i) {
      return *ray::Get(ray::Task(WhereAmI).SetPlacementGroup(pg, i).SetResources({{"CPU", 0.5}}).Remote(0));
    };
    auto spread = create("", ray::PlacementStrategy::STRICT_SPREAD, {{{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}, {{"CPU", 1}}});
    std::cout << "pg spread created " << spread.Wait(30) << std::endl;
    std::set<std::string> nodes;
    for (int i = 0; i < 4; i++) nodes.insert(where_in(spread, i));
    std::cout << "pg spread nodes " << nodes.size() << std::endl;
    // More bundles than nodes, each on a node of its own: pending.
    auto five = create("", ray::PlacementStrategy::STRICT_SPREAD, std::vector<std::unordered_map<std::string, double>>(5, {{"CPU", 0.1}}));
    bool five_ready = five.Wait(3);
    std::cout << "pg five " << five_ready << " state " << ray::GetPlacementGroupById(five.GetID()).GetState() << std::endl;
    ray::RemovePlacementGroup(five.GetID());
    // STRICT_PACK with r1: both bundles on node B.
    auto pack = create("", ray::PlacementStrategy::STRICT_PACK, {{{"CPU", 0.5}, {"r1", 1}}, {{"CPU", 0.5}}});
    std::cout << "pg pack created " << pack.Wait(30) << std::endl;
    std::cout << "pg pack on " << where_in(pack, 0) << " " << where_in(pack, 1) << std::endl;
    // An actor in a bundle dies with its group, whatever its restarts.
    auto actor = ray::Actor(Counter::Make).SetPlacementGroup(pack, 1).SetMaxRestarts(-1).Remote(0);
    std::cout << "pg actor " << *ray::Get(actor.Task(&Counter::Add).Remote(1)) << " on "
              << *ray::Get(actor.Task(&Counter::Where).Remote()) << std::endl;
    ray::RemovePlacementGroup(pack.GetID());
    std::string outcome = "alive";
    for (int i = 0; i < 100 && outcome == "alive"; i++) {
      try {
        ray::Get(actor.Task(&Counter::Add).Remote(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      } catch (const ray::internal::RayActorException &e) {
        outcome = std::string("killed: ") + e.what();
      }
    }
    std::cout << "pg actor " << outcome << std::endl;
    // A named group that a driver on node C finds, waits for and removes.
    auto named = create("pgshared", ray::PlacementStrategy::PACK, {{{"CPU", 0.5}}});
    std::cout << "pg named created " << named.Wait(30) << std::endl;
    std::cout << "pg named ready" << std::endl;
    bool removed = false;
    for (int i = 0; i < 600 && !removed; i++) {
      removed = ray::GetPlacementGroupById(named.GetID()).GetState() == ray::PlacementGroupState::REMOVED;
      if (!removed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::cout << "pg named removed by another driver " << removed << std::endl;
    ray::RemovePlacementGroup(spread.GetID());
    // Everything came back: every CPU of the cluster in one group.
    auto all = create("", ray::PlacementStrategy::STRICT_SPREAD, std::vector<std::unordered_map<std::string, double>>(4, {{"CPU", 2}}));
    std::cout << "pg all back " << all.Wait(30) << std::endl;
    ray::RemovePlacementGroup(all.GetID());
  } else if (mode == "pgfind") {
    auto g = ray::GetPlacementGroup("pgshared");
    if (g.Empty()) {
      std::cout << "pgfind none" << std::endl;
    } else {
      bool listed = false;
      for (auto &other : ray::GetAllPlacementGroups()) listed = listed || other.GetID() == g.GetID();
      std::cout << "pgfind found state " << g.GetState() << " wait " << g.Wait(10) << " listed " << listed << std::endl;
      ray::RemovePlacementGroup(g.GetID());
      std::cout << "pgfind removed" << std::endl;
    }
  } else if (mode == "detached") {
    // A detached named actor outlives this driver.
    auto c = ray::Actor(Counter::Make).SetName("keeper").SetResource("r1", 1).Remote(10);
    std::cout << "added " << *ray::Get(c.Task(&Counter::Add).Remote(5)) << std::endl;
  } else if (mode == "find") {
    auto c = ray::GetActor<Counter>("keeper");
    if (!c) {
      std::cout << "not found" << std::endl;
    } else {
      std::cout << "found, added " << *ray::Get(c->Task(&Counter::Add).Remote(1)) << std::endl;
    }
  } else if (mode == "actor") {
    // An actor placed on the node with r1, called from this driver.
    auto c = ray::Actor(Counter::Make).SetResource("r1", 1).Remote(0);
    int last = 0;
    for (int i = 0; i < 100; i++) last = *ray::Get(c.Task(&Counter::Add).Remote(1));
    std::cout << "actor sum " << last << " on " << *ray::Get(c.Task(&Counter::Where).Remote()) << std::endl;
    // Large arguments and results (they live in shared memory on their own nodes).
    auto big = MakeBig(3 << 20, 1);
    auto by_value = *ray::Get(c.Task(&Counter::Reverse).Remote(big));
    auto put = ray::Put(big);
    auto by_ref = *ray::Get(c.Task(&Counter::Reverse).Remote(put));
    bool ok = by_value.size() == big.size() && by_ref == by_value &&
              std::equal(big.rbegin(), big.rend(), by_value.begin());
    std::cout << "actor big " << (ok ? "ok" : "wrong") << " " << by_value.size() << std::endl;
  } else if (mode == "code") {
    // The test removes this program's files while it waits: node B runs its task from the
    // copies it fetched from the cluster.
    std::cout << "waiting" << std::endl;
    std::string signal = argc > 2 ? argv[2] : "";
    for (int i = 0; i < 600 && std::ifstream(signal).fail(); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto r = ray::Task(CodePath).SetResource("r1", 1).Remote();
    std::cout << "code from " << *ray::Get(r) << std::endl;
  } else if (mode == "strategy") {
    // goray's scheduling strategies (Ray's Python ones, for C++).
    std::string node_c = argc > 2 ? argv[2] : "";
    std::vector<ray::ObjectRef<std::string>> refs;
    for (int i = 0; i < 4; i++) {
      refs.push_back(ray::Task(WhereAmI).SetSchedulingStrategy(ray::SpreadSchedulingStrategy()).Remote(500));
    }
    std::map<std::string, int> where;
    for (auto &r : refs) where[*ray::Get(r)]++;
    std::cout << "spread nodes " << where.size() << std::endl;
    auto pinned = ray::Task(WhereAmI).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_c)).Remote(0);
    std::cout << "affinity task on " << *ray::Get(pinned) << std::endl;
    auto actor = ray::Actor(Counter::Make).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_c)).Remote(0);
    std::cout << "affinity actor on " << *ray::Get(actor.Task(&Counter::Where).Remote()) << std::endl;
    auto nowhere = ray::Task(WhereAmI)
                       .SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(std::string(31, '0') + "1"))
                       .Remote(0);
    try {
      auto got = *ray::Get(nowhere);
      std::cout << "hard affinity ran on " << got << std::endl;
    } catch (const std::exception &e) {
      std::cout << "hard affinity failed: " << e.what() << std::endl;
    }
    auto soft = ray::Task(Plus)
                    .SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(std::string(31, '0') + "1", true))
                    .Remote(2, 3);
    std::cout << "soft affinity " << *ray::Get(soft) << std::endl;
  } else if (mode == "doomed") {
    std::string node_d = argc > 2 ? argv[2] : "";
    // A big object made on node D (argv[2]: D's id) by a task with a soft affinity to it, left
    // there (nobody here asked for it yet): read after D dies, it is made again from its lineage.
    // A task that sleeps on D, submitted after it, tells that it is made. (First, tasks with that
    // soft affinity run until one runs on D: then this node sees room there for it.)
    auto on_d = [&] {
      return ray::Task(WhereAmI).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_d, true));
    };
    std::string d_session = *ray::Get(ray::Task(WhereAmI).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_d)).Remote(0));
    for (int i = 0; i < 100 && *ray::Get(on_d().Remote(0)) != d_session; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto big = ray::Task(MakeBig)
                   .SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_d, true))
                   .Remote(4 << 20, 3);
    auto big0 = ray::Task(MakeBig)
                    .SetMaxRetries(0)
                    .SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_d, true))
                    .Remote(1 << 20, 4);
    ray::Get(ray::Task(WhereAmI).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_d)).Remote(300));
    std::cout << "big " << Hex(big.ID()) << std::endl;
    // Work on the node with r3, which the test kills: it fails with an error naming the node,
    // and the rest of the cluster goes on.
    auto task = ray::Task(WhereAmI).SetResource("r3", 1).Remote(20000);
    auto actor = ray::Actor(Counter::Make).SetResource("r3", 1).Remote(0);
    std::cout << "actor up " << *ray::Get(actor.Task(&Counter::Add).Remote(1)) << std::endl;
    // Objects the actor on D puts and hands here: its process owns them, and dies with D.
    auto inner = *ray::Get(actor.Task(&Counter::PutInner).Remote(1 << 20));
    // A SPREAD placement group with a bundle on each live node (the head, B, C and D): when D
    // dies, its bundle is placed again on another node.
    auto pg = ray::CreatePlacementGroup(ray::PlacementGroupCreationOptions{
        "", std::vector<std::unordered_map<std::string, double>>(4, {{"CPU", 0.25}}), ray::PlacementStrategy::SPREAD});
    auto in_bundle = [&pg](int i) {
      return ray::Task(WhereAmI).SetPlacementGroup(pg, i).SetResources({{"CPU", 0.25}}).Remote(0);
    };
    std::set<std::string> pg_nodes;
    if (pg.Wait(60)) {
      for (int i = 0; i < 4; i++) pg_nodes.insert(*ray::Get(in_bundle(i)));
    }
    std::cout << "pg nodes " << pg_nodes.size() << " on D " << pg_nodes.count(d_session) << std::endl;
    // An actor that may restart, placed on node D by a soft affinity, with unlimited call
    // retries: its call in flight when D dies runs on its new instance elsewhere.
    auto mover = ray::Actor(Counter::Make)
                     .SetMaxRestarts(1)
                     .SetMaxTaskRetries(-1)
                     .SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy(node_d, true))
                     .Remote(0);
    std::cout << "mover up " << *ray::Get(mover.Task(&Counter::Add).Remote(5)) << " on "
              << *ray::Get(mover.Task(&Counter::Where).Remote()) << std::endl;
    auto moving = mover.Task(&Counter::SlowWhere).Remote(3000);
    std::cout << "ready" << std::endl;
    try {
      auto where = *ray::Get(task);
      std::cout << "task returned " << where << std::endl;
    } catch (const std::exception &e) {
      std::cout << "task failed: " << e.what() << std::endl;
    }
    // (Its process may take a moment to notice its node is gone; a call it still answered would
    // be no failure of the cluster.)
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    try {
      int n = *ray::Get(actor.Task(&Counter::Add).Remote(1));
      std::cout << "actor returned " << n << std::endl;
    } catch (const std::exception &e) {
      std::cout << "actor failed: " << e.what() << std::endl;
    }
    try {
      std::cout << "mover call ran on " << *ray::Get(moving) << std::endl;
    } catch (const std::exception &e) {
      std::cout << "mover call failed: " << e.what() << std::endl;
    }
    bool moved = false;
    for (int attempt = 0; attempt < 60 && !moved; attempt++) {
      if (ray::GetPlacementGroupById(pg.GetID()).GetState() == ray::PlacementGroupState::CREATED) {
        moved = true;
        for (int i = 0; i < 4 && moved; i++) {
          try {
            moved = *ray::Get(in_bundle(i), 10000) != d_session;
          } catch (const std::exception &e) {
            moved = false;
          }
        }
      }
      if (!moved) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::cout << "pg rescheduled off D " << moved << std::endl;
    std::cout << "rest " << *ray::Get(ray::Task(Plus).Remote(1, 2)) << " "
              << *ray::Get(ray::Task(Plus).SetResource("r1", 1).Remote(2, 2)) << std::endl;
    try {
      auto v = *ray::Get(big);
      bool right = v.size() == size_t(4 << 20);
      for (size_t i = 0; right && i < v.size(); i++) right = v[i] == uint8_t((i * 7 + 3) % 251);
      std::cout << "lineage " << v.size() << (right ? " right" : " wrong") << std::endl;
    } catch (const std::exception &e) {
      std::cout << "lineage failed: " << e.what() << std::endl;
    }
    try {
      auto size = ray::Get(big0)->size();
      std::cout << "lost? " << size << std::endl;
    } catch (const ray::internal::OwnerDiedError &e) {
      std::cout << "lost: OwnerDiedError: " << e.what() << std::endl;
    } catch (const ray::internal::ObjectLostError &e) {
      std::cout << "lost: ObjectLostError: " << e.what() << std::endl;
    }
    try {
      auto size = ray::Get(inner[1])->size();
      std::cout << "owner alive? " << size << std::endl;
    } catch (const ray::internal::OwnerDiedError &e) {
      std::cout << "owner died: " << e.what() << std::endl;
    } catch (const std::exception &e) {
      std::cout << "owner's object failed otherwise: " << e.what() << std::endl;
    }
  } else {
    std::cerr << "unknown mode " << mode << std::endl;
    ray::Shutdown();
    return 2;
  }
  ray::Shutdown();
  return 0;
}
