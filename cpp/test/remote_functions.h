// Remote functions and msgpack types shared by goray's C++ test suites.
//
// remote_functions.cc is compiled into every test binary (so the driver can name the functions and
// a re-executed test binary can serve them as a worker) and, separately, into libtest_functions.so
// (so default_worker can load them from the code search path).
#pragma once

#include <ray/api.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
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

// ------------------------------------------------------------- large values (object_store_test)

// Word k of the test pattern with the given seed (a 64-bit mix of both, so every word differs).
inline uint64_t PatternWord(uint64_t seed, uint64_t k) {
  uint64_t x = (k + 1) * 0x9E3779B97F4A7C15ULL ^ (seed + 1) * 0xC2B2AE3D27D4EB4FULL;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  return x;
}

// Byte i of the test pattern: byte i % 8 (little-endian order) of word i / 8. Position dependent,
// so a shifted, reordered or stale chunk does not match.
inline uint8_t PatternByte(uint64_t seed, uint64_t i) {
  return static_cast<uint8_t>(PatternWord(seed, i / 8) >> (8 * (i % 8)));
}

// Writes bytes [offset, offset + size) of the pattern to out.
inline void FillPattern(uint64_t seed, uint64_t offset, uint8_t *out, size_t size) {
  size_t i = 0;
  for (; i < size && (offset + i) % 8 != 0; i++) out[i] = PatternByte(seed, offset + i);
  for (; i + 8 <= size; i += 8) {
    uint64_t w = PatternWord(seed, (offset + i) / 8);
    for (int b = 0; b < 8; b++) out[i + b] = static_cast<uint8_t>(w >> (8 * b));
  }
  for (; i < size; i++) out[i] = PatternByte(seed, offset + i);
}

// The first `size` bytes of the pattern.
inline std::vector<uint8_t> MakePattern(uint64_t seed, size_t size) {
  std::vector<uint8_t> out(size);
  FillPattern(seed, 0, out.data(), size);
  return out;
}

// An order-dependent 64-bit checksum of a byte sequence, fed in chunks of any sizes (the result
// depends only on the bytes and their order).
class Checksum {
 public:
  // Adds bytes.
  void Update(const uint8_t *p, size_t n) {
    length_ += n;
    while (n > 0 && tail_len_ > 0) {
      tail_[tail_len_++] = *p++;
      n--;
      if (tail_len_ == 8) {
        Mix(LoadWord(tail_));
        tail_len_ = 0;
      }
    }
    for (; n >= 8; n -= 8, p += 8) Mix(LoadWord(p));
    while (n > 0) {
      tail_[tail_len_++] = *p++;
      n--;
    }
  }
  // The checksum of every byte added so far.
  uint64_t Value() const {
    uint64_t h = h_;
    if (tail_len_ > 0) {
      uint8_t padded[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(padded, tail_, tail_len_);
      h = Step(h, LoadWord(padded));
    }
    h ^= length_ * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
  }

 private:
  static uint64_t LoadWord(const uint8_t *p) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; b--) w = (w << 8) | p[b];
    return w;
  }
  static uint64_t Step(uint64_t h, uint64_t w) {
    h ^= w * 0x87C37B91114253D5ULL;
    h = (h << 31) | (h >> 33);
    return h * 0x4CF5AD432745937FULL + 0x52DCE729;
  }
  void Mix(uint64_t w) { h_ = Step(h_, w); }

  uint64_t h_ = 0x2545F4914F6CDD1DULL;
  uint64_t length_ = 0;
  uint8_t tail_[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t tail_len_ = 0;
};

// The checksum of n bytes.
inline uint64_t ChecksumOf(const uint8_t *p, size_t n) {
  Checksum c;
  c.Update(p, n);
  return c.Value();
}

// The checksum of the first `size` bytes of the pattern, computed chunk by chunk (the pattern is
// never held whole).
inline uint64_t PatternChecksum(uint64_t seed, size_t size) {
  std::vector<uint8_t> chunk(std::min<size_t>(size, size_t(1) << 20));
  Checksum c;
  for (size_t off = 0; off < size; off += chunk.size()) {
    size_t n = std::min(chunk.size(), size - off);
    FillPattern(seed, off, chunk.data(), n);
    c.Update(chunk.data(), n);
  }
  return c.Value();
}

// A stand-in for std::vector<uint8_t> on the receiving side: unpacking it reads the msgpack bin
// in place (no copy; with zero-copy unpacking that is the object store's memory) and keeps only
// its size and checksum. Receive-only: it cannot be packed.
struct BytesDigest {
  uint64_t size = 0;
  uint64_t checksum = 0;
  // Reads a bin (or str) object in place.
  void msgpack_unpack(const msgpack::object &o) {
    if (o.type == msgpack::type::BIN) {
      size = o.via.bin.size;
      checksum = ChecksumOf(reinterpret_cast<const uint8_t *>(o.via.bin.ptr), size);
    } else if (o.type == msgpack::type::STR) {
      size = o.via.str.size;
      checksum = ChecksumOf(reinterpret_cast<const uint8_t *>(o.via.str.ptr), size);
    } else {
      throw msgpack::type_error();
    }
  }
};

// Receive-only: unpacking it reads the first half of the msgpack bin in place and then kills the
// process with SIGKILL, in the middle of reading the object (defined in remote_functions.cc).
struct DieWhileReading {
  void msgpack_unpack(const msgpack::object &o);
};

// A large value (payload) that holds refs to other values.
struct LargeWithRefs {
  std::vector<uint8_t> payload;
  std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs;
  MSGPACK_DEFINE(payload, refs);
};

}  // namespace goray_test

// Registered functions (all in remote_functions.cc, all RAY_REMOTE'd unless stated otherwise).
int Return1();
// Task retries: each counts its calls in the file at `counter` (attempts may run in different
// processes). ThrowUntil throws on its first `failures` attempts, DieUntil's process dies on its
// first `deaths`; then each returns the attempt's number (1 for the first).
int ThrowUntil(std::string counter, int failures);
int DieUntil(std::string counter, int deaths);
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
void ThrowLogicError();             // throws std::logic_error("logic boom")
std::any EchoAny(std::any v);       // returns v
int ThrowWithMessage(std::string);  // throws std::runtime_error("boom " + msg)
int ThrowInt();                     // throws an int (not a std::exception)
int AbortWorker();                  // std::abort()
int DereferenceNullPointer(int x);  // reads through a NULL pointer: SIGSEGV

// Slow function: sleeps ms milliseconds, returns ms.
int SlowFunction(int ms);

// Overloads registered with RAY_FUNC.
int Overload(int x);                 // x + 100
std::string Overload(std::string s); // "overload:" + s
int Overload(int a, int b);          // a * b

// The GPUs the executing worker may use: its CUDA_VISIBLE_DEVICES ("(unset)" when it has none),
// after sleeping ms milliseconds.
std::string VisibleDevices(int ms);

// Users' metrics: adds n to the counter "handled" (tag who), from the executing process;
// returns n.
int CountHandled(std::string who, int n);

// The executing process's environment variable name ("(unset)" when it has none).
std::string GetEnvVar(std::string name);

// The executing process's working directory (getcwd).
std::string WorkingDirectory();

// ray::GetRuntimeContext() where it runs: {job id, node id, actor id, task id, namespace,
// "local" or "node"}.
std::vector<std::string> ContextHere();

// Process identity of the executing worker.
int GetPid();
std::string WorkerExe();  // readlink("/proc/self/exe")

// Deliberately NOT registered with RAY_REMOTE.
int NotRegistered(int x);

// Large values (object_store_test).
uint64_t ChecksumBytes(std::vector<uint8_t> v);             // goray_test::ChecksumOf(v)
std::vector<uint8_t> PatternBytes(uint64_t seed, uint64_t size);  // goray_test::MakePattern
uint64_t DigestRef(ray::ObjectRef<std::vector<uint8_t>> ref);  // Get as BytesDigest: no copy
int ReadRefThenDie(ray::ObjectRef<std::vector<uint8_t>> ref);  // Get as DieWhileReading
uint64_t ReadArgThenDie(std::vector<uint8_t> v);  // reads the first half, then SIGKILLs itself
// Puts n patterns (seeds seed .. seed + n - 1, `size` bytes each) and returns their refs.
std::vector<ray::ObjectRef<std::vector<uint8_t>>> PutPatternsInWorker(uint64_t seed, int n,
                                                                      uint64_t size);
// Gets each ref and returns the checksums, in order.
std::vector<uint64_t> ChecksumsOfRefs(std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs);
// The checksum of the payload, then those of the values its refs name.
std::vector<uint64_t> ChecksumsInHolder(goray_test::LargeWithRefs holder);

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
  std::string VisibleDevices();      // its process's CUDA_VISIBLE_DEVICES ("(unset)" if none)
  int CountHandled(int n);           // ::CountHandled("actor", n)
  std::string GetEnvVar(std::string name);  // ::GetEnvVar(name) in the actor's process
  std::string WorkingDirectory();           // ::WorkingDirectory() in the actor's process
  std::vector<std::string> Context();       // ::ContextHere() in the actor's method
  void Exit();                       // ray::ExitActor()
  bool WasRestarted();               // ray::WasCurrentActorRestarted()
  int CrashUnlessRestarted();        // the first incarnation's process dies; a restarted one: 42
  int Throw(std::string msg);        // throws std::runtime_error(msg)
  int SlowAdd(int ms);               // sleeps ms milliseconds (without the lock), then count += 1
  std::vector<uint8_t> Pattern(uint64_t seed, uint64_t size);  // goray_test::MakePattern
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
  ray::ObjectRef<int> AddThroughRef(int x);  // counter.Add(x), not waited for: its ref
  int AddRef(ray::ObjectRef<int> ref);     // Get(counter.Add(Get(ref)))

 private:
  ray::ActorHandle<Counter> counter_;
};
