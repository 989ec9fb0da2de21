// Shape and data-movement nodes.
//
// Reshape    attrs: shape (0 = keep that dim, -1 = infer one dim); or input 1 an int constant
// Flatten    attrs: axis (1): [d0*..*d(axis-1), d(axis)*..]
// Squeeze    attrs: axes (all size-1 dims when absent);  Unsqueeze  attrs: axes
// Identity
// Transpose  attrs: perm
// Concat     attrs: axis;  inputs: 1..N tensors
// Split      attrs: axis, sizes (or equal split into the number of outputs)
// Slice      attrs: begin, end, steps (1s), axes (0..n-1); ONNX clamping rules
// Pad        attrs: pads [begin_0.., end_0..], mode (constant|reflect|edge), value (0)
// Gather     attrs: axis; input 1 an int constant of indices (negative allowed), or attr indices
#include <algorithm>
#include <climits>
#include <numeric>

#include "ops/layout.h"
#include "runtime/kernels/builtin.h"

namespace facelib::rt::kernels {
namespace {

// Reshape-like nodes: output 0 shares input 0's buffer.
class ViewKernel : public Kernel {
 public:
  using ShapeFn = std::function<Shape(const NodeDef&, const Shape&)>;
  ViewKernel(NodeDef n, ShapeFn fn) : node_(std::move(n)), fn_(std::move(fn)) {}
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    Shape out = fn_(node_, in[0]);
    if (NumElements(out) != NumElements(in[0]))
      ShapeError(node_, "cannot view " + ShapeToString(in[0]) + " as " + ShapeToString(out));
    return {out};
  }
  bool IsView() const override { return true; }
  void Run(const RunContext&) const override {}

 private:
  NodeDef node_;
  ShapeFn fn_;
};

Shape ReshapeTo(const NodeDef& n, const Shape& in, const std::vector<int64_t>& spec) {
  Shape out;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0) {
      if (i >= in.size()) ShapeError(n, "shape entry 0 at position " + std::to_string(i) + " has no input dim");
      d = in[i];
    } else if (d == -1) {
      if (infer >= 0) ShapeError(n, "shape has more than one -1");
      infer = static_cast<int>(i);
      out.push_back(1);
      continue;
    } else if (d < 0) {
      ShapeError(n, "invalid shape entry " + std::to_string(d));
    }
    out.push_back(d);
    known *= d;
  }
  if (infer >= 0) {
    const int64_t total = NumElements(in);
    if (known == 0 || total % known != 0)
      ShapeError(n, "cannot reshape " + ShapeToString(in) + " to " + ShapeToString(spec));
    out[infer] = total / known;
  }
  return out;
}

std::unique_ptr<Kernel> MakeReshape(const NodeContext& ctx) {
  ctx.RequireInputs(1, 2);
  std::vector<int64_t> spec;
  if (ctx.has_input(1)) {
    const Constant* c = ctx.constant(1);
    if (!c || !c->is_int) ctx.Fail("the shape input must be an integer constant");
    spec = c->ints;
  } else {
    if (!ctx.node().Has("shape")) ctx.Fail("needs attribute 'shape' or a shape input");
    spec = ctx.node().GetInts("shape");
  }
  return std::make_unique<ViewKernel>(ctx.node(),
                                      [spec](const NodeDef& n, const Shape& in) { return ReshapeTo(n, in, spec); });
}

std::unique_ptr<Kernel> MakeFlatten(const NodeContext& ctx) {
  ctx.RequireInputs(1, 1);
  const int64_t axis = ctx.node().GetInt("axis", 1);
  return std::make_unique<ViewKernel>(ctx.node(), [axis](const NodeDef& n, const Shape& in) {
    const int a = axis == static_cast<int64_t>(in.size()) ? static_cast<int>(axis) : NormalizeAxis(n, axis, in.size());
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < static_cast<int>(in.size()); ++i) (i < a ? outer : inner) *= in[i];
    return Shape{outer, inner};
  });
}

std::unique_ptr<Kernel> MakeSqueeze(const NodeContext& ctx) {
  ctx.RequireInputs(1, 1);
  const auto axes = ctx.node().GetInts("axes");
  return std::make_unique<ViewKernel>(ctx.node(), [axes](const NodeDef& n, const Shape& in) {
    std::vector<char> drop(in.size(), 0);
    if (axes.empty()) {
      for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
    } else {
      for (int64_t a : axes) {
        const int ax = NormalizeAxis(n, a, in.size());
        if (in[ax] != 1) ShapeError(n, "cannot squeeze axis " + std::to_string(a) + " of " + ShapeToString(in));
        drop[ax] = 1;
      }
    }
    Shape out;
    for (size_t i = 0; i < in.size(); ++i)
      if (!drop[i]) out.push_back(in[i]);
    return out;
  });
}

std::unique_ptr<Kernel> MakeUnsqueeze(const NodeContext& ctx) {
  ctx.RequireInputs(1, 1);
  const auto axes = ctx.node().GetInts("axes");
  if (axes.empty()) ctx.Fail("attribute 'axes' is required");
  return std::make_unique<ViewKernel>(ctx.node(), [axes](const NodeDef& n, const Shape& in) {
    const size_t rank = in.size() + axes.size();
    std::vector<char> ins(rank, 0);
    for (int64_t a : axes) {
      const int ax = NormalizeAxis(n, a, rank);
      if (ins[ax]) ShapeError(n, "axis listed twice");
      ins[ax] = 1;
    }
    Shape out;
    size_t j = 0;
    for (size_t i = 0; i < rank; ++i) out.push_back(ins[i] ? 1 : in[j++]);
    return out;
  });
}

class TransposeKernel : public Kernel {
 public:
  explicit TransposeKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(1, 1);
    for (int64_t p : ctx.node().GetInts("perm")) perm_.push_back(static_cast<int>(p));
    std::vector<int> sorted = perm_;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted[i] != static_cast<int>(i)) ctx.Fail("perm is not a permutation");
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    if (in[0].size() != perm_.size())
      ShapeError(node_, "perm has " + std::to_string(perm_.size()) + " entries for rank " + std::to_string(in[0].size()));
    Shape out;
    for (int p : perm_) out.push_back(in[0][p]);
    return {out};
  }
  void Run(const RunContext& rc) const override {
    ops::TransposeParams p;
    p.in_shape = rc.in_shapes[0];
    p.perm = perm_;
    ops::Transpose(rc.exec, p, rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  std::vector<int> perm_;
};

class ConcatKernel : public Kernel {
 public:
  explicit ConcatKernel(const NodeContext& ctx) : node_(ctx.node()) {
    if (ctx.num_inputs() < 1) ctx.Fail("needs at least one input");
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (!ctx.has_input(i) || (ctx.constant(i) && ctx.constant(i)->is_int)) ctx.Fail("inputs must be float tensors");
    axis_ = ctx.node().GetInt("axis", -1);
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const int a = NormalizeAxis(node_, axis_, in[0].size());
    Shape out = in[0];
    out[a] = 0;
    for (const Shape& s : in) {
      if (s.size() != out.size()) ShapeError(node_, "inputs differ in rank");
      for (size_t d = 0; d < s.size(); ++d)
        if (static_cast<int>(d) != a && s[d] != out[d])
          ShapeError(node_, "input " + ShapeToString(s) + " does not match " + ShapeToString(in[0]) +
                                " outside axis " + std::to_string(a));
      out[a] += s[a];
    }
    return {out};
  }
  void Run(const RunContext& rc) const override {
    const Shape& s0 = rc.in_shapes[0];
    const int a = NormalizeAxis(node_, axis_, s0.size());
    ops::ConcatParams p;
    for (int d = 0; d < a; ++d) p.outer *= s0[d];
    for (size_t d = a + 1; d < s0.size(); ++d) p.inner *= s0[d];
    for (const Shape& s : rc.in_shapes) p.axis_sizes.push_back(s[a]);
    ops::Concat(rc.exec, p, rc.inputs.data(), rc.outputs[0]);
  }

 private:
  NodeDef node_;
  int64_t axis_;
};

// Slice that produces one or several outputs (Split = several slices along one axis).
class SplitKernel : public Kernel {
 public:
  explicit SplitKernel(const NodeContext& ctx) : node_(ctx.node()), outputs_(ctx.num_outputs()) {
    ctx.RequireInputs(1, 1);
    axis_ = ctx.node().GetInt("axis", 0);
    sizes_ = ctx.node().GetInts("sizes");
    if (!sizes_.empty() && sizes_.size() != outputs_) ctx.Fail("'sizes' must have one entry per output");
    for (int64_t s : sizes_)
      if (s < 0) ctx.Fail("split sizes must be >= 0");
  }
  std::vector<int64_t> Sizes(const Shape& in, int a) const {
    if (!sizes_.empty()) {
      if (std::accumulate(sizes_.begin(), sizes_.end(), int64_t{0}) != in[a])
        ShapeError(node_, "split sizes do not add up to " + std::to_string(in[a]));
      return sizes_;
    }
    if (in[a] % static_cast<int64_t>(outputs_) != 0)
      ShapeError(node_, "axis of size " + std::to_string(in[a]) + " does not split evenly " + std::to_string(outputs_) + " ways");
    return std::vector<int64_t>(outputs_, in[a] / static_cast<int64_t>(outputs_));
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const int a = NormalizeAxis(node_, axis_, in[0].size());
    std::vector<Shape> out;
    for (int64_t s : Sizes(in[0], a)) {
      Shape o = in[0];
      o[a] = s;
      out.push_back(o);
    }
    return out;
  }
  void Run(const RunContext& rc) const override {
    const Shape& in = rc.in_shapes[0];
    const int a = NormalizeAxis(node_, axis_, in.size());
    int64_t begin = 0;
    for (size_t o = 0; o < rc.outputs.size(); ++o) {
      ops::SliceParams p;
      p.in_shape = in;
      p.begin.assign(in.size(), 0);
      p.begin[a] = begin;
      p.step.assign(in.size(), 1);
      p.out_shape = rc.out_shapes[o];
      begin += p.out_shape[a];
      if (NumElements(p.out_shape) > 0) ops::Slice(rc.exec, p, rc.inputs[0], rc.outputs[o]);
    }
  }

 private:
  NodeDef node_;
  size_t outputs_;
  int64_t axis_;
  std::vector<int64_t> sizes_;
};

class SliceKernel : public Kernel {
 public:
  explicit SliceKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(1, 1);
    begin_ = ctx.node().GetInts("begin");
    end_ = ctx.node().GetInts("end");
    steps_ = ctx.node().GetInts("steps", std::vector<int64_t>(begin_.size(), 1));
    axes_ = ctx.node().GetInts("axes");
    if (axes_.empty())
      for (size_t i = 0; i < begin_.size(); ++i) axes_.push_back(static_cast<int64_t>(i));
    if (begin_.size() != end_.size() || steps_.size() != begin_.size() || axes_.size() != begin_.size())
      ctx.Fail("begin, end, steps and axes must have the same length");
    for (int64_t s : steps_)
      if (s == 0) ctx.Fail("slice step 0");
  }
  ops::SliceParams Params(const Shape& in) const {
    ops::SliceParams p;
    p.in_shape = in;
    p.begin.assign(in.size(), 0);
    p.step.assign(in.size(), 1);
    p.out_shape = in;
    std::vector<char> seen(in.size(), 0);
    for (size_t i = 0; i < axes_.size(); ++i) {
      const int a = NormalizeAxis(node_, axes_[i], in.size());
      if (seen[a]) ShapeError(node_, "axis listed twice");
      seen[a] = 1;
      const int64_t dim = in[a], step = steps_[i];
      int64_t b = begin_[i], e = end_[i];
      if (b < 0) b += dim;
      if (e < 0 && e > INT64_MIN / 2) e += dim;
      int64_t count;
      if (step > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        count = e > b ? (e - b + step - 1) / step : 0;
      } else {
        b = std::clamp<int64_t>(b, -1, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        count = b > e ? (b - e + (-step) - 1) / (-step) : 0;
      }
      p.begin[a] = count > 0 ? b : 0;
      p.step[a] = step;
      p.out_shape[a] = count;
    }
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override { return {Params(in[0]).out_shape}; }
  void Run(const RunContext& rc) const override {
    const auto p = Params(rc.in_shapes[0]);
    if (NumElements(p.out_shape) > 0) ops::Slice(rc.exec, p, rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  std::vector<int64_t> begin_, end_, steps_, axes_;
};

class PadKernel : public Kernel {
 public:
  explicit PadKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(1, 1);
    pads_ = ctx.node().GetInts("pads");
    if (pads_.size() % 2) ctx.Fail("pads must list begin and end for every dim");
    for (int64_t p : pads_)
      if (p < 0 || p > (1 << 20)) ctx.Fail("pads must be in 0..2^20 (negative pads are slices)");
    const std::string mode = ctx.node().GetString("mode", "constant");
    if (mode == "constant") mode_ = ops::PadMode::kConstant;
    else if (mode == "reflect") mode_ = ops::PadMode::kReflect;
    else if (mode == "edge") mode_ = ops::PadMode::kEdge;
    else ctx.Fail("pad mode must be constant, reflect or edge, not '" + mode + "'");
    value_ = ctx.node().GetFloat("value", 0.0f);
  }
  ops::PadParams Params(const Shape& in) const {
    if (pads_.size() != 2 * in.size())
      ShapeError(node_, "pads has " + std::to_string(pads_.size()) + " entries for rank " + std::to_string(in.size()));
    ops::PadParams p;
    p.mode = mode_;
    p.value = value_;
    p.in_shape = in;
    p.pad_begin.assign(pads_.begin(), pads_.begin() + in.size());
    p.pad_end.assign(pads_.begin() + in.size(), pads_.end());
    for (size_t d = 0; d < in.size(); ++d) {
      if (mode_ == ops::PadMode::kReflect && (p.pad_begin[d] >= in[d] || p.pad_end[d] >= in[d]))
        ShapeError(node_, "reflect padding must be smaller than the dim it pads");
      if (mode_ == ops::PadMode::kEdge && in[d] == 0) ShapeError(node_, "edge padding of an empty dim");
    }
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto p = Params(in[0]);
    Shape out = in[0];
    for (size_t d = 0; d < out.size(); ++d) out[d] += p.pad_begin[d] + p.pad_end[d];
    return {out};
  }
  void Run(const RunContext& rc) const override {
    ops::Pad(rc.exec, Params(rc.in_shapes[0]), rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  std::vector<int64_t> pads_;
  ops::PadMode mode_ = ops::PadMode::kConstant;
  float value_ = 0;
};

class GatherKernel : public Kernel {
 public:
  explicit GatherKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(1, 2);
    axis_ = ctx.node().GetInt("axis", 0);
    if (ctx.has_input(1)) {
      const Constant* c = ctx.constant(1);
      if (!c || !c->is_int) ctx.Fail("indices must be an integer constant");
      indices_ = c->ints;
      index_shape_ = ctx.input(1)->shape;
    } else {
      indices_ = ctx.node().GetInts("indices");
      index_shape_ = {static_cast<int64_t>(indices_.size())};
    }
  }
  ops::GatherParams Params(const Shape& in, int a) const {
    ops::GatherParams p;
    for (int d = 0; d < a; ++d) p.outer *= in[d];
    p.axis_size = in[a];
    for (size_t d = a + 1; d < in.size(); ++d) p.inner *= in[d];
    for (int64_t i : indices_) {
      const int64_t j = i < 0 ? i + p.axis_size : i;
      if (j < 0 || j >= p.axis_size)
        ShapeError(node_, "index " + std::to_string(i) + " is out of range for an axis of size " +
                              std::to_string(p.axis_size));
      p.indices.push_back(j);
    }
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const int a = NormalizeAxis(node_, axis_, in[0].size());
    Params(in[0], a);
    Shape out(in[0].begin(), in[0].begin() + a);
    out.insert(out.end(), index_shape_.begin(), index_shape_.end());
    out.insert(out.end(), in[0].begin() + a + 1, in[0].end());
    return {out};
  }
  void Run(const RunContext& rc) const override {
    const int a = NormalizeAxis(node_, axis_, rc.in_shapes[0].size());
    ops::Gather(rc.exec, Params(rc.in_shapes[0], a), rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  int64_t axis_;
  std::vector<int64_t> indices_;
  Shape index_shape_;
};

}  // namespace

void RegisterShapeKernels() {
  RegisterKernel("Reshape", MakeReshape);
  RegisterKernel("Flatten", MakeFlatten);
  RegisterKernel("Squeeze", MakeSqueeze);
  RegisterKernel("Unsqueeze", MakeUnsqueeze);
  RegisterKernel("Identity", [](const NodeContext& c) -> std::unique_ptr<Kernel> {
    c.RequireInputs(1, 1);
    return std::make_unique<ViewKernel>(c.node(), [](const NodeDef&, const Shape& in) { return in; });
  });
  RegisterKernel("Transpose", [](const NodeContext& c) { return std::make_unique<TransposeKernel>(c); });
  RegisterKernel("Concat", [](const NodeContext& c) { return std::make_unique<ConcatKernel>(c); });
  RegisterKernel("Split", [](const NodeContext& c) { return std::make_unique<SplitKernel>(c); });
  RegisterKernel("Slice", [](const NodeContext& c) { return std::make_unique<SliceKernel>(c); });
  RegisterKernel("Pad", [](const NodeContext& c) { return std::make_unique<PadKernel>(c); });
  RegisterKernel("Gather", [](const NodeContext& c) { return std::make_unique<GatherKernel>(c); });
}

}  // namespace facelib::rt::kernels
