// goray: Ray's C++ API on a Go runtime.
//
// Internal helpers shared by the API headers: the C ABI, status handling, visibility.
#pragma once

#include <ray/api/ray_exception.h>
#include <ray/c_api.h>

#if defined(__GNUC__) || defined(__clang__)
#include <cxxabi.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

/// Marks an internal function or class as private to the binary (executable or shared library)
/// that includes the headers, so that every binary keeps its own registry of remote functions.
#if defined(__GNUC__) || defined(__clang__)
#define RAY_INTERNAL_HIDDEN __attribute__((visibility("hidden")))
#define RAY_INTERNAL_EXPORT_WEAK __attribute__((weak, visibility("default")))
#else
#define RAY_INTERNAL_HIDDEN
#define RAY_INTERNAL_EXPORT_WEAK
#endif

#define RAY_INTERNAL_CONCAT_IMPL(a, b) a##b
#define RAY_INTERNAL_CONCAT(a, b) RAY_INTERNAL_CONCAT_IMPL(a, b)

namespace ray {
namespace internal {

/// Takes ownership of an error message the runtime allocated and returns it as a string.
inline std::string TakeErrorMessage(char *err, int code) {
  std::string msg;
  if (err != nullptr) {
    msg = err;
    ray_free(err);
  }
  if (msg.empty()) {
    msg = "goray runtime call failed with status " + std::to_string(code);
  }
  return msg;
}

/// Throws RayException when a C call did not return RAY_OK; `prefix` is put before the message
/// unless the message already starts with it. RAY_ERR_OBJECT_STORE_FULL keeps the runtime's
/// message ("ObjectStoreFullError: ...") unprefixed.
inline void CheckStatus(int code, char *err, const std::string &prefix = std::string()) {
  if (code == RAY_OK) {
    if (err != nullptr) ray_free(err);
    return;
  }
  if (code == RAY_ERR_OBJECT_STORE_FULL) {
    // The runtime's message ("ObjectStoreFullError: ...") is passed on as it is, without a
    // prefix, so that callers can recognize it.
    std::string msg;
    if (err != nullptr) {
      msg = err;
      ray_free(err);
    }
    if (msg.empty()) msg = "ObjectStoreFullError: the node's object store has no room left";
    throw RayException(msg);
  }
  std::string msg = TakeErrorMessage(err, code);
  if (!prefix.empty() && msg.compare(0, prefix.size(), prefix) != 0) {
    msg = prefix + msg;
  }
  if (code == RAY_ERR_TIMEOUT) throw RayTimeoutException(msg);
  throw RayException(msg);
}

/// A set of ids (RAY_ID_SIZE bytes each) for duplicate checks: open addressing over pointers into
/// the caller's strings (which must outlive the set), one allocation, no copies of the ids.
class IdSet {
 public:
  /// A set sized for about `expected` ids.
  explicit IdSet(size_t expected) { Reset(expected); }

  /// Empties the set and sizes it for about `expected` ids, reusing its memory.
  void Reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, nullptr);
    mask_ = cap - 1;
  }

  /// Gives back memory beyond what about `expected` ids need.
  void Trim(size_t expected) {
    if (slots_.capacity() > 4 * expected + 64) std::vector<const char *>().swap(slots_);
  }

  /// Adds an id of RAY_ID_SIZE bytes; false when it was in the set already.
  bool Insert(const std::string &id) { return Insert(id.data()); }

  /// Adds the id of RAY_ID_SIZE bytes at `id` (which must outlive the set); false when it was in
  /// the set already.
  bool Insert(const char *id) {
    size_t i = Hash(id) & mask_;
    while (slots_[i] != nullptr) {
      if (std::memcmp(slots_[i], id, RAY_ID_SIZE) == 0) return false;
      i = (i + 1) & mask_;
    }
    slots_[i] = id;
    return true;
  }

 private:
  // Mixes every byte of the id (ids of one task share their first bytes), eight at a time.
  static size_t Hash(const char *p) {
    static_assert(RAY_ID_SIZE == 28, "IdSet::Hash reads 3 x 8 + 4 bytes");
    uint64_t a, b, c;
    uint32_t d;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    std::memcpy(&c, p + 16, 8);
    std::memcpy(&d, p + 24, 4);
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^
                 (c * 0x165667B19E3779F9ull) ^ (uint64_t{d} * 0xD6E8FEB86659FD93ull);
    return static_cast<size_t>(h ^ (h >> 31));
  }

  std::vector<const char *> slots_;
  size_t mask_ = 0;
};

/// Ids (RAY_ID_SIZE bytes each) packed back to back in a buffer that only grows, written in place
/// (no fill, no call per id).
class PackedIds {
 public:
  /// Empties the buffer and makes room for `count` ids, keeping its memory.
  void Reset(size_t count) {
    bytes_ = 0;
    const size_t need = count * RAY_ID_SIZE;
    if (need > capacity_) {
      data_.reset(new char[need]);
      capacity_ = need;
    }
  }

  /// The ids (nullptr before any Reset that made room).
  const char *Data() const { return data_.get(); }
  /// Room for the ids Reset made room for, to write them in place (then SetCount).
  char *MutableData() { return data_.get(); }
  /// Sets how many ids were written in place.
  void SetCount(size_t count) { bytes_ = count * RAY_ID_SIZE; }
  /// Their size in bytes.
  size_t Bytes() const { return bytes_; }

  void Swap(PackedIds &other) noexcept {
    data_.swap(other.data_);
    std::swap(bytes_, other.bytes_);
    std::swap(capacity_, other.capacity_);
  }

  /// Gives back memory far beyond what `count` ids need.
  void Trim(size_t count) {
    if (capacity_ > 4 * count * RAY_ID_SIZE + 4096) {
      data_.reset();
      capacity_ = 0;
      bytes_ = 0;
    }
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t bytes_ = 0;
  size_t capacity_ = 0;
};

/// Per-thread scratch memory of ray::Wait: the packed ids, the ready flags and the duplicate check.
///
/// The usual loop calls Wait again with the refs the last call found not ready: a list whose ids
/// are, in order, a subsequence of the last list checked here. Such a list has no duplicates when
/// that one had none, which a merge over both lists shows while the ids are packed (a compare per
/// id, no hashing, no table to clear); any other list goes through the hash set.
class WaitScratch {
 public:
  /// The ready flags ray_wait writes.
  std::vector<uint8_t> ready;

  /// This thread's scratch.
  static WaitScratch &OfThisThread() {
    thread_local WaitScratch scratch;
    return scratch;
  }

  /// Starts a call over refs (ObjectRefs): packs their ids, checking on the way whether they come,
  /// in order, in the last list found free of duplicates. Returns the index of the first ref
  /// without an id of RAY_ID_SIZE bytes (refs.size() when there is none); the ids before it are
  /// packed.
  template <typename Ref>
  size_t Pack(const std::vector<Ref> &refs) {
    const size_t n = refs.size();
    ids_.Reset(n);
    ready.resize(n);
    in_last_ = false;
    // Locals, not members, in the loop: stores into the packed bytes could alias members.
    char *out = ids_.MutableData();
    const char *follows = last_unique_.Data();
    const char *last_end = follows + last_unique_.Bytes();
    constexpr size_t kAhead = 8;  // holders read ahead: they are scattered over the heap
    for (size_t i = 0; i < n && i < kAhead; i++) refs[i].PrefetchHolder();
    size_t i = 0;
    for (; i < n; i++) {
      if (i + kAhead < n) refs[i + kAhead].PrefetchHolder();
      const char *id = refs[i].RawID();
      if (id == nullptr) break;
      if (follows != nullptr) {
        // Find the id in the last unique list, after the match of the one before it.
        while (follows < last_end && std::memcmp(follows, id, RAY_ID_SIZE) != 0) {
          follows += RAY_ID_SIZE;
        }
        follows = follows < last_end ? follows + RAY_ID_SIZE : nullptr;
      }
      std::memcpy(out, id, RAY_ID_SIZE);
      out += RAY_ID_SIZE;
    }
    ids_.SetCount(i);
    follows_ = follows;
    return i;
  }

  /// Whether the ids Pack packed are all different; when they are, they become the list later
  /// calls are compared with.
  bool Unique() {
    bool unique = follows_ != nullptr || ids_.Bytes() == 0;
    if (!unique) {
      const size_t count = ids_.Bytes() / RAY_ID_SIZE;
      seen_.Reset(count);
      unique = true;
      for (size_t off = 0; off < ids_.Bytes(); off += RAY_ID_SIZE) {
        if (!seen_.Insert(ids_.Data() + off)) {
          unique = false;
          break;
        }
      }
    }
    if (unique) {
      last_unique_.Swap(ids_);
      in_last_ = true;
      follows_ = nullptr;
    }
    return unique;
  }

  /// The ids of the call, packed (Unique() may have moved them).
  const uint8_t *Packed() const {
    return reinterpret_cast<const uint8_t *>(in_last_ ? last_unique_.Data() : ids_.Data());
  }

  /// Gives back memory far beyond what a call over n ids needs (after one huge call).
  void Trim(size_t n) {
    ids_.Trim(n);
    last_unique_.Trim(n);  // (the next call then checks with the hash set once)
    if (ready.capacity() > 4 * n + 4096) std::vector<uint8_t>().swap(ready);
    seen_.Trim(n);
  }

 private:
  PackedIds ids_;
  PackedIds last_unique_;  // the last list found free of duplicates on this thread
  bool in_last_ = false;   // the call's ids are in last_unique_
  // Just past the match in last_unique_ of the last id packed; nullptr once an id had none.
  const char *follows_ = nullptr;
  IdSet seen_{0};
};

/// Packs ids (each RAY_ID_SIZE bytes) back to back, dropping empty ids and duplicates.
inline std::string PackIds(const std::vector<std::string> &ids) {
  std::string out;
  out.reserve(ids.size() * RAY_ID_SIZE);
  IdSet seen(ids.size());
  for (const auto &id : ids) {
    if (id.size() != RAY_ID_SIZE || !seen.Insert(id)) continue;
    out += id;
  }
  return out;
}

/// The readable name of a type from its typeid(T).name() ("7Counter" -> "Counter"); the name
/// itself when it cannot be demangled.
inline std::string DemangleTypeName(const char *mangled) {
  if (mangled == nullptr) return std::string();
#if defined(__GNUC__) || defined(__clang__)
  int status = 0;
  char *demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status == 0 && demangled != nullptr) {
    std::string out(demangled);
    std::free(demangled);
    return out;
  }
  std::free(demangled);
#endif
  return std::string(mangled);
}

/// Views a byte string as the uint8_t pointer the C ABI takes.
inline const uint8_t *Bytes(const std::string &s) {
  return reinterpret_cast<const uint8_t *>(s.data());
}

}  // namespace internal
}  // namespace ray
