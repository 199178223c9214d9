// A C++ driver that goray's job tests submit as a job (tests/e2e/jobs.sh): it joins the cluster
// through the RAY_ADDRESS the job gets, and shows what its tasks see on another node.
#include <ray/api.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

// The variable the job's runtime_env sets, as a task sees it.
std::string Greeting() {
  const char *v = std::getenv("JOB_GREETING");
  return v ? v : "(unset)";
}

// The first line of a file of the task's working directory.
std::string ReadHere(std::string name) {
  std::ifstream f(name);
  std::string line;
  if (!std::getline(f, line)) return "(no " + name + ")";
  return line;
}

int Plus(int a, int b) { return a + b; }

// An id's bytes as hex, as the state API shows ids.
std::string Hex(const std::string &id) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : id) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// An actor for the state API to list.
class Keeper {
 public:
  static Keeper *Make() { return new Keeper(); }
  int Ping() { return 1; }
};

RAY_REMOTE(Greeting, ReadHere, Plus, Keeper::Make, &Keeper::Ping);

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  if (mode == "actors") config.default_actor_lifetime = ray::ActorLifetime::DETACHED;
  ray::Init(config);
  if (mode == "actors") {
    // A detached actor on node B that outlives this driver, one killed, and a placement group.
    auto keeper = ray::Actor(Keeper::Make).SetName("keeper").SetResource("b", 1).Remote();
    auto gone = ray::Actor(Keeper::Make).SetName("gone").Remote();
    std::cout << "pings " << *ray::Get(keeper.Task(&Keeper::Ping).Remote()) + *ray::Get(gone.Task(&Keeper::Ping).Remote())
              << std::endl;
    // (a killed process's last task events may not have left it: give them time to)
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    gone.Kill();
    auto pg = ray::CreatePlacementGroup(ray::PlacementGroupCreationOptions{"pgkeep", {{{"CPU", 1}}}, ray::PlacementStrategy::PACK});
    std::cout << "group ready " << pg.Wait(30) << " " << pg.GetID() << std::endl;
  } else if (mode == "env") {
    // On node B (the only node with resource "b"): the job's environment travels with its tasks.
    std::cout << "task greeting " << *ray::Get(ray::Task(Greeting).SetResource("b", 1).Remote()) << std::endl;
    std::cout << "task reads " << *ray::Get(ray::Task(ReadHere).SetResource("b", 1).Remote(std::string("data.txt")))
              << std::endl;
  } else if (mode == "hold") {
    // For the dashboard's test: an object of 8 MiB in this node's store, a placement group, and
    // the job RUNNING, until the file RELEASE_FILE names exists (two minutes at most).
    // For `ray memory` and `ray list objects`: a task's result, an actor call's result (which
    // only this process knows), and a ref held only inside another object.
    auto ref = ray::Put(std::vector<char>(8 << 20, 'x'));
    auto pg = ray::CreatePlacementGroup(ray::PlacementGroupCreationOptions{"pghold", {{{"CPU", 1}}}, ray::PlacementStrategy::PACK});
    pg.Wait(30);
    auto three = ray::Task(Plus).Remote(1, 2);
    auto pinger = ray::Actor(Keeper::Make).Remote();
    auto ping = pinger.Task(&Keeper::Ping).Remote();
    ray::ObjectRef<std::vector<ray::ObjectRef<int>>> outer;
    std::string inner_id;
    {
      auto inner = ray::Put(5);
      inner_id = inner.ID();
      outer = ray::Put(std::vector<ray::ObjectRef<int>>{inner});
    }
    std::cout << "results " << *ray::Get(three) << " " << *ray::Get(ping) << std::endl;
    std::cout << "refs big=" << Hex(ref.ID()) << " task=" << Hex(three.ID()) << " call=" << Hex(ping.ID())
              << " inner=" << Hex(inner_id) << " outer=" << Hex(outer.ID()) << std::endl;
    std::cout << "holding " << ray::Get(ref)->size() << " bytes" << std::endl;
    const char *release = std::getenv("RELEASE_FILE");
    for (int i = 0; i < 1200 && release && !std::ifstream(release).good(); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::cout << "released" << std::endl;
  } else {
    std::cout << "plus " << *ray::Get(ray::Task(Plus).Remote(1, 2)) << std::endl;
  }
  ray::Shutdown();
  return 0;
}
