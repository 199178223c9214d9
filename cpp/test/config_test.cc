// goray: ray::Init configuration (RayConfig fields, command-line flags, unsupported options).
#include "remote_functions.h"
#include "test_util.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>
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

// The job's runtime environment (RayConfig::runtime_env): its env_vars reach every task and
// actor (in local mode, the process itself).
TEST_F(ConfigTest, JobRuntimeEnvVars) {
  ray::RayConfig config = MakeConfig();
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"GORAY_T_JOB", "job value"}});
  config.runtime_env = env;
  ray::Init(config);
  EXPECT_EQ(*ray::Task(GetEnvVar).Remote(std::string("GORAY_T_JOB")).Get(), "job value");
  auto actor = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(*actor.Task(&Counter::GetEnvVar).Remote(std::string("GORAY_T_JOB")).Get(), "job value");
}

// A task's or an actor's own runtime environment: its env_vars in the process that runs it (on
// top of the job's, whose names it may override), and none in the processes of other work.
TEST_F(ConfigTest, TaskAndActorRuntimeEnvVars) {
  ray::RayConfig config = MakeConfig();
  ray::RuntimeEnv job_env;
  job_env.Set("env_vars", std::map<std::string, std::string>{{"GORAY_T_A", "job"}, {"GORAY_T_B", "job"}});
  config.runtime_env = job_env;
  ray::Init(config);
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"GORAY_T_B", "task"}, {"GORAY_T_C", "task"}});
  if (!IsNodeMode()) {
    // One process runs everything: a task's own environment cannot apply.
    EXPECT_THROW(ray::Task(GetEnvVar).SetRuntimeEnv(env).Remote(std::string("GORAY_T_B")),
                 ray::internal::RayException);
    return;
  }
  auto in_env = [&](const std::string &name) {
    return *ray::Task(GetEnvVar).SetRuntimeEnv(env).Remote(name).Get();
  };
  EXPECT_EQ(in_env("GORAY_T_A"), "job");
  EXPECT_EQ(in_env("GORAY_T_B"), "task");
  EXPECT_EQ(in_env("GORAY_T_C"), "task");
  // Other tasks run in other processes: the task's variables are not theirs.
  for (int i = 0; i < 5; i++) {
    EXPECT_EQ(*ray::Task(GetEnvVar).Remote(std::string("GORAY_T_C")).Get(), "(unset)");
    EXPECT_EQ(*ray::Task(GetEnvVar).Remote(std::string("GORAY_T_B")).Get(), "job");
  }
  auto actor = ray::Actor(Counter::FactoryCreate).SetRuntimeEnv(env).Remote(0);
  EXPECT_EQ(*actor.Task(&Counter::GetEnvVar).Remote(std::string("GORAY_T_C")).Get(), "task");
  // What goray cannot apply is refused where it is asked for.
  ray::RuntimeEnv pip;
  pip.Set("pip", std::vector<std::string>{"requests"});
  try {
    ray::Task(GetEnvVar).SetRuntimeEnv(pip).Remote(std::string("X"));
    ADD_FAILURE() << "a pip runtime_env was taken";
  } catch (const ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "Python only")) << e.what();
  }
}

// The job's working_dir: a copy of the directory, on every node, is the working directory of
// the processes that run the job's tasks and actors (and first on their library path); in
// local mode, of the process itself.
TEST_F(ConfigTest, JobWorkingDir) {
  goray_test::ScopedTempDir dir;
  std::filesystem::create_directories(dir.path() + "/sub");
  WriteTextFile(dir.path() + "/data.txt", "hello from the working_dir");
  WriteTextFile(dir.path() + "/sub/deep.txt", "deeper");
  ray::RayConfig config = MakeConfig();
  ray::RuntimeEnv env;
  env.Set("working_dir", dir.path());
  env.Set("env_vars", std::map<std::string, std::string>{{"GORAY_T_WD", "set"}});
  config.runtime_env = env;
  const std::string before = WorkingDirectory();
  ray::Init(config);
  EXPECT_EQ(*ray::Task(ReadTextFile).Remote(std::string("data.txt")).Get(), "hello from the working_dir");
  EXPECT_EQ(*ray::Task(ReadTextFile).Remote(std::string("sub/deep.txt")).Get(), "deeper");
  EXPECT_EQ(*ray::Task(GetEnvVar).Remote(std::string("GORAY_T_WD")).Get(), "set");
  const std::string cwd = *ray::Task(WorkingDirectory).Remote().Get();
  // A copy: what tasks write there leaves the user's directory alone.
  EXPECT_NE(cwd, dir.path());
  ray::Task(WriteTextFile).Remote(std::string("written.txt"), std::string("x")).Get();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/written.txt"));
  auto actor = ray::Actor(Counter::FactoryCreate).Remote(0);
  EXPECT_EQ(*actor.Task(&Counter::WorkingDirectory).Remote().Get(), cwd);
  if (IsNodeMode()) {
    EXPECT_TRUE(Contains(cwd, "_ray_pkg_")) << cwd;
    const std::string lib_path = *ray::Task(GetEnvVar).Remote(std::string("LD_LIBRARY_PATH")).Get();
    EXPECT_EQ(lib_path.substr(0, cwd.size()), cwd) << lib_path;
    EXPECT_EQ(*ray::Task(GetEnvVar).Remote(std::string("PWD")).Get(), cwd);
  }
  ray::Shutdown();
  EXPECT_EQ(WorkingDirectory(), before);
}

// A local directory is the job's working_dir only, as in Ray; a package that cannot be set up
// fails the work that needs it with RuntimeEnvSetupError, and nothing else.
TEST_F(ConfigTest, TaskWorkingDirAndSetupErrors) {
  goray_test::ScopedTempDir dir;
  ray::RayConfig config = MakeConfig();
  ray::Init(config);
  ray::RuntimeEnv local_dir;
  local_dir.Set("working_dir", dir.path());
  try {
    ray::Task(Plus).SetRuntimeEnv(local_dir).Remote(1, 2);
    ADD_FAILURE() << "a task's local working_dir was taken";
  } catch (const ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "job's working_dir only")) << e.what();
  }
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetRuntimeEnv(local_dir).Remote(0),
               ray::internal::RayException);
  if (!IsNodeMode()) return;
  ray::RuntimeEnv missing;
  missing.Set("working_dir", "gcs://_ray_pkg_" + std::string(64, '0') + ".zip");
  try {
    ray::Task(Plus).SetRuntimeEnv(missing).Remote(1, 2).Get();
    ADD_FAILURE() << "a task ran in a working_dir that does not exist";
  } catch (const ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "RuntimeEnvSetupError")) << e.what();
  }
  auto actor = ray::Actor(Counter::FactoryCreate).SetRuntimeEnv(missing).Remote(0);
  EXPECT_THROW(actor.Task(&Counter::Add).Remote(1).Get(), ray::internal::RayActorException);
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
}

TEST_F(ConfigTest, JobWorkingDirMustExist) {
  ray::RayConfig config = MakeConfig();
  ray::RuntimeEnv env;
  env.Set("working_dir", std::string("/nonexistent/goray/dir"));
  config.runtime_env = env;
  try {
    ray::Init(config);
    ADD_FAILURE() << "Init with a missing working_dir succeeded";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "/nonexistent/goray/dir")) << e.what();
  }
  EXPECT_FALSE(ray::IsInitialized());
}

TEST_F(ConfigTest, RuntimeEnvIsRejected) {
  ray::RayConfig config = MakeConfig();
  ray::RuntimeEnv env;
  env.Set("conda", std::string("myenv"));
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

TEST_F(ConfigTest, NamespaceAndPasswordAccepted) {
  ray::RayConfig config = MakeConfig();
  config.ray_namespace = "goray_test_ns";
  ray::Init(config);
  EXPECT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
}

// Text that a hand-built JSON configuration had to escape: quotes, backslashes, control
// characters, non-ASCII. The namespace reaches the runtime unchanged: GetNamespace returns it and
// a named actor is found in it.
TEST_F(ConfigTest, NamespaceWithQuotesBackslashesAndUnicode) {
  const std::string ns = "goray \"quoted\" back\\slash\ttab\nline \x01 é 名前 🚀 {\"a\":[1]}";
  ray::RayConfig config = MakeConfig();
  config.ray_namespace = ns;
  ray::Init(config);
  ASSERT_TRUE(ray::IsInitialized());
  EXPECT_EQ(ray::GetNamespace(), ns);
  auto counter = ray::Actor(Counter::FactoryCreate).SetName("escaped_ns_counter").Remote(5);
  auto found = ray::GetActor<Counter>("escaped_ns_counter", ns);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->ID(), counter.ID());
  EXPECT_EQ(*found->Task(&Counter::Get).Remote().Get(), 5);
}

// Init(config, args...) must throw a RayException whose message holds every one of `wants`, and
// leave Ray uninitialized.
template <typename... InitArgs>
static void ExpectInitFails(const std::vector<std::string> &wants, ray::RayConfig &config,
                            InitArgs... init_args) {
  try {
    ray::Init(config, init_args...);
    ADD_FAILURE() << "Init succeeded; wanted an error with " << wants.front();
    ray::Shutdown();
  } catch (ray::internal::RayException &e) {
    for (const auto &w : wants) EXPECT_TRUE(Contains(e.what(), w)) << e.what();
  }
  EXPECT_FALSE(ray::IsInitialized());
}

// A C string ends at its first NUL: a setting holding one is refused, not cut short.
TEST_F(ConfigTest, SettingWithNulCharacterThrows) {
  ray::RayConfig config = MakeConfig();
  config.ray_namespace = std::string("before\0after", 12);
  ExpectInitFails({"ray_namespace", "NUL"}, config);
  config = MakeConfig();
  config.head_args.push_back(std::string("--num-cpus\0002", 12));
  ExpectInitFails({"head_args", "NUL"}, config);
}

// Ray's redis_password_ and redis_username_ (and their flags) are accepted for Ray's programs
// and ignored: goray's control store has no Redis, the cluster token authenticates.
TEST_F(ConfigTest, RedisPasswordAndUsernameAreIgnored) {
  ray::RayConfig config = MakeConfig();
  config.redis_password_ = "5241590000000000";
  config.redis_username_ = "default";
  ray::Init(config);
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
  ray::Shutdown();
  ray::RayConfig flagged = MakeConfig();
  Args args({"prog", "--ray_redis_password=", "--ray_redis_username=default"});
  ray::Init(flagged, args.argc(), args.argv());
  EXPECT_TRUE(ray::IsInitialized());
}

TEST_F(ConfigTest, NodeManagerPortFlag) {
  ray::RayConfig config = MakeConfig();
  Args bad({"prog", "--ray_node_manager_port=70000"});
  ExpectInitFails({"Invalid --ray_node_manager_port: 70000"}, config, bad.argc(), bad.argv());
  // A valid port reaches the runtime, which takes none.
  Args port({"prog", "--ray_node_manager_port", "1234"});
  ExpectInitFails({"node_manager_port 1234"}, config, port.argc(), port.argv());
}

// --ray_session_dir and --ray_logs_dir (with characters JSON escapes) are where the node puts
// its session and its logs.
TEST_F(ConfigTest, SessionAndLogsDirFlags) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no session";
  const char *tmp = std::getenv("RAY_TMPDIR");
  std::string root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::string session = root + "/s\"\\é" + std::to_string(getpid());
  std::string logs = session + "-logs";
  ray::RayConfig config = MakeConfig();
  Args args({"prog", "--ray_session_dir=" + session, "--ray_logs_dir", logs});
  ray::Init(config, args.argc(), args.argv());
  ASSERT_TRUE(ray::IsInitialized());
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
  struct stat st;
  EXPECT_EQ(stat((session + "/sockets").c_str(), &st), 0) << session;
  EXPECT_NE(stat((session + "/logs").c_str(), &st), 0) << "logs went to the session, not " << logs;
  ray::Shutdown();
  bool has_log = false;
  if (DIR *d = opendir(logs.c_str())) {
    while (struct dirent *e = readdir(d)) has_log |= e->d_name[0] != '.';
    closedir(d);
  }
  EXPECT_TRUE(has_log) << "no log in " << logs;
  std::filesystem::remove_all(session);
  std::filesystem::remove_all(logs);
}

// The C ABI refuses a configuration it cannot read with an error, never a crash.
TEST(CApiConfigTest, VersionsMatch) { EXPECT_EQ(ray_api_version(), RAY_C_API_VERSION); }

TEST(CApiConfigTest, UnreadableConfigIsAnError) {
  auto expect_refused = [](const ray_config *config, const std::string &want) {
    char *err = nullptr;
    int code = ray_init(config, nullptr, nullptr, &err);
    EXPECT_EQ(code, RAY_ERR_INVALID_ARGUMENT) << want;
    ASSERT_NE(err, nullptr) << want;
    EXPECT_TRUE(Contains(err, want)) << err;
    ray_free(err);
    EXPECT_FALSE(ray::IsInitialized());
  };
  expect_refused(nullptr, "NULL");
  ray_config config;
  ray_config_init(&config);
  config.struct_size = 0;
  expect_refused(&config, "struct_size");
  ray_config_init(&config);
  config.code_search_path.count = 3;
  expect_refused(&config, "code_search_path.items is NULL");
  const char *args[] = {"--num-cpus", nullptr};
  config.code_search_path.count = 0;
  config.head_args.items = args;
  config.head_args.count = 2;
  expect_refused(&config, "head_args.items[1] is NULL");
  ray_config_init(&config);
  config.default_actor_lifetime = 9;
  expect_refused(&config, "default_actor_lifetime");
  ray_config_init(&config);
  config.local_mode = 2;
  expect_refused(&config, "local_mode");
}

namespace {

// A runtime env field of a user type, converted by to_json/from_json found by ADL (written the
// way Ray's own tests write them, with Ray's `json` alias).
struct PipSpec {
  std::vector<std::string> packages;
  bool pip_check = false;
};

void to_json(json &j, const PipSpec &p) {
  j = json{{"packages", p.packages}, {"pip_check", p.pip_check}};
}

void from_json(const json &j, PipSpec &p) {
  j.at("packages").get_to(p.packages);
  j.at("pip_check").get_to(p.pip_check);
}

// Calls f, which must throw RayRuntimeEnvException with `want` in its message.
template <typename F>
void ExpectRuntimeEnvError(F f, const std::string &want) {
  try {
    f();
    ADD_FAILURE() << "no exception; wanted one with " << want;
  } catch (const ray::internal::RayRuntimeEnvException &e) {
    EXPECT_TRUE(Contains(e.what(), want)) << e.what();
  }
}

}  // namespace

TEST(RuntimeEnvTest, ContainsRemoveEmpty) {
  ray::RuntimeEnv env;
  EXPECT_TRUE(env.Empty());
  EXPECT_EQ(env.Serialize(), "{}");
  env.Set("working_dir", std::string("/some/dir"));
  EXPECT_FALSE(env.Empty());
  EXPECT_TRUE(env.Contains("working_dir"));
  EXPECT_FALSE(env.Contains("pip"));
  EXPECT_FALSE(env.Remove("pip"));
  EXPECT_TRUE(env.Remove("working_dir"));
  EXPECT_FALSE(env.Contains("working_dir"));
  EXPECT_TRUE(env.Empty());
}

TEST(RuntimeEnvTest, ScalarFields) {
  ray::RuntimeEnv env;
  env.Set("count", 42);
  env.Set("negative", -7LL);
  env.Set("ratio", 0.25);
  env.Set("flag", true);
  env.Set("text", std::string("tab\t \"q\" é"));
  env.Set("literal", "https://example.invalid/dir.zip");
  EXPECT_EQ(env.Get<int>("count"), 42);
  EXPECT_EQ(env.Get<long long>("negative"), -7);
  EXPECT_DOUBLE_EQ(env.Get<double>("ratio"), 0.25);
  EXPECT_TRUE(env.Get<bool>("flag"));
  EXPECT_EQ(env.Get<std::string>("text"), "tab\t \"q\" é");
  EXPECT_EQ(env.Get<std::string>("literal"), "https://example.invalid/dir.zip");
  EXPECT_EQ(env.GetJsonStr("count"), "42");
  EXPECT_EQ(env.GetJsonStr("text"), "\"tab\\t \\\"q\\\" é\"");
  // Setting a field again replaces it, type and all.
  env.Set("count", std::string("many"));
  EXPECT_EQ(env.Get<std::string>("count"), "many");
}

TEST(RuntimeEnvTest, ContainerFields) {
  ray::RuntimeEnv env;
  std::vector<std::string> packages{"requests", "numpy==1.26"};
  std::map<std::string, std::string> env_vars{{"KEY1", "value1"}, {"PATH", "/a:/b"}};
  std::map<std::string, int> limits{{"a", 1}, {"b", 2}};
  std::vector<std::vector<int>> grid{{1, 2}, {}, {3}};
  env.Set("pip", packages);
  env.Set("env_vars", env_vars);
  env.Set("limits", limits);
  env.Set("grid", grid);
  EXPECT_EQ(env.Get<std::vector<std::string>>("pip"), packages);
  EXPECT_EQ((env.Get<std::map<std::string, std::string>>("env_vars")), env_vars);
  EXPECT_EQ((env.Get<std::map<std::string, int>>("limits")), limits);
  EXPECT_EQ(env.Get<std::vector<std::vector<int>>>("grid"), grid);
  EXPECT_EQ(env.GetJsonStr("env_vars"), R"({"KEY1":"value1","PATH":"/a:/b"})");
  EXPECT_EQ(env.GetJsonStr("grid"), "[[1,2],[],[3]]");
}

TEST(RuntimeEnvTest, UserTypeWithToJsonAndFromJson) {
  ray::RuntimeEnv env;
  env.Set("pip", PipSpec{{"requests", "tensorflow"}, true});
  EXPECT_EQ(env.GetJsonStr("pip"), R"({"packages":["requests","tensorflow"],"pip_check":true})");
  PipSpec back = env.Get<PipSpec>("pip");
  EXPECT_EQ(back.packages, (std::vector<std::string>{"requests", "tensorflow"}));
  EXPECT_TRUE(back.pip_check);
  // The same field written as JSON text reads back as the type.
  env.SetJsonStr("pip", R"({"pip_check": false, "packages": ["a"]})");
  back = env.Get<PipSpec>("pip");
  EXPECT_EQ(back.packages, std::vector<std::string>{"a"});
  EXPECT_FALSE(back.pip_check);
}

TEST(RuntimeEnvTest, WrongTypeAndMissingFieldThrow) {
  ray::RuntimeEnv env;
  ExpectRuntimeEnvError([&] { env.Get<std::string>("working_dir"); },
                        "The field working_dir not found.");
  ExpectRuntimeEnvError([&] { env.GetJsonStr("pip"); }, "The field pip not found.");
  env.Set("working_dir", "/a/dir");
  env.Set("count", 3);
  ExpectRuntimeEnvError([&] { env.Get<int>("working_dir"); },
                        "Failed to get the field working_dir");
  ExpectRuntimeEnvError([&] { env.Get<PipSpec>("working_dir"); },
                        "Failed to get the field working_dir");
  ExpectRuntimeEnvError([&] { env.Get<std::vector<int>>("count"); },
                        "Failed to get the field count");
  env.SetJsonStr("pip", R"({"packages": ["a"]})");  // no pip_check
  ExpectRuntimeEnvError([&] { env.Get<PipSpec>("pip"); }, "Failed to get the field pip");
  // Failed reads change nothing.
  EXPECT_EQ(env.Get<std::string>("working_dir"), "/a/dir");
  EXPECT_EQ(env.Get<int>("count"), 3);
}

TEST(RuntimeEnvTest, JsonStrRoundTrip) {
  ray::RuntimeEnv env;
  const std::string raw = R"({"packages":["requests","tensorflow"],"pip_check":false})";
  env.SetJsonStr("pip", raw);
  EXPECT_EQ(env.GetJsonStr("pip"), raw);
  env.SetJsonStr("spaced", " [ 1 , 2.5 , null , \"\\u00e9\\n\" ] ");
  EXPECT_EQ(env.GetJsonStr("spaced"), "[1,2.5,null,\"é\\n\"]");
  ExpectRuntimeEnvError([&] { env.SetJsonStr("bad", "{123"); },
                        "Failed to set the field bad by json string");
  ExpectRuntimeEnvError([&] { env.SetJsonStr("bad", "[1] trailing"); }, "bad");
  EXPECT_FALSE(env.Contains("bad"));
}

TEST(RuntimeEnvTest, SerializeAndDeserialize) {
  ray::RuntimeEnv env;
  env.Set("working_dir", std::string("/w \"x\" \\ é"));
  env.Set("env_vars", std::map<std::string, std::string>{{"K", "v"}});
  env.Set("pip", PipSpec{{"requests"}, true});
  std::string text = env.Serialize();
  EXPECT_EQ(text, env.SerializeToRuntimeEnvString());
  EXPECT_EQ(text,
            R"({"env_vars":{"K":"v"},"pip":{"packages":["requests"],"pip_check":true},)"
            R"("working_dir":"/w \"x\" \\ é"})");
  ray::RuntimeEnv back = ray::RuntimeEnv::Deserialize(text);
  EXPECT_EQ(back.Get<std::string>("working_dir"), "/w \"x\" \\ é");
  EXPECT_EQ(back.Get<PipSpec>("pip").packages, std::vector<std::string>{"requests"});
  EXPECT_EQ(back.Serialize(), text);
  EXPECT_TRUE(ray::RuntimeEnv::Deserialize("{}").Empty());
  for (const std::string bad : {"[1, 2]", "\"text\"", "null", "{", ""}) {
    ExpectRuntimeEnvError([&] { ray::RuntimeEnv::Deserialize(bad); },
                          "Failed to deserialize runtime env");
  }
  // Ray's RuntimeEnvInfo: the serialized env as a string field.
  json info = json::parse(env.SerializeToRuntimeEnvInfo());
  EXPECT_EQ(info.at("serializedRuntimeEnv").get<std::string>(), text);
}

// A string that is not UTF-8 can be set but not written as JSON: Serialize throws, and Init with
// it fails cleanly.
TEST_F(ConfigTest, RuntimeEnvThatIsNotUtf8) {
  ray::RuntimeEnv env;
  env.Set("working_dir", std::string("\xff\xfe"));
  ExpectRuntimeEnvError([&] { env.Serialize(); }, "Failed to serialize the runtime env");
  ExpectRuntimeEnvError([&] { env.GetJsonStr("working_dir"); }, "Failed to serialize");
  ray::RayConfig config = MakeConfig();
  config.runtime_env = env;
  ExpectInitFails({"Failed to serialize the runtime env"}, config);
}
