#include "converters/converter.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "runtime/sha256.h"

namespace facelib::convert {

namespace {
std::vector<Converter>& Registry() {
  static std::vector<Converter> r;
  return r;
}
}  // namespace

const std::string& ConvertRequest::Input(size_t i, const char* what) const {
  if (i >= inputs.size()) throw Error(ErrorCode::kInvalidArgument, std::string("missing argument: ") + what);
  return inputs[i];
}

std::string ConvertRequest::Option(const std::string& key, const std::string& def) const {
  auto it = options.find(key);
  return it == options.end() ? def : it->second;
}

bool RegisterConverter(Converter c) {
  Registry().push_back(std::move(c));
  return true;
}

const std::vector<Converter>& Converters() { return Registry(); }

const Converter* FindConverter(const std::string& format) {
  for (const Converter& c : Registry())
    if (c.format == format) return &c;
  return nullptr;
}

void AddProvenance(rt::Graph* g, const std::string& format, const std::vector<std::string>& source_files) {
  g->metadata["converter"] = "facelib-convert " + format;
  for (size_t i = 0; i < source_files.size(); ++i) {
    const std::string suffix = source_files.size() == 1 ? "" : std::to_string(i);
    const std::string& path = source_files[i];
    const size_t slash = path.find_last_of('/');
    g->metadata["source_file" + suffix] = slash == std::string::npos ? path : path.substr(slash + 1);
    g->metadata["source_sha256" + suffix] = rt::Sha256File(path);
  }
}

void Malformed(const std::string& file, const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, file + ": " + what);
}

void Unsupported(const std::string& file, const std::string& what) {
  throw Error(ErrorCode::kUnsupported, file + ": " + what);
}

std::vector<uint8_t> ReadFileBytes(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f)
    throw Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                "cannot open " + path + ": " + std::strerror(errno));
  const std::streamoff size = f.tellg();
  if (size < 0) throw Error(ErrorCode::kIoError, "cannot read " + path);
  if (static_cast<uint64_t>(size) > max_bytes)
    throw Error(ErrorCode::kResourceExhausted, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(ErrorCode::kIoError, "read error in " + path);
  return bytes;
}

}  // namespace facelib::convert
