// main() of every test suite. When a node re-executes the test binary as a worker (no
// libtest_functions.so on the code search path), the binary must serve tasks instead of running
// the tests: its first ray::Init call does that and never returns.
#include <gtest/gtest.h>
#include <ray/api.h>
#include <ray/c_api.h>

int main(int argc, char **argv) {
  if (ray_is_worker_process()) {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    return 1;  // not reached: Init serves tasks and exits the process
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
