// goray: Ray's C++ API on a Go runtime.
//
// ray::RuntimeEnv: runtime environment fields of a job (JSON values by field name).
#pragma once

#include <ray/api/json.h>
#include <ray/api/ray_exception.h>
#include <ray/api/serializer.h>

#include <map>
#include <string>

namespace ray {

/// Runtime environment of a job: named fields ("working_dir", "env_vars", ...), each holding a JSON
/// value. Values are set and read as any msgpack-serializable C++ type (strings, numbers, bools,
/// vectors, maps, MSGPACK_DEFINE structs are written as JSON arrays) or as raw JSON text.
class RuntimeEnv {
 public:
  /// Sets a field to a value; throws RayRuntimeEnvException when it cannot be written as JSON.
  template <typename T>
  void Set(const std::string &name, const T &value) {
    try {
      StoreAsJson(name, internal::Serializer::Serialize(value));
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to set the field " + name + ": " + e.what());
    }
  }

  /// Gets a field as a T; throws RayRuntimeEnvException when the field is missing or is not a T.
  template <typename T>
  T Get(const std::string &name) const {
    auto it = fields_.find(name);
    if (it == fields_.end()) {
      throw internal::RayRuntimeEnvException("The field " + name + " not found.");
    }
    try {
      msgpack::sbuffer buffer;
      internal::JsonToMsgpack::Parse(it->second, &buffer);
      return internal::Serializer::Deserialize<T>(buffer.data(), buffer.size());
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to get the field " + name + ": " + e.what());
    }
  }

  /// Sets a field from JSON text; throws RayRuntimeEnvException when the text is not valid JSON.
  void SetJsonStr(const std::string &name, const std::string &json_str) {
    try {
      msgpack::sbuffer buffer;
      internal::JsonToMsgpack::Parse(json_str, &buffer);
      StoreAsJson(name, buffer);
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to set the field " + name + ": " + e.what());
    }
  }

  /// Gets a field as JSON text; throws RayRuntimeEnvException when the field is missing.
  std::string GetJsonStr(const std::string &name) const {
    auto it = fields_.find(name);
    if (it == fields_.end()) {
      throw internal::RayRuntimeEnvException("The field " + name + " not found.");
    }
    return it->second;
  }

  /// Whether the field is set.
  bool Contains(const std::string &name) const { return fields_.count(name) > 0; }

  /// Removes a field; returns true when it was set.
  bool Remove(const std::string &name) { return fields_.erase(name) > 0; }

  /// Whether no field is set.
  bool Empty() const { return fields_.empty(); }

  /// The fields as the text of a JSON object ({"name": value, ...}).
  std::string SerializeToRuntimeEnvString() const {
    std::string out = "{";
    bool first = true;
    for (const auto &field : fields_) {
      if (!first) out += ',';
      first = false;
      out += internal::JsonQuote(field.first);
      out += ':';
      out += field.second;
    }
    out += '}';
    return out;
  }

  /// Same as SerializeToRuntimeEnvString().
  std::string Serialize() const { return SerializeToRuntimeEnvString(); }

  /// Builds a RuntimeEnv from the text of a JSON object; throws RayRuntimeEnvException when the
  /// text is not a JSON object.
  static RuntimeEnv Deserialize(const std::string &serialized_runtime_env) {
    RuntimeEnv env;
    try {
      msgpack::sbuffer buffer;
      internal::JsonToMsgpack::Parse(serialized_runtime_env, &buffer);
      msgpack::object_handle handle = msgpack::unpack(buffer.data(), buffer.size());
      const msgpack::object &o = handle.get();
      if (o.type != msgpack::type::MAP) throw std::runtime_error("not a JSON object");
      for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack::object &key = o.via.map.ptr[i].key;
        std::string json;
        internal::MsgpackToJson(o.via.map.ptr[i].val, &json);
        env.fields_[std::string(key.via.str.ptr, key.via.str.size)] = json;
      }
    } catch (const std::exception &e) {
      throw internal::RayRuntimeEnvException("Failed to deserialize the runtime env: " +
                                             std::string(e.what()));
    }
    return env;
  }

 private:
  /// Stores the msgpack value in buffer as the field's JSON text.
  void StoreAsJson(const std::string &name, const msgpack::sbuffer &buffer) {
    msgpack::object_handle handle = msgpack::unpack(buffer.data(), buffer.size());
    std::string json;
    internal::MsgpackToJson(handle.get(), &json);
    fields_[name] = json;
  }

  std::map<std::string, std::string> fields_;
};

}  // namespace ray
