#include "facelib/base64.h"

#include <string>

#include "runtime/error.h"

namespace facelib {
namespace {

// Sextet value of a base64 character, or -1.
int SextetOf(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// Printable rendering of a byte for error messages; control and non-ASCII
// bytes would otherwise garble the message.
std::string Describe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

}  // namespace

bool IsBase64Char(char c) { return SextetOf(c) >= 0; }

std::vector<uint8_t> Base64Decode(std::string_view text) {
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int pending = 0;       // sextets accumulated in the current quantum
  size_t n_data = 0;     // data characters seen in total
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (IsSpace(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = SextetOf(c);
    if (v < 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "invalid base64 character " + Describe(c) + " at offset " + std::to_string(i));
    }
    if (padding > 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "invalid base64: data character " + Describe(c) + " after '=' padding at offset " +
                      std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    ++n_data;
    if (++pending == 4) {
      out.push_back(static_cast<uint8_t>(acc >> 16));
      out.push_back(static_cast<uint8_t>(acc >> 8));
      out.push_back(static_cast<uint8_t>(acc));
      acc = 0;
      pending = 0;
    }
  }
  // A final quantum of 2 or 3 sextets carries 1 or 2 bytes; a single sextet
  // carries less than a byte, so the input was cut off.
  if (pending == 1) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid base64: truncated input (" + std::to_string(n_data) +
                    " data characters leaves a dangling 6-bit group)");
  }
  if (pending == 2) {
    out.push_back(static_cast<uint8_t>(acc >> 4));
  } else if (pending == 3) {
    out.push_back(static_cast<uint8_t>(acc >> 10));
    out.push_back(static_cast<uint8_t>(acc >> 2));
  }
  if (padding > 0) {
    const size_t expected = pending == 0 ? 0 : static_cast<size_t>(4 - pending);
    if (padding != expected) {
      throw Error(ErrorCode::kInvalidArgument,
                  "invalid base64: " + std::to_string(padding) + " '=' padding characters where " +
                      std::to_string(expected) + " expected");
    }
  }
  return out;
}

}  // namespace facelib
