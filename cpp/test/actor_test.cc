// goray: actors (creation, calls, ordering, names and namespaces, kill/restart/exit, errors,
// handles as task arguments and results, virtual methods, concurrency, resources, lifetimes).
#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <cmath>
#include <random>
#include <set>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::Contains;
using goray_test::UniqueName;
using goray_test::ContainsNoCase;
using goray_test::IsNodeMode;
using goray_test::MakeConfig;
using goray_test::SecondsSince;
using Clock = std::chrono::steady_clock;

namespace {

// How long a Get waits before the test calls it a hang.
constexpr int kGetTimeoutMs = 30000;


// What Get(ref, timeout) did: "value", or the exception class followed by ": " and its message.
template <typename T>
std::string Outcome(const ray::ObjectRef<T> &ref, int timeout_ms = kGetTimeoutMs) {
  try {
    if constexpr (std::is_void_v<T>) {
      ray::Get(ref, timeout_ms);
    } else {
      auto v = ray::Get(ref, timeout_ms);
      if (v == nullptr) return "null value";
    }
    return "value";
  } catch (ray::internal::RayActorException &e) {
    return std::string("RayActorException: ") + e.what();
  } catch (ray::internal::RayTaskException &e) {
    return std::string("RayTaskException: ") + e.what();
  } catch (ray::internal::RayWorkerException &e) {
    return std::string("RayWorkerException: ") + e.what();
  } catch (ray::internal::RayFunctionNotFound &e) {
    return std::string("RayFunctionNotFound: ") + e.what();
  } catch (ray::internal::UnreconstructableException &e) {
    return std::string("UnreconstructableException: ") + e.what();
  } catch (ray::internal::RayException &e) {
    return std::string("RayException: ") + e.what();
  } catch (std::exception &e) {
    return std::string("std::exception: ") + e.what();
  }
}

bool StartsWith(const std::string &s, const std::string &prefix) {
  return s.rfind(prefix, 0) == 0;
}

// True when the process is gone (or a zombie) within timeout_ms.
bool ProcessGone(int pid, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line)) return true;
    size_t close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int GetInt(const ray::ObjectRef<int> &ref) { return *ray::Get(ref, kGetTimeoutMs); }

}  // namespace

class ActorTest : public goray_test::RayTest {
 protected:
  std::vector<std::string> HeadArgs() override { return {"--num-cpus", "8"}; }
};

// ---------------------------------------------------------------- creation and calls

TEST_F(ActorTest, CreateAndCallWithValues) {
  ray::ActorHandle<Counter> counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(counter.ID().size(), 16u);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(3)), 3);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(4)), 7);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 7);
  // Convertible values.
  short s = 2;
  EXPECT_EQ(*counter.Task(&Counter::Add).Remote(s).Get(), 9);

  // A copy (and a default-constructed handle assigned later) reaches the same actor.
  ray::ActorHandle<Counter> copy = counter;
  EXPECT_EQ(copy.ID(), counter.ID());
  EXPECT_EQ(GetInt(copy.Task(&Counter::Add).Remote(1)), 10);
  ray::ActorHandle<Counter> later;
  later = counter;
  EXPECT_EQ(GetInt(later.Task(&Counter::Get).Remote()), 10);

  // A second actor has another id and its own state.
  auto other = ray::Actor(Counter::FactoryCreate).Remote(100);
  EXPECT_EQ(other.ID().size(), 16u);
  EXPECT_NE(other.ID(), counter.ID());
  EXPECT_EQ(GetInt(other.Task(&Counter::Get).Remote()), 100);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 10);
}

TEST_F(ActorTest, ObjectRefArgs) {
  // A factory argument given as an ObjectRef is resolved before the factory runs.
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(ray::Put(100));
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(ray::Put(5))), 105);
  // A task result as an argument.
  auto three = ray::Task(Plus).Remote(1, 2);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(three)), 108);
  // An actor call's result as an argument of the next call (submitted before anything is fetched).
  auto r1 = counter.Task(&Counter::Add).Remote(1);  // 109
  auto r2 = counter.Task(&Counter::Add).Remote(r1);  // 218
  EXPECT_EQ(GetInt(r2), 218);
  EXPECT_EQ(GetInt(r1), 109);
  // An actor call's result as a task argument.
  EXPECT_EQ(GetInt(ray::Task(Plus1).Remote(counter.Task(&Counter::Get).Remote())), 219);
  // A factory argument that is a task result.
  auto from_task = ray::Actor(Counter::FactoryCreate).Remote(ray::Task(Plus).Remote(20, 22));
  EXPECT_EQ(GetInt(from_task.Task(&Counter::Get).Remote()), 42);
}

TEST_F(ActorTest, CallResultsTravelAsAnyOtherObject) {
  // A call's result goes straight back to its caller; wherever the caller passes it on (inside a
  // value, to a task, to another actor, before or after it came), the reader gets the value.
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(10);
  auto pending = counter.Task(&Counter::SlowAdd).Remote(200);  // 11, after 200 ms
  // Inside a value put before the result exists, read by a task.
  auto holder = ray::Put(goray_test::RefHolder{"in flight", pending});
  EXPECT_EQ(GetInt(ray::Task(SumHolder).Remote(holder)), 11 + 9);  // plus the label's length
  // As an ObjectRef parameter (a ref inside the argument) of a task, now that it came.
  EXPECT_EQ(GetInt(ray::Task(GetRefParam).Remote(pending)), 11);
  // To another actor, which Gets it itself, and then to a task.
  auto other = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto through = ray::Actor(CounterHolder::FactoryCreate).Remote(other);
  EXPECT_EQ(GetInt(through.Task(&CounterHolder::AddRef).Remote(pending)), 11);
  EXPECT_EQ(GetInt(ray::Task(Plus1).Remote(counter.Task(&Counter::Get).Remote())), 12);
  // A ref an actor returns to a call of its own (not waited for there) reaches the caller.
  auto inner = through.Task(&CounterHolder::AddThroughRef).Remote(5);
  auto ref = ray::Get(inner, kGetTimeoutMs);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(*ray::Get(*ref, kGetTimeoutMs), 16);
  EXPECT_EQ(GetInt(ray::Task(GetRefParam).Remote(*ref)), 16);
}

TEST_F(ActorTest, LargeCallResults) {
  // A result too large for a message lives in the node's shared memory, held for the caller.
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  const uint64_t size = 3 << 20;
  auto big = counter.Task(&Counter::Pattern).Remote(7, size);
  auto want = goray_test::PatternChecksum(7, size);
  auto got = ray::Get(big, kGetTimeoutMs);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->size(), size);
  EXPECT_EQ(goray_test::ChecksumOf(got->data(), got->size()), want);
  // Read again by a task and by another call, by reference.
  EXPECT_EQ(*ray::Get(ray::Task(ChecksumBytes).Remote(big), kGetTimeoutMs), want);
  EXPECT_EQ(*ray::Get(ray::Task(DigestRef).Remote(big), kGetTimeoutMs), want);
  // Many at once, dropped as they are read: the store gets its room back.
  for (int round = 0; round < 3; round++) {
    std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs;
    for (int i = 0; i < 8; i++) refs.push_back(counter.Task(&Counter::Pattern).Remote(i, size));
    for (int i = 0; i < 8; i++) {
      auto v = ray::Get(refs[i], kGetTimeoutMs);
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(goray_test::ChecksumOf(v->data(), v->size()), goray_test::PatternChecksum(i, size));
    }
  }
}

TEST_F(ActorTest, CallsRunInSubmissionOrder) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 100; i++) refs.push_back(counter.Task(&Counter::Add).Remote(1));
  auto values = ray::Get(refs, kGetTimeoutMs);
  ASSERT_EQ(values.size(), 100u);
  for (int i = 0; i < 100; i++) EXPECT_EQ(*values[i], i + 1) << "call " << i;
}

TEST_F(ActorTest, StateLivesInTheActor) {
  auto a = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto b = ray::Actor(Counter::FactoryCreate).Remote(0);
  for (int i = 0; i < 3; i++) a.Task(&Counter::Add).Remote(1);
  b.Task(&Counter::Add).Remote(10);
  EXPECT_EQ(GetInt(a.Task(&Counter::Get).Remote()), 3);
  EXPECT_EQ(GetInt(b.Task(&Counter::Get).Remote()), 10);
  int pid_a = GetInt(a.Task(&Counter::GetPid).Remote());
  int pid_b = GetInt(b.Task(&Counter::GetPid).Remote());
  if (IsNodeMode()) {
    EXPECT_NE(pid_a, static_cast<int>(getpid()));
    EXPECT_NE(pid_b, static_cast<int>(getpid()));
    EXPECT_NE(pid_a, pid_b) << "two actors share a worker process";
    // Every call of one actor runs in that actor's process.
    EXPECT_EQ(GetInt(a.Task(&Counter::GetPid).Remote()), pid_a);
  } else {
    EXPECT_EQ(pid_a, static_cast<int>(getpid()));
    EXPECT_EQ(pid_b, static_cast<int>(getpid()));
  }
}

TEST_F(ActorTest, CallOptionsAccepted) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).SetName("named_call").Remote(2)), 2);
  std::unordered_map<std::string, double> resources{{"CPU", 1}};
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).SetResources(resources).Remote(2)), 4);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).SetResource("CPU", 0.5).Remote(2)), 6);
}

// ---------------------------------------------------------------- names and namespaces

TEST_F(ActorTest, NamedActorGetActor) {
  std::string name = UniqueName("named_counter");
  auto counter = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(5);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 5);
  std::optional<ray::ActorHandle<Counter>> found = ray::GetActor<Counter>(name);
  ASSERT_TRUE(found.has_value()) << "GetActor did not find " << name;
  EXPECT_EQ(found->ID(), counter.ID());
  EXPECT_EQ(GetInt(found->Task(&Counter::Add).Remote(1)), 6);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 6);
}

TEST_F(ActorTest, GetActorUnknownNameIsEmpty) {
  auto found = ray::GetActor<Counter>(UniqueName("nobody_has_this_name"));
  EXPECT_FALSE(found.has_value());
  auto found_ns = ray::GetActor<Counter>(UniqueName("nobody"), UniqueName("no_namespace"));
  EXPECT_FALSE(found_ns.has_value());
}

TEST_F(ActorTest, GetActorWrongTypeThrows) {
  std::string name = UniqueName("typed_counter");
  auto counter = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(0);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 0);
  try {
    ray::GetActor<Base>(name);
    ADD_FAILURE() << "GetActor<Base> of a Counter did not throw";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "Counter")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "Base")) << e.what();
  }
  EXPECT_THROW(ray::GetActor<FactoryThrows>(name), ray::internal::RayException);
  // The right type still works.
  EXPECT_TRUE(ray::GetActor<Counter>(name).has_value());
}

TEST_F(ActorTest, DuplicateNameThrows) {
  std::string name = UniqueName("dup");
  auto first = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(1);
  EXPECT_EQ(GetInt(first.Task(&Counter::Get).Remote()), 1);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetName(name).Remote(2),
               ray::internal::RayException);
  // The name still names the first actor, which still works.
  auto found = ray::GetActor<Counter>(name);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->ID(), first.ID());
  EXPECT_EQ(GetInt(first.Task(&Counter::Add).Remote(1)), 2);
}

TEST_F(ActorTest, SameNameInTwoNamespaces) {
  std::string name = UniqueName("shared");
  std::string ns_a = UniqueName("ns_a");
  std::string ns_b = UniqueName("ns_b");
  auto a = ray::Actor(Counter::FactoryCreate).SetName(name, ns_a).Remote(1);
  auto b = ray::Actor(Counter::FactoryCreate).SetName(name, ns_b).Remote(2);
  EXPECT_NE(a.ID(), b.ID());
  auto found_a = ray::GetActor<Counter>(name, ns_a);
  auto found_b = ray::GetActor<Counter>(name, ns_b);
  ASSERT_TRUE(found_a.has_value());
  ASSERT_TRUE(found_b.has_value());
  EXPECT_EQ(found_a->ID(), a.ID());
  EXPECT_EQ(found_b->ID(), b.ID());
  EXPECT_EQ(GetInt(found_a->Task(&Counter::Get).Remote()), 1);
  EXPECT_EQ(GetInt(found_b->Task(&Counter::Get).Remote()), 2);
  // Neither lives in this job's own namespace.
  EXPECT_FALSE(ray::GetActor<Counter>(name).has_value());
  // A duplicate within one of the namespaces is still refused.
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetName(name, ns_a).Remote(3),
               ray::internal::RayException);
}

TEST(ActorNamespaceTest, GetNamespaceIsConfigured) {
  ray::RayConfig config = MakeConfig({"--num-cpus", "8"});
  std::string ns = UniqueName("goray_test_ns");
  config.ray_namespace = ns;
  ray::Init(config);
  ASSERT_TRUE(ray::IsInitialized());
  EXPECT_EQ(ray::GetNamespace(), ns);
  // An actor named without a namespace lives in the job's namespace.
  std::string name = UniqueName("in_job_ns");
  auto counter = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(7);
  auto by_default = ray::GetActor<Counter>(name);
  auto by_ns = ray::GetActor<Counter>(name, ns);
  ASSERT_TRUE(by_default.has_value());
  ASSERT_TRUE(by_ns.has_value());
  EXPECT_EQ(by_default->ID(), counter.ID());
  EXPECT_EQ(by_ns->ID(), counter.ID());
  EXPECT_EQ(GetInt(by_ns->Task(&Counter::Get).Remote()), 7);
  EXPECT_FALSE(ray::GetActor<Counter>(name, UniqueName("other_ns")).has_value());
  ray::Shutdown();
}

TEST(ActorNamespaceTest, GetNamespaceBeforeInitThrows) {
  ASSERT_FALSE(ray::IsInitialized());
  EXPECT_THROW(ray::GetNamespace(), ray::internal::RayException);
}

// ---------------------------------------------------------------- kill, restart, exit

TEST_F(ActorTest, KillThenCallThrows) {
  auto counter = ray::Actor(Counter::FactoryCreate).SetMaxRestarts(1).Remote(0);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(1)), 1);
  auto copy = counter;
  counter.Kill();  // Kill() == Kill(true): no restart even with restarts left
  std::string o = Outcome(counter.Task(&Counter::Add).Remote(1));
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << o;
  o = Outcome(copy.Task(&Counter::Get).Remote());
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << o;
  // Killing a dead actor again is harmless.
  EXPECT_NO_THROW(counter.Kill());
}

TEST_F(ActorTest, GetActorAfterKillIsEmpty) {
  std::string name = UniqueName("killed");
  auto counter = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(0);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 0);
  counter.Kill();
  auto deadline = Clock::now() + std::chrono::seconds(10);
  bool found = true;
  while (Clock::now() < deadline) {
    found = ray::GetActor<Counter>(name).has_value();
    if (!found) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(found) << "GetActor still finds the killed actor after 10 s";
}

TEST_F(ActorTest, KillWithRestart) {
  auto counter = ray::Actor(Counter::FactoryCreate).SetMaxRestarts(1).Remote(10);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(5)), 15);
  EXPECT_FALSE(*ray::Get(counter.Task(&Counter::WasRestarted).Remote(), kGetTimeoutMs));
  counter.Kill(false);
  // The next call reaches the new instance (created again from the same arguments): the kill
  // comes from this process, so no call submitted after Kill returns may go to the old instance.
  auto restarted = counter.Task(&Counter::WasRestarted).Remote();
  std::string o = Outcome(restarted);
  EXPECT_EQ(o, "value") << "the first call after Kill(false) with a restart left failed";
  if (o != "value") {
    // Say whether the actor comes back at all (a later call), so the failure above is precise.
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (o != "value" && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      restarted = counter.Task(&Counter::WasRestarted).Remote();
      o = Outcome(restarted);
    }
    ASSERT_EQ(o, "value") << "the actor did not come back within 10 s of Kill(false)";
  }
  EXPECT_TRUE(*ray::Get(restarted));
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 10) << "state not reset by the restart";
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(1)), 11);
  // No restarts left: the next Kill(false) is final.
  counter.Kill(false);
  o = Outcome(counter.Task(&Counter::Get).Remote());
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << o;
}

// The actor's process dies (SIGKILL) with a restart left: a new process serves the later calls.
// Calls in flight at the moment of death may fail (as in Ray), so the test retries a few times.
TEST_F(ActorTest, ProcessKilledRestarts) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no actor processes";
  auto counter = ray::Actor(Counter::FactoryCreate).SetMaxRestarts(1).Remote(10);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(5)), 15);
  int pid = GetInt(counter.Task(&Counter::GetPid).Remote());
  ASSERT_NE(pid, static_cast<int>(getpid()));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(ProcessGone(pid, 10000));

  std::vector<std::string> failures;
  int new_pid = -1;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && failures.size() < 5) {
    auto ref = counter.Task(&Counter::GetPid).Remote();
    std::string o = Outcome(ref, 20000);
    if (o == "value") {
      new_pid = *ray::Get(ref);
      break;
    }
    failures.push_back(o);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string why;
  for (auto &f : failures) why += "\n  " + f;
  ASSERT_GT(new_pid, 0) << "the actor did not come back after its process was killed:" << why;
  EXPECT_NE(new_pid, pid);
  EXPECT_NE(new_pid, static_cast<int>(getpid()));
  EXPECT_TRUE(*ray::Get(counter.Task(&Counter::WasRestarted).Remote(), kGetTimeoutMs));
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 10) << "state not reset by the restart";
  if (!failures.empty()) {
    std::cout << "[ note     ] " << failures.size() << " call(s) failed before the restart:" << why
              << std::endl;
  }
}

TEST_F(ActorTest, ProcessKilledWithoutRestartsDies) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no actor processes";
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  int pid = GetInt(counter.Task(&Counter::GetPid).Remote());
  ASSERT_NE(pid, static_cast<int>(getpid()));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(ProcessGone(pid, 10000));
  for (int i = 0; i < 3; i++) {
    std::string o = Outcome(counter.Task(&Counter::Add).Remote(1));
    EXPECT_TRUE(StartsWith(o, "RayActorException")) << "call " << i << ": " << o;
  }
}

TEST_F(ActorTest, ExitActor) {
  // Restarts left do not matter: ExitActor is final.
  auto counter = ray::Actor(Counter::FactoryCreate).SetMaxRestarts(2).Remote(0);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(1)), 1);
  int pid = GetInt(counter.Task(&Counter::GetPid).Remote());
  std::string o = Outcome(counter.Task(&Counter::Exit).Remote());
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << "the Exit call itself: " << o;
  EXPECT_TRUE(ContainsNoCase(o, "ExitActor")) << o;
  for (int i = 0; i < 2; i++) {
    o = Outcome(counter.Task(&Counter::Get).Remote());
    EXPECT_TRUE(StartsWith(o, "RayActorException")) << "call " << i << " after Exit: " << o;
  }
  if (IsNodeMode()) {
    EXPECT_TRUE(ProcessGone(pid, 10000)) << "actor process " << pid << " alive 10 s after Exit";
  } else {
    EXPECT_EQ(pid, static_cast<int>(getpid()));
  }
}

// ---------------------------------------------------------------- errors

TEST_F(ActorTest, FactoryThrows) {
  std::string msg = UniqueName("factory boom");
  auto bad = ray::Actor(FactoryThrows::FactoryCreate).Remote(msg);
  for (int i = 0; i < 2; i++) {
    std::string o = Outcome(bad.Task(&FactoryThrows::Ping).Remote());
    EXPECT_TRUE(StartsWith(o, "RayActorException")) << "call " << i << ": " << o;
    EXPECT_TRUE(Contains(o, msg)) << "call " << i << ": " << o;
  }
  // Other actors are not affected.
  auto good = ray::Actor(Counter::FactoryCreate).Remote(1);
  EXPECT_EQ(GetInt(good.Task(&Counter::Get).Remote()), 1);
}

TEST_F(ActorTest, FactoryArgumentOfWrongType) {
  auto str = ray::Put(std::string("not an int"));
  ray::ObjectRef<int> bad_ref(str.ID());
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(bad_ref);
  std::string o = Outcome(counter.Task(&Counter::Get).Remote());
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << o;
}

// An id no process of this cluster ever made (random bytes).
static std::string NeverMadeID() {
  std::random_device rd;
  std::string id(RAY_ID_SIZE, '\0');
  for (auto &c : id) c = static_cast<char>(rd());
  return id;
}

// Local mode and the node follow Ray's one rule: creating an actor whose factory argument is an
// ObjectRef no process created gives a handle, and the actor is dead: its calls fail with
// RayActorException naming the argument.
TEST_F(ActorTest, FactoryArgumentNoProcessCreatedKillsTheActor) {
  ray::ObjectRef<int> unknown(NeverMadeID());
  ray::ActorHandle<Counter> counter;
  ASSERT_NO_THROW(counter = ray::Actor(Counter::FactoryCreate).Remote(unknown));
  for (int i = 0; i < 2; i++) {
    std::string o = Outcome(counter.Task(&Counter::Get).Remote());
    EXPECT_TRUE(StartsWith(o, "RayActorException")) << "call " << i << ": " << o;
    EXPECT_TRUE(Contains(o, "argument of its factory failed")) << o;
    EXPECT_TRUE(Contains(o, "which no process of this cluster created")) << o;
  }
  // A named one gives its name back: the dead actor is not found by it.
  std::string name = UniqueName("dead at birth");
  auto named = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(unknown);
  EXPECT_TRUE(StartsWith(Outcome(named.Task(&Counter::Get).Remote()), "RayActorException"));
  EXPECT_FALSE(ray::GetActor<Counter>(name).has_value());
  // Killing it is harmless, as for any dead actor.
  EXPECT_NO_THROW(counter.Kill());
}

// Killing an actor this cluster never had is an error in both modes (Ray: "Failed to find a
// corresponding actor handle"), and nothing else is affected.
TEST_F(ActorTest, KillingAnActorNeverCreatedThrows) {
  ray::ActorHandle<Counter> stranger(NeverMadeID().substr(0, RAY_ACTOR_ID_SIZE));
  try {
    stranger.Kill();
    ADD_FAILURE() << "killing an actor never created did not throw";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "Failed to find a corresponding actor handle")) << e.what();
  }
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(5);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 5);
}

TEST_F(ActorTest, MethodThrows) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(2)), 2);
  std::string o = Outcome(counter.Task(&Counter::Throw).Remote(std::string("method boom")));
  EXPECT_TRUE(StartsWith(o, "RayTaskException")) << o;
  EXPECT_TRUE(Contains(o, "method boom")) << o;
  // The actor lives on with its state.
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(1)), 3);
  o = Outcome(counter.Task(&Counter::Throw).Remote(std::string("again")));
  EXPECT_TRUE(StartsWith(o, "RayTaskException")) << o;
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 3);
}

TEST_F(ActorTest, MethodNotRegisteredThrowsAtTask) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_THROW(counter.Task(&Counter::NotRegistered), ray::internal::RayFunctionNotFound);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(1)), 1);
}

TEST_F(ActorTest, WrongArgumentTypeThroughObjectRef) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto str = ray::Put(std::string("not an int"));
  ray::ObjectRef<int> bad_ref(str.ID());
  std::string o = Outcome(counter.Task(&Counter::Add).Remote(bad_ref));
  EXPECT_TRUE(StartsWith(o, "RayTaskException")) << o;
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(4)), 4);
}

TEST_F(ActorTest, InvalidOptionsThrow) {
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetMaxConcurrency(0),
               ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetMaxConcurrency(-1),
               ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResource("CPU", 0),
               ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResource("CPU", -1),
               ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResource("CPU", 1.5),
               ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResource("", 1), ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResource("CPU", INFINITY),
               ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResource("CPU", 1e18),
               ray::internal::RayException);
  std::unordered_map<std::string, double> bad{{"CPU", 2.5}};
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetResources(bad), ray::internal::RayException);
  auto counter = ray::Actor(Counter::FactoryCreate).SetResource("CPU", 1).Remote(3);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 3);
  EXPECT_THROW(counter.Task(&Counter::Add).SetResource("CPU", 0), ray::internal::RayException);
  EXPECT_THROW(counter.Task(&Counter::Add).SetResource("CPU", 1.5), ray::internal::RayException);
  EXPECT_THROW(counter.Task(&Counter::Add).SetResource("CPU", INFINITY),
               ray::internal::RayException);
}

// An actor that needs a resource no node has is never placed: its calls stay pending.
TEST_F(ActorTest, InfeasibleResourcesStayUnready) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode does not schedule by resources";
  auto counter =
      ray::Actor(Counter::FactoryCreate).SetResource("goray_nobody_has_this", 1).Remote(0);
  std::vector<ray::ObjectRef<int>> refs{counter.Task(&Counter::Add).Remote(1),
                                        counter.Task(&Counter::Get).Remote()};
  auto t0 = Clock::now();
  auto r = ray::Wait(refs, 1, 1000);
  EXPECT_GE(SecondsSince(t0), 0.9);
  EXPECT_EQ(r.ready.size(), 0u);
  EXPECT_EQ(r.unready.size(), 2u);
  // Other actors still run.
  auto ok = ray::Actor(Counter::FactoryCreate).Remote(1);
  EXPECT_EQ(GetInt(ok.Task(&Counter::Get).Remote()), 1);
}

// ---------------------------------------------------------------- handles as values

TEST_F(ActorTest, HandlePassedToTask) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(GetInt(ray::Task(AddViaHandle).Remote(counter, 5)), 5);
  EXPECT_EQ(GetInt(ray::Task(AddViaHandle).Remote(counter, 2)), 7);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 7);
}

TEST_F(ActorTest, HandlePassedToActorAndReturned) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto holder = ray::Actor(CounterHolder::FactoryCreate).Remote(counter);
  EXPECT_EQ(GetInt(holder.Task(&CounterHolder::AddThrough).Remote(3)), 3);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 3);
  auto back = ray::Get(holder.Task(&CounterHolder::GetCounter).Remote(), kGetTimeoutMs);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->ID(), counter.ID());
  EXPECT_EQ(GetInt(back->Task(&Counter::Add).Remote(1)), 4);
  EXPECT_EQ(GetInt(holder.Task(&CounterHolder::AddThrough).Remote(1)), 5);
}

TEST_F(ActorTest, HandleReturnedFromTask) {
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto echoed = ray::Get(ray::Task(EchoCounterHandle).Remote(counter), kGetTimeoutMs);
  ASSERT_NE(echoed, nullptr);
  EXPECT_EQ(echoed->ID(), counter.ID());
  EXPECT_EQ(GetInt(echoed->Task(&Counter::Add).Remote(2)), 2);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Get).Remote()), 2);
  // Through Put/Get too.
  auto stored = ray::Get(ray::Put(counter));
  EXPECT_EQ(stored->ID(), counter.ID());
  EXPECT_EQ(GetInt(stored->Task(&Counter::Get).Remote()), 2);
}

TEST_F(ActorTest, ActorCreatedInTask) {
  auto created = ray::Get(ray::Task(CreateCounterInTask).Remote(42), kGetTimeoutMs);
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->ID().size(), 16u);
  EXPECT_EQ(GetInt(created->Task(&Counter::Get).Remote()), 42);
  EXPECT_EQ(GetInt(created->Task(&Counter::Add).Remote(1)), 43);
}

// ---------------------------------------------------------------- virtual methods

TEST_F(ActorTest, VirtualMethodsThroughBaseHandle) {
  ray::ActorHandle<Base> as_base = ray::Actor(CreateDerivedAsBase).Remote();
  EXPECT_EQ(*ray::Get(as_base.Task(&Base::Name).Remote(), kGetTimeoutMs), "derived");
  EXPECT_EQ(GetInt(as_base.Task(&Base::Scale).Remote(3)), 30);
  EXPECT_EQ(GetInt(as_base.Task(&Base::Hits).Remote()), 1);

  ray::ActorHandle<Base> plain = ray::Actor(Base::FactoryCreate).Remote();
  EXPECT_EQ(*ray::Get(plain.Task(&Base::Name).Remote(), kGetTimeoutMs), "base");
  EXPECT_EQ(GetInt(plain.Task(&Base::Scale).Remote(3)), 3);

  // A Derived handle calls inherited members through base-class member pointers.
  ray::ActorHandle<Derived> derived = ray::Actor(Derived::FactoryCreate).Remote();
  EXPECT_EQ(*ray::Get(derived.Task(&Base::Name).Remote(), kGetTimeoutMs), "derived");
  EXPECT_EQ(GetInt(derived.Task(&Base::Scale).Remote(4)), 40);
  EXPECT_EQ(GetInt(derived.Task(&Base::Hits).Remote()), 1);
  EXPECT_EQ(*ray::Get(derived.Task(&Derived::OnlyDerived).Remote(), kGetTimeoutMs),
            "only in derived");
}

// ---------------------------------------------------------------- concurrency

// Behaviour, not a benchmark: two 1 s calls overlap with max_concurrency 2 and do not with 1.
TEST_F(ActorTest, MaxConcurrency) {
  auto serial = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto parallel = ray::Actor(Counter::FactoryCreate).SetMaxConcurrency(2).Remote(0);
  // Both are up before the clock starts.
  EXPECT_EQ(GetInt(serial.Task(&Counter::Get).Remote()), 0);
  EXPECT_EQ(GetInt(parallel.Task(&Counter::Get).Remote()), 0);

  auto t0 = Clock::now();
  std::vector<ray::ObjectRef<int>> p{parallel.Task(&Counter::SlowAdd).Remote(1000),
                                     parallel.Task(&Counter::SlowAdd).Remote(1000)};
  std::vector<ray::ObjectRef<int>> s{serial.Task(&Counter::SlowAdd).Remote(1000),
                                     serial.Task(&Counter::SlowAdd).Remote(1000)};
  auto pv = ray::Get(p, kGetTimeoutMs);
  double parallel_s = SecondsSince(t0);
  auto sv = ray::Get(s, kGetTimeoutMs);
  double serial_s = SecondsSince(t0);
  EXPECT_LT(parallel_s, 1.8) << "max_concurrency 2 did not run two calls at once";
  EXPECT_GE(serial_s, 2.0) << "max_concurrency 1 ran two calls at once";
  std::multiset<int> pset{*pv[0], *pv[1]};
  EXPECT_EQ(pset, (std::multiset<int>{1, 2}));
  EXPECT_EQ(*sv[0], 1);
  EXPECT_EQ(*sv[1], 2);
  EXPECT_EQ(GetInt(parallel.Task(&Counter::Get).Remote()), 2);
}

// ---------------------------------------------------------------- lifetimes

// Local mode keeps actor instances in this process: Kill, ExitActor and Shutdown delete them
// (RAY_TASK_ACTOR_DESTROY), so none outlives the runtime.
TEST(ActorInstanceTest, LocalModeInstancesAreDestroyed) {
  if (IsNodeMode()) GTEST_SKIP() << "actor instances live in worker processes in node mode";
  int base = Counter::LiveInstances();
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  auto killed = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto exited = ray::Actor(Counter::FactoryCreate).Remote(0);
  auto alive = ray::Actor(Counter::FactoryCreate).Remote(0);
  for (auto *h : {&killed, &exited, &alive}) EXPECT_EQ(GetInt(h->Task(&Counter::Get).Remote()), 0);
  EXPECT_EQ(Counter::LiveInstances(), base + 3);
  auto wait_for = [&](int want) {
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Counter::LiveInstances() != want && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Counter::LiveInstances();
  };
  killed.Kill();
  EXPECT_EQ(wait_for(base + 2), base + 2) << "Kill() did not destroy the instance";
  Outcome(exited.Task(&Counter::Exit).Remote());
  EXPECT_EQ(wait_for(base + 1), base + 1) << "ExitActor() did not destroy the instance";
  ray::Shutdown();
  EXPECT_EQ(wait_for(base), base) << "Shutdown left live actor instances behind";
}

TEST(ActorLifetimeTest, DetachedDefaultLifetimeAccepted) {
  ray::RayConfig config = MakeConfig({"--num-cpus", "8"});
  config.default_actor_lifetime = ray::ActorLifetime::DETACHED;
  ray::Init(config);
  ASSERT_TRUE(ray::IsInitialized());
  std::string name = UniqueName("detached");
  auto counter = ray::Actor(Counter::FactoryCreate).SetName(name).Remote(1);
  EXPECT_EQ(GetInt(counter.Task(&Counter::Add).Remote(1)), 2);
  auto found = ray::GetActor<Counter>(name);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(GetInt(found->Task(&Counter::Get).Remote()), 2);
  counter.Kill();
  ray::Shutdown();
}

// A call in flight when the actor's process dies goes to the restarted instance when the actor
// allows call retries (SetMaxTaskRetries; -1: no limit), in order with the calls behind it;
// without them, or without a restart, it fails with RayActorException.
TEST_F(ActorTest, MaxTaskRetries) {
  if (!IsNodeMode()) GTEST_SKIP() << "in local mode the call would end the test process";
  auto plain = ray::Actor(Counter::FactoryCreate).SetMaxRestarts(1).Remote(0);
  std::string o = Outcome(plain.Task(&Counter::CrashUnlessRestarted).Remote());
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << o;
  EXPECT_EQ(GetInt(plain.Task(&Counter::Add).Remote(1)), 1) << "the actor did not restart";

  auto retried = ray::Actor(Counter::FactoryCreate).SetMaxRestarts(1).SetMaxTaskRetries(1).Remote(0);
  EXPECT_EQ(GetInt(retried.Task(&Counter::Add).Remote(2)), 2);
  auto crash = retried.Task(&Counter::CrashUnlessRestarted).Remote();
  auto after = retried.Task(&Counter::Add).Remote(5);
  EXPECT_EQ(GetInt(crash), 42) << "the call was not sent again to the restarted instance";
  EXPECT_EQ(GetInt(after), 5) << "the call behind it did not reach the restarted instance (from 0)";

  auto unrestartable = ray::Actor(Counter::FactoryCreate).SetMaxTaskRetries(-1).Remote(0);
  o = Outcome(unrestartable.Task(&Counter::CrashUnlessRestarted).Remote());
  EXPECT_TRUE(StartsWith(o, "RayActorException")) << o;
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetMaxTaskRetries(-2), ray::internal::RayException);
}
