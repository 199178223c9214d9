// goray: remote functions (registration, parameters, overloads, errors, resources).
#include <cmath>
#include <random>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::Contains;
using goray_test::ContainsNoCase;
using goray_test::IsNodeMode;
using goray_test::RayTest;
using goray_test::SecondsSince;
using Clock = std::chrono::steady_clock;

class RemoteTest : public RayTest {};

// A function that only this test file registers, and registers twice.
static int RegisteredTwice(int x) { return x * 3; }
RAY_REMOTE(RegisteredTwice);

TEST(RemoteRegistrationTest, DuplicateNameThrows) {
  // RAY_REMOTE(f, ...) expands to a static initializer calling
  // ray::internal::RegisterRemoteFunctions("f, ...", f, ...): the same path, with taken names.
  EXPECT_THROW(ray::internal::RegisterRemoteFunctions("RegisteredTwice", RegisteredTwice),
               ray::internal::RayException);
  EXPECT_THROW(ray::internal::RegisterRemoteFunctions("Plus", Plus), ray::internal::RayException);
  // Another function under a taken name is rejected too.
  EXPECT_THROW(ray::internal::RegisterRemoteFunctions("Plus", Sum2), ray::internal::RayException);
  // So is the same function under a second name (the caller maps a function to one name).
  EXPECT_THROW(ray::internal::RegisterRemoteFunctions("PlusAlias", Plus),
               ray::internal::RayException);
  try {
    ray::internal::RegisterRemoteFunctions("Return1", Return1);
    ADD_FAILURE() << "registering Return1 twice did not throw";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "Duplicate RAY_REMOTE function")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "Return1")) << e.what();
  }
}

// Ray's tests reach the registry as ray::internal::FunctionManager::Instance().
static int RegisteredByHand(int x) { return x + 40; }

TEST(RemoteRegistrationTest, FunctionManagerAsRaysTestsUseIt) {
  using ray::internal::FunctionManager;
  EXPECT_EQ(&FunctionManager::Instance(), &ray::internal::GetFunctionManager());
  static bool registered = false;  // (the registry lives on between --gtest_repeat runs)
  if (!registered) {
    EXPECT_TRUE(FunctionManager::Instance().RegisterRemoteFunction("RegisteredByHand", RegisteredByHand));
    registered = true;
  }
  EXPECT_EQ(FunctionManager::Instance().GetFunctionName(RegisteredByHand), "RegisteredByHand");
  // A taken name, or a function registered already, is refused.
  EXPECT_THROW(FunctionManager::Instance().RegisterRemoteFunction("RegisteredByHand", RegisteredByHand),
               ray::internal::RayException);
  EXPECT_THROW(FunctionManager::Instance().RegisterRemoteFunction("Plus", Plus), ray::internal::RayException);
  EXPECT_THROW(FunctionManager::Instance().RegisterRemoteFunction("PlusAgain", Plus),
               ray::internal::RayException);
}

TEST(RemoteRegistrationTest, ClassNameOfAFactory) {
  using ray::internal::FunctionManager;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Counter::FactoryCreate", "Counter"},
      {"RAY_FUNC(Counter::FactoryCreate)", "Counter"},
      {"RAY_FUNC(Counter::FactoryCreate,int,int)", "Counter"},
      {"ns::Counter::Make", "ns::Counter"},
      {"FactoryCreate", ""},
      {"::FactoryCreate", ""},
      {"", ""},
      {"RAY_FUNC(Plus,int)", ""},
  };
  for (const auto &c : cases) {
    EXPECT_EQ(FunctionManager::GetClassNameByFuncName(c.first), c.second) << c.first;
  }
}

// Ray's cross-language types compile as in Ray and take the same options; the call fails with a
// clear RayException when it would go out.
TEST(RemoteRegistrationTest, CrossLanguageCallsFailClearly) {
  auto fails = [](auto &&remote, const std::string &what) {
    try {
      remote();
      ADD_FAILURE() << what << ": the call went out";
    } catch (ray::internal::RayException &e) {
      EXPECT_TRUE(Contains(e.what(), what)) << e.what();
      EXPECT_TRUE(Contains(e.what(), "not supported")) << e.what();
    }
  };
  fails([] { ray::Task(ray::PyFunction<int>{"test_module", "py_return_val"}).Remote(); },
        "Python function test_module.py_return_val");
  fails([] {
    ray::ObjectRef<std::string> r = ray::Task(ray::JavaFunction<std::string>{"io.example.Echo", "echo"})
                                        .SetName("echo")
                                        .SetResource("CPU", 1)
                                        .Remote(std::string("hello"));
    (void)r;
  }, "Java function io.example.Echo.echo");
  fails([] { ray::Actor(ray::PyActorClass{"test_module", "Counter"}).SetMaxRestarts(1).Remote(1); },
        "Python actor class test_module.Counter");
  fails([] { ray::Actor(ray::JavaActorClass{"io.example.Counter"}).Remote(); },
        "Java actor class io.example.Counter");
  ray::ActorHandleXlang handle;
  EXPECT_TRUE(handle.ID().empty());
  fails([&] { handle.Task(ray::PyActorMethod<std::string>{"increase"}).Remote(1); },
        "Python actor method increase");
  fails([&] { handle.Task(ray::JavaActorMethod<int>{"add"}).Remote(2); }, "Java actor method add");
  // Options are checked as for C++ calls.
  EXPECT_THROW(ray::Task(ray::PyFunction<int>{"m", "f"}).SetResource("CPU", 1.5),
               ray::internal::RayException);
  EXPECT_THROW(ray::Task(ray::PyFunction<int>{"m", "f"}).SetMaxRetries(-2), ray::internal::RayException);
  EXPECT_THROW(ray::Actor(ray::PyActorClass{"m", "C"}).SetMaxRestarts(-2), ray::internal::RayException);
  EXPECT_THROW(ray::Actor(ray::JavaActorClass{"C"}).SetMaxConcurrency(0), ray::internal::RayException);
  EXPECT_NO_THROW(ray::Actor(ray::PyActorClass{"m", "C"}).SetMaxRestarts(-1).SetMaxTaskRetries(-1));
}

TEST_F(RemoteTest, RegistryIntactAfterDuplicateRegistration) {
  EXPECT_THROW(ray::internal::RegisterRemoteFunctions("Plus", Sum2), ray::internal::RayException);
  EXPECT_THROW(ray::internal::RegisterRemoteFunctions("Sum2Alias", Sum2),
               ray::internal::RayException);
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
  EXPECT_EQ(*ray::Task(Sum2).Remote(4, 2).Get(), 6);
  // A name that never got registered stays unknown.
  EXPECT_THROW(ray::Task(NotRegistered), ray::internal::RayFunctionNotFound);
}

// RegisteredTwice is registered by this test binary only, not by libtest_functions.so. Workers
// that run the test binary (local mode, node mode without the .so) know it; default_worker
// loading only the .so does not, and the task fails with RayFunctionNotFound naming it.
TEST_F(RemoteTest, FunctionOnlyInTestBinary) {
  auto r = ray::Task(RegisteredTwice).Remote(5);
  const char *expect = std::getenv("GORAY_TEST_EXPECT_WORKER");
  if (IsNodeMode() && expect != nullptr && std::string(expect) == "default_worker") {
    try {
      ray::Get(r, 20000);
      FAIL() << "default_worker ran a function its libraries do not register";
    } catch (ray::internal::RayFunctionNotFound &e) {
      EXPECT_TRUE(Contains(e.what(), "RegisteredTwice")) << e.what();
    }
  } else {
    EXPECT_EQ(*ray::Get(r, 20000), 15);
  }
}

TEST_F(RemoteTest, VoidFunctions) {
  ray::ObjectRef<void> r = ray::Task(DoNothing).Remote();
  EXPECT_NO_THROW(ray::Get(r));
  EXPECT_NO_THROW(r.Get());
  EXPECT_EQ(r.ID().size(), 28u);
  std::vector<ray::ObjectRef<void>> refs{ray::Task(DoNothing).Remote(), ray::Task(DoNothing).Remote()};
  auto w = ray::Wait(refs, 2, 10000);
  EXPECT_EQ(w.ready.size(), 2u);

  std::string path = goray_test::TempDir() + "/goray_remote_void_" + std::to_string(getpid());
  ray::Get(ray::Task(WriteTextFile).Remote(path, std::string("written")));
  EXPECT_EQ(*ray::Task(ReadTextFile).Remote(path).Get(), "written");
  unlink(path.c_str());
}

TEST_F(RemoteTest, ReferenceParameters) {
  EXPECT_EQ(*ray::Task(ConcatConstRef).Remote(std::string("ab"), std::string("cd")).Get(), "abcd");
  EXPECT_EQ(*ray::Task(PlusConstRef).Remote(20, 22).Get(), 42);
  EXPECT_EQ(*ray::Task(AppendRvalue).Remote(std::vector<int>{1, 2}, 3).Get(),
            (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(*ray::Task(UpperRvalue).Remote(std::string("shout")).Get(), "SHOUT");
  // ObjectRef arguments for reference parameters.
  auto s = ray::Put(std::string("xy"));
  EXPECT_EQ(*ray::Task(ConcatConstRef).Remote(s, s).Get(), "xyxy");
  auto v = ray::Put(std::vector<int>{9});
  EXPECT_EQ(*ray::Task(AppendRvalue).Remote(v, 8).Get(), (std::vector<int>{9, 8}));
  auto n = ray::Put(1);
  EXPECT_EQ(*ray::Task(PlusConstRef).Remote(n, 1).Get(), 2);
  // The driver's copy is untouched by the worker moving from its argument.
  EXPECT_EQ(*ray::Get(v), (std::vector<int>{9}));
}

TEST_F(RemoteTest, Overloads) {
  EXPECT_EQ(*ray::Task(RAY_FUNC(Overload, int)).Remote(1).Get(), 101);
  EXPECT_EQ(*ray::Task(RAY_FUNC(Overload, std::string)).Remote(std::string("s")).Get(),
            "overload:s");
  EXPECT_EQ(*ray::Task(RAY_FUNC(Overload, int, int)).Remote(6, 7).Get(), 42);
}

TEST_F(RemoteTest, UnregisteredFunctionThrowsAtTask) {
  try {
    ray::Task(NotRegistered);
    FAIL() << "Task(NotRegistered) did not throw";
  } catch (ray::internal::RayFunctionNotFound &e) {
    EXPECT_EQ(std::string(e.what()).rfind("Function not found", 0), 0u) << e.what();
    EXPECT_TRUE(Contains(e.what(), "RAY_REMOTE")) << e.what();
  }
  // RayFunctionNotFound is a RayException.
  EXPECT_THROW(ray::Task(NotRegistered).Remote(1), ray::internal::RayException);
}

TEST_F(RemoteTest, TaskExceptionCarriesMessageAndFunctionName) {
  auto r = ray::Task(ThrowBoom).Remote();
  try {
    ray::Get(r);
    FAIL() << "Get of a failed task returned";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "boom from ThrowBoom")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "ThrowBoom")) << e.what();
    EXPECT_EQ(std::string(e.what()), e.msg_);
  }
  // Every Get of the same object throws again.
  EXPECT_THROW(ray::Get(r), ray::internal::RayTaskException);
  EXPECT_THROW(r.Get(1000), ray::internal::RayTaskException);

  try {
    ray::Task(ThrowWithMessage).Remote(std::string("with a message")).Get();
    FAIL() << "Get of a failed task returned";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "boom with a message")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "ThrowWithMessage")) << e.what();
  }
}

// As Ray's worker does, a task's exception says its C++ type (demangled) before its message.
TEST_F(RemoteTest, TaskExceptionNamesItsType) {
  try {
    ray::Task(ThrowLogicError).Remote().Get();
    FAIL() << "Get of a failed task returned";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "std::logic_error: logic boom")) << e.what();
  }
  try {
    ray::Task(ThrowBoom).Remote().Get();
    FAIL() << "Get of a failed task returned";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "std::runtime_error: boom from ThrowBoom")) << e.what();
  }
}

TEST_F(RemoteTest, NonStdExceptionIsTaskError) {
  try {
    ray::Task(ThrowInt).Remote().Get();
    FAIL() << "Get of a failed task returned";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(ContainsNoCase(e.what(), "unknown exception")) << e.what();
  }
}

TEST_F(RemoteTest, FailedTaskInVectorGetAndWait) {
  std::vector<ray::ObjectRef<int>> refs{ray::Task(Plus1).Remote(1), ray::Task(ThrowBoom).Remote()};
  // A failed task is "ready" for Wait.
  auto w = ray::Wait(refs, 2, 10000);
  EXPECT_EQ(w.ready.size(), 2u);
  EXPECT_THROW(ray::Get(refs), ray::internal::RayTaskException);
  EXPECT_EQ(*ray::Get(refs[0]), 2);
}

TEST_F(RemoteTest, WrongArgumentTypeIsTaskError) {
  auto str = ray::Put(std::string("not an int"));
  ray::ObjectRef<int> as_int(str.ID());
  try {
    ray::Task(Plus1).Remote(as_int).Get();
    FAIL() << "a string passed to an int parameter did not fail";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "Plus1")) << e.what();
    EXPECT_TRUE(ContainsNoCase(e.what(), "arg")) << e.what();
  }
  // Second argument: the message names that one.
  try {
    ray::Task(Plus).Remote(1, as_int).Get();
    FAIL() << "a string passed to an int parameter did not fail";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "Plus")) << e.what();
    EXPECT_TRUE(ContainsNoCase(e.what(), "argument 1")) << e.what();
  }
  // The worker is still fine afterwards.
  EXPECT_EQ(*ray::Task(Plus1).Remote(1).Get(), 2);
}

TEST_F(RemoteTest, ErrorPropagatesThroughRefArguments) {
  auto bad = ray::Task(ThrowBoom).Remote();
  std::string original;
  try {
    ray::Get(bad);
  } catch (ray::internal::RayTaskException &e) {
    original = e.what();
  }
  ASSERT_FALSE(original.empty());
  auto dependent = ray::Task(Plus1).Remote(bad);
  auto dependent2 = ray::Task(Plus).Remote(dependent, 1);
  for (auto *ref : {&dependent, &dependent2}) {
    try {
      ray::Get(*ref);
      FAIL() << "a task whose argument failed returned a value";
    } catch (ray::internal::RayTaskException &e) {
      EXPECT_TRUE(Contains(e.what(), original)) << "got: " << e.what() << "\nwant: " << original;
    }
  }
  // The ref passed by value (ObjectRef parameter) is resolved by the task itself: Get inside the
  // task throws, which fails that task with a message that still mentions boom.
  try {
    ray::Task(GetRefParam).Remote(bad).Get();
    FAIL() << "GetRefParam(bad) returned";
  } catch (ray::internal::RayTaskException &e) {
    EXPECT_TRUE(Contains(e.what(), "boom from ThrowBoom")) << e.what();
  }
}

TEST_F(RemoteTest, WorkerDeathIsWorkerException) {
  if (!IsNodeMode()) GTEST_SKIP() << "std::abort() would kill the test process in local mode";
  auto r = ray::Task(AbortWorker).Remote();
  bool finished = goray_test::RunWithDeadline(
      [r]() {
        try {
          ray::Get(r);
          ADD_FAILURE() << "Get of a task whose worker died returned a value";
        } catch (ray::internal::RayWorkerException &e) {
          EXPECT_TRUE(ContainsNoCase(e.what(), "worker")) << e.what();
        } catch (ray::internal::RayException &e) {
          ADD_FAILURE() << "expected RayWorkerException, got RayException: " << e.what();
        }
      },
      20000);
  ASSERT_TRUE(finished) << "Get of a task whose worker died hangs";
  // The node replaces the worker.
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(3000), 3);
}

// A task that crashes its worker with a segmentation fault: the error names the signal and the
// function, not just how the Go runtime ended the process afterwards ("signal: quit") with a tail
// of its register dump.
TEST_F(RemoteTest, SegfaultInTaskNamesSignalAndFunction) {
  if (!IsNodeMode()) GTEST_SKIP() << "a segmentation fault would kill the test process in local mode";
  auto r = ray::Task(DereferenceNullPointer).Remote(7);
  bool finished = goray_test::RunWithDeadline(
      [r]() {
        try {
          ray::Get(r);
          ADD_FAILURE() << "Get of a task that dereferenced NULL returned a value";
        } catch (ray::internal::RayWorkerException &e) {
          std::string msg = e.what();
          EXPECT_TRUE(Contains(msg, "DereferenceNullPointer")) << msg;
          EXPECT_TRUE(Contains(msg, "SIGSEGV")) << msg;
          EXPECT_FALSE(Contains(msg, "signal: quit")) << msg;
          EXPECT_FALSE(Contains(msg, "rflags")) << "the message quotes registers: " << msg;
        } catch (ray::internal::RayException &e) {
          ADD_FAILURE() << "expected RayWorkerException, got RayException: " << e.what();
        }
      },
      60000);
  ASSERT_TRUE(finished) << "Get of a task whose worker crashed hangs";
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(10000), 3);
}

TEST_F(RemoteTest, ResourceValidation) {
  EXPECT_THROW(ray::Task(Plus).SetResource("", 1), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", 0), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", -1), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", 2.5), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResources({{"CPU", 0}}), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResources({{"CPU", 1.5}}), ray::internal::RayException);
  try {
    ray::Task(Plus).SetResource("CPU", -1);
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "Resource values should be positive")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "CPU")) << e.what();
  }
  try {
    ray::Task(Plus).SetResource("CPU", 2.5);
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "should be an integer if it is greater than 1")) << e.what();
  }
  // Infinite, unrepresentably large and vanishingly small values throw at once too, like NaN and
  // negative values (before, inf was accepted at submission and failed or hung later).
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", INFINITY), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", -INFINITY), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", NAN), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", 1e18), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResource("CPU", 1e-9), ray::internal::RayException);
  EXPECT_THROW(ray::Task(Plus).SetResources({{"CPU", INFINITY}}), ray::internal::RayException);
  try {
    ray::Task(Plus).SetResource("CPU", INFINITY);
    ADD_FAILURE() << "SetResource(\"CPU\", INFINITY) did not throw";
  } catch (ray::internal::RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "finite")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "CPU = inf")) << e.what();
  }
  EXPECT_NO_THROW(ray::Task(Plus).SetResource("CPU", 0.5));
  EXPECT_NO_THROW(ray::Task(Plus).SetResource("CPU", 2));
  EXPECT_NO_THROW(ray::Task(Plus).SetResource("CPU", 0.0001));
  EXPECT_NO_THROW(ray::Task(Plus).SetResource("memory", 1e13));
  EXPECT_EQ(*ray::Task(Plus).SetResource("CPU", 0.5).Remote(1, 2).Get(10000), 3);
  EXPECT_EQ(*ray::Task(Plus).SetResource("CPU", 2).Remote(2, 2).Get(10000), 4);
  EXPECT_EQ(*ray::Task(Plus).SetResources({{"CPU", 1}}).SetName("named").Remote(3, 2).Get(10000), 5);
}

TEST_F(RemoteTest, InfeasibleResourceStaysUnready) {
  if (!IsNodeMode()) GTEST_SKIP() << "resources are not scheduled in local mode";
  auto infeasible = ray::Task(Plus).SetResource("goray_nobody_has_this", 1).Remote(1, 2);
  auto too_many_cpus = ray::Task(Plus).SetResource("CPU", 64).Remote(1, 2);
  auto fine = ray::Task(Plus).Remote(1, 2);
  std::vector<ray::ObjectRef<int>> refs{infeasible, too_many_cpus, fine};
  auto t0 = Clock::now();
  auto w = ray::Wait(refs, 3, 1000);
  EXPECT_GE(SecondsSince(t0), 0.9);
  ASSERT_EQ(w.ready.size(), 1u);
  EXPECT_EQ(w.ready.front().ID(), fine.ID());
  EXPECT_EQ(w.unready.size(), 2u);
  EXPECT_THROW(ray::Get(infeasible, 200), ray::internal::RayException);
}
