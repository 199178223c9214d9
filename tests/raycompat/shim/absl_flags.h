// raycompat shim for "absl/flags/flag.h" and "absl/flags/parse.h" as cluster_mode_test.cc uses
// them (goray does not ship Abseil).
//
// run.sh rewrites the test's ABSL_FLAG(type, name, default, help) lines to RAYCOMPAT_FLAG, which
// defines the same FLAGS_<name> global. absl::ParseCommandLine then reads --name=value,
// --name value, and for booleans --name / --noname from argv; arguments it does not know (the
// --ray_* and --gtest_* ones) are left alone for ray::Init and gtest. absl::GetFlag returns the
// value.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

namespace raycompat {
struct FlagSetter {
  bool is_bool;
  std::function<void(const std::string &)> set;
};

inline std::map<std::string, FlagSetter> &Flags() {
  static std::map<std::string, FlagSetter> flags;
  return flags;
}

inline void Assign(bool *flag, const std::string &v) {
  *flag = v.empty() || v == "true" || v == "1" || v == "yes";
}
inline void Assign(int32_t *flag, const std::string &v) {
  *flag = static_cast<int32_t>(std::stol(v));
}
inline void Assign(int64_t *flag, const std::string &v) { *flag = std::stoll(v); }
inline void Assign(double *flag, const std::string &v) { *flag = std::stod(v); }
inline void Assign(std::string *flag, const std::string &v) { *flag = v; }

template <typename T>
struct FlagRegistration {
  FlagRegistration(const char *name, T *flag) {
    Flags()[name] = FlagSetter{std::is_same<T, bool>::value,
                               [flag](const std::string &v) { Assign(flag, v); }};
  }
};
}  // namespace raycompat

#define RAYCOMPAT_FLAG(type, name, default_value, help) \
  type FLAGS_##name = default_value;                    \
  static ::raycompat::FlagRegistration<type> raycompat_flag_##name(#name, &FLAGS_##name)

namespace absl {
template <typename T>
T GetFlag(const T &flag) {
  return flag;
}

// Sets the registered flags from argv; returns argv[0] and the arguments that are not flags.
inline std::vector<char *> ParseCommandLine(int argc, char *argv[]) {
  std::vector<char *> rest;
  if (argc > 0) rest.push_back(argv[0]);
  auto &flags = raycompat::Flags();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      rest.push_back(argv[i]);
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    auto eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    auto it = flags.find(name);
    if (it == flags.end() && !has_value && name.rfind("no", 0) == 0) {
      auto negated = flags.find(name.substr(2));
      if (negated != flags.end() && negated->second.is_bool) negated->second.set("false");
      continue;
    }
    if (it == flags.end()) continue;  // not ours: ray::Init or gtest reads it
    if (!has_value && !it->second.is_bool && i + 1 < argc) {
      value = argv[++i];
      has_value = true;
    }
    it->second.set(value);
  }
  return rest;
}
}  // namespace absl
