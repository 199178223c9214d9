// goray: Ray's C++ API on a Go runtime.
//
// A tiny JSON writer and reader used for the ray_init configuration and ray::RuntimeEnv.
// JSON values are converted to and from msgpack so that any msgpack-serializable C++ type can be
// stored in a RuntimeEnv field.
#pragma once

#include <ray/api/serializer.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// Returns s as a JSON string literal (quoted and escaped).
inline std::string JsonQuote(const std::string &s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

/// Writes a msgpack object as JSON text. Map keys that are not strings are written as their JSON
/// text in a string; bin is written as a string; ext is not supported.
inline void MsgpackToJson(const msgpack::object &o, std::string *out) {
  switch (o.type) {
    case msgpack::type::NIL:
      *out += "null";
      break;
    case msgpack::type::BOOLEAN:
      *out += o.via.boolean ? "true" : "false";
      break;
    case msgpack::type::POSITIVE_INTEGER:
      *out += std::to_string(o.via.u64);
      break;
    case msgpack::type::NEGATIVE_INTEGER:
      *out += std::to_string(o.via.i64);
      break;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: {
      double d = o.via.f64;
      if (!std::isfinite(d)) throw std::runtime_error("JSON cannot hold NaN or infinity");
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.17g", d);
      std::string text = buf;
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      *out += text;
      break;
    }
    case msgpack::type::STR:
      *out += JsonQuote(std::string(o.via.str.ptr, o.via.str.size));
      break;
    case msgpack::type::BIN:
      *out += JsonQuote(std::string(o.via.bin.ptr, o.via.bin.size));
      break;
    case msgpack::type::ARRAY:
      *out += '[';
      for (uint32_t i = 0; i < o.via.array.size; i++) {
        if (i > 0) *out += ',';
        MsgpackToJson(o.via.array.ptr[i], out);
      }
      *out += ']';
      break;
    case msgpack::type::MAP:
      *out += '{';
      for (uint32_t i = 0; i < o.via.map.size; i++) {
        if (i > 0) *out += ',';
        const msgpack::object &key = o.via.map.ptr[i].key;
        if (key.type == msgpack::type::STR) {
          *out += JsonQuote(std::string(key.via.str.ptr, key.via.str.size));
        } else {
          std::string key_text;
          MsgpackToJson(key, &key_text);
          *out += JsonQuote(key_text);
        }
        *out += ':';
        MsgpackToJson(o.via.map.ptr[i].val, out);
      }
      *out += '}';
      break;
    default:
      throw std::runtime_error("this value cannot be written as JSON");
  }
}

/// Parses JSON text and packs the value it holds as msgpack.
class JsonToMsgpack {
 public:
  /// Parses `text` (one JSON value, surrounded by optional whitespace) into `out`; throws
  /// std::runtime_error on malformed JSON.
  static void Parse(const std::string &text, msgpack::sbuffer *out) {
    JsonToMsgpack parser(text, out);
    parser.SkipSpace();
    parser.Value(0);
    parser.SkipSpace();
    if (parser.pos_ != text.size()) parser.Fail("trailing characters");
  }

 private:
  JsonToMsgpack(const std::string &text, msgpack::sbuffer *out)
      : text_(text), out_buffer_(out), packer_(*out) {}

  [[noreturn]] void Fail(const std::string &what) const {
    throw std::runtime_error("invalid JSON at offset " + std::to_string(pos_) + ": " + what);
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      pos_++;
    }
  }
  bool Consume(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (text_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }
  void Value(int depth) {
    if (depth > 256) Fail("nesting too deep");
    if (pos_ >= text_.size()) Fail("unexpected end");
    char c = text_[pos_];
    if (c == '{') {
      Object(depth);
    } else if (c == '[') {
      Array(depth);
    } else if (c == '"') {
      std::string s = String();
      packer_.pack(s);
    } else if (Consume("true")) {
      packer_.pack_true();
    } else if (Consume("false")) {
      packer_.pack_false();
    } else if (Consume("null")) {
      packer_.pack_nil();
    } else {
      Number();
    }
  }
  void Object(int depth) {
    Container(depth, '}', true);
  }
  void Array(int depth) {
    Container(depth, ']', false);
  }
  // Parses an object ('{' ... '}') or an array ('[' ... ']') at pos_. Members are parsed into a
  // side buffer first because the map or array header needs their count.
  void Container(int depth, char close, bool is_object) {
    pos_++;  // '{' or '['
    SkipSpace();
    uint32_t count = 0;
    msgpack::sbuffer body;
    if (pos_ < text_.size() && text_[pos_] == close) {
      pos_++;
    } else {
      JsonToMsgpack inner(text_, &body);
      inner.pos_ = pos_;
      for (;;) {
        inner.SkipSpace();
        if (is_object) {
          if (inner.pos_ >= text_.size() || text_[inner.pos_] != '"') inner.Fail("expected a key");
          std::string key = inner.String();
          inner.packer_.pack(key);
          inner.SkipSpace();
          if (inner.pos_ >= text_.size() || text_[inner.pos_] != ':') inner.Fail("expected ':'");
          inner.pos_++;
          inner.SkipSpace();
        }
        inner.Value(depth + 1);
        count++;
        inner.SkipSpace();
        if (inner.pos_ < text_.size() && text_[inner.pos_] == ',') {
          inner.pos_++;
          continue;
        }
        if (inner.pos_ < text_.size() && text_[inner.pos_] == close) {
          inner.pos_++;
          break;
        }
        inner.Fail(std::string("expected ',' or '") + close + "'");
      }
      pos_ = inner.pos_;
    }
    if (is_object) {
      packer_.pack_map(count);
    } else {
      packer_.pack_array(count);
    }
    Append(body);
  }
  void Append(const msgpack::sbuffer &body) { out_buffer_->write(body.data(), body.size()); }
  static void AppendUtf8(unsigned code, std::string *s) {
    if (code < 0x80) {
      *s += static_cast<char>(code);
    } else if (code < 0x800) {
      *s += static_cast<char>(0xC0 | (code >> 6));
      *s += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      *s += static_cast<char>(0xE0 | (code >> 12));
      *s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *s += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      *s += static_cast<char>(0xF0 | (code >> 18));
      *s += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      *s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *s += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  unsigned Hex4() {
    if (pos_ + 4 > text_.size()) Fail("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        Fail("bad \\u escape");
      }
    }
    return v;
  }
  std::string String() {
    pos_++;  // '"'
    std::string s;
    for (;;) {
      if (pos_ >= text_.size()) Fail("unterminated string");
      char c = text_[pos_++];
      if (c == '"') break;
      if (c != '\\') {
        s += c;
        continue;
      }
      if (pos_ >= text_.size()) Fail("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case '/':
          s += '/';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'u': {
          unsigned code = Hex4();
          if (code >= 0xD800 && code < 0xDC00 && Consume("\\u")) {
            unsigned low = Hex4();
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(code, &s);
          break;
        }
        default:
          Fail("bad escape");
      }
    }
    return s;
  }
  void Number() {
    size_t start = pos_;
    bool is_float = false;
    if (pos_ < text_.size() && text_[pos_] == '-') pos_++;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c >= '0' && c <= '9') {
        pos_++;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        is_float = true;
        pos_++;
      } else {
        break;
      }
    }
    std::string num = text_.substr(start, pos_ - start);
    if (num.empty() || num == "-") Fail("unexpected character");
    char *end = nullptr;
    if (!is_float) {
      errno = 0;
      if (num[0] == '-') {
        long long v = std::strtoll(num.c_str(), &end, 10);
        if (errno == 0 && end && *end == '\0') {
          packer_.pack(static_cast<int64_t>(v));
          return;
        }
      } else {
        unsigned long long v = std::strtoull(num.c_str(), &end, 10);
        if (errno == 0 && end && *end == '\0') {
          packer_.pack(static_cast<uint64_t>(v));
          return;
        }
      }
    }
    double d = std::strtod(num.c_str(), &end);
    if (!end || *end != '\0') Fail("bad number");
    packer_.pack(d);
  }

  const std::string &text_;
  size_t pos_ = 0;
  msgpack::sbuffer *out_buffer_ = nullptr;
  msgpack::packer<msgpack::sbuffer> packer_;
};

}  // namespace internal
}  // namespace ray
