// goray: Ray's C++ API on a Go runtime.
//
// msgpack serialization of values, with collection of the ObjectRef ids a value contains; the
// streams that measure a value and pack it straight into a fixed buffer (an object being created
// in the shared-memory store); zero-copy unpacking.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <ray/api/common.h>
#include <ray/api/msgpack_adaptor.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace ray {
namespace internal {

/// The slot of this thread's active collector of contained ObjectRef ids (nullptr when none).
/// ObjectRef's msgpack packer appends its id to the active collector.
inline std::vector<std::string> *&ContainedIdCollectorSlot() {
  static thread_local std::vector<std::string> *slot = nullptr;
  return slot;
}

/// While alive, collects the id of every ObjectRef packed on this thread (nests: an inner collector
/// hides the outer one until it is destroyed).
class ContainedIdCollector {
 public:
  /// Makes this collector the active one on this thread.
  ContainedIdCollector() : previous_(ContainedIdCollectorSlot()) {
    ContainedIdCollectorSlot() = &ids_;
  }
  /// Restores the previously active collector.
  ~ContainedIdCollector() { ContainedIdCollectorSlot() = previous_; }
  ContainedIdCollector(const ContainedIdCollector &) = delete;
  ContainedIdCollector &operator=(const ContainedIdCollector &) = delete;

  /// The ids collected so far, in packing order (may repeat).
  const std::vector<std::string> &Ids() const { return ids_; }

  /// Records an id in the active collector of this thread, if any.
  static void Record(const std::string &id) {
    if (auto *ids = ContainedIdCollectorSlot()) {
      if (!id.empty()) ids->push_back(id);
    }
  }

 private:
  std::vector<std::string> *previous_;
  std::vector<std::string> ids_;
};

/// A msgpack output stream that stores nothing and only adds up the sizes it is given: packing a
/// value into it (msgpack::pack(stream, value)) measures the exact size of the value's msgpack
/// bytes without writing them anywhere.
class ByteCountingStream {
 public:
  /// Counts `size` more bytes; the bytes themselves are not read.
  void write(const char *data, size_t size) {
    (void)data;
    size_ += size;
  }

  /// The number of bytes counted so far.
  size_t Size() const { return size_; }

 private:
  size_t size_ = 0;
};

/// A msgpack output stream over a caller-owned buffer of fixed capacity (for example an object
/// being created in the node's shared-memory store): bytes are copied straight into it. Writing
/// past its end throws RayException and writes nothing; the buffer is never grown.
class FixedBufferStream {
 public:
  /// A stream that writes into the `capacity` bytes at `data`.
  FixedBufferStream(char *data, size_t capacity) : data_(data), capacity_(capacity) {}

  /// Appends `size` bytes; throws RayException when they do not fit in what is left.
  void write(const char *bytes, size_t size) {
    if (size > capacity_ - size_) {
      throw RayException("Put: the value packed to more msgpack bytes than the " +
                         std::to_string(capacity_) +
                         " measured for it (does its msgpack_pack write different bytes each "
                         "time it is called?)");
    }
    if (size != 0) std::memcpy(data_ + size_, bytes, size);
    size_ += size;
  }

  /// The number of bytes written so far.
  size_t Size() const { return size_; }

  /// The capacity given at construction.
  size_t Capacity() const { return capacity_; }

 private:
  char *data_;
  size_t capacity_;
  size_t size_ = 0;
};

/// What measuring a value gives: the size of its msgpack bytes and the ids of the ObjectRefs it
/// contains.
struct MeasuredValue {
  /// Exact size of the value's msgpack bytes.
  size_t size = 0;
  /// Contained ids, RAY_ID_SIZE bytes each, back to back, without duplicates.
  std::string contained_ids;
  /// Number of ids in contained_ids.
  size_t NumContained() const { return contained_ids.size() / RAY_ID_SIZE; }
};

/// The msgpack unpack reference function of zero-copy unpacking: always true, so str, bin and ext
/// objects point into the source buffer instead of being copied into the unpacking zone. The
/// source buffer must then outlive the conversion of the unpacked object (Deserialize converts
/// before it returns).
inline bool ReferenceSourceBuffer(msgpack::type::object_type type, std::size_t size,
                                  void *user_data) {
  (void)type;
  (void)size;
  (void)user_data;
  return true;
}

/// A serialized value: its msgpack bytes and the ids of the ObjectRefs inside it.
struct SerializedValue {
  /// msgpack bytes.
  msgpack::sbuffer buffer;
  /// Contained ids, RAY_ID_SIZE bytes each, back to back, without duplicates.
  std::string contained_ids;
  /// Number of ids in contained_ids.
  size_t NumContained() const { return contained_ids.size() / RAY_ID_SIZE; }
};

/// msgpack (de)serialization used for every value the API stores or sends.
class Serializer {
 public:
  /// Packs a value into msgpack bytes.
  template <typename T>
  static msgpack::sbuffer Serialize(const T &t) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, t);
    return buffer;
  }

  /// Packs bytes as one msgpack bin value (what Deserialize<std::vector<char>> or
  /// Deserialize<std::string> reads back).
  static msgpack::sbuffer Serialize(const char *data, size_t size) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(&buffer);
    packer.pack_bin(static_cast<uint32_t>(size));
    packer.pack_bin_body(data, static_cast<uint32_t>(size));
    return buffer;
  }

  /// Packs a value and collects the ids of the ObjectRefs it contains.
  template <typename T>
  static SerializedValue SerializeWithRefs(const T &t) {
    SerializedValue out;
    ContainedIdCollector collector;
    msgpack::pack(out.buffer, t);
    out.contained_ids = PackIds(collector.Ids());
    return out;
  }

  /// Measures a value: packs it into a ByteCountingStream (nothing is stored) and collects the
  /// ids of the ObjectRefs it contains.
  template <typename T>
  static MeasuredValue Measure(const T &t) {
    MeasuredValue out;
    ContainedIdCollector collector;
    ByteCountingStream counter;
    msgpack::pack(counter, t);
    out.size = counter.Size();
    out.contained_ids = PackIds(collector.Ids());
    return out;
  }

  /// Packs a value measured before with Measure into `stream` (any msgpack stream). The
  /// ObjectRefs inside are not collected again: Measure did that, and a collector active around
  /// this call does not see them either.
  template <typename Stream, typename T>
  static void PackMeasured(Stream &stream, const T &t) {
    ContainedIdCollector already_collected;  // hides any outer collector; its ids are dropped
    msgpack::pack(stream, t);
  }

  /// Packs a value measured before with Measure into exactly `size` bytes at `data` (its measured
  /// size). Throws RayException when the value packs to more bytes than that (nothing is written
  /// past data + size) or to fewer.
  template <typename T>
  static void PackInto(const T &t, char *data, size_t size) {
    FixedBufferStream stream(data, size);
    PackMeasured(stream, t);
    if (stream.Size() != size) {
      throw RayException("Put: the value packed to " + std::to_string(stream.Size()) +
                         " msgpack bytes, fewer than the " + std::to_string(size) +
                         " measured for it (does its msgpack_pack write different bytes each "
                         "time it is called?)");
    }
  }

  /// Unpacks msgpack bytes into a T; throws msgpack exceptions on malformed data or a type
  /// mismatch. Zero-copy: strings, binaries and extensions are converted straight from `data`
  /// (which must stay valid during the call), so a large value is copied once, into the T.
  template <typename T>
  static T Deserialize(const char *data, size_t size) {
    msgpack::object_handle handle = msgpack::unpack(data, size, &ReferenceSourceBuffer);
    return handle.get().as<T>();
  }

  /// Unpacks msgpack bytes into an existing object (zero-copy, like Deserialize above).
  template <typename T>
  static void Deserialize(const char *data, size_t size, T *out) {
    msgpack::object_handle handle = msgpack::unpack(data, size, &ReferenceSourceBuffer);
    handle.get().convert(*out);
  }
};

}  // namespace internal
}  // namespace ray
