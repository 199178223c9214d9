// goray: tasks that submit tasks and Get them (a worker blocked in Get gives its CPU back).
#include <functional>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::IsNodeMode;
using goray_test::RunWithDeadline;

// One CPU: nested tasks only finish if a worker blocked in Get releases its CPU.
class NestedTest : public goray_test::RayTest {
 protected:
  std::vector<std::string> HeadArgs() override { return {"--num-cpus", "1"}; }
};

// Runs body (which returns the driver-side result of nested tasks) under a deadline; fails the
// test when it deadlocks or throws, and returns the result (-1 when it did not finish).
static int RunNested(const std::function<int()> &body, int deadline_ms) {
  auto result = std::make_shared<int>(-1);
  auto error = std::make_shared<std::string>();
  bool finished = RunWithDeadline(
      [result, error, body]() {
        try {
          *result = body();
        } catch (std::exception &e) {
          *error = e.what();
        }
      },
      deadline_ms);
  EXPECT_TRUE(finished) << "nested tasks deadlocked (" << goray_test::ModeName() << " mode)";
  if (!finished) return -1;
  EXPECT_EQ(*error, "");
  return *result;
}

TEST_F(NestedTest, TaskSubmitsThreeTasksAndGetsThem) {
  EXPECT_EQ(RunNested([] { return *ray::Task(NestedSum3).Remote(10).Get(); }, 30000), 11 + 12 + 13);
}

TEST_F(NestedTest, RecursionDepthThree) {
  EXPECT_EQ(RunNested([] { return *ray::Task(Recurse).Remote(3).Get(); }, 30000), 3);
}

TEST_F(NestedTest, SeveralNestedTasksAtOnce) {
  int result = RunNested(
      [] {
        std::vector<ray::ObjectRef<int>> refs;
        for (int i = 0; i < 3; i++) refs.push_back(ray::Task(NestedSum3).Remote(i));
        int sum = 0;
        for (auto &v : ray::Get(refs)) sum += *v;
        return sum;
      },
      60000);
  // NestedSum3(i) = 3i + 6
  EXPECT_EQ(result, (0 + 6) + (3 + 6) + (6 + 6));
}

TEST_F(NestedTest, NestedGetOfRefsPassedIn) {
  std::vector<ray::ObjectRef<int>> refs{ray::Task(Plus).Remote(1, 1), ray::Put(3)};
  EXPECT_EQ(*ray::Task(SumRefs).Remote(refs).Get(30000), 5);
}
