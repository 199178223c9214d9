// goray: Ray's C++ API on a Go runtime.
//
// Internal helpers shared by the API headers: the C ABI, status handling, visibility.
#pragma once

#include <ray/api/ray_exception.h>
#include <ray/c_api.h>

#if defined(__GNUC__) || defined(__clang__)
#include <cxxabi.h>
#endif

#include <cstdlib>
#include <string>
#include <unordered_set>
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

/// Packs ids (each RAY_ID_SIZE bytes) back to back, dropping empty ids and duplicates.
inline std::string PackIds(const std::vector<std::string> &ids) {
  std::string out;
  std::unordered_set<std::string> seen;
  for (const auto &id : ids) {
    if (id.size() != RAY_ID_SIZE || !seen.insert(id).second) continue;
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
