/// goray's example: Ray's C++ API template example (objects, tasks and actors) on an embedded node.

/// Include the `<ray/api.h>` header.
#include <ray/api.h>

#include <iostream>

/// A common function...
int Plus(int x, int y) { return x + y; }
/// ...declared as a remote function.
RAY_REMOTE(Plus);

/// A class whose instances can live as actors.
class Counter {
 public:
  /// The current count.
  int count;

  /// Starts counting at init.
  Counter(int init) { count = init; }
  /// Static factory method: what ray::Actor(...) calls to create the actor.
  static Counter *FactoryCreate(int init) { return new Counter(init); }

  /// Non-static member function: called as an actor task.
  int Add(int x) {
    count += x;
    return count;
  }
};
/// Declare the factory and the member function as remote functions.
RAY_REMOTE(Counter::FactoryCreate, &Counter::Add);

int main(int argc, char **argv) {
  /// Initialization: with no address, an embedded node with worker processes.
  ray::RayConfig config;
  ray::Init(config, argc, argv);

  /// Put an object in the object store and get it back.
  auto object = ray::Put(100);
  auto put_get_result = *(ray::Get(object));
  std::cout << "put_get_result = " << put_get_result << std::endl;

  /// Common task: runs in a worker process.
  auto task_object = ray::Task(Plus).Remote(1, 2);
  int task_result = *(ray::Get(task_object));
  std::cout << "task_result = " << task_result << std::endl;

  /// Pass the first task's ObjectRef to a second task: it runs once the first result exists.
  auto task_object2 = ray::Task(Plus).Remote(task_object, 10);
  int task_result2 = *(ray::Get(task_object2));
  std::cout << "task_result2 = " << task_result2 << std::endl;

  /// Actor: a Counter instance living in a worker process.
  ray::ActorHandle<Counter> actor = ray::Actor(Counter::FactoryCreate).Remote(0);
  /// Actor task.
  auto actor_object = actor.Task(&Counter::Add).Remote(3);
  int actor_task_result = *(ray::Get(actor_object));
  std::cout << "actor_task_result = " << actor_task_result << std::endl;
  /// Actor task with a reference argument (the result of the Plus task).
  auto actor_object2 = actor.Task(&Counter::Add).Remote(task_object);
  int actor_task_result2 = *(ray::Get(actor_object2));
  std::cout << "actor_task_result2 = " << actor_task_result2 << std::endl;

  /// Shutdown: stops the node and its workers.
  ray::Shutdown();
  return 0;
}
