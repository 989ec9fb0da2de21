#include "converters/protobuf.h"

#include <bit>
#include <cstring>

namespace facelib::convert::pb {

// Fixed-width values are copied straight from the little-endian wire format.
static_assert(std::endian::native == std::endian::little, "protobuf reader assumes a little-endian host");

namespace {

[[noreturn]] void Fail(const std::string& what) { throw DecodeError("protobuf: " + what); }

std::string FieldLabel(const Field& f) {
  return "field " + std::to_string(f.number) + " at byte " + std::to_string(f.offset);
}

void Expect(const Field& f, WireType want) {
  if (f.wire != want)
    Fail(FieldLabel(f) + " has wire type " + WireTypeName(f.wire) + ", expected " + WireTypeName(want));
}

}  // namespace

const char* WireTypeName(WireType t) {
  switch (t) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kStartGroup: return "start-group";
    case WireType::kEndGroup: return "end-group";
    case WireType::kFixed32: return "fixed32";
  }
  return "invalid";
}

uint64_t DecodeVarint(const uint8_t** p, const uint8_t* end) {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (*p >= end) Fail("truncated varint");
    const uint8_t b = *(*p)++;
    // The tenth byte may only contribute the top bit of a 64-bit value.
    if (i == 9 && b > 1) Fail("varint overflows 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) return v;
  }
  Fail("varint longer than 10 bytes");
}

uint64_t Reader::ReadVarint() {
  const size_t at = offset();
  try {
    return DecodeVarint(&p_, end_);
  } catch (const DecodeError& e) {
    throw DecodeError(std::string(e.what()) + " at byte " + std::to_string(at));
  }
}

bool Reader::Next(Field* f) {
  if (p_ >= end_) return false;
  f->offset = offset();
  const uint64_t tag = ReadVarint();
  const uint64_t number = tag >> 3;
  const uint8_t wire = static_cast<uint8_t>(tag & 7);
  if (number == 0 || number > 0x1fffffff) Fail("invalid field number " + std::to_string(number) + " at byte " + std::to_string(f->offset));
  f->number = static_cast<uint32_t>(number);
  f->bytes = {};
  f->scalar = 0;
  switch (wire) {
    case 0:
      f->wire = WireType::kVarint;
      f->scalar = ReadVarint();
      return true;
    case 1:
    case 5: {
      const size_t n = wire == 1 ? 8 : 4;
      if (static_cast<size_t>(end_ - p_) < n)
        Fail("truncated fixed" + std::to_string(n * 8) + " " + FieldLabel(*f));
      uint64_t v = 0;
      for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p_[i]) << (8 * i);  // little-endian on the wire
      p_ += n;
      f->wire = wire == 1 ? WireType::kFixed64 : WireType::kFixed32;
      f->scalar = v;
      return true;
    }
    case 2: {
      const uint64_t len = ReadVarint();
      if (len > static_cast<uint64_t>(end_ - p_))
        Fail("length " + std::to_string(len) + " of " + FieldLabel(*f) + " runs past the end of its message (" +
             std::to_string(end_ - p_) + " bytes left)");
      f->wire = WireType::kLengthDelimited;
      f->bytes = {p_, static_cast<size_t>(len)};
      p_ += len;
      return true;
    }
    case 3:
    case 4: Fail("group wire type in " + FieldLabel(*f) + " is not supported");
    default: Fail("invalid wire type " + std::to_string(wire) + " in " + FieldLabel(*f));
  }
}

uint64_t Field::AsUInt64() const {
  Expect(*this, WireType::kVarint);
  return scalar;
}

int64_t Field::AsInt64() const { return static_cast<int64_t>(AsUInt64()); }

int32_t Field::AsInt32() const {
  // int32 values are sign-extended to 64 bits on the wire; keep the low half.
  return static_cast<int32_t>(static_cast<uint32_t>(AsUInt64()));
}

bool Field::AsBool() const { return AsUInt64() != 0; }

float Field::AsFloat() const {
  Expect(*this, WireType::kFixed32);
  const uint32_t bits = static_cast<uint32_t>(scalar);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

double Field::AsDouble() const {
  Expect(*this, WireType::kFixed64);
  double v;
  std::memcpy(&v, &scalar, 8);
  return v;
}

std::string Field::AsString() const {
  Expect(*this, WireType::kLengthDelimited);
  return std::string(bytes.str());
}

Bytes Field::AsBytes() const {
  Expect(*this, WireType::kLengthDelimited);
  return bytes;
}

void AppendInt64s(const Field& f, std::vector<int64_t>* out, size_t max_total) {
  if (f.wire == WireType::kVarint) {
    if (out->size() >= max_total) Fail("too many values in " + FieldLabel(f));
    out->push_back(static_cast<int64_t>(f.scalar));
    return;
  }
  Expect(f, WireType::kLengthDelimited);
  const uint8_t* p = f.bytes.data;
  const uint8_t* end = p + f.bytes.size;
  while (p < end) {
    if (out->size() >= max_total) Fail("too many values in " + FieldLabel(f));
    try {
      out->push_back(static_cast<int64_t>(DecodeVarint(&p, end)));
    } catch (const DecodeError& e) {
      throw DecodeError(std::string(e.what()) + " in packed " + FieldLabel(f));
    }
  }
}

namespace {
template <typename T, WireType kWire>
void AppendFixed(const Field& f, std::vector<T>* out, size_t max_total) {
  constexpr size_t n = sizeof(T);
  if (f.wire == kWire) {
    if (out->size() >= max_total) Fail("too many values in " + FieldLabel(f));
    T v;
    std::memcpy(&v, &f.scalar, n);  // the low bytes hold the value (little-endian host)
    out->push_back(v);
    return;
  }
  Expect(f, WireType::kLengthDelimited);
  if (f.bytes.size % n != 0)
    Fail("packed " + FieldLabel(f) + " has " + std::to_string(f.bytes.size) + " bytes, not a multiple of " +
         std::to_string(n));
  const size_t count = f.bytes.size / n;
  if (count > max_total - out->size()) Fail("too many values in " + FieldLabel(f));
  const size_t old = out->size();
  out->resize(old + count);
  std::memcpy(out->data() + old, f.bytes.data, count * n);
}
}  // namespace

void AppendFloats(const Field& f, std::vector<float>* out, size_t max_total) {
  AppendFixed<float, WireType::kFixed32>(f, out, max_total);
}

void AppendDoubles(const Field& f, std::vector<double>* out, size_t max_total) {
  AppendFixed<double, WireType::kFixed64>(f, out, max_total);
}

}  // namespace facelib::convert::pb
