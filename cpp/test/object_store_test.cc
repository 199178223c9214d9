// goray: the node's shared-memory object store. Large values are packed straight into it by Put
// and read in place by Get; more data than the store holds is spilled to <session>/spill and
// restored; a value larger than the store fails with ObjectStoreFullError; objects are freed when
// no ref to them is left; refs inside objects keep their values alive; a reader that dies does not
// hurt the object. Plus the C++ pieces underneath: measuring and fixed-buffer packing, zero-copy
// unpacking, and the ObjectStoreFull status.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <typeinfo>

#include "remote_functions.h"
#include "test_util.h"

using goray_test::BytesDigest;
using goray_test::ChecksumOf;
using goray_test::Contains;
using goray_test::ContainsNoCase;
using goray_test::FillPattern;
using goray_test::IsNodeMode;
using goray_test::MakeConfig;
using goray_test::MakePattern;
using goray_test::PatternChecksum;
using Bytes = std::vector<uint8_t>;
using ray::internal::RayException;

#if defined(__SANITIZE_ADDRESS__)
#define GORAY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORAY_TEST_ASAN 1
#endif
#endif

namespace {

constexpr uint64_t kMiB = uint64_t(1) << 20;
// The capacity of the small stores some tests start (--object-store-memory).
constexpr uint64_t kSmallStore = 64 * kMiB;

#ifdef GORAY_TEST_ASAN
// The large round trip on a node: 64 MiB under AddressSanitizer (its shadow memory and checks
// make 1 GiB too slow), 1 GiB otherwise.
constexpr uint64_t kLargeBytes = 64 * kMiB;
// AddressSanitizer keeps freed blocks in a quarantine of up to 256 MiB (quarantine_size_mb) before
// it reuses them, which the resident size of a loop that allocates and frees includes.
constexpr uint64_t kAllocatorSlack = 256 * kMiB;
#else
constexpr uint64_t kLargeBytes = 1024 * kMiB;
constexpr uint64_t kAllocatorSlack = 0;
#endif
// In local mode there is no shared-memory store: a large value is copied through ray_put into the
// runtime's memory like any other, so 256 MiB shows as much as 1 GiB would, in a quarter of the
// time (first touch of memory is slow on small machines).
constexpr uint64_t kLargeBytesLocal = std::min<uint64_t>(kLargeBytes, 256 * kMiB);

// Whether v holds exactly the first `size` bytes of the pattern with this seed. Compares chunk by
// chunk against the regenerated pattern (no second copy of a large value) and names the first
// chunk that differs.
::testing::AssertionResult MatchesPattern(const Bytes &v, uint64_t seed, size_t size) {
  if (v.size() != size) {
    return ::testing::AssertionFailure()
           << "size " << v.size() << ", expected " << size << " (seed " << seed << ")";
  }
  std::vector<uint8_t> chunk(std::min<size_t>(size, 1 * kMiB));
  for (size_t off = 0; off < size; off += chunk.size()) {
    size_t n = std::min(chunk.size(), size - off);
    FillPattern(seed, off, chunk.data(), n);
    if (std::memcmp(v.data() + off, chunk.data(), n) != 0) {
      size_t i = 0;
      while (v[off + i] == chunk[i]) i++;
      return ::testing::AssertionFailure()
             << "byte " << off + i << " of " << size << " differs from the pattern (seed "
             << seed << "): " << int(v[off + i]) << " instead of " << int(chunk[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

// Regular files under a directory (recursively) and their total size; zero when it does not exist.
struct DirUsage {
  size_t files = 0;
  uint64_t bytes = 0;
};
DirUsage Usage(const std::string &dir) {
  DirUsage out;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) {
      out.files++;
      uint64_t n = it->file_size(fec);
      if (!fec) out.bytes += n;
    }
  }
  return out;
}

// The resident set size of this process (VmRSS in /proc/self/status), in bytes.
uint64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// Gets a result that must stand for a dead worker (RayWorkerException). Waits at most two minutes,
// so that a hang fails the test instead of blocking the suite (not a timing assertion: dying and
// retrying takes a few seconds).
template <typename T>
void ExpectWorkerDied(const ray::ObjectRef<T> &result, const std::string &what) {
  try {
    ray::Get(result, 120000);
    ADD_FAILURE() << what << ": Get returned a value, but the worker killed itself";
  } catch (ray::internal::RayWorkerException &e) {
    EXPECT_TRUE(ContainsNoCase(e.what(), "worker")) << what << ": " << e.what();
  } catch (RayException &e) {
    ADD_FAILURE() << what << ": expected RayWorkerException, got RayException: " << e.what();
  }
}

// Receive-only: records where unpacking found the bytes of a bin or str object.
struct PointerProbe {
  const char *ptr = nullptr;
  size_t size = 0;
  void msgpack_unpack(const msgpack::object &o) {
    if (o.type == msgpack::type::BIN) {
      ptr = o.via.bin.ptr;
      size = o.via.bin.size;
    } else if (o.type == msgpack::type::STR) {
      ptr = o.via.str.ptr;
      size = o.via.str.size;
    } else {
      throw msgpack::type_error();
    }
  }
};

// A value whose msgpack_pack is broken on purpose: the first pack writes a bin of `first` bytes,
// later ones a bin of `second` bytes, or throw when throw_later is set.
struct InconsistentValue {
  const std::vector<char> *filler = nullptr;  // at least max(first, second) bytes
  size_t first = 0;
  size_t second = 0;
  bool throw_later = false;
  mutable int packs = 0;
  template <typename Packer>
  void msgpack_pack(Packer &packer) const {
    packs++;
    if (packs > 1 && throw_later) throw std::runtime_error("msgpack_pack failed on purpose");
    size_t n = packs == 1 ? first : second;
    packer.pack_bin(static_cast<uint32_t>(n));
    packer.pack_bin_body(filler->data(), static_cast<uint32_t>(n));
  }
};

// Starts Ray for each test (in node mode with a session directory of its own, so that its spill
// directory can be inspected) and shuts it down afterwards.
class ObjectStoreTest : public ::testing::Test {
 protected:
  // Init for the current mode. Node mode: `cpus` CPUs, the session under a fresh --temp-dir and,
  // when store_bytes > 0, --object-store-memory=store_bytes.
  void Start(uint64_t store_bytes = 0, int cpus = 4) {
    std::vector<std::string> head_args = {"--num-cpus", std::to_string(cpus)};
    if (IsNodeMode()) {
      static int started = 0;
      temp_dir_ = goray_test::TempDir() + "/os" + std::to_string(getpid()) + "_" +
                  std::to_string(++started);
      std::filesystem::create_directories(temp_dir_);
      head_args.push_back("--temp-dir");
      head_args.push_back(temp_dir_);
      if (store_bytes > 0) {
        head_args.push_back("--object-store-memory=" + std::to_string(store_bytes));
      }
    }
    ray::RayConfig config = MakeConfig(head_args);
    ray::Init(config);
    ASSERT_TRUE(ray::IsInitialized());
  }

  // Shuts Ray down; removes the session directory when the test passed (kept for a look
  // otherwise).
  void TearDown() override {
    ray::Shutdown();
    if (!temp_dir_.empty() && !HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(temp_dir_, ec);
    }
  }

  // <session>/spill of the node started by Start (node mode).
  std::string SpillDir() const { return temp_dir_ + "/session_latest/spill"; }

  // Puts and drops `count` values of `size` bytes, so that the store reuses any memory that was
  // freed (a value freed too early would be overwritten).
  static void ChurnStore(int count, size_t size) {
    Bytes junk(size, 0xEE);
    for (int i = 0; i < count; i++) {
      junk[0] = static_cast<uint8_t>(i);
      ray::ObjectRef<Bytes> dropped = ray::Put(junk);
    }
  }

  std::string temp_dir_;
};

}  // namespace

// ------------------------------------------------------------------ the C++ pieces (no runtime)

TEST(ObjectStoreSerializerTest, CountingStreamMeasuresExactBytes) {
  auto expect_same = [](const auto &value, const char *what) {
    ray::internal::MeasuredValue m = ray::internal::Serializer::Measure(value);
    msgpack::sbuffer plain;
    msgpack::pack(plain, value);
    ASSERT_EQ(m.size, plain.size()) << what;
    std::vector<char> fixed(m.size + 8, '#');
    ray::internal::Serializer::PackInto(value, fixed.data(), m.size);
    EXPECT_EQ(std::memcmp(fixed.data(), plain.data(), plain.size()), 0) << what;
    EXPECT_EQ(std::string(fixed.data() + m.size, 8), "########") << what << ": wrote past the end";
  };
  expect_same(0, "int 0");
  expect_same(-1, "int -1");
  expect_same(int64_t(1) << 40, "int64");
  for (size_t n : {0, 31, 32, 255, 256, 65535, 65536, 100000}) {
    expect_same(std::string(n, 'x'), ("string of " + std::to_string(n)).c_str());
    expect_same(Bytes(n, 7), ("bytes of " + std::to_string(n)).c_str());
  }
  expect_same(std::map<std::string, int>{{"a", 1}, {"b", 2}}, "map");
  expect_same(goray_test::Person{"ann", 41, {"x", "y"}}, "struct");
  expect_same(std::vector<std::vector<int>>{{1, 2}, {}, {3}}, "nested vectors");
}

TEST(ObjectStoreSerializerTest, MeasureCollectsContainedIdsOnce) {
  // Refs made before Init count nothing (ray_add_ref is a no-op then).
  ray::ObjectRef<int> a(std::string(RAY_ID_SIZE, 'a'));
  ray::ObjectRef<int> b(std::string(RAY_ID_SIZE, 'b'));
  std::vector<ray::ObjectRef<int>> refs{a, b, a};
  ray::internal::ContainedIdCollector outer;
  ray::internal::MeasuredValue m = ray::internal::Serializer::Measure(refs);
  EXPECT_EQ(m.NumContained(), 2u);
  EXPECT_EQ(m.contained_ids, a.ID() + b.ID());
  std::vector<char> buffer(m.size);
  ray::internal::Serializer::PackInto(refs, buffer.data(), m.size);
  msgpack::sbuffer sbuf;
  ray::internal::Serializer::PackMeasured(sbuf, refs);
  // Neither pass reported the ids to a collector around the Put.
  EXPECT_TRUE(outer.Ids().empty());
  ray::internal::SerializedValue plain = ray::internal::Serializer::SerializeWithRefs(refs);
  EXPECT_EQ(plain.contained_ids, m.contained_ids);
  ASSERT_EQ(plain.buffer.size(), m.size);
  EXPECT_EQ(std::memcmp(plain.buffer.data(), buffer.data(), m.size), 0);
  ASSERT_EQ(sbuf.size(), m.size);
  EXPECT_EQ(std::memcmp(sbuf.data(), buffer.data(), m.size), 0);
}

TEST(ObjectStoreSerializerTest, FixedBufferStreamNeverWritesPastItsEnd) {
  std::vector<char> memory(64, '#');
  ray::internal::FixedBufferStream stream(memory.data(), 16);
  stream.write("0123456789", 10);
  EXPECT_EQ(stream.Size(), 10u);
  EXPECT_THROW(stream.write("abcdefg", 7), RayException);
  EXPECT_EQ(stream.Size(), 10u);
  stream.write("abcdef", 6);
  EXPECT_EQ(stream.Size(), 16u);
  EXPECT_THROW(stream.write("z", 1), RayException);
  EXPECT_EQ(std::string(memory.data(), 16), "0123456789abcdef");
  EXPECT_EQ(std::string(memory.data() + 16, 48), std::string(48, '#'));

  // PackInto a buffer too small or too large for the value: both throw, nothing past the end.
  std::string value(100, 'v');
  std::vector<char> small(200, '#');
  EXPECT_THROW(ray::internal::Serializer::PackInto(value, small.data(), 50), RayException);
  EXPECT_EQ(std::string(small.data() + 50, 150), std::string(150, '#'));
  try {
    ray::internal::Serializer::PackInto(value, small.data(), 150);
    ADD_FAILURE() << "PackInto of 102 bytes into 150 did not throw";
  } catch (RayException &e) {
    EXPECT_TRUE(Contains(e.what(), "fewer")) << e.what();
  }
}

TEST(ObjectStoreSerializerTest, DeserializeReadsStringsAndBinariesInPlace) {
  Bytes bytes = MakePattern(3, 1 * kMiB);
  std::string text(200 * 1024, 't');
  for (int which = 0; which < 2; which++) {
    msgpack::sbuffer buffer;
    if (which == 0) {
      msgpack::pack(buffer, bytes);
    } else {
      msgpack::pack(buffer, text);
    }
    PointerProbe probe =
        ray::internal::Serializer::Deserialize<PointerProbe>(buffer.data(), buffer.size());
    // Zero-copy: the unpacked object points into the source buffer, not into a copy.
    EXPECT_GE(probe.ptr, buffer.data()) << which;
    EXPECT_LE(probe.ptr + probe.size, buffer.data() + buffer.size()) << which;
    EXPECT_EQ(probe.size, which == 0 ? bytes.size() : text.size());
    PointerProbe probe2;
    ray::internal::Serializer::Deserialize(buffer.data(), buffer.size(), &probe2);
    EXPECT_EQ(probe2.ptr, probe.ptr);
  }
  // Values still convert into copies of their own.
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, bytes);
  Bytes back = ray::internal::Serializer::Deserialize<Bytes>(buffer.data(), buffer.size());
  std::memset(buffer.data(), 0, buffer.size());
  EXPECT_TRUE(MatchesPattern(back, 3, 1 * kMiB));
  std::vector<std::string> strings{"a", std::string(70000, 'b'), ""};
  msgpack::sbuffer sbuf;
  msgpack::pack(sbuf, strings);
  EXPECT_EQ(ray::internal::Serializer::Deserialize<std::vector<std::string>>(sbuf.data(),
                                                                             sbuf.size()),
            strings);
}

// Serializer::Serialize(data, size) packs raw bytes as one msgpack bin, zero bytes included.
TEST(ObjectStoreSerializerTest, SerializeRawBytes) {
  const std::string raw("a\0b\xff", 4);
  msgpack::sbuffer buffer = ray::internal::Serializer::Serialize(raw.data(), raw.size());
  msgpack::object_handle handle = msgpack::unpack(buffer.data(), buffer.size());
  EXPECT_EQ(handle.get().type, msgpack::type::BIN);
  EXPECT_EQ(ray::internal::Serializer::Deserialize<std::string>(buffer.data(), buffer.size()), raw);
  auto chars = ray::internal::Serializer::Deserialize<std::vector<char>>(buffer.data(), buffer.size());
  EXPECT_EQ(std::string(chars.begin(), chars.end()), raw);
  msgpack::sbuffer empty = ray::internal::Serializer::Serialize(nullptr, 0);
  EXPECT_EQ(ray::internal::Serializer::Deserialize<std::string>(empty.data(), empty.size()), "");
}

// std::any goes through msgpack as Ray's C++ API has it: each kind of value it may hold packs as
// that msgpack value and comes back in its canonical type; other types are a type error.
TEST(ObjectStoreSerializerTest, AnyValues) {
  using ray::internal::Serializer;
  auto round = [](const std::any &in) {
    msgpack::sbuffer buffer = Serializer::Serialize(in);
    return Serializer::Deserialize<std::any>(buffer.data(), buffer.size());
  };
  EXPECT_TRUE(std::any_cast<bool>(round(std::any(true))));
  EXPECT_EQ(std::any_cast<uint64_t>(round(std::any(uint64_t(1) << 40))), uint64_t(1) << 40);
  EXPECT_EQ(std::any_cast<int64_t>(round(std::any(int64_t(-7)))), -7);
  EXPECT_EQ(std::any_cast<uint64_t>(round(std::any(42))), 42u);  // an int comes back unsigned when >= 0
  EXPECT_EQ(std::any_cast<double>(round(std::any(2.5))), 2.5);
  EXPECT_EQ(std::any_cast<std::string>(round(std::any(std::string("text")))), "text");
  EXPECT_EQ(std::any_cast<std::vector<char>>(round(std::any(std::vector<char>{'x', '\0', 'y'}))),
            (std::vector<char>{'x', '\0', 'y'}));
  EXPECT_EQ(round(std::any(msgpack::type::nil_t())).type(), typeid(msgpack::type::nil_t));
  EXPECT_EQ(round(std::any()).type(), typeid(msgpack::type::nil_t));
  std::vector<std::any> list{std::any(int64_t(-1)), std::any(std::string("s"))};
  msgpack::sbuffer buffer = Serializer::Serialize(list);
  auto back = Serializer::Deserialize<std::vector<std::any>>(buffer.data(), buffer.size());
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(std::any_cast<int64_t>(back[0]), -1);
  EXPECT_EQ(std::any_cast<std::string>(back[1]), "s");
  // A type msgpack has no place for in an any, either way.
  EXPECT_THROW(Serializer::Serialize(std::any(std::vector<int>{1})), msgpack::type_error);
  msgpack::sbuffer map;
  msgpack::pack(map, std::map<std::string, int>{{"k", 1}});
  EXPECT_ANY_THROW(Serializer::Deserialize<std::any>(map.data(), map.size()));
}

// A task takes and returns std::any.
TEST_F(ObjectStoreTest, AnyThroughATask) {
  Start();
  auto r = ray::Task(EchoAny).Remote(std::any(std::string("any text")));
  EXPECT_EQ(std::any_cast<std::string>(*r.Get()), "any text");
  auto n = ray::Task(EchoAny).Remote(std::any(int64_t(-12)));
  EXPECT_EQ(std::any_cast<int64_t>(*n.Get()), -12);
}

TEST(ObjectStoreSerializerTest, ObjectStoreFullKeepsTheRuntimeMessage) {
  char *err = strdup("ObjectStoreFullError: no room for 104857600 bytes");
  try {
    ray::internal::CheckStatus(RAY_ERR_OBJECT_STORE_FULL, err, "Get object error: ");
    ADD_FAILURE() << "CheckStatus(RAY_ERR_OBJECT_STORE_FULL) did not throw";
  } catch (RayException &e) {
    EXPECT_TRUE(typeid(e) == typeid(RayException));
    EXPECT_STREQ(e.what(), "ObjectStoreFullError: no room for 104857600 bytes");
  }
  try {
    ray::internal::CheckStatus(RAY_ERR_OBJECT_STORE_FULL, nullptr);
    ADD_FAILURE() << "CheckStatus(RAY_ERR_OBJECT_STORE_FULL) did not throw";
  } catch (RayException &e) {
    EXPECT_EQ(std::string(e.what()).rfind("ObjectStoreFullError:", 0), 0u) << e.what();
  }
}

// ------------------------------------------------------------------------------ with a runtime

TEST_F(ObjectStoreTest, PutSizesAroundThreshold) {
  ASSERT_NO_FATAL_FAILURE(Start());
  size_t threshold = ray_put_threshold();
  if (IsNodeMode()) {
    EXPECT_GT(threshold, 0u) << "a driver on a node has a shared-memory store";
  } else {
    EXPECT_EQ(threshold, 0u) << "local mode has no shared-memory store";
    threshold = 100 * 1024;  // the same sizes, all through ray_put
  }
  ASSERT_GT(threshold, 65536u + 5);  // the sizes below assume a bin32 header (5 bytes)
  uint64_t seed = 60;
  for (size_t msgpack_size : {threshold - 1, threshold, threshold + 1}) {
    Bytes value = MakePattern(seed, msgpack_size - 5);
    ASSERT_EQ(ray::internal::Serializer::Measure(value).size, msgpack_size);
    ray::ObjectRef<Bytes> ref = ray::Put(value);
    EXPECT_TRUE(MatchesPattern(*ray::Get(ref), seed, value.size())) << msgpack_size;
    EXPECT_EQ(*ray::Task(DigestRef).Remote(ref).Get(), ChecksumOf(value.data(), value.size()))
        << msgpack_size;
    EXPECT_EQ(*ray::Task(ChecksumBytes).Remote(ref).Get(), ChecksumOf(value.data(), value.size()))
        << msgpack_size;
    seed++;
  }
}

TEST_F(ObjectStoreTest, LargeValueRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const uint64_t seed = 1;
  const uint64_t size = IsNodeMode() ? kLargeBytes : kLargeBytesLocal;
  ray::ObjectRef<Bytes> ref;
  {
    Bytes value = MakePattern(seed, size);
    ref = ray::Put(value);
  }  // the driver's own copy is gone: what follows reads the store's
  {
    std::shared_ptr<Bytes> got = ray::Get(ref);
    ASSERT_TRUE(MatchesPattern(*got, seed, size));
  }
  const uint64_t expected = PatternChecksum(seed, size);
  // Read in place a second time, in the driver (the first Get's release left the object intact).
  std::shared_ptr<BytesDigest> digest = ray::Get(ray::ObjectRef<BytesDigest>(ref.ID()));
  EXPECT_EQ(digest->size, size);
  EXPECT_EQ(digest->checksum, expected);
  // And in a worker, which reads it in place too.
  EXPECT_EQ(*ray::Task(DigestRef).Remote(ref).Get(), expected);
}

TEST_F(ObjectStoreTest, MoreDataThanCapacitySpillsAndRestores) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no shared-memory store to fill or spill";
  ASSERT_NO_FATAL_FAILURE(Start(kSmallStore));
  const int kCount = 12;
  const size_t kSize = 16 * kMiB;
  std::vector<ray::ObjectRef<Bytes>> refs;
  for (int i = 0; i < kCount; i++) refs.push_back(ray::Put(MakePattern(100 + i, kSize)));
  // 192 MiB of referenced objects in a 64 MiB store: at least 128 MiB of them are on disk.
  DirUsage spilled = Usage(SpillDir());
  EXPECT_GT(spilled.files, 0u) << "nothing under " << SpillDir();
  EXPECT_GE(spilled.bytes, kCount * kSize - kSmallStore) << "in " << spilled.files << " files";
  // Every value comes back, restored from disk as needed: in order, then in reverse order.
  for (int i = 0; i < kCount; i++) {
    EXPECT_TRUE(MatchesPattern(*ray::Get(refs[i]), 100 + i, kSize)) << "value " << i;
  }
  for (int i = kCount - 1; i >= 0; i--) {
    std::shared_ptr<BytesDigest> d = ray::Get(ray::ObjectRef<BytesDigest>(refs[i].ID()));
    EXPECT_EQ(d->checksum, PatternChecksum(100 + i, kSize)) << "value " << i;
  }
  // Workers get them too (each task's argument is restored for it): one task at a time, then all
  // tasks at once (four run together, each reading its 16 MiB argument while the others are
  // restored).
  for (int i = 0; i < kCount; i++) {
    try {
      EXPECT_EQ(*ray::Task(ChecksumBytes).Remote(refs[i]).Get(), PatternChecksum(100 + i, kSize))
          << "value " << i;
    } catch (RayException &e) {
      ADD_FAILURE() << "task on value " << i << " alone: " << e.what();
    }
  }
  std::vector<ray::ObjectRef<uint64_t>> sums;
  for (int i = 0; i < kCount; i++) sums.push_back(ray::Task(ChecksumBytes).Remote(refs[i]));
  for (int i = 0; i < kCount; i++) {
    try {
      EXPECT_EQ(*ray::Get(sums[i]), PatternChecksum(100 + i, kSize)) << "value " << i;
    } catch (RayException &e) {
      ADD_FAILURE() << "task " << i << " of " << kCount << " submitted together: " << e.what();
    }
  }
  // Everything else still works.
  EXPECT_EQ(*ray::Get(ray::Put(std::string("small"))), "small");
  EXPECT_EQ(*ray::Task(Plus).Remote(2, 3).Get(), 5);
}

// Six chains Check(Make()), each value a sixth of the store (Ray's users do this with 256 MiB values
// in a 1.5 GiB store): the store never needs more than a few of them at a time, so every chain
// succeeds. A task's result waits for room while other values are in use, and values spill
// instead of failing with ObjectStoreFullError; a task queued behind a busy worker pins nothing.
// The same again while a value of two thirds of the store is held by the driver.
TEST_F(ObjectStoreTest, ChainsOfValuesLargerThanTheStoreTogetherSucceed) {
  const uint64_t store = 96 * kMiB;
  const uint64_t size = store / 6;
  ASSERT_NO_FATAL_FAILURE(Start(store, 2));
  for (bool hold : {false, true}) {
    ray::ObjectRef<Bytes> held;
    if (hold) held = ray::Put(MakePattern(99, store * 2 / 3));
    std::vector<ray::ObjectRef<uint64_t>> sums;
    for (uint64_t i = 0; i < 6; i++) {
      sums.push_back(ray::Task(ChecksumBytes).Remote(ray::Task(PatternBytes).Remote(i, size)));
    }
    for (uint64_t i = 0; i < 6; i++) {
      try {
        EXPECT_EQ(*ray::Get(sums[i]), PatternChecksum(i, size)) << "chain " << i << " hold " << hold;
      } catch (RayException &e) {
        ADD_FAILURE() << "chain " << i << " of 6 (holding a value: " << hold << "): " << e.what();
      }
    }
    if (hold) EXPECT_TRUE(MatchesPattern(*ray::Get(held), 99, store * 2 / 3));
  }
}

TEST_F(ObjectStoreTest, ObjectLargerThanStoreFailsClearly) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no shared-memory store with a capacity";
  ASSERT_NO_FATAL_FAILURE(Start(kSmallStore));
  {
    Bytes too_large(100 * kMiB, 0x5A);
    try {
      ray::Put(too_large);
      ADD_FAILURE() << "Put of 100 MiB into a 64 MiB store succeeded";
    } catch (RayException &e) {
      EXPECT_TRUE(Contains(e.what(), "ObjectStoreFull")) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("ObjectStoreFullError:", 0), 0u) << e.what();
    }
  }
  // The failure leaves the node working.
  EXPECT_EQ(*ray::Get(ray::Put(42)), 42);
  EXPECT_EQ(*ray::Task(Plus).Remote(1, 2).Get(), 3);
  ray::ObjectRef<Bytes> ref = ray::Put(MakePattern(5, 16 * kMiB));
  EXPECT_TRUE(MatchesPattern(*ray::Get(ref), 5, 16 * kMiB));
  EXPECT_EQ(*ray::Task(ChecksumBytes).Remote(ref).Get(), PatternChecksum(5, 16 * kMiB));
}

TEST_F(ObjectStoreTest, CreateAndDropKeepsMemoryFlat) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const int kIterations = 100000;
  uint64_t rss_at_10k = 0;
  for (int i = 1; i <= kIterations; i++) {
    if (i % 2 == 1) {
      ray::ObjectRef<int> ref = ray::Put(i);
      ASSERT_EQ(*ray::Get(ref), i);
    } else {
      std::string s = "value " + std::to_string(i);
      ray::ObjectRef<std::string> ref = ray::Put(s);
      ASSERT_EQ(*ray::Get(ref), s);
    }
    if (i == 10000) rss_at_10k = RssBytes();
  }
  uint64_t rss_end = RssBytes();
  ASSERT_GT(rss_at_10k, 0u);
  EXPECT_LE(rss_end, rss_at_10k + 64 * kMiB + kAllocatorSlack)
      << "resident size grew from " << rss_at_10k / kMiB << " MiB after 10,000 puts to "
      << rss_end / kMiB << " MiB after " << kIterations;
}

TEST_F(ObjectStoreTest, CreateAndDropLargeNeverSpills) {
  if (!IsNodeMode()) GTEST_SKIP() << "local mode has no shared-memory store";
  ASSERT_NO_FATAL_FAILURE(Start(kSmallStore));
  Bytes value = MakePattern(9, 1 * kMiB);
  for (int i = 0; i < 1000; i++) {
    value[0] = static_cast<uint8_t>(i);
    ray::ObjectRef<Bytes> ref = ray::Put(value);
    if (i % 100 == 0) {
      std::shared_ptr<Bytes> got = ray::Get(ref);
      ASSERT_EQ(got->size(), value.size());
      ASSERT_EQ(std::memcmp(got->data(), value.data(), value.size()), 0) << "iteration " << i;
    }
  }  // every ref is dropped at once: the objects are freed, never spilled
  DirUsage spilled = Usage(SpillDir());
  EXPECT_EQ(spilled.files, 0u) << spilled.bytes << " bytes under " << SpillDir();
  // All of the store is free again.
  ray::ObjectRef<Bytes> big = ray::Put(MakePattern(10, 48 * kMiB));
  EXPECT_TRUE(MatchesPattern(*ray::Get(big), 10, 48 * kMiB));
  EXPECT_EQ(Usage(SpillDir()).files, 0u);
}

TEST_F(ObjectStoreTest, NestedRefsKeptAliveByOuter) {
  ASSERT_NO_FATAL_FAILURE(Start(kSmallStore));
  const size_t kLarge = 1 * kMiB;
  const size_t kSmall = 100;
  using Refs = std::vector<ray::ObjectRef<Bytes>>;
  ray::ObjectRef<Refs> outer;
  ray::ObjectRef<goray_test::LargeWithRefs> holder_ref;
  {
    ray::ObjectRef<Bytes> large = ray::Put(MakePattern(41, kLarge));
    ray::ObjectRef<Bytes> small = ray::Put(MakePattern(42, kSmall));
    outer = ray::Put(Refs{large, small});
    // A large outer object (itself in shared memory) that holds refs.
    goray_test::LargeWithRefs holder{
        MakePattern(43, 2 * kMiB),
        {ray::Put(MakePattern(44, kLarge)), ray::Put(MakePattern(45, kSmall))}};
    holder_ref = ray::Put(holder);
  }  // no handle to an inner value is left: only the outer objects hold them
  if (IsNodeMode()) ChurnStore(8, 16 * kMiB);

  std::shared_ptr<Refs> inner = ray::Get(outer);
  ASSERT_EQ(inner->size(), 2u);
  EXPECT_TRUE(MatchesPattern(*ray::Get((*inner)[0]), 41, kLarge));
  EXPECT_TRUE(MatchesPattern(*ray::Get((*inner)[1]), 42, kSmall));
  std::shared_ptr<goray_test::LargeWithRefs> holder = ray::Get(holder_ref);
  EXPECT_TRUE(MatchesPattern(holder->payload, 43, 2 * kMiB));
  ASSERT_EQ(holder->refs.size(), 2u);
  EXPECT_TRUE(MatchesPattern(*ray::Get(holder->refs[0]), 44, kLarge));
  EXPECT_TRUE(MatchesPattern(*ray::Get(holder->refs[1]), 45, kSmall));
  inner.reset();
  holder.reset();

  // As task arguments: the worker resolves the outer object and gets the inner ones.
  EXPECT_EQ(*ray::Task(ChecksumsOfRefs).Remote(outer).Get(),
            (std::vector<uint64_t>{PatternChecksum(41, kLarge), PatternChecksum(42, kSmall)}));
  EXPECT_EQ(*ray::Task(ChecksumsInHolder).Remote(holder_ref).Get(),
            (std::vector<uint64_t>{PatternChecksum(43, 2 * kMiB), PatternChecksum(44, kLarge),
                                   PatternChecksum(45, kSmall)}));

  // Refs a worker created and returned: its own handles died with the task; the result holds them.
  ray::ObjectRef<Refs> made =
      ray::Task(PutPatternsInWorker).Remote(uint64_t(51), 3, uint64_t(kLarge));
  std::vector<ray::ObjectRef<Refs>> waiting{made};
  ray::Wait(waiting, 1, -1);
  if (IsNodeMode()) ChurnStore(8, 16 * kMiB);
  EXPECT_EQ(*ray::Task(ChecksumsOfRefs).Remote(made).Get(),
            (std::vector<uint64_t>{PatternChecksum(51, kLarge), PatternChecksum(52, kLarge),
                                   PatternChecksum(53, kLarge)}));
  std::shared_ptr<Refs> made_refs = ray::Get(made);
  ASSERT_EQ(made_refs->size(), 3u);
  for (int i = 0; i < 3; i++) {
    EXPECT_TRUE(MatchesPattern(*ray::Get((*made_refs)[i]), 51 + i, kLarge)) << i;
  }
}

TEST_F(ObjectStoreTest, WorkerKilledWhileReading) {
  if (!IsNodeMode()) GTEST_SKIP() << "in local mode the task would kill the test process";
  ASSERT_NO_FATAL_FAILURE(Start(kSmallStore, 8));
  const size_t kSize = 32 * kMiB;
  const uint64_t expected = PatternChecksum(70, kSize);
  ray::ObjectRef<Bytes> big = ray::Put(MakePattern(70, kSize));
  {
    // Killed inside Get, while unpacking the object in place (half of it read). Every retry of
    // the task (the default max_retries) dies the same way, and Get then reports the dead worker.
    ray::ObjectRef<int> died_in_get = ray::Task(ReadRefThenDie).Remote(big);
    ExpectWorkerDied(died_in_get, "ReadRefThenDie");
    // Killed while the resolved argument is in use.
    ray::ObjectRef<uint64_t> died_with_arg = ray::Task(ReadArgThenDie).Remote(big);
    ExpectWorkerDied(died_with_arg, "ReadArgThenDie");
  }
  // The object is intact, for the driver and for workers.
  EXPECT_TRUE(MatchesPattern(*ray::Get(big), 70, kSize));
  EXPECT_EQ(*ray::Task(ChecksumBytes).Remote(big).Get(), expected);
  // Eight readers at once: four copy it, four read it in place.
  std::vector<ray::ObjectRef<uint64_t>> sums;
  for (int i = 0; i < 8; i++) {
    sums.push_back(i % 2 == 0 ? ray::Task(ChecksumBytes).Remote(big)
                              : ray::Task(DigestRef).Remote(big));
  }
  std::vector<std::shared_ptr<uint64_t>> got = ray::Get(sums);
  for (int i = 0; i < 8; i++) EXPECT_EQ(*got[i], expected) << "reader " << i;
  sums.clear();
  // Once the last ref is gone, nothing the dead readers held keeps the object: all of the store is
  // free again, without spilling anything.
  big = ray::ObjectRef<Bytes>();
  ray::ObjectRef<Bytes> next = ray::Put(MakePattern(71, 48 * kMiB));
  EXPECT_TRUE(MatchesPattern(*ray::Get(next), 71, 48 * kMiB));
  DirUsage spilled = Usage(SpillDir());
  EXPECT_EQ(spilled.files, 0u) << spilled.bytes << " bytes under " << SpillDir();
}

TEST_F(ObjectStoreTest, ConcurrentReaders) {
  ASSERT_NO_FATAL_FAILURE(Start(0, 4));
  const size_t kSize = 8 * kMiB;
  std::vector<ray::ObjectRef<Bytes>> objects{ray::Put(MakePattern(80, kSize)),
                                             ray::Put(MakePattern(81, kSize))};
  const uint64_t expected[2] = {PatternChecksum(80, kSize), PatternChecksum(81, kSize)};
  // Eight tasks (half copy their object, half read it in place) ...
  std::vector<ray::ObjectRef<uint64_t>> sums;
  for (int i = 0; i < 8; i++) {
    const ray::ObjectRef<Bytes> &o = objects[i % 2];
    sums.push_back((i / 2) % 2 == 0 ? ray::Task(ChecksumBytes).Remote(o)
                                    : ray::Task(DigestRef).Remote(o));
  }
  // ... while four driver threads get both objects several times.
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t]() {
      try {
        for (int round = 0; round < 3; round++) {
          int which = (t + round) % 2;
          std::shared_ptr<Bytes> v = ray::Get(objects[which]);
          if (ChecksumOf(v->data(), v->size()) != expected[which]) {
            errors[t] += "thread " + std::to_string(t) + " round " + std::to_string(round) +
                         ": wrong bytes; ";
          }
        }
      } catch (std::exception &e) {
        errors[t] += std::string("thread ") + std::to_string(t) + ": " + e.what();
      }
    });
  }
  for (auto &th : threads) th.join();
  for (auto &e : errors) EXPECT_EQ(e, "");
  for (int i = 0; i < 8; i++) EXPECT_EQ(*ray::Get(sums[i]), expected[i % 2]) << "task " << i;
}

TEST_F(ObjectStoreTest, PutAbortsWhenPackingFails) {
  if (!IsNodeMode()) {
    GTEST_SKIP() << "local mode has no shared-memory store: Put packs once, through ray_put";
  }
  ASSERT_NO_FATAL_FAILURE(Start(kSmallStore));
  const size_t kSize = 40 * kMiB;
  std::vector<char> filler(kSize + 1, 'f');
  // Each failure happens after 40 MiB were reserved in the 64 MiB store; if the reservation were
  // not given back, the next one would not fit.
  {
    InconsistentValue v{&filler, kSize, kSize, true};
    EXPECT_THROW(ray::Put(v), std::runtime_error);
    EXPECT_EQ(v.packs, 2);
  }
  {
    InconsistentValue v{&filler, kSize, kSize + 1, false};
    try {
      ray::Put(v);
      ADD_FAILURE() << "Put of a value that packed to more bytes than measured succeeded";
    } catch (RayException &e) {
      EXPECT_TRUE(Contains(e.what(), "more msgpack bytes")) << e.what();
    }
    EXPECT_EQ(v.packs, 2);
  }
  {
    InconsistentValue v{&filler, kSize, kSize - 1, false};
    try {
      ray::Put(v);
      ADD_FAILURE() << "Put of a value that packed to fewer bytes than measured succeeded";
    } catch (RayException &e) {
      EXPECT_TRUE(Contains(e.what(), "fewer")) << e.what();
    }
    EXPECT_EQ(v.packs, 2);
  }
  ray::ObjectRef<Bytes> ok = ray::Put(MakePattern(90, 48 * kMiB));
  EXPECT_TRUE(MatchesPattern(*ray::Get(ok), 90, 48 * kMiB));
  DirUsage spilled = Usage(SpillDir());
  EXPECT_EQ(spilled.files, 0u) << spilled.bytes << " bytes under " << SpillDir();
}
