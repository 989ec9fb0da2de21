#include "facelib/image.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>

#include "facelib/base64.h"
#include "runtime/error.h"

namespace facelib {
// stb reports broken internal invariants through STBI_ASSERT. Hostile input
// must never abort the process, so such a check becomes an exception; the
// decoder's partial allocations leak on that path, which is preferable to a
// crash and only reachable through a decoder bug.
[[noreturn]] static void StbCheckFailed(const char* expr) {
  throw Error(ErrorCode::kInvalidArgument,
              std::string("image decoder consistency check failed (corrupt input?): ") + expr);
}
}  // namespace facelib

// stb is compiled into this translation unit only, with static linkage so it
// cannot clash with another copy elsewhere in a binary. Only the formats we
// accept are built, which also keeps the attack surface small. Decoding works
// on memory buffers; files are read by our own code so errors are ours too.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#define STBI_ASSERT(x) ((x) ? (void)0 : ::facelib::StbCheckFailed(#x))
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#define STBIW_ASSERT(x) ((x) ? (void)0 : ::facelib::StbCheckFailed(#x))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include "stb_image.h"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

// The failure reason must be per thread for concurrent decodes to report
// their own errors; stb makes it thread_local whenever the compiler allows.
#ifndef STBI_THREAD_LOCAL
#error "stb_image without thread-local storage: decoding would not be thread-safe"
#endif

namespace facelib {
namespace {

namespace fs = std::filesystem;

// Paths may be huge strings (e.g. a base64 blob that fell through to the path
// branch); keep messages readable.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 200;
  if (s.size() <= kMax) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, kMax)) + "...' (" + std::to_string(s.size()) + " bytes)";
}

std::string Dims(uint64_t w, uint64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[1] << 8 | p[0]); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[3]) << 24 | static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[1]) << 8 | p[0];
}

bool IsJpeg(const uint8_t* data, size_t size) { return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF; }

// Walks the marker segments of a JPEG header up to the start of scan, calling
// visit(marker, payload, payload_size) for each segment with a length field.
// visit returns false to stop. Truncated or malformed structure ends the walk.
template <typename Visit>
void WalkJpegSegments(const uint8_t* data, size_t size, Visit visit) {
  if (size < 2 || data[0] != 0xFF || data[1] != 0xD8) return;
  size_t pos = 2;
  while (pos < size) {
    if (data[pos] != 0xFF) return;
    while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return;
    const uint8_t marker = data[pos++];
    if (marker == 0xD9 || marker == 0xDA) return;  // EOI / SOS: header over
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // no length field
    if (size - pos < 2) return;
    const size_t len = Be16(data + pos);
    if (len < 2 || len > size - pos) return;
    if (!visit(marker, data + pos + 2, len - 2)) return;
    pos += len;
  }
}

// Orientation from an APP1 payload: "Exif\0\0" then a TIFF structure whose
// IFD0 may hold tag 0x0112. All offsets are relative to the TIFF header and
// untrusted, so every access is checked against the payload size.
int ExifOrientationFromApp1(const uint8_t* p, size_t n) {
  static const uint8_t kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
  if (n < 6 || std::memcmp(p, kExif, 6) != 0) return 0;
  const uint8_t* tiff = p + 6;
  const size_t len = n - 6;
  if (len < 8) return 1;
  bool little;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    little = true;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    little = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t off) { return little ? Le16(tiff + off) : Be16(tiff + off); };
  auto u32 = [&](size_t off) { return little ? Le32(tiff + off) : Be32(tiff + off); };
  if (u16(2) != 42) return 1;
  const uint64_t ifd = u32(4);
  if (ifd + 2 > len) return 1;
  const uint32_t count = u16(static_cast<size_t>(ifd));
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t entry = ifd + 2 + 12ull * i;
    if (entry + 12 > len) break;
    const size_t e = static_cast<size_t>(entry);
    if (u16(e) != 0x0112) continue;
    const uint16_t type = u16(e + 2);
    const uint32_t n_values = u32(e + 4);
    if (n_values < 1) return 1;
    // The value fits in the entry's 4-byte value field. SHORT is what the
    // standard prescribes; LONG appears in the wild.
    uint32_t value = 0;
    if (type == 3) {
      value = u16(e + 8);
    } else if (type == 4) {
      value = u32(e + 8);
    } else {
      return 1;
    }
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

// The stb_image snapshot shipped by the distribution trusts the code counts
// of a JPEG Huffman table (DHT): counts summing past 256 overrun its fixed
// tables. Every DHT segment in the stream, including those between scans of
// a progressive JPEG, must therefore be well formed before stb sees it.
// Returns an empty string if all tables are sound, else what is wrong.
std::string CheckJpegHuffmanTables(const uint8_t* d, size_t n) {
  size_t pos = 2;
  while (pos + 1 < n) {
    // Segments are skipped by their length so payload bytes (e.g. EXIF) are
    // never mistaken for markers; entropy-coded data is scanned bytewise.
    if (d[pos] != 0xFF) {
      ++pos;
      continue;
    }
    const uint8_t m = d[pos + 1];
    if (m == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) {  // stuffing, TEM, SOI, RSTn
      pos += 2;
      continue;
    }
    if (m == 0xD9) break;  // EOI
    if (n - pos < 4) break;
    const size_t len = Be16(d + pos + 2);
    if (len < 2) break;  // stb rejects this itself
    if (m == 0xC4) {
      if (len > n - pos - 2) return "Huffman table segment at offset " + std::to_string(pos) + " is truncated";
      const uint8_t* t = d + pos + 4;
      const size_t tlen = len - 2;
      size_t off = 0;
      while (off < tlen) {
        const std::string where = "Huffman table at offset " + std::to_string(pos + 4 + off);
        if (tlen - off < 17) return where + " has a truncated header";
        if ((t[off] >> 4) > 1 || (t[off] & 15) > 3) return where + " has an invalid class/index byte";
        size_t codes = 0;
        for (int i = 1; i <= 16; ++i) codes += t[off + i];
        if (codes > 256) return where + " declares " + std::to_string(codes) + " codes (at most 256)";
        if (codes > tlen - off - 17) return where + " is larger than its segment";
        off += 17 + codes;
      }
    }
    pos += 2 + len;
  }
  return {};
}

struct HeaderDims {
  bool known = false;
  uint64_t width = 0;
  uint64_t height = 0;
};

// Dimensions straight from the container header, used when stb's own header
// probe refuses an image (stb rejects very large images with a generic
// "too large" before telling us their size) so that the bomb guard can report
// the claimed size with the right error category.
HeaderDims ProbeDims(const uint8_t* d, size_t n) {
  HeaderDims r;
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n >= 24 && std::memcmp(d, kPng, 8) == 0 && std::memcmp(d + 12, "IHDR", 4) == 0) {
    return {true, Be32(d + 16), Be32(d + 20)};
  }
  if (n >= 10 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) {
    return {true, Le16(d + 6), Le16(d + 8)};
  }
  if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    const uint32_t header_size = Le32(d + 14);
    if (header_size == 12) return {true, Le16(d + 18), Le16(d + 20)};
    const auto w = static_cast<int32_t>(Le32(d + 18));
    const auto h = static_cast<int32_t>(Le32(d + 22));  // negative: top-down rows
    const auto mag = [](int32_t v) { return v < 0 ? uint64_t{0} - static_cast<uint64_t>(static_cast<int64_t>(v)) : uint64_t(v); };
    return {true, mag(w), mag(h)};
  }
  if (IsJpeg(d, n)) {
    WalkJpegSegments(d, n, [&](uint8_t marker, const uint8_t* p, size_t len) {
      const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (!sof) return true;
      if (len >= 5) r = {true, Be16(p + 3), Be16(p + 1)};
      return false;
    });
  }
  return r;
}

std::string StbReason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown decoder failure";
}

// stbi_info tries every format in turn and, when all fail, reports only
// "not of any known type". For input that carries a known signature, rerun
// just that format's header parser (header only, no pixel allocation) to
// learn the actual defect, e.g. "Corrupt PNG". Empty if not applicable.
std::string HeaderFailureOfSignedFormat(const uint8_t* d, int n) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  stbi__context ctx;
  stbi__start_mem(&ctx, d, n);
  int w = 0, h = 0, comp = 0;
  int ok = 1;
  if (n >= 8 && std::memcmp(d, kPng, 8) == 0) {
    ok = stbi__png_info(&ctx, &w, &h, &comp);
  } else if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) {
    ok = stbi__jpeg_info(&ctx, &w, &h, &comp);
  } else if (n >= 4 && std::memcmp(d, "GIF8", 4) == 0) {
    ok = stbi__gif_info(&ctx, &w, &h, &comp);
  } else if (n >= 2 && d[0] == 'B' && d[1] == 'M') {
    ok = stbi__bmp_info(&ctx, &w, &h, &comp);
  }
  return ok ? std::string() : StbReason();
}

void CheckPixelLimit(uint64_t w, uint64_t h, const DecodeOptions& options) {
  const uint64_t pixels = w * h;  // both < 2^32, cannot overflow
  if (pixels > options.max_pixels) {
    throw Error(ErrorCode::kResourceExhausted, "image dimensions " + Dims(w, h) + " = " + std::to_string(pixels) +
                                                   " pixels exceed max_pixels " + std::to_string(options.max_pixels));
  }
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// True if `s` reads as base64 whose first bytes are a JPEG/PNG/GIF/BMP
// signature. Only the first 16 data characters are examined; the full string
// is validated by Base64Decode afterwards, so a stray character later on is
// reported as invalid base64 rather than as a missing file.
bool LooksLikeBase64Image(std::string_view s) {
  std::string head;
  for (char c : s) {
    if (IsAsciiSpace(c)) continue;
    if (!IsBase64Char(c) || head.size() == 16) break;
    head.push_back(c);
  }
  if (head.size() < 8) return false;
  head.resize(head.size() / 4 * 4);
  const std::vector<uint8_t> b = Base64Decode(head);
  if (b.size() >= 4 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return true;
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return true;
  if (b.size() >= 4 && b[0] == 'G' && b[1] == 'I' && b[2] == 'F' && b[3] == '8') return true;
  // "BM" alone is weak evidence; also require the header's reserved fields
  // (bytes 6..9) to be zero as every BMP writer leaves them.
  if (b.size() >= 10 && b[0] == 'B' && b[1] == 'M' && b[6] == 0 && b[7] == 0 && b[8] == 0 && b[9] == 0) return true;
  return false;
}

void AppendBytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

void ValidateForEncoding(const Image& image) {
  if (image.width <= 0 || image.height <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "cannot encode an image of size " + std::to_string(image.width) + "x" +
                                                 std::to_string(image.height));
  }
  if (image.channels != 1 && image.channels != 3) {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot encode an image with " + std::to_string(image.channels) + " channels (expected 1 or 3)");
  }
  const uint64_t bytes = uint64_t(image.width) * uint64_t(image.height) * uint64_t(image.channels);
  if (image.pixels.size() != bytes) {
    throw Error(ErrorCode::kInvalidArgument, "image pixel buffer holds " + std::to_string(image.pixels.size()) +
                                                 " bytes, expected " + std::to_string(bytes) + " for " +
                                                 Dims(image.width, image.height) + "x" + std::to_string(image.channels));
  }
  // The encoder computes offsets in int.
  if (bytes > INT_MAX) {
    throw Error(ErrorCode::kResourceExhausted, "image " + Dims(image.width, image.height) + " is too large to encode");
  }
}

}  // namespace

int ChannelsOf(PixelFormat fmt) {
  switch (fmt) {
    case PixelFormat::kGray: return 1;
    case PixelFormat::kRgb:
    case PixelFormat::kBgr: return 3;
    case PixelFormat::kRgba:
    case PixelFormat::kBgra: return 4;
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown pixel format " + std::to_string(static_cast<int>(fmt)));
}

const char* PixelFormatName(PixelFormat fmt) {
  switch (fmt) {
    case PixelFormat::kGray: return "GRAY";
    case PixelFormat::kRgb: return "RGB";
    case PixelFormat::kBgr: return "BGR";
    case PixelFormat::kRgba: return "RGBA";
    case PixelFormat::kBgra: return "BGRA";
  }
  return "unknown";
}

Image::Image(int w, int h, int c) : width(w), height(h), channels(c) {
  if (w <= 0 || h <= 0 || (c != 1 && c != 3)) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid image shape " + std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(c));
  }
  pixels.assign(static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(c), 0);
}

int JpegExifOrientation(const uint8_t* data, size_t size) {
  if (data == nullptr) return 1;
  int orientation = 1;
  WalkJpegSegments(data, size, [&](uint8_t marker, const uint8_t* p, size_t len) {
    if (marker != 0xE1) return true;
    const int o = ExifOrientationFromApp1(p, len);
    if (o == 0) return true;  // an APP1 that is not Exif (e.g. XMP)
    orientation = o;
    return false;
  });
  return orientation;
}

Image ApplyExifOrientation(const Image& src, int orientation) {
  if (orientation < 1 || orientation > 8) {
    throw Error(ErrorCode::kInvalidArgument, "EXIF orientation " + std::to_string(orientation) + " is not in 1..8");
  }
  if (orientation == 1) return src;
  const int w = src.width;
  const int h = src.height;
  const int c = src.channels;
  const bool swap = orientation >= 5;
  Image dst;
  dst.width = swap ? h : w;
  dst.height = swap ? w : h;
  dst.channels = c;
  dst.pixels.resize(src.pixels.size());
  // For each displayed pixel (ox, oy), the stored pixel (sx, sy) it shows.
  // The EXIF value says where the stored row 0 / column 0 end up:
  //   2 mirror horizontally   3 rotate 180         4 mirror vertically
  //   5 transpose             6 rotate 90 clockwise
  //   7 transverse            8 rotate 90 counter-clockwise
  for (int oy = 0; oy < dst.height; ++oy) {
    uint8_t* out = dst.at(0, oy);
    for (int ox = 0; ox < dst.width; ++ox, out += c) {
      int sx = ox;
      int sy = oy;
      switch (orientation) {
        case 2: sx = w - 1 - ox; sy = oy; break;
        case 3: sx = w - 1 - ox; sy = h - 1 - oy; break;
        case 4: sx = ox; sy = h - 1 - oy; break;
        case 5: sx = oy; sy = ox; break;
        case 6: sx = oy; sy = h - 1 - ox; break;
        case 7: sx = w - 1 - oy; sy = h - 1 - ox; break;
        case 8: sx = w - 1 - oy; sy = ox; break;
        default: break;
      }
      std::memcpy(out, src.at(sx, sy), static_cast<size_t>(c));
    }
  }
  return dst;
}

Image DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options) {
  if (data == nullptr || size == 0) throw Error(ErrorCode::kInvalidArgument, "empty image data");
  if (size > options.max_bytes) {
    throw Error(ErrorCode::kResourceExhausted, "encoded image of " + std::to_string(size) +
                                                   " bytes exceeds max_bytes " + std::to_string(options.max_bytes));
  }
  if (size > static_cast<size_t>(INT_MAX)) {
    throw Error(ErrorCode::kResourceExhausted,
                "encoded image of " + std::to_string(size) + " bytes exceeds the decoder limit of 2 GiB");
  }
  const int len = static_cast<int>(size);
  if (IsJpeg(data, size)) {
    const std::string defect = CheckJpegHuffmanTables(data, size);
    if (!defect.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "cannot decode image (" + std::to_string(size) + " bytes): corrupt JPEG: " + defect);
    }
  }

  // Header first: the bomb guard must run before any pixel memory exists.
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    std::string reason = StbReason();
    const HeaderDims probe = ProbeDims(data, size);
    if (probe.known) {
      if (probe.width == 0 || probe.height == 0) {
        throw Error(ErrorCode::kInvalidArgument, "cannot decode image (" + std::to_string(size) +
                                                     " bytes): header declares empty dimensions " +
                                                     Dims(probe.width, probe.height) + " (" + reason + ")");
      }
      CheckPixelLimit(probe.width, probe.height, options);
    }
    const std::string specific = HeaderFailureOfSignedFormat(data, len);
    if (!specific.empty()) reason = specific;
    throw Error(ErrorCode::kInvalidArgument,
                "cannot decode image (" + std::to_string(size) + " bytes): " + reason);
  }
  // A top-down BMP stores a negative height, which stbi_info passes through.
  if (h < 0 && h != INT_MIN) h = -h;
  if (w <= 0 || h <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "cannot decode image (" + std::to_string(size) +
                                                 " bytes): header declares invalid dimensions " +
                                                 std::to_string(w) + "x" + std::to_string(h));
  }
  CheckPixelLimit(static_cast<uint64_t>(w), static_cast<uint64_t>(h), options);

  const bool gray_source = comp == 1 || comp == 2;
  const int want = options.keep_gray && gray_source ? 1 : 3;
  int dw = 0, dh = 0, dc = 0;
  std::unique_ptr<stbi_uc, StbFree> decoded(stbi_load_from_memory(data, len, &dw, &dh, &dc, want));
  if (!decoded) {
    throw Error(ErrorCode::kInvalidArgument, "cannot decode image (" + std::to_string(size) + " bytes, " +
                                                 Dims(w, h) + "): " + StbReason());
  }
  if (dw <= 0 || dh <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "decoder returned invalid dimensions " + Dims(dw, dh));
  }
  CheckPixelLimit(static_cast<uint64_t>(dw), static_cast<uint64_t>(dh), options);

  Image image;
  image.width = dw;
  image.height = dh;
  image.channels = want;
  const size_t bytes = static_cast<size_t>(dw) * static_cast<size_t>(dh) * static_cast<size_t>(want);
  image.pixels.assign(decoded.get(), decoded.get() + bytes);
  decoded.reset();

  if (options.apply_exif_orientation && IsJpeg(data, size)) {
    const int orientation = JpegExifOrientation(data, size);
    if (orientation != 1) image = ApplyExifOrientation(image, orientation);
  }
  return image;
}

Image LoadImage(const std::string& path, const DecodeOptions& options) {
  if (path.empty()) throw Error(ErrorCode::kInvalidArgument, "empty image path");
  // The OS would silently cut the name at the NUL and open a different file.
  if (path.find('\0') != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument, "image path contains a NUL byte: " + Quote(path.substr(0, path.find('\0'))));
  }
  // std::filesystem::path built from std::string keeps the bytes as-is on
  // POSIX, so UTF-8 names reach the OS unchanged.
  const fs::path p(path);
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (st.type() == fs::file_type::not_found) {
    throw Error(ErrorCode::kNotFound, "image file not found: " + Quote(path));
  }
  if (ec) throw Error(ErrorCode::kIoError, "cannot access image file " + Quote(path) + ": " + ec.message());
  if (st.type() == fs::file_type::directory) {
    throw Error(ErrorCode::kIoError, "image path is a directory, not a file: " + Quote(path));
  }
  // FIFOs, devices and sockets could block forever or never end.
  if (st.type() != fs::file_type::regular) {
    throw Error(ErrorCode::kIoError, "image path is not a regular file: " + Quote(path));
  }
  const uintmax_t file_size = fs::file_size(p, ec);
  if (ec) throw Error(ErrorCode::kIoError, "cannot get size of image file " + Quote(path) + ": " + ec.message());
  if (file_size > options.max_bytes) {
    throw Error(ErrorCode::kResourceExhausted, "image file " + Quote(path) + " is " + std::to_string(file_size) +
                                                   " bytes, more than max_bytes " + std::to_string(options.max_bytes));
  }

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kIoError, "cannot open image file " + Quote(path) + ": " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(file_size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<uintmax_t>(in.gcount()) != file_size || in.bad()) {
    throw Error(ErrorCode::kIoError, "cannot read image file " + Quote(path) + ": got " +
                                         std::to_string(in.gcount()) + " of " + std::to_string(file_size) + " bytes");
  }
  try {
    return DecodeImage(bytes.data(), bytes.size(), options);
  } catch (const Error& e) {
    throw Error(e.code(), "image file " + Quote(path) + ": " + e.what());
  }
}

Image DecodeImageString(const std::string& s, const DecodeOptions& options) {
  size_t start = 0;
  while (start < s.size() && IsAsciiSpace(s[start])) ++start;
  const std::string_view text = std::string_view(s).substr(start);
  if (text.empty()) throw Error(ErrorCode::kInvalidArgument, "empty image string");

  if (IStartsWith(text, "data:")) {
    const size_t comma = text.find(',');
    if (comma == std::string_view::npos) {
      throw Error(ErrorCode::kInvalidArgument, "malformed data URI (no ',' before the payload): " + Quote(text.substr(0, 64)));
    }
    // "data:<mediatype>[;param]*[;base64],<payload>"
    const std::string_view header = text.substr(5, comma - 5);
    const size_t semi = header.find(';');
    const std::string_view media = header.substr(0, semi);
    bool base64 = false;
    for (size_t pos = semi; pos != std::string_view::npos;) {
      const size_t next = header.find(';', pos + 1);
      if (IEquals(header.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1),
                  "base64")) {
        base64 = true;
      }
      pos = next;
    }
    if (!media.empty() && !IStartsWith(media, "image/")) {
      throw Error(ErrorCode::kInvalidArgument, "data URI media type " + Quote(media) + " is not an image type");
    }
    if (!base64) throw Error(ErrorCode::kInvalidArgument, "data URI is not base64-encoded (missing ';base64')");
    const std::string_view payload = text.substr(comma + 1);
    // Base64 expands 3 bytes to 4 characters: refuse early rather than
    // decoding a huge payload only to reject it.
    if (payload.size() / 4 * 3 > options.max_bytes + 3) {
      throw Error(ErrorCode::kResourceExhausted, "data URI payload of " + std::to_string(payload.size()) +
                                                     " characters exceeds max_bytes " + std::to_string(options.max_bytes));
    }
    const std::vector<uint8_t> bytes = Base64Decode(payload);
    try {
      return DecodeImage(bytes.data(), bytes.size(), options);
    } catch (const Error& e) {
      throw Error(e.code(), std::string("data URI image: ") + e.what());
    }
  }

  // An existing file wins over the base64 interpretation; errors from stat
  // (e.g. a name too long for a path) simply mean "not a file".
  std::error_code ec;
  if (s.find('\0') == std::string::npos && fs::exists(fs::path(s), ec) && !ec) return LoadImage(s, options);

  if (LooksLikeBase64Image(text)) {
    if (text.size() / 4 * 3 > options.max_bytes + 3) {
      throw Error(ErrorCode::kResourceExhausted, "base64 image of " + std::to_string(text.size()) +
                                                     " characters exceeds max_bytes " + std::to_string(options.max_bytes));
    }
    const std::vector<uint8_t> bytes = Base64Decode(text);
    try {
      return DecodeImage(bytes.data(), bytes.size(), options);
    } catch (const Error& e) {
      throw Error(e.code(), std::string("base64 image: ") + e.what());
    }
  }
  return LoadImage(s, options);
}

Image FromRawPixels(const uint8_t* data, int width, int height, PixelFormat fmt, size_t stride_bytes, bool keep_gray) {
  const int c = ChannelsOf(fmt);
  if (width <= 0 || height <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "invalid raw image dimensions " + std::to_string(width) + "x" +
                                                 std::to_string(height));
  }
  if (data == nullptr) throw Error(ErrorCode::kInvalidArgument, "raw image data is null");
  const size_t packed = static_cast<size_t>(width) * static_cast<size_t>(c);
  const size_t stride = stride_bytes == 0 ? packed : stride_bytes;
  if (stride < packed) {
    throw Error(ErrorCode::kInvalidArgument, "raw image stride " + std::to_string(stride) + " bytes is less than width " +
                                                 std::to_string(width) + " x " + std::to_string(c) + " channels (" +
                                                 PixelFormatName(fmt) + ") = " + std::to_string(packed));
  }
  const bool gray_out = fmt == PixelFormat::kGray && keep_gray;
  Image out(width, height, gray_out ? 1 : 3);
  // Source channel index of R, G, B for each layout.
  int r = 0, g = 1, b = 2;
  if (fmt == PixelFormat::kBgr || fmt == PixelFormat::kBgra) std::swap(r, b);
  for (int y = 0; y < height; ++y) {
    const uint8_t* src = data + static_cast<size_t>(y) * stride;
    uint8_t* dst = out.at(0, y);
    if (gray_out || fmt == PixelFormat::kRgb) {
      std::memcpy(dst, src, out.row_bytes());
    } else if (fmt == PixelFormat::kGray) {
      for (int x = 0; x < width; ++x, dst += 3) dst[0] = dst[1] = dst[2] = src[x];
    } else {
      for (int x = 0; x < width; ++x, src += c, dst += 3) {
        dst[0] = src[r];
        dst[1] = src[g];
        dst[2] = src[b];
      }
    }
  }
  return out;
}

Image FromRawPixels(const ImageView& view, bool keep_gray) {
  return FromRawPixels(view.data, view.width, view.height, view.format, view.stride_bytes, keep_gray);
}

std::vector<uint8_t> EncodePng(const Image& image) {
  ValidateForEncoding(image);
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(AppendBytes, &out, image.width, image.height, image.channels, image.pixels.data(),
                              static_cast<int>(image.row_bytes()))) {
    throw Error(ErrorCode::kInternal, "PNG encoder failed for a " + Dims(image.width, image.height) + " image");
  }
  return out;
}

std::vector<uint8_t> EncodeJpeg(const Image& image, int quality) {
  ValidateForEncoding(image);
  if (quality < 1 || quality > 100) {
    throw Error(ErrorCode::kInvalidArgument, "JPEG quality " + std::to_string(quality) + " is not in 1..100");
  }
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(AppendBytes, &out, image.width, image.height, image.channels, image.pixels.data(),
                              quality)) {
    throw Error(ErrorCode::kInternal, "JPEG encoder failed for a " + Dims(image.width, image.height) + " image");
  }
  return out;
}

void SaveImage(const Image& image, const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  std::vector<uint8_t> bytes;
  if (ext == ".png") {
    bytes = EncodePng(image);
  } else if (ext == ".jpg" || ext == ".jpeg") {
    bytes = EncodeJpeg(image, 92);
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot save image " + Quote(path) + ": unsupported extension " + Quote(ext) + " (use .jpg, .jpeg or .png)");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::kIoError, "cannot open " + Quote(path) + " for writing: " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error(ErrorCode::kIoError, "failed writing image file " + Quote(path));
}

}  // namespace facelib
