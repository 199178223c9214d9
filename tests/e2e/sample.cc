// The program of the foundation issue, as a user writes it.
#include <ray/api.h>

#include <iostream>

int Plus(int a, int b) { return a + b; }
RAY_REMOTE(Plus);

int main(int argc, char **argv) {
  ray::RayConfig config;
  config.local_mode = getenv("SAMPLE_LOCAL_MODE") != nullptr;
  ray::Init(config, argc, argv);
  auto x = ray::Put(100);
  std::cout << "put " << *ray::Get(x) << std::endl;
  auto three = ray::Task(Plus).Remote(1, 2);
  auto thirteen = ray::Task(Plus).Remote(three, 10);
  std::cout << "thirteen " << *ray::Get(thirteen) << std::endl;
  ray::Shutdown();
}
