// goray: Ray's C++ API on a Go runtime.
//
// msgpack for std::any, as Ray's C++ API has it: an any holding nil, a bool, an integer, a
// floating-point number, a string or bytes (std::vector<char>) packs as that msgpack value, and
// a msgpack value unpacks into an any holding msgpack::type::nil_t, bool, uint64_t (non-negative
// integers), int64_t (negative ones), double, std::string or std::vector<char>. Anything else
// throws msgpack::type_error.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <any>
#include <cstdint>
#include <string>
#include <typeinfo>
#include <vector>

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

/// Packs the value a std::any holds.
template <>
struct pack<std::any> {
  template <typename Stream>
  msgpack::packer<Stream> &operator()(msgpack::packer<Stream> &o, const std::any &v) const {
    const std::type_info &t = v.type();
    if (t == typeid(void) || t == typeid(msgpack::type::nil_t)) return o.pack_nil();
    if (t == typeid(bool)) return o.pack(std::any_cast<bool>(v));
    if (t == typeid(uint64_t)) return o.pack(std::any_cast<uint64_t>(v));
    if (t == typeid(int64_t)) return o.pack(std::any_cast<int64_t>(v));
    if (t == typeid(int)) return o.pack(std::any_cast<int>(v));
    if (t == typeid(unsigned)) return o.pack(std::any_cast<unsigned>(v));
    if (t == typeid(double)) return o.pack(std::any_cast<double>(v));
    if (t == typeid(float)) return o.pack(std::any_cast<float>(v));
    if (t == typeid(std::string)) return o.pack(std::any_cast<const std::string &>(v));
    if (t == typeid(const char *)) return o.pack(std::string(std::any_cast<const char *>(v)));
    if (t == typeid(std::vector<char>)) return o.pack(std::any_cast<const std::vector<char> &>(v));
    throw msgpack::type_error();
  }
};

/// Unpacks a msgpack value into a std::any.
template <>
struct convert<std::any> {
  const msgpack::object &operator()(const msgpack::object &o, std::any &v) const {
    switch (o.type) {
      case msgpack::type::NIL:
        v = msgpack::type::nil_t();
        break;
      case msgpack::type::BOOLEAN:
        v = o.as<bool>();
        break;
      case msgpack::type::POSITIVE_INTEGER:
        v = o.as<uint64_t>();
        break;
      case msgpack::type::NEGATIVE_INTEGER:
        v = o.as<int64_t>();
        break;
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        v = o.as<double>();
        break;
      case msgpack::type::STR:
        v = o.as<std::string>();
        break;
      case msgpack::type::BIN:
        v = o.as<std::vector<char>>();
        break;
      default:
        throw msgpack::type_error();
    }
    return o;
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
