// TFLite converter: a .tflite flatbuffer (subgraph 0) -> facelib graph.
//
//   facelib-convert tflite MODEL.tflite --out OUT.flm [--offset N --length N]
//                   [--input-shape NAME=DIMS[,NAME=DIMS]] [--list-ops]
//
// --offset/--length read the model from a byte range of a larger file (MediaPipe
// ships several .tflite files packed into one .data asset). --input-shape
// replaces an input's declared shape, -1 marking dynamic dims (MTCNN P-Net runs
// on every pyramid level; a fixed batch of 2 becomes any batch).
//
// Reading. The buffer is checked with the FlatBuffers verifier (generated from
// our own subset of the schema, tflite_schema.fbs) before any field is read, so
// a hostile file fails with kInvalidModel. Constant tensors are those whose
// buffer holds data; they are decoded to doubles (FLOAT32, FLOAT16, INT32, INT64,
// INT8, UINT8, INT16, BOOL).
//
// Conversion. TFLite stores operators in execution order. Each operator either
// folds (every input known at conversion time: DEQUANTIZE of fp16 weights, shape
// arithmetic, ...) into a host constant, or becomes one or a few facelib nodes.
// TFLite is NHWC like facelib; the only layout changes are depthwise filters
// [1,KH,KW,C*M] -> [C*M,KH,KW,1] and fully-connected weights [N,K] -> [K,N].
// Weights that were fp16 in the source stay fp16 in our file (exactly, since an
// fp16 value round-trips through fp32).
//
// Run-time comparisons (LESS, GREATER_EQUAL, ... in FaceAntiSpoofing's tree
// routing) yield 0/1 floats: LESS(a, b) = clip((b - a) * 2^126, 0, 1), exact for
// every pair of floats whose difference is 0 or at least the smallest normal
// float. CAST between bool and float is then the identity.
//
// Simplification. The exporters lower PReLU to RELU/NEG/MUL/ADD or
// RELU/ABS/SUB/MUL/ADD chains and softmax to REDUCE_MAX/SUB/EXP/SUM/DIV; these
// are recognised and replaced by PRelu (bit-exact: the same products) and
// Softmax (the same function, one pass instead of five).
//
// Self-check. When the inputs have static shapes, the converted graph's shape
// inference is compared with every tensor shape the TFLite file declares; a
// mismatch names the operator.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "converters/converter.h"
#include "converters/tflite_schema_generated.h"
#include "runtime/model.h"

namespace facelib::convert {
namespace {

namespace tfl = ::facelib::tflite;
using rt::Attr;
using rt::Shape;
using Op = tfl::BuiltinOperator;
using DType = tfl::TensorType;

// ---------------------------------------------------------------------------
// Small helpers.

std::string OpName(int code) {
  const char* n = code >= 0 && code <= static_cast<int>(Op::MAX) ? tfl::EnumNameBuiltinOperator(static_cast<Op>(code)) : "";
  return n && *n ? n : "BUILTIN_OP_" + std::to_string(code);
}

std::string TypeName(DType t) {
  const char* n = tfl::EnumNameTensorType(t);
  return n && *n ? n : "type " + std::to_string(static_cast<int>(t));
}

bool IsIntType(DType t) {
  return t != DType::FLOAT32 && t != DType::FLOAT16 && t != DType::FLOAT64;
}

// Element count; -1 for a dynamic dim or a count past any tensor we handle.
int64_t Product(const Shape& s) {
  constexpr int64_t kLimit = int64_t{1} << 40;
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0 || (d != 0 && n > kLimit / d)) return -1;
    n *= d;
  }
  return n;
}

// Folded constants are built in memory: bound them like the file's own buffers.
constexpr int64_t kMaxFoldElements = int64_t{1} << 28;

bool Static(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t d) { return d >= 0; });
}

std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
    return sign ? -f : f;
  }
  const uint32_t bits = exp == 31 ? (sign | 0x7F800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  std::memcpy(&f, &bits, 4);
  return f;
}

double RoundF(double x) { return static_cast<double>(static_cast<float>(x)); }

// ---------------------------------------------------------------------------
// Values flowing along TFLite tensors.

// A tensor known at conversion time. Float values are held rounded to float32.
struct HostTensor {
  DType type = DType::FLOAT32;
  Shape shape;
  std::vector<double> v;
  bool fp16_exact = false;  // every value is an fp16 weight moved, not computed: stored as fp16
  // Affine quantisation of integer weights (DEQUANTIZE input).
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int quantized_dim = 0;
  bool is_int() const { return IsIntType(type); }
};
using HostPtr = std::shared_ptr<const HostTensor>;

struct Val {
  bool defined = false;
  HostPtr host;       // known at conversion time
  int tensor = -1;    // our graph tensor (run-time value or materialised constant)
  Shape shape;        // static shape, -1 = unknown
  DType type = DType::FLOAT32;  // BOOL/INT32 run-time values are held as 0/1 or integral floats
};

// ---------------------------------------------------------------------------

class TfliteConverter {
 public:
  TfliteConverter(std::string file, const uint8_t* data, size_t size, std::map<std::string, Shape> input_shapes)
      : file_(std::move(file)), data_(data), size_(size), input_shapes_(std::move(input_shapes)) {}

  void Load();
  rt::Graph Convert();
  void ListOps(FILE* out) const;

 private:
  // --- reading
  struct OpRef {
    int index = 0;
    int code = 0;                  // builtin operator
    const tfl::Operator* op = nullptr;
    std::vector<int> in, out;      // TFLite tensor indices (-1 = absent optional input)
  };
  void ReadTensors();
  OpRef ReadOp(int i) const;
  HostPtr DecodeBuffer(int ti, const tfl::Tensor& t) const;
  std::string TensorName(int ti) const { return tensor_names_[ti]; }
  Shape DeclaredShape(int ti) const;

  [[noreturn]] void OpFail(const OpRef& o, const std::string& what) const {
    Malformed(file_, Describe(o) + ": " + what);
  }
  [[noreturn]] void OpUnsupported(const OpRef& o, const std::string& what) const {
    Unsupported(file_, Describe(o) + ": " + what);
  }
  std::string Describe(const OpRef& o) const {
    std::string s = "operator #" + std::to_string(o.index) + " (" + OpName(o.code) + ")";
    if (!o.out.empty() && o.out[0] >= 0) s += " -> '" + TensorName(o.out[0]) + "'";
    return s;
  }

  // --- conversion
  void ConvertOp(const OpRef& o);
  bool FoldOp(const OpRef& o);
  const Val& In(const OpRef& o, size_t i);
  bool HasIn(const OpRef& o, size_t i) const { return i < o.in.size() && o.in[i] >= 0; }
  const HostTensor& HostIn(const OpRef& o, size_t i, const char* what);
  std::vector<int64_t> HostInts(const OpRef& o, size_t i, const char* what);
  int Dyn(const OpRef& o, size_t i);
  int Materialise(Val& v, const std::string& name);
  int AddFloatConst(const std::string& name, Shape shape, std::vector<float> values, bool fp16);
  std::string UniqueName(const std::string& base);
  // Adds our node; returns its output tensor.
  int Emit(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs, const std::string& name);
  // Emits the op's final node under the TFLite output tensor's name and records the value.
  void EmitOut(const OpRef& o, const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs,
               DType type = DType::FLOAT32);
  void SetOut(const OpRef& o, int tensor, DType type = DType::FLOAT32);
  void SetHostOut(const OpRef& o, HostTensor t, size_t k = 0);
  template <typename Options>
  const Options* Opts(const OpRef& o, tfl::BuiltinOptions type) const;
  void AddActivation(const OpRef& o, tfl::ActivationFunctionType act, std::map<std::string, Attr>* attrs) const;
  std::string Padding(const OpRef& o, tfl::Padding p) const;

  void ConvertConv(const OpRef& o, bool depthwise);
  void ConvertFullyConnected(const OpRef& o);
  void ConvertBinary(const OpRef& o);
  void ConvertCompare(const OpRef& o);
  void ConvertPool(const OpRef& o);
  void ConvertPad(const OpRef& o);
  void ConvertResize(const OpRef& o, bool bilinear);
  void ConvertReduce(const OpRef& o);
  void ConvertStridedSlice(const OpRef& o);
  void ConvertPRelu(const OpRef& o);

  // --- host evaluation (constant folding)
  HostTensor FoldBinary(const OpRef& o, const HostTensor& a, const HostTensor& b);
  HostTensor FoldStridedSlice(const OpRef& o, const HostTensor& x);

  // --- simplification and self-check
  void Simplify();
  void PruneTensors();
  void CheckShapes() const;

  std::string file_;
  const uint8_t* data_;
  size_t size_;
  // --input-shape overrides (e.g. a dynamic batch or image size): declared shapes
  // of later tensors then no longer describe the run, so reshapes keep the batch
  // dim symbolic and the shape self-check is skipped.
  std::map<std::string, Shape> input_shapes_;
  const tfl::Model* model_ = nullptr;
  const tfl::SubGraph* sg_ = nullptr;
  std::vector<std::string> tensor_names_;
  std::vector<HostPtr> consts_;  // per TFLite tensor: its constant data (null when none)
  std::vector<Val> vals_;
  rt::Graph g_;
  std::set<std::string> used_names_;
  std::map<int, int> declared_;  // our tensor -> TFLite tensor whose declared shape it must have
  std::map<int, int> producer_op_;  // our tensor -> TFLite operator index (for messages)
  bool overridden_ = false;         // an --input-shape changed an input's shape
};

// ---------------------------------------------------------------------------
// Reading.

void TfliteConverter::Load() {
  if (size_ < 8) Malformed(file_, "too small for a TFLite flatbuffer (" + std::to_string(size_) + " bytes)");
  // Report a foreign file by its identifier rather than as a corrupt buffer.
  if (!flatbuffers::BufferHasIdentifier(data_, tfl::ModelIdentifier())) {
    std::string id;
    for (int i = 4; i < 8; ++i) {
      const char c = static_cast<char>(data_[i]);
      id += (c >= 32 && c < 127) ? std::string(1, c) : "\\x" + std::to_string(static_cast<unsigned>(data_[i]));
    }
    Malformed(file_, "file identifier is '" + id + "', expected 'TFL3' (not a TFLite model)");
  }
  if (size_ >= FLATBUFFERS_MAX_BUFFER_SIZE)
    Unsupported(file_, "flatbuffer larger than 2 GB");
  // Depth and table limits bound the verifier's own work on hostile input.
  flatbuffers::Verifier verifier(data_, size_, /*max_depth=*/64, /*max_tables=*/4'000'000);
  if (!tfl::VerifyModelBuffer(verifier)) Malformed(file_, "corrupt flatbuffer (the FlatBuffers verifier rejects it)");
  model_ = tfl::GetModel(data_);
  if (!model_->subgraphs() || model_->subgraphs()->size() == 0) Malformed(file_, "the model has no subgraph");
  sg_ = model_->subgraphs()->Get(0);
  if (!sg_->tensors()) Malformed(file_, "subgraph 0 has no tensors");
  ReadTensors();
}

Shape TfliteConverter::DeclaredShape(int ti) const {
  const tfl::Tensor* t = sg_->tensors()->Get(ti);
  Shape s;
  // shape_signature marks dynamic dims with -1; shape holds the size they were built with.
  const auto* sig = t->shape_signature();
  const auto* shape = t->shape();
  if (sig && sig->size() > 0 && (!shape || sig->size() == shape->size())) {
    for (int32_t d : *sig) s.push_back(d < 0 ? -1 : d);
  } else if (shape) {
    for (int32_t d : *shape) s.push_back(d < 0 ? -1 : d);
  }
  return s;
}

HostPtr TfliteConverter::DecodeBuffer(int ti, const tfl::Tensor& t) const {
  const uint32_t bi = t.buffer();
  if (bi == 0) return nullptr;  // buffer 0 is the empty sentinel
  if (!model_->buffers() || bi >= model_->buffers()->size())
    Malformed(file_, "tensor '" + TensorName(ti) + "' refers to buffer " + std::to_string(bi) + " of " +
                         std::to_string(model_->buffers() ? model_->buffers()->size() : 0));
  const tfl::Buffer* b = model_->buffers()->Get(bi);
  const uint8_t* bytes = nullptr;
  size_t nbytes = 0;
  if (b->data() && b->data()->size() > 0) {
    bytes = b->data()->data();
    nbytes = b->data()->size();
  } else if (b->offset() > 1) {
    if (b->offset() > size_ || b->size() > size_ - b->offset())
      Malformed(file_, "buffer " + std::to_string(bi) + " lies outside the file");
    bytes = data_ + b->offset();
    nbytes = static_cast<size_t>(b->size());
  }
  if (!bytes) return nullptr;  // a run-time tensor

  auto h = std::make_shared<HostTensor>();
  h->type = t.type();
  h->shape = DeclaredShape(ti);
  if (!Static(h->shape)) Malformed(file_, "constant tensor '" + TensorName(ti) + "' has a dynamic shape");
  size_t elem = 0;
  switch (t.type()) {
    case DType::FLOAT32: case DType::INT32: elem = 4; break;
    case DType::FLOAT16: case DType::INT16: elem = 2; break;
    case DType::INT64: case DType::FLOAT64: elem = 8; break;
    case DType::UINT8: case DType::INT8: case DType::BOOL: elem = 1; break;
    default: Unsupported(file_, "constant tensor '" + TensorName(ti) + "' has dtype " + TypeName(t.type()));
  }
  const int64_t n = rt::NumElements(h->shape);
  if (static_cast<uint64_t>(n) * elem != nbytes)
    Malformed(file_, "constant tensor '" + TensorName(ti) + "' " + rt::ShapeToString(h->shape) + " of " +
                         TypeName(t.type()) + " needs " + std::to_string(n * static_cast<int64_t>(elem)) +
                         " bytes, its buffer has " + std::to_string(nbytes));
  h->v.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = bytes + i * elem;
    double x = 0;
    switch (t.type()) {
      case DType::FLOAT32: { float f; std::memcpy(&f, p, 4); x = f; break; }
      case DType::FLOAT16: { uint16_t u; std::memcpy(&u, p, 2); x = HalfToFloat(u); break; }
      case DType::FLOAT64: { double d; std::memcpy(&d, p, 8); x = RoundF(d); break; }
      case DType::INT32: { int32_t v; std::memcpy(&v, p, 4); x = v; break; }
      case DType::INT64: { int64_t v; std::memcpy(&v, p, 8); x = static_cast<double>(v); break; }
      case DType::INT16: { int16_t v; std::memcpy(&v, p, 2); x = v; break; }
      case DType::INT8: x = static_cast<int8_t>(*p); break;
      case DType::UINT8: x = *p; break;
      case DType::BOOL: x = *p ? 1 : 0; break;
      default: break;
    }
    h->v[static_cast<size_t>(i)] = x;
  }
  h->fp16_exact = t.type() == DType::FLOAT16;
  if (const tfl::QuantizationParameters* q = t.quantization()) {
    if (q->scale())
      for (float s : *q->scale()) h->scale.push_back(s);
    if (q->zero_point())
      for (int64_t z : *q->zero_point()) h->zero_point.push_back(z);
    h->quantized_dim = q->quantized_dimension();
  }
  return h;
}

void TfliteConverter::ReadTensors() {
  const auto& ts = *sg_->tensors();
  const size_t n = ts.size();
  tensor_names_.resize(n);
  consts_.resize(n);
  vals_.resize(n);
  std::set<std::string> seen;
  for (size_t i = 0; i < n; ++i) {
    const tfl::Tensor* t = ts.Get(static_cast<flatbuffers::uoffset_t>(i));
    std::string name = t->name() ? t->name()->str() : "";
    if (name.empty()) name = "tensor_" + std::to_string(i);
    tensor_names_[i] = name;
  }
  for (size_t i = 0; i < n; ++i) {
    const tfl::Tensor* t = ts.Get(static_cast<flatbuffers::uoffset_t>(i));
    if (t->is_variable()) Unsupported(file_, "variable tensor '" + tensor_names_[i] + "' (stateful model)");
    consts_[i] = DecodeBuffer(static_cast<int>(i), *t);
    if (consts_[i]) {
      Val& v = vals_[i];
      v.defined = true;
      v.host = consts_[i];
      v.shape = consts_[i]->shape;
      v.type = consts_[i]->type;
    }
  }
}

TfliteConverter::OpRef TfliteConverter::ReadOp(int i) const {
  OpRef r;
  r.index = i;
  r.op = sg_->operators()->Get(static_cast<flatbuffers::uoffset_t>(i));
  const auto* codes = model_->operator_codes();
  const uint32_t ci = r.op->opcode_index();
  if (!codes || ci >= codes->size())
    Malformed(file_, "operator #" + std::to_string(i) + " refers to operator code " + std::to_string(ci) + " of " +
                         std::to_string(codes ? codes->size() : 0));
  const tfl::OperatorCode* code = codes->Get(ci);
  // Files from before the int32 field carry the code in the byte only; newer ones
  // set both, with the byte saturated at 127 for codes above it.
  r.code = std::max(static_cast<int>(code->deprecated_builtin_code()), static_cast<int>(code->builtin_code()));
  if (r.code == static_cast<int>(Op::CUSTOM)) {
    const std::string custom = code->custom_code() ? code->custom_code()->str() : "";
    Unsupported(file_, "operator #" + std::to_string(i) + " is the custom op '" + custom +
                           "' (custom operators have no facelib equivalent)");
  }
  const int nt = static_cast<int>(sg_->tensors()->size());
  auto read = [&](const flatbuffers::Vector<int32_t>* v, std::vector<int>* out, const char* what) {
    if (!v) return;
    for (int32_t t : *v) {
      if (t < -1 || t >= nt)
        Malformed(file_, "operator #" + std::to_string(i) + " (" + OpName(r.code) + ") " + what + " refers to tensor " +
                             std::to_string(t) + " of " + std::to_string(nt));
      out->push_back(t);
    }
  };
  read(r.op->inputs(), &r.in, "input");
  read(r.op->outputs(), &r.out, "output");
  if (r.out.empty() || std::count(r.out.begin(), r.out.end(), -1))
    Malformed(file_, "operator #" + std::to_string(i) + " (" + OpName(r.code) + ") has a missing output");
  return r;
}

void TfliteConverter::ListOps(FILE* out) const {
  std::fprintf(out, "%s: %s, %u operators, %u tensors\n", file_.c_str(),
               model_->description() ? model_->description()->c_str() : "", sg_->operators() ? sg_->operators()->size() : 0,
               sg_->tensors()->size());
  auto desc = [&](int t) {
    if (t < 0) return std::string("-");
    std::string s = "'" + TensorName(t) + "' " + rt::ShapeToString(DeclaredShape(t)) + " " +
                    TypeName(sg_->tensors()->Get(t)->type());
    if (consts_[t]) s += " const";
    return s;
  };
  if (sg_->inputs())
    for (int t : *sg_->inputs()) std::fprintf(out, "input %s\n", desc(t).c_str());
  if (sg_->outputs())
    for (int t : *sg_->outputs()) std::fprintf(out, "output %s\n", desc(t).c_str());
  const int n = sg_->operators() ? static_cast<int>(sg_->operators()->size()) : 0;
  for (int i = 0; i < n; ++i) {
    const OpRef o = ReadOp(i);
    std::fprintf(out, "#%d %s options=%s\n", i, OpName(o.code).c_str(),
                 tfl::EnumNameBuiltinOptions(o.op->builtin_options_type()));
    for (int t : o.in) std::fprintf(out, "    in  %s\n", desc(t).c_str());
    for (int t : o.out) std::fprintf(out, "    out %s\n", desc(t).c_str());
  }
}

// ---------------------------------------------------------------------------
// Conversion plumbing.

const Val& TfliteConverter::In(const OpRef& o, size_t i) {
  if (!HasIn(o, i)) OpFail(o, "input " + std::to_string(i) + " is missing");
  const Val& v = vals_[o.in[i]];
  if (!v.defined) OpFail(o, "input '" + TensorName(o.in[i]) + "' is used before any operator produces it");
  return v;
}

const HostTensor& TfliteConverter::HostIn(const OpRef& o, size_t i, const char* what) {
  const Val& v = In(o, i);
  if (!v.host) OpUnsupported(o, std::string(what) + " ('" + TensorName(o.in[i]) + "') must be a constant");
  return *v.host;
}

std::vector<int64_t> TfliteConverter::HostInts(const OpRef& o, size_t i, const char* what) {
  const HostTensor& h = HostIn(o, i, what);
  if (!h.is_int()) OpFail(o, std::string(what) + " must be integer, got " + TypeName(h.type));
  std::vector<int64_t> r;
  for (double x : h.v) r.push_back(static_cast<int64_t>(x));
  return r;
}

std::string TfliteConverter::UniqueName(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_names_.count(name); ++k) name = base + "_" + std::to_string(k);
  used_names_.insert(name);
  return name;
}

int TfliteConverter::AddFloatConst(const std::string& name, Shape shape, std::vector<float> values, bool fp16) {
  return g_.AddConstant(UniqueName(name), std::move(shape),
                        rt::Constant::FromFloats(std::move(values), fp16 ? rt::Storage::kFloat16 : rt::Storage::kFloat32));
}

int TfliteConverter::Materialise(Val& v, const std::string& name) {
  if (v.tensor >= 0) return v.tensor;
  const HostTensor& h = *v.host;
  // Quantized weights only make sense through DEQUANTIZE; plain integer and bool
  // constants feeding float ops are their values as floats (the runtime computes
  // in float32 only).
  if ((h.type == DType::INT8 || h.type == DType::UINT8) && !h.scale.empty())
    Unsupported(file_, "quantized tensor '" + name + "' (" + TypeName(h.type) + ") is used without DEQUANTIZE");
  v.tensor = AddFloatConst(name, h.shape, std::vector<float>(h.v.begin(), h.v.end()), h.fp16_exact);
  return v.tensor;
}

int TfliteConverter::Dyn(const OpRef& o, size_t i) {
  In(o, i);
  Val& v = vals_[o.in[i]];
  if (v.host) return Materialise(v, TensorName(o.in[i]));
  if (v.type != DType::FLOAT32 && v.type != DType::BOOL)
    OpUnsupported(o, "run-time input '" + TensorName(o.in[i]) + "' has dtype " + TypeName(v.type));
  return v.tensor;
}

int TfliteConverter::Emit(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs,
                          const std::string& name) {
  return g_.AddNode1(op, std::move(inputs), std::move(attrs), UniqueName(name));
}

void TfliteConverter::SetOut(const OpRef& o, int tensor, DType type) {
  Val& v = vals_[o.out[0]];
  if (v.defined) OpFail(o, "output '" + TensorName(o.out[0]) + "' is produced twice");
  v.defined = true;
  v.tensor = tensor;
  v.type = type;
  v.shape = DeclaredShape(o.out[0]);
  declared_.emplace(tensor, o.out[0]);
  producer_op_.emplace(tensor, o.index);
}

void TfliteConverter::EmitOut(const OpRef& o, const std::string& op, std::vector<int> inputs,
                              std::map<std::string, Attr> attrs, DType type) {
  SetOut(o, Emit(op, std::move(inputs), std::move(attrs), TensorName(o.out[0])), type);
}

void TfliteConverter::SetHostOut(const OpRef& o, HostTensor t, size_t k) {
  Val& v = vals_[o.out[k]];
  if (v.defined) OpFail(o, "output '" + TensorName(o.out[k]) + "' is produced twice");
  const Shape declared = DeclaredShape(o.out[k]);
  // A declared shape (when the file gives one) must agree with what folding computed.
  if (!declared.empty() && Static(declared) && declared != t.shape && Product(declared) == Product(t.shape))
    t.shape = declared;
  else if (!declared.empty() && Static(declared) && declared != t.shape)
    OpFail(o, "folded output has shape " + rt::ShapeToString(t.shape) + ", the file declares " +
                  rt::ShapeToString(declared));
  v.defined = true;
  v.shape = t.shape;
  v.type = t.type;
  v.host = std::make_shared<const HostTensor>(std::move(t));
}

template <typename Options>
const Options* TfliteConverter::Opts(const OpRef& o, tfl::BuiltinOptions type) const {
  if (o.op->builtin_options_type() != type)
    OpFail(o, std::string("expected builtin options ") + tfl::EnumNameBuiltinOptions(type) + ", found " +
                  tfl::EnumNameBuiltinOptions(o.op->builtin_options_type()));
  return static_cast<const Options*>(o.op->builtin_options());
}

void TfliteConverter::AddActivation(const OpRef& o, tfl::ActivationFunctionType act,
                                    std::map<std::string, Attr>* attrs) const {
  using A = tfl::ActivationFunctionType;
  switch (act) {
    case A::NONE: return;
    case A::RELU: (*attrs)["activation"] = "relu"; return;
    case A::RELU6: (*attrs)["activation"] = "relu6"; return;
    case A::TANH: (*attrs)["activation"] = "tanh"; return;
    case A::RELU_N1_TO_1:
      (*attrs)["activation"] = "clip";
      (*attrs)["activation_min"] = -1.0f;
      (*attrs)["activation_max"] = 1.0f;
      return;
    default: OpUnsupported(o, "fused activation " + std::to_string(static_cast<int>(act)));
  }
}

std::string TfliteConverter::Padding(const OpRef& o, tfl::Padding p) const {
  if (p == tfl::Padding::SAME) return "SAME";
  if (p == tfl::Padding::VALID) return "VALID";
  OpFail(o, "padding " + std::to_string(static_cast<int>(p)));
}

// ---------------------------------------------------------------------------
// Constant folding.

HostTensor TfliteConverter::FoldBinary(const OpRef& o, const HostTensor& a, const HostTensor& b) {
  // NumPy broadcasting.
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  Shape sa(rank - a.shape.size(), 1), sb(rank - b.shape.size(), 1), so(rank);
  sa.insert(sa.end(), a.shape.begin(), a.shape.end());
  sb.insert(sb.end(), b.shape.begin(), b.shape.end());
  for (size_t d = 0; d < rank; ++d) {
    if (sa[d] != sb[d] && sa[d] != 1 && sb[d] != 1)
      OpFail(o, "shapes " + rt::ShapeToString(a.shape) + " and " + rt::ShapeToString(b.shape) + " do not broadcast");
    so[d] = sa[d] == 1 ? sb[d] : sa[d];
  }
  HostTensor r;
  r.shape = so;
  if (Product(so) < 0 || Product(so) > kMaxFoldElements)
    OpUnsupported(o, "folding a constant of shape " + rt::ShapeToString(so));
  const bool ints = a.is_int() && b.is_int();
  r.type = ints ? a.type : DType::FLOAT32;
  const auto st_a = Strides(sa), st_b = Strides(sb), st_o = Strides(so);
  const int64_t n = Product(so);
  r.v.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t ia = 0, ib = 0, rem = i;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t c = rem / st_o[d];
      rem %= st_o[d];
      if (sa[d] != 1) ia += c * st_a[d];
      if (sb[d] != 1) ib += c * st_b[d];
    }
    const double x = a.v[static_cast<size_t>(ia)], y = b.v[static_cast<size_t>(ib)];
    double z = 0;
    switch (static_cast<Op>(o.code)) {
      case Op::ADD: z = x + y; break;
      case Op::SUB: z = x - y; break;
      case Op::MUL: z = x * y; break;
      case Op::DIV:
        if (ints) {
          if (y == 0) OpFail(o, "integer division by zero");
          z = std::trunc(x / y);
        } else {
          z = x / y;
        }
        break;
      case Op::FLOOR_DIV:
        if (ints && y == 0) OpFail(o, "integer division by zero");
        z = std::floor(x / y);
        break;
      case Op::MAXIMUM: z = std::max(x, y); break;
      case Op::MINIMUM: z = std::min(x, y); break;
      case Op::SQUARED_DIFFERENCE: z = (x - y) * (x - y); break;
      case Op::POW: z = std::pow(x, y); break;
      case Op::LESS: z = x < y; break;
      case Op::LESS_EQUAL: z = x <= y; break;
      case Op::GREATER: z = x > y; break;
      case Op::GREATER_EQUAL: z = x >= y; break;
      case Op::EQUAL: z = x == y; break;
      case Op::NOT_EQUAL: z = x != y; break;
      default: OpFail(o, "not a binary operator");
    }
    r.v[static_cast<size_t>(i)] = ints ? z : RoundF(z);
  }
  switch (static_cast<Op>(o.code)) {
    case Op::LESS: case Op::LESS_EQUAL: case Op::GREATER: case Op::GREATER_EQUAL: case Op::EQUAL: case Op::NOT_EQUAL:
      r.type = DType::BOOL;
      break;
    default: break;
  }
  return r;
}

// TF StridedSlice on a static shape: per-axis begin/end/stride after masks.
struct SliceSpec {
  std::vector<int64_t> begin, end, step;
  std::vector<int> shrink;  // axes removed from the output
  Shape out;                // output shape before shrinking
};

SliceSpec ResolveStridedSlice(const Shape& in, const std::vector<int64_t>& b, const std::vector<int64_t>& e,
                              const std::vector<int64_t>& s, int begin_mask, int end_mask, int shrink_mask,
                              const std::function<void(const std::string&)>& fail) {
  SliceSpec r;
  const size_t rank = in.size();
  if (b.size() > rank || e.size() != b.size() || s.size() != b.size()) fail("begin/end/strides do not match the rank");
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = in[d];
    if (d >= b.size()) {  // unspecified trailing axes are taken whole
      r.begin.push_back(0);
      r.end.push_back(dim);
      r.step.push_back(1);
      r.out.push_back(dim);
      continue;
    }
    const int64_t step = s[d];
    if (step == 0) fail("stride 0");
    int64_t lo, hi;
    if (shrink_mask & (1 << d)) {
      lo = b[d] < 0 ? b[d] + dim : b[d];
      if (lo < 0 || lo >= dim) fail("shrink index out of range");
      r.begin.push_back(lo);
      r.end.push_back(lo + 1);
      r.step.push_back(1);
      r.out.push_back(1);
      r.shrink.push_back(static_cast<int>(d));
      continue;
    }
    // TF clamps into [0, dim] going forward and into [-1, dim - 1] going backward.
    auto clamp = [&](int64_t x) {
      if (x < 0) x += dim;
      return step > 0 ? std::clamp<int64_t>(x, 0, dim) : std::clamp<int64_t>(x, -1, dim - 1);
    };
    if (begin_mask & (1 << d)) lo = step > 0 ? 0 : dim - 1;
    else lo = clamp(b[d]);
    if (end_mask & (1 << d)) hi = step > 0 ? dim : -1;
    else hi = clamp(e[d]);
    const int64_t n = step > 0 ? std::max<int64_t>(0, (hi - lo + step - 1) / step)
                               : std::max<int64_t>(0, (lo - hi + (-step) - 1) / (-step));
    r.begin.push_back(lo);
    r.end.push_back(hi);
    r.step.push_back(step);
    r.out.push_back(n);
  }
  return r;
}

HostTensor TfliteConverter::FoldStridedSlice(const OpRef& o, const HostTensor& x) {
  const auto* opt = Opts<tfl::StridedSliceOptions>(o, tfl::BuiltinOptions::StridedSliceOptions);
  if (opt->ellipsis_mask() || opt->new_axis_mask()) OpUnsupported(o, "ellipsis_mask/new_axis_mask");
  const SliceSpec sp = ResolveStridedSlice(x.shape, HostInts(o, 1, "begin"), HostInts(o, 2, "end"),
                                           HostInts(o, 3, "strides"), opt->begin_mask(), opt->end_mask(),
                                           opt->shrink_axis_mask(), [&](const std::string& m) { OpFail(o, m); });
  HostTensor r;
  r.type = x.type;
  r.fp16_exact = x.fp16_exact;
  const int64_t n = Product(sp.out);
  const auto st_in = Strides(x.shape), st_out = Strides(sp.out);
  r.v.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t src = 0, rem = i;
    for (size_t d = 0; d < sp.out.size(); ++d) {
      const int64_t c = rem / st_out[d];
      rem %= st_out[d];
      src += (sp.begin[d] + c * sp.step[d]) * st_in[d];
    }
    r.v[static_cast<size_t>(i)] = x.v[static_cast<size_t>(src)];
  }
  for (size_t d = 0; d < sp.out.size(); ++d)
    if (!std::count(sp.shrink.begin(), sp.shrink.end(), static_cast<int>(d))) r.shape.push_back(sp.out[d]);
  return r;
}

// Folds an operator whose inputs are all known. Returns false when the operator
// has no host evaluation here (it is then emitted with constant inputs).
bool TfliteConverter::FoldOp(const OpRef& o) {
  for (size_t i = 0; i < o.in.size(); ++i)
    if (o.in[i] >= 0 && !In(o, i).host) return false;
  const Op op = static_cast<Op>(o.code);
  auto x = [&](size_t i) -> const HostTensor& { return *In(o, i).host; };
  auto unary = [&](auto f) {
    HostTensor r = x(0);
    r.fp16_exact = false;
    if (r.is_int()) OpUnsupported(o, "integer input");
    for (double& v : r.v) v = RoundF(f(v));
    SetHostOut(o, std::move(r));
    return true;
  };
  switch (op) {
    case Op::DEQUANTIZE: {
      HostTensor r = x(0);
      if (r.type == DType::FLOAT16 || r.type == DType::FLOAT32) {
        r.type = DType::FLOAT32;  // fp16 -> fp32 is exact; the values keep their fp16 storage
        SetHostOut(o, std::move(r));
        return true;
      }
      if (r.type != DType::INT8 && r.type != DType::UINT8 && r.type != DType::INT16)
        OpUnsupported(o, "dequantize from " + TypeName(r.type));
      if (r.scale.empty()) OpFail(o, "quantized input has no scale");
      const size_t nq = r.scale.size();
      int64_t inner = 1, dim = 1;
      if (nq > 1) {  // per-axis quantisation
        if (r.quantized_dim < 0 || r.quantized_dim >= static_cast<int>(r.shape.size()) ||
            r.shape[r.quantized_dim] != static_cast<int64_t>(nq))
          OpFail(o, "quantized_dimension does not match the scales");
        dim = r.shape[r.quantized_dim];
        for (size_t d = r.quantized_dim + 1; d < r.shape.size(); ++d) inner *= r.shape[d];
      }
      for (size_t i = 0; i < r.v.size(); ++i) {
        const size_t c = nq > 1 ? static_cast<size_t>((static_cast<int64_t>(i) / inner) % dim) : 0;
        const double zp = c < r.zero_point.size() ? static_cast<double>(r.zero_point[c]) : 0.0;
        r.v[i] = RoundF((r.v[i] - zp) * r.scale[c]);
      }
      r.type = DType::FLOAT32;
      r.scale.clear();
      r.zero_point.clear();
      r.fp16_exact = false;
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::CAST: {
      HostTensor r = x(0);
      const DType to = sg_->tensors()->Get(o.out[0])->type();
      if (IsIntType(to) && !r.is_int())
        for (double& v : r.v) v = std::trunc(v);
      if (to == DType::BOOL)
        for (double& v : r.v) v = v != 0;
      r.type = to;
      r.fp16_exact = r.fp16_exact && to == DType::FLOAT32;
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::RESHAPE: case Op::SQUEEZE: case Op::EXPAND_DIMS: {
      HostTensor r = x(0);
      r.shape = DeclaredShape(o.out[0]);
      if (!Static(r.shape) || Product(r.shape) != static_cast<int64_t>(r.v.size()))
        OpFail(o, "declared output shape " + rt::ShapeToString(r.shape) + " does not hold " + std::to_string(r.v.size()) +
                      " values");
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::TRANSPOSE: {
      const HostTensor& a = x(0);
      const std::vector<int64_t> perm = HostInts(o, 1, "perm");
      if (perm.size() != a.shape.size()) OpFail(o, "perm does not match the rank");
      HostTensor r;
      r.type = a.type;
      r.fp16_exact = a.fp16_exact;
      for (int64_t p : perm) {
        if (p < 0 || p >= static_cast<int64_t>(a.shape.size())) OpFail(o, "perm out of range");
        r.shape.push_back(a.shape[p]);
      }
      const auto st_in = Strides(a.shape), st_out = Strides(r.shape);
      r.v.resize(a.v.size());
      for (size_t i = 0; i < r.v.size(); ++i) {
        int64_t src = 0, rem = static_cast<int64_t>(i);
        for (size_t d = 0; d < perm.size(); ++d) {
          src += (rem / st_out[d]) * st_in[perm[d]];
          rem %= st_out[d];
        }
        r.v[i] = a.v[static_cast<size_t>(src)];
      }
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::CONCATENATION: {
      const auto* opt = Opts<tfl::ConcatenationOptions>(o, tfl::BuiltinOptions::ConcatenationOptions);
      if (opt->fused_activation_function() != tfl::ActivationFunctionType::NONE) return false;
      const Shape& s0 = x(0).shape;
      int axis = opt->axis() < 0 ? opt->axis() + static_cast<int>(s0.size()) : opt->axis();
      if (axis < 0 || axis >= static_cast<int>(s0.size())) OpFail(o, "axis out of range");
      HostTensor r;
      r.type = x(0).type;
      r.shape = s0;
      r.shape[axis] = 0;
      r.fp16_exact = true;
      for (size_t i = 0; i < o.in.size(); ++i) {
        const Shape& s = x(i).shape;
        if (s.size() != s0.size()) OpFail(o, "inputs differ in rank");
        for (size_t d = 0; d < s.size(); ++d)
          if (static_cast<int>(d) != axis && s[d] != s0[d]) OpFail(o, "inputs differ off the concatenation axis");
        r.shape[axis] += s[axis];
        r.fp16_exact = r.fp16_exact && x(i).fp16_exact;
      }
      int64_t outer = 1;
      for (int d = 0; d < axis; ++d) outer *= s0[d];
      for (int64_t k = 0; k < outer; ++k)
        for (size_t i = 0; i < o.in.size(); ++i) {
          const HostTensor& t = x(i);
          const int64_t chunk = static_cast<int64_t>(t.v.size()) / std::max<int64_t>(outer, 1);
          r.v.insert(r.v.end(), t.v.begin() + k * chunk, t.v.begin() + (k + 1) * chunk);
        }
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::SHAPE: {
      HostTensor r;
      r.type = DType::INT32;
      r.shape = {static_cast<int64_t>(x(0).shape.size())};
      for (int64_t d : x(0).shape) r.v.push_back(static_cast<double>(d));
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::STRIDED_SLICE:
      SetHostOut(o, FoldStridedSlice(o, x(0)));
      return true;
    case Op::ADD: case Op::SUB: case Op::MUL: case Op::DIV: case Op::FLOOR_DIV: case Op::MAXIMUM: case Op::MINIMUM:
    case Op::SQUARED_DIFFERENCE: case Op::POW: case Op::LESS: case Op::LESS_EQUAL: case Op::GREATER:
    case Op::GREATER_EQUAL: case Op::EQUAL: case Op::NOT_EQUAL: {
      HostTensor r = FoldBinary(o, x(0), x(1));
      tfl::ActivationFunctionType act = tfl::ActivationFunctionType::NONE;
      if (op == Op::ADD && o.op->builtin_options_as_AddOptions())
        act = o.op->builtin_options_as_AddOptions()->fused_activation_function();
      if (op == Op::SUB && o.op->builtin_options_as_SubOptions())
        act = o.op->builtin_options_as_SubOptions()->fused_activation_function();
      if (op == Op::MUL && o.op->builtin_options_as_MulOptions())
        act = o.op->builtin_options_as_MulOptions()->fused_activation_function();
      if (op == Op::DIV && o.op->builtin_options_as_DivOptions())
        act = o.op->builtin_options_as_DivOptions()->fused_activation_function();
      using A = tfl::ActivationFunctionType;
      if (act != A::NONE) {
        if (r.is_int()) return false;
        for (double& v : r.v) {
          if (act == A::RELU) v = std::max(v, 0.0);
          else if (act == A::RELU6) v = std::clamp(v, 0.0, 6.0);
          else if (act == A::RELU_N1_TO_1) v = std::clamp(v, -1.0, 1.0);
          else if (act == A::TANH) v = RoundF(std::tanh(v));
          else return false;
        }
      }
      SetHostOut(o, std::move(r));
      return true;
    }
    case Op::NEG:
      if (x(0).is_int()) {
        HostTensor r = x(0);
        for (double& v : r.v) v = -v;
        SetHostOut(o, std::move(r));
        return true;
      }
      return unary([](double v) { return -v; });
    case Op::ABS: return unary([](double v) { return std::fabs(v); });
    case Op::SQRT: return unary([](double v) { return std::sqrt(v); });
    case Op::RSQRT: return unary([](double v) { return 1 / std::sqrt(v); });
    case Op::EXP: return unary([](double v) { return std::exp(v); });
    case Op::LOG: return unary([](double v) { return std::log(v); });
    case Op::SQUARE: return unary([](double v) { return v * v; });
    case Op::RELU: return unary([](double v) { return std::max(v, 0.0); });
    case Op::RELU6: return unary([](double v) { return std::clamp(v, 0.0, 6.0); });
    case Op::LOGISTIC: return unary([](double v) { return 1 / (1 + std::exp(-v)); });
    case Op::TANH: return unary([](double v) { return std::tanh(v); });
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// Operator mapping.

void TfliteConverter::ConvertConv(const OpRef& o, bool depthwise) {
  const int x = Dyn(o, 0);
  const Shape& xs = In(o, 0).shape;
  const HostTensor& w = HostIn(o, 1, "filter");
  if (w.is_int()) OpUnsupported(o, "quantized filter (" + TypeName(w.type) + ")");
  if (w.shape.size() != 4) OpFail(o, "filter must be 4-D, got " + rt::ShapeToString(w.shape));
  if (xs.size() != 4 || xs[3] <= 0) OpFail(o, "input must be NHWC with known channels, got " + rt::ShapeToString(xs));
  const int64_t c = xs[3];
  std::map<std::string, Attr> attrs;
  std::vector<float> wf;
  Shape wshape;
  int64_t out_c;
  if (depthwise) {
    const auto* opt = Opts<tfl::DepthwiseConv2DOptions>(o, tfl::BuiltinOptions::DepthwiseConv2DOptions);
    attrs["strides"] = std::vector<int64_t>{opt->stride_h(), opt->stride_w()};
    attrs["dilations"] = std::vector<int64_t>{opt->dilation_h_factor(), opt->dilation_w_factor()};
    attrs["padding"] = Padding(o, opt->padding());
    AddActivation(o, opt->fused_activation_function(), &attrs);
    // [1, KH, KW, C*M] -> OHWI [C*M, KH, KW, 1]; output channel k reads input channel k / M.
    if (w.shape[0] != 1 || w.shape[3] % c != 0)
      OpFail(o, "depthwise filter " + rt::ShapeToString(w.shape) + " does not fit " + std::to_string(c) + " channels");
    out_c = w.shape[3];
    const int64_t khw = w.shape[1] * w.shape[2];
    wf.resize(w.v.size());
    for (int64_t k = 0; k < out_c; ++k)
      for (int64_t p = 0; p < khw; ++p) wf[static_cast<size_t>(k * khw + p)] = static_cast<float>(w.v[static_cast<size_t>(p * out_c + k)]);
    wshape = {out_c, w.shape[1], w.shape[2], 1};
    attrs["groups"] = c;
  } else {
    const auto* opt = Opts<tfl::Conv2DOptions>(o, tfl::BuiltinOptions::Conv2DOptions);
    attrs["strides"] = std::vector<int64_t>{opt->stride_h(), opt->stride_w()};
    attrs["dilations"] = std::vector<int64_t>{opt->dilation_h_factor(), opt->dilation_w_factor()};
    attrs["padding"] = Padding(o, opt->padding());
    AddActivation(o, opt->fused_activation_function(), &attrs);
    out_c = w.shape[0];
    // TFLite filters are already OHWI; fewer filter channels than input channels means groups.
    if (w.shape[3] <= 0 || c % w.shape[3] != 0 || out_c % (c / w.shape[3]) != 0)
      OpFail(o, "filter " + rt::ShapeToString(w.shape) + " does not fit " + std::to_string(c) + " input channels");
    if (c != w.shape[3]) attrs["groups"] = c / w.shape[3];
    wf.assign(w.v.begin(), w.v.end());
    wshape = w.shape;
  }
  std::vector<int> inputs = {x, AddFloatConst(TensorName(o.in[1]), wshape, std::move(wf), w.fp16_exact)};
  if (HasIn(o, 2)) {
    const HostTensor& b = HostIn(o, 2, "bias");
    if (b.is_int()) OpUnsupported(o, "quantized bias");
    if (static_cast<int64_t>(b.v.size()) != out_c) OpFail(o, "bias has " + std::to_string(b.v.size()) + " values");
    inputs.push_back(AddFloatConst(TensorName(o.in[2]), {out_c}, std::vector<float>(b.v.begin(), b.v.end()), b.fp16_exact));
  }
  EmitOut(o, "Conv2D", std::move(inputs), std::move(attrs));
}

void TfliteConverter::ConvertFullyConnected(const OpRef& o) {
  const auto* opt = Opts<tfl::FullyConnectedOptions>(o, tfl::BuiltinOptions::FullyConnectedOptions);
  if (opt->weights_format() != tfl::FullyConnectedOptionsWeightsFormat::DEFAULT)
    OpUnsupported(o, "shuffled weights format");
  int x = Dyn(o, 0);
  const Shape xs = In(o, 0).shape;
  const HostTensor& w = HostIn(o, 1, "weights");
  if (w.is_int()) OpUnsupported(o, "quantized weights (" + TypeName(w.type) + ")");
  if (w.shape.size() != 2) OpFail(o, "weights must be [N, K], got " + rt::ShapeToString(w.shape));
  const int64_t n = w.shape[0], k = w.shape[1];
  // Without keep_num_dims TFLite flattens the input to [-1, K].
  if (!opt->keep_num_dims() && xs.size() != 2) {
    if (Static(xs) && Product(xs) % k != 0) OpFail(o, "input " + rt::ShapeToString(xs) + " does not flatten to K=" + std::to_string(k));
    x = Emit("Reshape", {x}, {{"shape", std::vector<int64_t>{-1, k}}}, TensorName(o.out[0]) + "/flatten");
  } else if (xs.empty() || xs.back() != k) {
    OpFail(o, "input " + rt::ShapeToString(xs) + " does not end in K=" + std::to_string(k));
  }
  std::vector<float> wt(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) wt[static_cast<size_t>(j * n + i)] = static_cast<float>(w.v[static_cast<size_t>(i * k + j)]);
  std::vector<int> inputs = {x, AddFloatConst(TensorName(o.in[1]), {k, n}, std::move(wt), w.fp16_exact)};
  if (HasIn(o, 2)) {
    const HostTensor& b = HostIn(o, 2, "bias");
    if (b.is_int()) OpUnsupported(o, "quantized bias");
    if (static_cast<int64_t>(b.v.size()) != n) OpFail(o, "bias has " + std::to_string(b.v.size()) + " values");
    inputs.push_back(AddFloatConst(TensorName(o.in[2]), {n}, std::vector<float>(b.v.begin(), b.v.end()), b.fp16_exact));
  }
  std::map<std::string, Attr> attrs;
  AddActivation(o, opt->fused_activation_function(), &attrs);
  EmitOut(o, "Dense", std::move(inputs), std::move(attrs));
}

void TfliteConverter::ConvertBinary(const OpRef& o) {
  const Op op = static_cast<Op>(o.code);
  std::map<std::string, Attr> attrs;
  std::string name;
  switch (op) {
    case Op::ADD:
      name = "Add";
      if (auto* p = o.op->builtin_options_as_AddOptions()) AddActivation(o, p->fused_activation_function(), &attrs);
      break;
    case Op::SUB:
      name = "Sub";
      if (auto* p = o.op->builtin_options_as_SubOptions()) AddActivation(o, p->fused_activation_function(), &attrs);
      break;
    case Op::MUL:
      name = "Mul";
      if (auto* p = o.op->builtin_options_as_MulOptions()) AddActivation(o, p->fused_activation_function(), &attrs);
      break;
    case Op::DIV:
      name = "Div";
      if (auto* p = o.op->builtin_options_as_DivOptions()) AddActivation(o, p->fused_activation_function(), &attrs);
      break;
    case Op::MAXIMUM: name = "Max"; break;
    case Op::MINIMUM: name = "Min"; break;
    case Op::POW: name = "Pow"; break;
    case Op::SQUARED_DIFFERENCE:
      name = "Sub";
      attrs["activation"] = "square";  // (a - b)^2 in one pass
      break;
    default: OpFail(o, "not a binary operator");
  }
  if (In(o, 0).type == DType::INT32 || In(o, 1).type == DType::INT32)
    OpUnsupported(o, "integer arithmetic at run time");
  EmitOut(o, name, {Dyn(o, 0), Dyn(o, 1)}, std::move(attrs));
}

// Comparisons of run-time floats, as 0/1 floats (see the file comment).
void TfliteConverter::ConvertCompare(const OpRef& o) {
  const Op op = static_cast<Op>(o.code);
  // less(a, b) = clip((b - a) * 2^126, 0, 1); greater(a, b) = less(b, a);
  // greater_equal(a, b) = 1 - less(a, b) = clip((a - b) * 2^126 + 1, 0, 1); less_equal(a, b) = greater_equal(b, a).
  const bool swap = op == Op::GREATER || op == Op::LESS_EQUAL;
  const bool strict = op == Op::LESS || op == Op::GREATER;
  const int a = Dyn(o, swap ? 1 : 0), b = Dyn(o, swap ? 0 : 1);
  const std::string base = TensorName(o.out[0]);
  const int diff = strict ? Emit("Sub", {b, a}, {}, base + "/diff") : Emit("Sub", {a, b}, {}, base + "/diff");
  const int big = AddFloatConst(base + "/scale", {}, {std::ldexp(1.0f, 126)}, false);
  std::map<std::string, Attr> clip = {{"activation", "clip"}, {"activation_min", 0.0f}, {"activation_max", 1.0f}};
  if (strict) {
    EmitOut(o, "Mul", {diff, big}, clip, DType::BOOL);
  } else {
    const int scaled = Emit("Mul", {diff, big}, {}, base + "/scaled");
    const int one = AddFloatConst(base + "/one", {}, {1.0f}, false);
    EmitOut(o, "Add", {scaled, one}, clip, DType::BOOL);
  }
}

void TfliteConverter::ConvertPool(const OpRef& o) {
  const auto* opt = Opts<tfl::Pool2DOptions>(o, tfl::BuiltinOptions::Pool2DOptions);
  std::map<std::string, Attr> attrs = {
      {"kernel", std::vector<int64_t>{opt->filter_height(), opt->filter_width()}},
      {"strides", std::vector<int64_t>{opt->stride_h(), opt->stride_w()}},
      {"padding", Padding(o, opt->padding())}};
  AddActivation(o, opt->fused_activation_function(), &attrs);
  // TFLite's SAME average pooling divides by the in-image count (count_include_pad 0).
  EmitOut(o, o.code == static_cast<int>(Op::MAX_POOL_2D) ? "MaxPool" : "AvgPool", {Dyn(o, 0)}, std::move(attrs));
}

void TfliteConverter::ConvertPad(const OpRef& o) {
  const int x = Dyn(o, 0);
  const size_t rank = In(o, 0).shape.size();
  const std::vector<int64_t> p = HostInts(o, 1, "paddings");
  if (p.size() != 2 * rank) OpFail(o, "paddings must be [" + std::to_string(rank) + ", 2]");
  std::vector<int64_t> pads(2 * rank);
  for (size_t d = 0; d < rank; ++d) {
    pads[d] = p[2 * d];
    pads[rank + d] = p[2 * d + 1];
    if (pads[d] < 0 || pads[rank + d] < 0) OpUnsupported(o, "negative padding");
  }
  float value = 0;
  if (o.code == static_cast<int>(Op::PADV2) && HasIn(o, 2)) {
    const HostTensor& v = HostIn(o, 2, "constant_values");
    if (v.v.size() != 1) OpFail(o, "constant_values must be a scalar");
    value = static_cast<float>(v.v[0]);
  }
  std::map<std::string, Attr> attrs = {{"pads", pads}, {"mode", "constant"}};
  if (value != 0) attrs["value"] = value;
  EmitOut(o, "Pad", {x}, std::move(attrs));
}

void TfliteConverter::ConvertResize(const OpRef& o, bool bilinear) {
  const std::vector<int64_t> size = HostInts(o, 1, "size");
  if (size.size() != 2) OpFail(o, "size must hold [H, W]");
  bool align = false, half = false;
  if (bilinear) {
    const auto* opt = Opts<tfl::ResizeBilinearOptions>(o, tfl::BuiltinOptions::ResizeBilinearOptions);
    align = opt->align_corners();
    half = opt->half_pixel_centers();
  } else {
    const auto* opt = Opts<tfl::ResizeNearestNeighborOptions>(o, tfl::BuiltinOptions::ResizeNearestNeighborOptions);
    align = opt->align_corners();
    half = opt->half_pixel_centers();
  }
  std::map<std::string, Attr> attrs = {{"size", size}, {"method", bilinear ? "bilinear" : "nearest"}};
  // TFLite: align_corners wins over half_pixel_centers. Nearest rounds the source
  // coordinate with roundf (half away from zero) when aligning corners, otherwise floors.
  if (align) {
    attrs["coordinate_mode"] = "align_corners";
    if (!bilinear) attrs["nearest_mode"] = "round_prefer_ceil";
  } else if (half) {
    attrs["coordinate_mode"] = bilinear ? "half_pixel" : "tf_half_pixel_for_nn";
  } else {
    attrs["coordinate_mode"] = "asymmetric";
  }
  if (!bilinear && !align) attrs["nearest_mode"] = "floor";
  EmitOut(o, "Resize", {Dyn(o, 0)}, std::move(attrs));
}

void TfliteConverter::ConvertReduce(const OpRef& o) {
  const auto* opt = Opts<tfl::ReducerOptions>(o, tfl::BuiltinOptions::ReducerOptions);
  std::vector<int64_t> axes = HostInts(o, 1, "axes");
  const int64_t rank = static_cast<int64_t>(In(o, 0).shape.size());
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) OpFail(o, "axis out of range");
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  const char* name = nullptr;
  switch (static_cast<Op>(o.code)) {
    case Op::MEAN: name = "ReduceMean"; break;
    case Op::SUM: name = "ReduceSum"; break;
    case Op::REDUCE_MAX: name = "ReduceMax"; break;
    case Op::REDUCE_MIN: name = "ReduceMin"; break;
    default: OpFail(o, "not a reduction");
  }
  const int x = Dyn(o, 0);
  EmitOut(o, name, {x}, {{"axes", axes}, {"keepdims", int64_t{opt->keep_dims() ? 1 : 0}}});
}

void TfliteConverter::ConvertStridedSlice(const OpRef& o) {
  const auto* opt = Opts<tfl::StridedSliceOptions>(o, tfl::BuiltinOptions::StridedSliceOptions);
  if (opt->ellipsis_mask() || opt->new_axis_mask()) OpUnsupported(o, "ellipsis_mask/new_axis_mask");
  const Shape& xs = In(o, 0).shape;
  if (!Static(xs)) OpUnsupported(o, "strided slice of a dynamic shape");
  const SliceSpec sp = ResolveStridedSlice(xs, HostInts(o, 1, "begin"), HostInts(o, 2, "end"), HostInts(o, 3, "strides"),
                                           opt->begin_mask(), opt->end_mask(), opt->shrink_axis_mask(),
                                           [&](const std::string& m) { OpFail(o, m); });
  // Our Slice follows ONNX: an end of -1 with a negative step would count from the
  // back, so a slice running to the front uses the lowest int instead.
  std::vector<int64_t> end = sp.end;
  for (size_t d = 0; d < end.size(); ++d)
    if (sp.step[d] < 0 && end[d] < 0) end[d] = std::numeric_limits<int64_t>::min();
  const int x = Dyn(o, 0);
  const bool reshape = !sp.shrink.empty();
  const int sliced = Emit("Slice", {x}, {{"begin", sp.begin}, {"end", end}, {"steps", sp.step}},
                          reshape ? TensorName(o.out[0]) + "/slice" : TensorName(o.out[0]));
  if (!reshape) {
    SetOut(o, sliced);
    return;
  }
  Shape out;
  for (size_t d = 0; d < sp.out.size(); ++d)
    if (!std::count(sp.shrink.begin(), sp.shrink.end(), static_cast<int>(d))) out.push_back(sp.out[d]);
  EmitOut(o, "Reshape", {sliced}, {{"shape", out}});
}

void TfliteConverter::ConvertPRelu(const OpRef& o) {
  const int x = Dyn(o, 0);
  const Shape& xs = In(o, 0).shape;
  const HostTensor& alpha = HostIn(o, 1, "alpha");
  const int64_t n = static_cast<int64_t>(alpha.v.size());
  const int64_t c = xs.empty() ? -1 : xs.back();
  // Our PRelu takes one slope or one per channel of the last dim.
  bool per_channel = n == 1;
  if (!per_channel && n == c) {
    per_channel = true;
    for (size_t d = 0; d + 1 < alpha.shape.size(); ++d) per_channel = per_channel && alpha.shape[d] == 1;
  }
  if (per_channel) {
    EmitOut(o, "PRelu", {x, AddFloatConst(TensorName(o.in[1]), {n}, std::vector<float>(alpha.v.begin(), alpha.v.end()),
                                          alpha.fp16_exact)},
            {});
    return;
  }
  // Any other broadcast: relu(x) + alpha * min(x, 0).
  const std::string base = TensorName(o.out[0]);
  const int zero = AddFloatConst(base + "/zero", {}, {0.0f}, false);
  const int neg = Emit("Min", {x, zero}, {}, base + "/neg_part");
  const int scaled = Emit("Mul", {neg, Dyn(o, 1)}, {}, base + "/scaled");
  const int pos = Emit("Relu", {x}, {}, base + "/pos_part");
  EmitOut(o, "Add", {pos, scaled}, {});
}

void TfliteConverter::ConvertOp(const OpRef& o) {
  if (FoldOp(o)) return;
  const Op op = static_cast<Op>(o.code);
  auto unary = [&](const char* name, std::map<std::string, Attr> attrs = {}) {
    EmitOut(o, name, {Dyn(o, 0)}, std::move(attrs));
  };
  switch (op) {
    case Op::CONV_2D: ConvertConv(o, false); return;
    case Op::DEPTHWISE_CONV_2D: ConvertConv(o, true); return;
    case Op::FULLY_CONNECTED: ConvertFullyConnected(o); return;
    case Op::ADD: case Op::SUB: case Op::MUL: case Op::DIV: case Op::MAXIMUM: case Op::MINIMUM: case Op::POW:
    case Op::SQUARED_DIFFERENCE:
      ConvertBinary(o);
      return;
    case Op::LESS: case Op::GREATER: case Op::LESS_EQUAL: case Op::GREATER_EQUAL: ConvertCompare(o); return;
    case Op::MAX_POOL_2D: case Op::AVERAGE_POOL_2D: ConvertPool(o); return;
    case Op::PAD: case Op::PADV2: ConvertPad(o); return;
    case Op::RESIZE_BILINEAR: ConvertResize(o, true); return;
    case Op::RESIZE_NEAREST_NEIGHBOR: ConvertResize(o, false); return;
    case Op::MEAN: case Op::SUM: case Op::REDUCE_MAX: case Op::REDUCE_MIN: ConvertReduce(o); return;
    case Op::STRIDED_SLICE: ConvertStridedSlice(o); return;
    case Op::PRELU: ConvertPRelu(o); return;
    case Op::RESHAPE: case Op::SQUEEZE: case Op::EXPAND_DIMS: {
      // The declared output shape is authoritative (the shape input may hold -1).
      Shape s = DeclaredShape(o.out[0]);
      if (s.empty() && op == Op::RESHAPE && HasIn(o, 1)) s = HostInts(o, 1, "shape");
      if (std::count(s.begin(), s.end(), -1) > 1) OpUnsupported(o, "more than one dynamic dimension");
      const Val& in = In(o, 0);
      // With overridden input shapes a reshape that keeps the leading (batch) dim
      // keeps it symbolically (0 = copy that dim), so any batch size runs.
      if (overridden_ && !s.empty() && !in.shape.empty() && DeclaredShape(o.in[0]).at(0) == s[0] && s[0] > 0) s[0] = 0;
      EmitOut(o, "Reshape", {Dyn(o, 0)}, {{"shape", s}}, in.type);
      return;
    }
    case Op::CONCATENATION: {
      const auto* opt = Opts<tfl::ConcatenationOptions>(o, tfl::BuiltinOptions::ConcatenationOptions);
      std::vector<int> ins;
      for (size_t i = 0; i < o.in.size(); ++i) ins.push_back(Dyn(o, i));
      std::map<std::string, Attr> attrs = {{"axis", int64_t{opt->axis()}}};
      // Concat has no fused activation: it follows as its own node.
      if (opt->fused_activation_function() != tfl::ActivationFunctionType::NONE) {
        const int cat = Emit("Concat", ins, attrs, TensorName(o.out[0]) + "/concat");
        std::map<std::string, Attr> act;
        AddActivation(o, opt->fused_activation_function(), &act);
        const std::string a = std::get<std::string>(act["activation"].value());
        if (a == "clip")
          EmitOut(o, "Clip", {cat}, {{"min", act["activation_min"]}, {"max", act["activation_max"]}});
        else
          EmitOut(o, a == "relu" ? "Relu" : a == "relu6" ? "Relu6" : "Tanh", {cat}, {});
        return;
      }
      EmitOut(o, "Concat", ins, attrs);
      return;
    }
    case Op::TRANSPOSE: EmitOut(o, "Transpose", {Dyn(o, 0)}, {{"perm", HostInts(o, 1, "perm")}}); return;
    case Op::SOFTMAX: {
      const auto* opt = Opts<tfl::SoftmaxOptions>(o, tfl::BuiltinOptions::SoftmaxOptions);
      int x = Dyn(o, 0);
      if (opt->beta() != 1.0f) {
        const int beta = AddFloatConst(TensorName(o.out[0]) + "/beta", {}, {opt->beta()}, false);
        x = Emit("Mul", {x, beta}, {}, TensorName(o.out[0]) + "/scaled");
      }
      EmitOut(o, "Softmax", {x}, {{"axis", int64_t{-1}}});
      return;
    }
    case Op::L2_NORMALIZATION: {
      std::map<std::string, Attr> attrs = {{"axis", int64_t{-1}}, {"epsilon", 1e-6f}};
      if (auto* p = o.op->builtin_options_as_L2NormOptions()) AddActivation(o, p->fused_activation_function(), &attrs);
      EmitOut(o, "L2Normalize", {Dyn(o, 0)}, std::move(attrs));
      return;
    }
    case Op::LEAKY_RELU: {
      const auto* opt = Opts<tfl::LeakyReluOptions>(o, tfl::BuiltinOptions::LeakyReluOptions);
      unary("LeakyRelu", {{"alpha", opt->alpha()}});
      return;
    }
    case Op::RELU: unary("Relu"); return;
    case Op::RELU6: unary("Relu6"); return;
    case Op::RELU_N1_TO_1: unary("Clip", {{"min", -1.0f}, {"max", 1.0f}}); return;
    case Op::LOGISTIC: unary("Sigmoid"); return;
    case Op::TANH: unary("Tanh"); return;
    case Op::HARD_SWISH: unary("HardSwish"); return;
    case Op::ELU: unary("Elu", {{"alpha", 1.0f}}); return;
    case Op::NEG: unary("Neg"); return;
    case Op::ABS: unary("Abs"); return;
    case Op::SQRT: unary("Sqrt"); return;
    case Op::RSQRT: unary("Rsqrt"); return;
    case Op::EXP: unary("Exp"); return;
    case Op::LOG: unary("Log"); return;
    case Op::SQUARE: unary("Square"); return;
    case Op::DEQUANTIZE: {
      // A run-time fp32 input passes through; quantized activations do not exist here.
      const Val& in = In(o, 0);
      if (in.type != DType::FLOAT32) OpUnsupported(o, "dequantize of a run-time " + TypeName(in.type) + " tensor");
      EmitOut(o, "Identity", {Dyn(o, 0)}, {});
      return;
    }
    case Op::CAST: {
      const Val& in = In(o, 0);
      const DType to = sg_->tensors()->Get(o.out[0])->type();
      const bool from_bool_or_float = in.type == DType::BOOL || in.type == DType::FLOAT32;
      // Our run-time bools are 0/1 floats: bool <-> float casts move no data.
      if (from_bool_or_float && (to == DType::FLOAT32 || (to == DType::BOOL && in.type == DType::BOOL))) {
        Val v = in;
        v.type = to;
        vals_[o.out[0]] = v;
        return;
      }
      OpUnsupported(o, "run-time cast from " + TypeName(in.type) + " to " + TypeName(to));
    }
    default: OpUnsupported(o, "operator " + OpName(o.code) + " is not supported");
  }
}

// ---------------------------------------------------------------------------
// Simplification: exact rewrites of exporter lowerings.

void TfliteConverter::Simplify() {
  // Consumers and producers of every tensor.
  auto index = [&](std::vector<std::vector<int>>* consumers, std::vector<int>* producer) {
    consumers->assign(g_.tensors.size(), {});
    producer->assign(g_.tensors.size(), -1);
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      for (int t : g_.nodes[n].inputs)
        if (t >= 0) (*consumers)[t].push_back(static_cast<int>(n));
      for (int t : g_.nodes[n].outputs) (*producer)[t] = static_cast<int>(n);
    }
    for (int t : g_.outputs) (*consumers)[t].push_back(-1);  // graph outputs count as a use
  };
  std::vector<std::vector<int>> consumers;
  std::vector<int> producer;
  std::vector<char> dead(g_.nodes.size(), 0);
  index(&consumers, &producer);

  auto only_use = [&](int t) { return consumers[t].size() == 1 && consumers[t][0] >= 0; };
  auto node_of = [&](int t) -> rt::NodeDef* { return producer[t] >= 0 && !dead[producer[t]] ? &g_.nodes[producer[t]] : nullptr; };
  auto plain = [](const rt::NodeDef& n) { return n.GetString("activation", "none") == "none"; };
  auto scalar_or_vector = [&](int t, std::vector<float>* values) {
    const rt::TensorDef& td = g_.tensors[t];
    if (!td.constant || td.constant->is_int) return false;
    const int64_t n = rt::NumElements(td.shape);
    for (size_t d = 0; d + 1 < td.shape.size(); ++d)
      if (td.shape[d] != 1) return false;
    values->assign(td.constant->f32, td.constant->f32 + n);
    return true;
  };
  // Replaces node `root` by PRelu(x, slope) and marks the pattern's inner nodes dead.
  auto to_prelu = [&](int root, int x, std::vector<float> slope, const std::vector<int>& inner, bool fp16) {
    rt::NodeDef& n = g_.nodes[root];
    const int64_t count = static_cast<int64_t>(slope.size());
    const int s = AddFloatConst(n.name + "/slope", {count}, std::move(slope), fp16);
    n.op = "PRelu";
    n.inputs = {x, s};
    n.attrs.clear();
    for (int k : inner) dead[k] = 1;
  };

  for (size_t r = 0; r < g_.nodes.size(); ++r) {
    rt::NodeDef& add = g_.nodes[r];
    if (dead[r] || add.op != "Add" || !plain(add) || add.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      // PReLU as relu(x) + mul(...) where the Mul computes slope * min(x, 0):
      //   expo MTCNN:   mul(neg(alpha) or alpha, relu(neg(x)))  -> relu(x) - alpha * relu(-x)
      //   MobileFaceNet: mul(sub(x, abs(x)), alpha * 0.5)       -> relu(x) + alpha * (x - |x|) / 2
      rt::NodeDef* relu = node_of(add.inputs[side]);
      rt::NodeDef* mul = node_of(add.inputs[1 - side]);
      if (!relu || !mul || relu->op != "Relu" || mul->op != "Mul" || !plain(*mul)) continue;
      if (!only_use(add.inputs[side]) || !only_use(add.inputs[1 - side])) continue;
      const int x = relu->inputs[0];
      for (int ms = 0; ms < 2; ++ms) {
        std::vector<float> c;
        const int ct = mul->inputs[1 - ms];
        if (!scalar_or_vector(ct, &c)) continue;
        const bool fp16 = g_.tensors[ct].constant->storage == rt::Storage::kFloat16;
        rt::NodeDef* inner = node_of(mul->inputs[ms]);
        if (!inner || !only_use(mul->inputs[ms])) continue;
        // relu(neg(x)) times c: slope = -c.
        if (inner->op == "Relu" && plain(*inner)) {
          rt::NodeDef* neg = node_of(inner->inputs[0]);
          if (!neg || neg->op != "Neg" || neg->inputs[0] != x || !only_use(inner->inputs[0])) continue;
          for (float& v : c) v = -v;
          to_prelu(static_cast<int>(r), x, std::move(c), {producer[add.inputs[side]], producer[add.inputs[1 - side]],
                                                          producer[mul->inputs[ms]], producer[inner->inputs[0]]},
                   false);
          goto next_add;
        }
        // neg(relu(neg(x))) times c: slope = c.
        if (inner->op == "Neg") {
          rt::NodeDef* r2 = node_of(inner->inputs[0]);
          if (!r2 || r2->op != "Relu" || !plain(*r2) || !only_use(inner->inputs[0])) continue;
          rt::NodeDef* neg = node_of(r2->inputs[0]);
          if (!neg || neg->op != "Neg" || neg->inputs[0] != x || !only_use(r2->inputs[0])) continue;
          to_prelu(static_cast<int>(r), x, std::move(c),
                   {producer[add.inputs[side]], producer[add.inputs[1 - side]], producer[mul->inputs[ms]],
                    producer[inner->inputs[0]], producer[r2->inputs[0]]},
                   fp16);
          goto next_add;
        }
        // (x - |x|) times c: x - |x| = 2 min(x, 0), slope = 2c.
        if (inner->op == "Sub" && plain(*inner) && inner->inputs[0] == x) {
          rt::NodeDef* abs = node_of(inner->inputs[1]);
          if (!abs || abs->op != "Abs" || abs->inputs[0] != x || !only_use(inner->inputs[1])) continue;
          for (float& v : c) v = 2 * v;
          to_prelu(static_cast<int>(r), x, std::move(c),
                   {producer[add.inputs[side]], producer[add.inputs[1 - side]], producer[mul->inputs[ms]],
                    producer[inner->inputs[1]]},
                   false);
          goto next_add;
        }
      }
    }
  next_add:;
  }

  // Softmax lowered as exp(x - max(x)) / sum(exp(x - max(x))) over the last axis.
  index(&consumers, &producer);  // the PReLU rewrites changed inputs and added slopes
  for (size_t r = 0; r < g_.nodes.size(); ++r) {
    rt::NodeDef& div = g_.nodes[r];
    if (dead[r] || div.op != "Div" || !plain(div)) continue;
    rt::NodeDef* exp = node_of(div.inputs[0]);
    rt::NodeDef* sum = node_of(div.inputs[1]);
    if (!exp || !sum || exp->op != "Exp" || sum->op != "ReduceSum" || sum->inputs[0] != div.inputs[0]) continue;
    rt::NodeDef* sub = node_of(exp->inputs[0]);
    if (!sub || sub->op != "Sub" || !plain(*sub)) continue;
    rt::NodeDef* max = node_of(sub->inputs[1]);
    if (!max || max->op != "ReduceMax" || max->inputs[0] != sub->inputs[0]) continue;
    const int x = sub->inputs[0];
    const auto it = declared_.find(x);
    const int64_t rank = it != declared_.end() ? static_cast<int64_t>(DeclaredShape(it->second).size()) : -1;
    auto last_axis_kept = [&](const rt::NodeDef& n) {
      const auto axes = n.GetInts("axes");
      return rank > 0 && axes.size() == 1 && axes[0] == rank - 1 && n.GetInt("keepdims", 1) == 1;
    };
    if (!last_axis_kept(*max) || !last_axis_kept(*sum)) continue;
    // exp feeds the Div and the sum only; sub feeds exp only; max feeds sub only.
    if (consumers[div.inputs[0]].size() != 2 || !only_use(div.inputs[1]) || !only_use(exp->inputs[0]) ||
        !only_use(sub->inputs[1]))
      continue;
    const int dead_nodes[] = {producer[div.inputs[0]], producer[div.inputs[1]], producer[exp->inputs[0]],
                              producer[sub->inputs[1]]};
    div.op = "Softmax";
    div.inputs = {x};
    div.attrs = {{"axis", int64_t{-1}}};
    for (int k : dead_nodes) dead[k] = 1;
  }

  std::vector<rt::NodeDef> kept;
  for (size_t n = 0; n < g_.nodes.size(); ++n)
    if (!dead[n]) kept.push_back(std::move(g_.nodes[n]));
  g_.nodes = std::move(kept);
  PruneTensors();
}

// Drops tensors no node, input or output refers to (the outputs of rewritten
// patterns and the constants only they used), renumbering the rest.
void TfliteConverter::PruneTensors() {
  std::vector<int> remap(g_.tensors.size(), -1);
  auto mark = [&](int t) {
    if (t >= 0) remap[t] = 0;
  };
  for (int t : g_.inputs) mark(t);
  for (int t : g_.outputs) mark(t);
  for (const rt::NodeDef& n : g_.nodes) {
    for (int t : n.inputs) mark(t);
    for (int t : n.outputs) mark(t);
  }
  std::vector<rt::TensorDef> tensors;
  for (size_t t = 0; t < g_.tensors.size(); ++t) {
    if (remap[t] < 0) continue;
    remap[t] = static_cast<int>(tensors.size());
    tensors.push_back(std::move(g_.tensors[t]));
  }
  g_.tensors = std::move(tensors);
  auto apply = [&](int& t) {
    if (t >= 0) t = remap[t];
  };
  for (int& t : g_.inputs) apply(t);
  for (int& t : g_.outputs) apply(t);
  for (rt::NodeDef& n : g_.nodes) {
    for (int& t : n.inputs) apply(t);
    for (int& t : n.outputs) apply(t);
  }
  auto remap_keys = [&](std::map<int, int>* m) {
    std::map<int, int> r;
    for (const auto& [k, v] : *m)
      if (remap[k] >= 0) r.emplace(remap[k], v);
    *m = std::move(r);
  };
  remap_keys(&declared_);
  remap_keys(&producer_op_);
}

// ---------------------------------------------------------------------------
// Whole model.

void TfliteConverter::CheckShapes() const {
  if (overridden_) return;
  std::vector<Shape> input_shapes;
  for (int t : g_.inputs) {
    if (!Static(g_.tensors[t].shape)) return;
    input_shapes.push_back(g_.tensors[t].shape);
  }
  rt::ModelOptions mo;
  mo.optimize = false;
  mo.num_threads = 1;
  const auto model = rt::Model::FromGraph(g_, mo);
  const auto plan = model->GetPlan(input_shapes);
  for (const auto& [tensor, tfl_tensor] : declared_) {
    if (tensor >= static_cast<int>(plan->shapes.size())) continue;
    const Shape want = DeclaredShape(tfl_tensor);
    const Shape& got = plan->shapes[tensor];
    if (want.empty() || !Static(want) || got.empty()) continue;
    if (want != got) {
      const auto op = producer_op_.find(tensor);
      throw Error(ErrorCode::kInternal,
                  file_ + ": converted operator #" + std::to_string(op == producer_op_.end() ? -1 : op->second) +
                      " gives '" + TensorName(tfl_tensor) + "' the shape " + rt::ShapeToString(got) +
                      ", the file declares " + rt::ShapeToString(want));
    }
  }
}

rt::Graph TfliteConverter::Convert() {
  // Only subgraph 0 runs; other subgraphs are bodies of control flow (WHILE, IF,
  // CALL_ONCE), whose operators are refused by name.
  if (!sg_->inputs() || sg_->inputs()->size() == 0) Malformed(file_, "subgraph 0 has no inputs");
  if (!sg_->outputs() || sg_->outputs()->size() == 0) Malformed(file_, "subgraph 0 has no outputs");
  const int nt = static_cast<int>(sg_->tensors()->size());
  for (int t : *sg_->inputs()) {
    if (t < 0 || t >= nt) Malformed(file_, "graph input refers to tensor " + std::to_string(t));
    if (consts_[t]) continue;  // a constant listed as input keeps its value
    const DType type = sg_->tensors()->Get(t)->type();
    if (type != DType::FLOAT32)
      Unsupported(file_, "input '" + TensorName(t) + "' has dtype " + TypeName(type) + " (only FLOAT32 inputs)");
    Val& v = vals_[t];
    if (v.defined) Malformed(file_, "input '" + TensorName(t) + "' is listed twice");
    v.defined = true;
    v.shape = DeclaredShape(t);
    if (auto it = input_shapes_.find(TensorName(t)); it != input_shapes_.end()) {
      if (it->second.size() != v.shape.size())
        throw Error(ErrorCode::kInvalidArgument, "--input-shape " + it->first + " has rank " +
                                                     std::to_string(it->second.size()) + ", the model's input has " +
                                                     rt::ShapeToString(v.shape));
      if (!v.shape.empty() && !it->second.empty() && v.shape.back() != it->second.back())
        throw Error(ErrorCode::kInvalidArgument, "--input-shape " + it->first + " must keep the channel count " +
                                                     std::to_string(v.shape.back()));
      v.shape = it->second;
      input_shapes_.erase(it);
      overridden_ = true;
    }
    v.tensor = g_.AddInput(UniqueName(TensorName(t)), v.shape);
  }
  if (!input_shapes_.empty())
    throw Error(ErrorCode::kInvalidArgument, "--input-shape names '" + input_shapes_.begin()->first +
                                                 "', which is not an input of the model");
  const int nops = sg_->operators() ? static_cast<int>(sg_->operators()->size()) : 0;
  for (int i = 0; i < nops; ++i) ConvertOp(ReadOp(i));

  for (int t : *sg_->outputs()) {
    if (t < 0 || t >= nt) Malformed(file_, "graph output refers to tensor " + std::to_string(t));
    Val& v = vals_[t];
    if (!v.defined) Malformed(file_, "output '" + TensorName(t) + "' is never produced");
    if (v.host) Unsupported(file_, "output '" + TensorName(t) + "' is a constant");
    int tensor = v.tensor;
    // Keep the TFLite output names: a value that passed through unchanged (an
    // input, a cast) or that is already another output gets an Identity.
    const bool is_input = std::count(g_.inputs.begin(), g_.inputs.end(), tensor) != 0;
    const bool is_output = std::count(g_.outputs.begin(), g_.outputs.end(), tensor) != 0;
    if (g_.tensors[tensor].name != TensorName(t) || is_input || is_output)
      tensor = Emit("Identity", {tensor}, {}, TensorName(t));
    g_.MarkOutput(tensor);
  }
  Simplify();
  g_.Validate();
  CheckShapes();
  g_.producer = "tflite";
  if (model_->description()) g_.metadata["tflite_description"] = model_->description()->str();
  return std::move(g_);
}

// "NAME=1x-1x-1x3[,NAME=...]"; -1 marks a dynamic dim.
std::map<std::string, Shape> ParseInputShapes(const std::string& spec) {
  std::map<std::string, Shape> r;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw Error(ErrorCode::kInvalidArgument, "--input-shape wants NAME=DIMS (e.g. input=1x-1x-1x3), got '" + item + "'");
    Shape s;
    size_t p = eq + 1;
    while (p <= item.size()) {
      size_t x = item.find('x', p);
      if (x == std::string::npos) x = item.size();
      const std::string dim = item.substr(p, x - p);
      char* end = nullptr;
      const long long d = std::strtoll(dim.c_str(), &end, 10);
      if (dim.empty() || !end || *end || d < -1 || d == 0 || d > (1 << 20))
        throw Error(ErrorCode::kInvalidArgument, "--input-shape: bad dimension '" + dim + "' in '" + item + "'");
      s.push_back(d);
      p = x + 1;
    }
    r[item.substr(0, eq)] = s;
  }
  return r;
}

rt::Graph ConvertTflite(const ConvertRequest& req) {
  const std::string list = req.Option("list-ops");
  const std::string path = !list.empty() && list != "1" ? list : req.Input(0, "MODEL.tflite");
  std::vector<uint8_t> bytes = ReadFileBytes(path);
  // A byte range of a packed asset file.
  size_t offset = 0, length = bytes.size();
  auto parse = [&](const char* key, size_t* out) {
    const std::string s = req.Option(key);
    if (s.empty()) return false;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (!end || *end || s[0] == '-') throw Error(ErrorCode::kInvalidArgument, std::string("--") + key + " needs a byte count");
    *out = static_cast<size_t>(v);
    return true;
  };
  const bool has_offset = parse("offset", &offset);
  const bool has_length = parse("length", &length);
  if (has_offset && !has_length) length = bytes.size() - std::min(offset, bytes.size());
  if (offset > bytes.size() || length > bytes.size() - offset)
    throw Error(ErrorCode::kInvalidArgument, path + ": byte range [" + std::to_string(offset) + ", " +
                                                 std::to_string(offset) + "+" + std::to_string(length) +
                                                 ") is outside the file (" + std::to_string(bytes.size()) + " bytes)");
  // The flatbuffer must start aligned for the verifier's alignment checks.
  std::vector<uint8_t> slice(bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                             bytes.begin() + static_cast<std::ptrdiff_t>(offset + length));
  bytes.clear();
  const std::string label = has_offset || has_length
                                ? path + "[" + std::to_string(offset) + ":+" + std::to_string(length) + "]"
                                : path;
  TfliteConverter conv(label, slice.data(), slice.size(), ParseInputShapes(req.Option("input-shape")));
  conv.Load();
  if (!list.empty()) {
    conv.ListOps(stdout);
    std::fflush(stdout);
    std::exit(0);  // a listing writes no model; leave before the tool asks for --out
  }
  rt::Graph g = conv.Convert();
  AddProvenance(&g, "tflite", {path});
  if (has_offset || has_length) {
    g.metadata["source_offset"] = std::to_string(offset);
    g.metadata["source_length"] = std::to_string(length);
  }
  return g;
}

}  // namespace

FACELIB_REGISTER_CONVERTER({"tflite",
                            "MODEL.tflite [--offset N --length N] [--input-shape NAME=1x-1x-1x3] [--list-ops]  (subgraph 0; fp16 weights stay fp16)",
                            ConvertTflite});

}  // namespace facelib::convert
