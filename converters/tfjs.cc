// tfjs graph-model converter: model.json (a TensorFlow GraphDef in JSON plus a
// weights manifest) and its .bin shards -> facelib graph.
//
//   facelib-convert tfjs MODEL.json --out OUT.flm [--outputs NAME,NAME...]
//
// Reading. The shards of every manifest group are concatenated in manifest
// order and the weights are laid out back to back in that buffer (this is how
// tfjs itself loads them). Weights are float32 or int32, optionally quantised
// (uint8/uint16 affine with scale and min, or float16). Const nodes take their
// value from the weight of the same name, or from an inline tensor value.
//
// Conversion. Only the ancestors of the outputs are converted. Every TF output
// is either a host constant (weights and anything computed from constants
// only: shape arithmetic, Shape of a static shape, folded StridedSlice, ...)
// or a run-time tensor of our graph. Constant subgraphs are folded by a small
// evaluator here; run-time ops map onto facelib ops (NHWC throughout, so no
// layout change is needed). Shapes are tracked statically with -1 for unknown
// dims (the dynamic batch) so that Shape ops, Squeeze, StridedSlice masks and
// the like resolve at conversion time.
//
// Simplification. After the mapping, a few exact rewrites remove elementwise
// passes: Relu/Minimum/Maximum chains become one Clip (Relu6), per-channel
// Mul/Add after a convolution fold into its weights and bias, and the Keras
// PReLU lowering relu(x) + c*(x - |x|) becomes PRelu(x, 2c).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "converters/converter.h"
#include "converters/shape_util.h"
#include "converters/json.h"
#include "converters/tfjs_weights.h"
#include "runtime/model_file.h"

namespace facelib::convert {
namespace {

using rt::Attr;
using rt::Shape;

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// Host tensors: weights and folded constants.

// Values are held as doubles; float tensors are rounded to float32 after every
// folded op so that the result is what a float32 runtime computes.
struct HostTensor {
  bool is_int = false;
  bool fp16_exact = false;  // every value is exactly an fp16 weight (may be stored as fp16)
  bool symbolic = false;    // derived from an unknown dimension (encoded as -1)
  Shape shape;
  std::vector<double> v;
  int64_t size() const { return static_cast<int64_t>(v.size()); }
};
using HostPtr = std::shared_ptr<const HostTensor>;

double RoundF(double x) { return static_cast<double>(static_cast<float>(x)); }

// A value flowing along a TF edge.
struct Val {
  HostPtr host;     // known at conversion time
  int tensor = -1;  // our graph tensor (run-time value, or a materialised constant)
  Shape shape;      // static shape, -1 = unknown
  bool is_int = false;
};

// ---------------------------------------------------------------------------
// TF nodes as read from the JSON.

struct TfNode {
  std::string name, op;
  std::vector<std::pair<std::string, int>> inputs;  // data inputs: producer node, output index
  const JsonValue* attr = nullptr;                  // may be null
};

std::string Base64Decode(const std::string& in, const std::function<void(const std::string&)>& fail) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = val(in[i]);
    if (v < 0) fail("invalid base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i)
    if (in[i] != '=') fail("invalid base64 padding");
  return out;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// ---------------------------------------------------------------------------

class TfjsConverter {
 public:
  TfjsConverter(std::string json_path, std::vector<std::string> requested_outputs)
      : file_(std::move(json_path)), requested_outputs_(std::move(requested_outputs)) {}

  rt::Graph Convert();
  const std::vector<std::string>& shard_paths() const { return shard_paths_; }

 private:
  // --- reading
  void ReadModelJson();
  void ReadWeights();
  void ReadNodes();
  std::vector<std::string> OutputNames() const;
  const JsonValue* Signature() const;

  // --- attributes
  const JsonValue* AttrValue(const TfNode& n, const char* key) const;
  int64_t AttrInt(const TfNode& n, const char* key, int64_t def) const;
  double AttrFloat(const TfNode& n, const char* key, double def) const;
  bool AttrBool(const TfNode& n, const char* key, bool def) const;
  std::string AttrString(const TfNode& n, const char* key, const std::string& def) const;
  std::string AttrType(const TfNode& n, const char* key) const;
  std::vector<int64_t> AttrInts(const TfNode& n, const char* key) const;
  std::vector<std::string> AttrStrings(const TfNode& n, const char* key) const;
  std::optional<Shape> ShapeFromJson(const JsonValue& shape_proto) const;
  HostTensor InlineTensor(const TfNode& n) const;

  // --- conversion helpers
  [[noreturn]] void NodeFail(const TfNode& n, const std::string& what) const {
    Malformed(file_, "node '" + n.name + "' (" + n.op + "): " + what);
  }
  [[noreturn]] void NodeUnsupported(const TfNode& n, const std::string& what) const {
    Unsupported(file_, "node '" + n.name + "' (" + n.op + "): " + what);
  }
  void ConvertNode(const TfNode& n);
  Val& In(const TfNode& n, size_t i);
  const HostTensor& Host(const TfNode& n, size_t i, const char* what);
  std::vector<int64_t> HostInts(const TfNode& n, size_t i, const char* what);
  int Dyn(Val& v, const std::string& name);
  void Set(const TfNode& n, int k, Val v) { vals_[n.name + ":" + std::to_string(k)] = std::move(v); }
  void SetHost(const TfNode& n, HostTensor t, int k = 0) {
    Val v;
    v.shape = t.shape;
    v.is_int = t.is_int;
    v.host = std::make_shared<const HostTensor>(std::move(t));
    Set(n, k, std::move(v));
  }
  // Adds one of our nodes; returns the output value with the given shape.
  Val Emit(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs, Shape shape,
           const std::string& name);
  int AddConst(const std::string& name, HostTensor t);
  void EmitNode(const TfNode& n, const std::string& op, std::vector<int> inputs,
                std::map<std::string, Attr> attrs, Shape shape) {
    Set(n, 0, Emit(op, std::move(inputs), std::move(attrs), std::move(shape), n.name));
  }

  // --- op groups
  void ConvertConv(const TfNode& n, bool depthwise);
  void ConvertMatMul(const TfNode& n);
  void ConvertBinary(const TfNode& n);
  void ConvertUnary(const TfNode& n);
  void ConvertReduce(const TfNode& n);
  void ConvertPool(const TfNode& n);
  void ConvertStridedSlice(const TfNode& n);
  void ConvertShapeOp(const TfNode& n);
  void ApplyFusedOps(const TfNode& n, const std::vector<std::string>& fused, size_t first_arg,
                     std::vector<float>* bias, std::vector<float>* weights, int64_t out_c, bool weights_last_is_out,
                     std::string* act, std::map<std::string, Attr>* attrs, HostPtr* prelu);

  // --- graph simplification (exact rewrites)
  void Simplify();
  void FoldPReluPattern();
  void FoldClipChains();
  void FoldAffineIntoConv();
  void Compact();

  std::string file_;
  std::string dir_;
  std::vector<std::string> requested_outputs_;
  JsonValue doc_;
  std::vector<std::string> shard_paths_;
  std::map<std::string, HostPtr> weights_;
  std::vector<TfNode> nodes_;
  std::map<std::string, size_t> node_index_;
  std::map<std::string, Val> vals_;
  rt::Graph g_;
  std::vector<Shape> shapes_;  // per graph tensor (our static shape view)
};

// ---------------------------------------------------------------------------
// Reading

void TfjsConverter::ReadModelJson() {
  const auto bytes = ReadFileBytes(file_, size_t{512} << 20);
  try {
    doc_ = ParseJson(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const Error& e) {
    Malformed(file_, e.what());
  }
  if (!doc_.IsObject()) Malformed(file_, "top level is not a JSON object");
  const size_t slash = file_.find_last_of('/');
  dir_ = slash == std::string::npos ? "." : file_.substr(0, slash);
  if (const JsonValue* fmt = doc_.Find("format"); fmt && fmt->IsString() && fmt->AsString() != "graph-model")
    Unsupported(file_, "format '" + fmt->AsString() + "' (only tfjs graph-model is supported; layers models have no GraphDef)");
  const JsonValue* topo = doc_.Find("modelTopology");
  if (!topo || !topo->IsObject()) Malformed(file_, "missing object \"modelTopology\"");
  const JsonValue* nodes = topo->Find("node");
  if (!nodes || !nodes->IsArray()) Malformed(file_, "\"modelTopology\" has no \"node\" array (not a graph model?)");
  if (const JsonValue* lib = topo->Find("library"); lib && lib->IsObject())
    if (const JsonValue* fns = lib->Find("function"); fns && fns->IsArray() && fns->size() > 0)
      Unsupported(file_, "graph functions (modelTopology.library.function, used by TF control flow v2)");
}

void TfjsConverter::ReadWeights() {
  const JsonValue* wm = doc_.Find("weightsManifest");
  if (!wm) Malformed(file_, "missing \"weightsManifest\"");
  TfjsWeights read = ReadTfjsWeights(file_, *wm, dir_, "weightsManifest");
  shard_paths_ = std::move(read.shard_paths);
  for (TfjsWeight& w : read.weights) {
    HostTensor t;
    t.shape = std::move(w.shape);
    t.is_int = w.is_int();
    t.v = std::move(w.values);
    t.fp16_exact = w.quantization == "float16" && !t.is_int;
    weights_.emplace(w.name, std::make_shared<const HostTensor>(std::move(t)));
  }
}

void TfjsConverter::ReadNodes() {
  const JsonValue& nodes = doc_["modelTopology"]["node"];
  nodes_.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const JsonValue& jn = nodes.at(i);
    TfNode n;
    const JsonValue* name = jn.Find("name");
    const JsonValue* op = jn.Find("op");
    if (!name || !name->IsString() || !op || !op->IsString())
      Malformed(file_, "modelTopology.node[" + std::to_string(i) + "] needs string \"name\" and \"op\"");
    n.name = name->AsString();
    n.op = op->AsString();
    if (const JsonValue* in = jn.Find("input")) {
      if (!in->IsArray()) Malformed(file_, "node '" + n.name + "': \"input\" is not an array");
      for (const JsonValue& s : in->AsArray()) {
        if (!s.IsString()) Malformed(file_, "node '" + n.name + "': an input is not a string");
        std::string ref = s.AsString();
        if (!ref.empty() && ref[0] == '^') continue;  // control dependency: no data flows
        int k = 0;
        const size_t colon = ref.rfind(':');
        if (colon != std::string::npos) {
          const std::string idx = ref.substr(colon + 1);
          if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos || idx.size() > 6)
            Malformed(file_, "node '" + n.name + "': bad input reference '" + ref + "'");
          k = std::stoi(idx);
          ref = ref.substr(0, colon);
        }
        n.inputs.emplace_back(ref, k);
      }
    }
    if (const JsonValue* a = jn.Find("attr"); a && a->IsObject()) n.attr = a;
    if (!node_index_.emplace(n.name, nodes_.size()).second) Malformed(file_, "node name '" + n.name + "' is used twice");
    nodes_.push_back(std::move(n));
  }
}

const JsonValue* TfjsConverter::Signature() const {
  if (const JsonValue* s = doc_.Find("signature"); s && s->IsObject()) return s;
  if (const JsonValue* u = doc_.Find("userDefinedMetadata"); u && u->IsObject())
    if (const JsonValue* s = u->Find("signature"); s && s->IsObject()) return s;
  return nullptr;
}

std::vector<std::string> TfjsConverter::OutputNames() const {
  if (!requested_outputs_.empty()) return requested_outputs_;
  std::vector<std::string> out;
  if (const JsonValue* sig = Signature())
    if (const JsonValue* outs = sig->Find("outputs"); outs && outs->IsObject()) {
      for (const auto& [key, spec] : outs->AsObject()) {
        const JsonValue* nm = spec.Find("name");
        out.push_back(nm && nm->IsString() ? nm->AsString() : key);
      }
      if (!out.empty()) return out;
    }
  // No signature: the nodes nobody consumes.
  std::set<std::string> consumed;
  for (const TfNode& n : nodes_)
    for (const auto& [src, k] : n.inputs) consumed.insert(src);
  for (const TfNode& n : nodes_)
    if (!consumed.count(n.name) && n.op != "Const" && n.op != "NoOp" && n.op != "Placeholder") out.push_back(n.name);
  return out;
}

// --- attributes

const JsonValue* TfjsConverter::AttrValue(const TfNode& n, const char* key) const {
  if (!n.attr) return nullptr;
  const JsonValue* v = n.attr->Find(key);
  return v && v->IsObject() ? v : nullptr;
}

namespace {
int64_t JsonToInt(const JsonValue& v) {
  if (v.IsNumber()) return v.AsInt();
  const std::string& s = v.AsString();  // int64 attributes are strings in the protobuf JSON mapping
  size_t pos = 0;
  int64_t r = 0;
  try {
    r = std::stoll(s, &pos);
  } catch (const std::exception&) {
    pos = std::string::npos;
  }
  if (pos != s.size()) throw Error(ErrorCode::kInvalidModel, "JSON: '" + s + "' is not an integer");
  return r;
}
double JsonToFloat(const JsonValue& v) {
  if (v.IsNumber()) return v.AsNumber();
  const std::string& s = v.AsString();  // "NaN", "Infinity" and "-Infinity" are strings
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "Infinity") return kInf;
  if (s == "-Infinity") return -kInf;
  throw Error(ErrorCode::kInvalidModel, "JSON: '" + s + "' is not a float");
}
}  // namespace

int64_t TfjsConverter::AttrInt(const TfNode& n, const char* key, int64_t def) const {
  const JsonValue* a = AttrValue(n, key);
  if (!a) return def;
  const JsonValue* i = a->Find("i");
  if (!i) return a->size() == 0 ? 0 : def;  // protobuf JSON omits zero values
  try {
    return JsonToInt(*i);
  } catch (const Error& e) {
    NodeFail(n, std::string("attribute '") + key + "': " + e.what());
  }
}

double TfjsConverter::AttrFloat(const TfNode& n, const char* key, double def) const {
  const JsonValue* a = AttrValue(n, key);
  if (!a) return def;
  const JsonValue* f = a->Find("f");
  if (!f) return a->size() == 0 ? 0.0 : def;
  try {
    return JsonToFloat(*f);
  } catch (const Error& e) {
    NodeFail(n, std::string("attribute '") + key + "': " + e.what());
  }
}

bool TfjsConverter::AttrBool(const TfNode& n, const char* key, bool def) const {
  const JsonValue* a = AttrValue(n, key);
  if (!a) return def;
  const JsonValue* b = a->Find("b");
  if (!b) return a->size() == 0 ? false : def;
  if (!b->IsBool()) NodeFail(n, std::string("attribute '") + key + "' is not a boolean");
  return b->AsBool();
}

std::string TfjsConverter::AttrString(const TfNode& n, const char* key, const std::string& def) const {
  const JsonValue* a = AttrValue(n, key);
  if (!a) return def;
  const JsonValue* s = a->Find("s");
  if (!s) return a->size() == 0 ? std::string() : def;
  if (!s->IsString()) NodeFail(n, std::string("attribute '") + key + "' is not a string");
  return Base64Decode(s->AsString(), [&](const std::string& m) { NodeFail(n, std::string("attribute '") + key + "': " + m); });
}

std::string TfjsConverter::AttrType(const TfNode& n, const char* key) const {
  const JsonValue* a = AttrValue(n, key);
  if (!a) return "";
  const JsonValue* t = a->Find("type");
  return t && t->IsString() ? t->AsString() : "";
}

std::vector<int64_t> TfjsConverter::AttrInts(const TfNode& n, const char* key) const {
  std::vector<int64_t> out;
  const JsonValue* a = AttrValue(n, key);
  if (!a) return out;
  const JsonValue* list = a->Find("list");
  if (!list) return out;
  const JsonValue* is = list->Find("i");
  if (!is) return out;
  try {
    for (const JsonValue& v : is->AsArray()) out.push_back(JsonToInt(v));
  } catch (const Error& e) {
    NodeFail(n, std::string("attribute '") + key + "': " + e.what());
  }
  return out;
}

std::vector<std::string> TfjsConverter::AttrStrings(const TfNode& n, const char* key) const {
  std::vector<std::string> out;
  const JsonValue* a = AttrValue(n, key);
  if (!a) return out;
  const JsonValue* list = a->Find("list");
  if (!list) return out;
  const JsonValue* ss = list->Find("s");
  if (!ss || !ss->IsArray()) return out;
  for (const JsonValue& v : ss->AsArray()) {
    if (!v.IsString()) NodeFail(n, std::string("attribute '") + key + "' holds a non-string");
    out.push_back(Base64Decode(v.AsString(), [&](const std::string& m) { NodeFail(n, std::string("attribute '") + key + "': " + m); }));
  }
  return out;
}

std::optional<Shape> TfjsConverter::ShapeFromJson(const JsonValue& proto) const {
  if (const JsonValue* u = proto.Find("unknownRank"); u && u->IsBool() && u->AsBool()) return std::nullopt;
  Shape s;
  if (const JsonValue* dims = proto.Find("dim"); dims && dims->IsArray())
    for (const JsonValue& d : dims->AsArray()) {
      const JsonValue* size = d.Find("size");
      const int64_t v = size ? JsonToInt(*size) : 0;
      s.push_back(v < 0 ? -1 : v);
    }
  return s;
}

// A Const whose value is written into the GraphDef (tensorContent / *_val).
HostTensor TfjsConverter::InlineTensor(const TfNode& n) const {
  const JsonValue* a = AttrValue(n, "value");
  const JsonValue* t = a ? a->Find("tensor") : nullptr;
  if (!t || !t->IsObject()) NodeFail(n, "no weight of this name in the manifest and no inline value");
  HostTensor h;
  const std::string dtype = t->Find("dtype") && (*t)["dtype"].IsString() ? (*t)["dtype"].AsString() : "";
  if (dtype == "DT_FLOAT" || dtype == "DT_DOUBLE" || dtype == "DT_HALF") h.is_int = false;
  else if (dtype == "DT_INT32" || dtype == "DT_INT64" || dtype == "DT_BOOL" || dtype == "DT_UINT8" || dtype == "DT_INT8") h.is_int = true;
  else NodeUnsupported(n, "inline constant of dtype '" + dtype + "'");
  if (const JsonValue* ts = t->Find("tensorShape")) {
    auto s = ShapeFromJson(*ts);
    if (!s) NodeFail(n, "inline constant of unknown rank");
    h.shape = *s;
  }
  for (int64_t d : h.shape)
    if (d < 0) NodeFail(n, "inline constant with an unknown dimension");
  const int64_t count = rt::NumElements(h.shape);
  if (const JsonValue* tc = t->Find("tensorContent")) {
    const std::string raw = Base64Decode(tc->AsString(), [&](const std::string& m) { NodeFail(n, "tensorContent: " + m); });
    const size_t elem = dtype == "DT_DOUBLE" || dtype == "DT_INT64" ? 8 : dtype == "DT_HALF" ? 2 : (dtype == "DT_BOOL" || dtype == "DT_UINT8" || dtype == "DT_INT8") ? 1 : 4;
    if (raw.size() != static_cast<size_t>(count) * elem)
      NodeFail(n, "tensorContent has " + std::to_string(raw.size()) + " bytes for shape " + rt::ShapeToString(h.shape));
    for (int64_t i = 0; i < count; ++i) {
      const char* p = raw.data() + i * elem;
      double x = 0;
      if (dtype == "DT_FLOAT") { float f; std::memcpy(&f, p, 4); x = f; }
      else if (dtype == "DT_DOUBLE") { double d; std::memcpy(&d, p, 8); x = RoundF(d); }
      else if (dtype == "DT_HALF") { uint16_t u; std::memcpy(&u, p, 2); x = rt::HalfToFloat(u); }
      else if (dtype == "DT_INT32") { int32_t v; std::memcpy(&v, p, 4); x = v; }
      else if (dtype == "DT_INT64") { int64_t v; std::memcpy(&v, p, 8); x = static_cast<double>(v); }
      else if (dtype == "DT_INT8") x = static_cast<int8_t>(*p);
      else x = static_cast<uint8_t>(*p);
      h.v.push_back(x);
    }
  } else {
    const char* keys[] = {"floatVal", "doubleVal", "intVal", "int64Val", "boolVal", "halfVal"};
    std::vector<double> vals;
    for (const char* k : keys)
      if (const JsonValue* arr = t->Find(k); arr && arr->IsArray())
        for (const JsonValue& x : arr->AsArray()) {
          if (x.IsBool()) vals.push_back(x.AsBool() ? 1 : 0);
          else if (std::strcmp(k, "halfVal") == 0) vals.push_back(rt::HalfToFloat(static_cast<uint16_t>(JsonToInt(x))));
          else if (std::strcmp(k, "intVal") == 0 || std::strcmp(k, "int64Val") == 0) vals.push_back(static_cast<double>(JsonToInt(x)));
          else vals.push_back(RoundF(JsonToFloat(x)));
        }
    // TF repeats the last value to fill the tensor (an empty list means zeros).
    if (static_cast<int64_t>(vals.size()) > count) NodeFail(n, "inline constant has more values than its shape");
    h.v.assign(static_cast<size_t>(count), vals.empty() ? 0.0 : vals.back());
    std::copy(vals.begin(), vals.end(), h.v.begin());
  }
  return h;
}

// ---------------------------------------------------------------------------
// Conversion helpers

Val& TfjsConverter::In(const TfNode& n, size_t i) {
  if (i >= n.inputs.size()) NodeFail(n, "missing input " + std::to_string(i));
  const auto& [src, k] = n.inputs[i];
  auto it = vals_.find(src + ":" + std::to_string(k));
  if (it == vals_.end()) NodeFail(n, "input '" + src + ":" + std::to_string(k) + "' is not produced by any node");
  return it->second;
}

const HostTensor& TfjsConverter::Host(const TfNode& n, size_t i, const char* what) {
  const Val& v = In(n, i);
  if (!v.host)
    NodeUnsupported(n, std::string(what) + " (input " + std::to_string(i) + ") must be a constant, but it is computed at run time");
  return *v.host;
}

std::vector<int64_t> TfjsConverter::HostInts(const TfNode& n, size_t i, const char* what) {
  const HostTensor& t = Host(n, i, what);
  std::vector<int64_t> out;
  for (double x : t.v) out.push_back(static_cast<int64_t>(x));
  return out;
}

int TfjsConverter::AddConst(const std::string& name, HostTensor t) {
  rt::Constant c;
  if (t.is_int) {
    std::vector<int64_t> ints;
    for (double x : t.v) ints.push_back(static_cast<int64_t>(x));
    c = rt::Constant::FromInts(std::move(ints));
  } else {
    std::vector<float> f(t.v.begin(), t.v.end());
    c = rt::Constant::FromFloats(std::move(f), t.fp16_exact ? rt::Storage::kFloat16 : rt::Storage::kFloat32);
  }
  const int idx = g_.AddConstant(name, t.shape, std::move(c));
  shapes_.resize(g_.tensors.size());
  shapes_[idx] = t.shape;
  return idx;
}

int TfjsConverter::Dyn(Val& v, const std::string& name) {
  if (v.tensor >= 0) return v.tensor;
  if (!v.host) throw Error(ErrorCode::kInternal, "value without tensor or constant: " + name);
  if (v.host->symbolic)
    Unsupported(file_, "constant '" + name + "' depends on an unknown (dynamic) dimension and is used as data");
  v.tensor = AddConst(name, *v.host);
  return v.tensor;
}

Val TfjsConverter::Emit(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs, Shape shape,
                        const std::string& name) {
  const int t = g_.AddNode1(op, std::move(inputs), std::move(attrs), name);
  shapes_.resize(g_.tensors.size());
  shapes_[t] = shape;
  Val v;
  v.tensor = t;
  v.shape = std::move(shape);
  return v;
}

// ---------------------------------------------------------------------------
// Host evaluation (constant folding)

HostTensor Broadcast2(const HostTensor& a, const HostTensor& b, bool int_result,
                      const std::function<double(double, double)>& fn, const std::string& where) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  Shape as(rank, 1), bs(rank, 1), os(rank, 1);
  std::copy(a.shape.begin(), a.shape.end(), as.begin() + (rank - a.shape.size()));
  std::copy(b.shape.begin(), b.shape.end(), bs.begin() + (rank - b.shape.size()));
  for (size_t d = 0; d < rank; ++d) {
    if (as[d] != bs[d] && as[d] != 1 && bs[d] != 1)
      throw Error(ErrorCode::kInvalidModel, where + ": shapes " + rt::ShapeToString(a.shape) + " and " +
                                                rt::ShapeToString(b.shape) + " do not broadcast");
    os[d] = as[d] == 1 ? bs[d] : as[d];
  }
  HostTensor r;
  r.is_int = int_result;
  r.shape = os;
  r.symbolic = a.symbolic || b.symbolic;
  const int64_t n = Product(os);
  r.v.resize(static_cast<size_t>(n));
  const auto ost = Strides(os), ast = Strides(as), bst = Strides(bs);
  for (int64_t i = 0; i < n; ++i) {
    int64_t ai = 0, bi = 0, rem = i;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t c = rem / ost[d];
      rem %= ost[d];
      if (as[d] != 1) ai += c * ast[d];
      if (bs[d] != 1) bi += c * bst[d];
    }
    const double x = fn(a.v[ai], b.v[bi]);
    r.v[i] = int_result ? std::trunc(x) : RoundF(x);
  }
  return r;
}

HostTensor HostTranspose(const HostTensor& x, const std::vector<int64_t>& perm) {
  HostTensor r = x;
  const size_t rank = x.shape.size();
  for (size_t d = 0; d < rank; ++d) r.shape[d] = x.shape[perm[d]];
  const auto ist = Strides(x.shape), ost = Strides(r.shape);
  const int64_t n = x.size();
  for (int64_t i = 0; i < n; ++i) {
    int64_t src = 0, rem = i;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t c = rem / ost[d];
      rem %= ost[d];
      src += c * ist[perm[d]];
    }
    r.v[i] = x.v[src];
  }
  return r;
}

// Resolved TF StridedSlice over an input shape.
struct SliceResolved {
  std::vector<int64_t> begin, end, step;  // per input dim, canonical (end -1 = before index 0 for negative steps)
  Shape sliced;                           // per input dim
  Shape final_shape;                      // after shrink / new axes
  std::vector<char> full;                 // dim untouched
};

SliceResolved ResolveStridedSlice(const Shape& in, std::vector<int64_t> b, std::vector<int64_t> e,
                                  std::vector<int64_t> s, int64_t begin_mask, int64_t end_mask, int64_t ellipsis_mask,
                                  int64_t new_axis_mask, int64_t shrink_mask, const std::function<void(const std::string&)>& fail) {
  if (b.size() != e.size() || b.size() != s.size()) fail("begin, end and strides differ in length");
  size_t sparse = b.size();
  const int rank = static_cast<int>(in.size());
  bool has_ellipsis = false;
  for (size_t i = 0; i < sparse; ++i)
    if (ellipsis_mask >> i & 1) {
      if (has_ellipsis) fail("more than one ellipsis");
      has_ellipsis = true;
    }
  if (!has_ellipsis) {  // an implicit ellipsis after the last given dim covers the rest
    ellipsis_mask |= int64_t{1} << sparse;
    b.push_back(0);
    e.push_back(0);
    s.push_back(1);
    ++sparse;
  }
  constexpr int64_t kNewAxis = -1, kShrink = -2;
  struct Dense {
    int64_t b = 0, e = 0, s = 1;
    bool bm = false, em = false, shrink = false;
  };
  std::vector<Dense> dense(rank);
  std::vector<int64_t> gather;
  int full_index = 0;
  for (size_t i = 0; i < sparse; ++i) {
    if (ellipsis_mask >> i & 1) {
      int after_new = 0;
      for (size_t j = i + 1; j < sparse; ++j) after_new += (new_axis_mask >> j & 1) ? 1 : 0;
      const int next = std::min(rank - static_cast<int>(sparse - i) + 1 + after_new, rank);
      for (; full_index < next; ++full_index) {
        dense[full_index].bm = dense[full_index].em = true;
        gather.push_back(full_index);
      }
    } else if (new_axis_mask >> i & 1) {
      gather.push_back(kNewAxis);
    } else {
      if (full_index >= rank) fail("slice spec has more dims than the input's rank " + std::to_string(rank));
      Dense& d = dense[full_index];
      d.b = b[i];
      d.e = e[i];
      d.s = s[i];
      d.bm = begin_mask >> i & 1;
      d.em = end_mask >> i & 1;
      d.shrink = shrink_mask >> i & 1;
      gather.push_back(d.shrink ? kShrink : full_index);
      ++full_index;
    }
  }
  SliceResolved r;
  for (int d = 0; d < rank; ++d) {
    const Dense& x = dense[d];
    const int64_t dim = in[d];
    if (x.s == 0) fail("stride 0");
    int64_t bb, ee, size;
    bool full = false;
    if (dim < 0) {
      // An unknown dim can only be taken whole.
      const bool whole = !x.shrink && x.s == 1 && (x.bm || x.b == 0) && (x.em || x.e >= (int64_t{1} << 30));
      if (!whole) fail("slices an unknown (dynamic) dimension " + std::to_string(d));
      bb = 0, ee = -1, size = -1, full = true;
    } else if (x.shrink) {
      bb = x.b < 0 ? x.b + dim : x.b;
      if (bb < 0 || bb >= dim) fail("shrink index " + std::to_string(x.b) + " out of range for dim " + std::to_string(dim));
      ee = bb + 1;
      size = 1;
    } else if (x.s > 0) {
      bb = x.bm ? 0 : std::clamp<int64_t>(x.b < 0 ? x.b + dim : x.b, 0, dim);
      ee = x.em ? dim : std::clamp<int64_t>(x.e < 0 ? x.e + dim : x.e, 0, dim);
      size = ee > bb ? (ee - bb + x.s - 1) / x.s : 0;
      full = bb == 0 && ee == dim && x.s == 1;
    } else {
      bb = x.bm ? dim - 1 : std::clamp<int64_t>(x.b < 0 ? x.b + dim : x.b, -1, dim - 1);
      ee = x.em ? -1 : std::clamp<int64_t>(x.e < 0 ? x.e + dim : x.e, -1, dim - 1);
      size = bb > ee ? (bb - ee + (-x.s) - 1) / (-x.s) : 0;
    }
    r.begin.push_back(bb);
    r.end.push_back(ee);
    r.step.push_back(x.shrink ? 1 : x.s);
    r.sliced.push_back(size);
    r.full.push_back(full);
  }
  for (int64_t gi : gather) {
    if (gi == kNewAxis) r.final_shape.push_back(1);
    else if (gi >= 0) r.final_shape.push_back(r.sliced[gi]);
  }
  return r;
}

HostTensor HostSlice(const HostTensor& x, const SliceResolved& r) {
  HostTensor out;
  out.is_int = x.is_int;
  out.symbolic = x.symbolic;
  out.fp16_exact = x.fp16_exact;
  out.shape = r.final_shape;
  const int64_t n = Product(r.sliced);
  const auto ist = Strides(x.shape), ost = Strides(r.sliced);
  out.v.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t src = 0, rem = i;
    for (size_t d = 0; d < x.shape.size(); ++d) {
      const int64_t c = rem / ost[d];
      rem %= ost[d];
      src += (r.begin[d] + c * r.step[d]) * ist[d];
    }
    out.v[i] = x.v[src];
  }
  return out;
}

// Output extent of a 2-D window (-1 stays unknown).
int64_t WindowOut(int64_t in, int64_t k, int64_t s, int64_t d, const std::string& padding, int64_t pad_sum) {
  if (in < 0) return -1;
  const int64_t eff = (k - 1) * d + 1;
  if (padding == "SAME") return (in + s - 1) / s;
  const int64_t padded = in + pad_sum;
  return padded < eff ? 0 : (padded - eff) / s + 1;
}

Shape BroadcastShape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    out[i] = x == 1 ? y : (y == 1 ? x : (x < 0 ? y : x));
  }
  return out;
}

int NormAxis(int64_t axis, size_t rank, const std::function<void(const std::string&)>& fail) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

// ---------------------------------------------------------------------------
// Op conversion

const std::set<std::string>& SupportedOps() {
  static const std::set<std::string> ops = {
      "Placeholder", "Const", "Identity", "IdentityN", "StopGradient", "Snapshot", "NoOp", "Cast",
      "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "MatMul", "_FusedMatMul",
      "BatchMatMul", "BatchMatMulV2", "BiasAdd", "Add", "AddV2", "AddN", "Sub", "Mul", "RealDiv", "Div", "DivNoNan",
      "Maximum", "Minimum", "Pow", "SquaredDifference", "FloorDiv", "FloorMod", "Less", "LessEqual", "Greater",
      "GreaterEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr", "LogicalNot", "Relu", "Relu6", "LeakyRelu",
      "Prelu", "Elu", "Selu", "Sigmoid", "Tanh", "Softplus", "Softmax", "Square", "Sqrt", "Rsqrt", "Exp", "Log",
      "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Mean", "Sum", "Max", "Min", "Prod", "MaxPool",
      "AvgPool", "Pad", "PadV2", "MirrorPad", "ConcatV2", "Concat", "Reshape", "Squeeze", "ExpandDims", "Transpose",
      "StridedSlice", "Slice", "Split", "SplitV", "Pack", "Unpack", "ResizeBilinear", "ResizeNearestNeighbor",
      "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Shape", "Size", "Rank", "GatherV2", "Gather",
      "Fill", "Range", "Tile", "ZerosLike", "OnesLike", "Select", "SelectV2", "Where"};
  return ops;
}

void TfjsConverter::ConvertNode(const TfNode& n) {
  const std::string& op = n.op;
  auto fail = [&](const std::string& m) { NodeFail(n, m); };

  if (op == "Placeholder") {
    const std::string dt = AttrType(n, "dtype");
    if (!dt.empty() && dt != "DT_FLOAT") NodeUnsupported(n, "input dtype " + dt + " (only DT_FLOAT inputs are supported)");
    std::optional<Shape> shape;
    if (const JsonValue* a = AttrValue(n, "shape"); a && a->Find("shape")) shape = ShapeFromJson((*a)["shape"]);
    if (!shape)
      if (const JsonValue* sig = Signature())
        if (const JsonValue* ins = sig->Find("inputs"); ins && ins->IsObject())
          for (const auto& [key, spec] : ins->AsObject()) {
            const JsonValue* nm = spec.Find("name");
            std::string name = nm && nm->IsString() ? nm->AsString() : key;
            if (name.size() > 2 && name.compare(name.size() - 2, 2, ":0") == 0) name.resize(name.size() - 2);
            if (name == n.name && spec.Find("tensorShape")) shape = ShapeFromJson(spec["tensorShape"]);
          }
    if (!shape) NodeUnsupported(n, "input of unknown rank");
    const int t = g_.AddInput(n.name, *shape);
    shapes_.resize(g_.tensors.size());
    shapes_[t] = *shape;
    Val v;
    v.tensor = t;
    v.shape = *shape;
    Set(n, 0, v);
    return;
  }
  if (op == "Const") {
    auto it = weights_.find(n.name);
    Val v;
    v.host = it != weights_.end() ? it->second : std::make_shared<const HostTensor>(InlineTensor(n));
    v.shape = v.host->shape;
    v.is_int = v.host->is_int;
    Set(n, 0, std::move(v));
    return;
  }
  if (op == "Identity" || op == "StopGradient" || op == "Snapshot") {
    Set(n, 0, In(n, 0));
    return;
  }
  if (op == "IdentityN") {
    for (size_t i = 0; i < n.inputs.size(); ++i) Set(n, static_cast<int>(i), In(n, i));
    return;
  }
  if (op == "Cast") {
    const std::string dst = AttrType(n, "DstT");
    const bool to_int = dst != "DT_FLOAT" && dst != "DT_HALF" && dst != "DT_DOUBLE";
    Val v = In(n, 0);
    if (v.host) {
      HostTensor t = *v.host;
      t.is_int = to_int;
      for (double& x : t.v) x = to_int ? (dst == "DT_BOOL" ? (x != 0) : std::trunc(x)) : RoundF(x);
      if (to_int) t.fp16_exact = false;
      SetHost(n, std::move(t));
      return;
    }
    if (to_int || v.is_int) NodeUnsupported(n, "run-time cast to " + dst + " (only float -> float casts are supported)");
    Set(n, 0, v);
    return;
  }
  if (op == "Conv2D" || op == "_FusedConv2D") return ConvertConv(n, false);
  if (op == "DepthwiseConv2dNative" || op == "FusedDepthwiseConv2dNative") return ConvertConv(n, true);
  if (op == "MatMul" || op == "_FusedMatMul" || op == "BatchMatMul" || op == "BatchMatMulV2") return ConvertMatMul(n);
  static const std::set<std::string> kBinary = {"BiasAdd", "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan",
                                                "Maximum", "Minimum", "Pow", "SquaredDifference", "FloorDiv",
                                                "FloorMod", "Less", "LessEqual", "Greater", "GreaterEqual", "Equal",
                                                "NotEqual", "LogicalAnd", "LogicalOr"};
  if (kBinary.count(op)) return ConvertBinary(n);
  if (op == "AddN") {
    if (n.inputs.empty()) fail("AddN without inputs");
    bool all_host = true;
    for (size_t i = 0; i < n.inputs.size(); ++i) all_host = all_host && In(n, i).host;
    if (all_host) {
      HostTensor acc = *In(n, 0).host;
      for (size_t i = 1; i < n.inputs.size(); ++i)
        acc = Broadcast2(acc, *In(n, i).host, acc.is_int, [](double a, double b) { return a + b; }, n.name);
      SetHost(n, std::move(acc));
      return;
    }
    Val acc = In(n, 0);
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      Val& b = In(n, i);
      const std::string name = i + 1 == n.inputs.size() ? n.name : n.name + "/add" + std::to_string(i);
      const int ta = Dyn(acc, n.inputs[0].first), tb = Dyn(b, n.inputs[i].first);
      acc = Emit("Add", {ta, tb}, {}, BroadcastShape(acc.shape, b.shape), name);
    }
    Set(n, 0, acc);
    return;
  }
  if (op == "Prelu") {
    Val& x = In(n, 0);
    const HostTensor& alpha = Host(n, 1, "alpha");
    if (x.host) fail("PReLU of a constant is not folded");
    const int slope = AddConst(n.name + "/alpha", alpha);
    EmitNode(n, "PRelu", {Dyn(x, n.inputs[0].first), slope}, {}, x.shape);
    return;
  }
  static const std::set<std::string> kUnary = {"Relu", "Relu6", "LeakyRelu", "Elu", "Selu", "Sigmoid", "Tanh",
                                               "Softplus", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Abs", "Neg",
                                               "Reciprocal", "Floor", "Ceil", "Round", "Sign", "LogicalNot"};
  if (kUnary.count(op)) return ConvertUnary(n);
  if (op == "Softmax") {
    Val& x = In(n, 0);
    if (x.host) NodeUnsupported(n, "softmax of a constant");
    EmitNode(n, "Softmax", {Dyn(x, n.inputs[0].first)}, {{"axis", int64_t{-1}}}, x.shape);
    return;
  }
  if (op == "Mean" || op == "Sum" || op == "Max" || op == "Min" || op == "Prod") return ConvertReduce(n);
  if (op == "MaxPool" || op == "AvgPool") return ConvertPool(n);
  if (op == "Pad" || op == "PadV2" || op == "MirrorPad") {
    Val& x = In(n, 0);
    const HostTensor& p = Host(n, 1, "paddings");
    const size_t rank = x.shape.size();
    if (p.size() != static_cast<int64_t>(2 * rank)) fail("paddings do not match the input rank " + std::to_string(rank));
    std::vector<int64_t> pads(2 * rank);
    Shape out = x.shape;
    for (size_t d = 0; d < rank; ++d) {
      pads[d] = static_cast<int64_t>(p.v[2 * d]);
      pads[rank + d] = static_cast<int64_t>(p.v[2 * d + 1]);
      if (pads[d] < 0 || pads[rank + d] < 0) NodeUnsupported(n, "negative padding");
      if (out[d] >= 0) out[d] += pads[d] + pads[rank + d];
    }
    std::map<std::string, Attr> attrs = {{"pads", pads}};
    if (op == "PadV2") {
      const HostTensor& c = Host(n, 2, "constant_values");
      if (c.size() != 1) fail("constant_values must be a scalar");
      attrs["value"] = static_cast<float>(c.v[0]);
    }
    if (op == "MirrorPad") {
      const std::string mode = AttrString(n, "mode", "REFLECT");
      if (mode != "REFLECT") NodeUnsupported(n, "MirrorPad mode " + mode + " (only REFLECT maps onto our Pad)");
      attrs["mode"] = "reflect";
    }
    if (x.host) NodeUnsupported(n, "padding of a constant is not folded");
    EmitNode(n, "Pad", {Dyn(x, n.inputs[0].first)}, std::move(attrs), out);
    return;
  }
  if (op == "ConcatV2" || op == "Concat") {
    const bool v2 = op == "ConcatV2";
    if (n.inputs.size() < 2) fail("needs at least one tensor and an axis");
    const size_t axis_in = v2 ? n.inputs.size() - 1 : 0;
    const auto axis_v = HostInts(n, axis_in, "axis");
    if (axis_v.size() != 1) fail("axis must be a scalar");
    std::vector<size_t> parts;
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (i != axis_in) parts.push_back(i);
    const Shape& s0 = In(n, parts[0]).shape;
    const int a = NormAxis(axis_v[0], s0.size(), fail);
    bool all_host = true;
    Shape out = s0;
    out[a] = 0;
    for (size_t i : parts) {
      const Val& v = In(n, i);
      all_host = all_host && v.host;
      if (v.shape.size() != s0.size()) fail("inputs differ in rank");
      out[a] = (out[a] < 0 || v.shape[a] < 0) ? -1 : out[a] + v.shape[a];
    }
    if (all_host) {
      HostTensor r;
      r.is_int = In(n, parts[0]).host->is_int;
      r.shape = out;
      const int64_t outer = Product(Shape(s0.begin(), s0.begin() + a));
      for (int64_t o = 0; o < outer; ++o)
        for (size_t i : parts) {
          const HostTensor& t = *In(n, i).host;
          r.symbolic = r.symbolic || t.symbolic;
          const int64_t inner = Product(Shape(t.shape.begin() + a, t.shape.end()));
          r.v.insert(r.v.end(), t.v.begin() + o * inner, t.v.begin() + (o + 1) * inner);
        }
      SetHost(n, std::move(r));
      return;
    }
    std::vector<int> ins;
    for (size_t i : parts) ins.push_back(Dyn(In(n, i), n.inputs[i].first));
    EmitNode(n, "Concat", ins, {{"axis", int64_t{a}}}, out);
    return;
  }
  if (op == "Reshape") {
    Val& x = In(n, 0);
    const auto spec = HostInts(n, 1, "shape");
    const bool symbolic = In(n, 1).host->symbolic;
    int64_t known_in = 1, unknown_in = 0;
    for (int64_t d : x.shape) {
      if (d < 0) ++unknown_in;
      else known_in *= d;
    }
    Shape out;
    int infer = -1;
    int64_t known_spec = 1;
    for (size_t i = 0; i < spec.size(); ++i) {
      if (spec[i] == -1) {
        if (infer >= 0) fail("shape has more than one -1");
        infer = static_cast<int>(i);
        out.push_back(-1);
      } else if (spec[i] < 0) {
        fail("invalid shape entry " + std::to_string(spec[i]));
      } else if (spec[i] == 0) {
        NodeUnsupported(n, "reshape to a zero-size dimension");
      } else {
        out.push_back(spec[i]);
        known_spec *= spec[i];
      }
    }
    if (infer >= 0 && unknown_in == 0) {
      if (known_in % known_spec != 0) fail("cannot reshape " + rt::ShapeToString(x.shape) + " to " + rt::ShapeToString(spec));
      out[infer] = known_in / known_spec;
    }
    if (x.host) {
      HostTensor t = *x.host;
      if (infer >= 0 && unknown_in) fail("reshape of a constant with unknown dims");
      if (Product(out) != t.size()) fail("cannot reshape " + rt::ShapeToString(t.shape) + " to " + rt::ShapeToString(out));
      t.shape = out;
      SetHost(n, std::move(t));
      return;
    }
    (void)symbolic;  // a -1 from an unknown dim is exactly Reshape's "infer" marker
    EmitNode(n, "Reshape", {Dyn(x, n.inputs[0].first)}, {{"shape", spec}}, out);
    return;
  }
  if (op == "Squeeze") {
    Val& x = In(n, 0);
    std::vector<int64_t> dims = AttrInts(n, "squeeze_dims");
    if (dims.empty()) dims = AttrInts(n, "axis");
    std::vector<char> drop(x.shape.size(), 0);
    if (dims.empty()) {
      for (size_t d = 0; d < x.shape.size(); ++d) drop[d] = x.shape[d] == 1;
    } else {
      for (int64_t a : dims) {
        const int ax = NormAxis(a, x.shape.size(), fail);
        if (x.shape[ax] > 1) fail("cannot squeeze dim " + std::to_string(a) + " of " + rt::ShapeToString(x.shape));
        drop[ax] = 1;
      }
    }
    Shape out;
    std::vector<int64_t> axes;
    for (size_t d = 0; d < x.shape.size(); ++d) {
      if (drop[d]) axes.push_back(static_cast<int64_t>(d));
      else out.push_back(x.shape[d]);
    }
    if (x.host) {
      HostTensor t = *x.host;
      t.shape = out;
      SetHost(n, std::move(t));
      return;
    }
    if (axes.empty()) {
      Set(n, 0, x);
      return;
    }
    EmitNode(n, "Squeeze", {Dyn(x, n.inputs[0].first)}, {{"axes", axes}}, out);
    return;
  }
  if (op == "ExpandDims") {
    Val& x = In(n, 0);
    const auto ax = HostInts(n, 1, "axis");
    if (ax.size() != 1) fail("axis must be a scalar");
    const int a = NormAxis(ax[0], x.shape.size() + 1, fail);
    Shape out = x.shape;
    out.insert(out.begin() + a, 1);
    if (x.host) {
      HostTensor t = *x.host;
      t.shape = out;
      SetHost(n, std::move(t));
      return;
    }
    EmitNode(n, "Unsqueeze", {Dyn(x, n.inputs[0].first)}, {{"axes", std::vector<int64_t>{a}}}, out);
    return;
  }
  if (op == "Transpose") {
    Val& x = In(n, 0);
    const auto perm = HostInts(n, 1, "perm");
    if (perm.size() != x.shape.size()) fail("perm does not match the input rank");
    std::vector<char> seen(perm.size(), 0);
    Shape out;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[p]) fail("perm is not a permutation");
      seen[p] = 1;
      out.push_back(x.shape[p]);
    }
    if (x.host) {
      SetHost(n, HostTranspose(*x.host, perm));
      return;
    }
    EmitNode(n, "Transpose", {Dyn(x, n.inputs[0].first)}, {{"perm", perm}}, out);
    return;
  }
  if (op == "StridedSlice") return ConvertStridedSlice(n);
  if (op == "Slice") {
    Val& x = In(n, 0);
    const auto begin = HostInts(n, 1, "begin");
    const auto size = HostInts(n, 2, "size");
    const size_t rank = x.shape.size();
    if (begin.size() != rank || size.size() != rank) fail("begin/size do not match the input rank");
    std::vector<int64_t> e(rank), s(rank, 1);
    int64_t end_mask = 0;
    for (size_t d = 0; d < rank; ++d) {
      if (size[d] == -1) end_mask |= int64_t{1} << d;
      e[d] = begin[d] + size[d];
    }
    const auto r = ResolveStridedSlice(x.shape, begin, e, s, 0, end_mask, 0, 0, 0, fail);
    if (x.host) {
      SetHost(n, HostSlice(*x.host, r));
      return;
    }
    std::vector<int64_t> axes, bb, ee;
    for (size_t d = 0; d < rank; ++d)
      if (!r.full[d]) axes.push_back(static_cast<int64_t>(d)), bb.push_back(r.begin[d]), ee.push_back(r.end[d]);
    if (axes.empty()) {
      Set(n, 0, x);
      return;
    }
    EmitNode(n, "Slice", {Dyn(x, n.inputs[0].first)}, {{"axes", axes}, {"begin", bb}, {"end", ee}}, r.final_shape);
    return;
  }
  if (op == "Split" || op == "SplitV") {
    const bool v = op == "SplitV";
    Val& x = In(n, v ? 0 : 1);
    const auto axv = HostInts(n, v ? 2 : 0, "axis");
    if (axv.size() != 1) fail("axis must be a scalar");
    const int a = NormAxis(axv[0], x.shape.size(), fail);
    const int64_t dim = x.shape[a];
    std::vector<int64_t> sizes;
    if (v) {
      sizes = HostInts(n, 1, "size_splits");
      int64_t known = 0;
      int infer = -1;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (sizes[i] == -1) infer = static_cast<int>(i);
        else known += sizes[i];
      }
      if (infer >= 0) sizes[infer] = dim - known;
    } else {
      const int64_t k = AttrInt(n, "num_split", 0);
      if (k < 1 || dim < 0 || dim % k) fail("cannot split dim " + std::to_string(dim) + " into " + std::to_string(k));
      sizes.assign(static_cast<size_t>(k), dim / k);
    }
    if (dim < 0 || std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != dim) fail("split sizes do not add up to the dim");
    if (x.host) {
      int64_t start = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        std::vector<int64_t> b(x.shape.size(), 0), e(x.shape.begin(), x.shape.end()), s(x.shape.size(), 1);
        b[a] = start;
        e[a] = start + sizes[i];
        start += sizes[i];
        SetHost(n, HostSlice(*x.host, ResolveStridedSlice(x.shape, b, e, s, 0, 0, 0, 0, 0, fail)), static_cast<int>(i));
      }
      return;
    }
    const auto outs = g_.AddNode("Split", {Dyn(x, n.inputs[v ? 0 : 1].first)}, {{"axis", int64_t{a}}, {"sizes", sizes}},
                                 static_cast<int>(sizes.size()), n.name);
    shapes_.resize(g_.tensors.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      Val o;
      o.tensor = outs[i];
      o.shape = x.shape;
      o.shape[a] = sizes[i];
      shapes_[outs[i]] = o.shape;
      Set(n, static_cast<int>(i), o);
    }
    return;
  }
  if (op == "Pack") {
    if (n.inputs.empty()) fail("Pack without inputs");
    const Shape s0 = In(n, 0).shape;
    const int a = NormAxis(AttrInt(n, "axis", 0), s0.size() + 1, fail);
    bool all_host = true;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (In(n, i).shape != s0) fail("inputs differ in shape");
      all_host = all_host && In(n, i).host;
    }
    Shape out = s0;
    out.insert(out.begin() + a, static_cast<int64_t>(n.inputs.size()));
    if (all_host) {
      HostTensor r;
      r.is_int = In(n, 0).host->is_int;
      r.shape = out;
      const int64_t outer = Product(Shape(s0.begin(), s0.begin() + a));
      const int64_t inner = Product(Shape(s0.begin() + a, s0.end()));
      for (int64_t o = 0; o < outer; ++o)
        for (size_t i = 0; i < n.inputs.size(); ++i) {
          const HostTensor& t = *In(n, i).host;
          r.symbolic = r.symbolic || t.symbolic;
          r.v.insert(r.v.end(), t.v.begin() + o * inner, t.v.begin() + (o + 1) * inner);
        }
      SetHost(n, std::move(r));
      return;
    }
    std::vector<int> parts;
    Shape part_shape = s0;
    part_shape.insert(part_shape.begin() + a, 1);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      Val& v = In(n, i);
      const int t = Dyn(v, n.inputs[i].first);
      parts.push_back(Emit("Unsqueeze", {t}, {{"axes", std::vector<int64_t>{a}}}, part_shape,
                           n.name + "/unsqueeze" + std::to_string(i)).tensor);
    }
    EmitNode(n, "Concat", parts, {{"axis", int64_t{a}}}, out);
    return;
  }
  if (op == "Unpack") {
    Val& x = In(n, 0);
    const int a = NormAxis(AttrInt(n, "axis", 0), x.shape.size(), fail);
    const int64_t num = x.shape[a];
    if (num < 1) fail("cannot unpack an unknown or empty dim");
    Shape piece = x.shape;
    piece.erase(piece.begin() + a);
    if (x.host) {
      for (int64_t i = 0; i < num; ++i) {
        std::vector<int64_t> b(x.shape.size(), 0), e(x.shape.begin(), x.shape.end()), s(x.shape.size(), 1);
        b[a] = i;
        e[a] = i + 1;
        SetHost(n, HostSlice(*x.host, ResolveStridedSlice(x.shape, b, e, s, 0, 0, 0, 0, int64_t{1} << a, fail)),
                static_cast<int>(i));
      }
      return;
    }
    const auto outs = g_.AddNode("Split", {Dyn(x, n.inputs[0].first)},
                                 {{"axis", int64_t{a}}, {"sizes", std::vector<int64_t>(num, 1)}}, static_cast<int>(num),
                                 n.name + "/split");
    shapes_.resize(g_.tensors.size());
    for (int64_t i = 0; i < num; ++i) {
      Shape one = x.shape;
      one[a] = 1;
      shapes_[outs[i]] = one;
      const std::string name = i == 0 ? n.name : n.name + ":" + std::to_string(i);
      Set(n, static_cast<int>(i), Emit("Squeeze", {outs[i]}, {{"axes", std::vector<int64_t>{a}}}, piece, name));
    }
    return;
  }
  if (op == "ResizeBilinear" || op == "ResizeNearestNeighbor") {
    Val& x = In(n, 0);
    const auto size = HostInts(n, 1, "size");
    if (size.size() != 2 || x.shape.size() != 4) fail("needs NHWC input and size [H, W]");
    const bool ac = AttrBool(n, "align_corners", false), hp = AttrBool(n, "half_pixel_centers", false);
    if (ac && hp) fail("align_corners and half_pixel_centers are exclusive");
    std::map<std::string, Attr> attrs = {{"size", size}};
    if (op == "ResizeBilinear") {
      attrs["method"] = "bilinear";
      attrs["coordinate_mode"] = ac ? "align_corners" : hp ? "half_pixel" : "asymmetric";
    } else {
      attrs["method"] = "nearest";
      attrs["coordinate_mode"] = ac ? "align_corners" : hp ? "tf_half_pixel_for_nn" : "asymmetric";
      attrs["nearest_mode"] = ac ? "round_prefer_ceil" : "floor";
    }
    EmitNode(n, "Resize", {Dyn(x, n.inputs[0].first)}, std::move(attrs), {x.shape[0], size[0], size[1], x.shape[3]});
    return;
  }
  if (op == "FusedBatchNorm" || op == "FusedBatchNormV2" || op == "FusedBatchNormV3") {
    Val& x = In(n, 0);
    if (AttrBool(n, "is_training", false)) NodeUnsupported(n, "batch norm in training mode");
    std::vector<int> ins = {Dyn(x, n.inputs[0].first)};
    for (size_t i = 1; i <= 4; ++i) {
      Host(n, i, "batch norm parameter");
      ins.push_back(Dyn(In(n, i), n.inputs[i].first));
    }
    EmitNode(n, "BatchNorm", ins, {{"epsilon", static_cast<float>(AttrFloat(n, "epsilon", 1e-3))}}, x.shape);
    return;
  }
  if (op == "Shape" || op == "Size" || op == "Rank" || op == "ZerosLike" || op == "OnesLike") return ConvertShapeOp(n);
  if (op == "GatherV2" || op == "Gather") {
    Val& x = In(n, 0);
    const HostTensor& idx = Host(n, 1, "indices");
    int64_t axis = 0;
    if (op == "GatherV2") {
      const auto av = HostInts(n, 2, "axis");
      if (av.size() != 1) fail("axis must be a scalar");
      axis = av[0];
      if (AttrInt(n, "batch_dims", 0) != 0) NodeUnsupported(n, "batch_dims != 0");
    }
    const int a = NormAxis(axis, x.shape.size(), fail);
    Shape out(x.shape.begin(), x.shape.begin() + a);
    out.insert(out.end(), idx.shape.begin(), idx.shape.end());
    out.insert(out.end(), x.shape.begin() + a + 1, x.shape.end());
    if (x.host) {
      const HostTensor& t = *x.host;
      HostTensor r;
      r.is_int = t.is_int;
      r.symbolic = t.symbolic;
      r.shape = out;
      const int64_t outer = Product(Shape(t.shape.begin(), t.shape.begin() + a));
      const int64_t inner = Product(Shape(t.shape.begin() + a + 1, t.shape.end()));
      const int64_t dim = t.shape[a];
      for (int64_t o = 0; o < outer; ++o)
        for (double iv : idx.v) {
          int64_t j = static_cast<int64_t>(iv);
          if (j < 0) j += dim;
          if (j < 0 || j >= dim) fail("gather index out of range");
          r.v.insert(r.v.end(), t.v.begin() + (o * dim + j) * inner, t.v.begin() + (o * dim + j + 1) * inner);
        }
      SetHost(n, std::move(r));
      return;
    }
    HostTensor ii = idx;
    ii.is_int = true;
    const int it = AddConst(n.name + "/indices", ii);
    EmitNode(n, "Gather", {Dyn(x, n.inputs[0].first), it}, {{"axis", int64_t{a}}}, out);
    return;
  }
  if (op == "Fill") {
    const auto dims = HostInts(n, 0, "dims");
    const HostTensor& value = Host(n, 1, "value");
    if (value.size() != 1) fail("value must be a scalar");
    for (int64_t d : dims)
      if (d < 0) NodeUnsupported(n, "fill with an unknown dimension");
    HostTensor r;
    r.is_int = value.is_int;
    r.shape = dims;
    r.v.assign(static_cast<size_t>(rt::NumElements(dims)), value.v[0]);
    SetHost(n, std::move(r));
    return;
  }
  if (op == "Range") {
    const HostTensor& s = Host(n, 0, "start");
    const HostTensor& l = Host(n, 1, "limit");
    const HostTensor& d = Host(n, 2, "delta");
    if (s.size() != 1 || l.size() != 1 || d.size() != 1 || d.v[0] == 0) fail("start, limit, delta must be scalars, delta != 0");
    HostTensor r;
    r.is_int = s.is_int && l.is_int && d.is_int;
    const double count = std::ceil((l.v[0] - s.v[0]) / d.v[0]);
    if (count > 1e8) fail("range too long");
    for (int64_t i = 0; i < static_cast<int64_t>(std::max(0.0, count)); ++i) r.v.push_back(s.v[0] + i * d.v[0]);
    r.shape = {r.size()};
    SetHost(n, std::move(r));
    return;
  }
  if (op == "Tile") {
    Val& x = In(n, 0);
    const auto mult = HostInts(n, 1, "multiples");
    if (!x.host) NodeUnsupported(n, "Tile of a run-time tensor (no Tile op in facelib)");
    const HostTensor& t = *x.host;
    if (mult.size() != t.shape.size()) fail("multiples do not match the rank");
    HostTensor r;
    r.is_int = t.is_int;
    for (size_t d = 0; d < mult.size(); ++d) r.shape.push_back(t.shape[d] * mult[d]);
    const auto ost = Strides(r.shape), ist = Strides(t.shape);
    r.v.resize(static_cast<size_t>(Product(r.shape)));
    for (int64_t i = 0; i < r.size(); ++i) {
      int64_t src = 0, rem = i;
      for (size_t d = 0; d < mult.size(); ++d) {
        src += ((rem / ost[d]) % t.shape[d]) * ist[d];
        rem %= ost[d];
      }
      r.v[i] = t.v[src];
    }
    SetHost(n, std::move(r));
    return;
  }
  if (op == "Select" || op == "SelectV2") {
    const HostTensor& c = Host(n, 0, "condition");
    const HostTensor& a = Host(n, 1, "x");
    const HostTensor& b = Host(n, 2, "y");
    HostTensor ab = Broadcast2(a, b, a.is_int, [](double x, double) { return x; }, n.name);
    HostTensor ba = Broadcast2(b, a, a.is_int, [](double x, double) { return x; }, n.name);
    HostTensor cb = Broadcast2(c, ab, true, [](double x, double) { return x; }, n.name);
    for (int64_t i = 0; i < ab.size(); ++i) ab.v[i] = cb.v[i] != 0 ? ab.v[i] : ba.v[i];
    SetHost(n, std::move(ab));
    return;
  }
  if (op == "Where") {
    const HostTensor& c = Host(n, 0, "condition");
    HostTensor r;
    r.is_int = true;
    const auto st = Strides(c.shape);
    int64_t count = 0;
    for (int64_t i = 0; i < c.size(); ++i) {
      if (c.v[i] == 0) continue;
      ++count;
      int64_t rem = i;
      for (size_t d = 0; d < c.shape.size(); ++d) {
        r.v.push_back(static_cast<double>(rem / st[d]));
        rem %= st[d];
      }
    }
    r.shape = {count, static_cast<int64_t>(c.shape.size())};
    SetHost(n, std::move(r));
    return;
  }
  if (op == "NoOp") return;
  NodeUnsupported(n, "operator '" + op + "'");
}

void TfjsConverter::ConvertShapeOp(const TfNode& n) {
  const Val& x = In(n, 0);
  HostTensor r;
  r.is_int = true;
  bool unknown = false;
  for (int64_t d : x.shape) unknown = unknown || d < 0;
  if (n.op == "Shape") {
    r.shape = {static_cast<int64_t>(x.shape.size())};
    for (int64_t d : x.shape) r.v.push_back(static_cast<double>(d));
    r.symbolic = unknown;
  } else if (n.op == "Rank") {
    r.v = {static_cast<double>(x.shape.size())};
  } else if (n.op == "Size") {
    if (unknown) NodeUnsupported(n, "size of a tensor with unknown dims " + rt::ShapeToString(x.shape));
    r.v = {static_cast<double>(Product(x.shape))};
  } else {
    if (unknown) NodeUnsupported(n, "of a tensor with unknown dims " + rt::ShapeToString(x.shape));
    r.is_int = x.is_int;
    r.shape = x.shape;
    r.v.assign(static_cast<size_t>(Product(x.shape)), n.op == "OnesLike" ? 1.0 : 0.0);
  }
  SetHost(n, std::move(r));
}

void TfjsConverter::ConvertStridedSlice(const TfNode& n) {
  Val& x = In(n, 0);
  auto fail = [&](const std::string& m) { NodeUnsupported(n, m); };
  const auto r = ResolveStridedSlice(x.shape, HostInts(n, 1, "begin"), HostInts(n, 2, "end"), HostInts(n, 3, "strides"),
                                     AttrInt(n, "begin_mask", 0), AttrInt(n, "end_mask", 0),
                                     AttrInt(n, "ellipsis_mask", 0), AttrInt(n, "new_axis_mask", 0),
                                     AttrInt(n, "shrink_axis_mask", 0), fail);
  if (x.host) {
    SetHost(n, HostSlice(*x.host, r));
    return;
  }
  Val cur = x;
  int t = Dyn(cur, n.inputs[0].first);
  std::vector<int64_t> axes, bb, ee, ss;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (r.full[d]) continue;
    axes.push_back(static_cast<int64_t>(d));
    bb.push_back(r.begin[d]);
    // Our Slice reads a negative end as counted from the back; "before index 0" must be spelled below -dim.
    ee.push_back(r.step[d] < 0 && r.end[d] == -1 ? std::numeric_limits<int64_t>::min() : r.end[d]);
    ss.push_back(r.step[d]);
  }
  const bool reshape = r.final_shape != r.sliced;
  if (!axes.empty()) {
    cur = Emit("Slice", {t}, {{"axes", axes}, {"begin", bb}, {"end", ee}, {"steps", ss}}, r.sliced,
               reshape ? n.name + "/slice" : n.name);
    t = cur.tensor;
  }
  if (reshape) {
    int unknown = 0;
    for (int64_t d : r.final_shape) unknown += d < 0;
    if (unknown > 1) NodeUnsupported(n, "result has more than one unknown dim");
    cur = Emit("Reshape", {t}, {{"shape", std::vector<int64_t>(r.final_shape.begin(), r.final_shape.end())}},
               r.final_shape, n.name);
  }
  Set(n, 0, cur);
}

void TfjsConverter::ConvertUnary(const TfNode& n) {
  const std::string& op = n.op;
  Val& x = In(n, 0);
  if (x.host) {
    HostTensor t = *x.host;
    t.fp16_exact = false;
    if (t.symbolic && op != "Neg" && op != "Abs") NodeUnsupported(n, "arithmetic on an unknown dimension");
    const double alpha = AttrFloat(n, "alpha", op == "LeakyRelu" ? 0.2 : 1.0);
    for (double& v : t.v) {
      double y;
      if (op == "Relu") y = std::max(v, 0.0);
      else if (op == "Relu6") y = std::clamp(v, 0.0, 6.0);
      else if (op == "LeakyRelu") y = v < 0 ? alpha * v : v;
      else if (op == "Elu") y = v < 0 ? std::expm1(v) : v;
      else if (op == "Selu") y = 1.0507009873554805 * (v < 0 ? 1.6732632423543772 * std::expm1(v) : v);
      else if (op == "Sigmoid") y = 1 / (1 + std::exp(-v));
      else if (op == "Tanh") y = std::tanh(v);
      else if (op == "Softplus") y = std::log1p(std::exp(v));
      else if (op == "Square") y = v * v;
      else if (op == "Sqrt") y = std::sqrt(v);
      else if (op == "Rsqrt") y = 1 / std::sqrt(v);
      else if (op == "Exp") y = std::exp(v);
      else if (op == "Log") y = std::log(v);
      else if (op == "Abs") y = std::fabs(v);
      else if (op == "Neg") y = -v;
      else if (op == "Reciprocal") y = 1 / v;
      else if (op == "Floor") y = std::floor(v);
      else if (op == "Ceil") y = std::ceil(v);
      else if (op == "Round") y = std::nearbyint(v);  // TF rounds half to even
      else if (op == "Sign") y = v > 0 ? 1 : v < 0 ? -1 : 0;
      else y = v == 0 ? 1 : 0;  // LogicalNot
      v = t.is_int ? std::trunc(y) : RoundF(y);
    }
    SetHost(n, std::move(t));
    return;
  }
  static const std::map<std::string, std::string> kMap = {
      {"Relu", "Relu"}, {"Relu6", "Relu6"}, {"LeakyRelu", "LeakyRelu"}, {"Elu", "Elu"}, {"Sigmoid", "Sigmoid"},
      {"Tanh", "Tanh"}, {"Softplus", "Softplus"}, {"Square", "Square"}, {"Sqrt", "Sqrt"}, {"Rsqrt", "Rsqrt"},
      {"Exp", "Exp"}, {"Log", "Log"}, {"Abs", "Abs"}, {"Neg", "Neg"}, {"Reciprocal", "Reciprocal"}};
  auto it = kMap.find(op);
  if (it == kMap.end()) NodeUnsupported(n, "run-time " + op + " (no matching facelib op)");
  std::map<std::string, Attr> attrs;
  if (op == "LeakyRelu") attrs["alpha"] = static_cast<float>(AttrFloat(n, "alpha", 0.2));
  EmitNode(n, it->second, {Dyn(x, n.inputs[0].first)}, std::move(attrs), x.shape);
}

void TfjsConverter::ConvertBinary(const TfNode& n) {
  std::string op = n.op;
  Val& a = In(n, 0);
  Val& b = In(n, 1);
  if (op == "BiasAdd") {
    const std::string fmt = AttrString(n, "data_format", "NHWC");
    if (fmt != "NHWC" && !fmt.empty()) NodeUnsupported(n, "data_format " + fmt);
  }
  if (a.host && b.host) {
    const bool ints = a.host->is_int && b.host->is_int;
    const bool cmp = op == "Less" || op == "LessEqual" || op == "Greater" || op == "GreaterEqual" || op == "Equal" ||
                     op == "NotEqual" || op == "LogicalAnd" || op == "LogicalOr";
    const bool structural = op == "Maximum" || op == "Minimum";
    if ((a.host->symbolic || b.host->symbolic) && !structural)
      NodeUnsupported(n, "arithmetic on an unknown dimension (convert with static input shapes)");
    std::function<double(double, double)> fn;
    if (op == "BiasAdd" || op == "Add" || op == "AddV2") fn = [](double x, double y) { return x + y; };
    else if (op == "Sub") fn = [](double x, double y) { return x - y; };
    else if (op == "Mul") fn = [](double x, double y) { return x * y; };
    else if (op == "RealDiv" || op == "Div") fn = [ints](double x, double y) { return ints ? std::trunc(x / y) : x / y; };
    else if (op == "DivNoNan") fn = [](double x, double y) { return y == 0 ? 0 : x / y; };
    else if (op == "FloorDiv") fn = [](double x, double y) { return std::floor(x / y); };
    else if (op == "FloorMod") fn = [](double x, double y) { return x - std::floor(x / y) * y; };
    else if (op == "Maximum") fn = [](double x, double y) { return std::max(x, y); };
    else if (op == "Minimum") fn = [](double x, double y) { return std::min(x, y); };
    else if (op == "Pow") fn = [](double x, double y) { return std::pow(x, y); };
    else if (op == "SquaredDifference") fn = [](double x, double y) { return (x - y) * (x - y); };
    else if (op == "Less") fn = [](double x, double y) { return x < y; };
    else if (op == "LessEqual") fn = [](double x, double y) { return x <= y; };
    else if (op == "Greater") fn = [](double x, double y) { return x > y; };
    else if (op == "GreaterEqual") fn = [](double x, double y) { return x >= y; };
    else if (op == "Equal") fn = [](double x, double y) { return x == y; };
    else if (op == "NotEqual") fn = [](double x, double y) { return x != y; };
    else if (op == "LogicalAnd") fn = [](double x, double y) { return x != 0 && y != 0; };
    else fn = [](double x, double y) { return x != 0 || y != 0; };
    if ((op == "Div" || op == "FloorDiv" || op == "FloorMod") && ints)
      for (double y : b.host->v)
        if (y == 0) NodeFail(n, "integer division by zero");
    SetHost(n, Broadcast2(*a.host, *b.host, ints || cmp, fn, file_ + ": node '" + n.name + "'"));
    return;
  }
  static const std::map<std::string, std::string> kMap = {
      {"BiasAdd", "Add"}, {"Add", "Add"}, {"AddV2", "Add"}, {"Sub", "Sub"}, {"Mul", "Mul"}, {"RealDiv", "Div"},
      {"Div", "Div"}, {"Maximum", "Max"}, {"Minimum", "Min"}, {"Pow", "Pow"}};
  if (a.is_int || b.is_int) NodeUnsupported(n, "integer arithmetic at run time");
  auto it = kMap.find(op);
  const Shape out = BroadcastShape(a.shape, b.shape);
  if (op == "SquaredDifference") {
    const int ta = Dyn(a, n.inputs[0].first), tb = Dyn(b, n.inputs[1].first);
    const Val d = Emit("Sub", {ta, tb}, {}, out, n.name + "/sub");
    EmitNode(n, "Square", {d.tensor}, {}, out);
    return;
  }
  if (it == kMap.end()) NodeUnsupported(n, "run-time " + op + " (no matching facelib op)");
  const int ta = Dyn(a, n.inputs[0].first), tb = Dyn(b, n.inputs[1].first);
  EmitNode(n, it->second, {ta, tb}, {}, out);
}

void TfjsConverter::ConvertReduce(const TfNode& n) {
  Val& x = In(n, 0);
  const auto axes_in = HostInts(n, 1, "reduction_indices");
  const bool keep = AttrBool(n, "keep_dims", false);
  auto fail = [&](const std::string& m) { NodeFail(n, m); };
  std::vector<int64_t> axes;
  for (int64_t a : axes_in) axes.push_back(NormAxis(a, x.shape.size(), fail));
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  Shape out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    const bool red = std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d));
    if (!red) out.push_back(x.shape[d]);
    else if (keep) out.push_back(1);
  }
  if (x.host) {
    const HostTensor& t = *x.host;
    if (t.symbolic) NodeUnsupported(n, "reduction over an unknown dimension");
    HostTensor r;
    r.is_int = t.is_int;
    r.shape = out;
    const int64_t count = Product(out);
    std::vector<double> acc(static_cast<size_t>(count), n.op == "Prod" ? 1.0 : n.op == "Max" ? -kInf : n.op == "Min" ? kInf : 0.0);
    const auto ist = Strides(t.shape);
    std::vector<int64_t> counts(static_cast<size_t>(count), 0);
    for (int64_t i = 0; i < t.size(); ++i) {
      int64_t o = 0, rem = i;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        const int64_t c = rem / ist[d];
        rem %= ist[d];
        if (!std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d))) o = o * t.shape[d] + c;
      }
      double& s = acc[o];
      const double v = t.v[i];
      if (n.op == "Max") s = std::max(s, v);
      else if (n.op == "Min") s = std::min(s, v);
      else if (n.op == "Prod") s *= v;
      else s += v;
      ++counts[o];
    }
    for (int64_t o = 0; o < count; ++o) {
      double v = acc[o];
      if (n.op == "Mean") v = counts[o] ? v / static_cast<double>(counts[o]) : 0;
      acc[o] = t.is_int ? std::trunc(v) : RoundF(v);
    }
    r.v = std::move(acc);
    SetHost(n, std::move(r));
    return;
  }
  if (n.op == "Prod") NodeUnsupported(n, "run-time Prod (no matching facelib op)");
  const int tx = Dyn(x, n.inputs[0].first);
  // Spatial mean/max of NHWC maps onto the dedicated global pooling kernels.
  if (x.shape.size() == 4 && axes == std::vector<int64_t>{1, 2} && (n.op == "Mean" || n.op == "Max")) {
    EmitNode(n, n.op == "Mean" ? "GlobalAvgPool" : "GlobalMaxPool", {tx}, {{"keepdims", int64_t{keep ? 1 : 0}}}, out);
    return;
  }
  const std::string our = n.op == "Mean" ? "ReduceMean" : n.op == "Sum" ? "ReduceSum" : n.op == "Max" ? "ReduceMax" : "ReduceMin";
  if (axes.empty()) {  // TF reduces nothing; ours would reduce everything
    Set(n, 0, x);
    return;
  }
  EmitNode(n, our, {tx}, {{"axes", axes}, {"keepdims", int64_t{keep ? 1 : 0}}}, out);
}

void TfjsConverter::ConvertPool(const TfNode& n) {
  Val& x = In(n, 0);
  const std::string fmt = AttrString(n, "data_format", "NHWC");
  if (fmt != "NHWC" && !fmt.empty()) NodeUnsupported(n, "data_format " + fmt);
  const auto k = AttrInts(n, "ksize"), s = AttrInts(n, "strides");
  if (k.size() != 4 || s.size() != 4) NodeFail(n, "ksize and strides must have 4 entries");
  if (k[0] != 1 || k[3] != 1 || s[0] != 1 || s[3] != 1) NodeUnsupported(n, "pooling over batch or channels");
  const std::string padding = AttrString(n, "padding", "VALID");
  if (padding != "SAME" && padding != "VALID") NodeUnsupported(n, "padding " + padding);
  if (x.shape.size() != 4) NodeFail(n, "input must be NHWC");
  Shape out = {x.shape[0], WindowOut(x.shape[1], k[1], s[1], 1, padding, 0), WindowOut(x.shape[2], k[2], s[2], 1, padding, 0),
               x.shape[3]};
  EmitNode(n, n.op, {Dyn(x, n.inputs[0].first)},
           {{"kernel", std::vector<int64_t>{k[1], k[2]}}, {"strides", std::vector<int64_t>{s[1], s[2]}}, {"padding", padding}},
           out);
}

// Folds the fused ops of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul:
// BiasAdd and FusedBatchNorm go into weights and bias, the activation into attributes.
void TfjsConverter::ApplyFusedOps(const TfNode& n, const std::vector<std::string>& fused, size_t first_arg,
                                  std::vector<float>* bias, std::vector<float>* weights, int64_t out_c,
                                  bool weights_last_is_out, std::string* act, std::map<std::string, Attr>* attrs,
                                  HostPtr* prelu) {
  size_t arg = first_arg;
  auto next_arg = [&](const char* what) -> const HostTensor& { return Host(n, arg++, what); };
  auto per_channel = [&](const HostTensor& t, const char* what) {
    if (t.size() != out_c && t.size() != 1)
      NodeFail(n, std::string(what) + " has " + std::to_string(t.size()) + " values for " + std::to_string(out_c) + " channels");
    std::vector<double> v(static_cast<size_t>(out_c));
    for (int64_t c = 0; c < out_c; ++c) v[c] = t.v[t.size() == 1 ? 0 : c];
    return v;
  };
  for (size_t i = 0; i < fused.size(); ++i) {
    const std::string& f = fused[i];
    if (f == "BiasAdd" || f == "Add") {
      const auto b = per_channel(next_arg("bias"), "bias");
      bias->resize(static_cast<size_t>(out_c), 0.0f);
      for (int64_t c = 0; c < out_c; ++c) (*bias)[c] = static_cast<float>((*bias)[c] + b[c]);
    } else if (f == "FusedBatchNorm" || f == "FusedBatchNormV3") {
      const auto scale = per_channel(next_arg("scale"), "scale");
      const auto offset = per_channel(next_arg("offset"), "offset");
      const auto mean = per_channel(next_arg("mean"), "mean");
      const auto var = per_channel(next_arg("variance"), "variance");
      const double eps = AttrFloat(n, "epsilon", 1e-3);
      bias->resize(static_cast<size_t>(out_c), 0.0f);
      const size_t per = weights->size() / static_cast<size_t>(out_c);
      for (int64_t c = 0; c < out_c; ++c) {
        const double m = scale[c] / std::sqrt(var[c] + eps);
        for (size_t j = 0; j < per; ++j) {
          float& w = weights_last_is_out ? (*weights)[j * out_c + c] : (*weights)[c * per + j];
          w = static_cast<float>(w * m);
        }
        (*bias)[c] = static_cast<float>(((*bias)[c] - mean[c]) * m + offset[c]);
      }
    } else if (f == "Relu") {
      *act = "relu";
    } else if (f == "Relu6") {
      *act = "relu6";
    } else if (f == "Elu") {
      *act = "elu";
      (*attrs)["activation_alpha"] = 1.0f;
    } else if (f == "LeakyRelu") {
      *act = "leaky_relu";
      (*attrs)["activation_alpha"] = static_cast<float>(AttrFloat(n, "leakyrelu_alpha", 0.2));
    } else if (f == "Sigmoid") {
      *act = "sigmoid";
    } else if (f == "Tanh") {
      *act = "tanh";
    } else if (f == "Prelu") {
      const HostTensor& alpha = next_arg("prelu alpha");
      *prelu = std::make_shared<const HostTensor>(alpha);
    } else {
      NodeUnsupported(n, "fused op '" + f + "'");
    }
    if (!act->empty() && i + 1 != fused.size()) NodeUnsupported(n, "fused activation before " + fused[i + 1]);
  }
}

void TfjsConverter::ConvertConv(const TfNode& n, bool depthwise) {
  Val& x = In(n, 0);
  const HostTensor& f = Host(n, 1, "filter");
  const std::string fmt = AttrString(n, "data_format", "NHWC");
  if (fmt != "NHWC" && !fmt.empty()) NodeUnsupported(n, "data_format " + fmt);
  if (f.shape.size() != 4) NodeFail(n, "filter must be rank 4, got " + rt::ShapeToString(f.shape));
  if (x.shape.size() != 4) NodeFail(n, "input must be NHWC, got " + rt::ShapeToString(x.shape));
  const int64_t kh = f.shape[0], kw = f.shape[1], ci = f.shape[2], m = f.shape[3];
  if (x.shape[3] >= 0 && (depthwise ? x.shape[3] != ci : x.shape[3] % ci != 0))
    NodeFail(n, "input channels " + std::to_string(x.shape[3]) + " do not fit the filter " + rt::ShapeToString(f.shape));
  const int64_t groups = depthwise ? ci : (x.shape[3] > 0 ? x.shape[3] / ci : 1);
  const int64_t out_c = depthwise ? ci * m : m;
  if (!depthwise && groups != 1 && m % groups != 0) NodeFail(n, "grouped convolution with indivisible outputs");
  // TF filters are [KH, KW, C_in/groups, O] (depthwise: [KH, KW, C, M]); ours are OHWI [O, KH, KW, C/groups].
  std::vector<float> w(static_cast<size_t>(f.size()));
  const int64_t cin_w = depthwise ? 1 : ci;
  for (int64_t y = 0; y < kh; ++y)
    for (int64_t xx = 0; xx < kw; ++xx)
      for (int64_t c = 0; c < ci; ++c)
        for (int64_t j = 0; j < m; ++j) {
          const double v = f.v[((y * kw + xx) * ci + c) * m + j];
          const int64_t o = depthwise ? c * m + j : j;
          const int64_t ic = depthwise ? 0 : c;
          w[((o * kh + y) * kw + xx) * cin_w + ic] = static_cast<float>(v);
        }
  const auto strides = AttrInts(n, "strides");
  std::vector<int64_t> dil = AttrInts(n, "dilations");
  if (dil.empty()) dil = {1, 1, 1, 1};
  if (strides.size() != 4 || dil.size() != 4) NodeFail(n, "strides and dilations must have 4 entries");
  if (strides[0] != 1 || strides[3] != 1) NodeUnsupported(n, "strides over batch or channels");
  const std::string padding = AttrString(n, "padding", "VALID");
  std::map<std::string, Attr> attrs = {{"strides", std::vector<int64_t>{strides[1], strides[2]}},
                                       {"dilations", std::vector<int64_t>{dil[1], dil[2]}},
                                       {"groups", groups}};
  int64_t pad_h = 0, pad_w = 0;
  if (padding == "EXPLICIT") {
    const auto ep = AttrInts(n, "explicit_paddings");
    if (ep.size() != 8) NodeFail(n, "explicit_paddings must have 8 entries");
    attrs["padding"] = "EXPLICIT";
    attrs["pads"] = std::vector<int64_t>{ep[2], ep[4], ep[3], ep[5]};
    pad_h = ep[2] + ep[3];
    pad_w = ep[4] + ep[5];
  } else if (padding == "SAME" || padding == "VALID") {
    attrs["padding"] = padding;
  } else {
    NodeUnsupported(n, "padding " + padding);
  }
  std::vector<float> bias;
  std::string act;
  HostPtr prelu;
  const bool fused = n.op == "_FusedConv2D" || n.op == "FusedDepthwiseConv2dNative";
  bool bn_folded = false;
  if (fused) {
    const auto ops = AttrStrings(n, "fused_ops");
    for (const auto& o : ops) bn_folded = bn_folded || o.rfind("FusedBatchNorm", 0) == 0;
    ApplyFusedOps(n, ops, 2, &bias, &w, out_c, false, &act, &attrs, &prelu);
  }
  if (!act.empty()) attrs["activation"] = act;
  const Shape out = {x.shape[0], WindowOut(x.shape[1], kh, strides[1], dil[1], padding, pad_h),
                     WindowOut(x.shape[2], kw, strides[2], dil[2], padding, pad_w), out_c};
  HostTensor wt;
  wt.shape = {out_c, kh, kw, cin_w};
  wt.v.assign(w.begin(), w.end());
  wt.fp16_exact = f.fp16_exact && !bn_folded;
  std::vector<int> ins = {Dyn(x, n.inputs[0].first), AddConst(n.name + "/weights", std::move(wt))};
  if (!bias.empty()) {
    HostTensor bt;
    bt.shape = {out_c};
    bt.v.assign(bias.begin(), bias.end());
    ins.push_back(AddConst(n.name + "/bias", std::move(bt)));
  }
  if (!prelu) {
    EmitNode(n, "Conv2D", ins, std::move(attrs), out);
    return;
  }
  const Val c = Emit("Conv2D", ins, std::move(attrs), out, n.name + "/conv");
  const int slope = AddConst(n.name + "/alpha", *prelu);
  EmitNode(n, "PRelu", {c.tensor, slope}, {}, out);
}

void TfjsConverter::ConvertMatMul(const TfNode& n) {
  Val& a = In(n, 0);
  Val& b = In(n, 1);
  const bool batch = n.op == "BatchMatMul" || n.op == "BatchMatMulV2";
  const bool ta = AttrBool(n, batch ? "adj_x" : "transpose_a", false);
  const bool tb = AttrBool(n, batch ? "adj_y" : "transpose_b", false);
  if (a.shape.size() < 2 || b.shape.size() < 2) NodeFail(n, "operands must have rank >= 2");
  auto transpose_last2 = [&](Val& v, const std::string& name) {
    std::vector<int64_t> perm(v.shape.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
    if (v.host) {
      Val r;
      r.host = std::make_shared<const HostTensor>(HostTranspose(*v.host, perm));
      r.shape = r.host->shape;
      return r;
    }
    Shape s = v.shape;
    std::swap(s[s.size() - 1], s[s.size() - 2]);
    return Emit("Transpose", {Dyn(v, name)}, {{"perm", perm}}, s, n.name + "/transpose_" + name.substr(name.rfind('/') + 1));
  };
  Val av = ta ? transpose_last2(a, n.inputs[0].first) : a;
  Val bv = tb ? transpose_last2(b, n.inputs[1].first) : b;
  Shape out = av.shape;
  out.back() = bv.shape.back();
  if (av.shape.back() >= 0 && bv.shape[bv.shape.size() - 2] >= 0 && av.shape.back() != bv.shape[bv.shape.size() - 2])
    NodeFail(n, "inner dimensions differ: " + rt::ShapeToString(av.shape) + " x " + rt::ShapeToString(bv.shape));
  std::string act;
  std::map<std::string, Attr> attrs;
  std::vector<float> bias;
  HostPtr prelu;
  const int64_t out_c = bv.shape.back();
  std::vector<float> w;
  const bool dense = bv.host && bv.shape.size() == 2;
  if (dense) w.assign(bv.host->v.begin(), bv.host->v.end());
  if (n.op == "_FusedMatMul") {
    if (!dense) NodeUnsupported(n, "fused MatMul with a run-time weight matrix");
    ApplyFusedOps(n, AttrStrings(n, "fused_ops"), 2, &bias, &w, out_c, true, &act, &attrs, &prelu);
  }
  if (!act.empty()) attrs["activation"] = act;
  std::vector<int> ins = {Dyn(av, n.inputs[0].first)};
  std::string our = "MatMul";
  if (dense) {
    our = "Dense";
    HostTensor wt;
    wt.shape = bv.shape;
    wt.v.assign(w.begin(), w.end());
    wt.fp16_exact = bv.host->fp16_exact;
    ins.push_back(AddConst(n.name + "/weights", std::move(wt)));
    if (!bias.empty()) {
      HostTensor bt;
      bt.shape = {out_c};
      bt.v.assign(bias.begin(), bias.end());
      ins.push_back(AddConst(n.name + "/bias", std::move(bt)));
    }
  } else {
    ins.push_back(Dyn(bv, n.inputs[1].first));
  }
  if (!prelu) {
    EmitNode(n, our, ins, std::move(attrs), out);
    return;
  }
  const Val c = Emit(our, ins, std::move(attrs), out, n.name + "/matmul");
  const int slope = AddConst(n.name + "/alpha", *prelu);
  EmitNode(n, "PRelu", {c.tensor, slope}, {}, out);
}

// ---------------------------------------------------------------------------
// Simplification passes over our graph. Each keeps every graph output tensor.

struct Uses {
  std::vector<int> producer, count;
  Uses(const rt::Graph& g) : producer(g.tensors.size(), -1), count(g.tensors.size(), 0) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (int t : g.nodes[i].outputs) producer[t] = static_cast<int>(i);
      for (int t : g.nodes[i].inputs)
        if (t >= 0) ++count[t];
    }
    for (int t : g.outputs) count[t] += 1000;  // an output is never folded away
  }
};

bool IsConstScalarLike(const rt::Graph& g, int t, size_t max_elems, Shape* shape = nullptr) {
  if (t < 0 || !g.tensors[t].constant || g.tensors[t].constant->is_int) return false;
  const Shape& s = g.tensors[t].shape;
  if (shape) *shape = s;
  return rt::NumElements(s) <= static_cast<int64_t>(max_elems);
}

const float* ConstData(const rt::Graph& g, int t) { return g.tensors[t].constant->f32; }

bool NoActivation(const rt::NodeDef& n) { return n.GetString("activation", "none") == "none"; }

// A constant of shape [C], [1, C], [1, 1, C], ... (or a single value) that acts per channel of the last dim.
bool PerChannel(const rt::Graph& g, int t, int64_t channels, size_t out_rank) {
  if (t < 0 || !g.tensors[t].constant || g.tensors[t].constant->is_int) return false;
  const Shape& s = g.tensors[t].shape;
  if (s.size() > out_rank) return false;
  const int64_t n = rt::NumElements(s);
  if (n == 1) return true;
  if (s.empty() || s.back() != channels) return false;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] != 1) return false;
  return true;
}

void TfjsConverter::FoldPReluPattern() {
  Uses u(g_);
  std::vector<char> dead(g_.nodes.size(), 0);
  auto prod = [&](int t) -> rt::NodeDef* { return t >= 0 && u.producer[t] >= 0 && !dead[u.producer[t]] ? &g_.nodes[u.producer[t]] : nullptr; };
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    rt::NodeDef& add = g_.nodes[i];
    if (dead[i] || add.op != "Add" || add.inputs.size() != 2 || !NoActivation(add)) continue;
    for (int side = 0; side < 2; ++side) {
      const int lhs = add.inputs[side], rhs = add.inputs[1 - side];
      rt::NodeDef* mul = prod(rhs);
      if (!mul || mul->op != "Mul" || u.count[rhs] != 1 || !NoActivation(*mul)) continue;
      int sub_t = -1, c_t = -1;
      for (int k = 0; k < 2; ++k)
        if (prod(mul->inputs[k]) && prod(mul->inputs[k])->op == "Sub") sub_t = mul->inputs[k], c_t = mul->inputs[1 - k];
      if (sub_t < 0 || u.count[sub_t] != 1 || !g_.tensors[c_t].constant || g_.tensors[c_t].constant->is_int) continue;
      rt::NodeDef* sub = prod(sub_t);
      const int x = sub->inputs[0];
      rt::NodeDef* abs = prod(sub->inputs[1]);
      if (!abs || abs->op != "Abs" || abs->inputs[0] != x || u.count[sub->inputs[1]] != 1 || !NoActivation(*sub)) continue;
      const Shape& xs = shapes_[x];
      if (xs.empty() || xs.back() < 1 || !PerChannel(g_, c_t, xs.back(), xs.size())) continue;
      // lhs is either x itself or Relu(x).
      rt::NodeDef* relu = prod(lhs);
      const bool lhs_is_relu = relu && relu->op == "Relu" && relu->inputs[0] == x && u.count[lhs] == 1;
      if (lhs != x && !lhs_is_relu) continue;
      const int64_t nc = rt::NumElements(g_.tensors[c_t].shape);
      std::vector<float> slope(static_cast<size_t>(nc));
      const float* c = ConstData(g_, c_t);
      // relu(x) + c*(x - |x|) = x > 0 ? x : 2c*x;  x + c*(x - |x|) = x > 0 ? x : (1 + 2c)*x.
      for (int64_t k = 0; k < nc; ++k) slope[k] = lhs_is_relu ? 2.0f * c[k] : 1.0f + 2.0f * c[k];
      const int st = AddConst(add.name + "/slope", HostTensor{false, false, false, {nc}, std::vector<double>(slope.begin(), slope.end())});
      rt::NodeDef& a2 = g_.nodes[i];  // AddConst may not reallocate nodes, but stay safe
      a2.op = "PRelu";
      a2.inputs = {x, st};
      a2.attrs.clear();
      dead[u.producer[rhs]] = 1;
      dead[u.producer[sub_t]] = 1;
      dead[u.producer[abs->outputs[0]]] = 1;
      if (lhs_is_relu) dead[u.producer[lhs]] = 1;
      u = Uses(g_);
      break;
    }
  }
  std::vector<rt::NodeDef> kept;
  for (size_t i = 0; i < g_.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g_.nodes[i]));
  g_.nodes = std::move(kept);
}

void TfjsConverter::FoldClipChains() {
  const float inf = std::numeric_limits<float>::infinity();
  // Max/Min against a scalar constant -> Clip; Relu/Relu6 -> Clip ranges for merging.
  for (rt::NodeDef& n : g_.nodes) {
    if ((n.op != "Max" && n.op != "Min") || n.inputs.size() != 2 || !NoActivation(n)) continue;
    for (int side = 0; side < 2; ++side) {
      const int c = n.inputs[side], x = n.inputs[1 - side];
      Shape cs;
      if (g_.tensors[x].constant || !IsConstScalarLike(g_, c, 1, &cs) || cs.size() > shapes_[x].size()) continue;
      const float v = ConstData(g_, c)[0];
      n.attrs = {{"min", n.op == "Max" ? v : -inf}, {"max", n.op == "Min" ? v : inf}};
      n.op = "Clip";
      n.inputs = {x};
      break;
    }
  }
  auto range = [&](const rt::NodeDef& n, float* lo, float* hi) {
    if (n.op == "Relu") *lo = 0, *hi = inf;
    else if (n.op == "Relu6") *lo = 0, *hi = 6;
    else if (n.op == "Clip") *lo = n.GetFloat("min", -inf), *hi = n.GetFloat("max", inf);
    else return false;
    return true;
  };
  bool changed = true;
  while (changed) {
    changed = false;
    Uses u(g_);
    for (size_t i = 0; i < g_.nodes.size() && !changed; ++i) {
      rt::NodeDef& outer = g_.nodes[i];
      float lo2, hi2, lo1, hi1;
      if (!range(outer, &lo2, &hi2) || outer.inputs.size() != 1) continue;
      const int t = outer.inputs[0];
      const int pi = u.producer[t];
      if (pi < 0 || u.count[t] != 1 || !range(g_.nodes[pi], &lo1, &hi1)) continue;
      const float lo = std::max(lo1, lo2), hi = std::min(hi1, hi2);
      if (!(lo <= hi)) continue;
      rt::NodeDef& inner = g_.nodes[pi];
      inner.op = "Clip";
      inner.attrs = {{"min", lo}, {"max", hi}};
      inner.outputs = outer.outputs;
      g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      changed = true;
    }
  }
  for (rt::NodeDef& n : g_.nodes) {
    if (n.op != "Clip") continue;
    const float lo = n.GetFloat("min", -inf), hi = n.GetFloat("max", inf);
    if (lo == 0 && hi == inf) n.op = "Relu", n.attrs.clear();
    else if (lo == 0 && hi == 6) n.op = "Relu6", n.attrs.clear();
  }
}

void TfjsConverter::FoldAffineIntoConv() {
  bool changed = true;
  while (changed) {
    changed = false;
    Uses u(g_);
    for (size_t i = 0; i < g_.nodes.size() && !changed; ++i) {
      rt::NodeDef& q = g_.nodes[i];
      if ((q.op != "Mul" && q.op != "Add" && q.op != "Sub") || q.inputs.size() != 2 || !NoActivation(q)) continue;
      for (int side = 0; side < 2 && !changed; ++side) {
        const int x = q.inputs[side], c = q.inputs[1 - side];
        if (q.op == "Sub" && side == 1) continue;  // c - conv is not a bias
        const int pi = u.producer[x];
        if (pi < 0 || u.count[x] != 1) continue;
        rt::NodeDef& p = g_.nodes[pi];
        if ((p.op != "Conv2D" && p.op != "Dense") || !NoActivation(p) || p.inputs.size() < 2) continue;
        const int wt = p.inputs[1];
        const Shape ws = g_.tensors[wt].shape;
        const bool conv = p.op == "Conv2D";
        const int64_t out_c = conv ? ws[0] : ws[1];
        if (!PerChannel(g_, c, out_c, shapes_[q.outputs[0]].size())) continue;
        if (BroadcastShape(shapes_[x], g_.tensors[c].shape) != shapes_[x]) continue;
        const int64_t nc = rt::NumElements(g_.tensors[c].shape);
        const float* cv = ConstData(g_, c);
        auto cval = [&](int64_t o) { return cv[nc == 1 ? 0 : o]; };
        std::vector<double> bias(static_cast<size_t>(out_c), 0.0);
        const bool had_bias = p.inputs.size() > 2 && p.inputs[2] >= 0;
        if (had_bias) {
          const float* b = ConstData(g_, p.inputs[2]);
          for (int64_t o = 0; o < out_c; ++o) bias[o] = b[o];
        }
        if (q.op == "Mul") {
          const int64_t total = rt::NumElements(ws);
          const float* w = ConstData(g_, wt);
          HostTensor nw;
          nw.shape = ws;
          nw.v.resize(static_cast<size_t>(total));
          const int64_t per = total / out_c;
          for (int64_t k = 0; k < total; ++k) {
            const int64_t o = conv ? k / per : k % out_c;
            nw.v[k] = RoundF(static_cast<double>(w[k]) * cval(o));
          }
          for (int64_t o = 0; o < out_c; ++o) bias[o] = RoundF(bias[o] * cval(o));
          p.inputs[1] = AddConst(p.name + "/weights_scaled", std::move(nw));
        } else {
          const double sign = q.op == "Sub" ? -1.0 : 1.0;
          for (int64_t o = 0; o < out_c; ++o) bias[o] = RoundF(bias[o] + sign * cval(o));
        }
        // Scaling a convolution without bias leaves it without bias.
        if (had_bias || q.op != "Mul") {
          HostTensor bt;
          bt.shape = {out_c};
          bt.v = bias;
          const int b = AddConst(p.name + "/bias_folded", std::move(bt));
          rt::NodeDef& p2 = g_.nodes[pi];
          if (p2.inputs.size() < 3) p2.inputs.resize(3, -1);
          p2.inputs[2] = b;
        }
        rt::NodeDef& p3 = g_.nodes[pi];
        p3.outputs = g_.nodes[i].outputs;
        g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        changed = true;
      }
    }
  }
}

// Drops nodes whose results nobody uses and tensors nobody references, renumbering the rest.
void TfjsConverter::Compact() {
  for (bool changed = true; changed;) {
    changed = false;
    Uses u(g_);
    for (size_t i = g_.nodes.size(); i-- > 0;) {
      bool used = false;
      for (int t : g_.nodes[i].outputs) used = used || u.count[t] > 0;
      if (!used) {
        g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        changed = true;
      }
    }
  }
  std::vector<char> keep(g_.tensors.size(), 0);
  for (int t : g_.inputs) keep[t] = 1;
  for (int t : g_.outputs) keep[t] = 1;
  for (const auto& n : g_.nodes) {
    for (int t : n.inputs)
      if (t >= 0) keep[t] = 1;
    for (int t : n.outputs) keep[t] = 1;
  }
  std::vector<int> remap(g_.tensors.size(), -1);
  std::vector<rt::TensorDef> tensors;
  std::vector<Shape> shapes;
  for (size_t t = 0; t < g_.tensors.size(); ++t)
    if (keep[t]) {
      remap[t] = static_cast<int>(tensors.size());
      tensors.push_back(std::move(g_.tensors[t]));
      shapes.push_back(shapes_[t]);
    }
  g_.tensors = std::move(tensors);
  shapes_ = std::move(shapes);
  auto re = [&](std::vector<int>& v) {
    for (int& t : v)
      if (t >= 0) t = remap[t];
  };
  re(g_.inputs);
  re(g_.outputs);
  for (auto& n : g_.nodes) {
    re(n.inputs);
    re(n.outputs);
  }
}

void TfjsConverter::Simplify() {
  FoldPReluPattern();
  FoldClipChains();
  FoldAffineIntoConv();
  Compact();
}

// ---------------------------------------------------------------------------

rt::Graph TfjsConverter::Convert() {
  ReadModelJson();
  ReadNodes();
  ReadWeights();

  // Outputs -> (node, index), and the ancestors that compute them.
  std::vector<std::pair<std::string, int>> outs;
  std::vector<std::string> out_names;
  for (std::string name : OutputNames()) {
    int k = 0;
    const size_t colon = name.rfind(':');
    if (colon != std::string::npos && colon + 1 < name.size() &&
        name.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
      k = std::stoi(name.substr(colon + 1));
      name.resize(colon);
    }
    if (!node_index_.count(name)) Malformed(file_, "output '" + name + "' is not a node of the graph");
    outs.emplace_back(name, k);
    out_names.push_back(k == 0 ? name : name + ":" + std::to_string(k));
  }
  if (outs.empty()) Malformed(file_, "the graph has no outputs");

  std::vector<size_t> order;
  std::vector<uint8_t> state(nodes_.size(), 0);  // 0 new, 1 on stack, 2 done
  std::string cycle_at;  // a node on a cycle (TF while loops), reported after the op census
  for (const auto& [name, k] : outs) {
    std::vector<std::pair<size_t, size_t>> stack = {{node_index_.at(name), 0}};
    while (!stack.empty()) {
      auto& [ni, next] = stack.back();
      if (next == 0 && state[ni] == 2) {
        stack.pop_back();
        continue;
      }
      state[ni] = 1;
      const TfNode& n = nodes_[ni];
      if (next < n.inputs.size()) {
        const std::string& src = n.inputs[next++].first;
        auto it = node_index_.find(src);
        if (it == node_index_.end()) Malformed(file_, "node '" + n.name + "' reads '" + src + "', which does not exist");
        if (state[it->second] == 1 && cycle_at.empty()) cycle_at = n.name;
        if (state[it->second] == 0) stack.emplace_back(it->second, 0);
        continue;
      }
      state[ni] = 2;
      order.push_back(ni);
      stack.pop_back();
    }
  }

  // Name every op we cannot map before converting anything.
  std::map<std::string, std::vector<std::string>> missing;
  for (size_t ni : order)
    if (!SupportedOps().count(nodes_[ni].op)) missing[nodes_[ni].op].push_back(nodes_[ni].name);
  if (!missing.empty()) {
    std::vector<std::string> parts;
    for (const auto& [op, names] : missing)
      parts.push_back(op + " (" + std::to_string(names.size()) + (names.size() == 1 ? " node" : " nodes") + ", e.g. '" +
                      names[0] + "')");
    Unsupported(file_, "unsupported TF ops: " + Join(parts, ", "));
  }
  if (!cycle_at.empty()) Unsupported(file_, "node '" + cycle_at + "' is part of a cycle (TF control-flow loop)");

  for (size_t ni : order) ConvertNode(nodes_[ni]);

  for (size_t i = 0; i < outs.size(); ++i) {
    auto it = vals_.find(outs[i].first + ":" + std::to_string(outs[i].second));
    if (it == vals_.end()) Malformed(file_, "output '" + out_names[i] + "' is not produced");
    Val& v = it->second;
    int t = Dyn(v, out_names[i]);
    if (g_.tensors[t].name != out_names[i] || g_.tensors[t].constant ||
        std::find(g_.inputs.begin(), g_.inputs.end(), t) != g_.inputs.end() ||
        std::find(g_.outputs.begin(), g_.outputs.end(), t) != g_.outputs.end())
      t = Emit("Identity", {t}, {}, v.shape, out_names[i]).tensor;
    g_.MarkOutput(t);
  }
  if (g_.inputs.empty()) Unsupported(file_, "the outputs do not depend on any input");

  Simplify();
  g_.producer = "tfjs";
  if (const JsonValue* gb = doc_.Find("generatedBy"); gb && gb->IsString()) g_.metadata["tfjs_generated_by"] = gb->AsString();
  if (const JsonValue* cb = doc_.Find("convertedBy"); cb && cb->IsString()) g_.metadata["tfjs_converted_by"] = cb->AsString();
  g_.Validate();
  return std::move(g_);
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

rt::Graph ConvertTfjs(const ConvertRequest& req) {
  const std::string& json = req.Input(0, "MODEL.json");
  TfjsConverter conv(json, SplitList(req.Option("outputs")));
  rt::Graph g = conv.Convert();
  std::vector<std::string> sources = {json};
  for (const auto& p : conv.shard_paths()) sources.push_back(p);
  AddProvenance(&g, "tfjs", sources);
  return g;
}

}  // namespace

FACELIB_REGISTER_CONVERTER({"tfjs", "MODEL.json [--outputs NAME,...]  (tfjs graph model; shards next to it)", ConvertTfjs});

}  // namespace facelib::convert
