// ONNX -> facelib converter.
//
// ONNX activations are NCHW; ours are NHWC. Every 4-D run-time tensor that is
// logically NCHW is kept in NHWC order and flagged (Value::nhwc); ops that see
// such a tensor remap their axes (Concat, Softmax, Slice, Split, Pad, Reduce,
// broadcast constants) or, where the op depends on memory order (Reshape,
// Flatten, Squeeze, Gather, MatMul), get a Transpose back to NCHW first. A
// Transpose op on a flagged tensor is folded with that implied permutation, so
// the usual detector head "Conv -> Transpose(0,2,3,1) -> Reshape" costs nothing.
//
// Shape sub-graphs (Shape, Gather, Concat, Unsqueeze, Cast, ...) are evaluated
// at conversion time on host values. A dimension the model leaves open (the
// input's height and width in dynamic models) is carried as a symbol: copies
// of it stay recognisable (so Reshape can say "keep dim 0"), arithmetic on it
// gives a fresh unknown. When an op needs a concrete number derived from an
// open dimension, conversion stops and asks for --input-shape.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "converters/converter.h"
#include "converters/shape_util.h"
#include "converters/onnx_model.h"

namespace facelib::convert {
namespace {

using rt::Shape;

// A dimension or integer value known at conversion time, or an open quantity
// identified by `sym` (equal syms are the same run-time value).
struct Dim {
  int64_t v = 0;
  int sym = 0;
  bool known() const { return sym == 0; }
};
using DimVec = std::vector<Dim>;

struct Value {
  bool host = false;
  // Host (constant-folded) values.
  Shape hshape;
  bool is_int = false;
  std::vector<float> f;
  DimVec ints;
  // Run-time tensors.
  int tensor = -1;
  DimVec shape;     // logical (ONNX) shape
  bool nhwc = false;  // rank 4, logically NCHW, stored NHWC
  int other = -1;   // cached copy in the other layout (NCHW order for nhwc tensors and vice versa)
  size_t rank() const { return host ? hshape.size() : shape.size(); }
  int64_t count() const { return host ? static_cast<int64_t>(is_int ? ints.size() : f.size()) : -1; }
};

// Physical axis i of an nhwc tensor holds logical axis kPhys[i]; logical axis a
// sits at physical axis kPos[a].
constexpr int kPhys[4] = {0, 2, 3, 1};
constexpr int kPos[4] = {0, 3, 1, 2};

// Calls fn(flat_out_index, multi_index) for every element of `shape` in row-major order.
void ForEachIndex(const Shape& shape, const std::function<void(int64_t, const std::vector<int64_t>&)>& fn) {
  const int64_t n = Product(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    fn(k, idx);
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// Host tensor with its elements picked by `src(multi_index)` -> flat input offset.
Value HostPick(const Value& in, const Shape& out_shape, const std::function<int64_t(const std::vector<int64_t>&)>& src) {
  Value out;
  out.host = true;
  out.is_int = in.is_int;
  out.hshape = out_shape;
  const int64_t n = Product(out_shape);
  if (in.is_int) out.ints.resize(n);
  else out.f.resize(n);
  ForEachIndex(out_shape, [&](int64_t k, const std::vector<int64_t>& idx) {
    const int64_t s = src(idx);
    if (in.is_int) out.ints[k] = in.ints[s];
    else out.f[k] = in.f[s];
  });
  return out;
}

Value HostTranspose(const Value& in, const std::vector<int>& perm) {
  Shape out_shape;
  for (int p : perm) out_shape.push_back(in.hshape[p]);
  const auto st = Strides(in.hshape);
  return HostPick(in, out_shape, [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < perm.size(); ++d) off += idx[d] * st[perm[d]];
    return off;
  });
}

std::string DimsText(const DimVec& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + (s[i].known() ? std::to_string(s[i].v) : std::string("?"));
  return out.empty() ? "scalar" : out;
}

class OnnxConverter {
 public:
  OnnxConverter(const std::string& path, const onnx::Model& m, std::map<std::string, Shape> input_shapes)
      : path_(path), m_(m), input_shapes_(std::move(input_shapes)) {
    auto it = m.opsets.find("");
    opset_ = it == m.opsets.end() ? 1 : it->second;
  }

  rt::Graph Convert();
  static bool KnowsOp(const std::string& op) { return Handlers().count(op) != 0; }

 private:
  using Handler = void (OnnxConverter::*)(const onnx::Node&);
  static const std::map<std::string, Handler>& Handlers();

  // ---- errors
  [[noreturn]] void Bad(const onnx::Node& n, const std::string& what) const { Malformed(path_, n.Describe() + ": " + what); }
  [[noreturn]] void Unsup(const onnx::Node& n, const std::string& what) const {
    Unsupported(path_, n.Describe() + ": " + what);
  }
  [[noreturn]] void NeedShape(const onnx::Node& n, const std::string& what) const {
    Unsupported(path_, n.Describe() + ": " + what +
                           " depends on an input dimension the model leaves open; convert with --input-shape " +
                           (m_.graph.inputs.empty() ? std::string("NAME") : FirstInputName()) + "=1x3xHxW (NCHW)");
  }
  std::string FirstInputName() const;

  // ---- attributes
  const onnx::Attribute* Attr(const onnx::Node& n, const std::string& key, int32_t type) const;
  int64_t AttrInt(const onnx::Node& n, const std::string& key, int64_t def) const;
  float AttrFloat(const onnx::Node& n, const std::string& key, float def) const;
  std::string AttrString(const onnx::Node& n, const std::string& key, const std::string& def) const;
  std::vector<int64_t> AttrInts(const onnx::Node& n, const std::string& key, std::vector<int64_t> def = {}) const;
  std::vector<float> AttrFloats(const onnx::Node& n, const std::string& key, std::vector<float> def = {}) const;

  // ---- values
  bool Has(const onnx::Node& n, size_t i) const { return i < n.inputs.size() && !n.inputs[i].empty(); }
  Value& In(const onnx::Node& n, size_t i);
  const Value& HostIn(const onnx::Node& n, size_t i, const char* what);
  std::vector<int64_t> KnownInts(const onnx::Node& n, const Value& v, const char* what) const;
  std::vector<float> HostFloats(const onnx::Node& n, const Value& v, const char* what) const;
  Dim Fresh() { return Dim{0, next_sym_++}; }
  int Axis(const onnx::Node& n, int64_t axis, size_t rank) const;

  void SetHost(const onnx::Node& n, size_t i, Value v);
  void SetRuntime(const onnx::Node& n, size_t i, int tensor, DimVec shape, bool nhwc);
  void Alias(const onnx::Node& n, size_t out, const Value& v);

  // ---- graph emission
  std::string UniqueNodeName(const std::string& base);
  std::string UniqueTensorName(const std::string& base);
  std::vector<int> Emit(const std::string& op, std::vector<int> inputs, std::map<std::string, rt::Attr> attrs,
                        const std::string& name, int num_outputs = 1);
  int Emit1(const std::string& op, std::vector<int> inputs, std::map<std::string, rt::Attr> attrs,
            const std::string& name) {
    return Emit(op, std::move(inputs), std::move(attrs), name)[0];
  }
  int AddFloatConst(const std::string& name, Shape shape, std::vector<float> data);
  int AddIntConst(const std::string& name, Shape shape, std::vector<int64_t> data);
  // A run-time tensor for a host value; `nhwc` pads it to rank 4 and permutes it
  // to match an nhwc operand it is broadcast against.
  int HostTensor(const onnx::Node& n, const std::string& name, const Value& v, bool nhwc);
  int ToPlain(Value& v, const std::string& name);  // NCHW-ordered tensor
  int ToNhwc(Value& v, const std::string& name);   // 4-D tensor in NHWC order
  const std::string& TensorName(int t) const { return graph_.tensors[t].name; }

  // ---- op handlers
  void Constant(const onnx::Node& n);
  void Identity(const onnx::Node& n);
  void Shape_(const onnx::Node& n);
  void Cast(const onnx::Node& n);
  void ConstantOfShape(const onnx::Node& n);
  void Range(const onnx::Node& n);
  void Gather(const onnx::Node& n);
  void Unsqueeze(const onnx::Node& n);
  void Squeeze(const onnx::Node& n);
  void Concat(const onnx::Node& n);
  void Reshape(const onnx::Node& n);
  void Flatten(const onnx::Node& n);
  void Transpose(const onnx::Node& n);
  void Slice(const onnx::Node& n);
  void Split(const onnx::Node& n);
  void Pad(const onnx::Node& n);
  void Binary(const onnx::Node& n);
  void Unary(const onnx::Node& n);
  void Clip(const onnx::Node& n);
  void PRelu(const onnx::Node& n);
  void Softmax(const onnx::Node& n);
  void Conv(const onnx::Node& n);
  void BatchNorm(const onnx::Node& n);
  void Pool(const onnx::Node& n);
  void GlobalPool(const onnx::Node& n);
  void Resize(const onnx::Node& n);
  void Gemm(const onnx::Node& n);
  void MatMul(const onnx::Node& n);
  void Reduce(const onnx::Node& n);

  Value BinaryHost(const onnx::Node& n, const std::string& op, const Value& a, const Value& b);
  void BinaryRuntime(const onnx::Node& n, const std::string& op, Value& a, Value& b, size_t out);
  DimVec BroadcastShapes(const onnx::Node& n, const DimVec& a, const DimVec& b);
  DimVec ShapeOf(const Value& v) const;

  const std::string& path_;
  const onnx::Model& m_;
  std::map<std::string, Shape> input_shapes_;
  int64_t opset_ = 1;
  rt::Graph graph_;
  std::map<std::string, Value> values_;
  std::set<std::string> node_names_, tensor_names_;
  std::map<std::pair<std::string, bool>, int> const_cache_;
  std::string current_;  // ONNX name of the value being produced (for helper names)
  int next_sym_ = 1;
};

// ------------------------------------------------------------------ helpers

std::string OnnxConverter::FirstInputName() const {
  std::set<std::string> inits;
  for (const auto& t : m_.graph.initializers) inits.insert(t.name);
  for (const auto& v : m_.graph.inputs)
    if (!inits.count(v.name)) return v.name;
  return "NAME";
}

const onnx::Attribute* OnnxConverter::Attr(const onnx::Node& n, const std::string& key, int32_t type) const {
  const onnx::Attribute* a = n.Find(key);
  if (!a) return nullptr;
  // Old exporters leave `type` unset; accept an attribute whose payload matches.
  if (a->type != onnx::kAttrUndefined && a->type != type)
    Bad(n, "attribute '" + key + "' has type " + std::to_string(a->type) + ", expected " + std::to_string(type));
  return a;
}

int64_t OnnxConverter::AttrInt(const onnx::Node& n, const std::string& key, int64_t def) const {
  const auto* a = Attr(n, key, onnx::kAttrInt);
  return a ? a->i : def;
}

float OnnxConverter::AttrFloat(const onnx::Node& n, const std::string& key, float def) const {
  const auto* a = Attr(n, key, onnx::kAttrFloat);
  return a ? a->f : def;
}

std::string OnnxConverter::AttrString(const onnx::Node& n, const std::string& key, const std::string& def) const {
  const auto* a = Attr(n, key, onnx::kAttrString);
  return a ? a->s : def;
}

std::vector<int64_t> OnnxConverter::AttrInts(const onnx::Node& n, const std::string& key, std::vector<int64_t> def) const {
  const auto* a = Attr(n, key, onnx::kAttrInts);
  return a ? a->ints : def;
}

std::vector<float> OnnxConverter::AttrFloats(const onnx::Node& n, const std::string& key, std::vector<float> def) const {
  const auto* a = Attr(n, key, onnx::kAttrFloats);
  return a ? a->floats : def;
}

Value& OnnxConverter::In(const onnx::Node& n, size_t i) {
  if (!Has(n, i)) Bad(n, "input " + std::to_string(i) + " is missing");
  auto it = values_.find(n.inputs[i]);
  if (it == values_.end())
    Bad(n, "input '" + n.inputs[i] + "' is not a graph input, initializer or output of an earlier node");
  return it->second;
}

const Value& OnnxConverter::HostIn(const onnx::Node& n, size_t i, const char* what) {
  const Value& v = In(n, i);
  if (!v.host) Unsup(n, std::string(what) + " ('" + n.inputs[i] + "') must be a constant, not computed at run time");
  return v;
}

std::vector<int64_t> OnnxConverter::KnownInts(const onnx::Node& n, const Value& v, const char* what) const {
  if (!v.is_int) {
    std::vector<int64_t> out;
    for (float x : v.f) out.push_back(static_cast<int64_t>(x));
    return out;
  }
  std::vector<int64_t> out;
  for (const Dim& d : v.ints) {
    if (!d.known()) NeedShape(n, what);
    out.push_back(d.v);
  }
  return out;
}

std::vector<float> OnnxConverter::HostFloats(const onnx::Node& n, const Value& v, const char* what) const {
  if (!v.is_int) return v.f;
  std::vector<float> out;
  for (int64_t x : KnownInts(n, v, what)) out.push_back(static_cast<float>(x));
  return out;
}

int OnnxConverter::Axis(const onnx::Node& n, int64_t axis, size_t rank) const {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) Bad(n, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

DimVec OnnxConverter::ShapeOf(const Value& v) const {
  if (!v.host) return v.shape;
  DimVec s;
  for (int64_t d : v.hshape) s.push_back(Dim{d, 0});
  return s;
}

void OnnxConverter::SetHost(const onnx::Node& n, size_t i, Value v) {
  if (i >= n.outputs.size() || n.outputs[i].empty()) return;
  v.host = true;
  values_[n.outputs[i]] = std::move(v);
}

void OnnxConverter::SetRuntime(const onnx::Node& n, size_t i, int tensor, DimVec shape, bool nhwc) {
  if (i >= n.outputs.size() || n.outputs[i].empty()) return;
  const std::string& name = n.outputs[i];
  if (graph_.tensors[tensor].name != name) {
    tensor_names_.erase(graph_.tensors[tensor].name);
    graph_.tensors[tensor].name = UniqueTensorName(name);
  }
  Value v;
  v.tensor = tensor;
  v.shape = std::move(shape);
  v.nhwc = nhwc && v.shape.size() == 4;
  values_[name] = std::move(v);
}

void OnnxConverter::Alias(const onnx::Node& n, size_t out, const Value& v) {
  if (out >= n.outputs.size() || n.outputs[out].empty()) return;
  values_[n.outputs[out]] = v;
}

std::string OnnxConverter::UniqueNodeName(const std::string& base) {
  std::string name = base;
  for (int k = 1; node_names_.count(name); ++k) name = base + "_" + std::to_string(k);
  node_names_.insert(name);
  return name;
}

std::string OnnxConverter::UniqueTensorName(const std::string& base) {
  std::string name = base;
  for (int k = 1; tensor_names_.count(name); ++k) name = base + "_" + std::to_string(k);
  tensor_names_.insert(name);
  return name;
}

std::vector<int> OnnxConverter::Emit(const std::string& op, std::vector<int> inputs,
                                     std::map<std::string, rt::Attr> attrs, const std::string& name, int num_outputs) {
  const std::string node_name = UniqueNodeName(name);
  auto outs = graph_.AddNode(op, std::move(inputs), std::move(attrs), num_outputs, node_name);
  for (int t : outs) graph_.tensors[t].name = UniqueTensorName(graph_.tensors[t].name);
  return outs;
}

int OnnxConverter::AddFloatConst(const std::string& name, Shape shape, std::vector<float> data) {
  return graph_.AddConstant(UniqueTensorName(name), std::move(shape), rt::Constant::FromFloats(std::move(data)));
}

int OnnxConverter::AddIntConst(const std::string& name, Shape shape, std::vector<int64_t> data) {
  return graph_.AddConstant(UniqueTensorName(name), std::move(shape), rt::Constant::FromInts(std::move(data)));
}

int OnnxConverter::HostTensor(const onnx::Node& n, const std::string& name, const Value& v, bool nhwc) {
  auto key = std::make_pair(name, nhwc);
  if (auto it = const_cache_.find(key); it != const_cache_.end()) return it->second;
  Value fv = v;
  if (fv.is_int) {
    fv.f = HostFloats(n, v, "a constant operand");
    fv.is_int = false;
    fv.ints.clear();
  }
  if (nhwc) {
    if (fv.hshape.size() > 4) Unsup(n, "a constant of rank " + std::to_string(fv.hshape.size()) + " broadcast against a 4-D activation");
    while (fv.hshape.size() < 4) fv.hshape.insert(fv.hshape.begin(), 1);
    fv = HostTranspose(fv, {kPhys[0], kPhys[1], kPhys[2], kPhys[3]});
  }
  const int t = AddFloatConst(name + (nhwc ? "/nhwc" : ""), fv.hshape, std::move(fv.f));
  const_cache_[key] = t;
  return t;
}

int OnnxConverter::ToPlain(Value& v, const std::string& name) {
  if (!v.nhwc) return v.tensor;
  if (v.other >= 0) return v.other;
  const DimVec& s = v.shape;
  // With one channel or a 1x1 map, NHWC and NCHW order are the same bytes: a view suffices.
  const bool trivial = (s[1].known() && s[1].v == 1) || (s[2].known() && s[2].v == 1 && s[3].known() && s[3].v == 1);
  if (trivial && s[1].known() && s[2].known() && s[3].known()) {
    v.other = Emit1("Reshape", {v.tensor}, {{"shape", std::vector<int64_t>{0, s[1].v, s[2].v, s[3].v}}}, name + "/nchw");
  } else {
    v.other = Emit1("Transpose", {v.tensor}, {{"perm", std::vector<int64_t>{0, 3, 1, 2}}}, name + "/nchw");
  }
  return v.other;
}

int OnnxConverter::ToNhwc(Value& v, const std::string& name) {
  if (v.nhwc) return v.tensor;
  if (v.shape.size() != 4) return -1;
  if (v.other < 0) v.other = Emit1("Transpose", {v.tensor}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}}, name + "/nhwc");
  return v.other;
}

DimVec OnnxConverter::BroadcastShapes(const onnx::Node& n, const DimVec& a, const DimVec& b) {
  const size_t r = std::max(a.size(), b.size());
  DimVec out(r);
  for (size_t i = 0; i < r; ++i) {
    const Dim one{1, 0};
    const Dim da = i + a.size() >= r ? a[i + a.size() - r] : one;
    const Dim db = i + b.size() >= r ? b[i + b.size() - r] : one;
    if (da.known() && da.v == 1) out[i] = db;
    else if (db.known() && db.v == 1) out[i] = da;
    else if (da.known() && db.known()) {
      if (da.v != db.v) Bad(n, "shapes " + DimsText(a) + " and " + DimsText(b) + " do not broadcast");
      out[i] = da;
    } else {
      out[i] = da.known() ? da : db;
    }
  }
  return out;
}

// ------------------------------------------------------------------ constants and shape sub-graphs

Value FromTensor(const onnx::Tensor& t) {
  Value v;
  v.host = true;
  v.hshape = t.dims;
  v.is_int = t.is_int;
  if (t.is_int) {
    for (int64_t x : t.i) v.ints.push_back(Dim{x, 0});
  } else {
    v.f = t.f;
  }
  return v;
}

void OnnxConverter::Constant(const onnx::Node& n) {
  Value v;
  v.host = true;
  if (const auto* a = n.Find("value")) {
    if (!a->t) Bad(n, "attribute 'value' holds no tensor");
    v = FromTensor(*a->t);
  } else if (const auto* a = n.Find("value_float")) {
    v.f = {a->f};
  } else if (const auto* a = n.Find("value_floats")) {
    v.f = a->floats;
    v.hshape = {static_cast<int64_t>(a->floats.size())};
  } else if (const auto* a = n.Find("value_int")) {
    v.is_int = true;
    v.ints = {Dim{a->i, 0}};
  } else if (const auto* a = n.Find("value_ints")) {
    v.is_int = true;
    for (int64_t x : a->ints) v.ints.push_back(Dim{x, 0});
    v.hshape = {static_cast<int64_t>(a->ints.size())};
  } else {
    Unsup(n, "only the value, value_float(s) and value_int(s) attributes are supported");
  }
  SetHost(n, 0, std::move(v));
}

void OnnxConverter::Identity(const onnx::Node& n) {
  // Identity and Dropout at inference: the output is the input (Dropout's mask output is not produced).
  Alias(n, 0, In(n, 0));
}

void OnnxConverter::Shape_(const onnx::Node& n) {
  const DimVec s = ShapeOf(In(n, 0));
  const int64_t r = static_cast<int64_t>(s.size());
  int64_t start = AttrInt(n, "start", 0), end = AttrInt(n, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  Value v;
  v.is_int = true;
  v.ints.assign(s.begin() + start, s.begin() + end);
  v.hshape = {end - start};
  SetHost(n, 0, std::move(v));
}

void OnnxConverter::Cast(const onnx::Node& n) {
  const int64_t to = AttrInt(n, "to", -1);
  const bool to_float = to == onnx::kFloat || to == onnx::kDouble || to == onnx::kFloat16;
  const bool to_int = to == onnx::kInt64 || to == onnx::kInt32 || to == onnx::kInt16 || to == onnx::kInt8 ||
                      to == onnx::kUInt8 || to == onnx::kUInt16 || to == onnx::kUInt32 || to == onnx::kUInt64 ||
                      to == onnx::kBool;
  if (!to_float && !to_int) Unsup(n, "cast to " + onnx::DataTypeName(static_cast<int32_t>(to)) + " is not supported");
  Value& x = In(n, 0);
  if (!x.host) {
    if (!to_float) Unsup(n, "a run-time cast to " + onnx::DataTypeName(static_cast<int32_t>(to)) + " is not supported (tensors are float32)");
    Alias(n, 0, x);
    return;
  }
  Value v = x;
  if (to_float && x.is_int) {
    v.f = HostFloats(n, x, "a cast to float");
    v.is_int = false;
    v.ints.clear();
  } else if (to_int) {
    if (!x.is_int) {
      for (float f : x.f) v.ints.push_back(Dim{to == onnx::kBool ? (f != 0) : static_cast<int64_t>(f), 0});
      v.f.clear();
      v.is_int = true;
    } else if (to == onnx::kBool) {
      for (Dim& d : v.ints)
        if (d.known()) d.v = d.v != 0;
        else d = Dim{1, 0};  // a dimension that exists is nonzero in every model we accept
    }
  }
  SetHost(n, 0, std::move(v));
}

void OnnxConverter::ConstantOfShape(const onnx::Node& n) {
  const Shape shape = KnownInts(n, HostIn(n, 0, "the shape"), "the output shape");
  for (int64_t d : shape)
    if (d < 0 || d > (1 << 24)) Bad(n, "invalid shape entry " + std::to_string(d));
  Value v;
  v.hshape = shape;
  const int64_t count = Product(shape);
  if (count > (int64_t{1} << 26)) Unsup(n, "constant too large");
  const auto* a = n.Find("value");
  if (a && a->t && a->t->is_int) {
    v.is_int = true;
    v.ints.assign(count, Dim{a->t->i.empty() ? 0 : a->t->i[0], 0});
  } else {
    v.f.assign(count, a && a->t && !a->t->f.empty() ? a->t->f[0] : 0.0f);
  }
  SetHost(n, 0, std::move(v));
}

void OnnxConverter::Range(const onnx::Node& n) {
  const Value& s = HostIn(n, 0, "start");
  const Value& l = HostIn(n, 1, "limit");
  const Value& d = HostIn(n, 2, "delta");
  Value v;
  if (s.is_int && l.is_int && d.is_int) {
    const int64_t a = KnownInts(n, s, "start")[0], b = KnownInts(n, l, "limit")[0], c = KnownInts(n, d, "delta")[0];
    if (c == 0) Bad(n, "delta is 0");
    v.is_int = true;
    for (int64_t x = a; c > 0 ? x < b : x > b; x += c) {
      if (v.ints.size() > (1u << 24)) Unsup(n, "range too long");
      v.ints.push_back(Dim{x, 0});
    }
    v.hshape = {static_cast<int64_t>(v.ints.size())};
  } else {
    const float a = HostFloats(n, s, "start")[0], b = HostFloats(n, l, "limit")[0], c = HostFloats(n, d, "delta")[0];
    if (!(c != 0)) Bad(n, "delta is 0");
    const double count = std::ceil((static_cast<double>(b) - a) / c);
    if (!(count < (1 << 24))) Unsup(n, "range too long");
    for (int64_t k = 0; k < static_cast<int64_t>(std::max(0.0, count)); ++k) v.f.push_back(a + static_cast<float>(k) * c);
    v.hshape = {static_cast<int64_t>(v.f.size())};
  }
  SetHost(n, 0, std::move(v));
}

void OnnxConverter::Gather(const onnx::Node& n) {
  Value& x = In(n, 0);
  const Value& idx = HostIn(n, 1, "indices");
  const std::vector<int64_t> ind = KnownInts(n, idx, "the indices");
  const int a = Axis(n, AttrInt(n, "axis", 0), x.rank());
  const DimVec xs = ShapeOf(x);
  if (x.host) {
    const int64_t dim = x.hshape[a];
    Shape out(x.hshape.begin(), x.hshape.begin() + a);
    out.insert(out.end(), idx.hshape.begin(), idx.hshape.end());
    out.insert(out.end(), x.hshape.begin() + a + 1, x.hshape.end());
    const auto st = Strides(x.hshape);
    const size_t ir = idx.hshape.size();
    Value v = HostPick(x, out, [&](const std::vector<int64_t>& o) {
      int64_t flat_index = 0;
      for (size_t k = 0; k < ir; ++k) flat_index = flat_index * idx.hshape[k] + o[a + k];
      int64_t j = ind[flat_index];
      if (j < 0) j += dim;
      if (j < 0 || j >= dim) Bad(n, "index " + std::to_string(ind[flat_index]) + " is out of range");
      int64_t off = j * st[a];
      for (int d = 0; d < a; ++d) off += o[d] * st[d];
      for (size_t d = a + 1; d < x.hshape.size(); ++d) off += o[d - 1 + ir] * st[d];
      return off;
    });
    SetHost(n, 0, std::move(v));
    return;
  }
  const int in = ToPlain(x, current_);
  const int indices = AddIntConst(current_ + "/indices", idx.hshape, ind);
  DimVec out(xs.begin(), xs.begin() + a);
  for (int64_t d : idx.hshape) out.push_back(Dim{d, 0});
  out.insert(out.end(), xs.begin() + a + 1, xs.end());
  SetRuntime(n, 0, Emit1("Gather", {in, indices}, {{"axis", int64_t{a}}}, current_), out, false);
}

void OnnxConverter::Unsqueeze(const onnx::Node& n) {
  Value& x = In(n, 0);
  std::vector<int64_t> axes = opset_ >= 13 && Has(n, 1) ? KnownInts(n, HostIn(n, 1, "axes"), "axes") : AttrInts(n, "axes");
  if (axes.empty()) Bad(n, "axes are missing");
  const size_t rank = x.rank() + axes.size();
  std::vector<char> ins(rank, 0);
  for (int64_t& a : axes) {
    a = Axis(n, a, rank);
    if (ins[a]) Bad(n, "axis listed twice");
    ins[a] = 1;
  }
  const DimVec xs = ShapeOf(x);
  DimVec out;
  for (size_t i = 0, j = 0; i < rank; ++i) out.push_back(ins[i] ? Dim{1, 0} : xs[j++]);
  if (x.host) {
    Value v = x;
    v.hshape.clear();
    for (const Dim& d : out) v.hshape.push_back(d.v);
    SetHost(n, 0, std::move(v));
    return;
  }
  const int in = ToPlain(x, current_);
  SetRuntime(n, 0, Emit1("Unsqueeze", {in}, {{"axes", axes}}, current_), out, false);
}

void OnnxConverter::Squeeze(const onnx::Node& n) {
  Value& x = In(n, 0);
  std::vector<int64_t> axes = opset_ >= 13 && Has(n, 1) ? KnownInts(n, HostIn(n, 1, "axes"), "axes") : AttrInts(n, "axes");
  const DimVec xs = ShapeOf(x);
  std::vector<char> drop(xs.size(), 0);
  if (axes.empty()) {
    for (size_t i = 0; i < xs.size(); ++i) {
      if (!xs[i].known()) NeedShape(n, "squeezing without axes");
      drop[i] = xs[i].v == 1;
      if (drop[i]) axes.push_back(static_cast<int64_t>(i));
    }
  }
  for (int64_t& a : axes) {
    a = Axis(n, a, xs.size());
    if (xs[a].known() && xs[a].v != 1) Bad(n, "cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(xs[a].v));
    drop[a] = 1;
  }
  DimVec out;
  for (size_t i = 0; i < xs.size(); ++i)
    if (!drop[i]) out.push_back(xs[i]);
  if (x.host) {
    Value v = x;
    v.hshape.clear();
    for (const Dim& d : out) v.hshape.push_back(d.v);
    SetHost(n, 0, std::move(v));
    return;
  }
  const int in = ToPlain(x, current_);
  SetRuntime(n, 0, Emit1("Squeeze", {in}, {{"axes", axes}}, current_), out, false);
}

void OnnxConverter::Concat(const onnx::Node& n) {
  if (n.inputs.empty()) Bad(n, "no inputs");
  std::vector<Value*> xs;
  bool all_host = true, any_nhwc = false, all_rank4 = true;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!Has(n, i)) continue;
    Value& v = In(n, i);
    // Empty host tensors (a common export artefact) contribute nothing.
    if (v.host && v.count() == 0) continue;
    xs.push_back(&v);
    all_host = all_host && v.host;
    any_nhwc = any_nhwc || (!v.host && v.nhwc);
    all_rank4 = all_rank4 && v.rank() == 4;
  }
  if (xs.empty()) Bad(n, "all inputs are empty");
  const size_t rank = xs[0]->rank();
  const int a = Axis(n, AttrInt(n, "axis", 0), rank);
  DimVec out = ShapeOf(*xs[0]);
  bool sum_known = true;
  int64_t sum = 0;
  for (Value* v : xs) {
    const DimVec s = ShapeOf(*v);
    if (s.size() != rank) Bad(n, "inputs differ in rank");
    sum_known = sum_known && s[a].known();
    sum += s[a].v;
  }
  out[a] = sum_known ? Dim{sum, 0} : (xs.size() == 1 ? out[a] : Fresh());
  if (all_host) {
    Value v;
    v.host = true;
    v.is_int = std::all_of(xs.begin(), xs.end(), [](Value* x) { return x->is_int; });
    for (const Dim& d : out) v.hshape.push_back(d.v);
    int64_t outer = 1;
    for (int d = 0; d < a; ++d) outer *= v.hshape[d];
    for (int64_t o = 0; o < outer; ++o) {
      for (Value* x : xs) {
        int64_t inner = 1;
        for (size_t d = a; d < rank; ++d) inner *= x->hshape[d];
        if (v.is_int) {
          v.ints.insert(v.ints.end(), x->ints.begin() + o * inner, x->ints.begin() + (o + 1) * inner);
        } else {
          const std::vector<float> xf = HostFloats(n, *x, "a concatenated shape value");
          v.f.insert(v.f.end(), xf.begin() + o * inner, xf.begin() + (o + 1) * inner);
        }
      }
    }
    SetHost(n, 0, std::move(v));
    return;
  }
  const bool nhwc = any_nhwc && all_rank4;
  std::vector<int> ins;
  for (size_t i = 0; i < xs.size(); ++i) {
    Value& v = *xs[i];
    const std::string nm = current_ + "/in" + std::to_string(i);
    if (v.host) ins.push_back(HostTensor(n, nm, v, nhwc));
    else ins.push_back(nhwc ? ToNhwc(v, nm) : ToPlain(v, nm));
  }
  const int64_t axis = nhwc ? kPos[a] : a;
  if (ins.size() == 1) {
    SetRuntime(n, 0, Emit1("Identity", ins, {}, current_), out, nhwc);
    return;
  }
  SetRuntime(n, 0, Emit1("Concat", ins, {{"axis", axis}}, current_), out, nhwc);
}

void OnnxConverter::Reshape(const onnx::Node& n) {
  Value& x = In(n, 0);
  std::vector<Dim> spec;
  if (opset_ >= 5) {
    const Value& s = HostIn(n, 1, "the target shape");
    if (!s.is_int) Bad(n, "the target shape must be an integer tensor");
    spec = s.ints;
  } else {
    for (int64_t d : AttrInts(n, "shape")) spec.push_back(Dim{d, 0});
  }
  if (AttrInt(n, "allowzero", 0) != 0)
    for (const Dim& d : spec)
      if (d.known() && d.v == 0) Unsup(n, "allowzero=1 with a zero in the shape");
  const DimVec xs = ShapeOf(x);
  // Turn the folded spec into our Reshape spec: 0 = keep the input dim at that
  // position, -1 = infer. An open dim that is a copy of the input's dim at the
  // same position becomes 0; one other open dim can be inferred.
  std::vector<int64_t> ours;
  DimVec out;
  int infer = -1, open = 0;
  for (size_t i = 0; i < spec.size(); ++i) {
    const Dim& d = spec[i];
    if (d.known()) {
      if (d.v == -1) {
        if (infer >= 0) Bad(n, "the shape has more than one -1");
        infer = static_cast<int>(i);
      } else if (d.v < -1) {
        Bad(n, "invalid shape entry " + std::to_string(d.v));
      }
      ours.push_back(d.v);
      out.push_back(d.v == 0 ? (i < xs.size() ? xs[i] : Dim{0, 0}) : d);
    } else if (i < xs.size() && !xs[i].known() && xs[i].sym == d.sym) {
      ours.push_back(0);
      out.push_back(xs[i]);
    } else {
      ++open;
      ours.push_back(-1);
      out.push_back(d);
    }
  }
  if (open > 1 || (open == 1 && infer >= 0)) NeedShape(n, "the target shape");
  if (open == 1) infer = static_cast<int>(std::find(ours.begin(), ours.end(), -1) - ours.begin());
  if (infer >= 0) {
    bool all_known = true;
    int64_t total = 1, known = 1;
    for (const Dim& d : xs) {
      all_known = all_known && d.known();
      total *= d.v;
    }
    for (size_t i = 0; i < out.size(); ++i)
      if (static_cast<int>(i) != infer) {
        all_known = all_known && out[i].known();
        known *= out[i].v;
      }
    if (all_known) {
      if (known == 0 || total % known != 0) Bad(n, "cannot reshape " + DimsText(xs) + " to " + DimsText(spec));
      out[infer] = Dim{total / known, 0};
    } else if (spec[infer].known()) {
      out[infer] = Fresh();
    }
  }
  if (x.host) {
    Value v = x;
    v.hshape.clear();
    for (const Dim& d : out) {
      if (!d.known()) NeedShape(n, "the shape of a constant");
      v.hshape.push_back(d.v);
    }
    if (Product(v.hshape) != static_cast<int64_t>(x.count())) Bad(n, "element count changes");
    SetHost(n, 0, std::move(v));
    return;
  }
  const int in = ToPlain(x, current_);
  SetRuntime(n, 0, Emit1("Reshape", {in}, {{"shape", ours}}, current_), out, false);
}

void OnnxConverter::Flatten(const onnx::Node& n) {
  Value& x = In(n, 0);
  const DimVec xs = ShapeOf(x);
  int64_t axis = AttrInt(n, "axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(xs.size());
  if (axis < 0 || axis > static_cast<int64_t>(xs.size())) Bad(n, "axis out of range");
  Dim outer{1, 0}, inner{1, 0};
  for (size_t i = 0; i < xs.size(); ++i) {
    Dim& t = static_cast<int64_t>(i) < axis ? outer : inner;
    if (!xs[i].known() || !t.known()) {
      // A single open factor keeps its identity; a product of open factors is a new unknown.
      t = (t.known() && t.v == 1) ? xs[i] : (xs[i].known() && xs[i].v == 1 ? t : Fresh());
    } else {
      t.v *= xs[i].v;
    }
  }
  if (x.host) {
    Value v = x;
    v.hshape = {outer.v, inner.v};
    SetHost(n, 0, std::move(v));
    return;
  }
  const int in = ToPlain(x, current_);
  SetRuntime(n, 0, Emit1("Flatten", {in}, {{"axis", axis}}, current_), {outer, inner}, false);
}

void OnnxConverter::Transpose(const onnx::Node& n) {
  Value& x = In(n, 0);
  const size_t r = x.rank();
  std::vector<int64_t> perm = AttrInts(n, "perm");
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  if (perm.size() != r) Bad(n, "perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  std::vector<int> p;
  std::vector<char> seen(r, 0);
  for (int64_t v : perm) {
    if (v < 0 || v >= static_cast<int64_t>(r) || seen[v]) Bad(n, "perm is not a permutation");
    seen[v] = 1;
    p.push_back(static_cast<int>(v));
  }
  const DimVec xs = ShapeOf(x);
  DimVec out;
  for (int v : p) out.push_back(xs[v]);
  if (x.host) {
    SetHost(n, 0, HostTranspose(x, p));
    return;
  }
  // Physical permutation from the stored order to the (plain) output order.
  std::vector<int64_t> phys(r);
  for (size_t j = 0; j < r; ++j) phys[j] = x.nhwc ? kPos[p[j]] : p[j];
  bool identity = true;
  for (size_t j = 0; j < r; ++j) identity = identity && phys[j] == static_cast<int64_t>(j);
  if (identity) {
    Value v;
    v.tensor = x.tensor;
    v.shape = out;
    Alias(n, 0, v);
    return;
  }
  SetRuntime(n, 0, Emit1("Transpose", {x.tensor}, {{"perm", phys}}, current_), out, false);
}

void OnnxConverter::Slice(const onnx::Node& n) {
  Value& x = In(n, 0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset_ >= 10) {
    starts = KnownInts(n, HostIn(n, 1, "starts"), "the slice starts");
    ends = KnownInts(n, HostIn(n, 2, "ends"), "the slice ends");
    if (Has(n, 3)) axes = KnownInts(n, HostIn(n, 3, "axes"), "the slice axes");
    if (Has(n, 4)) steps = KnownInts(n, HostIn(n, 4, "steps"), "the slice steps");
  } else {
    starts = AttrInts(n, "starts");
    ends = AttrInts(n, "ends");
    axes = AttrInts(n, "axes");
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    Bad(n, "starts, ends, axes and steps differ in length");
  const DimVec xs = ShapeOf(x);
  DimVec out = xs;
  constexpr int64_t kBig = int64_t{1} << 40;
  for (size_t i = 0; i < axes.size(); ++i) {
    axes[i] = Axis(n, axes[i], xs.size());
    if (steps[i] == 0) Bad(n, "slice step 0");
    const Dim d = xs[axes[i]];
    if (!d.known()) {
      // Only "the whole axis" keeps an open dim open.
      const bool whole = steps[i] == 1 && (starts[i] == 0 || starts[i] <= -kBig) && ends[i] >= kBig;
      out[axes[i]] = whole ? d : Fresh();
      continue;
    }
    int64_t b = starts[i], e = ends[i];
    const int64_t s = steps[i], dim = d.v;
    if (b < 0) b += dim;
    if (e < 0) e += dim;
    int64_t count;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count = b > e ? (b - e - s - 1) / (-s) : 0;
    }
    starts[i] = b;
    out[axes[i]] = Dim{count, 0};
  }
  if (x.host) {
    // Starts were clamped above for every (known) axis of a host value.
    std::vector<int64_t> first(xs.size(), 0), step(xs.size(), 1);
    for (size_t i = 0; i < axes.size(); ++i) {
      first[axes[i]] = starts[i];
      step[axes[i]] = steps[i];
    }
    Shape os;
    for (const Dim& d : out) os.push_back(d.v);
    const auto st = Strides(x.hshape);
    SetHost(n, 0, HostPick(x, os, [&](const std::vector<int64_t>& o) {
              int64_t off = 0;
              for (size_t d = 0; d < o.size(); ++d) off += (first[d] + o[d] * step[d]) * st[d];
              return off;
            }));
    return;
  }
  std::vector<int64_t> phys_axes;
  for (int64_t a : axes) phys_axes.push_back(x.nhwc ? kPos[a] : a);
  std::vector<int64_t> begin = opset_ >= 10 ? KnownInts(n, In(n, 1), "the slice starts") : AttrInts(n, "starts");
  SetRuntime(n, 0,
             Emit1("Slice", {x.tensor}, {{"begin", begin}, {"end", ends}, {"axes", phys_axes}, {"steps", steps}}, current_),
             out, x.nhwc);
}

void OnnxConverter::Split(const onnx::Node& n) {
  Value& x = In(n, 0);
  const DimVec xs = ShapeOf(x);
  const int a = Axis(n, AttrInt(n, "axis", 0), xs.size());
  std::vector<int64_t> sizes = opset_ >= 13 && Has(n, 1) ? KnownInts(n, HostIn(n, 1, "split"), "the split sizes")
                                                           : AttrInts(n, "split");
  const size_t parts = n.outputs.size();
  if (parts == 0) Bad(n, "no outputs");
  if (!sizes.empty() && sizes.size() != parts) Bad(n, "split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(parts) + " outputs");
  if (sizes.empty() && xs[a].known()) {
    if (xs[a].v % static_cast<int64_t>(parts)) Unsup(n, "uneven split of " + std::to_string(xs[a].v) + " into " + std::to_string(parts));
    sizes.assign(parts, xs[a].v / static_cast<int64_t>(parts));
  }
  if (x.host) {
    if (sizes.empty()) NeedShape(n, "the split");
    int64_t begin = 0;
    const auto st = Strides(x.hshape);
    for (size_t o = 0; o < parts; ++o) {
      Shape os = x.hshape;
      os[a] = sizes[o];
      SetHost(n, o, HostPick(x, os, [&](const std::vector<int64_t>& idx) {
                int64_t off = 0;
                for (size_t d = 0; d < idx.size(); ++d) off += (idx[d] + (static_cast<int>(d) == a ? begin : 0)) * st[d];
                return off;
              }));
      begin += sizes[o];
    }
    return;
  }
  std::map<std::string, rt::Attr> attrs{{"axis", int64_t{x.nhwc ? kPos[a] : a}}};
  if (!sizes.empty()) attrs["sizes"] = sizes;
  const auto outs = Emit("Split", {x.tensor}, attrs, current_, static_cast<int>(parts));
  for (size_t o = 0; o < parts; ++o) {
    DimVec os = xs;
    os[a] = sizes.empty() ? Fresh() : Dim{sizes[o], 0};
    SetRuntime(n, o, outs[o], os, x.nhwc);
  }
}

void OnnxConverter::Pad(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "padding a constant");
  std::vector<int64_t> pads;
  float value = 0;
  if (opset_ >= 11) {
    pads = KnownInts(n, HostIn(n, 1, "pads"), "the pads");
    if (Has(n, 2)) {
      const auto v = HostFloats(n, HostIn(n, 2, "constant_value"), "the pad value");
      if (!v.empty()) value = v[0];
    }
    if (Has(n, 3)) Unsup(n, "the axes input of Pad");
  } else {
    pads = AttrInts(n, "pads");
    value = AttrFloat(n, "value", 0.0f);
  }
  const std::string mode = AttrString(n, "mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") Unsup(n, "pad mode '" + mode + "'");
  const size_t r = x.rank();
  if (pads.size() != 2 * r) Bad(n, "pads has " + std::to_string(pads.size()) + " entries for rank " + std::to_string(r));
  DimVec out = x.shape;
  for (size_t d = 0; d < r; ++d) {
    if (pads[d] < 0 || pads[d + r] < 0) Unsup(n, "negative pads (cropping)");
    if (out[d].known()) out[d].v += pads[d] + pads[d + r];
    else if (pads[d] + pads[d + r] != 0) out[d] = Fresh();
  }
  std::vector<int64_t> phys = pads;
  if (x.nhwc)
    for (size_t i = 0; i < 4; ++i) {
      phys[i] = pads[kPhys[i]];
      phys[i + 4] = pads[kPhys[i] + 4];
    }
  SetRuntime(n, 0, Emit1("Pad", {x.tensor}, {{"pads", phys}, {"mode", mode}, {"value", value}}, current_), out, x.nhwc);
}

// ------------------------------------------------------------------ element-wise

Value OnnxConverter::BinaryHost(const onnx::Node& n, const std::string& op, const Value& a, const Value& b) {
  const DimVec os = BroadcastShapes(n, ShapeOf(a), ShapeOf(b));
  Value v;
  v.host = true;
  for (const Dim& d : os) v.hshape.push_back(d.v);
  v.is_int = a.is_int && b.is_int;
  const auto sa = Strides(a.hshape), sb = Strides(b.hshape);
  const size_t r = os.size();
  auto offset = [&](const std::vector<int64_t>& idx, const Shape& s, const std::vector<int64_t>& st) {
    int64_t off = 0;
    for (size_t d = 0; d < s.size(); ++d) {
      const size_t od = d + r - s.size();
      if (s[d] != 1) off += idx[od] * st[d];
    }
    return off;
  };
  const std::vector<float> af = v.is_int ? std::vector<float>{} : HostFloats(n, a, "a constant operand");
  const std::vector<float> bf = v.is_int ? std::vector<float>{} : HostFloats(n, b, "a constant operand");
  ForEachIndex(v.hshape, [&](int64_t, const std::vector<int64_t>& idx) {
    const int64_t ia = offset(idx, a.hshape, sa), ib = offset(idx, b.hshape, sb);
    if (v.is_int) {
      const Dim x = a.ints[ia], y = b.ints[ib];
      Dim z;
      if (x.known() && y.known()) {
        if (op == "Add") z.v = x.v + y.v;
        else if (op == "Sub") z.v = x.v - y.v;
        else if (op == "Mul") z.v = x.v * y.v;
        else if (op == "Div") {
          if (y.v == 0) Bad(n, "integer division by zero");
          z.v = x.v / y.v;
        } else if (op == "Max") z.v = std::max(x.v, y.v);
        else if (op == "Min") z.v = std::min(x.v, y.v);
        else if (op == "Pow") z.v = static_cast<int64_t>(std::pow(static_cast<double>(x.v), static_cast<double>(y.v)));
        else if (op == "Equal") z.v = x.v == y.v;
        else Unsup(n, "integer " + op);
      } else if ((op == "Mul" || op == "Div") && y.known() && y.v == 1) {
        z = x;
      } else if (op == "Mul" && x.known() && x.v == 1) {
        z = y;
      } else if ((op == "Add" || op == "Sub") && y.known() && y.v == 0) {
        z = x;
      } else if (op == "Add" && x.known() && x.v == 0) {
        z = y;
      } else if (op == "Equal" && !x.known() && !y.known() && x.sym == y.sym) {
        z.v = 1;
      } else {
        z = Fresh();
      }
      v.ints.push_back(z);
    } else {
      const float x = af[ia], y = bf[ib];
      float z;
      if (op == "Add") z = x + y;
      else if (op == "Sub") z = x - y;
      else if (op == "Mul") z = x * y;
      else if (op == "Div") z = x / y;
      else if (op == "Max") z = std::max(x, y);
      else if (op == "Min") z = std::min(x, y);
      else if (op == "Pow") z = std::pow(x, y);
      else Unsup(n, "constant folding of " + op);
      v.f.push_back(z);
    }
  });
  return v;
}

void OnnxConverter::BinaryRuntime(const onnx::Node& n, const std::string& op, Value& a, Value& b, size_t out) {
  const DimVec os = BroadcastShapes(n, ShapeOf(a), ShapeOf(b));
  // Keep NHWC when every run-time operand is nhwc and constants can be permuted to match.
  const bool nhwc = os.size() == 4 && (a.host || a.nhwc) && (b.host || b.nhwc) && a.rank() <= 4 && b.rank() <= 4;
  auto operand = [&](Value& v, size_t i) {
    const std::string nm = i < n.inputs.size() ? n.inputs[i] : current_ + "/operand";
    if (v.host) return HostTensor(n, nm, v, nhwc);
    return nhwc ? v.tensor : ToPlain(v, nm);
  };
  const int ta = operand(a, 0), tb = operand(b, 1);
  SetRuntime(n, out, Emit1(op, {ta, tb}, {}, current_), os, nhwc);
}

void OnnxConverter::Binary(const onnx::Node& n) {
  std::string op = n.op_type;
  if (op == "Sum") op = "Add";
  if (n.inputs.empty()) Bad(n, "no inputs");
  if (n.inputs.size() == 1 && (op == "Add" || op == "Max" || op == "Min")) {
    Alias(n, 0, In(n, 0));
    return;
  }
  if (n.inputs.size() > 2 && op != "Add" && op != "Max" && op != "Min") Bad(n, "expects 2 inputs");
  if (n.inputs.size() == 2) {
    Value& a = In(n, 0);
    Value& b = In(n, 1);
    if (a.host && b.host) {
      SetHost(n, 0, BinaryHost(n, op, a, b));
      return;
    }
    if (op == "Equal") Unsup(n, "run-time comparison");
    BinaryRuntime(n, op, a, b, 0);
    return;
  }
  // Variadic Sum/Max/Min: a left-to-right chain of binary nodes.
  // Each step reads the previous partial result as a named value, so constants
  // it materialises are cached under their own name.
  std::string acc = n.inputs[0];
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    onnx::Node step = n;
    step.inputs = {acc, n.inputs[i]};
    if (i + 1 < n.inputs.size()) step.outputs = {n.outputs[0] + "/partial" + std::to_string(i)};
    Value& a = In(step, 0);
    Value& b = In(step, 1);
    if (a.host && b.host) SetHost(step, 0, BinaryHost(step, op, a, b));
    else BinaryRuntime(step, op, a, b, 0);
    acc = step.outputs[0];
  }
}

void OnnxConverter::Unary(const onnx::Node& n) {
  static const std::map<std::string, std::string> kOps = {
      {"Relu", "Relu"},       {"Sigmoid", "Sigmoid"}, {"Tanh", "Tanh"},   {"Exp", "Exp"},
      {"Log", "Log"},         {"Sqrt", "Sqrt"},       {"Abs", "Abs"},     {"Neg", "Neg"},
      {"Reciprocal", "Reciprocal"}, {"Softplus", "Softplus"}, {"LeakyRelu", "LeakyRelu"}, {"Elu", "Elu"},
      {"HardSwish", "HardSwish"}, {"Floor", ""}, {"Ceil", ""}};
  Value& x = In(n, 0);
  const std::string& op = n.op_type;
  if (x.host) {
    Value v = x;
    if (v.is_int) {
      if (op != "Neg" && op != "Abs" && op != "Relu" && op != "Floor" && op != "Ceil") Unsup(n, "integer " + op);
      for (Dim& d : v.ints) {
        if (!d.known()) NeedShape(n, op + " of a dimension");
        if (op == "Neg") d.v = -d.v;
        else if (op == "Abs") d.v = std::abs(d.v);
        else if (op == "Relu") d.v = std::max<int64_t>(d.v, 0);
      }
    } else {
      const float alpha = AttrFloat(n, "alpha", op == "Elu" ? 1.0f : 0.01f);
      for (float& f : v.f) {
        if (op == "Relu") f = std::max(f, 0.0f);
        else if (op == "Sigmoid") f = 1.0f / (1.0f + std::exp(-f));
        else if (op == "Tanh") f = std::tanh(f);
        else if (op == "Exp") f = std::exp(f);
        else if (op == "Log") f = std::log(f);
        else if (op == "Sqrt") f = std::sqrt(f);
        else if (op == "Abs") f = std::fabs(f);
        else if (op == "Neg") f = -f;
        else if (op == "Reciprocal") f = 1.0f / f;
        else if (op == "Floor") f = std::floor(f);
        else if (op == "Ceil") f = std::ceil(f);
        else if (op == "LeakyRelu") f = f >= 0 ? f : alpha * f;
        else Unsup(n, "constant folding of " + op);
      }
    }
    SetHost(n, 0, std::move(v));
    return;
  }
  const std::string& ours = kOps.at(op);
  if (ours.empty()) Unsup(n, op + " of a run-time tensor");
  std::map<std::string, rt::Attr> attrs;
  if (op == "LeakyRelu") attrs["alpha"] = AttrFloat(n, "alpha", 0.01f);
  if (op == "Elu") attrs["alpha"] = AttrFloat(n, "alpha", 1.0f);
  SetRuntime(n, 0, Emit1(ours, {x.tensor}, attrs, current_), x.shape, x.nhwc);
}

void OnnxConverter::Clip(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "clipping a constant");
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (opset_ >= 11) {
    if (Has(n, 1)) lo = HostFloats(n, HostIn(n, 1, "min"), "min").at(0);
    if (Has(n, 2)) hi = HostFloats(n, HostIn(n, 2, "max"), "max").at(0);
  } else {
    lo = AttrFloat(n, "min", lo);
    hi = AttrFloat(n, "max", hi);
  }
  if (!(lo <= hi)) Unsup(n, "min > max");
  std::string op = "Clip";
  std::map<std::string, rt::Attr> attrs{{"min", lo}, {"max", hi}};
  if (lo == 0.0f && hi == 6.0f) {
    op = "Relu6";
    attrs.clear();
  } else if (lo == 0.0f && std::isinf(hi)) {
    op = "Relu";
    attrs.clear();
  }
  SetRuntime(n, 0, Emit1(op, {x.tensor}, attrs, current_), x.shape, x.nhwc);
}

void OnnxConverter::PRelu(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "PRelu of a constant");
  const Value& s = HostIn(n, 1, "slope");
  const std::vector<float> slope = HostFloats(n, s, "the slope");
  // ONNX broadcasts the slope; ours is one value or one per channel of the stored last dim.
  const size_t r = x.rank();
  const int channel_axis = x.nhwc ? 1 : static_cast<int>(r) - 1;
  if (slope.size() != 1) {
    // The slope's only non-1 dim must be the channel axis (aligned from the right).
    for (size_t d = 0; d < s.hshape.size(); ++d) {
      const int logical = static_cast<int>(d + r - s.hshape.size());
      if (s.hshape[d] != 1 && logical != channel_axis) Unsup(n, "slope shape " + rt::ShapeToString(s.hshape) + " is not per channel");
    }
  }
  const int st = AddFloatConst(current_ + "/slope", {static_cast<int64_t>(slope.size())}, slope);
  SetRuntime(n, 0, Emit1("PRelu", {x.tensor, st}, {}, current_), x.shape, x.nhwc);
}

void OnnxConverter::Softmax(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "softmax of a constant");
  const size_t r = x.rank();
  const int a = Axis(n, AttrInt(n, "axis", opset_ >= 13 ? -1 : 1), r);
  if (opset_ < 13) {
    // Before opset 13 Softmax normalises over all dims from `axis` on; that is
    // a one-axis softmax only when the later dims are all 1.
    for (size_t d = a + 1; d < r; ++d)
      if (!x.shape[d].known() || x.shape[d].v != 1)
        Unsup(n, "softmax over the flattened dims " + std::to_string(a) + ".." + std::to_string(r - 1) + " of " + DimsText(x.shape));
  }
  const int64_t phys = x.nhwc ? kPos[a] : a;
  SetRuntime(n, 0, Emit1("Softmax", {x.tensor}, {{"axis", phys}}, current_), x.shape, x.nhwc);
}

// ------------------------------------------------------------------ convolution, pooling, resize

namespace {

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: [top, left, bottom, right]
  std::string auto_pad;
};

Dim WindowOutput(Dim in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode, bool same,
                 const std::function<Dim()>& fresh) {
  if (!in.known()) return fresh();
  if (same) return Dim{(in.v + s - 1) / s, 0};
  const int64_t span = in.v + pb + pe - ((k - 1) * d + 1);
  if (span < 0) return Dim{0, 0};
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  // A window may not start in the end padding (PyTorch / ONNX Runtime rule).
  if (ceil_mode && (out - 1) * s >= in.v + pb) --out;
  return Dim{out, 0};
}

}  // namespace

void OnnxConverter::Conv(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "convolution of a constant");
  if (x.rank() != 4) Unsup(n, "only 2-D convolution (4-D input) is supported, input is " + DimsText(x.shape));
  const Value& w = HostIn(n, 1, "the weights");
  if (w.is_int || w.hshape.size() != 4) Bad(n, "weights must be a 4-D float tensor");
  const int64_t O = w.hshape[0], I = w.hshape[1], KH = w.hshape[2], KW = w.hshape[3];
  const int64_t group = AttrInt(n, "group", 1);
  if (group < 1) Bad(n, "group must be >= 1");
  if (x.shape[1].known() && x.shape[1].v != I * group)
    Bad(n, "input has " + std::to_string(x.shape[1].v) + " channels, weights expect " + std::to_string(I * group));
  const auto ks = AttrInts(n, "kernel_shape", {KH, KW});
  if (ks.size() != 2 || ks[0] != KH || ks[1] != KW) Bad(n, "kernel_shape disagrees with the weights");
  const auto strides = AttrInts(n, "strides", {1, 1});
  const auto dil = AttrInts(n, "dilations", {1, 1});
  auto pads = AttrInts(n, "pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) Bad(n, "strides/dilations/pads have the wrong length");
  std::string padding = "EXPLICIT";
  const std::string auto_pad = AttrString(n, "auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER") padding = "SAME";
  else if (auto_pad == "VALID") padding = "VALID", pads = {0, 0, 0, 0};
  else if (auto_pad == "SAME_LOWER") {
    if (!x.shape[2].known() || !x.shape[3].known()) NeedShape(n, "SAME_LOWER padding");
    for (int i = 0; i < 2; ++i) {
      const int64_t in = x.shape[2 + i].v, out = (in + strides[i] - 1) / strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1 - in);
      pads[i] = total - total / 2;  // SAME_LOWER puts the extra pixel first
      pads[i + 2] = total / 2;
    }
  } else if (auto_pad != "NOTSET") Bad(n, "unknown auto_pad '" + auto_pad + "'");
  // OIHW -> OHWI
  const Value wt = HostTranspose(w, {0, 2, 3, 1});
  const int wi = AddFloatConst(n.inputs[1], wt.hshape, wt.f);
  std::vector<int> ins = {ToNhwc(x, n.inputs[0]), wi};
  if (Has(n, 2)) {
    const auto bias = HostFloats(n, HostIn(n, 2, "the bias"), "the bias");
    if (static_cast<int64_t>(bias.size()) != O) Bad(n, "bias has " + std::to_string(bias.size()) + " values for " + std::to_string(O) + " outputs");
    ins.push_back(AddFloatConst(n.inputs[2], {O}, bias));
  }
  std::map<std::string, rt::Attr> attrs{{"strides", strides}, {"dilations", dil}, {"groups", group}, {"padding", padding}};
  if (padding == "EXPLICIT") attrs["pads"] = pads;
  auto fresh = [this] { return Fresh(); };
  DimVec out = {x.shape[0], Dim{O, 0},
                WindowOutput(x.shape[2], KH, strides[0], dil[0], pads[0], pads[2], false, padding == "SAME", fresh),
                WindowOutput(x.shape[3], KW, strides[1], dil[1], pads[1], pads[3], false, padding == "SAME", fresh)};
  SetRuntime(n, 0, Emit1("Conv2D", ins, attrs, current_), out, true);
}

void OnnxConverter::BatchNorm(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "batch norm of a constant");
  if (AttrInt(n, "training_mode", 0) != 0) Unsup(n, "training_mode=1");
  if (!x.nhwc && x.rank() != 2) Unsup(n, "batch norm over axis 1 of a rank-" + std::to_string(x.rank()) + " tensor");
  std::vector<int> ins = {x.tensor};
  static const char* kNames[] = {"scale", "bias", "mean", "variance"};
  for (int i = 1; i <= 4; ++i) {
    const auto v = HostFloats(n, HostIn(n, i, kNames[i - 1]), kNames[i - 1]);
    ins.push_back(AddFloatConst(n.inputs[i], {static_cast<int64_t>(v.size())}, v));
  }
  SetRuntime(n, 0, Emit1("BatchNorm", ins, {{"epsilon", AttrFloat(n, "epsilon", 1e-5f)}}, current_), x.shape, x.nhwc);
}

void OnnxConverter::Pool(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "pooling a constant");
  if (x.rank() != 4) Unsup(n, "only 2-D pooling (4-D input) is supported");
  const bool is_max = n.op_type == "MaxPool";
  if (is_max && n.outputs.size() > 1 && !n.outputs[1].empty()) Unsup(n, "the Indices output of MaxPool");
  const auto ks = AttrInts(n, "kernel_shape");
  if (ks.size() != 2) Bad(n, "kernel_shape must have 2 entries");
  const auto strides = AttrInts(n, "strides", {1, 1});
  auto pads = AttrInts(n, "pads", {0, 0, 0, 0});
  const auto dil = AttrInts(n, "dilations", {1, 1});
  if (strides.size() != 2 || pads.size() != 4) Bad(n, "strides/pads have the wrong length");
  if (dil != std::vector<int64_t>{1, 1}) Unsup(n, "dilated pooling");
  if (AttrInt(n, "storage_order", 0) != 0) Unsup(n, "storage_order=1");
  const bool ceil_mode = AttrInt(n, "ceil_mode", 0) != 0;
  const bool count_pad = AttrInt(n, "count_include_pad", 0) != 0;
  std::string padding = "EXPLICIT";
  const std::string auto_pad = AttrString(n, "auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER") padding = "SAME";
  else if (auto_pad == "VALID") padding = "VALID", pads = {0, 0, 0, 0};
  else if (auto_pad != "NOTSET") Unsup(n, "auto_pad '" + auto_pad + "'");
  auto fresh = [this] { return Fresh(); };
  DimVec out = {x.shape[0], x.shape[1], Dim{}, Dim{}};
  for (int i = 0; i < 2; ++i) {
    const Dim in = x.shape[2 + i];
    if (ceil_mode && padding == "EXPLICIT") {
      if (!in.known()) NeedShape(n, "ceil_mode pooling");
      // Our pools have no ceil mode: pad the end so the floor formula yields the ceil size.
      const Dim o = WindowOutput(in, ks[i], strides[i], 1, pads[i], pads[i + 2], true, false, fresh);
      const int64_t extra = std::max<int64_t>(0, (o.v - 1) * strides[i] + ks[i] - (in.v + pads[i] + pads[i + 2]));
      if (extra > 0 && !is_max && count_pad)
        Unsup(n, "ceil_mode with count_include_pad=1 (the ceil overhang is not counted by ONNX)");
      pads[i + 2] += extra;
      out[2 + i] = o;
    } else {
      out[2 + i] = WindowOutput(in, ks[i], strides[i], 1, pads[i], pads[i + 2], false, padding == "SAME", fresh);
    }
  }
  std::map<std::string, rt::Attr> attrs{{"kernel", ks}, {"strides", strides}, {"padding", padding}};
  if (padding == "EXPLICIT") attrs["pads"] = pads;
  if (!is_max) attrs["count_include_pad"] = int64_t{count_pad ? 1 : 0};
  SetRuntime(n, 0, Emit1(is_max ? "MaxPool" : "AvgPool", {ToNhwc(x, n.inputs[0])}, attrs, current_), out, true);
}

void OnnxConverter::GlobalPool(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "pooling a constant");
  if (x.rank() != 4) Unsup(n, "only 4-D global pooling is supported");
  const std::string op = n.op_type == "GlobalMaxPool" ? "GlobalMaxPool" : "GlobalAvgPool";
  DimVec out = {x.shape[0], x.shape[1], Dim{1, 0}, Dim{1, 0}};
  SetRuntime(n, 0, Emit1(op, {ToNhwc(x, n.inputs[0])}, {{"keepdims", int64_t{1}}}, current_), out, true);
}

void OnnxConverter::Resize(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "resizing a constant");
  if (x.rank() != 4) Unsup(n, "only 4-D (NCHW) resize is supported");
  std::string mode = AttrString(n, "mode", "nearest");
  std::string coord, nearest;
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  DimVec open_sizes;  // sizes whose H or W is an open dimension (a run-time shape)
  auto read_scales = [&](size_t i) {
    if (!Has(n, i)) return;
    const Value& v = HostIn(n, i, "scales");
    if (v.count() > 0) scales = HostFloats(n, v, "the scales");
  };
  if (n.op_type == "Upsample" || opset_ < 11) {
    if (n.op_type == "Upsample" && opset_ < 9) scales = AttrFloats(n, "scales");
    else read_scales(1);
    coord = "asymmetric";
    // ONNX Runtime's pre-opset-11 nearest rounding: floor when enlarging, ceil when shrinking.
    const bool up = !scales.empty() && std::all_of(scales.begin(), scales.end(), [](float s) { return s >= 1; });
    const bool down = !scales.empty() && std::all_of(scales.begin(), scales.end(), [](float s) { return s <= 1; });
    if (!up && !down) Unsup(n, "mixed up- and down-scaling");
    nearest = up ? "floor" : "ceil";
  } else {
    coord = AttrString(n, "coordinate_transformation_mode", "half_pixel");
    nearest = AttrString(n, "nearest_mode", "round_prefer_floor");
    read_scales(2);
    if (Has(n, 3)) {
      const Value& v = HostIn(n, 3, "sizes");
      if (v.is_int && v.ints.size() == 4 && (!v.ints[2].known() || !v.ints[3].known())) {
        open_sizes = v.ints;
      } else if (v.count() > 0) {
        sizes = KnownInts(n, v, "the output size");
      }
    }
    if (AttrInt(n, "exclude_outside", 0) != 0) Unsup(n, "exclude_outside=1");
    if (AttrInt(n, "antialias", 0) != 0) Unsup(n, "antialias=1");
    if (n.Find("axes")) Unsup(n, "the axes attribute");
    static const std::set<std::string> kCoords = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                                  "tf_half_pixel_for_nn"};
    if (!kCoords.count(coord)) Unsup(n, "coordinate_transformation_mode '" + coord + "'");
  }
  if (mode == "linear" || mode == "bilinear") mode = "bilinear";
  else if (mode != "nearest") Unsup(n, "mode '" + mode + "'");
  std::map<std::string, rt::Attr> attrs{{"method", mode}, {"coordinate_mode", coord}, {"nearest_mode", nearest}};
  DimVec out = x.shape;
  auto check_nc = [&](bool ok) {
    if (!ok) Unsup(n, "resizing the batch or channel dimension");
  };
  if (!open_sizes.empty()) {
    // The FPN pattern Shape(t) -> Gather -> Concat -> Resize 'sizes': the output
    // takes its height and width at run time from a tensor that has exactly those
    // (open) dims, passed as the Resize's size reference.
    auto same = [](const Dim& a, const Dim& b) {
      return a.known() == b.known() && (a.known() ? a.v == b.v : a.sym == b.sym);
    };
    check_nc((!x.shape[0].known() || !open_sizes[0].known() || open_sizes[0].v == x.shape[0].v) &&
             (!x.shape[1].known() || !open_sizes[1].known() || open_sizes[1].v == x.shape[1].v));
    int like = -1;
    Value* plain_like = nullptr;
    std::string plain_name;
    for (auto& [name, v] : values_) {
      if (v.host || v.rank() != 4 || !same(v.shape[2], open_sizes[2]) || !same(v.shape[3], open_sizes[3])) continue;
      if (v.nhwc) {
        like = v.tensor;
        break;
      }
      if (!plain_like) {
        plain_like = &v;
        plain_name = name;
      }
    }
    if (like < 0 && plain_like) like = ToNhwc(*plain_like, plain_name);
    if (like < 0) NeedShape(n, "the output size");
    out[2] = open_sizes[2];
    out[3] = open_sizes[3];
    SetRuntime(n, 0, Emit1("Resize", {ToNhwc(x, n.inputs[0]), like}, attrs, current_), out, true);
    return;
  }
  if (!sizes.empty()) {
    if (sizes.size() != 4) Bad(n, "sizes must have 4 entries");
    check_nc((!x.shape[0].known() || sizes[0] == x.shape[0].v) && (!x.shape[1].known() || sizes[1] == x.shape[1].v));
    attrs["size"] = std::vector<int64_t>{sizes[2], sizes[3]};
    out[2] = Dim{sizes[2], 0};
    out[3] = Dim{sizes[3], 0};
  } else {
    if (scales.size() != 4) Bad(n, "needs 4 scales or 4 sizes");
    check_nc(scales[0] == 1.0f && scales[1] == 1.0f);
    attrs["scales"] = std::vector<float>{scales[2], scales[3]};
    for (int i = 2; i < 4; ++i)
      out[i] = x.shape[i].known() ? Dim{static_cast<int64_t>(std::floor(x.shape[i].v * static_cast<double>(scales[i]))), 0}
                                  : Fresh();
  }
  SetRuntime(n, 0, Emit1("Resize", {ToNhwc(x, n.inputs[0])}, attrs, current_), out, true);
}

// ------------------------------------------------------------------ matrix products and reductions

void OnnxConverter::Gemm(const onnx::Node& n) {
  Value& a = In(n, 0);
  if (a.host) Unsup(n, "Gemm of two constants");
  if (a.rank() != 2) Bad(n, "A must be 2-D, is " + DimsText(a.shape));
  if (AttrInt(n, "transA", 0) != 0) Unsup(n, "transA=1");
  const Value& b = HostIn(n, 1, "B");
  if (b.is_int || b.hshape.size() != 2) Bad(n, "B must be a 2-D float tensor");
  const float alpha = AttrFloat(n, "alpha", 1.0f), beta = AttrFloat(n, "beta", 1.0f);
  Value w = AttrInt(n, "transB", 0) != 0 ? HostTranspose(b, {1, 0}) : b;  // -> [K, N]
  const int64_t K = w.hshape[0], N = w.hshape[1];
  if (a.shape[1].known() && a.shape[1].v != K) Bad(n, "A has " + std::to_string(a.shape[1].v) + " columns, B has " + std::to_string(K) + " rows");
  if (alpha != 1.0f)
    for (float& v : w.f) v *= alpha;
  std::vector<int> ins = {ToPlain(a, n.inputs[0]), AddFloatConst(n.inputs[1], {K, N}, w.f)};
  if (Has(n, 2)) {
    const Value& c = HostIn(n, 2, "C");
    std::vector<float> cf = HostFloats(n, c, "C");
    if (cf.size() == 1) cf.assign(N, cf[0]);
    if (static_cast<int64_t>(cf.size()) != N) Unsup(n, "bias C of shape " + rt::ShapeToString(c.hshape) + " (only per-column biases)");
    for (float& v : cf) v *= beta;
    ins.push_back(AddFloatConst(n.inputs[2], {N}, cf));
  }
  SetRuntime(n, 0, Emit1("Dense", ins, {}, current_), {a.shape[0], Dim{N, 0}}, false);
}

void OnnxConverter::MatMul(const onnx::Node& n) {
  Value& a = In(n, 0);
  Value& b = In(n, 1);
  if (a.host && b.host) Unsup(n, "MatMul of two constants");
  if (a.host) Unsup(n, "a constant left operand");
  if (a.rank() < 2) Unsup(n, "a 1-D left operand");
  DimVec out = a.shape;
  if (b.host) {
    if (b.is_int || b.hshape.size() != 2) Unsup(n, "a constant right operand of shape " + rt::ShapeToString(b.hshape));
    out.back() = Dim{b.hshape[1], 0};
    const int w = AddFloatConst(n.inputs[1], b.hshape, b.f);
    SetRuntime(n, 0, Emit1("Dense", {ToPlain(a, n.inputs[0]), w}, {}, current_), out, false);
    return;
  }
  if (b.rank() < 2) Unsup(n, "a 1-D right operand");
  out.back() = b.shape.back();
  SetRuntime(n, 0, Emit1("MatMul", {ToPlain(a, n.inputs[0]), ToPlain(b, n.inputs[1])}, {}, current_), out, false);
}

void OnnxConverter::Reduce(const onnx::Node& n) {
  Value& x = In(n, 0);
  if (x.host) Unsup(n, "reducing a constant");
  std::vector<int64_t> axes = AttrInts(n, "axes");
  const bool axes_input = (n.op_type == "ReduceSum" && opset_ >= 13) || opset_ >= 18;
  if (axes_input && Has(n, 1)) axes = KnownInts(n, HostIn(n, 1, "axes"), "the axes");
  const bool keep = AttrInt(n, "keepdims", 1) != 0;
  const size_t r = x.rank();
  if (axes.empty()) {
    if (AttrInt(n, "noop_with_empty_axes", 0) != 0) {
      Alias(n, 0, x);
      return;
    }
    for (size_t i = 0; i < r; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<char> red(r, 0);
  for (int64_t& a : axes) {
    a = Axis(n, a, r);
    red[a] = 1;
  }
  DimVec out;
  for (size_t d = 0; d < r; ++d) {
    if (!red[d]) out.push_back(x.shape[d]);
    else if (keep) out.push_back(Dim{1, 0});
  }
  const bool nhwc = x.nhwc && keep;
  const int in = nhwc ? x.tensor : ToPlain(x, n.inputs[0]);
  std::vector<int64_t> phys;
  for (int64_t a : axes) phys.push_back(nhwc ? kPos[a] : a);
  SetRuntime(n, 0, Emit1(n.op_type, {in}, {{"axes", phys}, {"keepdims", int64_t{keep ? 1 : 0}}}, current_), out, nhwc);
}

// ------------------------------------------------------------------ driver

const std::map<std::string, OnnxConverter::Handler>& OnnxConverter::Handlers() {
  static const std::map<std::string, Handler> kHandlers = [] {
    std::map<std::string, Handler> h = {
        {"Constant", &OnnxConverter::Constant},
        {"Identity", &OnnxConverter::Identity},
        {"Dropout", &OnnxConverter::Identity},
        {"Shape", &OnnxConverter::Shape_},
        {"Cast", &OnnxConverter::Cast},
        {"ConstantOfShape", &OnnxConverter::ConstantOfShape},
        {"Range", &OnnxConverter::Range},
        {"Gather", &OnnxConverter::Gather},
        {"Unsqueeze", &OnnxConverter::Unsqueeze},
        {"Squeeze", &OnnxConverter::Squeeze},
        {"Concat", &OnnxConverter::Concat},
        {"Reshape", &OnnxConverter::Reshape},
        {"Flatten", &OnnxConverter::Flatten},
        {"Transpose", &OnnxConverter::Transpose},
        {"Slice", &OnnxConverter::Slice},
        {"Split", &OnnxConverter::Split},
        {"Pad", &OnnxConverter::Pad},
        {"Clip", &OnnxConverter::Clip},
        {"PRelu", &OnnxConverter::PRelu},
        {"Softmax", &OnnxConverter::Softmax},
        {"Conv", &OnnxConverter::Conv},
        {"BatchNormalization", &OnnxConverter::BatchNorm},
        {"MaxPool", &OnnxConverter::Pool},
        {"AveragePool", &OnnxConverter::Pool},
        {"GlobalAveragePool", &OnnxConverter::GlobalPool},
        {"GlobalMaxPool", &OnnxConverter::GlobalPool},
        {"Resize", &OnnxConverter::Resize},
        {"Upsample", &OnnxConverter::Resize},
        {"Gemm", &OnnxConverter::Gemm},
        {"MatMul", &OnnxConverter::MatMul},
    };
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Equal"}) h[op] = &OnnxConverter::Binary;
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Softplus",
                           "LeakyRelu", "Elu", "HardSwish", "Floor", "Ceil"})
      h[op] = &OnnxConverter::Unary;
    for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum"}) h[op] = &OnnxConverter::Reduce;
    return h;
  }();
  return kHandlers;
}

rt::Graph OnnxConverter::Convert() {
  const onnx::Graph& og = m_.graph;
  for (const auto& [domain, version] : m_.opsets)
    if (!domain.empty()) Unsupported(path_, "operator set domain '" + domain + "' (version " + std::to_string(version) + ")");
  std::set<std::string> init_names;
  for (const onnx::Tensor& t : og.initializers) {
    init_names.insert(t.name);
    values_[t.name] = FromTensor(t);
  }
  // Graph inputs: 4-D inputs become NHWC.
  std::map<std::string, int> param_syms;
  std::vector<std::string> onnx_shapes;
  for (const onnx::ValueInfo& vi : og.inputs) {
    if (init_names.count(vi.name)) continue;  // older exporters list initializers as inputs too
    if (vi.elem_type != onnx::kFloat)
      Unsupported(path_, "input '" + vi.name + "' has element type " + onnx::DataTypeName(vi.elem_type) + " (only FLOAT)");
    if (!vi.has_shape) Unsupported(path_, "input '" + vi.name + "' has no shape");
    DimVec shape;
    auto fixed = input_shapes_.find(vi.name);
    if (fixed != input_shapes_.end()) {
      if (fixed->second.size() != vi.dims.size())
        throw Error(ErrorCode::kInvalidArgument, "--input-shape for '" + vi.name + "' has rank " +
                                                     std::to_string(fixed->second.size()) + ", the model's input has rank " +
                                                     std::to_string(vi.dims.size()));
      for (size_t i = 0; i < vi.dims.size(); ++i) {
        if (vi.dims[i] >= 0 && vi.dims[i] != fixed->second[i])
          throw Error(ErrorCode::kInvalidArgument, "--input-shape for '" + vi.name + "' disagrees with the model's fixed dim " +
                                                       std::to_string(i) + " = " + std::to_string(vi.dims[i]));
        shape.push_back(Dim{fixed->second[i], 0});
      }
      input_shapes_.erase(fixed);
    } else {
      for (size_t i = 0; i < vi.dims.size(); ++i) {
        if (vi.dims[i] >= 0) {
          shape.push_back(Dim{vi.dims[i], 0});
        } else {
          const std::string& p = vi.dim_params[i];
          if (!p.empty() && param_syms.count(p)) shape.push_back(Dim{0, param_syms[p]});
          else {
            shape.push_back(Fresh());
            if (!p.empty()) param_syms[p] = shape.back().sym;
          }
        }
      }
    }
    Shape phys;
    const bool nhwc = shape.size() == 4;
    for (size_t i = 0; i < shape.size(); ++i) {
      const Dim& d = shape[nhwc ? kPhys[i] : i];
      phys.push_back(d.known() ? d.v : -1);
    }
    const int t = graph_.AddInput(UniqueTensorName(vi.name), phys);
    Value v;
    v.tensor = t;
    v.shape = shape;
    v.nhwc = nhwc;
    values_[vi.name] = v;
    onnx_shapes.push_back(vi.name + "=" + DimsText(shape));
  }
  if (!input_shapes_.empty())
    throw Error(ErrorCode::kInvalidArgument, "--input-shape names '" + input_shapes_.begin()->first + "', which is not a model input");
  if (graph_.inputs.empty()) Unsupported(path_, "the graph has no run-time inputs");

  for (size_t i = 0; i < og.nodes.size(); ++i) {
    const onnx::Node& src = og.nodes[i];
    onnx::Node n = src;
    if (n.name.empty()) n.name = n.op_type + "_" + std::to_string(i);
    if (!n.domain.empty() && n.domain != "ai.onnx")
      Unsupported(path_, n.Describe() + ": operator '" + n.op_type + "' from domain '" + n.domain + "' is not supported");
    auto it = Handlers().find(n.op_type);
    if (it == Handlers().end())
      Unsupported(path_, n.Describe() + ": operator '" + n.op_type + "' is not supported by the ONNX converter");
    if (n.outputs.empty()) Bad(n, "has no outputs");
    current_ = n.outputs[0].empty() ? n.name : n.outputs[0];
    (this->*(it->second))(n);
  }

  // Outputs: exactly the ONNX values, in NCHW order where 4-D.
  std::set<int> marked;
  for (const onnx::ValueInfo& vi : og.outputs) {
    auto it = values_.find(vi.name);
    if (it == values_.end()) Malformed(path_, "graph output '" + vi.name + "' is not produced by any node");
    Value& v = it->second;
    if (v.host) Unsupported(path_, "graph output '" + vi.name + "' is a constant");
    int t = ToPlain(v, vi.name);
    const bool is_input = std::find(graph_.inputs.begin(), graph_.inputs.end(), t) != graph_.inputs.end();
    if (is_input || marked.count(t)) t = Emit1("Identity", {t}, {}, vi.name);
    if (graph_.tensors[t].name != vi.name) {
      // Free the name: whichever tensor holds it (the NHWC original) gets a suffix.
      for (auto& td : graph_.tensors)
        if (td.name == vi.name) td.name = UniqueTensorName(vi.name + "/nhwc");
      tensor_names_.erase(graph_.tensors[t].name);
      graph_.tensors[t].name = vi.name;
      tensor_names_.insert(vi.name);
    }
    graph_.MarkOutput(t);
    marked.insert(t);
  }

  // Drop nodes whose results nothing uses (e.g. an NCHW copy made for a consumer that folded away).
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<int> uses(graph_.tensors.size(), 0);
    for (const auto& nd : graph_.nodes)
      for (int t : nd.inputs)
        if (t >= 0) ++uses[t];
    for (int t : graph_.outputs) ++uses[t];
    for (size_t k = 0; k < graph_.nodes.size(); ++k) {
      const auto& nd = graph_.nodes[k];
      if (std::all_of(nd.outputs.begin(), nd.outputs.end(), [&](int t) { return uses[t] == 0; })) {
        graph_.nodes.erase(graph_.nodes.begin() + static_cast<long>(k));
        changed = true;
        break;
      }
    }
  }
  // Compact the tensor table (unused constants and dropped intermediates).
  {
    std::vector<int> used(graph_.tensors.size(), 0);
    for (int t : graph_.inputs) used[t] = 1;
    for (int t : graph_.outputs) used[t] = 1;
    for (const auto& nd : graph_.nodes) {
      for (int t : nd.inputs)
        if (t >= 0) used[t] = 1;
      for (int t : nd.outputs) used[t] = 1;
    }
    std::vector<int> remap(graph_.tensors.size(), -1);
    std::vector<rt::TensorDef> kept;
    for (size_t t = 0; t < graph_.tensors.size(); ++t)
      if (used[t]) {
        remap[t] = static_cast<int>(kept.size());
        kept.push_back(std::move(graph_.tensors[t]));
      }
    graph_.tensors = std::move(kept);
    for (int& t : graph_.inputs) t = remap[t];
    for (int& t : graph_.outputs) t = remap[t];
    for (auto& nd : graph_.nodes) {
      for (int& t : nd.inputs)
        if (t >= 0) t = remap[t];
      for (int& t : nd.outputs) t = remap[t];
    }
  }

  std::string shapes;
  for (const auto& s : onnx_shapes) shapes += (shapes.empty() ? "" : ",") + s;
  graph_.metadata["input_layout"] = "NHWC";
  graph_.metadata["source_layout"] = "NCHW";
  graph_.metadata["source_input_shapes"] = shapes;
  graph_.metadata["onnx_opset"] = std::to_string(opset_);
  graph_.metadata["onnx_producer"] = m_.producer_name + (m_.producer_version.empty() ? "" : " " + m_.producer_version);
  graph_.producer = "facelib-convert onnx";
  graph_.Validate();
  return std::move(graph_);
}

// ------------------------------------------------------------------ entry points

Shape ParseShapeText(const std::string& text, const std::string& what) {
  Shape s;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, 'x')) {
    char* end = nullptr;
    const long long v = std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || !end || *end || v < 1 || v > (1 << 20))
      throw Error(ErrorCode::kInvalidArgument, what + ": '" + text + "' is not a shape like 1x3x640x640");
    s.push_back(v);
  }
  if (s.empty()) throw Error(ErrorCode::kInvalidArgument, what + ": empty shape");
  return s;
}

std::map<std::string, Shape> ParseInputShapes(const std::string& opt, const onnx::Model& m) {
  std::map<std::string, Shape> out;
  if (opt.empty()) return out;
  std::stringstream ss(opt);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    std::string name = eq == std::string::npos ? "" : item.substr(0, eq);
    const std::string dims = eq == std::string::npos ? item : item.substr(eq + 1);
    if (name.empty()) {
      std::set<std::string> inits;
      for (const auto& t : m.graph.initializers) inits.insert(t.name);
      std::vector<std::string> names;
      for (const auto& v : m.graph.inputs)
        if (!inits.count(v.name)) names.push_back(v.name);
      if (names.size() != 1) throw Error(ErrorCode::kInvalidArgument, "--input-shape needs NAME= for a model with several inputs");
      name = names[0];
    }
    out[name] = ParseShapeText(dims, "--input-shape " + name);
  }
  return out;
}

void ListOps(const onnx::Model& m, const std::string& path, bool nodes) {
  std::printf("%s: ir_version %lld, producer '%s %s', opsets:", path.c_str(), static_cast<long long>(m.ir_version),
              m.producer_name.c_str(), m.producer_version.c_str());
  for (const auto& [d, v] : m.opsets) std::printf(" %s=%lld", d.empty() ? "ai.onnx" : d.c_str(), static_cast<long long>(v));
  std::printf("\n");
  std::set<std::string> inits;
  for (const auto& t : m.graph.initializers) inits.insert(t.name);
  auto describe = [](const onnx::ValueInfo& v) {
    std::string s;
    for (size_t i = 0; i < v.dims.size(); ++i)
      s += (i ? "x" : "") + (v.dims[i] >= 0 ? std::to_string(v.dims[i]) : (v.dim_params[i].empty() ? "?" : v.dim_params[i]));
    return v.name + " [" + s + "] " + onnx::DataTypeName(v.elem_type);
  };
  for (const auto& v : m.graph.inputs)
    if (!inits.count(v.name)) std::printf("input  %s\n", describe(v).c_str());
  for (const auto& v : m.graph.outputs) std::printf("output %s\n", describe(v).c_str());
  std::map<std::string, int> counts;
  for (const auto& n : m.graph.nodes) ++counts[(n.domain.empty() ? "" : n.domain + ":") + n.op_type];
  std::vector<std::pair<int, std::string>> sorted;
  for (const auto& [op, c] : counts) sorted.push_back({-c, op});
  std::sort(sorted.begin(), sorted.end());
  std::printf("%zu nodes, %zu initializers\n", m.graph.nodes.size(), m.graph.initializers.size());
  for (const auto& [c, op] : sorted) {
    const bool known = OnnxConverter::KnowsOp(op);
    std::printf("  %-22s %4d%s\n", op.c_str(), -c, known ? "" : "  (not supported)");
  }
  if (!nodes) return;
  std::map<std::string, const onnx::Tensor*> inits_by_name;
  for (const auto& t : m.graph.initializers) inits_by_name[t.name] = &t;
  for (const auto& n : m.graph.nodes) {
    std::string line = n.name + "\t" + n.op_type + "\t";
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      line += (i ? "," : "") + n.inputs[i];
      auto it = inits_by_name.find(n.inputs[i]);
      if (it != inits_by_name.end()) line += rt::ShapeToString(it->second->dims);
    }
    line += " -> ";
    for (size_t i = 0; i < n.outputs.size(); ++i) line += (i ? "," : "") + n.outputs[i];
    for (const auto& a : n.attrs) {
      line += "  " + a.name + "=";
      if (!a.ints.empty()) line += rt::ShapeToString(a.ints);
      else if (!a.s.empty()) line += a.s;
      else if (a.type == onnx::kAttrFloat) line += std::to_string(a.f);
      else line += std::to_string(a.i);
    }
    std::printf("%s\n", line.c_str());
  }
}

rt::Graph ConvertOnnx(const ConvertRequest& req) {
  // "--list-ops IN.onnx" arrives as the option's value; --list-nodes also prints every node.
  const bool nodes = !req.Option("list-nodes").empty();
  const std::string list = nodes ? req.Option("list-nodes") : req.Option("list-ops");
  const std::string path = !list.empty() && list != "1" ? list : req.Input(0, "IN.onnx");
  const std::vector<uint8_t> bytes = ReadFileBytes(path);
  const onnx::Model model = onnx::ParseModel(bytes.data(), bytes.size(), path);
  if (!list.empty()) {
    ListOps(model, path, nodes);
    std::fflush(stdout);
    // A listing writes no model; leave before the tool asks for --out.
    std::exit(0);
  }
  OnnxConverter conv(path, model, ParseInputShapes(req.Option("input-shape"), model));
  rt::Graph g = conv.Convert();
  AddProvenance(&g, "onnx", {path});
  return g;
}

}  // namespace

FACELIB_REGISTER_CONVERTER({"onnx",
                            "IN.onnx [--input-shape NAME=1x3xHxW] [--list-ops|--list-nodes]  (NCHW model -> NHWC inputs; outputs as in ONNX)",
                            ConvertOnnx});

}  // namespace facelib::convert
