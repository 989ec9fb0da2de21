#include "runtime/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace facelib::rt {
namespace {

[[noreturn]] void Bad(const std::string& label, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, label + ": " + what);
}

// Value of `key` in the header dict, as raw text up to the next ',' at depth 0.
std::string DictValue(const std::string& header, const std::string& key, const std::string& label) {
  const std::string k = "'" + key + "'";
  size_t p = header.find(k);
  if (p == std::string::npos) Bad(label, "npy header lacks " + k);
  p = header.find(':', p + k.size());
  if (p == std::string::npos) Bad(label, "npy header is malformed");
  ++p;
  int depth = 0;
  size_t e = p;
  for (; e < header.size(); ++e) {
    const char c = header[e];
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if ((c == ',' && depth == 0) || (c == '}' && depth == 0)) break;
  }
  std::string v = header.substr(p, e - p);
  const size_t b = v.find_first_not_of(" "), f = v.find_last_not_of(" ");
  return b == std::string::npos ? "" : v.substr(b, f - b + 1);
}

}  // namespace

Tensor ParseNpy(const uint8_t* data, size_t size, const std::string& label) {
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) Bad(label, "not a .npy file (bad magic)");
  const int major = data[6];
  size_t header_len, off;
  if (major == 1) {
    header_len = data[8] | (data[9] << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) Bad(label, "truncated .npy header");
    header_len = data[8] | (data[9] << 8) | (data[10] << 16) | (static_cast<size_t>(data[11]) << 24);
    off = 12;
  } else {
    Bad(label, "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > size - off) Bad(label, "truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(data + off), header_len);
  off += header_len;
  std::string descr = DictValue(header, "descr", label);
  const std::string fortran = DictValue(header, "fortran_order", label);
  std::string shape_s = DictValue(header, "shape", label);
  if (fortran != "False") Bad(label, "Fortran-ordered arrays are not supported");
  if (descr.size() < 4 || (descr.front() != '\'' && descr.front() != '"')) Bad(label, "bad dtype " + descr);
  descr = descr.substr(1, descr.size() - 2);
  const char endian = descr[0], kind = descr[1];
  const int bytes = std::atoi(descr.c_str() + 2);
  if (endian == '>') Bad(label, "big-endian arrays are not supported");
  Shape shape;
  {
    if (shape_s.size() < 2 || shape_s.front() != '(' || shape_s.back() != ')') Bad(label, "bad shape " + shape_s);
    std::stringstream ss(shape_s.substr(1, shape_s.size() - 2));
    std::string item;
    while (std::getline(ss, item, ',')) {
      const size_t b = item.find_first_not_of(" ");
      if (b == std::string::npos) continue;
      char* end = nullptr;
      const long long d = std::strtoll(item.c_str() + b, &end, 10);
      if (d < 0 || end == item.c_str() + b) Bad(label, "bad shape " + shape_s);
      shape.push_back(d);
    }
  }
  const int64_t n = NumElements(shape, int64_t{1} << 32);
  if (bytes <= 0 || static_cast<uint64_t>(n) * bytes > size - off)
    Bad(label, "data is shorter than shape " + ShapeToString(shape) + " x " + std::to_string(bytes) + " bytes");
  Tensor t;
  t.shape = shape;
  t.data.resize(n);
  const uint8_t* p = data + off;
  auto load = [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, p + i * sizeof(T), sizeof(T));
      t.data[i] = static_cast<float>(v);
    }
  };
  if (kind == 'f' && bytes == 4) load(float{});
  else if (kind == 'f' && bytes == 8) load(double{});
  else if (kind == 'u' && bytes == 1) load(uint8_t{});
  else if (kind == 'i' && bytes == 1) load(int8_t{});
  else if (kind == 'i' && bytes == 2) load(int16_t{});
  else if (kind == 'u' && bytes == 2) load(uint16_t{});
  else if (kind == 'i' && bytes == 4) load(int32_t{});
  else if (kind == 'i' && bytes == 8) load(int64_t{});
  else if (kind == 'b' && bytes == 1) load(uint8_t{});
  else Bad(label, "unsupported dtype '" + descr + "'");
  return t;
}

Tensor ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    throw Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                "cannot open " + path + ": " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return ParseNpy(bytes.data(), bytes.size(), path);
}

void WriteNpy(const std::string& path, const Shape& shape, const float* data) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) header += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  header += "), }";
  // Pad so that the data starts on a 64-byte boundary; the header ends in '\n'.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(ErrorCode::kIoError, "cannot write " + path + ": " + std::strerror(errno));
  const uint16_t hl = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.put(static_cast<char>(hl & 0xff));
  f.put(static_cast<char>(hl >> 8));
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  const int64_t n = NumElements(shape);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  if (!f) throw Error(ErrorCode::kIoError, "write to " + path + " failed");
}

}  // namespace facelib::rt
