// Normalisation and reduction nodes.
//
// Softmax      attrs: axis (-1)
// L2Normalize  attrs: axis (-1), epsilon (1e-12)
// ReduceMean, ReduceMax, ReduceSum, ReduceMin   attrs: axes (all), keepdims (1)
// LRN          attrs: radius (2), bias (1), alpha (1e-4, per element), beta (0.75); across the last dim
#include <algorithm>

#include "ops/lrn.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "runtime/kernels/builtin.h"

namespace facelib::rt::kernels {
namespace {

ops::AxisParams SplitAt(const Shape& s, int a) {
  ops::AxisParams p;
  for (int d = 0; d < a; ++d) p.outer *= static_cast<size_t>(s[d]);
  p.axis = static_cast<size_t>(s[a]);
  for (size_t d = a + 1; d < s.size(); ++d) p.inner *= static_cast<size_t>(s[d]);
  return p;
}

class AxisKernel : public Kernel {
 public:
  AxisKernel(const NodeContext& ctx, bool l2) : node_(ctx.node()), l2_(l2) {
    ctx.RequireInputs(1, 1);
    axis_ = ctx.node().GetInt("axis", -1);
    eps_ = ctx.node().GetFloat("epsilon", 1e-12f);
    if (!(eps_ >= 0)) ctx.Fail("epsilon must be >= 0");
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    NormalizeAxis(node_, axis_, in[0].size());
    return {in[0]};
  }
  void Run(const RunContext& rc) const override {
    const auto p = SplitAt(rc.in_shapes[0], NormalizeAxis(node_, axis_, rc.in_shapes[0].size()));
    if (l2_) ops::L2Normalize(rc.exec, p, rc.inputs[0], rc.outputs[0], eps_);
    else ops::Softmax(rc.exec, p, rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  bool l2_;
  int64_t axis_;
  float eps_;
};

class ReduceKernel : public Kernel {
 public:
  ReduceKernel(const NodeContext& ctx, ops::ReduceOp op) : node_(ctx.node()), op_(op) {
    ctx.RequireInputs(1, 1);
    axes_ = ctx.node().GetInts("axes");
    keepdims_ = ctx.node().GetInt("keepdims", 1) != 0;
  }
  std::vector<int> Axes(const Shape& in) const {
    std::vector<int> axes;
    if (axes_.empty()) {
      for (size_t i = 0; i < in.size(); ++i) axes.push_back(static_cast<int>(i));
    } else {
      for (int64_t a : axes_) axes.push_back(NormalizeAxis(node_, a, in.size()));
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) ShapeError(node_, "axis listed twice");
    for (int a : axes)
      if (in[a] == 0) ShapeError(node_, "cannot reduce an empty axis");
    return axes;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto axes = Axes(in[0]);
    Shape out;
    for (size_t d = 0; d < in[0].size(); ++d) {
      const bool reduced = std::binary_search(axes.begin(), axes.end(), static_cast<int>(d));
      if (!reduced) out.push_back(in[0][d]);
      else if (keepdims_) out.push_back(1);
    }
    return {out};
  }
  void Run(const RunContext& rc) const override {
    ops::ReduceParams p;
    p.op = op_;
    p.in_shape = rc.in_shapes[0];
    p.axes = Axes(rc.in_shapes[0]);
    ops::Reduce(rc.exec, p, rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  ops::ReduceOp op_;
  std::vector<int64_t> axes_;
  bool keepdims_;
};

class LrnKernel : public Kernel {
 public:
  explicit LrnKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(1, 1);
    const int64_t radius = ctx.node().GetInt("radius", 2);
    if (radius < 0 || radius > 1024) ctx.Fail("radius must be in 0..1024");
    p_.radius = static_cast<int>(radius);
    p_.bias = ctx.node().GetFloat("bias", 1.0f);
    p_.alpha = ctx.node().GetFloat("alpha", 1e-4f);
    p_.beta = ctx.node().GetFloat("beta", 0.75f);
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    if (in[0].empty()) ShapeError(node_, "LRN needs at least one dim");
    return {in[0]};
  }
  void Run(const RunContext& rc) const override {
    ops::LrnParams p = p_;
    p.channels = static_cast<size_t>(rc.in_shapes[0].back());
    p.rows = p.channels ? static_cast<size_t>(NumElements(rc.in_shapes[0])) / p.channels : 0;
    ops::Lrn(rc.exec, p, rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  ops::LrnParams p_;
};

}  // namespace

void RegisterNormKernels() {
  RegisterKernel("Softmax", [](const NodeContext& c) { return std::make_unique<AxisKernel>(c, false); });
  RegisterKernel("L2Normalize", [](const NodeContext& c) { return std::make_unique<AxisKernel>(c, true); });
  const std::pair<const char*, ops::ReduceOp> reds[] = {{"ReduceMean", ops::ReduceOp::kMean},
                                                        {"ReduceMax", ops::ReduceOp::kMax},
                                                        {"ReduceSum", ops::ReduceOp::kSum},
                                                        {"ReduceMin", ops::ReduceOp::kMin}};
  for (const auto& [name, op] : reds) {
    const ops::ReduceOp o = op;
    RegisterKernel(name, [o](const NodeContext& c) { return std::make_unique<ReduceKernel>(c, o); });
  }
  RegisterKernel("LRN", [](const NodeContext& c) { return std::make_unique<LrnKernel>(c); });
}

}  // namespace facelib::rt::kernels
