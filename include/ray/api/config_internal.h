// goray: Ray's C++ API on a Go runtime.
//
// Command-line flags of ray::Init(config, argc, argv) and the JSON configuration given to ray_init.
#pragma once

#include <ray/api/json.h>
#include <ray/api/ray_config.h>
#include <ray/api/ray_exception.h>

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

/// Builds the JSON configuration of ray_init from a RayConfig and the flags that override it.
inline std::string BuildInitConfigJson(const RayConfig &config, const InitFlags &flags) {
  std::string address = flags.ray_address ? *flags.ray_address : config.address;

  std::vector<std::string> code_search_path = config.code_search_path;
  if (flags.ray_code_search_path && !flags.ray_code_search_path->empty()) {
    code_search_path = SplitSkipEmpty(*flags.ray_code_search_path, ':');
  }

  std::vector<std::string> head_args = config.head_args;
  if (flags.ray_head_args) {
    for (auto &a : SplitSkipEmpty(*flags.ray_head_args, ' ')) head_args.push_back(a);
  }

  std::string lifetime = config.default_actor_lifetime == ActorLifetime::DETACHED
                             ? "detached"
                             : "non_detached";
  if (flags.ray_default_actor_lifetime) {
    std::string value = *flags.ray_default_actor_lifetime;
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (value != "detached" && value != "non_detached") {
      throw RayException(
          "`ray_default_actor_lifetime` only supports `detached` and `non_detached`, got `" +
          *flags.ray_default_actor_lifetime + "`.");
    }
    lifetime = value;
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

  std::optional<std::string> redis_password = config.redis_password_;
  if (flags.ray_redis_password) redis_password = *flags.ray_redis_password;

  auto string_array = [](const std::vector<std::string> &values) {
    std::string out = "[";
    for (size_t i = 0; i < values.size(); i++) {
      if (i > 0) out += ',';
      out += JsonQuote(values[i]);
    }
    out += ']';
    return out;
  };

  std::string json = "{";
  json += "\"address\":" + JsonQuote(address);
  json += ",\"local_mode\":" + std::string(config.local_mode ? "true" : "false");
  json += ",\"code_search_path\":" + string_array(code_search_path);
  json += ",\"head_args\":" + string_array(head_args);
  json += ",\"default_actor_lifetime\":" + JsonQuote(lifetime);
  json += ",\"ray_namespace\":" + JsonQuote(config.ray_namespace);
  if (redis_password) json += ",\"redis_password\":" + JsonQuote(*redis_password);
  if (config.runtime_env && !config.runtime_env->Empty()) {
    json += ",\"runtime_env\":" + JsonQuote(config.runtime_env->SerializeToRuntimeEnvString());
  }
  json += ",\"job_id\":" + JsonQuote(flags.ray_job_id ? *flags.ray_job_id : "");
  json += ",\"node_manager_port\":" + std::to_string(node_manager_port);
  json += ",\"session_dir\":" + JsonQuote(flags.ray_session_dir ? *flags.ray_session_dir : "");
  json += ",\"logs_dir\":" + JsonQuote(flags.ray_logs_dir ? *flags.ray_logs_dir : "");
  json += ",\"node_ip_address\":" +
          JsonQuote(flags.ray_node_ip_address ? *flags.ray_node_ip_address : "");
  json += "}";
  return json;
}

}  // namespace internal
}  // namespace ray
