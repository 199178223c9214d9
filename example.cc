/// goray's example: Ray's C++ API, tasks and objects on an embedded node.
#include <ray/api.h>

#include <iostream>

/// A plain function...
int Plus(int x, int y) { return x + y; }
/// ...made callable as a task.
RAY_REMOTE(Plus);

int main(int argc, char **argv) {
  /// Start Ray: with no address, an embedded node with worker processes.
  ray::RayConfig config;
  ray::Init(config, argc, argv);

  /// Put an object in the object store and get it back.
  auto object = ray::Put(100);
  auto put_get_result = *(ray::Get(object));
  std::cout << "put_get_result = " << put_get_result << std::endl;

  /// Run a task in a worker process.
  auto task_object = ray::Task(Plus).Remote(1, 2);
  int task_result = *(ray::Get(task_object));
  std::cout << "task_result = " << task_result << std::endl;

  /// Pass the first task's ObjectRef to a second task: it runs once the first result exists.
  auto task_object2 = ray::Task(Plus).Remote(task_object, 10);
  int task_result2 = *(ray::Get(task_object2));
  std::cout << "task_result2 = " << task_result2 << std::endl;

  /// Stop the node and its workers.
  ray::Shutdown();
  return 0;
}
