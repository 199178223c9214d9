// goray: Ray's C++ API on a Go runtime.
//
// ray::RuntimeEnv: runtime environment fields of a job (JSON values by field name), kept as
// nlohmann/json like Ray's.
#pragma once

#include <ray/api/ray_exception.h>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <utility>

/// Ray's headers make nlohmann::json available as `json`: user code such as a to_json/from_json
/// pair for a RuntimeEnv field type may rely on it.
using json = nlohmann::json;

namespace ray {

/// Runtime environment of a job: named fields ("working_dir", "env_vars", "pip", ...), each a JSON
/// value. Values are set and read as any type nlohmann/json converts (numbers, strings, bools,
/// containers, and user types with to_json/from_json) or as JSON text.
class RuntimeEnv {
 public:
  /// Sets a field to a value; throws RayRuntimeEnvException when it cannot be converted to JSON.
  template <typename T>
  void Set(const std::string &name, const T &value) {
    try {
      nlohmann::json value_j = value;
      fields_[name] = std::move(value_j);
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to set the field " + name + ": " + e.what());
    }
  }

  /// Gets a field as a T; throws RayRuntimeEnvException when the field is missing or is not a T.
  template <typename T>
  T Get(const std::string &name) const {
    const nlohmann::json &value = Field(name);
    try {
      return value.get<T>();
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to get the field " + name + ": " + e.what());
    }
  }

  /// Sets a field from JSON text; throws RayRuntimeEnvException when the text is not valid JSON.
  void SetJsonStr(const std::string &name, const std::string &json_str) {
    try {
      fields_[name] = nlohmann::json::parse(json_str);
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to set the field " + name +
                                             " by json string: " + e.what());
    }
  }

  /// Gets a field as JSON text; throws RayRuntimeEnvException when the field is missing.
  std::string GetJsonStr(const std::string &name) const { return Dump(Field(name)); }

  /// Whether the field is set.
  bool Contains(const std::string &name) const { return fields_.contains(name); }

  /// Removes a field; returns true when it was set.
  bool Remove(const std::string &name) { return fields_.erase(name) > 0; }

  /// Whether no field is set.
  bool Empty() const { return fields_.empty(); }

  /// The fields as the text of a JSON object ({"name": value, ...}, names in order); throws
  /// RayRuntimeEnvException when a value cannot be written (a string that is not UTF-8).
  std::string Serialize() const { return Dump(fields_); }

  /// Same as Serialize().
  std::string SerializeToRuntimeEnvString() const { return Serialize(); }

  /// Ray's RuntimeEnvInfo message as JSON: {"serializedRuntimeEnv": Serialize()}.
  std::string SerializeToRuntimeEnvInfo() const {
    return Dump(nlohmann::json{{"serializedRuntimeEnv", Serialize()}});
  }

  /// Builds a RuntimeEnv from the text of a JSON object; throws RayRuntimeEnvException when the
  /// text is not a JSON object.
  static RuntimeEnv Deserialize(const std::string &serialized_runtime_env) {
    RuntimeEnv env;
    try {
      env.fields_ = nlohmann::json::parse(serialized_runtime_env);
      if (!env.fields_.is_object()) {
        throw std::runtime_error(std::string("a JSON object is needed, not ") +
                                 env.fields_.type_name());
      }
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to deserialize runtime env " +
                                             serialized_runtime_env + ": " + e.what());
    }
    return env;
  }

 private:
  /// The field's value; throws RayRuntimeEnvException when the field is missing.
  const nlohmann::json &Field(const std::string &name) const {
    auto it = fields_.find(name);
    if (it == fields_.end()) {
      throw internal::RayRuntimeEnvException("The field " + name + " not found.");
    }
    return *it;
  }

  /// value as JSON text; throws RayRuntimeEnvException when it holds a string that is not UTF-8.
  static std::string Dump(const nlohmann::json &value) {
    try {
      return value.dump();
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException(std::string("Failed to serialize the runtime env: ") +
                                             e.what());
    }
  }

  nlohmann::json fields_ = nlohmann::json::object();
};

}  // namespace ray
