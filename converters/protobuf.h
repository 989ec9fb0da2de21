// A minimal reader of the protobuf wire format (no schema, no reflection).
//
// Converters for protobuf-based formats (ONNX) walk a message field by field
// and interpret each field by its number. Every read is bounds-checked: input
// files are untrusted, so a truncated varint, a length that runs past the end
// of its message, or a wire type that does not fit the expected field all
// raise pb::DecodeError instead of reading out of range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace facelib::convert::pb {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: rejected
  kEndGroup = 4,
  kFixed32 = 5,
};

const char* WireTypeName(WireType t);

// A view of some bytes inside the buffer being decoded.
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::string_view str() const { return {reinterpret_cast<const char*>(data), size}; }
};

struct Field {
  uint32_t number = 0;
  WireType wire = WireType::kVarint;
  uint64_t scalar = 0;  // kVarint value, or the raw bits of kFixed32/kFixed64
  Bytes bytes;          // kLengthDelimited payload
  size_t offset = 0;    // where the field's tag starts, relative to the reader's base

  // Typed access; each checks the wire type and throws DecodeError naming the field.
  uint64_t AsUInt64() const;
  int64_t AsInt64() const;  // int64/int32/enum as two's complement (not zigzag)
  int32_t AsInt32() const;
  bool AsBool() const;
  float AsFloat() const;    // fixed32
  double AsDouble() const;  // fixed64
  std::string AsString() const;
  Bytes AsBytes() const;
};

class Reader {
 public:
  // `base` is the offset of `data` inside the whole file, so error messages
  // point at absolute byte positions.
  Reader(const uint8_t* data, size_t size, size_t base = 0) : p_(data), begin_(data), end_(data + size), base_(base) {}
  explicit Reader(Bytes b, size_t base = 0) : Reader(b.data, b.size, base) {}

  // Reads the next field; returns false at the end of the message.
  bool Next(Field* f);
  // Offset (absolute) of the next byte to be read.
  size_t offset() const { return base_ + static_cast<size_t>(p_ - begin_); }
  // Absolute offset of a view's first byte (for nested readers).
  size_t OffsetOf(const Bytes& b) const { return base_ + static_cast<size_t>(b.data - begin_); }
  Reader Sub(const Bytes& b) const { return Reader(b, OffsetOf(b)); }

 private:
  uint64_t ReadVarint();
  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  size_t base_;
};

// Decodes one varint from [*p, end); advances *p. Throws on truncation or a
// varint longer than 10 bytes.
uint64_t DecodeVarint(const uint8_t** p, const uint8_t* end);

// Repeated scalar fields may be packed (one length-delimited field) or not
// (one field per value); these append either form to `out`. `max_total` caps
// the number of values so a hostile file cannot make us allocate without bound.
void AppendInt64s(const Field& f, std::vector<int64_t>* out, size_t max_total = size_t{1} << 28);
void AppendFloats(const Field& f, std::vector<float>* out, size_t max_total = size_t{1} << 28);
void AppendDoubles(const Field& f, std::vector<double>* out, size_t max_total = size_t{1} << 28);

}  // namespace facelib::convert::pb
