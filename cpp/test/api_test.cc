// goray: the core API (Put/Get/Wait/Task, ObjectRef semantics, Init/Shutdown lifecycle).
#include <sys/wait.h>

#include <cmath>
#include <future>
#include <list>
#include <map>
#include <random>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::ChildProcesses;
using goray_test::Contains;
using goray_test::Describe;
using goray_test::IsNodeMode;
using goray_test::MakeConfig;
using goray_test::Person;
using goray_test::RayTest;
using goray_test::RefCount;
using goray_test::RefHolder;
using goray_test::RunWithDeadline;
using goray_test::SecondsSince;
using Clock = std::chrono::steady_clock;

class ApiTest : public RayTest {};

// ---------------------------------------------------------------- Put / Get

TEST_F(ApiTest, PutGetInt) {
  auto ref = ray::Put(12345);
  auto v = ray::Get(ref);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 12345);
  EXPECT_EQ(*ref.Get(), 12345);
}

TEST_F(ApiTest, PutGetString) {
  std::string s("hello goray");
  s.push_back('\0');
  s += "after nul";
  auto ref = ray::Put(s);
  EXPECT_EQ(*ray::Get(ref), s);
  EXPECT_EQ(*ray::Get(ray::Put(std::string())), "");
}

TEST_F(ApiTest, PutGetVector) {
  std::vector<int> v{1, 2, 3, 4, 5};
  EXPECT_EQ(*ray::Get(ray::Put(v)), v);
  std::vector<std::string> vs{"a", "", "ccc"};
  EXPECT_EQ(*ray::Get(ray::Put(vs)), vs);
  std::vector<int> big(100000);
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<int>(i * 7);
  EXPECT_EQ(*ray::Get(ray::Put(big)), big);
}

TEST_F(ApiTest, PutGetMap) {
  std::map<std::string, int> m{{"one", 1}, {"two", 2}};
  EXPECT_EQ(*ray::Get(ray::Put(m)), m);
  std::unordered_map<int, std::string> um{{1, "x"}, {2, "y"}};
  EXPECT_EQ(*ray::Get(ray::Put(um)), um);
}

TEST_F(ApiTest, PutGetStruct) {
  Person p{"alice", 30, {"a", "b"}};
  EXPECT_EQ(*ray::Get(ray::Put(p)), p);
}

TEST_F(ApiTest, GetVectorOfRefs) {
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 10; i++) refs.push_back(ray::Put(i * i));
  auto values = ray::Get(refs);
  ASSERT_EQ(values.size(), 10u);
  for (int i = 0; i < 10; i++) EXPECT_EQ(*values[i], i * i);
  auto values2 = ray::Get(refs, 5000);
  ASSERT_EQ(values2.size(), 10u);
  EXPECT_EQ(*values2[9], 81);
}

// Hex of raw bytes, as the runtime context prints ids.
static std::string HexOf(const std::string &raw) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// ray::GetRuntimeContext(): the driver's thread runs no task and no actor; a task sees its own
// task id (the first bytes of its return object's id); an actor method sees its actor; all see
// the job, the node and the namespace.
TEST_F(ApiTest, RuntimeContext) {
  auto driver = ray::GetRuntimeContext();
  EXPECT_EQ(driver.GetCurrentJobId(), "01000000");
  EXPECT_EQ(driver.GetCurrentNodeId().size(), 2u * RAY_ACTOR_ID_SIZE);
  EXPECT_EQ(driver.GetCurrentActorId(), "");
  EXPECT_EQ(driver.GetCurrentTaskId(), "");
  EXPECT_EQ(driver.GetNamespace(), ray::GetNamespace());
  EXPECT_EQ(driver.IsLocalMode(), !IsNodeMode());
  EXPECT_EQ(ray::internal::IsLocalMode(), !IsNodeMode());
  EXPECT_FALSE(driver.WasCurrentActorRestarted());

  auto ref = ray::Task(ContextHere).Remote();
  auto task = *ref.Get();
  ASSERT_EQ(task.size(), 6u);
  EXPECT_EQ(task[0], "01000000");
  EXPECT_EQ(task[1], driver.GetCurrentNodeId());
  EXPECT_EQ(task[2], "");
  EXPECT_FALSE(task[3].empty());
  EXPECT_EQ(HexOf(ref.ID()).substr(0, task[3].size()), task[3]);
  EXPECT_EQ(task[4], driver.GetNamespace());
  EXPECT_EQ(task[5], IsNodeMode() ? "node" : "local");

  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto in_actor = *counter.Task(&Counter::Context).Remote().Get();
  ASSERT_EQ(in_actor.size(), 6u);
  EXPECT_EQ(in_actor[2], HexOf(counter.ID()));
  EXPECT_FALSE(in_actor[3].empty());
  EXPECT_NE(in_actor[3], task[3]);
  EXPECT_EQ(in_actor[4], driver.GetNamespace());

  // The cluster's nodes: here one, this driver's, with the resources it was given.
  auto nodes = ray::RuntimeContext::GetAllNodeInfo();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].node_id, driver.GetCurrentNodeId());
  EXPECT_TRUE(nodes[0].is_alive);
  EXPECT_TRUE(nodes[0].is_head);
  EXPECT_EQ(nodes[0].node_manager_address, "127.0.0.1");
  EXPECT_GE(nodes[0].resources["CPU"], 1.0);
}

TEST(RuntimeContextTest, NeedsInit) {
  try {
    ray::GetRuntimeContext();
    ADD_FAILURE() << "GetRuntimeContext before Init answered";
  } catch (const ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "not initialized")) << e.what();
  }
  EXPECT_THROW(ray::RuntimeContext::GetAllNodeInfo(), ray::internal::RayException);
  EXPECT_THROW(ray::RuntimeContext::FromJson("{\"job_id\": 1}"), ray::internal::RayException);
}

TEST_F(ApiTest, GetWithTimeoutOnReadyObject) {
  auto ref = ray::Put(7);
  EXPECT_EQ(*ray::Get(ref, 1000), 7);
  EXPECT_EQ(*ref.Get(1000), 7);
}

// An object that does not become ready in time: Get(ref, timeout) throws "Get object error: ...".
TEST_F(ApiTest, GetTimeoutThrows) {
  ray::ObjectRef<int> ref;
  if (IsNodeMode()) {
    ref = ray::Task(Return1).SetResource("goray_nobody_has_this", 1).Remote();
  } else {
    ref = ray::Task(SlowFunction).Remote(1500);
  }
  auto t0 = Clock::now();
  try {
    ray::Get(ref, 200);
    FAIL() << "Get of a never-ready object returned";
  } catch (ray::internal::RayTimeoutException &e) {
    EXPECT_EQ(std::string(e.what()).rfind("Get object error", 0), 0u) << e.what();
  }
  double elapsed = SecondsSince(t0);
  EXPECT_GE(elapsed, 0.15);
  EXPECT_LT(elapsed, 1.2);

  std::vector<ray::ObjectRef<int>> refs{ray::Put(1), ref};
  try {
    ray::Get(refs, 100);
    FAIL() << "Get of a vector with a never-ready object returned";
  } catch (ray::internal::RayException &e) {
    EXPECT_EQ(std::string(e.what()).rfind("Get object error", 0), 0u) << e.what();
  }
}

// ---------------------------------------------------------------- Wait

TEST_F(ApiTest, WaitAllReady) {
  std::vector<ray::ObjectRef<int>> refs{ray::Put(1), ray::Put(2), ray::Put(3)};
  auto r = ray::Wait(refs, 3, 5000);
  EXPECT_EQ(r.ready.size(), 3u);
  EXPECT_EQ(r.unready.size(), 0u);
  // Ready ids come back in the order given.
  auto it = r.ready.begin();
  for (size_t i = 0; i < refs.size(); i++, ++it) EXPECT_EQ(it->ID(), refs[i].ID());
}

TEST_F(ApiTest, WaitReturnsAtMostNumObjects) {
  std::vector<ray::ObjectRef<int>> refs{ray::Put(1), ray::Put(2), ray::Put(3)};
  auto r = ray::Wait(refs, 1, 5000);
  EXPECT_EQ(r.ready.size(), 1u);
  EXPECT_EQ(r.unready.size(), 2u);
  r = ray::Wait(refs, 2, 0);
  EXPECT_EQ(r.ready.size(), 2u);
  EXPECT_EQ(r.unready.size(), 1u);
}

TEST_F(ApiTest, WaitTasks) {
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 5; i++) refs.push_back(ray::Task(Plus1).Remote(i));
  auto r = ray::Wait(refs, 5, -1);
  EXPECT_EQ(r.ready.size(), 5u);
  EXPECT_EQ(r.unready.size(), 0u);
  int sum = 0;
  for (auto &ref : r.ready) sum += *ray::Get(ref);
  EXPECT_EQ(sum, 1 + 2 + 3 + 4 + 5);
}

TEST_F(ApiTest, WaitSplitsReadyAndUnready) {
  auto slow = ray::Task(SlowFunction).Remote(2000);
  auto fast = ray::Put(5);
  std::vector<ray::ObjectRef<int>> refs{slow, fast};

  // Enough already ready: returns at once.
  auto t0 = Clock::now();
  auto r = ray::Wait(refs, 1, -1);
  EXPECT_LT(SecondsSince(t0), 1.0);
  ASSERT_EQ(r.ready.size(), 1u);
  ASSERT_EQ(r.unready.size(), 1u);
  EXPECT_EQ(r.ready.front().ID(), fast.ID());
  EXPECT_EQ(r.unready.front().ID(), slow.ID());

  // Not enough ready: waits for the timeout, then splits.
  t0 = Clock::now();
  r = ray::Wait(refs, 2, 300);
  double elapsed = SecondsSince(t0);
  EXPECT_GE(elapsed, 0.25);
  EXPECT_LT(elapsed, 1.5);
  ASSERT_EQ(r.ready.size(), 1u);
  ASSERT_EQ(r.unready.size(), 1u);
  EXPECT_EQ(r.ready.front().ID(), fast.ID());
  EXPECT_EQ(r.unready.front().ID(), slow.ID());

  // Timeout 0: a poll.
  t0 = Clock::now();
  r = ray::Wait(refs, 2, 0);
  EXPECT_LT(SecondsSince(t0), 0.5);
  EXPECT_EQ(r.ready.size(), 1u);
  EXPECT_EQ(r.unready.size(), 1u);

  // Forever: returns once the slow task is done.
  r = ray::Wait(refs, 2, -1);
  EXPECT_EQ(r.ready.size(), 2u);
  EXPECT_EQ(r.unready.size(), 0u);
  EXPECT_EQ(*ray::Get(slow), 2000);
}

TEST_F(ApiTest, WaitInvalidNumObjects) {
  std::vector<ray::ObjectRef<int>> refs{ray::Put(1), ray::Put(2), ray::Put(3)};
  EXPECT_THROW(ray::Wait(refs, 0, 100), ray::internal::RayException);
  EXPECT_THROW(ray::Wait(refs, -1, 100), ray::internal::RayException);
  EXPECT_THROW(ray::Wait(refs, 4, 100), ray::internal::RayException);
}

TEST_F(ApiTest, WaitDuplicateIds) {
  auto a = ray::Put(1);
  std::vector<ray::ObjectRef<int>> refs{a, ray::Put(2), a};
  EXPECT_THROW(ray::Wait(refs, 1, 100), ray::internal::RayException);
}

// The loop of single Waits over what is left (bench: single_client_wait_1k_refs): each call
// returns the first ready ref and the others in the order given, and the refs in the results are
// copies sharing one count with the original: nothing is counted twice, nothing is lost.
TEST_F(ApiTest, WaitLoopKeepsOrderAndCounts) {
  std::vector<ray::ObjectRef<int>> all;
  for (int i = 0; i < 300; i++) all.push_back(ray::Put(i));
  for (int num : {1, 3}) {
    std::vector<ray::ObjectRef<int>> left = all;
    size_t next = 0;  // index in `all` of the first ref still left
    while (!left.empty()) {
      int want = std::min<int>(num, static_cast<int>(left.size()));
      auto r = ray::Wait(left, want, -1);
      ASSERT_EQ(r.ready.size(), static_cast<size_t>(want));
      ASSERT_EQ(r.unready.size(), left.size() - want);
      for (const auto &ref : r.ready) ASSERT_EQ(ref.ID(), all[next++].ID());
      size_t i = next;
      for (const auto &ref : r.unready) ASSERT_EQ(ref.ID(), all[i++].ID());
      ASSERT_EQ(RefCount(r.ready.front()), 1);
      left.assign(r.unready.begin(), r.unready.end());
    }
    EXPECT_EQ(next, all.size());
  }
  for (const auto &ref : all) ASSERT_EQ(RefCount(ref), 1);
  // The objects go with the last refs to them.
  std::vector<std::string> ids;
  for (const auto &ref : all) ids.push_back(ref.ID());
  {
    auto r = ray::Wait(all, 2, -1);
    all.clear();
    EXPECT_EQ(RefCount(ids[0]), 1);  // held by the result only
    EXPECT_EQ(*ray::Get(r.ready.front()), 0);
  }
  for (const auto &id : ids) ASSERT_EQ(RefCount(id), 0);
}

// Duplicates are refused however the list was made: as the first list of a thread, after a list
// it is a part of (checked by a merge with the last list), as another list (checked by hashing),
// and with two refs made separately from one id.
TEST_F(ApiTest, WaitDuplicatesAfterEarlierLists) {
  auto a = ray::Put(1), b = ray::Put(2), c = ray::Put(3), d = ray::Put(4);
  using List = std::vector<ray::ObjectRef<int>>;
  EXPECT_EQ(ray::Wait(List{a, b, c, d}, 1, -1).ready.size(), 1u);
  EXPECT_EQ(ray::Wait(List{a, c, d}, 3, -1).ready.size(), 3u);  // in the last list, in order
  EXPECT_EQ(ray::Wait(List{d, a}, 2, -1).ready.size(), 2u);     // not in order: hashed
  EXPECT_THROW(ray::Wait(List{d, a, d}, 1, -1), ray::internal::RayException);
  EXPECT_THROW(ray::Wait(List{a, b, c, d, a}, 1, -1), ray::internal::RayException);
  EXPECT_EQ(ray::Wait(List{b, c}, 1, -1).ready.size(), 1u);
  EXPECT_EQ(ray::Wait(List{c}, 1, -1).ready.size(), 1u);
  ray::ObjectRef<int> c_again(c.ID());
  try {
    ray::Wait(List{b, c, c_again}, 1, -1);
    ADD_FAILURE() << "a list with one id twice was accepted";
  } catch (const ray::internal::RayException &e) {
    EXPECT_STREQ(e.what(), "Wait requires a list of unique object ids.");
  }
  // After the refusals, lists without duplicates work as before.
  auto r = ray::Wait(List{a, b, c, d}, 4, -1);
  EXPECT_EQ(r.ready.size(), 4u);
  EXPECT_EQ(RefCount(c), 2);  // c and c_again: two holders of one id
}

// The first bad ref decides the error: a duplicate before an empty ref, or the empty ref first.
TEST_F(ApiTest, WaitEmptyRefAndDuplicateErrors) {
  auto a = ray::Put(1);
  ray::ObjectRef<int> empty;
  using List = std::vector<ray::ObjectRef<int>>;
  auto message = [](const List &refs) {
    try {
      ray::Wait(refs, 1, 0);
    } catch (const ray::internal::RayException &e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(List{a, empty}), "Wait got an empty ObjectRef.");
  EXPECT_EQ(message(List{empty, a, a}), "Wait got an empty ObjectRef.");
  EXPECT_EQ(message(List{a, a, empty}), "Wait requires a list of unique object ids.");
  EXPECT_EQ(ray::Wait(List{a}, 1, 0).ready.size(), 1u);
}

// ---------------------------------------------------------------- tasks

TEST_F(ApiTest, TasksWithZeroToThreeArgs) {
  EXPECT_EQ(*ray::Task(Return1).Remote().Get(), 1);
  EXPECT_EQ(*ray::Task(Sum0).Remote().Get(), 0);
  EXPECT_EQ(*ray::Task(Sum1).Remote(4).Get(), 4);
  EXPECT_EQ(*ray::Task(Sum2).Remote(4, 5).Get(), 9);
  EXPECT_EQ(*ray::Task(Sum3).Remote(4, 5, 6).Get(), 15);
  EXPECT_EQ(*ray::Task(Plus1).Remote(41).Get(), 42);
  EXPECT_EQ(*ray::Get(ray::Task(Plus).Remote(1, 2)), 3);
}

// goray's scheduling strategies: SPREAD and a soft affinity to a node that is not there run the
// task (on one node, or in local mode, there is nowhere else); a node id that is not one is
// refused when the task is submitted.
TEST_F(ApiTest, SchedulingStrategies) {
  EXPECT_EQ(*ray::Get(ray::Task(Plus).SetSchedulingStrategy(ray::SpreadSchedulingStrategy()).Remote(1, 2)), 3);
  EXPECT_EQ(*ray::Get(ray::Task(Plus).SetSchedulingStrategy(ray::DefaultSchedulingStrategy()).Remote(2, 2)), 4);
  auto soft = ray::NodeAffinitySchedulingStrategy(std::string(31, '0') + "1", true);
  EXPECT_EQ(*ray::Get(ray::Task(Plus).SetSchedulingStrategy(soft).Remote(2, 3)), 5);
  try {
    ray::Task(Plus).SetSchedulingStrategy(ray::NodeAffinitySchedulingStrategy("not-a-node")).Remote(1, 1);
    ADD_FAILURE() << "a bad node id was accepted";
  } catch (const ray::internal::RayException &e) {
    EXPECT_NE(std::string(e.what()).find("not a node id"), std::string::npos) << e.what();
  }
}

TEST_F(ApiTest, ConvertibleValueArgs) {
  short s = 3;
  EXPECT_EQ(*ray::Task(Plus).Remote(s, 'A').Get(), 3 + 'A');
  EXPECT_EQ(*ray::Task(EchoString).Remote("c string").Get(), "c string");
}

TEST_F(ApiTest, ContainerAndStructTasks) {
  EXPECT_EQ(*ray::Task(EchoString).Remote(std::string("abc")).Get(), "abc");
  EXPECT_EQ(*ray::Task(ReverseVector).Remote(std::vector<int>{1, 2, 3}).Get(),
            (std::vector<int>{3, 2, 1}));
  std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  EXPECT_EQ(*ray::Task(MapAddOne).Remote(m).Get(), (std::map<std::string, int>{{"a", 2}, {"b", 3}}));
  Person p{"bob", 41, {"x"}};
  Person expected{"bob", 42, {"x", "older"}};
  EXPECT_EQ(*ray::Task(Birthday).Remote(p).Get(), expected);
  auto people = *ray::Task(MakePeople).Remote(3).Get();
  ASSERT_EQ(people.size(), 3u);
  EXPECT_EQ(people[2].name, "p2");
  EXPECT_EQ(people[2].age, 2);
}

TEST_F(ApiTest, ObjectRefArgs) {
  auto ten = ray::Put(10);
  EXPECT_EQ(*ray::Task(Plus).Remote(ten, 5).Get(), 15);
  EXPECT_EQ(*ray::Task(Plus).Remote(ten, ten).Get(), 20);
  auto vec = ray::Put(std::vector<int>{1, 2});
  EXPECT_EQ(*ray::Task(ReverseVector).Remote(vec).Get(), (std::vector<int>{2, 1}));
  auto person = ray::Put(Person{"carol", 1, {}});
  EXPECT_EQ(ray::Task(Birthday).Remote(person).Get()->age, 2);
}

TEST_F(ApiTest, ChainedTaskResults) {
  auto three = ray::Task(Plus).Remote(1, 2);
  auto thirteen = ray::Task(Plus).Remote(three, 10);
  EXPECT_EQ(*ray::Get(thirteen), 13);
  // A longer chain submitted before anything is fetched.
  auto r = ray::Task(Plus1).Remote(0);
  for (int i = 0; i < 9; i++) r = ray::Task(Plus1).Remote(r);
  EXPECT_EQ(*r.Get(), 10);
}

TEST_F(ApiTest, NestedObjectRef) {
  auto inner = ray::Put(77);
  ray::ObjectRef<ray::ObjectRef<int>> outer = ray::Put(inner);
  auto got_inner = ray::Get(outer);
  ASSERT_NE(got_inner, nullptr);
  EXPECT_EQ(got_inner->ID(), inner.ID());
  EXPECT_EQ(*ray::Get(*got_inner), 77);

  // The outer object keeps the inner one alive after the driver drops its own ref.
  std::string inner_id = inner.ID();
  inner = ray::ObjectRef<int>();
  got_inner.reset();
  auto again = ray::Get(outer);
  EXPECT_EQ(again->ID(), inner_id);
  EXPECT_EQ(*ray::Get(*again), 77);
}

TEST_F(ApiTest, TaskReturningObjectRef) {
  ray::ObjectRef<ray::ObjectRef<int>> outer = ray::Task(PutInWorker).Remote(55);
  auto inner = ray::Get(outer);
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->ID().size(), 28u);
  EXPECT_EQ(*ray::Get(*inner), 55);
}

TEST_F(ApiTest, VectorOfRefs) {
  std::vector<ray::ObjectRef<int>> refs{ray::Put(1), ray::Put(2), ray::Task(Plus).Remote(1, 2)};
  auto stored = ray::Put(refs);
  auto back = ray::Get(stored);
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ(*ray::Get((*back)[2]), 3);
  // Passed by value to a task that Gets them itself (nested Get in the worker).
  EXPECT_EQ(*ray::Task(SumRefs).Remote(refs).Get(), 6);
  // And resolved from an ObjectRef argument.
  EXPECT_EQ(*ray::Task(SumRefs).Remote(stored).Get(), 6);
}

TEST_F(ApiTest, RefInsideStruct) {
  RefHolder h{"abcd", ray::Put(100)};
  auto stored = ray::Put(h);
  auto back = ray::Get(stored);
  EXPECT_EQ(back->label, "abcd");
  EXPECT_EQ(back->ref.ID(), h.ref.ID());
  EXPECT_EQ(*ray::Get(back->ref), 100);
  EXPECT_EQ(*ray::Task(SumHolder).Remote(h).Get(), 104);
  EXPECT_EQ(*ray::Task(SumHolder).Remote(stored).Get(), 104);
}

TEST_F(ApiTest, ObjectRefTypedParameterIsPassedAsRef) {
  auto ref = ray::Put(31);
  EXPECT_EQ(*ray::Task(GetRefParam).Remote(ref).Get(), 31);
  auto task_ref = ray::Task(Plus).Remote(30, 2);
  EXPECT_EQ(*ray::Task(GetRefParam).Remote(task_ref).Get(), 32);
}

TEST_F(ApiTest, SameResultAsStdAsync) {
  for (int i = 0; i < 5; i++) {
    auto local = std::async(std::launch::async, Plus, i, 2 * i);
    EXPECT_EQ(*ray::Task(Plus).Remote(i, 2 * i).Get(), local.get());
  }
  auto local_s = std::async(std::launch::async, ConcatConstRef, std::string("a"), std::string("b"));
  EXPECT_EQ(*ray::Task(ConcatConstRef).Remote(std::string("a"), std::string("b")).Get(),
            local_s.get());
  auto local_v = std::async(std::launch::async, ReverseVector, std::vector<int>{1, 2, 3});
  EXPECT_EQ(*ray::Task(ReverseVector).Remote(std::vector<int>{1, 2, 3}).Get(), local_v.get());
}

TEST_F(ApiTest, ManyTasks) {
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 200; i++) refs.push_back(ray::Task(Plus).Remote(i, 1));
  auto values = ray::Get(refs);
  long sum = 0;
  for (auto &v : values) sum += *v;
  EXPECT_EQ(sum, 200L * 199 / 2 + 200);
}

TEST_F(ApiTest, VoidTaskSideEffect) {
  std::string path = goray_test::TempDir() + "/goray_void_" + std::to_string(getpid()) + "_" +
                     std::to_string(std::random_device{}());
  ray::ObjectRef<void> done = ray::Task(WriteTextFile).Remote(path, std::string("side effect"));
  ray::Get(done);
  EXPECT_EQ(*ray::Task(ReadTextFile).Remote(path).Get(), "side effect");
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "side effect");
  unlink(path.c_str());
}

TEST_F(ApiTest, TaskRunsInWorkerProcessInNodeMode) {
  int pid = *ray::Task(GetPid).Remote().Get();
  if (IsNodeMode()) {
    EXPECT_NE(pid, static_cast<int>(getpid()));
    // The worker is a child of this process (the embedded node lives here).
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    EXPECT_TRUE(static_cast<bool>(in)) << "worker pid " << pid << " is not alive";
  } else {
    EXPECT_EQ(pid, static_cast<int>(getpid()));
  }
}

// Which program the worker runs: with libtest_functions.so next to the test binary the node runs
// default_worker (which loads the .so); without it the test binary itself is re-executed. The
// run script says which one it expects via GORAY_TEST_EXPECT_WORKER=default_worker|self.
TEST_F(ApiTest, WorkerProgram) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no worker processes";
  const char *expect = std::getenv("GORAY_TEST_EXPECT_WORKER");
  if (expect == nullptr) GTEST_SKIP() << "GORAY_TEST_EXPECT_WORKER not set";
  std::string exe = *ray::Task(WorkerExe).Remote().Get();
  if (std::string(expect) == "default_worker") {
    EXPECT_TRUE(Contains(exe, "default_worker")) << exe;
  } else {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    ASSERT_GT(n, 0);
    EXPECT_EQ(exe, std::string(buf, static_cast<size_t>(n)));
  }
}

// ---------------------------------------------------------------- ObjectRef semantics

TEST_F(ApiTest, ObjectRefIdIs28BytesAndStable) {
  auto a = ray::Put(1);
  auto b = ray::Put(1);
  EXPECT_EQ(a.ID().size(), 28u);
  EXPECT_EQ(b.ID().size(), 28u);
  EXPECT_NE(a.ID(), b.ID());
  auto copy = a;
  EXPECT_EQ(copy.ID(), a.ID());
  EXPECT_TRUE(copy == a);
  EXPECT_FALSE(a == b);
  auto t = ray::Task(Plus).Remote(1, 1);
  EXPECT_EQ(t.ID().size(), 28u);
  std::string before = t.ID();
  ray::Get(t);
  EXPECT_EQ(t.ID(), before);
  ray::ObjectRef<int> empty;
  EXPECT_TRUE(empty.ID().empty());
}

TEST_F(ApiTest, ObjectRefCopyAndMoveRefCounts) {
  // Copies of a ref share one count in the runtime: the object lives while any copy does.
  const std::string id = [] {
    auto a = ray::Put(1);
    return a.ID();
  }();
  EXPECT_EQ(RefCount(id), 0);  // the only ref died: released
  auto a = ray::Put(1);
  const std::string aid = a.ID();
  EXPECT_EQ(RefCount(aid), 1);
  {
    auto copy = a;  // copy construction: shares the count
    ray::ObjectRef<int> assigned;
    assigned = a;  // copy assignment: shares it too
    EXPECT_EQ(RefCount(aid), 1);
    auto moved = std::move(copy);
    EXPECT_TRUE(copy.ID().empty());  // a moved-from ref is empty
    ray::ObjectRef<int> move_assigned;
    move_assigned = std::move(moved);
    EXPECT_TRUE(moved.ID().empty());
    EXPECT_EQ(RefCount(aid), 1);
    // The original goes; the copies keep the object alive.
    a = ray::ObjectRef<int>();
    EXPECT_EQ(RefCount(aid), 1);
    EXPECT_EQ(*ray::Get(move_assigned), 1);
    EXPECT_EQ(*assigned.Get(), 1);
    a = assigned;
  }
  EXPECT_EQ(RefCount(aid), 1);  // `a` holds it again
  EXPECT_EQ(*ray::Get(a), 1);

  // Copy-assigning over a ref releases what it held when it was the last holder.
  auto b = ray::Put(2);
  const std::string bid = b.ID();
  EXPECT_EQ(RefCount(bid), 1);
  b = a;
  EXPECT_EQ(RefCount(bid), 0);
  EXPECT_TRUE(b == a);

  // A vector of copies, dropped: the object outlives it through `a`, and goes with `a`.
  {
    std::vector<ray::ObjectRef<int>> v(5, a);
    a = ray::ObjectRef<int>();
    b = ray::ObjectRef<int>();
    EXPECT_EQ(RefCount(aid), 1);
    EXPECT_EQ(*ray::Get(v[4]), 1);
  }
  EXPECT_EQ(RefCount(aid), 0);
}

TEST_F(ApiTest, RefCountsAfterTasksAndNestedGets) {
  auto a = ray::Put(1);
  const std::string id = a.ID();
  int64_t base = RefCount(id);
  // Passing a ref as a task argument leaves no reference behind once the task is done.
  EXPECT_EQ(*ray::Task(Plus).Remote(a, 1).Get(), 2);
  EXPECT_EQ(*ray::Task(GetRefParam).Remote(a).Get(), 1);
  EXPECT_EQ(RefCount(id), base);
  // Refs deserialized from a value count while they live.
  auto outer = ray::Put(std::vector<ray::ObjectRef<int>>{a, a});
  int64_t with_outer = RefCount(id);
  {
    auto v = ray::Get(outer);
    EXPECT_EQ(RefCount(id), with_outer + 2);
  }
  EXPECT_EQ(RefCount(id), with_outer);
}

TEST_F(ApiTest, ObjectRefFromIdCountsAsReference) {
  auto a = ray::Put(9);
  const std::string id = a.ID();
  {
    ray::ObjectRef<int> again(id);
    EXPECT_EQ(RefCount(id), 2);
    EXPECT_EQ(*ray::Get(again), 9);
    EXPECT_TRUE(again == a);
  }
  EXPECT_EQ(RefCount(id), 1);
}

TEST_F(ApiTest, GetUnknownIdThrows) {
  std::string id(28, '\0');
  std::mt19937 rng(std::random_device{}());
  for (auto &c : id) c = static_cast<char>(rng() & 0xff);
  auto result = std::make_shared<std::string>("no exception");
  bool finished = RunWithDeadline(
      [id, result]() {
        try {
          ray::ObjectRef<int> bogus(id);
          ray::Get(bogus);
          *result = "returned a value";
        } catch (ray::internal::RayException &e) {
          *result = "RayException";
        } catch (std::exception &e) {
          *result = std::string("other exception: ") + e.what();
        }
      },
      10000);
  ASSERT_TRUE(finished) << "Get of an unknown id hangs";
  EXPECT_EQ(*result, "RayException");
}

// ---------------------------------------------------------------- lifecycle

TEST_F(ApiTest, InitTwiceIsNoOp) {
  ray::RayConfig other;
  other.local_mode = !IsNodeMode();
  other.head_args = {"--num-cpus", "1"};
  EXPECT_NO_THROW(ray::Init(other));
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_NO_THROW(ray::Init());
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Get(ray::Put(3)), 3);
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
}

TEST(ApiLifecycleTest, CallsBeforeInitThrow) {
  ASSERT_FALSE(ray::IsInitialized());
  EXPECT_THROW(ray::Put(1), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).Remote(1, 2), ray::internal::RayException);
  std::string id(28, 'x');
  {
    ray::ObjectRef<int> ref(id);
    EXPECT_THROW(ray::Get(ref), ray::internal::RayException);
    EXPECT_THROW(ray::Get(ref, 100), ray::internal::RayException);
    std::vector<ray::ObjectRef<int>> refs{ref};
    EXPECT_THROW(ray::Wait(refs, 1, 100), ray::internal::RayException);
  }
  EXPECT_FALSE(ray::IsInitialized());
}

TEST(ApiLifecycleTest, ShutdownThenInitAgain) {
  for (int round = 0; round < 3; round++) {
    ray::RayConfig config = MakeConfig();
    ray::Init(config);
    ASSERT_TRUE(ray::IsInitialized()) << "round " << round;
    EXPECT_EQ(*ray::Get(ray::Put(round)), round);
    EXPECT_EQ(*ray::Task(Plus).Remote(round, 1).Get(), round + 1);
    ray::Shutdown();
    EXPECT_FALSE(ray::IsInitialized());
    EXPECT_THROW(ray::Put(1), ray::internal::RayException);
  }
}

TEST(ApiLifecycleTest, ShutdownTwiceAndWithoutInit) {
  EXPECT_NO_THROW(ray::Shutdown());
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  ray::Shutdown();
  EXPECT_NO_THROW(ray::Shutdown());
  EXPECT_FALSE(ray::IsInitialized());
}

TEST(ApiLifecycleTest, RefsOutlivingShutdownAreHarmless) {
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  auto ref = std::make_unique<ray::ObjectRef<int>>(ray::Put(5));
  auto copy = std::make_unique<ray::ObjectRef<int>>(*ref);
  ray::Shutdown();
  copy.reset();  // destroying refs after Shutdown must not crash
  ray::ObjectRef<int> third = *ref;
  ref.reset();
  EXPECT_THROW(ray::Get(third), ray::internal::RayException);
}

TEST(ApiLifecycleTest, ShutdownWhileSlowTaskRuns) {
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  auto slow = std::make_shared<ray::ObjectRef<int>>(ray::Task(SlowFunction).Remote(4000));
  auto outcome = std::make_shared<std::string>("still waiting");
  auto started = std::make_shared<std::atomic<bool>>(false);
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  std::thread getter([slow, outcome, started, done]() {
    started->store(true);
    std::string o;
    try {
      ray::Get(*slow);
      o = "returned a value";
    } catch (ray::internal::RayException &e) {
      o = std::string("RayException: ") + e.what();
    } catch (std::exception &e) {
      o = std::string("other exception: ") + e.what();
    }
    std::lock_guard<std::mutex> lock(done->mu);
    *outcome = o;
    done->done = true;
    done->cv.notify_all();
  });
  while (!started->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the Get is now blocked

  auto t0 = Clock::now();
  ray::Shutdown();
  double shutdown_s = SecondsSince(t0);
  EXPECT_LT(shutdown_s, 2.0) << "Shutdown waited for the running task";
  EXPECT_FALSE(ray::IsInitialized());

  std::unique_lock<std::mutex> lock(done->mu);
  bool finished = done->cv.wait_for(lock, std::chrono::seconds(2), [&] { return done->done; });
  std::string o = *outcome;
  lock.unlock();
  double total_s = SecondsSince(t0);
  if (finished) {
    getter.join();
  } else {
    getter.detach();
  }
  ASSERT_TRUE(finished) << "a Get pending across Shutdown hangs";
  EXPECT_TRUE(o.rfind("RayException", 0) == 0) << o;
  EXPECT_LT(total_s, 3.5) << "the pending Get waited for the task instead of failing: " << o;
}

TEST(ApiLifecycleTest, NoChildProcessLeftAfterShutdown) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode starts no processes";
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 4; i++) refs.push_back(ray::Task(SlowFunction).Remote(200));
  ray::Get(refs);
  int worker_pid = *ray::Task(GetPid).Remote().Get();
  EXPECT_NE(worker_pid, static_cast<int>(getpid()));
  refs.clear();
  ray::Shutdown();

  auto deadline = Clock::now() + std::chrono::seconds(5);
  std::vector<goray_test::ChildProcess> left = ChildProcesses();
  while (!left.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = ChildProcesses();
  }
  EXPECT_TRUE(left.empty()) << "child processes left 5 s after Shutdown (state Z = not reaped): "
                            << Describe(left);
}

// The C ABI is the only door into the runtime: a caller's NULL where memory is needed, an id it
// never created, or a call before Init gets an error code and a message, never a crash.
namespace {
// Code calls f(&err) and returns its code; the message (freed here) goes to *message.
template <typename F>
int Code(F f, std::string *message = nullptr) {
  char *err = nullptr;
  int code = f(&err);
  if (message != nullptr) *message = err != nullptr ? err : "";
  if (err != nullptr) ray_free(err);
  return code;
}
}  // namespace

TEST(CApiTest, CallsBeforeInitFailClearly) {
  ASSERT_FALSE(ray::IsInitialized());
  uint8_t id[RAY_ID_SIZE] = {0};
  ray_object obj;
  uint8_t ready = 0;
  std::string msg;
  EXPECT_EQ(Code([&](char **e) { return ray_get(id, 1, 10, &obj, e); }, &msg), RAY_ERR_NOT_INITIALIZED);
  EXPECT_TRUE(Contains(msg, "not initialized")) << msg;
  EXPECT_EQ(Code([&](char **e) { return ray_put(id, 1, nullptr, 0, id, e); }), RAY_ERR_NOT_INITIALIZED);
  EXPECT_EQ(Code([&](char **e) { return ray_wait(id, 1, 1, 10, &ready, e); }), RAY_ERR_NOT_INITIALIZED);
  ray_add_ref(id);
  ray_remove_ref(id);
  ray_put_abort(id);
  EXPECT_EQ(ray_ref_count(id), 0);
}

TEST_F(ApiTest, CApiRejectsNullArgumentsAndForeignIds) {
  uint8_t id[RAY_ID_SIZE] = {0};
  uint8_t *data = nullptr;
  ray_object obj;
  uint8_t ready[2];
  std::string msg;
  const int bad = RAY_ERR_INVALID_ARGUMENT;
  EXPECT_EQ(Code([&](char **e) { return ray_get(nullptr, 1, 10, &obj, e); }, &msg), bad);
  EXPECT_TRUE(Contains(msg, "ids is NULL")) << msg;
  EXPECT_EQ(Code([&](char **e) { return ray_get(id, 1, 10, nullptr, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_put(nullptr, 5, nullptr, 0, id, e); }, &msg), bad);
  EXPECT_TRUE(Contains(msg, "data is NULL")) << msg;
  EXPECT_EQ(Code([&](char **e) { return ray_put(id, 1, nullptr, 3, id, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_put(id, 1, nullptr, 0, nullptr, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_wait(nullptr, 2, 1, 10, ready, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_wait(id, 1, 1, 10, nullptr, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_wait(id, 1, 5, 10, ready, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_submit_task(nullptr, id, e); }), bad);
  const char *fn = "Plus1";
  ray_task_spec spec{};
  spec.function_name = fn;
  spec.function_name_len = 5;
  spec.num_args = 2;  // args NULL
  EXPECT_EQ(Code([&](char **e) { return ray_submit_task(&spec, id, e); }, &msg), bad);
  EXPECT_TRUE(Contains(msg, "args is NULL")) << msg;
  spec.num_args = 0;
  EXPECT_EQ(Code([&](char **e) { return ray_submit_task(&spec, nullptr, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_create_actor(nullptr, id, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_submit_actor_task(nullptr, &spec, id, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_kill_actor(nullptr, 0, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_get_actor(nullptr, 3, nullptr, 0, id, nullptr, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_put_create(1 << 20, nullptr, &data, e); }), bad);
  EXPECT_EQ(Code([&](char **e) { return ray_put_seal(nullptr, nullptr, 0, e); }), bad);
  if (IsNodeMode()) {
    // Sealing an id this process never created with ray_put_create is refused.
    EXPECT_EQ(Code([&](char **e) { return ray_put_seal(id, nullptr, 0, e); }, &msg), bad);
    EXPECT_TRUE(Contains(msg, "did not create it")) << msg;
  }
  ray_put_abort(nullptr);
  ray_add_ref(nullptr);
  ray_remove_ref(nullptr);
  ray_object_release(nullptr);
  ray_free(nullptr);
  EXPECT_EQ(ray_ref_count(nullptr), 0);
  ray_log(RAY_LOG_INFO, nullptr, 0, nullptr, 5);
  ray_log(42, "file.cc", 1, "an unknown severity is logged as an error", 41);
  // Nothing else broke: the runtime still works.
  EXPECT_EQ(*ray::Get(ray::Task(Plus1).Remote(41)), 42);
}

// The runtime validates resource quantities at submission itself (go/resources), for callers of the
// C ABI that skip the C++ headers' CheckTaskOptions: the same refusal in local and node mode.
TEST_F(ApiTest, CApiRefusesBadResourceQuantities) {
  uint8_t id[RAY_ID_SIZE] = {0};
  std::string msg;
  const int bad = RAY_ERR_INVALID_ARGUMENT;
  const char *fn = "Plus1";
  struct Case {
    std::vector<const char *> names;
    std::vector<double> values;
    std::vector<std::string> want;
  };
  std::vector<Case> cases = {
      {{"CPU"}, {INFINITY}, {"task Plus1", "\"CPU\"", "+Inf", "infinite"}},
      {{"CPU"}, {-INFINITY}, {"\"CPU\"", "-Inf", "infinite"}},
      {{"CPU"}, {NAN}, {"\"CPU\"", "NaN", "not a number"}},
      {{"CPU"}, {1e18}, {"\"CPU\"", "1e+18", "too large"}},
      {{"CPU"}, {-1}, {"\"CPU\"", "negative"}},
      {{"CPU"}, {0}, {"\"CPU\"", "must be positive"}},
      {{""}, {1}, {"empty name"}},
      {{"CPU", "GPU"}, {1, INFINITY}, {"\"GPU\"", "infinite"}},
      {{"CPU", "CPU"}, {1, 2}, {"\"CPU\"", "given twice"}},
  };
  for (const Case &c : cases) {
    ray_task_spec spec{};
    spec.function_name = fn;
    spec.function_name_len = 5;
    spec.resource_names = c.names.data();
    spec.resource_values = c.values.data();
    spec.num_resources = c.names.size();
    EXPECT_EQ(Code([&](char **e) { return ray_submit_task(&spec, id, e); }, &msg), bad) << c.want[0];
    for (const std::string &w : c.want) EXPECT_TRUE(Contains(msg, w)) << w << " not in: " << msg;
    EXPECT_EQ(Code([&](char **e) { return ray_submit_actor_task(id, &spec, id, e); }, &msg), bad);
    EXPECT_TRUE(Contains(msg, "actor task Plus1")) << msg;
    ray_actor_spec actor{};
    actor.function_name = fn;
    actor.function_name_len = 5;
    actor.resource_names = c.names.data();
    actor.resource_values = c.values.data();
    actor.num_resources = c.names.size();
    actor.max_concurrency = 1;
    EXPECT_EQ(Code([&](char **e) { return ray_create_actor(&actor, id, e); }, &msg), bad);
    EXPECT_TRUE(Contains(msg, "actor creation task Plus1")) << msg;
    for (size_t i = 1; i < c.want.size(); i++) EXPECT_TRUE(Contains(msg, c.want[i])) << msg;
  }
  // Nothing was submitted and the runtime still works.
  EXPECT_EQ(*ray::Get(ray::Task(Plus1).Remote(41)), 42);
}

// ---------------------------------------------------------------- task retries

namespace {

// A fresh counter file for one case of a test.
std::string CounterFile(const std::string &name) {
  std::string path = goray_test::TempDir() + "/goray-retry-" + std::to_string(getpid()) + "-" +
                     goray_test::ModeName() + "-" + name;
  std::remove(path.c_str());
  return path;
}

// The message of the exception a Get of ref throws ("" when it returns).
template <typename T>
std::string GetError(const ray::ObjectRef<T> &ref) {
  try {
    ray::Get(ref, 120000);
  } catch (const ray::internal::RayException &e) {
    return e.what();
  }
  return "";
}

}  // namespace

// An exception is the task's result unless the task asks for its retry (SetRetryExceptions),
// within its max_retries (-1: no limit); the last attempt's exception says how many there were.
TEST_F(ApiTest, RetryExceptions) {
  std::string c = CounterFile("plain");
  std::string err = GetError(ray::Task(ThrowUntil).SetMaxRetries(3).Remote(c, 2));
  EXPECT_TRUE(Contains(err, "flaky attempt 1")) << err;
  EXPECT_FALSE(Contains(err, "attempted")) << err;

  c = CounterFile("retried");
  EXPECT_EQ(*ray::Get(ray::Task(ThrowUntil).SetRetryExceptions(true).SetMaxRetries(3).Remote(c, 2)), 3);

  c = CounterFile("out");
  err = GetError(ray::Task(ThrowUntil).SetRetryExceptions(true).SetMaxRetries(1).Remote(c, 5));
  EXPECT_TRUE(Contains(err, "flaky attempt 2") && Contains(err, "attempted 2 times")) << err;

  c = CounterFile("default");  // the default: 3 retries
  err = GetError(ray::Task(ThrowUntil).SetRetryExceptions(true).Remote(c, 5));
  EXPECT_TRUE(Contains(err, "flaky attempt 4") && Contains(err, "attempted 4 times")) << err;

  c = CounterFile("unlimited");
  EXPECT_EQ(*ray::Get(ray::Task(ThrowUntil).SetRetryExceptions(true).SetMaxRetries(-1).Remote(c, 6)), 7);

  EXPECT_THROW(ray::Task(ThrowUntil).SetMaxRetries(-2), ray::internal::RayException);
}

// A task whose worker process dies runs again while it has retries: Ray's default of 3 (killed
// on each of its first 3 attempts, the 4th finishes), SetMaxRetries(n), -1 for no limit; then it
// fails with the worker's death, saying how many attempts were made.
TEST_F(ApiTest, RetriesAfterWorkerDeath) {
  if (!IsNodeMode()) GTEST_SKIP() << "in local mode the task would end the test process";
  std::string c = CounterFile("default");
  EXPECT_EQ(*ray::Get(ray::Task(DieUntil).Remote(c, 3), 120000), 4);

  c = CounterFile("none");
  std::string err = GetError(ray::Task(DieUntil).SetMaxRetries(0).Remote(c, 1));
  EXPECT_TRUE(Contains(err, "died") && !Contains(err, "attempted")) << err;

  c = CounterFile("two");
  err = GetError(ray::Task(DieUntil).SetMaxRetries(1).Remote(c, 3));
  EXPECT_TRUE(Contains(err, "died") && Contains(err, "attempted 2 times")) << err;

  c = CounterFile("unlimited");
  EXPECT_EQ(*ray::Get(ray::Task(DieUntil).SetMaxRetries(-1).Remote(c, 5), 120000), 6);
}

// RAY_TASK_MAX_RETRIES sets the driver's default (Ray's variable); a bad value stops Init with a
// clear error.
TEST(RetryDefault, FromTheEnvironment) {
  ray::RayConfig config = MakeConfig();
  setenv("RAY_TASK_MAX_RETRIES", "1", 1);
  ray::Init(config);
  std::string c = CounterFile("env-ok");
  EXPECT_EQ(*ray::Get(ray::Task(ThrowUntil).SetRetryExceptions(true).Remote(c, 1)), 2);
  c = CounterFile("env-out");
  std::string err = GetError(ray::Task(ThrowUntil).SetRetryExceptions(true).Remote(c, 2));
  EXPECT_TRUE(Contains(err, "attempted 2 times")) << err;
  if (IsNodeMode()) {
    c = CounterFile("env-death");
    err = GetError(ray::Task(DieUntil).Remote(c, 2));
    EXPECT_TRUE(Contains(err, "attempted 2 times")) << err;
  }
  ray::Shutdown();
  setenv("RAY_TASK_MAX_RETRIES", "many", 1);
  try {
    ray::Init(config);
    ADD_FAILURE() << "Init took RAY_TASK_MAX_RETRIES=many";
    ray::Shutdown();
  } catch (const ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "RAY_TASK_MAX_RETRIES")) << e.what();
  }
  unsetenv("RAY_TASK_MAX_RETRIES");
  EXPECT_FALSE(ray::IsInitialized());
}
