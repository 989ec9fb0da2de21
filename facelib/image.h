// Image input layer: decode JPEG/PNG/BMP/GIF from files, memory, base64 or
// data URIs, wrap raw pixel buffers, and save JPEG/PNG.
//
// Every image handed to the rest of facelib is 8-bit, row-major H x W x C with
// C == 3 in RGB order (not OpenCV's BGR) or C == 1 for grayscale.
//
// Errors: every function throws facelib::Error (runtime/error.h); messages
// name the file, field or value at fault.
//
// Thread safety: all functions here are safe to call concurrently from any
// number of threads. The decoder keeps no shared mutable state: its failure
// reason is thread-local and its process-wide options (vertical flip,
// iPhone-PNG conversion) are never changed by facelib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace facelib {

// Memory layout of a raw 8-bit interleaved pixel buffer.
enum class PixelFormat { kGray, kRgb, kBgr, kRgba, kBgra };

// Bytes per pixel of `fmt` (1, 3 or 4).
int ChannelsOf(PixelFormat fmt);
const char* PixelFormatName(PixelFormat fmt);

// Non-owning view of an 8-bit interleaved buffer. stride_bytes == 0 means
// tightly packed rows (width * channels).
struct ImageView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kRgb;
  size_t stride_bytes = 0;
};

// Owning image: 8-bit, row-major H x W x C; channels == 3 means RGB order,
// channels == 1 means gray. pixels.size() == width * height * channels.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  // Zero-filled image; throws kInvalidArgument unless width, height > 0 and
  // channels is 1 or 3.
  Image(int width, int height, int channels);

  bool empty() const { return pixels.empty(); }
  size_t row_bytes() const { return static_cast<size_t>(width) * static_cast<size_t>(channels); }
  // First channel of pixel (x, y); no bounds check.
  uint8_t* at(int x, int y) { return pixels.data() + static_cast<size_t>(y) * row_bytes() + static_cast<size_t>(x) * channels; }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + static_cast<size_t>(y) * row_bytes() + static_cast<size_t>(x) * channels;
  }
  PixelFormat format() const { return channels == 1 ? PixelFormat::kGray : PixelFormat::kRgb; }
  ImageView view() const { return ImageView{pixels.data(), width, height, format(), row_bytes()}; }
};

struct DecodeOptions {
  // Decompression-bomb guard: images whose header claims more pixels than
  // this are rejected (kResourceExhausted) before any pixel memory is
  // allocated.
  uint64_t max_pixels = 50'000'000;
  // Encoded inputs (files, buffers, decoded base64) larger than this are
  // rejected with kResourceExhausted; files are checked before reading.
  uint64_t max_bytes = 512ull << 20;
  // Gray and gray+alpha sources decode to 1 channel instead of RGB.
  bool keep_gray = false;
  // Rotate/flip JPEGs according to their EXIF orientation tag so the result
  // is upright as a viewer would show it.
  bool apply_exif_orientation = true;
};

// Decodes a JPEG, PNG, BMP or GIF file. The path is used as a byte string, so
// UTF-8 names work. Missing file -> kNotFound; directory or unreadable ->
// kIoError; bad contents -> see DecodeImage.
Image LoadImage(const std::string& path, const DecodeOptions& options = {});

// Decodes encoded bytes. GIF: first frame only. 16-bit PNG is reduced to 8
// bits; alpha is dropped; gray becomes RGB unless options.keep_gray.
// Empty, corrupt, truncated or unrecognised data -> kInvalidArgument with the
// decoder's reason; zero or oversized dimensions -> kInvalidArgument /
// kResourceExhausted.
Image DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options = {});

// Accepts, like DeepFace's image arguments:
//  - a data URI "data:image/<type>;base64,<payload>";
//  - a path to an existing file;
//  - a bare base64 string of a JPEG/PNG/BMP/GIF file (recognised by the
//    format signature in its first bytes);
//  - anything else is treated as a file path (kNotFound if it does not exist).
// Base64 may contain whitespace/newlines and omit padding; bad characters give
// kInvalidArgument "invalid base64 ...".
Image DecodeImageString(const std::string& s, const DecodeOptions& options = {});

// Copies a raw 8-bit buffer into an RGB image (or a gray one if the source is
// gray and keep_gray is set). stride_bytes == 0 means tightly packed rows;
// otherwise it must be >= width * channels. Throws kInvalidArgument for a
// null buffer, non-positive dimensions or a short stride.
Image FromRawPixels(const uint8_t* data, int width, int height, PixelFormat fmt, size_t stride_bytes = 0,
                    bool keep_gray = false);
Image FromRawPixels(const ImageView& view, bool keep_gray = false);

// Writes .jpg/.jpeg (quality 92) or .png, chosen by the (case-insensitive)
// extension. Other extensions or an invalid image -> kInvalidArgument; a
// failed write -> kIoError naming the path.
void SaveImage(const Image& image, const std::string& path);

// Encodes to PNG or JPEG bytes in memory (quality 1..100 for JPEG).
std::vector<uint8_t> EncodePng(const Image& image);
std::vector<uint8_t> EncodeJpeg(const Image& image, int quality = 92);

// EXIF orientation (1..8) of a JPEG stream; 1 if absent, malformed or not a
// JPEG. Never throws on hostile input.
int JpegExifOrientation(const uint8_t* data, size_t size);

// Applies an EXIF orientation (1..8) so a stored image becomes upright.
// Orientations 5..8 swap width and height. Other values -> kInvalidArgument.
Image ApplyExifOrientation(const Image& image, int orientation);

}  // namespace facelib
