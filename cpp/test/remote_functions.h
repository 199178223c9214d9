// Remote functions and msgpack types shared by goray's C++ test suites.
//
// remote_functions.cc is compiled into every test binary (so the driver can name the functions and
// a re-executed test binary can serve them as a worker) and, separately, into libtest_functions.so
// (so default_worker can load them from the code search path).
#pragma once

#include <ray/api.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace goray_test {

struct Person {
  std::string name;
  int age = 0;
  std::vector<std::string> tags;
  bool operator==(const Person &o) const {
    return name == o.name && age == o.age && tags == o.tags;
  }
  MSGPACK_DEFINE(name, age, tags);
};

// A struct that carries an ObjectRef inside it.
struct RefHolder {
  std::string label;
  ray::ObjectRef<int> ref;
  MSGPACK_DEFINE(label, ref);
};

}  // namespace goray_test

// Registered functions (all in remote_functions.cc, all RAY_REMOTE'd unless stated otherwise).
int Return1();
int Plus1(int x);
int Plus(int x, int y);
int Sum0();
int Sum1(int a);
int Sum2(int a, int b);
int Sum3(int a, int b, int c);

// void with a side effect: writes `content` to the file at `path` (observable from the driver, or
// through the later task ReadTextFile, in every mode).
void WriteTextFile(std::string path, std::string content);
std::string ReadTextFile(std::string path);
void DoNothing();

// Reference parameters.
std::string ConcatConstRef(const std::string &a, const std::string &b);
int PlusConstRef(const int &a, const int &b);
std::vector<int> AppendRvalue(std::vector<int> &&v, int x);
std::string UpperRvalue(std::string &&s);

// Containers and structs.
std::string EchoString(std::string s);
std::vector<int> ReverseVector(std::vector<int> v);
std::map<std::string, int> MapAddOne(std::map<std::string, int> m);
goray_test::Person Birthday(goray_test::Person p);
std::vector<goray_test::Person> MakePeople(int n);

// ObjectRefs as parameter types (passed as values, not resolved) and nested Get in the task.
int GetRefParam(ray::ObjectRef<int> ref);
int SumRefs(std::vector<ray::ObjectRef<int>> refs);
int SumHolder(goray_test::RefHolder h);
ray::ObjectRef<int> PutInWorker(int x);

// Nested tasks.
int NestedSum3(int base);  // submits Plus1(base), Plus1(base+1), Plus1(base+2), Gets and sums them
int Recurse(int depth);    // depth == 0 ? 0 : 1 + Get(Recurse(depth - 1))

// Failures.
int ThrowBoom();                    // throws std::runtime_error("boom from ThrowBoom")
int ThrowWithMessage(std::string);  // throws std::runtime_error("boom " + msg)
int ThrowInt();                     // throws an int (not a std::exception)
int AbortWorker();                  // std::abort()

// Slow function: sleeps ms milliseconds, returns ms.
int SlowFunction(int ms);

// Overloads registered with RAY_FUNC.
int Overload(int x);                 // x + 100
std::string Overload(std::string s); // "overload:" + s
int Overload(int a, int b);          // a * b

// Process identity of the executing worker.
int GetPid();
std::string WorkerExe();  // readlink("/proc/self/exe")

// Deliberately NOT registered with RAY_REMOTE.
int NotRegistered(int x);

// ------------------------------------------------------------------------------------- actors
// (all factories and the member functions listed in remote_functions.cc are RAY_REMOTE'd)

// A counter actor. Every method is thread-safe (SetMaxConcurrency runs calls on several threads).
class Counter {
 public:
  explicit Counter(int init);
  ~Counter();
  Counter(const Counter &) = delete;
  Counter &operator=(const Counter &) = delete;
  static Counter *FactoryCreate(int init);
  static int LiveInstances();        // Counters alive in this process (not RAY_REMOTE'd)
  int Add(int x);                    // count += x; returns the new count
  int Get();                         // the count
  int GetPid();                      // getpid() of the process the actor lives in
  void Exit();                       // ray::ExitActor()
  bool WasRestarted();               // ray::WasCurrentActorRestarted()
  int Throw(std::string msg);        // throws std::runtime_error(msg)
  int SlowAdd(int ms);               // sleeps ms milliseconds (without the lock), then count += 1
  int NotRegistered(int x);          // deliberately NOT registered with RAY_REMOTE

 private:
  std::mutex mu_;
  int count_;
};

// An actor whose factory throws std::runtime_error(msg).
class FactoryThrows {
 public:
  static FactoryThrows *FactoryCreate(std::string msg);
  int Ping();  // 1 (never reached)
};

// Virtual methods: a handle of the base class calls the derived class's overrides.
class Base {
 public:
  virtual ~Base() = default;
  static Base *FactoryCreate();      // a plain Base
  virtual std::string Name();        // "base"
  virtual int Scale(int x);          // x, counts a hit
  int Hits();                        // non-virtual: calls of Scale so far

 protected:
  std::mutex mu_;
  int hits_ = 0;
};

class Derived : public Base {
 public:
  static Derived *FactoryCreate();
  std::string Name() override;       // "derived"
  int Scale(int x) override;         // 10 * x, counts a hit
  std::string OnlyDerived();         // "only in derived"
};

// A free-function factory returning Base* that makes a Derived.
Base *CreateDerivedAsBase();

// ActorHandles as task arguments and results.
int AddViaHandle(ray::ActorHandle<Counter> counter, int x);  // Get(counter.Add(x))
ray::ActorHandle<Counter> EchoCounterHandle(ray::ActorHandle<Counter> counter);
ray::ActorHandle<Counter> CreateCounterInTask(int init);  // creates a Counter, returns its handle

// An actor that keeps a handle of a Counter, calls it and hands it back.
class CounterHolder {
 public:
  explicit CounterHolder(ray::ActorHandle<Counter> counter) : counter_(std::move(counter)) {}
  static CounterHolder *FactoryCreate(ray::ActorHandle<Counter> counter);
  int AddThrough(int x);                  // Get(counter.Add(x))
  ray::ActorHandle<Counter> GetCounter();  // the handle given to the factory

 private:
  ray::ActorHandle<Counter> counter_;
};
