// Converter framework: every reader of a foreign format registers itself here
// under a format name, and facelib-convert dispatches to it. A converter turns
// source files into an rt::Graph in facelib's conventions (NHWC activations,
// Conv2D weights OHWI, Dense weights [K, N]; see runtime/OPS.md); the tool then
// adds provenance metadata and writes the model file.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/graph.h"

namespace facelib::convert {

struct ConvertRequest {
  std::vector<std::string> inputs;            // positional source files / architecture names
  std::map<std::string, std::string> options; // --key value (or --flag -> "1")

  const std::string& Input(size_t i, const char* what) const;
  std::string Option(const std::string& key, const std::string& def = "") const;
  bool Flag(const std::string& key) const { return options.count(key) != 0; }
};

struct Converter {
  std::string format;  // e.g. "onnx", "tfjs", "faceapi", "tflite", "torch"
  std::string usage;   // one line: arguments and options
  std::function<rt::Graph(const ConvertRequest&)> convert;
};

// Registration happens from static initialisers in each converter's .cc file.
bool RegisterConverter(Converter c);
const std::vector<Converter>& Converters();
const Converter* FindConverter(const std::string& format);

// Adds source_file<i>, source_sha256<i> and converter metadata to the graph.
void AddProvenance(rt::Graph* g, const std::string& format, const std::vector<std::string>& source_files);

// Errors raised while reading a foreign file: kInvalidModel for malformed input,
// kUnsupported for valid input this converter does not handle (naming the op,
// dtype or field).
[[noreturn]] void Malformed(const std::string& file, const std::string& what);
[[noreturn]] void Unsupported(const std::string& file, const std::string& what);

// Reads a whole file; kNotFound / kIoError.
std::vector<uint8_t> ReadFileBytes(const std::string& path, size_t max_bytes = size_t{2} << 30);

}  // namespace facelib::convert

#define FACELIB_CONCAT_INNER(a, b) a##b
#define FACELIB_CONCAT(a, b) FACELIB_CONCAT_INNER(a, b)
// FACELIB_REGISTER_CONVERTER({"onnx", "IN.onnx", ConvertOnnx});
#define FACELIB_REGISTER_CONVERTER(...) \
  static const bool FACELIB_CONCAT(kConverterRegistered_, __LINE__) = ::facelib::convert::RegisterConverter(__VA_ARGS__)
