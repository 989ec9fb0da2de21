#include "converters/onnx_model.h"

#include <cmath>
#include <cstring>

#include "converters/converter.h"
#include "converters/protobuf.h"

namespace facelib::convert::onnx {

namespace {

constexpr int64_t kMaxElements = int64_t{1} << 31;

// Decoding context: the file name for messages and a path of message names
// ("graph > node 'conv1' > attribute 'pads'") so an error points at the culprit.
struct Ctx {
  const std::string& file;
  std::string where;
  [[noreturn]] void Bad(const std::string& what) const { Malformed(file, where + ": " + what); }
  [[noreturn]] void Unsup(const std::string& what) const { Unsupported(file, where + ": " + what); }
  Ctx In(const std::string& w) const { return Ctx{file, where.empty() ? w : where + " > " + w}; }
};

float HalfToFloat(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  return sign ? -v : v;
}

size_t ElementBytes(int32_t t) {
  switch (t) {
    case kFloat: case kInt32: case kUInt32: return 4;
    case kDouble: case kInt64: case kUInt64: return 8;
    case kFloat16: case kInt16: case kUInt16: return 2;
    case kInt8: case kUInt8: case kBool: return 1;
    default: return 0;
  }
}

bool IsFloatType(int32_t t) { return t == kFloat || t == kDouble || t == kFloat16; }

Tensor ParseTensor(const pb::Reader& parent, pb::Bytes bytes, const Ctx& ctx) {
  Tensor t;
  pb::Reader r = parent.Sub(bytes);
  pb::Field f;
  pb::Bytes raw;
  bool has_raw = false, external = false;
  std::vector<int64_t> i32, i64, u64;
  std::vector<float> floats;
  std::vector<double> doubles;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: pb::AppendInt64s(f, &t.dims, 64); break;
      case 2: t.data_type = f.AsInt32(); break;
      case 4: pb::AppendFloats(f, &floats); break;
      case 5: pb::AppendInt64s(f, &i32); break;
      case 6: ctx.Unsup("string tensors are not supported"); break;
      case 7: pb::AppendInt64s(f, &i64); break;
      case 8: t.name = f.AsString(); break;
      case 9: raw = f.AsBytes(); has_raw = true; break;
      case 10: pb::AppendDoubles(f, &doubles); break;
      case 11: pb::AppendInt64s(f, &u64); break;
      case 13: external = true; break;
      case 14: external = external || f.AsInt64() == 1; break;
      default: break;  // segment, doc_string, metadata: not needed
    }
  }
  const Ctx tc = ctx.In("tensor '" + t.name + "'");
  if (external) tc.Unsup("external data (weights stored outside the .onnx file) is not supported");
  int64_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0) tc.Bad("negative dimension " + std::to_string(d));
    if (d != 0 && n > kMaxElements / d) tc.Bad("too many elements");
    n *= d;
  }
  const size_t esize = ElementBytes(t.data_type);
  if (esize == 0) tc.Unsup("data type " + DataTypeName(t.data_type) + " is not supported");
  t.is_int = !IsFloatType(t.data_type);
  const size_t count = static_cast<size_t>(n);
  auto check_count = [&](size_t got, const char* field) {
    if (got != count)
      tc.Bad(std::string(field) + " holds " + std::to_string(got) + " values for " + std::to_string(count) +
             " elements");
  };
  if (has_raw) {
    if (raw.size != count * esize)
      tc.Bad("raw_data has " + std::to_string(raw.size) + " bytes, expected " + std::to_string(count * esize) +
             " for " + std::to_string(count) + " " + DataTypeName(t.data_type) + " elements");
    const uint8_t* p = raw.data;
    if (t.is_int) t.i.resize(count);
    else t.f.resize(count);
    for (size_t k = 0; k < count; ++k, p += esize) {
      switch (t.data_type) {
        case kFloat: std::memcpy(&t.f[k], p, 4); break;
        case kDouble: { double d; std::memcpy(&d, p, 8); t.f[k] = static_cast<float>(d); break; }
        case kFloat16: { uint16_t h; std::memcpy(&h, p, 2); t.f[k] = HalfToFloat(h); break; }
        case kInt64: case kUInt64: std::memcpy(&t.i[k], p, 8); break;
        case kInt32: { int32_t v; std::memcpy(&v, p, 4); t.i[k] = v; break; }
        case kUInt32: { uint32_t v; std::memcpy(&v, p, 4); t.i[k] = v; break; }
        case kInt16: { int16_t v; std::memcpy(&v, p, 2); t.i[k] = v; break; }
        case kUInt16: { uint16_t v; std::memcpy(&v, p, 2); t.i[k] = v; break; }
        case kInt8: t.i[k] = static_cast<int8_t>(*p); break;
        case kUInt8: case kBool: t.i[k] = *p; break;
        default: break;
      }
    }
    return t;
  }
  switch (t.data_type) {
    case kFloat: check_count(floats.size(), "float_data"); t.f = std::move(floats); break;
    case kDouble:
      check_count(doubles.size(), "double_data");
      t.f.assign(doubles.begin(), doubles.end());
      break;
    case kFloat16:
      check_count(i32.size(), "int32_data");
      for (int64_t v : i32) t.f.push_back(HalfToFloat(static_cast<uint16_t>(v)));
      break;
    case kInt64: check_count(i64.size(), "int64_data"); t.i = std::move(i64); break;
    case kUInt32: case kUInt64: check_count(u64.size(), "uint64_data"); t.i = std::move(u64); break;
    default:
      check_count(i32.size(), "int32_data");
      // int32_data carries the smaller integer types widened; keep their signedness.
      for (int64_t v : i32) t.i.push_back(t.data_type == kInt32 || t.data_type == kInt16 || t.data_type == kInt8
                                              ? static_cast<int64_t>(static_cast<int32_t>(v))
                                              : static_cast<int64_t>(static_cast<uint32_t>(v)));
      break;
  }
  return t;
}

Attribute ParseAttribute(const pb::Reader& parent, pb::Bytes bytes, const Ctx& ctx) {
  Attribute a;
  pb::Reader r = parent.Sub(bytes);
  pb::Field f;
  std::vector<pb::Bytes> tensors;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: a.name = f.AsString(); break;
      case 2: a.f = f.AsFloat(); break;
      case 3: a.i = f.AsInt64(); break;
      case 4: a.s = f.AsString(); break;
      case 5: tensors.push_back(f.AsBytes()); break;
      case 7: pb::AppendFloats(f, &a.floats, 1 << 20); break;
      case 8: pb::AppendInt64s(f, &a.ints, 1 << 20); break;
      case 9:
        if (a.strings.size() >= (1 << 16)) ctx.Bad("too many strings");
        a.strings.push_back(f.AsString());
        break;
      case 20: a.type = f.AsInt32(); break;
      default: break;  // subgraphs, sparse tensors, type protos: ops using them are rejected later
    }
  }
  if (!tensors.empty()) a.t = std::make_shared<Tensor>(ParseTensor(r, tensors.back(), ctx.In("attribute '" + a.name + "'")));
  return a;
}

Node ParseNode(const pb::Reader& parent, pb::Bytes bytes, const Ctx& ctx, size_t index) {
  Node n;
  pb::Reader r = parent.Sub(bytes);
  pb::Field f;
  std::vector<pb::Bytes> attrs;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: n.inputs.push_back(f.AsString()); break;
      case 2: n.outputs.push_back(f.AsString()); break;
      case 3: n.name = f.AsString(); break;
      case 4: n.op_type = f.AsString(); break;
      case 5: attrs.push_back(f.AsBytes()); break;
      case 7: n.domain = f.AsString(); break;
      default: break;
    }
  }
  const Ctx nc = ctx.In("node " + std::to_string(index) + (n.name.empty() ? "" : " '" + n.name + "'"));
  if (n.op_type.empty()) nc.Bad("op_type is missing");
  for (const auto& b : attrs) n.attrs.push_back(ParseAttribute(r, b, nc));
  return n;
}

// TypeProto -> tensor_type (1) -> elem_type (1), shape (2) -> dim (1) -> dim_value (1) | dim_param (2).
ValueInfo ParseValueInfo(const pb::Reader& parent, pb::Bytes bytes) {
  ValueInfo v;
  pb::Reader r = parent.Sub(bytes);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.number == 1) v.name = f.AsString();
    if (f.number != 2) continue;
    pb::Reader type = r.Sub(f.AsBytes());
    pb::Field tf;
    while (type.Next(&tf)) {
      if (tf.number != 1) continue;  // sequence/map/optional types: left undefined
      pb::Reader tensor = type.Sub(tf.AsBytes());
      pb::Field ef;
      while (tensor.Next(&ef)) {
        if (ef.number == 1) v.elem_type = ef.AsInt32();
        if (ef.number != 2) continue;
        v.has_shape = true;
        pb::Reader shape = tensor.Sub(ef.AsBytes());
        pb::Field sf;
        while (shape.Next(&sf)) {
          if (sf.number != 1) continue;
          if (v.dims.size() >= 64) throw pb::DecodeError("protobuf: tensor shape of '" + v.name + "' has too many dims");
          int64_t value = -1;
          std::string param;
          pb::Reader dim = shape.Sub(sf.AsBytes());
          pb::Field df;
          while (dim.Next(&df)) {
            if (df.number == 1) value = df.AsInt64();
            if (df.number == 2) param = df.AsString();
          }
          v.dims.push_back(value >= 0 ? value : -1);
          v.dim_params.push_back(param);
        }
      }
    }
  }
  return v;
}

Graph ParseGraph(const pb::Reader& parent, pb::Bytes bytes, const Ctx& ctx) {
  Graph g;
  pb::Reader r = parent.Sub(bytes);
  pb::Field f;
  std::vector<pb::Bytes> nodes;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: nodes.push_back(f.AsBytes()); break;
      case 2: g.name = f.AsString(); break;
      case 5: g.initializers.push_back(ParseTensor(r, f.AsBytes(), ctx.In("initializer"))); break;
      case 11: g.inputs.push_back(ParseValueInfo(r, f.AsBytes())); break;
      case 12: g.outputs.push_back(ParseValueInfo(r, f.AsBytes())); break;
      case 15: ctx.Unsup("sparse initializers are not supported"); break;
      default: break;
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) g.nodes.push_back(ParseNode(r, nodes[i], ctx, i));
  return g;
}

}  // namespace

std::string DataTypeName(int32_t t) {
  static const char* kNames[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",   "UINT16",    "INT16",
                                 "INT32",     "INT64",  "STRING", "BOOL",   "FLOAT16",   "DOUBLE",
                                 "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  if (t >= 0 && t < static_cast<int32_t>(sizeof(kNames) / sizeof(kNames[0]))) return kNames[t];
  return "data type " + std::to_string(t);
}

int64_t Tensor::size() const { return is_int ? static_cast<int64_t>(i.size()) : static_cast<int64_t>(f.size()); }

const Attribute* Node::Find(const std::string& key) const {
  for (const Attribute& a : attrs)
    if (a.name == key) return &a;
  return nullptr;
}

std::string Node::Describe() const { return "node '" + name + "' (" + op_type + ")"; }

Model ParseModel(const uint8_t* data, size_t size, const std::string& file) {
  Model m;
  const Ctx ctx{file, "ModelProto"};
  try {
    if (size == 0) ctx.Bad("the file is empty");
    pb::Reader r(data, size);
    pb::Field f;
    pb::Bytes graph;
    while (r.Next(&f)) {
      switch (f.number) {
        case 1: m.ir_version = f.AsInt64(); break;
        case 2: m.producer_name = f.AsString(); break;
        case 3: m.producer_version = f.AsString(); break;
        case 7: graph = f.AsBytes(); m.has_graph = true; break;
        case 8: {
          pb::Reader op = r.Sub(f.AsBytes());
          pb::Field of;
          std::string domain;
          int64_t version = 0;
          while (op.Next(&of)) {
            if (of.number == 1) domain = of.AsString();
            if (of.number == 2) version = of.AsInt64();
          }
          if (domain == "ai.onnx") domain.clear();
          m.opsets[domain] = version;
          break;
        }
        default: break;
      }
    }
    if (!m.has_graph) ctx.Bad("no graph (field 7): not an ONNX model");
    if (m.ir_version <= 0) ctx.Bad("ir_version (field 1) is missing: not an ONNX model");
    m.graph = ParseGraph(r, graph, ctx.In("graph"));
  } catch (const pb::DecodeError& e) {
    Malformed(file, e.what());
  }
  return m;
}

}  // namespace facelib::convert::onnx
