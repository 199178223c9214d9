// goray: Ray's C++ API on a Go runtime.
//
// Command-line flags of ray::Init(config, argc, argv) and the configuration given to ray_init.
#pragma once

#include <ray/api/ray_config.h>
#include <ray/api/ray_exception.h>
#include <ray/c_api.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace ray {
namespace internal {

/// The --ray_* flags found on a command line (unset when absent).
struct InitFlags {
  std::optional<std::string> ray_address;
  std::optional<std::string> ray_redis_password;
  std::optional<std::string> ray_redis_username;
  std::optional<std::string> ray_code_search_path;
  std::optional<std::string> ray_job_id;
  std::optional<std::string> ray_node_manager_port;
  std::optional<std::string> ray_session_dir;
  std::optional<std::string> ray_logs_dir;
  std::optional<std::string> ray_node_ip_address;
  std::optional<std::string> ray_head_args;
  std::optional<std::string> ray_default_actor_lifetime;
};

/// Splits s at sep, dropping empty pieces.
inline std::vector<std::string> SplitSkipEmpty(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::string current;
  for (char c : s) {
    if (c == sep) {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

/// Reads the --ray_* flags (--name=value or --name value; one leading dash works too). Other
/// arguments are the program's own and are left alone; "--" ends the flags.
inline InitFlags ParseInitFlags(int argc, char **argv) {
  InitFlags flags;
  struct Known {
    const char *name;
    std::optional<std::string> *slot;
  } known[] = {
      {"ray_address", &flags.ray_address},
      {"ray_redis_password", &flags.ray_redis_password},
      {"ray_redis_username", &flags.ray_redis_username},
      {"ray_code_search_path", &flags.ray_code_search_path},
      {"ray_job_id", &flags.ray_job_id},
      {"ray_node_manager_port", &flags.ray_node_manager_port},
      {"ray_session_dir", &flags.ray_session_dir},
      {"ray_logs_dir", &flags.ray_logs_dir},
      {"ray_node_ip_address", &flags.ray_node_ip_address},
      {"ray_head_args", &flags.ray_head_args},
      {"ray_default_actor_lifetime", &flags.ray_default_actor_lifetime},
  };
  if (argv == nullptr) return flags;
  for (int i = 1; i < argc; i++) {
    if (argv[i] == nullptr) break;
    std::string arg = argv[i];
    if (arg == "--") break;
    size_t start = arg.compare(0, 2, "--") == 0 ? 2 : (arg.compare(0, 1, "-") == 0 ? 1 : 0);
    if (start == 0) continue;
    std::string body = arg.substr(start);
    for (const auto &k : known) {
      size_t n = std::strlen(k.name);
      if (body.compare(0, n, k.name) != 0) continue;
      if (body.size() == n) {
        if (i + 1 >= argc || argv[i + 1] == nullptr) {
          throw RayException(std::string("The flag --") + k.name + " needs a value.");
        }
        *k.slot = std::string(argv[++i]);
      } else if (body[n] == '=') {
        *k.slot = body.substr(n + 1);
      } else {
        continue;  // another flag that shares the prefix
      }
      break;
    }
  }
  return flags;
}

/// The configuration handed to ray_init: a ray_config and the strings it points into, built from
/// a RayConfig and the --ray_* flags that override it. It is neither copied nor moved (the
/// ray_config points into it).
class InitConfig {
 public:
  /// Throws RayException for a flag with a bad value, a string holding a NUL character, or a
  /// runtime_env that cannot be written as JSON.
  InitConfig(const RayConfig &config, const InitFlags &flags) {
    address_ = flags.ray_address ? *flags.ray_address : config.address;

    code_search_path_ = config.code_search_path;
    if (flags.ray_code_search_path && !flags.ray_code_search_path->empty()) {
      code_search_path_ = SplitSkipEmpty(*flags.ray_code_search_path, ':');
    }

    head_args_ = config.head_args;
    if (flags.ray_head_args) {
      for (auto &a : SplitSkipEmpty(*flags.ray_head_args, ' ')) head_args_.push_back(a);
    }

    bool detached = config.default_actor_lifetime == ActorLifetime::DETACHED;
    if (flags.ray_default_actor_lifetime) {
      std::string value = *flags.ray_default_actor_lifetime;
      std::transform(value.begin(), value.end(), value.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (value != "detached" && value != "non_detached") {
        throw RayException(
            "`ray_default_actor_lifetime` only supports `detached` and `non_detached`, got `" +
            *flags.ray_default_actor_lifetime + "`.");
      }
      detached = value == "detached";
    }

    long node_manager_port = 0;
    if (flags.ray_node_manager_port && !flags.ray_node_manager_port->empty()) {
      const std::string &text = *flags.ray_node_manager_port;
      char *end = nullptr;
      errno = 0;
      node_manager_port = std::strtol(text.c_str(), &end, 10);
      if (errno != 0 || end == nullptr || *end != '\0' || node_manager_port < 0 ||
          node_manager_port > 65535) {
        throw RayException("Invalid --ray_node_manager_port: " + text);
      }
    }

    redis_password_ = config.redis_password_;
    if (flags.ray_redis_password) redis_password_ = *flags.ray_redis_password;
    // (A redis_username_ or --ray_redis_username is accepted and ignored, as Ray ignores it
    // without an external Redis: goray's control store has none.)
    if (config.runtime_env && !config.runtime_env->Empty()) {
      runtime_env_ = config.runtime_env->Serialize();
    }
    ray_namespace_ = config.ray_namespace;
    job_id_ = flags.ray_job_id.value_or("");
    session_dir_ = flags.ray_session_dir.value_or("");
    logs_dir_ = flags.ray_logs_dir.value_or("");
    node_ip_address_ = flags.ray_node_ip_address.value_or("");

    ray_config_init(&c_);
    c_.address = CString("address", address_);
    c_.local_mode = config.local_mode ? 1 : 0;
    c_.code_search_path =
        StringArray("code_search_path", code_search_path_, &code_search_path_items_);
    c_.head_args = StringArray("head_args", head_args_, &head_args_items_);
    c_.default_actor_lifetime =
        detached ? RAY_ACTOR_LIFETIME_DETACHED : RAY_ACTOR_LIFETIME_NON_DETACHED;
    c_.ray_namespace = CString("ray_namespace", ray_namespace_);
    c_.redis_password = redis_password_ ? CString("redis_password", *redis_password_) : nullptr;
    c_.runtime_env = runtime_env_ ? CString("runtime_env", *runtime_env_) : nullptr;
    c_.job_id = CString("job_id", job_id_);
    c_.node_manager_port = static_cast<int>(node_manager_port);
    c_.session_dir = CString("session_dir", session_dir_);
    c_.logs_dir = CString("logs_dir", logs_dir_);
    c_.node_ip_address = CString("node_ip_address", node_ip_address_);
  }

  InitConfig(const InitConfig &) = delete;
  InitConfig &operator=(const InitConfig &) = delete;

  /// The ray_config for ray_init, valid while this object lives.
  const ray_config *Get() const { return &c_; }

 private:
  /// s as a C string; throws when s holds a NUL character (C would cut it there).
  static const char *CString(const char *field, const std::string &s) {
    if (s.find('\0') != std::string::npos) {
      throw RayException(std::string("The ") + field +
                         " setting holds a NUL character, which ray_init cannot take.");
    }
    return s.c_str();
  }

  /// values as a ray_string_array whose item pointers are kept in *items.
  static ray_string_array StringArray(const char *field, const std::vector<std::string> &values,
                                      std::vector<const char *> *items) {
    items->clear();
    for (const auto &v : values) items->push_back(CString(field, v));
    ray_string_array out;
    out.items = items->empty() ? nullptr : items->data();
    out.count = items->size();
    return out;
  }

  std::string address_;
  std::vector<std::string> code_search_path_;
  std::vector<const char *> code_search_path_items_;
  std::vector<std::string> head_args_;
  std::vector<const char *> head_args_items_;
  std::string ray_namespace_;
  std::optional<std::string> redis_password_;
  std::optional<std::string> runtime_env_;
  std::string job_id_;
  std::string session_dir_;
  std::string logs_dir_;
  std::string node_ip_address_;
  ray_config c_;
};

}  // namespace internal
}  // namespace ray
