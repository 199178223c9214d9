// A driver that keeps its workers busy and waits to be killed (SIGKILL leaves no process behind).
#include <ray/api.h>
#include <unistd.h>

#include <iostream>

int Nap(int seconds) {
  sleep(seconds);
  return seconds;
}
RAY_REMOTE(Nap);

int main(int argc, char **argv) {
  ray::RayConfig config;
  config.head_args = {"--num-cpus", "2"};
  ray::Init(config, argc, argv);
  auto a = ray::Task(Nap).Remote(0);
  ray::Get(a);
  auto b = ray::Task(Nap).Remote(120);
  std::cout << "ready" << std::endl;
  sleep(120);
  return 0;
}
