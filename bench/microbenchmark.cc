// goray microbenchmark: Ray's `ray microbenchmark` (python/ray/_private/ray_perf.py) for Ray's C++
// API, plus the machine's floor (unix-socket round trip, memcpy) and init_to_first_result.
//
// Build it twice, like any goray program: the executable and the same file as a .so next to it
// (the workers load the RAY_REMOTE functions from it). bench/run.sh does both and runs it.
//
//   microbenchmark [--mode=node|local|both|cluster|all] [--reps=N] [--quick] [--only=m1,m2,...]
//                  [--list]
//
//   --mode    node: embedded node, tasks and actors in worker processes (default);
//             local: config.local_mode = true, everything in this process; both: local, then node
//             (in that order, so that memory the node mode keeps cannot skew the local run);
//             cluster: the cross_node_* metrics on a running cluster of three nodes (see "Cluster
//             mode" below; needs RAY_ADDRESS); all: node, then cluster.
//   --reps    timed repetitions per metric (default 5; 1 with --quick). Each repetition is a loop
//             sized from the warm-up to take about 0.7 s (0.1 s with --quick).
//   --quick   smoke run: 1 repetition, short loops, small sizes.
//   --only    run only these metrics (names below; the machine floor is always measured).
//   --list    print the metric names and exit.
//
// Output (stdout): a table (lines start with "|" or "#"), then one JSON line per metric and mode:
//   {"metric": ..., "value": median, "unit": ..., "mode": "node"|"local", "min": ..., "max": ...,
//    "reps": ...} (+ "ratio_to_floor" where one applies, "error"/"skipped" with value null).
// The machine floor is reported with "mode": "machine". Progress goes to stderr. The exit code is 1
// when any metric failed (an error is reported in the table and the JSON line, never hidden).
// A failed check voids the metric (value null). The driver's RSS is kept under 2.5 GiB: a metric that
// exceeds it stops, and its JSON line keeps the value of the repetitions it completed, with "error".
//
// Definitions (Ray's): one op of an "async" metric is a batch of 1,000 submissions followed by one
// Get of all of them, counted as 1,000 calls; "sync" waits for each result. multi_client_tasks_async:
// 4 client actors each submit N tasks and get them. 1_n: one client actor calls n actors;
// n_n: 4 tasks each call n actors round robin; n_n_with_arg: n client actors each call their own
// actor with a small ObjectRef argument (Ray's code). n = max(2, cores / 2) (Ray: cores / 2, which
// is 1 on a 2-core machine and would make 1_n a 1:1). tasks_and_get_batch: one op = 1,000 tasks
// submitted and got. get_object_containing_10k_refs: one op = Get of an object holding 10,000 refs.
// wait_1k_refs: one op = submit 1,000 tasks, then Wait(num_objects = 1) until none is left (Ray's
// loop). put_gigabytes: Put of a 256 MiB byte array (GB = 1e9 bytes, as Ray counts).
// Every op checks its results (sums, sizes, values) and throws on a mismatch.
//
// Local mode runs every metric: tasks and actors run on threads of this process, so the
// "multi_client" and n-actor metrics measure the in-process scheduler with several concurrent
// submitters rather than processes; none of them is meaningless there (placement groups live in
// the process too).
//
// Machine floor (measured first, before ray::Init): a unix-socket ping-pong of 64-byte messages
// with a forked child, memcpy of a 512 MiB buffer (warm pages; median of 5), and the same copy into
// freshly allocated memory (page faults included: what a copy into a new buffer costs here).
// init_to_first_result: this binary run as a child with --init-probe, timed from posix_spawn to
// the line it prints after its first task result; the child reports ray::Init alone (init_only).
//
// Cluster mode (bench/run.sh starts the cluster with `ray start` and sets RAY_ADDRESS): the driver
// attaches to the head node (127.0.0.1, its machine's node at the control store's host); a second
// node on 127.0.0.2 has the custom resource "bench_remote", which every cross_node_* task and actor
// asks for, so they run there (checked: the worker reports its node's IP) and results, calls and
// objects cross between the nodes over TCP. A third node (127.0.0.3) holds a bundle of each group
// of cross_node_placement_group_create_removal: 100 groups of three bundles (STRICT_SPREAD, one
// per node) created, waited for and removed per op. The nodes share this machine's cores.
//   cross_node_tasks_sync / _async, cross_node_actor_calls_sync / _async: as the single-node
//   metrics (async: batches of 1,000), the actor created on node B.
//   cross_node_object_transfer (GB/s): a task on node B takes a 1 GiB ObjectRef argument (Put on
//   the driver's node just before, untimed; 256 MiB with --quick) and returns its size. The same
//   task also runs on the driver's node (resource "bench_local", which only the head has) with
//   another such object, where no transfer happens. The difference of their times (from
//   submission to result; each repetition measures both) is the transfer time: the rest (the
//   worker's deserialization of the argument into a new std::vector, the scheduling) is the same
//   in both. Beside it (not in the figure): the rate end to end, the task on node B minus a task
//   with a tiny argument, which counts the deserialization as part of the move.
// Their floors, measured before ray::Init: a TCP ping-pong of 64-byte messages over 127.0.0.1
// with a forked child (TCP_NODELAY), and the bandwidth of one TCP connection over 127.0.0.1
// (1 GiB written in 4 MiB writes to a forked child that reads and counts it; median of reps).
// With --mode=all the table sets each cross-node figure beside its single-node counterpart of the
// same run (--only with a cross_node_* metric then selects that counterpart too).

#include <ray/api.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char **environ;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void Check(bool ok, const std::string &what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

// The driver's resident memory (MiB).
long RssMiB() {
  long pages = 0, resident = 0;
  if (FILE *f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024) / 1024;
}

// The benchmark keeps the driver under this much resident memory (the machine is shared): a
// metric that goes beyond stops, keeps the repetitions it completed and reports the overrun as
// its error.
constexpr long kRssBudgetMiB = 2560;
struct BudgetExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void CheckMemoryBudget(const std::string &what) {
  long rss = RssMiB();
  if (rss > kRssBudgetMiB) {
    throw BudgetExceeded("driver RSS " + std::to_string(rss) + " MiB > budget " +
                         std::to_string(kRssBudgetMiB) + " MiB " + what);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Remote functions and actors (Ray's ray_perf.py, in C++).

int SmallValue() { return 1; }

// Submits n SmallValue tasks and gets them; returns their sum (n when all is well).
int SmallValueBatch(int n) {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; i++) refs.push_back(ray::Task(SmallValue).Remote());
  int sum = 0;
  for (auto &v : ray::Get(refs)) sum += *v;
  return sum;
}

// Ray's create_object_containing_ref: n refs to ray.put(1).
std::vector<ray::ObjectRef<int>> CreateObjectContainingRefs(int n) {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; i++) refs.push_back(ray::Put(1));
  return refs;
}

// Ray's do_put_small: n small puts; returns n after checking the last one.
int DoPutSmall(int n) {
  ray::ObjectRef<int> last;
  for (int i = 0; i < n; i++) last = ray::Put(i);
  int v = *ray::Get(last);
  if (v != n - 1) return -1;
  return n;
}

// Cluster mode: the node a worker runs on: the IP in GORAY_NODE_IP, which a cluster's node sets
// for its workers (the C++ API has no runtime context to ask); empty if unknown.
std::string NodeIp() {
  const char *ip = std::getenv("GORAY_NODE_IP");
  return ip ? ip : "";
}

// The byte pattern of the objects cross_node_object_transfer moves (checked on both sides).
void FillPattern(std::vector<uint8_t> &v) {
  for (size_t i = 0; i < v.size(); i += 4096) v[i] = static_cast<uint8_t>(i >> 12);
  if (!v.empty()) v.back() = 0xab;
}
bool HasPattern(const std::vector<uint8_t> &v) {
  if (v.empty() || v.back() != 0xab) return false;
  size_t step = std::max<size_t>(4096, (v.size() / 64) & ~size_t{4095});
  for (size_t i = 0; i + 1 < v.size(); i += step) {
    if (v[i] != static_cast<uint8_t>(i >> 12)) return false;
  }
  return true;
}

// cross_node_object_transfer: the size of the argument (-1 if its bytes are wrong).
int64_t ArgSize(std::vector<uint8_t> v) {
  return HasPattern(v) ? static_cast<int64_t>(v.size()) : -1;
}

class BenchActor {
 public:
  static BenchActor *FactoryCreate() { return new BenchActor(); }
  int SmallValue() { return 1; }
  std::string NodeIp() { return ::NodeIp(); }
  int SmallValueArg(int x) { return x == 7 ? 1 : -1000000; }  // the arg is a ref to Put(7)
  int SmallValueBatch(int n) { return ::SmallValueBatch(n); }
};

// Ray's n:n "work": n calls spread round robin over the actors; returns the sum of the results.
int Work(std::vector<ray::ActorHandle<BenchActor>> actors, int n) {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; i++) {
    refs.push_back(actors[i % actors.size()].Task(&BenchActor::SmallValue).Remote());
  }
  int sum = 0;
  for (auto &v : ray::Get(refs)) sum += *v;
  return sum;
}

// Ray's Client actor: calls its servers.
class BenchClient {
 public:
  explicit BenchClient(std::vector<ray::ActorHandle<BenchActor>> servers)
      : servers_(std::move(servers)) {}
  static BenchClient *FactoryCreate(std::vector<ray::ActorHandle<BenchActor>> servers) {
    return new BenchClient(std::move(servers));
  }
  // n calls to each server; returns the sum of the results (n * servers).
  int SmallValueBatch(int n) {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(n * servers_.size());
    for (auto &s : servers_) {
      for (int i = 0; i < n; i++) refs.push_back(s.Task(&BenchActor::SmallValue).Remote());
    }
    int sum = 0;
    for (auto &v : ray::Get(refs)) sum += *v;
    return sum;
  }
  // The same with a small ObjectRef argument (Ray: x = ray.put(0)).
  int SmallValueBatchArg(int n) {
    auto x = ray::Put(7);
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(n * servers_.size());
    for (auto &s : servers_) {
      for (int i = 0; i < n; i++) refs.push_back(s.Task(&BenchActor::SmallValueArg).Remote(x));
    }
    int sum = 0;
    for (auto &v : ray::Get(refs)) sum += *v;
    return sum;
  }

 private:
  std::vector<ray::ActorHandle<BenchActor>> servers_;
};

RAY_REMOTE(SmallValue, SmallValueBatch, CreateObjectContainingRefs, DoPutSmall, Work, NodeIp,
           ArgSize, BenchActor::FactoryCreate, &BenchActor::SmallValue, &BenchActor::SmallValueArg,
           &BenchActor::SmallValueBatch, &BenchActor::NodeIp, BenchClient::FactoryCreate,
           &BenchClient::SmallValueBatch, &BenchClient::SmallValueBatchArg);

// ---------------------------------------------------------------------------------------------
// Harness.

namespace {

struct Options {
  std::vector<std::string> modes = {"node"};
  int reps = 5;
  bool quick = false;
  std::set<std::string> only;
  double target_s = 0.7;  // length of one timed repetition
  double warm_s = 0.3;    // length of the warm-up
};
Options g_opt;

// Cluster mode: the head's address (RAY_ADDRESS when the program started), and the node that has
// the custom resource every cross-node task and actor asks for (bench/run.sh starts it).
std::string g_cluster_address;
const char *const kRemoteResource = "bench_remote";
const char *const kRemoteNodeIp = "127.0.0.2";
// The driver's node (the head) has this one (for the transfer's same-node comparison).
const char *const kLocalResource = "bench_local";
const char *const kLocalNodeIp = "127.0.0.1";

struct Result {
  std::string metric, mode, unit;
  std::vector<double> samples;
  std::string error;    // non-empty: the metric failed
  std::string skipped;  // non-empty: not measured, and why
  std::string note;
  double ratio_to_floor = NAN;
  double ratio_to_single_node = NAN;  // cluster mode: median / the single-node figure of the run
  std::string ratio_label;
  bool lower_is_better = false;
  double Median() const {
    std::vector<double> s = samples;
    std::sort(s.begin(), s.end());
    size_t n = s.size();
    if (n == 0) return NAN;
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double Min() const { return samples.empty() ? NAN : *std::min_element(samples.begin(), samples.end()); }
  double Max() const { return samples.empty() ? NAN : *std::max_element(samples.begin(), samples.end()); }
};
std::vector<Result> g_results;

// Ray 2.48 figures and goray targets (docs/benchmarks.md).
struct Reference {
  double ray;
  double target;
  std::string ray_text, target_text;
};
const std::map<std::string, Reference> kReference = {
    {"single_client_tasks_sync", {981, 5000, "981", "5,000"}},
    {"single_client_tasks_async", {8041, 30000, "8,041", "30,000"}},
    {"multi_client_tasks_async", {21230, 40000, "21,230", "40,000"}},
    {"single_client_tasks_and_get_batch", {5.8, 20, "5.8", "20"}},
    {"1_1_actor_calls_sync", {2012, 8000, "2,012", "8,000"}},
    {"1_1_actor_calls_async", {8664, 50000, "8,664", "50,000"}},
    {"1_1_actor_calls_concurrent", {5775, 20000, "5,775", "20,000"}},
    {"1_n_actor_calls_async", {8038, 40000, "8,038", "40,000"}},
    {"n_n_actor_calls_async", {27376, 60000, "27,376", "60,000"}},
    {"n_n_actor_calls_with_arg_async", {2759, 10000, "2,759", "10,000"}},
    {"single_client_get_calls", {10620, 100000, "10,620", "100,000"}},
    {"single_client_put_calls", {5173, 100000, "5,173", "100,000"}},
    {"multi_client_put_calls", {16526, 100000, "16,526", "100,000"}},
    {"single_client_put_gigabytes", {19.9, 5, "19.9", "~5 (50% memcpy)"}},
    {"single_client_get_object_containing_10k_refs", {13.4, 50, "13.4", "50"}},
    {"single_client_wait_1k_refs", {5.1, 50, "5.1", "50"}},
    {"placement_group_create_removal", {765, 5000, "765", "5,000"}},
    {"init_to_first_result", {NAN, 100, "seconds", "100"}},
    // Cluster targets are relative: async >= 50% of the single-node async figure of the same run
    // (--mode=all), the transfer >= 50% of the loopback TCP bandwidth (docs/benchmarks.md).
    {"cross_node_tasks_sync", {NAN, NAN, "-", "-"}},
    {"cross_node_tasks_async", {NAN, NAN, "-", "50% of node"}},
    {"cross_node_actor_calls_sync", {NAN, NAN, "-", "-"}},
    {"cross_node_actor_calls_async", {NAN, NAN, "-", "50% of node"}},
    {"cross_node_object_transfer", {NAN, NAN, "-", "50% of TCP"}},
    {"cross_node_placement_group_create_removal", {765, 5000, "765", "5,000"}},
};

// The single-node counterpart of a cross-node metric ("" if none).
std::string SingleNodeCounterpart(const std::string &metric) {
  if (metric == "cross_node_tasks_sync") return "single_client_tasks_sync";
  if (metric == "cross_node_tasks_async") return "single_client_tasks_async";
  if (metric == "cross_node_actor_calls_sync") return "1_1_actor_calls_sync";
  if (metric == "cross_node_actor_calls_async") return "1_1_actor_calls_async";
  return "";
}

const std::vector<std::string> kMetrics = {
    "single_client_tasks_sync",
    "single_client_tasks_async",
    "multi_client_tasks_async",
    "single_client_tasks_and_get_batch",
    "1_1_actor_calls_sync",
    "1_1_actor_calls_async",
    "1_1_actor_calls_concurrent",
    "1_n_actor_calls_async",
    "n_n_actor_calls_async",
    "n_n_actor_calls_with_arg_async",
    "single_client_get_calls",
    "single_client_put_calls",
    "multi_client_put_calls",
    "single_client_put_gigabytes",
    "single_client_get_object_containing_10k_refs",
    "single_client_wait_1k_refs",
    "placement_group_create_removal",
    "init_to_first_result",
    // --mode=cluster
    "cross_node_tasks_sync",
    "cross_node_tasks_async",
    "cross_node_actor_calls_sync",
    "cross_node_actor_calls_async",
    "cross_node_object_transfer",
    "cross_node_placement_group_create_removal",
};

bool Selected(const std::string &metric) {
  return g_opt.only.empty() || g_opt.only.count(metric) > 0;
}

// A watchdog: a metric that takes longer than this is reported as hung and the process exits, so
// a broken path cannot make the benchmark hang forever.
std::atomic<int64_t> g_deadline_ns{0};
std::atomic<const char *> g_current{""};
void StartWatchdog() {
  std::thread([] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      int64_t d = g_deadline_ns.load();
      if (d != 0 && Clock::now().time_since_epoch().count() > d) {
        std::fprintf(stderr, "ERROR: %s did not finish in time (hung?); exiting\n", g_current.load());
        std::printf("{\"metric\": \"%s\", \"value\": null, \"error\": \"timed out (watchdog)\"}\n",
                    g_current.load());
        std::fflush(nullptr);
        _exit(3);
      }
    }
  }).detach();
}
void ArmWatchdog(const char *metric, double seconds) {
  g_current = metric;
  g_deadline_ns = (Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds)))
                      .time_since_epoch()
                      .count();
}
void DisarmWatchdog() { g_deadline_ns = 0; }

// Runs `setup` once, then `op` for a warm-up, then g_opt.reps timed loops; each sample is
// units_per_op * iterations / seconds. `verify` (optional) runs after each timed loop, untimed.
void Measure(const std::string &metric, const std::string &mode, const std::string &unit,
             double units_per_op, const std::function<void()> &setup,
             const std::function<void()> &op, const std::function<void()> &verify = nullptr,
             const std::function<void()> &teardown = nullptr) {
  if (!Selected(metric)) return;
  Result r;
  r.metric = metric;
  r.mode = mode;
  r.unit = unit;
  std::fprintf(stderr, "[%s] %s ...", mode.c_str(), metric.c_str());
  std::fflush(stderr);
  static std::string current;
  current = metric + " (" + mode + ")";
  // Cross-node metrics get longer: a slow path there (cross_node_tasks_async takes about 50 s per
  // op today) must read as slow, not as hung.
  ArmWatchdog(current.c_str(),
              metric == "single_client_put_gigabytes" || metric.rfind("cross_node_", 0) == 0 ? 900
                                                                                          : 300);
  int iters = 0;
  try {
    if (setup) setup();
    // Warm-up: at least one op, then until warm_s has passed; estimates the op's duration.
    auto w0 = Clock::now();
    int warm_ops = 0;
    do {
      op();
      warm_ops++;
    } while (Seconds(w0, Clock::now()) < g_opt.warm_s);
    double per_op = Seconds(w0, Clock::now()) / warm_ops;
    iters = std::max(1, static_cast<int>(std::lround(g_opt.target_s / per_op)));
    if (verify) verify();
    CheckMemoryBudget("after the warm-up");
    for (int rep = 0; rep < g_opt.reps; rep++) {
      auto t0 = Clock::now();
      for (int i = 0; i < iters; i++) op();
      double s = Seconds(t0, Clock::now());
      r.samples.push_back(units_per_op * iters / s);
      if (verify) verify();
      CheckMemoryBudget("after repetition " + std::to_string(rep + 1));
    }
    if (teardown) teardown();
    std::fprintf(stderr, " %.4g %s (median of %zu, %d ops each; driver RSS %ld MiB)\n",
                 r.Median(), unit.c_str(), r.samples.size(), iters, RssMiB());
  } catch (const BudgetExceeded &e) {
    // The completed repetitions are valid measurements: keep them, and report the overrun.
    r.error = std::string("stopped after ") + std::to_string(r.samples.size()) + " of " +
              std::to_string(g_opt.reps) + " reps: " + e.what();
    std::fprintf(stderr, " ERROR: %s\n", r.error.c_str());
    try {
      if (teardown) teardown();
    } catch (...) {
    }
  } catch (const std::exception &e) {
    r.error = e.what();
    r.samples.clear();  // a failed check: nothing measured here can be trusted
    std::fprintf(stderr, " ERROR: %s\n", e.what());
    try {
      if (teardown) teardown();
    } catch (...) {
    }
  }
  DisarmWatchdog();
  g_results.push_back(r);
}

// placement_group_create_removal: one op creates kGroupsPerOp groups of `bundles` bundles of
// {"CPU": 0.001} each, waits for each to be created, then removes each (Ray's ray_perf: 100
// groups of one bundle).
constexpr int kGroupsPerOp = 100;
void CreateAndRemoveGroups(int bundles, ray::PlacementStrategy strategy) {
  std::vector<ray::PlacementGroup> groups;
  groups.reserve(kGroupsPerOp);
  ray::PlacementGroupCreationOptions options{
      "", std::vector<std::unordered_map<std::string, double>>(bundles, {{"CPU", 0.001}}), strategy};
  for (int i = 0; i < kGroupsPerOp; i++) groups.push_back(ray::CreatePlacementGroup(options));
  for (auto &g : groups) Check(g.Wait(30), "a placement group is created within 30 s");
  for (auto &g : groups) ray::RemovePlacementGroup(g.GetID());
}

int SumOf(const std::vector<std::shared_ptr<int>> &values) {
  int s = 0;
  for (auto &v : values) s += *v;
  return s;
}

// ---------------------------------------------------------------------------------------------
// The machine floor.

struct Floor {
  double rtt_per_s = NAN, rtt_us = NAN;
  double memcpy_gbps = NAN, fresh_gbps = NAN;
  Result rtt, memcpy_r, fresh_r;
  // Cluster mode only (metric empty otherwise): TCP over 127.0.0.1.
  double tcp_rtt_per_s = NAN, tcp_rtt_us = NAN, tcp_gbps = NAN;
  Result tcp_rtt, tcp_bw;
};
Floor g_floor;

bool ReadFull(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      return false;
    }
    got += k;
  }
  return true;
}
bool WriteFull(int fd, const char *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t k = write(fd, buf + put, n - put);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      return false;
    }
    put += k;
  }
  return true;
}

// Unix-socket ping-pong of 64-byte messages with a forked child.
// PingPong measures round trips of 64-byte messages on fd (the other end echoes them) into r:
// warmed up for --warm seconds, then at least 3 timed repetitions; what names the link in errors.
void PingPong(int fd, const std::string &what, Result &r) {
  char out[64], in[64];
  std::memset(out, 0, sizeof out);
  auto round_trips = [&](int n) {
    for (int i = 0; i < n; i++) {
      std::memcpy(out, &i, sizeof i);
      if (!WriteFull(fd, out, 64) || !ReadFull(fd, in, 64)) {
        throw std::runtime_error(what + " ping-pong failed");
      }
      if (std::memcmp(in, out, 64) != 0) throw std::runtime_error(what + " echo mismatch");
    }
  };
  try {
    auto w0 = Clock::now();
    int warm = 0;
    while (Seconds(w0, Clock::now()) < g_opt.warm_s) {
      round_trips(100);
      warm += 100;
    }
    int n = std::max(100, static_cast<int>(warm * g_opt.target_s / Seconds(w0, Clock::now())));
    for (int rep = 0; rep < std::max(3, g_opt.reps); rep++) {
      auto t0 = Clock::now();
      round_trips(n);
      r.samples.push_back(n / Seconds(t0, Clock::now()));
    }
  } catch (const std::exception &e) {
    r.error = e.what();
  }
}

void MeasureSocketFloor() {
  Result &r = g_floor.rtt;
  r.metric = "machine_unix_socket_round_trips";
  r.mode = "machine";
  r.unit = "round trips/s";
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    r.error = std::string("socketpair: ") + std::strerror(errno);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    char buf[64];
    while (ReadFull(sv[1], buf, 64)) {
      if (!WriteFull(sv[1], buf, 64)) break;
    }
    _exit(0);
  }
  close(sv[1]);
  PingPong(sv[0], "socket", r);
  close(sv[0]);
  waitpid(pid, nullptr, 0);
  g_floor.rtt_per_s = r.Median();
  g_floor.rtt_us = 1e6 / g_floor.rtt_per_s;
}

void MeasureMemcpyFloor() {
  Result &r = g_floor.memcpy_r;
  r.metric = "machine_memcpy";
  r.mode = "machine";
  r.unit = "GB/s";
  const size_t size = (g_opt.quick ? 128ull : 512ull) << 20;
  char *a = static_cast<char *>(std::malloc(size));
  char *b = static_cast<char *>(std::malloc(size));
  if (!a || !b) {
    r.error = "malloc failed";
    std::free(a);
    std::free(b);
    return;
  }
  std::memset(a, 0x5a, size);
  std::memset(b, 1, size);  // fault both in before timing (not 0: malloc+memset(0) may become calloc)
  std::memcpy(b, a, size);  // untimed warm-up
  for (int rep = 0; rep < std::max(5, g_opt.reps); rep++) {
    a[rep] = static_cast<char>(rep);
    auto t0 = Clock::now();
    std::memcpy(b, a, size);
    double s = Seconds(t0, Clock::now());
    if (b[rep] != static_cast<char>(rep) || b[size - 1] != 0x5a) r.error = "memcpy mismatch";
    r.samples.push_back(size / s / 1e9);
  }
  std::free(b);
  g_floor.memcpy_gbps = r.Median();
  // The same copy into fresh memory (first touch of every page: page faults included), the floor
  // of anything that copies a large object into newly allocated memory.
  Result &f = g_floor.fresh_r;
  f.metric = "machine_memcpy_fresh";
  f.mode = "machine";
  f.unit = "GB/s";
  for (int rep = 0; rep < 2; rep++) {
    auto t0 = Clock::now();
    char *c = static_cast<char *>(std::malloc(size));
    if (!c) {
      f.error = "malloc failed";
      break;
    }
    std::memcpy(c, a, size);
    double s = Seconds(t0, Clock::now());
    if (c[size - 1] != 0x5a) f.error = "memcpy mismatch";
    std::free(c);
    f.samples.push_back(size / s / 1e9);
  }
  std::free(a);
  g_floor.fresh_gbps = f.Median();
}

// A TCP connection over 127.0.0.1 between this process and a forked child, which runs `serve`
// on its end and exits. Returns the parent's end (-1 and r.error set on failure); *child gets
// the child's pid.
int TcpPairWithChild(Result &r, pid_t *child, const std::function<void(int)> &serve) {
  auto fail = [&](const std::string &what) {
    r.error = what + ": " + std::strerror(errno);
    return -1;
  };
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) return fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(lfd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(lfd, 1) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
    close(lfd);
    return fail("bind/listen on 127.0.0.1");
  }
  int cfd = socket(AF_INET, SOCK_STREAM, 0);
  if (cfd < 0 || connect(cfd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    close(lfd);
    if (cfd >= 0) close(cfd);
    return fail("connect to 127.0.0.1");
  }
  int sfd = accept(lfd, nullptr, nullptr);
  close(lfd);
  if (sfd < 0) {
    close(cfd);
    return fail("accept");
  }
  int one = 1;
  setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  pid_t pid = fork();
  if (pid < 0) {
    close(cfd);
    close(sfd);
    return fail("fork");
  }
  if (pid == 0) {
    close(cfd);
    serve(sfd);
    _exit(0);
  }
  close(sfd);
  *child = pid;
  return cfd;
}

// Cluster floors: a TCP ping-pong of 64-byte messages, and one TCP stream's bandwidth.
void MeasureTcpFloor() {
  {
    Result &r = g_floor.tcp_rtt;
    r.metric = "machine_tcp_loopback_round_trips";
    r.mode = "machine";
    r.unit = "round trips/s";
    pid_t pid = -1;
    int fd = TcpPairWithChild(r, &pid, [](int sfd) {
      char buf[64];
      while (ReadFull(sfd, buf, 64)) {
        if (!WriteFull(sfd, buf, 64)) break;
      }
    });
    if (fd >= 0) {
      PingPong(fd, "TCP", r);
      if (!r.error.empty()) r.samples.clear();
      close(fd);
      waitpid(pid, nullptr, 0);
    }
    g_floor.tcp_rtt_per_s = r.Median();
    g_floor.tcp_rtt_us = 1e6 / g_floor.tcp_rtt_per_s;
  }
  {
    // 1 GiB per repetition: an 8-byte length, then the bytes in 4 MiB writes; the child reads
    // them into a 4 MiB buffer and answers with the count and the last byte it read.
    Result &r = g_floor.tcp_bw;
    r.metric = "machine_tcp_loopback_gigabytes";
    r.mode = "machine";
    r.unit = "GB/s";
    const size_t chunk = 4u << 20;
    const uint64_t total = 1ull << 30;
    pid_t pid = -1;
    int fd = TcpPairWithChild(r, &pid, [chunk](int sfd) {
      std::vector<char> buf(chunk);
      uint64_t want;
      while (ReadFull(sfd, reinterpret_cast<char *>(&want), sizeof want)) {
        uint64_t got = 0;
        char last = 0;
        while (got < want) {
          ssize_t k = read(sfd, buf.data(), std::min<uint64_t>(chunk, want - got));
          if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            _exit(1);
          }
          got += k;
          last = buf[k - 1];
        }
        char reply[9];
        std::memcpy(reply, &got, 8);
        reply[8] = last;
        if (!WriteFull(sfd, reply, sizeof reply)) break;
      }
    });
    if (fd >= 0) {
      std::vector<char> data(chunk);
      for (size_t i = 0; i < chunk; i++) data[i] = static_cast<char>(i * 131 + 7);
      try {
        for (int rep = 0; rep < std::max(3, g_opt.reps) + 1; rep++) {  // the first is a warm-up
          auto t0 = Clock::now();
          if (!WriteFull(fd, reinterpret_cast<const char *>(&total), sizeof total)) {
            throw std::runtime_error("TCP stream: write failed");
          }
          for (uint64_t sent = 0; sent < total; sent += chunk) {
            if (!WriteFull(fd, data.data(), chunk)) throw std::runtime_error("TCP stream: write failed");
          }
          char reply[9];
          if (!ReadFull(fd, reply, sizeof reply)) throw std::runtime_error("TCP stream: no reply");
          double sec = Seconds(t0, Clock::now());
          uint64_t got;
          std::memcpy(&got, reply, 8);
          if (got != total || reply[8] != data[chunk - 1]) {
            throw std::runtime_error("TCP stream: the child read " + std::to_string(got) + " bytes");
          }
          if (rep > 0) r.samples.push_back(total / sec / 1e9);
        }
      } catch (const std::exception &e) {
        r.error = e.what();
        r.samples.clear();
      }
      close(fd);
      waitpid(pid, nullptr, 0);
    }
    g_floor.tcp_gbps = r.Median();
  }
}

// ---------------------------------------------------------------------------------------------
// init_to_first_result: a child process of this binary with --init-probe, timed from spawn to
// its printed result; the child prints how long ray::Init alone took.

int RunInitProbe(const std::string &mode) {
  auto t0 = Clock::now();
  ray::RayConfig config;
  config.local_mode = (mode == "local");
  ray::Init(config);
  auto t1 = Clock::now();
  int v = *ray::Get(ray::Task(SmallValue).Remote());
  auto t2 = Clock::now();
  std::printf("probe result=%d init_ms=%.3f task_ms=%.3f\n", v, Seconds(t0, t1) * 1e3,
              Seconds(t1, t2) * 1e3);
  std::fflush(stdout);
  ray::Shutdown();
  return v == 1 ? 0 : 1;
}

void MeasureInitToFirstResult(const std::string &mode) {
  if (!Selected("init_to_first_result")) return;
  Result total, init;
  total.metric = "init_to_first_result";
  init.metric = "init_only";
  total.mode = init.mode = mode;
  total.unit = init.unit = "ms";
  total.lower_is_better = init.lower_is_better = true;
  std::fprintf(stderr, "[%s] init_to_first_result ...", mode.c_str());
  static std::string current;
  current = "init_to_first_result (" + mode + ")";
  ArmWatchdog(current.c_str(), 120);
  try {
    std::string self = "/proc/self/exe";
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      exe[n] = 0;
      self = exe;
    }
    std::string mode_flag = "--mode=" + mode;
    for (int rep = 0; rep < g_opt.reps + 1; rep++) {  // the first run is the warm-up
      int pipefd[2];
      if (pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
      posix_spawn_file_actions_addclose(&fa, pipefd[0]);
      posix_spawn_file_actions_addclose(&fa, pipefd[1]);
      char *argv[] = {const_cast<char *>(self.c_str()), const_cast<char *>("--init-probe"),
                      const_cast<char *>(mode_flag.c_str()), nullptr};
      pid_t pid;
      auto t0 = Clock::now();
      int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, environ);
      posix_spawn_file_actions_destroy(&fa);
      close(pipefd[1]);
      if (rc != 0) {
        close(pipefd[0]);
        throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
      }
      std::string line;
      char c;
      while (read(pipefd[0], &c, 1) == 1 && c != '\n') line += c;
      auto t1 = Clock::now();
      // Drain the rest and reap the child.
      char buf[256];
      while (read(pipefd[0], buf, sizeof buf) > 0) {
      }
      close(pipefd[0]);
      int status = 0;
      waitpid(pid, &status, 0);
      int result = 0;
      double init_ms = 0, task_ms = 0;
      if (std::sscanf(line.c_str(), "probe result=%d init_ms=%lf task_ms=%lf", &result, &init_ms,
                      &task_ms) != 3 ||
          result != 1) {
        throw std::runtime_error("the --init-probe child printed \"" + line + "\" (exit status " +
                                 std::to_string(status) + ")");
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("the --init-probe child exited with status " +
                                 std::to_string(status));
      }
      if (rep == 0) continue;
      total.samples.push_back(Seconds(t0, t1) * 1e3);
      init.samples.push_back(init_ms);
    }
    std::fprintf(stderr, " %.1f ms (Init alone %.1f ms)\n", total.Median(), init.Median());
  } catch (const std::exception &e) {
    total.error = init.error = e.what();
    total.samples.clear();
    init.samples.clear();
    std::fprintf(stderr, " ERROR: %s\n", e.what());
  }
  DisarmWatchdog();
  g_results.push_back(total);
  g_results.push_back(init);
}

// ---------------------------------------------------------------------------------------------
// The metrics of one mode.

void RunMode(const std::string &mode) {
  const bool local = (mode == "local");
  const bool quick = g_opt.quick;
  const int batch = 1000;  // Ray's async batch
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int n_actors = std::max(2u, cores / 2);

  ray::RayConfig config;
  config.local_mode = local;
  auto i0 = Clock::now();
  ray::Init(config);
  std::fprintf(stderr, "[%s] ray::Init took %.1f ms\n", mode.c_str(),
               Seconds(i0, Clock::now()) * 1e3);

  auto submit_batch = [](int n) {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(n);
    for (int i = 0; i < n; i++) refs.push_back(ray::Task(SmallValue).Remote());
    return refs;
  };

  // --- tasks
  Measure("single_client_tasks_sync", mode, "ops/s", 1, nullptr, [] {
    Check(*ray::Get(ray::Task(SmallValue).Remote()) == 1, "task result == 1");
  });
  Measure("single_client_tasks_async", mode, "ops/s", batch, nullptr, [&] {
    Check(SumOf(ray::Get(submit_batch(batch))) == batch, "sum of 1,000 task results");
  });
  {
    // Ray: 4 client actors each submit n tasks and get them (n = 10,000; here sized so that one
    // op takes about 0.2 s on 2 cores, the rate does not depend on it).
    const int m = 4, n = quick ? 500 : 2500;
    std::vector<ray::ActorHandle<BenchActor>> clients;
    Measure(
        "multi_client_tasks_async", mode, "ops/s", m * n,
        [&] {
          for (int i = 0; i < m; i++) {
            clients.push_back(ray::Actor(BenchActor::FactoryCreate).Remote());
          }
        },
        [&] {
          std::vector<ray::ObjectRef<int>> refs;
          for (auto &c : clients) refs.push_back(c.Task(&BenchActor::SmallValueBatch).Remote(n));
          Check(SumOf(ray::Get(refs)) == m * n, "sum of the clients' task results");
        },
        nullptr, [&] {
          for (auto &c : clients) c.Kill();
          clients.clear();
        });
  }
  Measure("single_client_tasks_and_get_batch", mode, "ops/s", 1, nullptr, [&] {
    Check(SumOf(ray::Get(submit_batch(batch))) == batch, "sum of 1,000 task results");
  });

  // --- actors
  {
    ray::ActorHandle<BenchActor> a;
    auto create = [&] { a = ray::Actor(BenchActor::FactoryCreate).Remote(); };
    auto kill = [&] { a.Kill(); };
    Measure(
        "1_1_actor_calls_sync", mode, "ops/s", 1, create,
        [&] { Check(*ray::Get(a.Task(&BenchActor::SmallValue).Remote()) == 1, "call result == 1"); },
        nullptr, kill);
    auto batch_calls = [&] {
      std::vector<ray::ObjectRef<int>> refs;
      refs.reserve(batch);
      for (int i = 0; i < batch; i++) refs.push_back(a.Task(&BenchActor::SmallValue).Remote());
      Check(SumOf(ray::Get(refs)) == batch, "sum of 1,000 call results");
    };
    Measure("1_1_actor_calls_async", mode, "ops/s", batch, create, batch_calls, nullptr, kill);
    Measure(
        "1_1_actor_calls_concurrent", mode, "ops/s", batch,
        [&] { a = ray::Actor(BenchActor::FactoryCreate).SetMaxConcurrency(16).Remote(); },
        batch_calls, nullptr, kill);
  }
  {
    // Ray: one Client actor calls n_cpu/2 actors, n = 5,000 calls to each.
    const int n = quick ? 500 : 5000;
    std::vector<ray::ActorHandle<BenchActor>> actors;
    ray::ActorHandle<BenchClient> client;
    Measure(
        "1_n_actor_calls_async", mode, "ops/s", n * n_actors,
        [&] {
          for (int i = 0; i < n_actors; i++) {
            actors.push_back(ray::Actor(BenchActor::FactoryCreate).Remote());
          }
          client = ray::Actor(BenchClient::FactoryCreate).Remote(actors);
        },
        [&] {
          Check(*ray::Get(client.Task(&BenchClient::SmallValueBatch).Remote(n)) == n * n_actors,
                "sum of the client's call results");
        },
        nullptr, [&] {
          client.Kill();
          for (auto &a : actors) a.Kill();
          actors.clear();
        });
  }
  {
    // Ray: m = 4 tasks, each makes n = 5,000 calls round robin over the n_cpu/2 actors.
    const int m = 4, n = quick ? 500 : 5000;
    std::vector<ray::ActorHandle<BenchActor>> actors;
    Measure(
        "n_n_actor_calls_async", mode, "ops/s", m * n,
        [&] {
          for (int i = 0; i < n_actors; i++) {
            actors.push_back(ray::Actor(BenchActor::FactoryCreate).Remote());
          }
        },
        [&] {
          std::vector<ray::ObjectRef<int>> refs;
          for (int i = 0; i < m; i++) refs.push_back(ray::Task(Work).Remote(actors, n));
          Check(SumOf(ray::Get(refs)) == m * n, "sum of the callers' results");
        },
        nullptr, [&] {
          for (auto &a : actors) a.Kill();
          actors.clear();
        });
  }
  {
    // Ray: n_cpu/2 Client actors, each with its own actor, n = 1,000 calls with a ref argument.
    const int n = quick ? 200 : 1000;
    std::vector<ray::ActorHandle<BenchActor>> actors;
    std::vector<ray::ActorHandle<BenchClient>> clients;
    Measure(
        "n_n_actor_calls_with_arg_async", mode, "ops/s", n * n_actors,
        [&] {
          for (int i = 0; i < n_actors; i++) {
            actors.push_back(ray::Actor(BenchActor::FactoryCreate).Remote());
            clients.push_back(ray::Actor(BenchClient::FactoryCreate)
                                  .Remote(std::vector<ray::ActorHandle<BenchActor>>{actors.back()}));
          }
        },
        [&] {
          std::vector<ray::ObjectRef<int>> refs;
          for (auto &c : clients) refs.push_back(c.Task(&BenchClient::SmallValueBatchArg).Remote(n));
          Check(SumOf(ray::Get(refs)) == n * n_actors, "sum of the clients' call results");
        },
        nullptr, [&] {
          for (auto &c : clients) c.Kill();
          for (auto &a : actors) a.Kill();
          clients.clear();
          actors.clear();
        });
  }

  // --- objects
  {
    ray::ObjectRef<int> value;
    Measure(
        "single_client_get_calls", mode, "ops/s", 1, [&] { value = ray::Put(42); },
        [&] { Check(*ray::Get(value) == 42, "Get returns the put value"); });
  }
  {
    int counter = 0;
    ray::ObjectRef<int> last;
    Measure(
        "single_client_put_calls", mode, "ops/s", 1, nullptr,
        [&] {
          counter++;
          if ((counter & 1023) == 0) {
            last = ray::Put(counter);  // keep one in 1,024 to check afterwards
          } else {
            ray::Put(counter);
          }
        },
        [&] {
          if (counter >= 1024) Check(*ray::Get(last) == (counter & ~1023), "a put value reads back");
        });
  }
  Measure("multi_client_put_calls", mode, "ops/s", 1000, nullptr, [&] {
    // Ray: 10 tasks, 100 puts each.
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < 10; i++) refs.push_back(ray::Task(DoPutSmall).Remote(100));
    Check(SumOf(ray::Get(refs)) == 1000, "each task made and checked its 100 puts");
  });
  {
    ray::ObjectRef<std::vector<ray::ObjectRef<int>>> obj;
    Measure(
        "single_client_get_object_containing_10k_refs", mode, "ops/s", 1,
        [&] {
          obj = ray::Task(CreateObjectContainingRefs).Remote(10000);
          auto refs = ray::Get(obj);
          Check(refs->size() == 10000, "the object holds 10,000 refs");
          Check(*ray::Get((*refs)[0]) == 1 && *ray::Get((*refs)[9999]) == 1,
                "the contained refs resolve to 1");
        },
        [&] { Check(ray::Get(obj)->size() == 10000, "the object holds 10,000 refs"); });
  }
  {
    std::vector<ray::ObjectRef<int>> last_ready;
    Measure(
        "single_client_wait_1k_refs", mode, "ops/s", 1, nullptr,
        [&] {
          std::vector<ray::ObjectRef<int>> not_ready = submit_batch(batch);
          last_ready.clear();
          int ready = 0;
          while (!not_ready.empty()) {
            auto r = ray::Wait(not_ready, 1, -1);
            Check(r.ready.size() == 1 && r.unready.size() == not_ready.size() - 1,
                  "Wait(num_objects=1) returns one ready ref and the rest");
            ready++;
            if (ready % 250 == 0) last_ready.push_back(r.ready.front());
            not_ready.assign(r.unready.begin(), r.unready.end());
          }
          Check(ready == batch, "1,000 refs became ready");
        },
        [&] { Check(SumOf(ray::Get(last_ready)) == 4, "ready refs hold task results"); });
  }
  // Last in the mode: in node mode the driver keeps memory after large puts (see the RSS budget),
  // which must not starve the metrics after it.
  {
    const size_t size = (quick ? 64ull : 256ull) << 20;
    std::vector<uint8_t> arr;
    Measure(
        "single_client_put_gigabytes", mode, "GB/s", size / 1e9,
        [&] {
          arr.resize(size);
          for (size_t i = 0; i < size; i += 4096) arr[i] = static_cast<uint8_t>(i >> 12);
          arr[size - 1] = 0xab;
          // Checked once, untimed (a Get of it per repetition would double the run time).
          auto ref = ray::Put(arr);
          auto back = ray::Get(ref);
          Check(back->size() == size && (*back)[size - 1] == 0xab && (*back)[4096 * 3] == 3 &&
                    std::memcmp(back->data(), arr.data(), 1 << 20) == 0,
                "the large put reads back intact");
        },
        [&] {
          CheckMemoryBudget("before a put of " + std::to_string(size >> 20) +
                            " MiB (are dropped objects freed?)");
          auto ref = ray::Put(arr);  // dropped at once: the store may free it
          Check(ref.ID().size() == RAY_ID_SIZE, "Put returns a ref");
        },
        nullptr,
        [&] {
          arr.clear();
          arr.shrink_to_fit();
        });
  }
  Measure("placement_group_create_removal", mode, "ops/s", kGroupsPerOp, nullptr,
          [] { CreateAndRemoveGroups(1, ray::PlacementStrategy::PACK); });

  auto s0 = Clock::now();
  ray::Shutdown();
  std::fprintf(stderr, "[%s] ray::Shutdown took %.1f ms\n", mode.c_str(),
               Seconds(s0, Clock::now()) * 1e3);
}

// ---------------------------------------------------------------------------------------------
// Cluster mode: the driver on the head node, tasks and actors on node B (kRemoteResource).

// cross_node_object_transfer: see the file comment. Not a Measure loop: each repetition needs a
// new object (node B keeps a copy of one it fetched), Put untimed before the timed task.
// GB/s = size / (time of ArgSize on node B with the object - time of ArgSize on the driver's node
// with another object of the size), both in the same repetition.
void MeasureObjectTransfer(const std::string &mode) {
  const std::string metric = "cross_node_object_transfer";
  if (!Selected(metric)) return;
  Result r;
  r.metric = metric;
  r.mode = mode;
  r.unit = "GB/s";
  const size_t size = (g_opt.quick ? 256ull : 1024ull) << 20;
  const size_t tiny = 64;
  std::fprintf(stderr, "[%s] %s (%zu MiB) ...", mode.c_str(), metric.c_str(), size >> 20);
  std::fflush(stderr);
  static std::string current;
  current = metric + " (" + mode + ")";
  ArmWatchdog(current.c_str(), 900);
  // A new object of n bytes, Put on the driver's node; the driver's copy is freed at once.
  auto put = [](size_t n) {
    std::vector<uint8_t> v(n);
    FillPattern(v);
    return ray::Put(v);
  };
  // Seconds from submission to result of ArgSize on node B (or on the driver's node: `resource`)
  // with `ref` (checked: n bytes, intact).
  auto run = [](const ray::ObjectRef<std::vector<uint8_t>> &ref, size_t n,
                const char *resource = kRemoteResource) {
    auto t0 = Clock::now();
    int64_t got = *ray::Get(ray::Task(ArgSize).SetResource(resource, 1).Remote(ref));
    double sec = Seconds(t0, Clock::now());
    Check(got == static_cast<int64_t>(n), "the task on node B got the " + std::to_string(n) +
                                              "-byte argument intact (it returned " +
                                              std::to_string(got) + ")");
    return sec;
  };
  auto tiny_median = [&] {
    std::vector<double> t;
    for (int i = 0; i < 5; i++) t.push_back(run(put(tiny), tiny));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  std::vector<double> big_s, tiny_s, local_s, end_to_end;
  try {
    Check(*ray::Get(ray::Task(NodeIp).SetResource(kRemoteResource, 1).Remote()) == kRemoteNodeIp,
          std::string("a task asking for ") + kRemoteResource + " runs on node B (" +
              kRemoteNodeIp + ")");
    Check(*ray::Get(ray::Task(NodeIp).SetResource(kLocalResource, 1).Remote()) == kLocalNodeIp,
          std::string("a task asking for ") + kLocalResource + " runs on the driver's node (" +
              kLocalNodeIp + ")");
    tiny_median();  // warm-up: the worker, the connections, the fetch path
    run(put(size), size);
    run(put(size), size, kLocalResource);
    CheckMemoryBudget("after the warm-up");
    for (int rep = 0; rep < g_opt.reps; rep++) {
      double big;
      {
        auto ref = put(size);
        CheckMemoryBudget("after a put of " + std::to_string(size >> 20) + " MiB");
        big = run(ref, size);
      }  // the object is dropped here: both nodes may free it
      {
        // The same task on the driver's node, where the object is: its cost without a transfer
        // (mostly the deserialization).
        auto ref = put(size);
        local_s.push_back(run(ref, size, kLocalResource));
      }
      double small = tiny_median();
      Check(big > small, "the large argument takes longer than a tiny one");
      Check(big > local_s.back(), "the task takes longer on node B than beside the object");
      big_s.push_back(big);
      tiny_s.push_back(small);
      r.samples.push_back(size / 1e9 / (big - local_s.back()));
      end_to_end.push_back(size / 1e9 / (big - small));
      CheckMemoryBudget("after repetition " + std::to_string(rep + 1));
    }
    std::sort(big_s.begin(), big_s.end());
    std::sort(tiny_s.begin(), tiny_s.end());
    std::sort(local_s.begin(), local_s.end());
    std::sort(end_to_end.begin(), end_to_end.end());
    char note[200];
    std::snprintf(note, sizeof note,
                  "task on B %.0f ms - on the driver's node %.0f ms; end to end %.2f GB/s",
                  big_s[big_s.size() / 2] * 1e3, local_s[local_s.size() / 2] * 1e3,
                  end_to_end[end_to_end.size() / 2]);
    r.note = note;
    std::fprintf(stderr, " %.4g GB/s (median of %zu; task on node B %.1f ms, the same task on the "
                         "driver's node %.1f ms, tiny-argument task %.2f ms: end to end %.3g GB/s; "
                         "driver RSS %ld MiB)\n",
                 r.Median(), r.samples.size(), big_s[big_s.size() / 2] * 1e3,
                 local_s[local_s.size() / 2] * 1e3, tiny_s[tiny_s.size() / 2] * 1e3,
                 end_to_end[end_to_end.size() / 2], RssMiB());
  } catch (const BudgetExceeded &e) {
    r.error = std::string("stopped after ") + std::to_string(r.samples.size()) + " of " +
              std::to_string(g_opt.reps) + " reps: " + e.what();
    std::fprintf(stderr, " ERROR: %s\n", r.error.c_str());
  } catch (const std::exception &e) {
    r.error = e.what();
    r.samples.clear();
    std::fprintf(stderr, " ERROR: %s\n", e.what());
  }
  DisarmWatchdog();
  g_results.push_back(r);
}

void RunClusterMode(const std::string &mode) {
  const int batch = 1000;  // Ray's async batch
  bool any = false;
  for (auto &m : kMetrics) any = any || (m.rfind("cross_node_", 0) == 0 && Selected(m));
  if (!any) return;

  ray::RayConfig config;
  config.address = g_cluster_address;
  auto i0 = Clock::now();
  ray::Init(config);
  std::fprintf(stderr, "[%s] ray::Init (attach to %s) took %.1f ms\n", mode.c_str(),
               g_cluster_address.c_str(), Seconds(i0, Clock::now()) * 1e3);
  const std::string on_b = std::string(" on node B (") + kRemoteNodeIp + ")";
  auto check_task_on_b = [&] {
    std::string ip = *ray::Get(ray::Task(NodeIp).SetResource(kRemoteResource, 1).Remote());
    Check(ip == kRemoteNodeIp, "a task asking for " + std::string(kRemoteResource) + " runs" +
                                   on_b + ", not on \"" + ip + "\"");
  };

  // --- tasks
  Measure("cross_node_tasks_sync", mode, "ops/s", 1, check_task_on_b, [] {
    Check(*ray::Get(ray::Task(SmallValue).SetResource(kRemoteResource, 1).Remote()) == 1,
          "task result == 1");
  });
  Measure("cross_node_tasks_async", mode, "ops/s", batch, check_task_on_b, [&] {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(batch);
    for (int i = 0; i < batch; i++) {
      refs.push_back(ray::Task(SmallValue).SetResource(kRemoteResource, 1).Remote());
    }
    Check(SumOf(ray::Get(refs)) == batch, "sum of 1,000 task results");
  });

  // --- actors
  {
    ray::ActorHandle<BenchActor> a;
    auto create = [&] {
      a = ray::Actor(BenchActor::FactoryCreate).SetResource(kRemoteResource, 1).Remote();
      std::string ip = *ray::Get(a.Task(&BenchActor::NodeIp).Remote());
      Check(ip == kRemoteNodeIp, "the actor lives" + on_b + ", not on \"" + ip + "\"");
    };
    auto kill = [&] { a.Kill(); };
    Measure(
        "cross_node_actor_calls_sync", mode, "ops/s", 1, create,
        [&] { Check(*ray::Get(a.Task(&BenchActor::SmallValue).Remote()) == 1, "call result == 1"); },
        nullptr, kill);
    Measure(
        "cross_node_actor_calls_async", mode, "ops/s", batch, create,
        [&] {
          std::vector<ray::ObjectRef<int>> refs;
          refs.reserve(batch);
          for (int i = 0; i < batch; i++) refs.push_back(a.Task(&BenchActor::SmallValue).Remote());
          Check(SumOf(ray::Get(refs)) == batch, "sum of 1,000 call results");
        },
        nullptr, kill);
  }

  // --- objects
  MeasureObjectTransfer(mode);

  // --- placement groups: each of three bundles on a node of its own (the head, B and C)
  Measure("cross_node_placement_group_create_removal", mode, "ops/s", kGroupsPerOp, nullptr,
          [] { CreateAndRemoveGroups(3, ray::PlacementStrategy::STRICT_SPREAD); });

  auto s0 = Clock::now();
  ray::Shutdown();
  std::fprintf(stderr, "[%s] ray::Shutdown took %.1f ms\n", mode.c_str(),
               Seconds(s0, Clock::now()) * 1e3);
}

// ---------------------------------------------------------------------------------------------
// Output.

std::string Num(double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  if (v >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    std::string s = buf, out;
    int k = 0;
    for (int i = static_cast<int>(s.size()) - 1; i >= 0; i--) {
      out.insert(out.begin(), s[i]);
      if (++k % 3 == 0 && i > 0 && s[i - 1] != '-') out.insert(out.begin(), ',');
    }
    return out;
  }
  if (v >= 100) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 10) std::snprintf(buf, sizeof buf, "%.1f", v);
  else std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string JsonNum(double v) {
  if (std::isnan(v) || std::isinf(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string JsonStr(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void AddFloorRatios() {
  for (auto &r : g_results) {
    if (r.samples.empty()) continue;
    if (r.metric == "single_client_tasks_sync" || r.metric == "1_1_actor_calls_sync") {
      double lat_us = 1e6 / r.Median();
      r.ratio_to_floor = lat_us / g_floor.rtt_us;
      r.ratio_label = Num(lat_us) + " us = " + Num(r.ratio_to_floor) + "x socket RTT";
    } else if (r.metric == "single_client_put_gigabytes") {
      r.ratio_to_floor = r.Median() / g_floor.memcpy_gbps;
      r.ratio_label = Num(100 * r.ratio_to_floor) + "% of memcpy";
    } else if (r.metric == "cross_node_tasks_sync" || r.metric == "cross_node_actor_calls_sync") {
      double lat_us = 1e6 / r.Median();
      r.ratio_to_floor = lat_us / g_floor.tcp_rtt_us;
      r.ratio_label = Num(lat_us) + " us = " + Num(r.ratio_to_floor) + "x TCP RTT";
    } else if (r.metric == "cross_node_tasks_async" || r.metric == "cross_node_actor_calls_async") {
      // Time per call over the TCP round trip (< 1: calls pipelined, more than one per round trip).
      double per_call_us = 1e6 / r.Median();
      r.ratio_to_floor = per_call_us / g_floor.tcp_rtt_us;
      r.ratio_label = Num(per_call_us) + " us/call = " + Num(r.ratio_to_floor) + "x TCP RTT";
    } else if (r.metric == "cross_node_object_transfer") {
      r.ratio_to_floor = r.Median() / g_floor.tcp_gbps;
      r.ratio_label = Num(100 * r.ratio_to_floor) + "% of TCP (" + r.note + ")";
    }
    // Beside the single-node figure of the same run (--mode=all).
    std::string counterpart = SingleNodeCounterpart(r.metric);
    if (!counterpart.empty()) {
      for (auto &n : g_results) {
        if (n.metric == counterpart && n.mode == "node" && !n.samples.empty()) {
          r.ratio_to_single_node = r.Median() / n.Median();
          r.ratio_label += "; " + Num(100 * r.ratio_to_single_node) + "% of node " + counterpart;
        }
      }
    }
  }
}

// The goray target of a result, in its unit (NAN: none, or not known in this run).
double TargetOf(const Result &r) {
  auto it = kReference.find(r.metric);
  if (it == kReference.end()) return NAN;
  if (r.metric == "single_client_put_gigabytes" && !std::isnan(g_floor.memcpy_gbps)) {
    return g_floor.memcpy_gbps / 2;  // "50% of memcpy here"
  }
  if (r.metric == "cross_node_object_transfer") return g_floor.tcp_gbps / 2;  // 50% of TCP
  if (r.metric == "cross_node_tasks_async" || r.metric == "cross_node_actor_calls_async") {
    // 50% of the single-node async figure of the same run (only with --mode=all).
    return r.ratio_to_single_node > 0 ? r.Median() / r.ratio_to_single_node / 2 : NAN;
  }
  return it->second.target;
}

void PrintTable() {
  auto line = [](const std::vector<std::string> &cols) {
    static const int widths[] = {45, 7, 10, 22, 14, 9, 16, 10, 30};
    std::string s = "|";
    for (size_t i = 0; i < cols.size(); i++) {
      std::string c = cols[i];
      int w = widths[i];
      if (static_cast<int>(c.size()) < w) {
        c = (i == 0 || i == 1 || i == 4 || i == 8) ? c + std::string(w - c.size(), ' ')
                                                    : std::string(w - c.size(), ' ') + c;
      }
      s += " " + c + " |";
    }
    std::printf("%s\n", s.c_str());
  };
  std::printf("#\n# goray microbenchmark: median of %d rep(s)%s; machine: %u cores\n", g_opt.reps,
              g_opt.quick ? " (--quick: short loops, small sizes)" : "",
              std::thread::hardware_concurrency());
  std::printf("# floor: unix-socket round trip %s/s = %s us;  memcpy %s MiB: %s GB/s (into fresh "
              "memory: %s GB/s)\n",
              Num(g_floor.rtt_per_s).c_str(), Num(g_floor.rtt_us).c_str(),
              g_opt.quick ? "128" : "512", Num(g_floor.memcpy_gbps).c_str(),
              Num(g_floor.fresh_gbps).c_str());
  if (!g_floor.tcp_rtt.metric.empty()) {
    std::printf("# cluster floor: TCP loopback round trip %s/s = %s us;  one TCP stream over "
                "127.0.0.1: %s GB/s (1 GiB)\n",
                Num(g_floor.tcp_rtt_per_s).c_str(), Num(g_floor.tcp_rtt_us).c_str(),
                Num(g_floor.tcp_gbps).c_str());
    std::printf("# cluster: driver on the head node (127.0.0.1), tasks and actors on node B "
                "(127.0.0.2); both nodes on this machine, sharing its cores\n");
  }
  std::printf("# x target = median / goray target (init: target / median): >= 1 meets the target\n#\n");
  line({"metric", "mode", "median", "min..max", "unit", "Ray 2.48", "goray target", "x target",
        "vs machine floor"});
  line({std::string(45, '-'), std::string(7, '-'), std::string(10, '-'), std::string(22, '-'),
        std::string(14, '-'), std::string(9, '-'), std::string(16, '-'), std::string(10, '-'),
        std::string(30, '-')});
  auto floor_line = [&](const Result &r) {
    line({r.metric, r.mode, r.error.empty() ? Num(r.Median()) : "ERROR",
          Num(r.Min()) + ".." + Num(r.Max()), r.unit, "", "", "", r.error});
  };
  floor_line(g_floor.rtt);
  floor_line(g_floor.memcpy_r);
  floor_line(g_floor.fresh_r);
  if (!g_floor.tcp_rtt.metric.empty()) floor_line(g_floor.tcp_rtt);
  if (!g_floor.tcp_bw.metric.empty()) floor_line(g_floor.tcp_bw);
  for (auto &r : g_results) {
    auto it = kReference.find(r.metric);
    std::string ray = it != kReference.end() ? it->second.ray_text : "";
    std::string target = it != kReference.end() ? it->second.target_text : "";
    if (!r.skipped.empty()) {
      line({r.metric, r.mode, "skipped", "", r.unit, ray, target, "", r.skipped});
      continue;
    }
    if (!r.error.empty() && r.samples.empty()) {
      line({r.metric, r.mode, "ERROR", "", r.unit, ray, target, "", r.error.substr(0, 300)});
      continue;
    }
    std::string x;
    double target_v = TargetOf(r);
    if (!std::isnan(target_v)) {
      x = Num(r.lower_is_better ? target_v / r.Median() : r.Median() / target_v);
    }
    std::string last = r.ratio_label;
    if (!r.error.empty()) last = (last.empty() ? "" : last + "; ") + "ERROR: " + r.error;
    line({r.metric, r.mode, Num(r.Median()), Num(r.Min()) + ".." + Num(r.Max()), r.unit, ray,
          target, x, last});
  }
  std::printf("#\n");
}

void PrintJson(const Result &r) {
  std::ostringstream o;
  o << "{\"metric\": " << JsonStr(r.metric) << ", \"value\": "
    << (r.skipped.empty() ? JsonNum(r.Median()) : "null")
    << ", \"unit\": " << JsonStr(r.unit) << ", \"mode\": " << JsonStr(r.mode)
    << ", \"min\": " << JsonNum(r.Min()) << ", \"max\": " << JsonNum(r.Max())
    << ", \"reps\": " << r.samples.size();
  if (!std::isnan(r.ratio_to_floor)) o << ", \"ratio_to_floor\": " << JsonNum(r.ratio_to_floor);
  if (!std::isnan(r.ratio_to_single_node)) {
    o << ", \"ratio_to_single_node\": " << JsonNum(r.ratio_to_single_node);
  }
  if (!r.error.empty()) o << ", \"error\": " << JsonStr(r.error);
  if (!r.skipped.empty()) o << ", \"skipped\": " << JsonStr(r.skipped);
  o << "}";
  std::printf("%s\n", o.str().c_str());
}

int Usage(const char *argv0, int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: %s [--mode=node|local|both|cluster|all] [--reps=N] [--quick] [--only=m1,m2,...] "
               "[--list]\n",
               argv0);
  return code;
}

}  // namespace

int main(int argc, char **argv) {
  // In a worker process (when workers run this program rather than microbenchmark.so), serve tasks.
  if (ray_is_worker_process() == 1) {
    ray::RayConfig config;
    ray::Init(config, argc, argv);  // never returns in a worker
  }
  bool probe = false;
  std::string mode_arg = "node";
  bool reps_given = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const std::string &flag) -> std::string {
      if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
      if (a == flag && i + 1 < argc) return argv[++i];
      return "";
    };
    if (a == "--quick") {
      g_opt.quick = true;
    } else if (a == "--init-probe") {
      probe = true;
    } else if (a == "--list") {
      for (auto &m : kMetrics) std::printf("%s\n", m.c_str());
      return 0;
    } else if (a == "-h" || a == "--help") {
      return Usage(argv[0], 0);
    } else if (a.rfind("--mode", 0) == 0) {
      mode_arg = value("--mode");
    } else if (a.rfind("--reps", 0) == 0) {
      g_opt.reps = std::atoi(value("--reps").c_str());
      reps_given = true;
      if (g_opt.reps < 1) return Usage(argv[0], 2);
    } else if (a.rfind("--only", 0) == 0) {
      std::stringstream ss(value("--only"));
      std::string m;
      while (std::getline(ss, m, ',')) {
        if (m.empty()) continue;
        if (std::find(kMetrics.begin(), kMetrics.end(), m) == kMetrics.end()) {
          std::fprintf(stderr, "unknown metric %s (see --list)\n", m.c_str());
          return 2;
        }
        g_opt.only.insert(m);
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return Usage(argv[0], 2);
    }
  }
  if (mode_arg == "both") {
    // Local first: memory the node mode leaves behind in this process (e.g. large puts) would
    // otherwise count against the local run. The table lists node first all the same.
    g_opt.modes = {"local", "node"};
  } else if (mode_arg == "all") {
    g_opt.modes = {"node", "cluster"};
  } else if (mode_arg == "node" || mode_arg == "local" || mode_arg == "cluster") {
    g_opt.modes = {mode_arg};
  } else {
    std::fprintf(stderr, "--mode must be node, local, both, cluster or all\n");
    return 2;
  }
  if (probe) return RunInitProbe(g_opt.modes[0]);
  const bool cluster = g_opt.modes.back() == "cluster";
  if (cluster) {
    const char *address = std::getenv("RAY_ADDRESS");
    if (!address || !*address) {
      std::fprintf(stderr, "--mode=%s needs a running cluster in RAY_ADDRESS (bench/run.sh starts "
                           "one and sets it)\n", mode_arg.c_str());
      return 2;
    }
    g_cluster_address = address;
    // The cluster mode passes it in RayConfig::address; node mode (and its init probes) must not
    // attach to the cluster.
    unsetenv("RAY_ADDRESS");
    if (g_opt.modes.front() == "node" && !g_opt.only.empty()) {
      // --mode=all: a cross-node metric is read beside its single-node counterpart.
      for (auto m : std::set<std::string>(g_opt.only)) {
        if (!SingleNodeCounterpart(m).empty()) g_opt.only.insert(SingleNodeCounterpart(m));
      }
    }
  }
  if (g_opt.quick) {
    if (!reps_given) g_opt.reps = 1;
    g_opt.target_s = 0.1;
    g_opt.warm_s = 0.05;
  }
  signal(SIGPIPE, SIG_IGN);
  StartWatchdog();
  auto t_start = Clock::now();

  std::fprintf(stderr, "machine floor ...\n");
  MeasureSocketFloor();
  MeasureMemcpyFloor();
  std::fprintf(stderr,
               "  unix-socket round trip: %.0f/s = %.1f us; memcpy: %.2f GB/s (fresh memory: %.2f)\n",
               g_floor.rtt_per_s, g_floor.rtt_us, g_floor.memcpy_gbps, g_floor.fresh_gbps);
  if (cluster) {
    MeasureTcpFloor();
    std::fprintf(stderr, "  TCP loopback round trip: %.0f/s = %.1f us; one TCP stream: %.2f GB/s\n",
                 g_floor.tcp_rtt_per_s, g_floor.tcp_rtt_us, g_floor.tcp_gbps);
  }

  for (auto &mode : g_opt.modes) {
    if (mode != "cluster") MeasureInitToFirstResult(mode);
  }
  for (auto &mode : g_opt.modes) {
    try {
      if (mode == "cluster") {
        RunClusterMode(mode);
      } else {
        RunMode(mode);
      }
    } catch (const std::exception &e) {
      Result r;
      r.metric = "ray_init";
      r.mode = mode;
      r.unit = "-";
      r.error = e.what();
      g_results.push_back(r);
      std::fprintf(stderr, "[%s] ERROR: %s\n", mode.c_str(), e.what());
    }
  }

  auto rank = [](const Result &r) {
    if (r.metric == "init_to_first_result") return -2.0;
    if (r.metric == "init_only") return -1.0;
    auto it = std::find(kMetrics.begin(), kMetrics.end(), r.metric);
    return static_cast<double>(it - kMetrics.begin());
  };
  auto mode_rank = [](const std::string &mode) {
    return mode == "node" ? 0 : mode == "local" ? 1 : 2;
  };
  std::stable_sort(g_results.begin(), g_results.end(), [&](const Result &a, const Result &b) {
    if (a.mode != b.mode) return mode_rank(a.mode) < mode_rank(b.mode);
    return rank(a) < rank(b);
  });
  AddFloorRatios();
  PrintTable();
  PrintJson(g_floor.rtt);
  PrintJson(g_floor.memcpy_r);
  PrintJson(g_floor.fresh_r);
  bool failed = !g_floor.rtt.error.empty() || !g_floor.memcpy_r.error.empty() ||
                !g_floor.fresh_r.error.empty();
  for (const Result *f : {&g_floor.tcp_rtt, &g_floor.tcp_bw}) {
    if (f->metric.empty()) continue;
    PrintJson(*f);
    if (!f->error.empty()) failed = true;
  }
  for (auto &r : g_results) {
    PrintJson(r);
    if (!r.error.empty()) failed = true;
  }
  std::fprintf(stderr, "total %.1f s%s\n", Seconds(t_start, Clock::now()),
               failed ? "; SOME METRICS FAILED" : "");
  std::fflush(nullptr);
  return failed ? 1 : 0;
}
