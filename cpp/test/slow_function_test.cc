// goray: tasks run in parallel (a behaviour check, not a benchmark).
#include "remote_functions.h"
#include "test_util.h"

using goray_test::RayTest;
using goray_test::SecondsSince;
using Clock = std::chrono::steady_clock;

class SlowFunctionTest : public RayTest {};

TEST_F(SlowFunctionTest, FourOneSecondTasksRunInParallel) {
  // Warm up so worker start-up is not counted.
  EXPECT_EQ(*ray::Task(Return1).Remote().Get(), 1);
  auto t0 = Clock::now();
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 4; i++) refs.push_back(ray::Task(SlowFunction).Remote(1000));
  auto values = ray::Get(refs);
  double elapsed = SecondsSince(t0);
  ASSERT_EQ(values.size(), 4u);
  for (auto &v : values) EXPECT_EQ(*v, 1000);
  EXPECT_GE(elapsed, 0.95);
  EXPECT_LT(elapsed, 3.0) << "4 x 1 s tasks took " << elapsed << " s";
}

TEST_F(SlowFunctionTest, WaitSeesFastTasksBeforeSlowOnes) {
  auto slow = ray::Task(SlowFunction).Remote(1500);
  auto fast = ray::Task(SlowFunction).Remote(10);
  std::vector<ray::ObjectRef<int>> refs{slow, fast};
  auto t0 = Clock::now();
  auto w = ray::Wait(refs, 1, 5000);
  EXPECT_LT(SecondsSince(t0), 1.2);
  ASSERT_EQ(w.ready.size(), 1u);
  EXPECT_EQ(w.ready.front().ID(), fast.ID());
  EXPECT_EQ(*ray::Get(slow), 1500);
}
