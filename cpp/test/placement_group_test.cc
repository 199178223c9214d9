// goray: placement groups (create, wait, look up, remove; tasks and actors in their bundles;
// resources reserved and given back; bad options), in local mode and on an embedded node; and
// GPUs (each worker's CUDA_VISIBLE_DEVICES names the GPUs its task or actor holds).
#include <random>
#include <set>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::Contains;
using goray_test::UniqueName;
using goray_test::IsNodeMode;

namespace {

constexpr int kGetTimeoutMs = 30000;


ray::PlacementGroup Create(std::vector<std::unordered_map<std::string, double>> bundles,
                           ray::PlacementStrategy strategy = ray::PlacementStrategy::PACK,
                           std::string name = "") {
  ray::PlacementGroupCreationOptions options{std::move(name), std::move(bundles), strategy};
  return ray::CreatePlacementGroup(options);
}

// What creating a group with these options threw ("" when it did not).
std::string CreateError(std::vector<std::unordered_map<std::string, double>> bundles,
                        std::string name = "") {
  try {
    Create(std::move(bundles), ray::PlacementStrategy::PACK, std::move(name));
  } catch (const ray::internal::RayException &e) {
    return e.what();
  }
  return "";
}

// The node has 4 CPUs and 2 of resource "slot" (local mode: the same, given as head_args).
class PlacementGroupTest : public goray_test::RayHeadArgsTest {
 protected:
  std::vector<std::string> HeadArgs() override {
    return {"--num-cpus", "4", "--resources", "{\"slot\": 2}"};
  }
};

TEST_F(PlacementGroupTest, CreateWaitLookUpRemove) {
  std::string name = UniqueName("pg");
  auto pg = Create({{{"CPU", 1}}, {{"slot", 1}}}, ray::PlacementStrategy::PACK, name);
  EXPECT_FALSE(pg.Empty());
  EXPECT_EQ(pg.GetID().size(), 36u);
  EXPECT_EQ(pg.GetName(), name);
  EXPECT_EQ(pg.GetStrategy(), ray::PlacementStrategy::PACK);
  ASSERT_EQ(pg.GetBundles().size(), 2u);
  EXPECT_EQ(pg.GetBundles()[1].at("slot"), 1);
  ASSERT_TRUE(pg.Wait(30));

  auto by_id = ray::GetPlacementGroupById(pg.GetID());
  ASSERT_FALSE(by_id.Empty());
  EXPECT_EQ(by_id.GetID(), pg.GetID());
  EXPECT_EQ(by_id.GetName(), name);
  EXPECT_EQ(by_id.GetState(), ray::PlacementGroupState::CREATED);
  EXPECT_EQ(by_id.GetBundles(), pg.GetBundles());
  EXPECT_TRUE(by_id.Wait(1));  // a looked-up group waits too

  auto by_name = ray::GetPlacementGroup(name);
  ASSERT_FALSE(by_name.Empty());
  EXPECT_EQ(by_name.GetID(), pg.GetID());

  bool listed = false;
  for (auto &g : ray::GetAllPlacementGroups()) {
    if (g.GetID() == pg.GetID()) {
      listed = true;
      EXPECT_EQ(g.GetState(), ray::PlacementGroupState::CREATED);
    }
  }
  EXPECT_TRUE(listed);

  ray::RemovePlacementGroup(pg.GetID());
  ray::RemovePlacementGroup(pg.GetID());  // twice: nothing more happens
  EXPECT_EQ(ray::GetPlacementGroupById(pg.GetID()).GetState(), ray::PlacementGroupState::REMOVED);
  EXPECT_TRUE(ray::GetPlacementGroup(name).Empty());  // a removed group's name is free
  try {
    pg.Wait(1);
    FAIL() << "Wait on a removed group returned";
  } catch (const ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "removed")) << e.what();
  }
  // The name can be used again.
  auto again = Create({{{"CPU", 1}}}, ray::PlacementStrategy::PACK, name);
  EXPECT_TRUE(again.Wait(30));
  EXPECT_EQ(ray::GetPlacementGroup(name).GetID(), again.GetID());
  ray::RemovePlacementGroup(again.GetID());
}

TEST_F(PlacementGroupTest, MissingGroups) {
  EXPECT_TRUE(ray::GetPlacementGroup(UniqueName("nobody")).Empty());
  EXPECT_TRUE(ray::GetPlacementGroupById("0123456789abcdef0123456789abcdef0123").Empty());
  EXPECT_TRUE(ray::GetPlacementGroupById("").Empty());
  EXPECT_THROW(ray::GetPlacementGroupById("not-an-id"), ray::internal::RayException);
  EXPECT_THROW(ray::RemovePlacementGroup("not-an-id"), ray::internal::RayException);
  ray::PlacementGroup empty;
  EXPECT_TRUE(empty.Empty());
  EXPECT_THROW(empty.Wait(1), ray::internal::RayException);
  // Waiting for a group nobody made is an error, not a wait.
  ray::PlacementGroup ghost("0123456789abcdef0123456789abcdef0123", {});
  ghost.SetWaitCallbak(ray::internal::WaitPlacementGroupReady);
  EXPECT_THROW(ghost.Wait(1), ray::internal::RayException);
}

TEST_F(PlacementGroupTest, DuplicateNameThrows) {
  std::string name = UniqueName("dup");
  auto pg = Create({{{"CPU", 1}}}, ray::PlacementStrategy::PACK, name);
  std::string err = CreateError({{{"CPU", 1}}}, name);
  EXPECT_TRUE(Contains(err, "already exists")) << err;
  // The first one is untouched.
  EXPECT_TRUE(pg.Wait(30));
  EXPECT_EQ(ray::GetPlacementGroup(name).GetID(), pg.GetID());
  ray::RemovePlacementGroup(pg.GetID());
}

TEST_F(PlacementGroupTest, BadOptionsThrow) {
  EXPECT_TRUE(Contains(CreateError({}), "at least one bundle")) << CreateError({});
  EXPECT_TRUE(Contains(CreateError({{}}), "empty")) << CreateError({{}});
  EXPECT_FALSE(CreateError({{{"CPU", -1}}}).empty());
  EXPECT_FALSE(CreateError({{{"CPU", 1.5}}}).empty());  // above 1, fractions are refused
  EXPECT_FALSE(CreateError({{{"CPU_group_0123456789abcdef0123456789abcdef0123", 1}}}).empty());
  ray::PlacementGroupCreationOptions bad{"", {{{"CPU", 1}}}, ray::PlacementStrategy::UNRECOGNIZED};
  EXPECT_THROW(ray::CreatePlacementGroup(bad), ray::internal::RayException);
}

TEST_F(PlacementGroupTest, MoreThanTheNodeHasStaysPending) {
  auto pg = Create({{{"CPU", 100}}});
  EXPECT_FALSE(pg.Wait(1));
  EXPECT_EQ(ray::GetPlacementGroupById(pg.GetID()).GetState(), ray::PlacementGroupState::PENDING);
  // STRICT_SPREAD needs a node per bundle: one node never holds two.
  auto spread = Create({{{"CPU", 1}}, {{"CPU", 1}}}, ray::PlacementStrategy::STRICT_SPREAD);
  EXPECT_FALSE(spread.Wait(1));
  // STRICT_PACK of what fits on the node is created.
  auto pack = Create({{{"CPU", 1}}, {{"CPU", 1}}}, ray::PlacementStrategy::STRICT_PACK);
  EXPECT_TRUE(pack.Wait(30));
  for (auto &g : {pg, spread, pack}) ray::RemovePlacementGroup(g.GetID());
}

TEST_F(PlacementGroupTest, GroupsTakeTurnsForTheSameResources) {
  // Each takes both slots: the second waits until the first is removed.
  auto first = Create({{{"slot", 2}}});
  ASSERT_TRUE(first.Wait(30));
  auto second = Create({{{"slot", 1}}, {{"slot", 1}}});
  EXPECT_FALSE(second.Wait(1));
  ray::RemovePlacementGroup(first.GetID());
  EXPECT_TRUE(second.Wait(30));
  ray::RemovePlacementGroup(second.GetID());
}

TEST_F(PlacementGroupTest, TasksAndActorsRunInBundles) {
  auto pg = Create({{{"CPU", 1}}, {{"CPU", 1}, {"slot", 1}}});
  ASSERT_TRUE(pg.Wait(30));
  auto r0 = ray::Task(Plus).SetPlacementGroup(pg, 0).Remote(1, 2);
  auto r1 = ray::Task(Plus).SetPlacementGroup(pg, 1).SetResource("slot", 1).Remote(3, 4);
  auto any = ray::Task(Plus).SetPlacementGroup(pg, -1).Remote(5, 6);
  EXPECT_EQ(*ray::Get(r0, kGetTimeoutMs), 3);
  EXPECT_EQ(*ray::Get(r1, kGetTimeoutMs), 7);
  EXPECT_EQ(*ray::Get(any, kGetTimeoutMs), 11);
  auto counter = ray::Actor(Counter::FactoryCreate).SetPlacementGroup(pg, 1).Remote(10);
  EXPECT_EQ(*ray::Get(counter.Task(&Counter::Add).Remote(5), kGetTimeoutMs), 15);
  EXPECT_THROW(ray::Task(Plus).SetPlacementGroup(pg, 2), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetPlacementGroup(pg, -2), ray::internal::RayException);
  EXPECT_THROW(ray::Actor(Counter::FactoryCreate).SetPlacementGroup(ray::PlacementGroup(), 0),
               ray::internal::RayException);
  ray::RemovePlacementGroup(pg.GetID());
}

TEST_F(PlacementGroupTest, TaskWaitsForItsGroup) {
  // Submitted before the group can be created: it runs once it is.
  auto blocker = Create({{{"slot", 2}}});
  ASSERT_TRUE(blocker.Wait(30));
  auto pg = Create({{{"slot", 1}, {"CPU", 1}}});
  auto r = ray::Task(Plus).SetPlacementGroup(pg, 0).Remote(20, 22);
  if (IsNodeMode()) {
    auto waited = ray::Wait(std::vector<ray::ObjectRef<int>>{r}, 1, 500);
    EXPECT_EQ(waited.ready.size(), 0u);  // its group is not there yet
  }
  ray::RemovePlacementGroup(blocker.GetID());
  ASSERT_TRUE(pg.Wait(30));
  EXPECT_EQ(*ray::Get(r, kGetTimeoutMs), 42);
  ray::RemovePlacementGroup(pg.GetID());
}

TEST_F(PlacementGroupTest, RemovingTheGroupKillsItsActors) {
  auto pg = Create({{{"CPU", 1}}});
  ASSERT_TRUE(pg.Wait(30));
  auto counter =
      ray::Actor(Counter::FactoryCreate).SetPlacementGroup(pg, 0).SetMaxRestarts(-1).Remote(1);
  EXPECT_EQ(*ray::Get(counter.Task(&Counter::Add).Remote(1), kGetTimeoutMs), 2);
  ray::RemovePlacementGroup(pg.GetID());
  // Killed for good, whatever its max_restarts: later calls fail.
  bool failed = false;
  for (int i = 0; i < 100 && !failed; i++) {
    try {
      ray::Get(counter.Task(&Counter::Add).Remote(1), kGetTimeoutMs);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } catch (const ray::internal::RayActorException &e) {
      failed = true;
    }
  }
  EXPECT_TRUE(failed);
}

TEST_F(PlacementGroupTest, ReservedResourcesAreTakenFromOthers) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode runs tasks whatever their resources";
  // The group takes every CPU: a plain task waits until it is removed.
  auto pg = Create({{{"CPU", 4}}});
  ASSERT_TRUE(pg.Wait(30));
  auto r = ray::Task(Plus).Remote(1, 1);
  auto waited = ray::Wait(std::vector<ray::ObjectRef<int>>{r}, 1, 500);
  EXPECT_EQ(waited.ready.size(), 0u);
  ray::RemovePlacementGroup(pg.GetID());
  EXPECT_EQ(*ray::Get(r, kGetTimeoutMs), 2);
}

TEST_F(PlacementGroupTest, ManyGroupsComeAndGo) {
  std::vector<ray::PlacementGroup> groups;
  for (int i = 0; i < 200; i++) groups.push_back(Create({{{"slot", 0.001}}}));
  for (auto &g : groups) ASSERT_TRUE(g.Wait(30));
  std::set<std::string> ids;
  for (auto &g : groups) ids.insert(g.GetID());
  EXPECT_EQ(ids.size(), groups.size());
  for (auto &g : groups) ray::RemovePlacementGroup(g.GetID());
  // Everything came back: a group of both slots fits.
  auto whole = Create({{{"slot", 2}}});
  EXPECT_TRUE(whole.Wait(30));
  ray::RemovePlacementGroup(whole.GetID());
}

// A node with 2 GPUs (faked: the count only).
class GpuTest : public goray_test::RayHeadArgsTest {
 protected:
  void SetUp() override {
    unsetenv("CUDA_VISIBLE_DEVICES");  // (the node names its GPUs 0 and 1, whatever runs the test)
    goray_test::RayHeadArgsTest::SetUp();
  }
  std::vector<std::string> HeadArgs() override { return {"--num-cpus", "4", "--num-gpus", "2"}; }
  bool Skip() {
    return !IsNodeMode();  // local mode runs every task on threads of one process
  }
};

TEST_F(GpuTest, EachTaskSeesItsGpus) {
  if (Skip()) GTEST_SKIP() << "local mode: one process, no per-task CUDA_VISIBLE_DEVICES";
  // Two tasks of one GPU each, at once: each sees its own.
  auto a = ray::Task(VisibleDevices).SetResource("GPU", 1).Remote(1000);
  auto b = ray::Task(VisibleDevices).SetResource("GPU", 1).Remote(1000);
  std::set<std::string> seen{*ray::Get(a, kGetTimeoutMs), *ray::Get(b, kGetTimeoutMs)};
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1"}));
  EXPECT_EQ(*ray::Get(ray::Task(VisibleDevices).SetResource("GPU", 2).Remote(0), kGetTimeoutMs), "0,1");
  // Halves share a GPU.
  auto h1 = ray::Task(VisibleDevices).SetResource("GPU", 0.5).Remote(500);
  auto h2 = ray::Task(VisibleDevices).SetResource("GPU", 0.5).Remote(500);
  EXPECT_EQ(*ray::Get(h1, kGetTimeoutMs), *ray::Get(h2, kGetTimeoutMs));
  // No GPU: none visible (as Ray does).
  EXPECT_EQ(*ray::Get(ray::Task(VisibleDevices).Remote(0), kGetTimeoutMs), "");
}

TEST_F(GpuTest, ActorKeepsItsGpu) {
  if (Skip()) GTEST_SKIP() << "local mode: one process, no per-task CUDA_VISIBLE_DEVICES";
  auto actor = ray::Actor(Counter::FactoryCreate).SetResource("GPU", 1).Remote(0);
  std::string first = *ray::Get(actor.Task(&Counter::VisibleDevices).Remote(), kGetTimeoutMs);
  EXPECT_TRUE(first == "0" || first == "1") << first;
  // Tasks meanwhile run beside it, on the other GPU.
  std::string other = *ray::Get(ray::Task(VisibleDevices).SetResource("GPU", 1).Remote(0), kGetTimeoutMs);
  EXPECT_NE(other, first);
  EXPECT_EQ(*ray::Get(actor.Task(&Counter::VisibleDevices).Remote(), kGetTimeoutMs), first);
}

TEST_F(GpuTest, BundleGpus) {
  if (Skip()) GTEST_SKIP() << "local mode: one process, no per-task CUDA_VISIBLE_DEVICES";
  auto pg = Create({{{"GPU", 1}, {"CPU", 1}}, {{"GPU", 1}, {"CPU", 1}}}, ray::PlacementStrategy::PACK);
  ASSERT_TRUE(pg.Wait(30));
  auto in0 = ray::Task(VisibleDevices).SetPlacementGroup(pg, 0).SetResources({{"CPU", 1}, {"GPU", 0.5}}).Remote(0);
  auto in1 = ray::Task(VisibleDevices).SetPlacementGroup(pg, 1).SetResources({{"CPU", 1}, {"GPU", 0.5}}).Remote(0);
  std::set<std::string> seen{*ray::Get(in0, kGetTimeoutMs), *ray::Get(in1, kGetTimeoutMs)};
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1"}));
  ray::RemovePlacementGroup(pg.GetID());
}

}  // namespace
