// goray: tasks that submit tasks and Get them (a worker blocked in Get gives its CPU back).
#include "remote_functions.h"
#include "test_util.h"

using goray_test::IsNodeMode;
using goray_test::RunWithDeadline;

// One CPU: nested tasks only finish if a worker blocked in Get releases its CPU.
class NestedTest : public goray_test::RayTest {
 protected:
  std::vector<std::string> HeadArgs() override { return {"--num-cpus", "1"}; }
};

TEST_F(NestedTest, TaskSubmitsThreeTasksAndGetsThem) {
  auto result = std::make_shared<int>(-1);
  auto error = std::make_shared<std::string>();
  bool finished = RunWithDeadline(
      [result, error]() {
        try {
          *result = *ray::Task(NestedSum3).Remote(10).Get();
        } catch (std::exception &e) {
          *error = e.what();
        }
      },
      30000);
  ASSERT_TRUE(finished) << "nested tasks deadlocked (" << goray_test::ModeName() << " mode)";
  EXPECT_EQ(*error, "");
  EXPECT_EQ(*result, 11 + 12 + 13);
}

TEST_F(NestedTest, RecursionDepthThree) {
  auto result = std::make_shared<int>(-1);
  auto error = std::make_shared<std::string>();
  bool finished = RunWithDeadline(
      [result, error]() {
        try {
          *result = *ray::Task(Recurse).Remote(3).Get();
        } catch (std::exception &e) {
          *error = e.what();
        }
      },
      30000);
  ASSERT_TRUE(finished) << "recursive tasks deadlocked (" << goray_test::ModeName() << " mode)";
  EXPECT_EQ(*error, "");
  EXPECT_EQ(*result, 3);
}

TEST_F(NestedTest, SeveralNestedTasksAtOnce) {
  auto result = std::make_shared<int>(-1);
  auto error = std::make_shared<std::string>();
  bool finished = RunWithDeadline(
      [result, error]() {
        try {
          std::vector<ray::ObjectRef<int>> refs;
          for (int i = 0; i < 3; i++) refs.push_back(ray::Task(NestedSum3).Remote(i));
          int sum = 0;
          for (auto &v : ray::Get(refs)) sum += *v;
          *result = sum;
        } catch (std::exception &e) {
          *error = e.what();
        }
      },
      60000);
  ASSERT_TRUE(finished) << "nested tasks deadlocked (" << goray_test::ModeName() << " mode)";
  EXPECT_EQ(*error, "");
  // NestedSum3(i) = 3i + 6
  EXPECT_EQ(*result, (0 + 6) + (3 + 6) + (6 + 6));
}

TEST_F(NestedTest, NestedGetOfRefsPassedIn) {
  std::vector<ray::ObjectRef<int>> refs{ray::Task(Plus).Remote(1, 1), ray::Put(3)};
  EXPECT_EQ(*ray::Task(SumRefs).Remote(refs).Get(30000), 5);
}
