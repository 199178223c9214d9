// goray: ray::Init configuration (RayConfig fields, command-line flags, unsupported options).
#include "remote_functions.h"
#include "test_util.h"

#include <thread>

using goray_test::Contains;
using goray_test::ContainsNoCase;
using goray_test::IsNodeMode;
using goray_test::MakeConfig;
using Clock = std::chrono::steady_clock;

namespace {

// argv for Init(config, argc, argv): owns its strings.
struct Args {
  std::vector<std::string> strings;
  std::vector<char *> ptrs;
  explicit Args(std::vector<std::string> s) : strings(std::move(s)) {
    for (auto &x : strings) ptrs.push_back(&x[0]);
    ptrs.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(strings.size()); }
  char **argv() { return ptrs.data(); }
};

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ray::Shutdown();
    unsetenv("RAY_ADDRESS");
  }
};

// Checks that the node has exactly `cpus` CPUs: a task asking for all of them runs, one asking
// for one more stays unready.
void ExpectNodeCpus(int cpus) {
  EXPECT_EQ(*ray::Task(Plus).SetResource("CPU", cpus).Remote(1, 1).Get(10000), 2);
  auto too_many = ray::Task(Plus).SetResource("CPU", cpus + 1).Remote(1, 1);
  std::vector<ray::ObjectRef<int>> refs{too_many};
  auto w = ray::Wait(refs, 1, 700);
  EXPECT_EQ(w.unready.size(), 1u) << "a task asking for " << cpus + 1 << " CPUs ran";
}

// The directory of this test binary (an existing directory for --ray_code_search_path).
std::string ExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/tmp";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

}  // namespace

TEST_F(ConfigTest, DefaultConfigForMode) {
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(2, 3).Get(), 5);
}

TEST_F(ConfigTest, RayConfigDefaults) {
  ray::RayConfig config;
  EXPECT_TRUE(config.address.empty());
  EXPECT_FALSE(config.local_mode);
  EXPECT_TRUE(config.code_search_path.empty());
  EXPECT_TRUE(config.head_args.empty());
  EXPECT_TRUE(config.default_actor_lifetime == ray::ActorLifetime::NON_DETACHED);
  EXPECT_FALSE(config.runtime_env.has_value());
  EXPECT_FALSE(config.redis_password_.has_value());
  EXPECT_TRUE(config.ray_namespace.empty());
}

TEST_F(ConfigTest, LocalModeRunsTasksInProcess) {
  ray::RayConfig config;
  config.local_mode = true;
  ray::Init(config);
  ASSERT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(GetPid).Remote().Get(), static_cast<int>(getpid()));
  EXPECT_EQ(*ray::Get(ray::Put(std::string("local"))), "local");
  EXPECT_EQ(*ray::Task(Plus).Remote(ray::Task(Plus).Remote(1, 2), 10).Get(), 13);
}

TEST_F(ConfigTest, HeadArgsField) {
  if (!IsNodeMode()) GTEST_SKIP() << "head_args shape the embedded node";
  ray::RayConfig config;
  config.head_args = {"--num-cpus", "3"};
  ray::Init(config);
  ExpectNodeCpus(3);
}

// Resource quantities in head_args that Ray's fixed point cannot hold (or that are no numbers) make
// Init fail with a message naming the argument and the value, in both modes (head_args are
// parsed in local mode too). Before, --num-cpus=1e18 was accepted.
TEST_F(ConfigTest, HeadArgsWithAbsurdQuantitiesFailInit) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--num-cpus=1e18"}, "1e+18"},
      {{"--num-cpus", "inf"}, "+Inf"},
      {{"--num-cpus", "nan"}, "NaN"},
      {{"--num-cpus", "-1"}, "-1"},
      {{"--num-gpus=1e18"}, "1e+18"},
      {{"--resources", "{\"r1\": 1e18}"}, "1e+18"},
  };
  for (const auto &c : cases) {
    ray::RayConfig config = MakeConfig();
    config.head_args = c.first;
    try {
      ray::Init(config);
      ADD_FAILURE() << c.first[0] << ": Init succeeded";
      ray::Shutdown();
    } catch (ray::internal::RayException &e) {
      EXPECT_TRUE(Contains(e.what(), c.first[0].substr(0, 10))) << e.what();
      EXPECT_TRUE(Contains(e.what(), c.second)) << e.what();
    }
    EXPECT_FALSE(ray::IsInitialized());
  }
  // The largest quantity allowed is fine.
  ray::RayConfig config = MakeConfig();
  config.head_args = {"--num-cpus", "2", "--resources", "{\"big\": 1e13}"};
  ray::Init(config);
  EXPECT_TRUE(ray::IsInitialized());
}

// A huge (but valid) CPU count: Init returns at once, tasks run, and the node starts workers as
// they are needed, at most a few at a time, not one per CPU.
TEST_F(ConfigTest, HugeCpuCountStartsWorkersOnDemand) {
  ray::RayConfig config = MakeConfig();
  config.head_args = {"--num-cpus=1000000"};
  auto start = Clock::now();
  ray::Init(config);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(20000), 3);
  if (IsNodeMode()) {
    int bound = 2 * static_cast<int>(std::thread::hardware_concurrency()) + 2;
    int live = 0;
    for (const auto &child : goray_test::ChildProcesses()) live += child.state != 'Z';
    EXPECT_LE(live, bound) << "worker processes with 1,000,000 CPUs";
  }
}

TEST_F(ConfigTest, FlagsAreParsed) {
  ray::RayConfig config = MakeConfig();
  config.head_args.clear();
  Args args({"prog", "--ray_code_search_path=" + ExeDir() + ":/tmp",
             "--ray_head_args=--num-cpus 2", "--ray_default_actor_lifetime=detached",
             "--user_flag=kept", "positional"});
  ray::Init(config, args.argc(), args.argv());
  ASSERT_TRUE(ray::IsInitialized());
  // The user's own flags and arguments are left alone.
  EXPECT_STREQ(args.argv()[0], "prog");
  EXPECT_STREQ(args.argv()[4], "--user_flag=kept");
  EXPECT_STREQ(args.argv()[5], "positional");
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
  if (IsNodeMode()) ExpectNodeCpus(2);
}

TEST_F(ConfigTest, FlagsWithSeparateValues) {
  ray::RayConfig config = MakeConfig();
  config.head_args.clear();
  Args args({"prog", "--ray_head_args", "--num-cpus 1", "--ray_default_actor_lifetime",
             "non_detached", "--ray_code_search_path", ExeDir()});
  ray::Init(config, args.argc(), args.argv());
  ASSERT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
  if (IsNodeMode()) ExpectNodeCpus(1);
}

TEST_F(ConfigTest, BogusActorLifetimeFlagThrows) {
  ray::RayConfig config = MakeConfig();
  Args args({"prog", "--ray_default_actor_lifetime=bogus"});
  EXPECT_THROW(ray::Init(config, args.argc(), args.argv()), ray::internal::RayException);
  EXPECT_FALSE(ray::IsInitialized());
  // A failed Init leaves Ray usable: a correct Init afterwards works.
  ray::RayConfig ok = MakeConfig();
  ray::Init(ok);
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
}

TEST_F(ConfigTest, FlagsIgnoredWithoutArgv) {
  // Only Init(config, argc, argv) parses flags; a plain Init ignores the process's argv.
  ray::RayConfig config = MakeConfig();
  config.default_actor_lifetime = ray::ActorLifetime::DETACHED;
  ray::Init(config);
  EXPECT_TRUE(ray::IsInitialized());
}

static void ExpectUnreachableAddressFails(ray::RayConfig config, const char *how) {
  auto t0 = Clock::now();
  try {
    ray::Init(config);
    ADD_FAILURE() << how << ": Init with an unreachable address succeeded";
  } catch (ray::internal::RayException &e) {
    std::string msg = e.what();
    EXPECT_FALSE(msg.empty()) << how;
    EXPECT_TRUE(Contains(msg, "127.0.0.1:1")) << how << ": message does not name the address: "
                                              << msg;
  }
  EXPECT_LT(goray_test::SecondsSince(t0), 30.0) << how;
  EXPECT_FALSE(ray::IsInitialized()) << how;
  EXPECT_THROW(ray::Put(1), ray::internal::RayException) << how;
}

TEST_F(ConfigTest, UnreachableAddressField) {
  ray::RayConfig config;
  config.address = "127.0.0.1:1";
  ExpectUnreachableAddressFails(config, "config.address");
}

TEST_F(ConfigTest, UnreachableAddressEnv) {
  setenv("RAY_ADDRESS", "127.0.0.1:1", 1);
  ray::RayConfig config;
  ExpectUnreachableAddressFails(config, "RAY_ADDRESS");
  unsetenv("RAY_ADDRESS");
}

TEST_F(ConfigTest, UnreachableAddressFlag) {
  ray::RayConfig config;
  Args args({"prog", "--ray_address=127.0.0.1:1"});
  auto t0 = Clock::now();
  try {
    ray::Init(config, args.argc(), args.argv());
    ADD_FAILURE() << "Init with --ray_address=127.0.0.1:1 succeeded";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "127.0.0.1:1")) << e.what();
  }
  EXPECT_LT(goray_test::SecondsSince(t0), 30.0);
  EXPECT_FALSE(ray::IsInitialized());
}

TEST_F(ConfigTest, RuntimeEnvIsRejected) {
  ray::RayConfig config = MakeConfig();
  ray::RuntimeEnv env;
  env.Set("working_dir", std::string("/tmp"));
  config.runtime_env = env;
  try {
    ray::Init(config);
    ADD_FAILURE() << "Init with a runtime_env succeeded";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(ContainsNoCase(e.what(), "runtime_env") || ContainsNoCase(e.what(), "runtime env"))
        << e.what();
  }
  EXPECT_FALSE(ray::IsInitialized());
}

TEST_F(ConfigTest, EmptyRuntimeEnvIsFine) {
  ray::RayConfig config = MakeConfig();
  config.runtime_env = ray::RuntimeEnv();
  ray::Init(config);
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
}

TEST(RuntimeEnvTest, SetGetContainsRemove) {
  ray::RuntimeEnv env;
  EXPECT_TRUE(env.Empty());
  env.Set("working_dir", std::string("/some/dir"));
  EXPECT_FALSE(env.Empty());
  EXPECT_TRUE(env.Contains("working_dir"));
  EXPECT_FALSE(env.Contains("pip"));
  EXPECT_EQ(env.Get<std::string>("working_dir"), "/some/dir");
  std::string json = env.SerializeToRuntimeEnvString();
  EXPECT_EQ(json.front(), '{') << json;
  EXPECT_EQ(json.back(), '}') << json;
  EXPECT_TRUE(Contains(json, "working_dir")) << json;
  EXPECT_TRUE(Contains(json, "/some/dir")) << json;
  EXPECT_TRUE(env.Remove("working_dir"));
  EXPECT_FALSE(env.Contains("working_dir"));
  EXPECT_TRUE(env.Empty());
}

TEST_F(ConfigTest, NamespaceAndPasswordAccepted) {
  ray::RayConfig config = MakeConfig();
  config.ray_namespace = "goray_test_ns";
  ray::Init(config);
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
}
