// Readers for dlib's own storage formats, as used by the files of Debian's
// libdlib-dev / libdlib-data:
//  - base64 text (standard alphabet, '=' padding);
//  - compress_stream::kernel_1ea: an order-4 PPM model (escape method D, a
//    200000-node context trie) driving a 32-bit range coder, a marker symbol
//    every 20000 symbols, an end-of-data symbol (256) and a CRC-32 of the
//    output;
//  - dlib serialisation: integers as a control byte (bit 7 = negative, low 4
//    bits = byte count) plus little-endian bytes; floating point numbers as
//    two such integers (mantissa, exponent: value = mantissa * 2^exponent);
//    matrices as -rows, -cols and the elements; std::vector as its size and
//    the elements;
//  - object_detector<scan_fhog_pyramid<pyramid_down<N>>> and shape_predictor.
//
// Every reader checks bounds and structure; malformed input ends in
// Error(kInvalidModel) naming the file and field, unsupported variants in
// kUnsupported, oversized output in kResourceExhausted. All functions are
// pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace facelib::convert::dlibfmt {

// Strict base64: A-Z a-z 0-9 + /, optional '=' padding at the end, ASCII
// whitespace ignored; anything else (or a length that is not a whole number
// of 4-character groups) is an error.
std::vector<uint8_t> DecodeBase64(const std::string& text, const std::string& label);

// CRC-32 (polynomial 0xEDB88320, initial and final xor 0xFFFFFFFF), as dlib's crc32.
uint32_t Crc32(const uint8_t* data, size_t size);

// Decompresses a compress_stream::kernel_1ea stream and verifies its CRC-32.
std::vector<uint8_t> DecompressKernel1ea(const uint8_t* data, size_t size, const std::string& label,
                                         size_t max_output = size_t{64} << 20);

// The base64 text held in frontal_face_detector.h (every `sout << "..."`
// literal of get_serialized_frontal_faces(), concatenated) and the N of the
// header's pyramid_down<N> typedef.
struct DetectorHeader {
  std::string base64;
  int pyramid_down = 0;
};
DetectorHeader ExtractDetectorHeader(const std::string& header_text, const std::string& label);

// Reads dlib-serialised values from a byte buffer.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string label) : p_(data), end_(data + size), label_(std::move(label)) {}
  // An integer of a type that is `max_bytes` wide (4 for int, 8 for long).
  int64_t Signed(const std::string& what, int max_bytes = 8);
  uint64_t Unsigned(const std::string& what, int max_bytes = 8);
  // Floating point values, converted as dlib converts them into a double / a float.
  double Double(const std::string& what);
  float Float(const std::string& what);
  // A size field (unsigned long) that must not exceed `limit`.
  size_t Size(const std::string& what, size_t limit);
  // The dimensions of a serialised matrix (either sign convention).
  void MatrixDims(const std::string& what, int64_t* rows, int64_t* cols);
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  size_t offset(const uint8_t* base) const { return static_cast<size_t>(p_ - base); }
  const std::string& label() const { return label_; }

 private:
  uint8_t Byte(const std::string& what);
  const uint8_t* p_;
  const uint8_t* end_;
  std::string label_;
};

// object_detector<scan_fhog_pyramid<...>> (object_detector version 1 or 2,
// scanner version 1).
struct HogDetector {
  int64_t cell_size = 0;
  uint64_t padding = 0;
  uint64_t window_width = 0, window_height = 0;
  uint64_t max_pyramid_levels = 0;
  uint64_t min_pyramid_layer_width = 0, min_pyramid_layer_height = 0;
  double nuclear_norm_regularization = 0;
  int filter_width = 0, filter_height = 0;  // fHOG window in cells, from the geometry above
  double overlap_iou = 0, overlap_percent_covered = 0;
  // One weight vector per detector: 31 planes of filter_height x filter_width
  // values (plane-major, row-major), then the detection threshold.
  std::vector<std::vector<double>> weights;
  static constexpr int kPlanes = 31;
};
HogDetector ParseObjectDetector(const std::vector<uint8_t>& bytes, const std::string& label);

// shape_predictor (version 1).
struct RegressionTree {
  std::vector<uint32_t> idx1, idx2;  // per split
  std::vector<float> thresh;         // per split
  std::vector<std::vector<float>> leaf_values;  // per leaf: 2 * num_parts values
};
struct ShapePredictorData {
  std::vector<float> initial_shape;  // x0, y0, x1, y1, ...
  std::vector<std::vector<RegressionTree>> forests;   // per cascade
  std::vector<std::vector<uint32_t>> anchor_idx;      // per cascade, per feature pixel
  std::vector<std::vector<float>> deltas;             // per cascade: dx0, dy0, dx1, dy1, ...
};
ShapePredictorData ParseShapePredictor(const std::vector<uint8_t>& bytes, const std::string& label);

}  // namespace facelib::convert::dlibfmt
