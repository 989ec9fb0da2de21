#include "runtime/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include "flatbuffers/flatbuffers.h"
#include "runtime/schema/model_generated.h"

namespace facelib::rt {
namespace fbs = facelib::schema;

namespace {

[[noreturn]] void Invalid(const std::string& label, const std::string& what) {
  throw Error(ErrorCode::kInvalidModel, label + ": " + what);
}

template <typename T>
T ReadLE(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void WriteLE(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kP3 = 0x165667B19E3779F9ull;

// Backing storage that keeps either an mmap-ed file or an aligned heap copy alive.
struct Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  bool mmapped = false;
  ~Mapping() {
    if (!data) return;
    if (mmapped) munmap(const_cast<uint8_t*>(data), size);
    else std::free(const_cast<uint8_t*>(data));
  }
};

size_t ElementSize(fbs::DataType t) {
  switch (t) {
    case fbs::DataType_Float32: return 4;
    case fbs::DataType_Float16: return 2;
    case fbs::DataType_UInt8: return 1;
    case fbs::DataType_Int32: return 4;
  }
  return 0;
}

bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

Graph ParseVerified(std::shared_ptr<Mapping> map, const std::string& label) {
  const uint8_t* base = map->data;
  const uint64_t file_size = map->size;
  if (file_size < kHeaderSize)
    Invalid(label, "file is " + std::to_string(file_size) + " bytes, smaller than the 64-byte header (truncated?)");
  if (std::memcmp(base, kMagic, 8) != 0) Invalid(label, "bad magic: not a facelib model file");
  const uint32_t version = ReadLE<uint32_t>(base + 8);
  if (version == 0 || version > kFormatVersion)
    Invalid(label, "format version " + std::to_string(version) + " is not supported (this build reads up to " +
                       std::to_string(kFormatVersion) + ")");
  if (ReadLE<uint32_t>(base + 12) != kHeaderSize) Invalid(label, "header size field is not 64");
  const uint64_t graph_off = ReadLE<uint64_t>(base + 16), graph_size = ReadLE<uint64_t>(base + 24);
  const uint64_t data_off = ReadLE<uint64_t>(base + 32), data_size = ReadLE<uint64_t>(base + 40);
  const uint64_t checksum = ReadLE<uint64_t>(base + 48);
  if (graph_off != kHeaderSize) Invalid(label, "graph offset must be 64");
  if (graph_size == 0 || graph_size > file_size - graph_off)
    Invalid(label, "graph section (" + std::to_string(graph_size) + " bytes) runs past the end of the file (" +
                       std::to_string(file_size) + " bytes): truncated?");
  if (data_off % 64 != 0) Invalid(label, "data section offset is not 64-byte aligned");
  if (data_off < graph_off + graph_size) Invalid(label, "data section overlaps the graph section");
  if (data_off > file_size || data_size != file_size - data_off)
    Invalid(label, "data section (offset " + std::to_string(data_off) + ", " + std::to_string(data_size) +
                       " bytes) does not match the file size " + std::to_string(file_size) + ": truncated?");

  const uint8_t* gbuf = base + graph_off;
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 64;
  opts.max_tables = 4'000'000;
  opts.check_alignment = true;
  flatbuffers::Verifier verifier(gbuf, graph_size, opts);
  if (!fbs::ModelBufferHasIdentifier(gbuf)) Invalid(label, "graph section lacks the FLM1 identifier");
  if (!fbs::VerifyModelBuffer(verifier)) Invalid(label, "graph section failed FlatBuffers verification (corrupt)");

  const uint8_t* data = base + data_off;
  if (DataChecksum(data, data_size) != checksum)
    Invalid(label, "data section checksum mismatch: the weights are corrupt");

  const fbs::Model* m = fbs::GetModel(gbuf);
  if (m->format_version() != version)
    Invalid(label, "graph format_version " + std::to_string(m->format_version()) + " disagrees with the header");
  Graph g;
  if (m->producer()) g.producer = m->producer()->str();
  if (m->metadata()) {
    for (const auto* kv : *m->metadata()) g.metadata[kv->key()->str()] = kv->value() ? kv->value()->str() : "";
  }
  const auto* tensors = m->tensors();
  const size_t nt = tensors ? tensors->size() : 0;
  g.tensors.reserve(nt);
  for (size_t ti = 0; ti < nt; ++ti) {
    const fbs::Tensor* t = tensors->Get(static_cast<flatbuffers::uoffset_t>(ti));
    TensorDef td;
    td.name = t->name() ? t->name()->str() : "tensor" + std::to_string(ti);
    const std::string tl = "tensor '" + td.name + "'";
    if (t->shape()) {
      if (t->shape()->size() > 8) Invalid(label, tl + " has rank " + std::to_string(t->shape()->size()) + " (max 8)");
      for (int64_t d : *t->shape()) {
        if (d < -1) Invalid(label, tl + " has invalid dimension " + std::to_string(d));
        td.shape.push_back(d);
      }
    }
    if (t->is_constant()) {
      const auto dtype = t->dtype();
      const size_t esize = ElementSize(dtype);
      if (esize == 0) Invalid(label, tl + " has unknown dtype " + std::to_string(static_cast<int>(dtype)));
      uint64_t numel = 1;
      for (int64_t d : td.shape) {
        if (d < 0) Invalid(label, tl + " is a constant with a dynamic dimension");
        if (!CheckedMul(numel, static_cast<uint64_t>(d), &numel) || numel > (uint64_t{1} << 34))
          Invalid(label, tl + " has an absurd element count");
      }
      uint64_t bytes = 0;
      CheckedMul(numel, esize, &bytes);
      if (t->data_size() != bytes)
        Invalid(label, tl + ": data_size " + std::to_string(t->data_size()) + " != " + std::to_string(numel) +
                           " elements x " + std::to_string(esize) + " bytes");
      if (t->data_offset() % 64 != 0) Invalid(label, tl + ": data offset is not 64-byte aligned");
      if (t->data_offset() > data_size || bytes > data_size - t->data_offset())
        Invalid(label, tl + ": data [" + std::to_string(t->data_offset()) + ", +" + std::to_string(bytes) +
                           ") lies outside the data section (" + std::to_string(data_size) + " bytes)");
      const uint8_t* src = data + t->data_offset();
      Constant c;
      switch (dtype) {
        case fbs::DataType_Float32: {
          c.f32 = reinterpret_cast<const float*>(src);
          c.owner = map;
          c.storage = Storage::kFloat32;
          for (uint64_t i = 0; i < numel; ++i)
            if (!std::isfinite(c.f32[i])) Invalid(label, tl + " contains a non-finite value");
          break;
        }
        case fbs::DataType_Float16: {
          std::vector<float> v(numel);
          for (uint64_t i = 0; i < numel; ++i) {
            v[i] = HalfToFloat(ReadLE<uint16_t>(src + 2 * i));
            if (!std::isfinite(v[i])) Invalid(label, tl + " contains a non-finite value");
          }
          c = Constant::FromFloats(std::move(v), Storage::kFloat16);
          break;
        }
        case fbs::DataType_UInt8: {
          const fbs::Quantization* q = t->quantization();
          if (!q || !q->scale() || !q->zero_point())
            Invalid(label, tl + " is uint8 but has no quantization parameters");
          const size_t nq = q->scale()->size();
          if (q->zero_point()->size() != nq) Invalid(label, tl + ": scale and zero_point counts differ");
          int axis = q->axis();
          uint64_t axis_len = 1, inner = 1;
          if (nq != 1) {
            if (axis < 0 || axis >= static_cast<int>(td.shape.size()))
              Invalid(label, tl + ": per-channel quantization axis " + std::to_string(axis) + " out of range");
            axis_len = td.shape[axis];
            if (nq != axis_len) Invalid(label, tl + ": " + std::to_string(nq) + " scales for axis of size " +
                                                   std::to_string(axis_len));
            for (size_t d = axis + 1; d < td.shape.size(); ++d) inner *= td.shape[d];
          }
          for (size_t i = 0; i < nq; ++i) {
            if (!std::isfinite(q->scale()->Get(i))) Invalid(label, tl + " has a non-finite scale");
            const int zp = q->zero_point()->Get(i);
            if (zp < 0 || zp > 255) Invalid(label, tl + " has zero point " + std::to_string(zp) + " outside 0..255");
          }
          std::vector<float> v(numel);
          for (uint64_t i = 0; i < numel; ++i) {
            const size_t ch = nq == 1 ? 0 : (i / inner) % axis_len;
            v[i] = (static_cast<int>(src[i]) - q->zero_point()->Get(ch)) * q->scale()->Get(ch);
          }
          c = Constant::FromFloats(std::move(v), Storage::kUInt8);
          break;
        }
        case fbs::DataType_Int32: {
          std::vector<int64_t> v(numel);
          for (uint64_t i = 0; i < numel; ++i) v[i] = ReadLE<int32_t>(src + 4 * i);
          c = Constant::FromInts(std::move(v));
          break;
        }
      }
      td.constant = std::move(c);
    }
    g.tensors.push_back(std::move(td));
  }
  auto read_indices = [&](const flatbuffers::Vector<int32_t>* v) {
    std::vector<int> out;
    if (v) out.assign(v->begin(), v->end());
    return out;
  };
  g.inputs = read_indices(m->inputs());
  g.outputs = read_indices(m->outputs());
  if (m->nodes()) {
    g.nodes.reserve(m->nodes()->size());
    for (const fbs::Node* n : *m->nodes()) {
      NodeDef nd;
      nd.op = n->op()->str();
      nd.name = n->name() ? n->name()->str() : nd.op + "_" + std::to_string(g.nodes.size());
      nd.inputs = read_indices(n->inputs());
      nd.outputs = read_indices(n->outputs());
      if (n->attrs()) {
        for (const fbs::Attribute* a : *n->attrs()) {
          const std::string key = a->name()->str();
          if (nd.attrs.count(key)) Invalid(label, nd.Describe() + " has attribute '" + key + "' twice");
          switch (a->type()) {
            case fbs::AttrType_Int: nd.attrs[key] = Attr(static_cast<int64_t>(a->i())); break;
            case fbs::AttrType_Float: nd.attrs[key] = Attr(a->f()); break;
            case fbs::AttrType_Ints:
              nd.attrs[key] = Attr(a->ints() ? std::vector<int64_t>(a->ints()->begin(), a->ints()->end())
                                             : std::vector<int64_t>{});
              break;
            case fbs::AttrType_Floats:
              nd.attrs[key] = Attr(a->floats() ? std::vector<float>(a->floats()->begin(), a->floats()->end())
                                               : std::vector<float>{});
              break;
            case fbs::AttrType_String: nd.attrs[key] = Attr(a->s() ? a->s()->str() : std::string()); break;
            default:
              Invalid(label, nd.Describe() + " attribute '" + key + "' has unknown type " +
                                 std::to_string(static_cast<int>(a->type())));
          }
        }
      }
      g.nodes.push_back(std::move(nd));
    }
  }
  try {
    g.Validate();
  } catch (const Error& e) {
    Invalid(label, e.what());
  }
  return g;
}

}  // namespace

uint64_t DataChecksum(const uint8_t* data, size_t size) {
  uint64_t acc[4] = {kP1, kP2, kP3, kP1 ^ kP2};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int l = 0; l < 4; ++l) {
      acc[l] = Rotl(acc[l] ^ (ReadLE<uint64_t>(data + i + 8 * l) * kP2), 31) * kP1;
    }
  }
  uint64_t h = Rotl(acc[0], 1) + Rotl(acc[1], 7) + Rotl(acc[2], 12) + Rotl(acc[3], 18) + size;
  for (; i < size; ++i) h = Rotl(h ^ (data[i] * kP3), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal half -> normal float
      int e = -1;
      uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);  // inf / nan
  if (absx >= 0x477ff000) return sign | 0x7c00;                                      // overflow -> inf
  if (absx < 0x38800000) {                                                           // subnormal or zero
    if (absx < 0x33000000) return sign;
    // value / 2^-24 rounded to nearest even gives the subnormal mantissa.
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffff) | 0x800000;
    const int shift = 126 - static_cast<int>(e);  // in [14, 24]
    uint32_t hm = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (hm & 1))) ++hm;
    return sign | static_cast<uint16_t>(hm);
  }
  uint32_t h = ((absx - 0x38000000) >> 13);
  const uint32_t rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return sign | static_cast<uint16_t>(h);
}

std::vector<uint8_t> SerializeGraph(const Graph& g) {
  g.Validate();
  // Lay out the data section first.
  std::vector<uint8_t> blob;
  struct Placed {
    uint64_t offset = 0, size = 0;
    fbs::DataType dtype = fbs::DataType_Float32;
    std::vector<float> scale;
    std::vector<int32_t> zero_point;
  };
  std::vector<Placed> placed(g.tensors.size());
  for (size_t ti = 0; ti < g.tensors.size(); ++ti) {
    const TensorDef& t = g.tensors[ti];
    if (!t.is_constant()) continue;
    const Constant& c = *t.constant;
    const uint64_t numel = static_cast<uint64_t>(NumElements(t.shape));
    Placed& p = placed[ti];
    blob.resize((blob.size() + 63) / 64 * 64, 0);
    p.offset = blob.size();
    if (c.is_int) {
      if (c.ints.size() != numel)
        throw Error(ErrorCode::kInvalidArgument, "constant '" + t.name + "' has " + std::to_string(c.ints.size()) +
                                                     " values for shape " + ShapeToString(t.shape));
      p.dtype = fbs::DataType_Int32;
      p.size = numel * 4;
      blob.resize(blob.size() + p.size);
      for (uint64_t i = 0; i < numel; ++i) {
        if (c.ints[i] < INT32_MIN || c.ints[i] > INT32_MAX)
          throw Error(ErrorCode::kInvalidArgument, "constant '" + t.name + "' has a value outside int32");
        WriteLE<int32_t>(blob.data() + p.offset + 4 * i, static_cast<int32_t>(c.ints[i]));
      }
      continue;
    }
    if (numel > 0 && !c.f32) throw Error(ErrorCode::kInvalidArgument, "constant '" + t.name + "' has no data");
    switch (c.storage) {
      case Storage::kFloat32:
      case Storage::kInt32:
        p.dtype = fbs::DataType_Float32;
        p.size = numel * 4;
        blob.resize(blob.size() + p.size);
        if (numel) std::memcpy(blob.data() + p.offset, c.f32, p.size);
        break;
      case Storage::kFloat16:
        p.dtype = fbs::DataType_Float16;
        p.size = numel * 2;
        blob.resize(blob.size() + p.size);
        for (uint64_t i = 0; i < numel; ++i) WriteLE<uint16_t>(blob.data() + p.offset + 2 * i, FloatToHalf(c.f32[i]));
        break;
      case Storage::kUInt8: {
        // Per-tensor affine quantisation covering [min(0, lo), max(0, hi)] so zero is exact.
        float lo = 0, hi = 0;
        for (uint64_t i = 0; i < numel; ++i) {
          lo = std::min(lo, c.f32[i]);
          hi = std::max(hi, c.f32[i]);
        }
        const float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
        const int zp = static_cast<int>(std::lround(-lo / scale));
        p.dtype = fbs::DataType_UInt8;
        p.size = numel;
        p.scale = {scale};
        p.zero_point = {zp};
        blob.resize(blob.size() + p.size);
        for (uint64_t i = 0; i < numel; ++i) {
          const long q = std::lround(c.f32[i] / scale) + zp;
          blob[p.offset + i] = static_cast<uint8_t>(std::clamp(q, 0L, 255L));
        }
        break;
      }
    }
  }

  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors;
  for (size_t ti = 0; ti < g.tensors.size(); ++ti) {
    const TensorDef& t = g.tensors[ti];
    const Placed& p = placed[ti];
    flatbuffers::Offset<fbs::Quantization> q = 0;
    if (t.is_constant() && p.dtype == fbs::DataType_UInt8)
      q = fbs::CreateQuantizationDirect(fbb, &p.scale, &p.zero_point, -1);
    tensors.push_back(fbs::CreateTensorDirect(fbb, t.name.c_str(), &t.shape, p.dtype, t.is_constant(), p.offset,
                                              p.size, q));
  }
  std::vector<flatbuffers::Offset<fbs::Node>> nodes;
  for (const NodeDef& n : g.nodes) {
    std::vector<flatbuffers::Offset<fbs::Attribute>> attrs;
    for (const auto& [key, a] : n.attrs) {
      const auto name = fbb.CreateString(key);
      const auto& v = a.value();
      if (auto* i = std::get_if<int64_t>(&v)) {
        attrs.push_back(fbs::CreateAttribute(fbb, name, fbs::AttrType_Int, *i));
      } else if (auto* f = std::get_if<float>(&v)) {
        attrs.push_back(fbs::CreateAttribute(fbb, name, fbs::AttrType_Float, 0, *f));
      } else if (auto* is = std::get_if<std::vector<int64_t>>(&v)) {
        attrs.push_back(fbs::CreateAttribute(fbb, name, fbs::AttrType_Ints, 0, 0, fbb.CreateVector(*is)));
      } else if (auto* fs = std::get_if<std::vector<float>>(&v)) {
        attrs.push_back(fbs::CreateAttribute(fbb, name, fbs::AttrType_Floats, 0, 0, 0, fbb.CreateVector(*fs)));
      } else if (auto* s = std::get_if<std::string>(&v)) {
        attrs.push_back(fbs::CreateAttribute(fbb, name, fbs::AttrType_String, 0, 0, 0, 0, fbb.CreateString(*s)));
      }
    }
    nodes.push_back(fbs::CreateNodeDirect(fbb, n.name.c_str(), n.op.c_str(), &n.inputs, &n.outputs, &attrs));
  }
  std::vector<flatbuffers::Offset<fbs::KeyValue>> meta;
  for (const auto& [k, v] : g.metadata) meta.push_back(fbs::CreateKeyValueDirect(fbb, k.c_str(), v.c_str()));
  const auto root = fbs::CreateModelDirect(fbb, kFormatVersion, g.producer.empty() ? nullptr : g.producer.c_str(),
                                           &tensors, &g.inputs, &g.outputs, &nodes, &meta);
  fbs::FinishModelBuffer(fbb, root);

  const uint64_t graph_size = fbb.GetSize();
  const uint64_t data_off = (kHeaderSize + graph_size + 63) / 64 * 64;
  std::vector<uint8_t> out(data_off + blob.size(), 0);
  std::memcpy(out.data(), kMagic, 8);
  WriteLE<uint32_t>(out.data() + 8, kFormatVersion);
  WriteLE<uint32_t>(out.data() + 12, kHeaderSize);
  WriteLE<uint64_t>(out.data() + 16, kHeaderSize);
  WriteLE<uint64_t>(out.data() + 24, graph_size);
  WriteLE<uint64_t>(out.data() + 32, data_off);
  WriteLE<uint64_t>(out.data() + 40, blob.size());
  WriteLE<uint64_t>(out.data() + 48, DataChecksum(blob.data(), blob.size()));
  std::memcpy(out.data() + kHeaderSize, fbb.GetBufferPointer(), graph_size);
  if (!blob.empty()) std::memcpy(out.data() + data_off, blob.data(), blob.size());
  return out;
}

void SaveGraph(const Graph& g, const std::string& path) {
  const std::vector<uint8_t> bytes = SerializeGraph(g);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(ErrorCode::kIoError, "cannot write " + tmp + ": " + std::strerror(errno));
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw Error(ErrorCode::kIoError, "write to " + tmp + " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(ErrorCode::kIoError, "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

Graph LoadGraphFromFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                "cannot open model file " + path + ": " + std::strerror(err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kIoError, "model file " + path + " is not a regular file");
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size == 0) {
    ::close(fd);
    Invalid(path, "file is empty");
  }
  void* p = mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw Error(ErrorCode::kIoError, "cannot mmap " + path + ": " + std::strerror(errno));
  map->data = static_cast<const uint8_t*>(p);
  map->mmapped = true;
  return ParseVerified(std::move(map), path);
}

Graph LoadGraphFromBuffer(const uint8_t* data, size_t size, const std::string& label) {
  auto map = std::make_shared<Mapping>();
  const size_t alloc = std::max<size_t>(64, (size + 63) / 64 * 64);
  auto* copy = static_cast<uint8_t*>(std::aligned_alloc(64, alloc));
  if (!copy) throw Error(ErrorCode::kResourceExhausted, label + ": out of memory");
  if (size) std::memcpy(copy, data, size);
  map->data = copy;
  map->size = size;
  return ParseVerified(std::move(map), label);
}

}  // namespace facelib::rt
