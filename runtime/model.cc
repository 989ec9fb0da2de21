#include "runtime/model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "runtime/model_file.h"

namespace facelib::rt {

// ---------------------------------------------------------------------------
// Load-time passes

namespace {

std::vector<int> UseCounts(const Graph& g) {
  std::vector<int> uses(g.tensors.size(), 0);
  for (const NodeDef& n : g.nodes)
    for (int t : n.inputs)
      if (t >= 0) ++uses[t];
  for (int t : g.outputs) ++uses[t];
  return uses;
}

std::vector<int> Producers(const Graph& g) {
  std::vector<int> p(g.tensors.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int t : g.nodes[i].outputs) p[t] = static_cast<int>(i);
  return p;
}

void EraseNodes(Graph* g, const std::vector<char>& dead) {
  std::vector<NodeDef> kept;
  kept.reserve(g->nodes.size());
  for (size_t i = 0; i < g->nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g->nodes[i]));
  g->nodes = std::move(kept);
}

bool HasNoActivation(const NodeDef& n) { return n.GetString("activation", "none") == "none"; }

// Mul(x, Sigmoid(x)) (either order) -> Silu(x), when the sigmoid feeds only the
// Mul and neither carries a fused activation, so that the activation pass can
// fuse the SiLU into x's producer (exporters spell SiLU out this way).
void MulSigmoidToSilu(Graph* g) {
  const std::vector<int> uses = UseCounts(*g);
  const std::vector<int> producer = Producers(*g);
  std::vector<char> dead(g->nodes.size(), 0);
  for (NodeDef& mul : g->nodes) {
    if (mul.op != "Mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1 || !HasNoActivation(mul)) continue;
    for (int side = 0; side < 2; ++side) {
      const int s = mul.inputs[side], x = mul.inputs[1 - side];
      if (s < 0 || x < 0 || uses[s] != 1 || producer[s] < 0 || dead[producer[s]]) continue;
      const NodeDef& sig = g->nodes[producer[s]];
      if (sig.op != "Sigmoid" || sig.inputs.size() != 1 || sig.inputs[0] != x || !HasNoActivation(sig)) continue;
      dead[producer[s]] = 1;
      mul.op = "Silu";
      mul.inputs = {x};
      mul.attrs.clear();
      break;
    }
  }
  EraseNodes(g, dead);
}

}  // namespace

void FoldBatchNorm(Graph* g) {
  const std::vector<int> uses = UseCounts(*g);
  const std::vector<int> producer = Producers(*g);
  std::vector<char> dead(g->nodes.size(), 0);
  for (size_t bi = 0; bi < g->nodes.size(); ++bi) {
    NodeDef& bn = g->nodes[bi];
    if (bn.op != "BatchNorm" || bn.inputs.size() != 5 || bn.inputs[0] < 0) continue;
    const int x = bn.inputs[0];
    const int pi = producer[x];
    if (pi < 0 || dead[pi] || uses[x] != 1) continue;
    NodeDef& conv = g->nodes[pi];
    const bool is_conv = conv.op == "Conv2D", is_dense = conv.op == "Dense";
    if (!(is_conv || is_dense) || !HasNoActivation(conv) || conv.outputs.size() != 1) continue;
    if (conv.inputs.size() < 2 || conv.inputs[1] < 0 || !g->tensors[conv.inputs[1]].is_constant()) continue;
    const TensorDef& wt = g->tensors[conv.inputs[1]];
    if (wt.constant->is_int || wt.shape.empty()) continue;
    const int64_t channels = is_conv ? wt.shape[0] : wt.shape.back();
    // All BatchNorm parameters must be float constants with one value per channel.
    const float* p[4] = {nullptr, nullptr, nullptr, nullptr};
    bool ok = true;
    for (int k = 0; k < 4; ++k) {
      const int t = bn.inputs[k + 1];
      if (t < 0) {
        if (k >= 2) ok = false;  // mean and variance are required
        continue;
      }
      const TensorDef& td = g->tensors[t];
      if (!td.is_constant() || td.constant->is_int || NumElements(td.shape) != channels) ok = false;
      else p[k] = td.constant->f32;
    }
    if (!ok) continue;
    const float eps = bn.GetFloat("epsilon", 1e-5f);
    std::vector<float> scale(channels), shift(channels);
    for (int64_t c = 0; c < channels; ++c) {
      const float gamma = p[0] ? p[0][c] : 1.0f, beta = p[1] ? p[1][c] : 0.0f;
      scale[c] = gamma / std::sqrt(p[3][c] + eps);
      shift[c] = beta - p[2][c] * scale[c];
    }
    const int64_t numel = NumElements(wt.shape);
    std::vector<float> w(wt.constant->f32, wt.constant->f32 + numel);
    if (is_conv) {
      const int64_t per = numel / channels;
      for (int64_t o = 0; o < channels; ++o)
        for (int64_t i = 0; i < per; ++i) w[o * per + i] *= scale[o];
    } else {
      for (int64_t i = 0; i < numel; ++i) w[i] *= scale[i % channels];
    }
    std::vector<float> b(channels, 0.0f);
    if (conv.inputs.size() > 2 && conv.inputs[2] >= 0) {
      const TensorDef& bt = g->tensors[conv.inputs[2]];
      if (!bt.is_constant() || bt.constant->is_int || NumElements(bt.shape) != channels) continue;
      std::copy(bt.constant->f32, bt.constant->f32 + channels, b.begin());
    }
    for (int64_t c = 0; c < channels; ++c) b[c] = b[c] * scale[c] + shift[c];
    const Storage storage = wt.constant->storage;
    const Shape wshape = wt.shape;
    const std::string base = conv.name;
    const int wi = g->AddConstant(base + "/folded_weights", wshape, Constant::FromFloats(std::move(w), storage));
    const int bidx = g->AddConstant(base + "/folded_bias", {channels}, Constant::FromFloats(std::move(b)));
    NodeDef& conv2 = g->nodes[pi];  // AddConstant does not touch nodes, but keep the reference fresh
    conv2.inputs.resize(std::max<size_t>(conv2.inputs.size(), 3), -1);
    conv2.inputs[1] = wi;
    conv2.inputs[2] = bidx;
    conv2.outputs[0] = g->nodes[bi].outputs[0];
    // The BatchNorm's own fused activation (if any) now follows the folded conv.
    SetActivationAttrs(&conv2, ParseActivation(g->nodes[bi]));
    dead[bi] = 1;
  }
  EraseNodes(g, dead);
}

void FuseActivations(Graph* g) {
  static const std::map<std::string, ops::ActType> kActOps = {
      {"Relu", ops::ActType::kRelu},       {"Relu6", ops::ActType::kRelu6},   {"LeakyRelu", ops::ActType::kLeakyRelu},
      {"Elu", ops::ActType::kElu},         {"Sigmoid", ops::ActType::kSigmoid}, {"Tanh", ops::ActType::kTanh},
      {"HardSwish", ops::ActType::kHardSwish}, {"Silu", ops::ActType::kSilu}, {"Softplus", ops::ActType::kSoftplus},
      {"Clip", ops::ActType::kClip}};
  static const std::set<std::string> kFusable = {"Conv2D", "Dense", "LocallyConnected2D", "Add", "Sub", "Mul",
                                                 "Div", "Max", "Min", "MaxPool", "AvgPool", "BatchNorm",
                                                 "ChannelAffine"};
  MulSigmoidToSilu(g);
  const std::vector<int> uses = UseCounts(*g);
  const std::vector<int> producer = Producers(*g);
  std::vector<char> dead(g->nodes.size(), 0);
  for (size_t ai = 0; ai < g->nodes.size(); ++ai) {
    const NodeDef& act = g->nodes[ai];
    auto it = kActOps.find(act.op);
    if (it == kActOps.end() || act.inputs.size() != 1 || act.inputs[0] < 0 || act.outputs.size() != 1) continue;
    const int x = act.inputs[0];
    const int pi = producer[x];
    if (pi < 0 || dead[pi] || uses[x] != 1) continue;
    NodeDef& prod = g->nodes[pi];
    if (!kFusable.count(prod.op) || prod.outputs.size() != 1 || !HasNoActivation(prod)) continue;
    ops::Activation a;
    a.type = it->second;
    a.alpha = act.GetFloat("alpha", a.type == ops::ActType::kLeakyRelu ? 0.01f : 1.0f);
    if (a.type == ops::ActType::kClip) {
      a.lo = act.GetFloat("min", -INFINITY);
      a.hi = act.GetFloat("max", INFINITY);
    }
    SetActivationAttrs(&prod, a);
    prod.outputs[0] = act.outputs[0];
    dead[ai] = 1;
  }
  EraseNodes(g, dead);
}

namespace {

// A Conv2D whose weights are a rank-4 float constant; nullptr otherwise.
const TensorDef* ConvWeights(const Graph& g, const NodeDef& n) {
  if (n.op != "Conv2D" || n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0 || n.outputs.size() != 1)
    return nullptr;
  const TensorDef& w = g.tensors[n.inputs[1]];
  if (!w.is_constant() || w.constant->is_int || w.shape.size() != 4) return nullptr;
  return &w;
}

// 1x1, stride 1, no padding, one group.
bool IsPointwiseConv(const Graph& g, const NodeDef& n) {
  const TensorDef* w = ConvWeights(g, n);
  if (!w || w->shape[1] != 1 || w->shape[2] != 1 || n.GetInt("groups", 1) != 1) return false;
  if (n.GetInts("strides", {1, 1}) != std::vector<int64_t>{1, 1}) return false;
  const std::string pad = n.GetString("padding", "EXPLICIT");
  if (pad == "EXPLICIT") {
    for (int64_t v : n.GetInts("pads", {0, 0, 0, 0}))
      if (v != 0) return false;
  }
  return pad == "EXPLICIT" || pad == "SAME" || pad == "VALID";
}

// Depthwise with channel multiplier 1 and a window at most 32 rows tall.
bool IsDepthwiseConv(const Graph& g, const NodeDef& n) {
  const TensorDef* w = ConvWeights(g, n);
  if (!w || w->shape[3] != 1 || w->shape[0] < 2 || n.GetInt("groups", 1) != w->shape[0]) return false;
  const auto dil = n.GetInts("dilations", {1, 1});
  return dil.size() == 2 && dil[0] >= 1 && dil[0] <= 32 && w->shape[1] <= 32 && (w->shape[1] - 1) * dil[0] + 1 <= 32;
}

// A float constant of `channels` values broadcast along the last axis ([C] or [1, ..., 1, C]).
bool IsChannelVector(const Graph& g, int t, int64_t channels) {
  if (t < 0 || !g.tensors[t].is_constant() || g.tensors[t].constant->is_int) return false;
  const Shape& s = g.tensors[t].shape;
  if (s.empty() || s.size() > 4 || s.back() != channels) return false;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] != 1) return false;
  return true;
}

void CopyActivationAttrs(const NodeDef& from, const std::string& prefix, NodeDef* to) {
  for (const char* key : {"activation", "activation_alpha", "activation_min", "activation_max"}) {
    auto it = from.attrs.find(key);
    if (it != from.attrs.end()) to->attrs[prefix + key] = it->second;
  }
}

}  // namespace

void FuseConvChains(Graph* g) {
  // 1. Conv2D -> Mul(per-channel constant) -> Add(per-channel constant), either
  // step optional: the affine after the conv's activation moves into the conv
  // (post scale and shift, inputs 4 and 5).
  {
    const std::vector<int> uses = UseCounts(*g);
    std::vector<int> consumer(g->tensors.size(), -1);
    for (size_t i = 0; i < g->nodes.size(); ++i)
      for (int t : g->nodes[i].inputs)
        if (t >= 0) consumer[t] = static_cast<int>(i);
    std::vector<char> dead(g->nodes.size(), 0);
    for (size_t ci = 0; ci < g->nodes.size(); ++ci) {
      if (dead[ci] || !ConvWeights(*g, g->nodes[ci]) || g->nodes[ci].inputs.size() > 3) continue;
      const int64_t channels = g->tensors[g->nodes[ci].inputs[1]].shape[0];
      int t = g->nodes[ci].outputs[0];
      int scale = -1, shift = -1;
      while (shift < 0 && uses[t] == 1 && consumer[t] >= 0 && !dead[consumer[t]]) {
        const NodeDef& n = g->nodes[consumer[t]];
        if ((n.op != "Mul" && n.op != "Add") || n.inputs.size() != 2 || n.outputs.size() != 1 ||
            !HasNoActivation(n) || n.inputs[0] == n.inputs[1])
          break;
        const int other = n.inputs[0] == t ? n.inputs[1] : n.inputs[0];
        if (!IsChannelVector(*g, other, channels) || (n.op == "Mul" && scale >= 0)) break;
        (n.op == "Mul" ? scale : shift) = other;
        dead[consumer[t]] = 1;
        t = n.outputs[0];
      }
      if (scale < 0 && shift < 0) continue;
      NodeDef& conv = g->nodes[ci];
      conv.inputs.resize(6, -1);
      conv.inputs[4] = scale;
      conv.inputs[5] = shift;
      conv.outputs[0] = t;
    }
    EraseNodes(g, dead);
  }
  // 2. Conv2D -> Conv2D where one is 1x1 and the other depthwise: one Conv2DPair.
  {
    const std::vector<int> uses = UseCounts(*g);
    const std::vector<int> producer = Producers(*g);
    std::vector<char> dead(g->nodes.size(), 0);
    for (size_t bi = 0; bi < g->nodes.size(); ++bi) {
      NodeDef& second = g->nodes[bi];
      if (!ConvWeights(*g, second)) continue;
      const int mid = second.inputs[0];
      const int ai = producer[mid];
      if (ai < 0 || dead[ai] || uses[mid] != 1) continue;
      const NodeDef& first = g->nodes[ai];
      if (!ConvWeights(*g, first) || first.inputs.size() > 3 || second.inputs.size() > 3) continue;
      const Shape& w1 = g->tensors[first.inputs[1]].shape;
      const Shape& w2 = g->tensors[second.inputs[1]].shape;
      const bool pw_dw = IsPointwiseConv(*g, first) && IsDepthwiseConv(*g, second) && w1[0] == w2[0];
      const bool dw_pw = IsDepthwiseConv(*g, first) && IsPointwiseConv(*g, second) && w2[3] == w1[0];
      if (!pw_dw && !dw_pw) continue;
      const NodeDef& dw = pw_dw ? second : first;
      NodeDef fused;
      fused.name = second.name;
      fused.op = "Conv2DPair";
      auto input = [](const NodeDef& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : -1; };
      fused.inputs = {first.inputs[0], first.inputs[1], input(first, 2), second.inputs[1], input(second, 2)};
      fused.outputs = second.outputs;
      fused.attrs["order"] = Attr(pw_dw ? "pointwise_depthwise" : "depthwise_pointwise");
      for (const char* key : {"strides", "dilations", "padding", "pads"}) {
        auto it = dw.attrs.find(key);
        if (it != dw.attrs.end()) fused.attrs[key] = it->second;
      }
      CopyActivationAttrs(second, "", &fused);
      CopyActivationAttrs(first, "first_", &fused);
      second = std::move(fused);
      dead[ai] = 1;
    }
    EraseNodes(g, dead);
  }
  // 3. A 2x2 stride-2 unpadded MaxPool after a pointwise-depthwise Conv2DPair
  // (its only consumer) moves into the pair.
  {
    const std::vector<int> uses = UseCounts(*g);
    const std::vector<int> producer = Producers(*g);
    std::vector<char> dead(g->nodes.size(), 0);
    for (size_t pi = 0; pi < g->nodes.size(); ++pi) {
      const NodeDef& pool = g->nodes[pi];
      if (pool.op != "MaxPool" || pool.inputs.size() != 1 || pool.inputs[0] < 0 || pool.outputs.size() != 1 ||
          !HasNoActivation(pool))
        continue;
      if (pool.GetInts("kernel") != std::vector<int64_t>{2, 2} ||
          pool.GetInts("strides", {1, 1}) != std::vector<int64_t>{2, 2})
        continue;
      const std::string pad = pool.GetString("padding", "EXPLICIT");
      bool unpadded = pad == "VALID";
      if (pad == "EXPLICIT") {
        unpadded = true;
        for (int64_t v : pool.GetInts("pads", {0, 0, 0, 0})) unpadded = unpadded && v == 0;
      }
      const int x = pool.inputs[0];
      if (!unpadded || uses[x] != 1 || producer[x] < 0) continue;
      NodeDef& pair = g->nodes[producer[x]];
      if (pair.op != "Conv2DPair" || pair.GetString("order", "") != "pointwise_depthwise" ||
          pair.inputs.size() > 5 || pair.Has("max_pool"))
        continue;
      pair.attrs["max_pool"] = Attr(std::vector<int64_t>{2, 2});
      pair.outputs[0] = pool.outputs[0];
      dead[pi] = 1;
    }
    EraseNodes(g, dead);
  }
  // 4. Add(conv, r) -> the conv with residual r, when the conv (a Conv2D or a
  // depthwise-pointwise Conv2DPair without activation) feeds only the Add and r
  // is computed at run time. The Add's activation moves to the conv.
  const std::vector<int> uses = UseCounts(*g);
  const std::vector<int> producer = Producers(*g);
  std::vector<char> dead(g->nodes.size(), 0);
  for (size_t ai = 0; ai < g->nodes.size(); ++ai) {
    const NodeDef& add = g->nodes[ai];
    if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    for (int side = 0; side < 2; ++side) {
      const int y = add.inputs[side], r = add.inputs[1 - side];
      if (y < 0 || r < 0 || y == r || uses[y] != 1 || producer[y] < 0 || dead[producer[y]]) continue;
      if (g->tensors[r].is_constant()) continue;
      NodeDef& conv = g->nodes[producer[y]];
      if (!HasNoActivation(conv) || conv.outputs.size() != 1) continue;
      size_t slot;
      if (conv.op == "Conv2D" && ConvWeights(*g, conv)) {
        slot = 3;
      } else if (conv.op == "Conv2DPair" && conv.GetString("order", "") == "depthwise_pointwise") {
        slot = 5;
      } else {
        continue;
      }
      if (conv.inputs.size() > slot) continue;  // already has a residual
      conv.inputs.resize(slot + 1, -1);
      conv.inputs[slot] = r;
      conv.outputs[0] = add.outputs[0];
      CopyActivationAttrs(add, "", &conv);
      dead[ai] = 1;
      break;
    }
  }
  EraseNodes(g, dead);
}

// ---------------------------------------------------------------------------
// Model

struct Model::Workspace {
  std::shared_ptr<const Plan> plan;
  void* arena = nullptr;
  size_t arena_capacity = 0;
  std::vector<const float*> in_ptrs;
  std::vector<float*> out_ptrs;
  std::vector<Shape> in_shapes, out_shapes;
  ~Workspace() { std::free(arena); }
  void Reserve(size_t bytes) {
    if (bytes <= arena_capacity && arena) return;
    std::free(arena);
    arena = nullptr;
    arena_capacity = 0;
    const size_t alloc = std::max<size_t>(64, AlignArena(bytes));
    arena = std::aligned_alloc(64, alloc);
    if (!arena) throw Error(ErrorCode::kResourceExhausted, "cannot allocate a " + std::to_string(alloc) + "-byte arena");
    arena_capacity = alloc;
  }
  static size_t AlignArena(size_t n) { return (n + 63) / 64 * 64; }
};

Model::~Model() = default;

std::shared_ptr<const Model> Model::Load(const std::string& path, const ModelOptions& opts) {
  return FromGraph(LoadGraphFromFile(path), opts);
}

std::shared_ptr<const Model> Model::FromGraph(Graph graph, const ModelOptions& opts) {
  graph.Validate();
  if (opts.optimize) {
    FoldBatchNorm(&graph);
    FuseActivations(&graph);
    FuseConvChains(&graph);
    graph.Validate();
  }
  std::shared_ptr<Model> m(new Model());
  m->graph_ = std::move(graph);
  m->default_threads_ = opts.num_threads > 0 ? opts.num_threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  m->Compile();
  return m;
}

void Model::Compile() {
  order_ = graph_.TopologicalOrder();
  kernels_.resize(graph_.nodes.size());
  for (int ni : order_) {
    NodeContext ctx(graph_, graph_.nodes[ni]);
    kernels_[ni] = CreateKernel(ctx);
  }
}

size_t Model::input_index(const std::string& name) const {
  for (size_t i = 0; i < num_inputs(); ++i)
    if (input_name(i) == name) return i;
  throw Error(ErrorCode::kNotFound, "model has no input named '" + name + "'");
}

size_t Model::output_index(const std::string& name) const {
  for (size_t i = 0; i < num_outputs(); ++i)
    if (output_name(i) == name) return i;
  throw Error(ErrorCode::kNotFound, "model has no output named '" + name + "'");
}

std::string Model::metadata_value(const std::string& key, const std::string& def) const {
  auto it = graph_.metadata.find(key);
  return it == graph_.metadata.end() ? def : it->second;
}

std::shared_ptr<const Plan> Model::GetPlan(const std::vector<Shape>& input_shapes) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(input_shapes);
    if (it != plans_.end()) return it->second;
  }
  if (input_shapes.size() != num_inputs())
    throw Error(ErrorCode::kInvalidArgument, "model takes " + std::to_string(num_inputs()) + " inputs, got " +
                                                 std::to_string(input_shapes.size()));
  auto plan = std::make_shared<Plan>();
  plan->input_shapes = input_shapes;
  const size_t nt = graph_.tensors.size();
  plan->shapes.assign(nt, Shape{});
  plan->locs.assign(nt, Plan::Loc{});
  std::vector<char> known(nt, 0);
  for (size_t i = 0; i < num_inputs(); ++i) {
    const Shape& decl = input_shape(i);
    const Shape& got = input_shapes[i];
    bool ok = decl.empty() || decl.size() == got.size();
    for (size_t d = 0; ok && d < decl.size(); ++d) ok = decl[d] < 0 || decl[d] == got[d];
    for (int64_t d : got) ok = ok && d > 0;
    if (!ok)
      throw Error(ErrorCode::kInvalidArgument, "input '" + input_name(i) + "' has shape " + ShapeToString(got) +
                                                   ", the model expects " + ShapeToString(decl) +
                                                   " (-1 = any size)");
    NumElements(got);
    const int t = graph_.inputs[i];
    plan->shapes[t] = got;
    plan->locs[t] = {Plan::Where::kInput, i};
    known[t] = 1;
  }
  for (size_t t = 0; t < nt; ++t) {
    if (graph_.tensors[t].is_constant()) {
      plan->shapes[t] = graph_.tensors[t].shape;
      plan->locs[t] = {Plan::Where::kConstant, 0};
      known[t] = 1;
    }
  }
  // Shape inference in execution order.
  const size_t steps = order_.size();
  plan->scratch_bytes.assign(steps, 0);
  plan->scratch_offset.assign(steps, 0);
  plan->parallel.assign(steps, 0);
  std::vector<int> root(nt);
  for (size_t t = 0; t < nt; ++t) root[t] = static_cast<int>(t);
  for (size_t s = 0; s < steps; ++s) {
    const NodeDef& n = graph_.nodes[order_[s]];
    std::vector<Shape> in;
    for (int t : n.inputs) in.push_back(t >= 0 ? plan->shapes[t] : Shape{});
    std::vector<Shape> out = kernels_[order_[s]]->InferShapes(in);
    if (out.size() != n.outputs.size())
      throw Error(ErrorCode::kInternal, n.Describe() + " inferred " + std::to_string(out.size()) + " outputs");
    for (size_t o = 0; o < out.size(); ++o) {
      NumElements(out[o]);
      plan->shapes[n.outputs[o]] = out[o];
      known[n.outputs[o]] = 1;
    }
    plan->scratch_bytes[s] = kernels_[order_[s]]->ScratchBytes(in, out);
    plan->parallel[s] = kernels_[order_[s]]->Cost(in, out) >= kMinParallelFlops;
    if (kernels_[order_[s]]->IsView()) root[n.outputs[0]] = root[n.inputs[0]];
  }
  // Liveness of every arena buffer (identified by its root tensor), in steps.
  std::vector<int> first(nt, -1), last(nt, -1);
  for (size_t s = 0; s < steps; ++s) {
    const NodeDef& n = graph_.nodes[order_[s]];
    for (int t : n.outputs) {
      const int r = root[t];
      if (first[r] < 0) first[r] = static_cast<int>(s);
      last[r] = std::max(last[r], static_cast<int>(s));
    }
    for (int t : n.inputs)
      if (t >= 0) last[root[t]] = std::max(last[root[t]], static_cast<int>(s));
  }
  for (int t : graph_.outputs) last[root[t]] = static_cast<int>(steps);

  struct Item {
    size_t bytes;
    int first, last;
    int tensor;  // >= 0 tensor root, < 0: -(step + 1) scratch
    size_t offset = 0;
  };
  std::vector<Item> items;
  for (size_t t = 0; t < nt; ++t) {
    if (root[t] != static_cast<int>(t) || first[t] < 0 || plan->locs[t].where != Plan::Where::kUnused) continue;
    const size_t bytes = Workspace::AlignArena(static_cast<size_t>(NumElements(plan->shapes[t])) * sizeof(float));
    items.push_back({std::max<size_t>(bytes, 64), first[t], last[t], static_cast<int>(t)});
  }
  for (size_t s = 0; s < steps; ++s)
    if (plan->scratch_bytes[s] > 0)
      items.push_back({Workspace::AlignArena(plan->scratch_bytes[s]), static_cast<int>(s), static_cast<int>(s),
                       -static_cast<int>(s) - 1});
  // Greedy by size: place the largest buffers first, each at the lowest offset
  // that does not overlap a placed buffer whose lifetime intersects its own.
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return items[a].bytes > items[b].bytes; });
  std::vector<size_t> placed;
  size_t arena = 0, naive = 0;
  for (size_t i : idx) {
    Item& it = items[i];
    naive += it.bytes;
    std::vector<std::pair<size_t, size_t>> busy;  // [offset, end)
    for (size_t j : placed) {
      const Item& o = items[j];
      if (o.first <= it.last && it.first <= o.last) busy.push_back({o.offset, o.offset + o.bytes});
    }
    std::sort(busy.begin(), busy.end());
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cur = 0;
    for (auto& [b, e] : busy) {
      if (b >= cur && b - cur >= it.bytes && b - cur < best_gap) {
        best = cur;
        best_gap = b - cur;
      }
      cur = std::max(cur, e);
    }
    it.offset = best != SIZE_MAX ? best : cur;
    arena = std::max(arena, it.offset + it.bytes);
    placed.push_back(i);
  }
  for (const Item& it : items) {
    if (it.tensor >= 0) plan->locs[it.tensor] = {Plan::Where::kArena, it.offset};
    else plan->scratch_offset[static_cast<size_t>(-it.tensor - 1)] = it.offset;
  }
  for (size_t t = 0; t < nt; ++t)
    if (root[t] != static_cast<int>(t)) plan->locs[t] = plan->locs[root[t]];
  plan->arena_bytes = arena;
  plan->naive_bytes = naive;
  plan->root = std::move(root);

  std::lock_guard<std::mutex> lock(mu_);
  if (plans_.size() >= 32) plans_.clear();  // bound the cache for callers cycling through many sizes
  auto [it, inserted] = plans_.emplace(input_shapes, plan);
  return it->second;
}

std::unique_ptr<Model::Workspace> Model::AcquireWorkspace() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_workspaces_.empty()) return std::make_unique<Workspace>();
  auto ws = std::move(free_workspaces_.back());
  free_workspaces_.pop_back();
  return ws;
}

void Model::ReleaseWorkspace(std::unique_ptr<Workspace> ws) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_workspaces_.size() < 8) free_workspaces_.push_back(std::move(ws));
}

std::vector<Tensor> Model::RunIn(Workspace& ws, const std::vector<TensorView>& inputs, const RunOptions& opts) const {
  if (inputs.size() != num_inputs())
    throw Error(ErrorCode::kInvalidArgument, "model takes " + std::to_string(num_inputs()) + " inputs, got " +
                                                 std::to_string(inputs.size()));
  std::vector<Shape> shapes;
  shapes.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].data) throw Error(ErrorCode::kInvalidArgument, "input '" + input_name(i) + "' has no data");
    shapes.push_back(inputs[i].shape);
  }
  if (!ws.plan || ws.plan->input_shapes != shapes) ws.plan = GetPlan(shapes);
  const Plan& plan = *ws.plan;
  ws.Reserve(plan.arena_bytes);
  auto* arena = static_cast<uint8_t*>(ws.arena);
  auto ptr = [&](int t) -> float* {
    if (t < 0) return nullptr;
    const Plan::Loc& l = plan.locs[t];
    switch (l.where) {
      case Plan::Where::kArena: return reinterpret_cast<float*>(arena + l.offset);
      case Plan::Where::kInput: return const_cast<float*>(inputs[l.offset].data);
      case Plan::Where::kConstant: return const_cast<float*>(graph_.tensors[plan.root[t]].constant->f32);
      case Plan::Where::kUnused: return nullptr;
    }
    return nullptr;
  };
  const int threads = opts.num_threads > 0 ? opts.num_threads : default_threads_;
  const ops::ExecContext parallel_exec{threads}, serial_exec{1};
  for (size_t s = 0; s < order_.size(); ++s) {
    const Kernel& k = *kernels_[order_[s]];
    if (k.IsView()) continue;
    const NodeDef& n = graph_.nodes[order_[s]];
    ws.in_ptrs.clear();
    ws.in_shapes.clear();
    ws.out_ptrs.clear();
    ws.out_shapes.clear();
    for (int t : n.inputs) {
      ws.in_ptrs.push_back(ptr(t));
      ws.in_shapes.push_back(t >= 0 ? plan.shapes[t] : Shape{});
    }
    for (int t : n.outputs) {
      ws.out_ptrs.push_back(ptr(t));
      ws.out_shapes.push_back(plan.shapes[t]);
    }
    void* scratch = plan.scratch_bytes[s] ? arena + plan.scratch_offset[s] : nullptr;
    RunContext rc{plan.parallel[s] ? parallel_exec : serial_exec, ws.in_ptrs, ws.in_shapes, ws.out_ptrs,
                  ws.out_shapes, scratch};
    k.Run(rc);
  }
  std::vector<Tensor> out(num_outputs());
  for (size_t o = 0; o < num_outputs(); ++o) {
    const int t = graph_.outputs[o];
    out[o].shape = plan.shapes[t];
    const size_t n = static_cast<size_t>(NumElements(out[o].shape));
    const float* src = ptr(t);
    out[o].data.assign(src, src + n);
  }
  return out;
}

std::vector<Tensor> Model::Run(const std::vector<TensorView>& inputs, const RunOptions& opts) const {
  std::unique_ptr<Workspace> ws = AcquireWorkspace();
  std::vector<Tensor> out;
  try {
    out = RunIn(*ws, inputs, opts);
  } catch (...) {
    ReleaseWorkspace(std::move(ws));
    throw;
  }
  ReleaseWorkspace(std::move(ws));
  return out;
}

Session::Session(std::shared_ptr<const Model> model)
    : model_(std::move(model)), ws_(std::make_unique<Model::Workspace>()) {
  if (!model_) throw Error(ErrorCode::kInvalidArgument, "Session needs a model");
}
Session::~Session() = default;

std::vector<Tensor> Session::Run(const std::vector<TensorView>& inputs, const RunOptions& opts) {
  return model_->RunIn(*ws_, inputs, opts);
}

size_t Session::arena_bytes() const { return ws_->plan ? ws_->plan->arena_bytes : 0; }

}  // namespace facelib::rt
