// Base64 decoding (RFC 4648) for images passed as strings, e.g. from JSON
// requests or data URIs.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace facelib {

// Decodes standard base64 ("+/") and, for convenience, the URL-safe alphabet
// ("-_"). ASCII whitespace anywhere is skipped (MIME line breaks); trailing
// '=' padding is optional but, if present, must be correct and nothing but
// whitespace may follow it.
// Throws Error(kInvalidArgument) whose message starts with "invalid base64"
// and names the offending character and its offset, or the truncation.
std::vector<uint8_t> Base64Decode(std::string_view text);

// True if `c` belongs to either base64 alphabet (padding excluded).
bool IsBase64Char(char c);

}  // namespace facelib
