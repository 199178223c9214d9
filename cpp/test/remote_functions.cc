#include "remote_functions.h"

#include <ray/api/metric.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

using goray_test::LargeWithRefs;
using goray_test::Person;
using goray_test::RefHolder;

int Return1() { return 1; }
int Plus1(int x) { return x + 1; }
int Plus(int x, int y) { return x + y; }
int Sum0() { return 0; }
int Sum1(int a) { return a; }
int Sum2(int a, int b) { return a + b; }
int Sum3(int a, int b, int c) { return a + b + c; }

void WriteTextFile(std::string path, std::string content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot open " + path);
  out << content;
}

std::string ReadTextFile(std::string path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void DoNothing() {}

std::string ConcatConstRef(const std::string &a, const std::string &b) { return a + b; }
int PlusConstRef(const int &a, const int &b) { return a + b; }
std::vector<int> AppendRvalue(std::vector<int> &&v, int x) {
  std::vector<int> out = std::move(v);
  out.push_back(x);
  return out;
}
std::string UpperRvalue(std::string &&s) {
  std::string out = std::move(s);
  for (auto &c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string EchoString(std::string s) { return s; }
std::vector<int> ReverseVector(std::vector<int> v) {
  std::reverse(v.begin(), v.end());
  return v;
}
std::map<std::string, int> MapAddOne(std::map<std::string, int> m) {
  for (auto &kv : m) kv.second += 1;
  return m;
}
Person Birthday(Person p) {
  p.age += 1;
  p.tags.push_back("older");
  return p;
}
std::vector<Person> MakePeople(int n) {
  std::vector<Person> out;
  for (int i = 0; i < n; i++) out.push_back(Person{"p" + std::to_string(i), i, {}});
  return out;
}

int GetRefParam(ray::ObjectRef<int> ref) { return *ray::Get(ref); }
int SumRefs(std::vector<ray::ObjectRef<int>> refs) {
  int sum = 0;
  for (auto &v : ray::Get(refs)) sum += *v;
  return sum;
}
int SumHolder(RefHolder h) { return *ray::Get(h.ref) + static_cast<int>(h.label.size()); }
ray::ObjectRef<int> PutInWorker(int x) { return ray::Put(x); }

int NestedSum3(int base) {
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 3; i++) refs.push_back(ray::Task(Plus1).Remote(base + i));
  int sum = 0;
  for (auto &v : ray::Get(refs)) sum += *v;
  return sum;
}

int Recurse(int depth) {
  if (depth <= 0) return 0;
  return 1 + *ray::Get(ray::Task(Recurse).Remote(depth - 1));
}

int ThrowBoom() { throw std::runtime_error("boom from ThrowBoom"); }
void ThrowLogicError() { throw std::logic_error("logic boom"); }
std::any EchoAny(std::any v) { return v; }
int ThrowWithMessage(std::string msg) { throw std::runtime_error("boom " + msg); }
int ThrowInt() { throw 42; }
int AbortWorker() {
  std::abort();
  return 0;
}
int DereferenceNullPointer(int x) {
  std::fprintf(stderr, "DereferenceNullPointer(%d): reading through a NULL pointer\n", x);
  volatile int *p = nullptr;
  return *p + x;
}

int SlowFunction(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int Overload(int x) { return x + 100; }
std::string Overload(std::string s) { return "overload:" + s; }
int Overload(int a, int b) { return a * b; }

int GetPid() { return static_cast<int>(getpid()); }
std::string GetEnvVar(std::string name) {
  const char *v = std::getenv(name.c_str());
  return v == nullptr ? "(unset)" : v;
}
std::string WorkingDirectory() {
  char buf[4096];
  if (getcwd(buf, sizeof buf) == nullptr) throw std::runtime_error("getcwd failed");
  return buf;
}
std::vector<std::string> ContextHere() {
  auto c = ray::GetRuntimeContext();
  return {c.GetCurrentJobId(),   c.GetCurrentNodeId(), c.GetCurrentActorId(),
          c.GetCurrentTaskId(),  c.GetNamespace(),     c.IsLocalMode() ? "local" : "node"};
}
int CountHandled(std::string who, int n) {
  ray::Counter counter("handled", "requests handled", "requests", {"who"});
  counter.Inc(n, {{"who", who}});
  return n;
}
std::string VisibleDevices(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  const char *v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v == nullptr ? "(unset)" : v;
}
std::string WorkerExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

int NotRegistered(int x) { return x; }

// ---------------------------------------------------------------------------------- large values

// Keeps the reads of the dying readers from being optimized away.
static volatile uint64_t g_read_sink = 0;

void goray_test::DieWhileReading::msgpack_unpack(const msgpack::object &o) {
  if (o.type != msgpack::type::BIN) throw msgpack::type_error();
  g_read_sink = ChecksumOf(reinterpret_cast<const uint8_t *>(o.via.bin.ptr), o.via.bin.size / 2);
  std::raise(SIGKILL);
}

uint64_t ChecksumBytes(std::vector<uint8_t> v) { return goray_test::ChecksumOf(v.data(), v.size()); }

std::vector<uint8_t> PatternBytes(uint64_t seed, uint64_t size) {
  return goray_test::MakePattern(seed, size);
}

uint64_t DigestRef(ray::ObjectRef<std::vector<uint8_t>> ref) {
  // The same object, received as a BytesDigest: its bytes are read where Get finds them.
  ray::ObjectRef<goray_test::BytesDigest> same(ref.ID());
  return ray::Get(same)->checksum;
}

int ReadRefThenDie(ray::ObjectRef<std::vector<uint8_t>> ref) {
  ray::ObjectRef<goray_test::DieWhileReading> same(ref.ID());
  ray::Get(same);  // not reached: unpacking kills the process
  return 0;
}

uint64_t ReadArgThenDie(std::vector<uint8_t> v) {
  g_read_sink = goray_test::ChecksumOf(v.data(), v.size() / 2);
  std::raise(SIGKILL);
  return g_read_sink;
}

std::vector<ray::ObjectRef<std::vector<uint8_t>>> PutPatternsInWorker(uint64_t seed, int n,
                                                                      uint64_t size) {
  std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs;
  for (int i = 0; i < n; i++) refs.push_back(ray::Put(goray_test::MakePattern(seed + i, size)));
  return refs;
}

std::vector<uint64_t> ChecksumsOfRefs(std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs) {
  std::vector<uint64_t> out;
  for (auto &v : ray::Get(refs)) out.push_back(goray_test::ChecksumOf(v->data(), v->size()));
  return out;
}

std::vector<uint64_t> ChecksumsInHolder(LargeWithRefs holder) {
  std::vector<uint64_t> out{goray_test::ChecksumOf(holder.payload.data(), holder.payload.size())};
  for (uint64_t c : ChecksumsOfRefs(holder.refs)) out.push_back(c);
  return out;
}

// The number of this call of a task counting its calls in the file at path (1 for the first).
static int CountCall(const std::string &path) {
  int n = 0;
  std::ifstream(path) >> n;
  std::ofstream(path, std::ios::trunc) << n + 1;
  return n + 1;
}
int ThrowUntil(std::string counter, int failures) {
  int n = CountCall(counter);
  if (n <= failures) throw std::runtime_error("flaky attempt " + std::to_string(n));
  return n;
}
int DieUntil(std::string counter, int deaths) {
  int n = CountCall(counter);
  if (n <= deaths) std::_Exit(3);
  return n;
}

RAY_REMOTE(Return1, Plus1, Plus, Sum0, Sum1, Sum2, Sum3);
RAY_REMOTE(ThrowUntil, DieUntil);
RAY_REMOTE(WriteTextFile, ReadTextFile, DoNothing);
RAY_REMOTE(ConcatConstRef, PlusConstRef, AppendRvalue, UpperRvalue);
RAY_REMOTE(EchoString, ReverseVector, MapAddOne, Birthday, MakePeople);
RAY_REMOTE(GetRefParam, SumRefs, SumHolder, PutInWorker);
RAY_REMOTE(NestedSum3, Recurse);
RAY_REMOTE(ThrowLogicError, EchoAny);
RAY_REMOTE(ThrowBoom, ThrowWithMessage, ThrowInt, AbortWorker, DereferenceNullPointer, SlowFunction);
RAY_REMOTE(RAY_FUNC(Overload, int), RAY_FUNC(Overload, std::string), RAY_FUNC(Overload, int, int));
RAY_REMOTE(GetPid, WorkerExe, VisibleDevices, CountHandled, GetEnvVar, WorkingDirectory, ContextHere);
RAY_REMOTE(ChecksumBytes, PatternBytes, DigestRef, ReadRefThenDie, ReadArgThenDie, PutPatternsInWorker,
           ChecksumsOfRefs, ChecksumsInHolder);

// ------------------------------------------------------------------------------------- actors

static std::atomic<int> g_live_counters{0};
Counter::Counter(int init) : count_(init) { g_live_counters++; }
Counter::~Counter() { g_live_counters--; }
int Counter::LiveInstances() { return g_live_counters.load(); }
Counter *Counter::FactoryCreate(int init) { return new Counter(init); }
int Counter::Add(int x) {
  std::lock_guard<std::mutex> lock(mu_);
  count_ += x;
  return count_;
}
int Counter::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}
int Counter::GetPid() { return static_cast<int>(getpid()); }
std::string Counter::VisibleDevices() { return ::VisibleDevices(0); }
int Counter::CountHandled(int n) { return ::CountHandled("actor", n); }
std::string Counter::GetEnvVar(std::string name) { return ::GetEnvVar(name); }
std::string Counter::WorkingDirectory() { return ::WorkingDirectory(); }
std::vector<std::string> Counter::Context() { return ::ContextHere(); }
void Counter::Exit() { ray::ExitActor(); }
bool Counter::WasRestarted() { return ray::WasCurrentActorRestarted(); }
int Counter::CrashUnlessRestarted() {
  if (!ray::WasCurrentActorRestarted()) std::_Exit(1);
  return 42;
}
int Counter::Throw(std::string msg) { throw std::runtime_error(msg); }
int Counter::SlowAdd(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  std::lock_guard<std::mutex> lock(mu_);
  count_ += 1;
  return count_;
}
std::vector<uint8_t> Counter::Pattern(uint64_t seed, uint64_t size) {
  return goray_test::MakePattern(seed, size);
}
int Counter::NotRegistered(int x) { return x; }

FactoryThrows *FactoryThrows::FactoryCreate(std::string msg) { throw std::runtime_error(msg); }
int FactoryThrows::Ping() { return 1; }

Base *Base::FactoryCreate() { return new Base(); }
std::string Base::Name() { return "base"; }
int Base::Scale(int x) {
  std::lock_guard<std::mutex> lock(mu_);
  hits_++;
  return x;
}
int Base::Hits() {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
Derived *Derived::FactoryCreate() { return new Derived(); }
std::string Derived::Name() { return "derived"; }
int Derived::Scale(int x) {
  std::lock_guard<std::mutex> lock(mu_);
  hits_++;
  return 10 * x;
}
std::string Derived::OnlyDerived() { return "only in derived"; }
Base *CreateDerivedAsBase() { return new Derived(); }

int AddViaHandle(ray::ActorHandle<Counter> counter, int x) {
  return *counter.Task(&Counter::Add).Remote(x).Get();
}
ray::ActorHandle<Counter> EchoCounterHandle(ray::ActorHandle<Counter> counter) { return counter; }
ray::ActorHandle<Counter> CreateCounterInTask(int init) {
  return ray::Actor(Counter::FactoryCreate).Remote(init);
}

CounterHolder *CounterHolder::FactoryCreate(ray::ActorHandle<Counter> counter) {
  return new CounterHolder(std::move(counter));
}
int CounterHolder::AddThrough(int x) { return *counter_.Task(&Counter::Add).Remote(x).Get(); }
ray::ActorHandle<Counter> CounterHolder::GetCounter() { return counter_; }
ray::ObjectRef<int> CounterHolder::AddThroughRef(int x) {
  return counter_.Task(&Counter::Add).Remote(x);
}
int CounterHolder::AddRef(ray::ObjectRef<int> ref) {
  return *counter_.Task(&Counter::Add).Remote(*ref.Get()).Get();
}

RAY_REMOTE(Counter::FactoryCreate, &Counter::Add, &Counter::Get, &Counter::GetPid, &Counter::Exit,
           &Counter::WasRestarted, &Counter::Throw, &Counter::SlowAdd, &Counter::Pattern,
           &Counter::CrashUnlessRestarted, &Counter::VisibleDevices, &Counter::CountHandled,
           &Counter::GetEnvVar, &Counter::WorkingDirectory, &Counter::Context);
RAY_REMOTE(FactoryThrows::FactoryCreate, &FactoryThrows::Ping);
RAY_REMOTE(Base::FactoryCreate, Derived::FactoryCreate, CreateDerivedAsBase, &Base::Name,
           &Base::Scale, &Base::Hits, &Derived::OnlyDerived);
RAY_REMOTE(AddViaHandle, EchoCounterHandle, CreateCounterInTask);
RAY_REMOTE(CounterHolder::FactoryCreate, &CounterHolder::AddThrough, &CounterHolder::GetCounter,
           &CounterHolder::AddThroughRef, &CounterHolder::AddRef);
