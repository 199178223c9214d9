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
#include <string>
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
  bool Insert(const std::string &id) {
    size_t i = Hash(id.data()) & mask_;
    while (slots_[i] != nullptr) {
      if (std::memcmp(slots_[i], id.data(), RAY_ID_SIZE) == 0) return false;
      i = (i + 1) & mask_;
    }
    slots_[i] = id.data();
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

/// Per-thread scratch memory of ray::Wait: the packed ids, the ready flags and the duplicate check.
struct WaitScratch {
  std::string packed;
  std::vector<uint8_t> ready;
  IdSet seen{0};

  /// This thread's scratch.
  static WaitScratch &OfThisThread() {
    thread_local WaitScratch scratch;
    return scratch;
  }

  /// Empties everything for a call over n ids.
  void Prepare(size_t n) {
    packed.clear();
    packed.reserve(n * RAY_ID_SIZE);
    ready.assign(n, 0);
    seen.Reset(n);
  }

  /// Gives back memory far beyond what a call over n ids needs (after one huge call).
  void Trim(size_t n) {
    if (packed.capacity() > 4 * n * RAY_ID_SIZE + 4096) std::string().swap(packed);
    if (ready.capacity() > 4 * n + 4096) std::vector<uint8_t>().swap(ready);
    seen.Trim(n);
  }
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
