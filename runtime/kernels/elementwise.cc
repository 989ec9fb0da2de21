// Element-wise nodes.
//
// Add, Sub, Mul, Div, Max, Min, Pow   inputs: a, b (NumPy broadcasting; either may be constant); attrs: activation*
// Relu, Relu6, Sigmoid, Tanh, HardSwish, Silu, Softplus; LeakyRelu(alpha=0.01); Elu(alpha=1); Clip(min, max)
// Exp, Log, Sqrt, Rsqrt, Abs, Neg, Square, Reciprocal
// PRelu        inputs: x, slope (constant: one value, or one per channel of the last dim)
// BatchNorm    inputs: x, gamma, beta, mean, variance (constants, gamma/beta optional); attrs: epsilon (1e-5)
//              (folded into a preceding Conv2D/Dense at load when possible)
// ChannelAffine inputs: x, scale, shift (constants over the last dim); attrs: activation*
#include <cmath>

#include "ops/activation.h"
#include "ops/elementwise.h"
#include "runtime/kernels/builtin.h"

namespace facelib::rt::kernels {
namespace {

class BinaryKernel : public Kernel {
 public:
  BinaryKernel(const NodeContext& ctx, ops::BinaryOp op) : node_(ctx.node()), op_(op) {
    ctx.RequireInputs(2, 2);
    for (int i = 0; i < 2; ++i)
      if (ctx.constant(i) && ctx.constant(i)->is_int) ctx.Fail("integer constants cannot be operands");
    act_ = ParseActivation(ctx.node());
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    Shape out;
    if (!ops::BroadcastShapes(in[0], in[1], &out))
      ShapeError(node_, "shapes " + ShapeToString(in[0]) + " and " + ShapeToString(in[1]) + " do not broadcast");
    return {out};
  }
  void Run(const RunContext& rc) const override {
    ops::BinaryParams p;
    p.op = op_;
    p.a_shape = rc.in_shapes[0];
    p.b_shape = rc.in_shapes[1];
    p.out_shape = rc.out_shapes[0];
    p.act = act_;
    ops::Binary(rc.exec, p, rc.inputs[0], rc.inputs[1], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  ops::BinaryOp op_;
  ops::Activation act_;
};

class ActivationKernel : public Kernel {
 public:
  explicit ActivationKernel(ops::Activation a) : act_(a) {}
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override { return {in[0]}; }
  void Run(const RunContext& rc) const override {
    ops::Activation_(rc.exec, act_, rc.inputs[0], rc.outputs[0], static_cast<size_t>(NumElements(rc.in_shapes[0])));
  }

 private:
  ops::Activation act_;
};

std::unique_ptr<Kernel> MakeActivation(const NodeContext& ctx, ops::ActType type) {
  ctx.RequireInputs(1, 1);
  ops::Activation a;
  a.type = type;
  if (type == ops::ActType::kLeakyRelu) a.alpha = ctx.node().GetFloat("alpha", 0.01f);
  if (type == ops::ActType::kElu) a.alpha = ctx.node().GetFloat("alpha", 1.0f);
  if (type == ops::ActType::kClip) {
    a.lo = ctx.node().GetFloat("min", -INFINITY);
    a.hi = ctx.node().GetFloat("max", INFINITY);
    if (!(a.lo <= a.hi)) ctx.Fail("clip min must not exceed max");
  }
  return std::make_unique<ActivationKernel>(a);
}

// Per-channel (last dim) scale and shift, with an activation. Serves BatchNorm,
// ChannelAffine and PRelu.
class ChannelKernel : public Kernel {
 public:
  ChannelKernel(NodeDef n, std::vector<float> scale, std::vector<float> shift, ops::Activation act, bool prelu)
      : node_(std::move(n)), scale_(std::move(scale)), shift_(std::move(shift)), act_(act), prelu_(prelu) {}
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const size_t c = prelu_ ? scale_.size() : scale_.size();
    if (in[0].empty() || (c != 1 && in[0].back() != static_cast<int64_t>(c)))
      ShapeError(node_, "input " + ShapeToString(in[0]) + " does not end in " + std::to_string(c) + " channels");
    return {in[0]};
  }
  void Run(const RunContext& rc) const override {
    const size_t n = static_cast<size_t>(NumElements(rc.in_shapes[0]));
    const size_t channels = static_cast<size_t>(rc.in_shapes[0].back());
    const float* scale = scale_.data();
    const float* shift = shift_.data();
    std::vector<float> bs, bh;  // a single value broadcast over every channel
    if (scale_.size() == 1 && channels != 1) {
      bs.assign(channels, scale_[0]);
      scale = bs.data();
      if (!prelu_) {
        bh.assign(channels, shift_[0]);
        shift = bh.data();
      }
    }
    if (prelu_) ops::PRelu(rc.exec, rc.inputs[0], scale, rc.outputs[0], n / channels, channels);
    else ops::ChannelAffine(rc.exec, rc.inputs[0], scale, shift, rc.outputs[0], n / channels, channels, act_);
  }

 private:
  NodeDef node_;
  std::vector<float> scale_, shift_;
  ops::Activation act_;
  bool prelu_;
};

std::vector<float> FloatConstant(const NodeContext& ctx, size_t i, const char* what) {
  const Constant* c = ctx.constant(i);
  if (!c || c->is_int) ctx.Fail(std::string(what) + " must be a float constant");
  const int64_t n = NumElements(ctx.input(i)->shape);
  return std::vector<float>(c->f32, c->f32 + n);
}

std::unique_ptr<Kernel> MakeBatchNorm(const NodeContext& ctx) {
  ctx.RequireInputs(5, 5);
  const auto mean = FloatConstant(ctx, 3, "mean");
  const auto var = FloatConstant(ctx, 4, "variance");
  const size_t c = mean.size();
  if (var.size() != c || c == 0) ctx.Fail("mean and variance must have the same nonzero length");
  std::vector<float> gamma(c, 1.0f), beta(c, 0.0f);
  if (ctx.has_input(1)) gamma = FloatConstant(ctx, 1, "gamma");
  if (ctx.has_input(2)) beta = FloatConstant(ctx, 2, "beta");
  if (gamma.size() != c || beta.size() != c) ctx.Fail("gamma and beta must have one value per channel");
  const float eps = ctx.node().GetFloat("epsilon", 1e-5f);
  if (!(eps >= 0)) ctx.Fail("epsilon must be >= 0");
  for (float v : var)
    if (!(v + eps > 0)) ctx.Fail("variance + epsilon must be positive");
  std::vector<float> scale(c), shift(c);
  ops::BatchNormToAffine(gamma.data(), beta.data(), mean.data(), var.data(), eps, c, scale.data(), shift.data());
  return std::make_unique<ChannelKernel>(ctx.node(), std::move(scale), std::move(shift), ParseActivation(ctx.node()),
                                         false);
}

std::unique_ptr<Kernel> MakeChannelAffine(const NodeContext& ctx) {
  ctx.RequireInputs(3, 3);
  auto scale = FloatConstant(ctx, 1, "scale");
  auto shift = FloatConstant(ctx, 2, "shift");
  if (scale.empty() || scale.size() != shift.size()) ctx.Fail("scale and shift must have the same nonzero length");
  return std::make_unique<ChannelKernel>(ctx.node(), std::move(scale), std::move(shift), ParseActivation(ctx.node()),
                                         false);
}

std::unique_ptr<Kernel> MakePRelu(const NodeContext& ctx) {
  ctx.RequireInputs(2, 2);
  auto slope = FloatConstant(ctx, 1, "slope");
  if (slope.empty()) ctx.Fail("slope is empty");
  // A slope shaped [1, 1, C] or [C] is per channel of the last dim.
  const Shape& s = ctx.input(1)->shape;
  if (slope.size() != 1 && (s.empty() || s.back() != static_cast<int64_t>(slope.size())))
    ctx.Fail("slope shape " + ShapeToString(s) + " must be one value per channel of the last dimension");
  return std::make_unique<ChannelKernel>(ctx.node(), std::move(slope), std::vector<float>{}, ops::Activation{}, true);
}

}  // namespace

void RegisterElementwiseKernels() {
  const std::pair<const char*, ops::BinaryOp> binaries[] = {
      {"Add", ops::BinaryOp::kAdd}, {"Sub", ops::BinaryOp::kSub}, {"Mul", ops::BinaryOp::kMul},
      {"Div", ops::BinaryOp::kDiv}, {"Max", ops::BinaryOp::kMax}, {"Min", ops::BinaryOp::kMin},
      {"Pow", ops::BinaryOp::kPow}};
  for (const auto& [name, op] : binaries) {
    const ops::BinaryOp o = op;
    RegisterKernel(name, [o](const NodeContext& c) { return std::make_unique<BinaryKernel>(c, o); });
  }
  const std::pair<const char*, ops::ActType> acts[] = {
      {"Relu", ops::ActType::kRelu},         {"Relu6", ops::ActType::kRelu6},     {"LeakyRelu", ops::ActType::kLeakyRelu},
      {"Elu", ops::ActType::kElu},           {"Sigmoid", ops::ActType::kSigmoid}, {"Tanh", ops::ActType::kTanh},
      {"HardSwish", ops::ActType::kHardSwish}, {"Silu", ops::ActType::kSilu},     {"Softplus", ops::ActType::kSoftplus},
      {"Clip", ops::ActType::kClip},         {"Exp", ops::ActType::kExp},         {"Log", ops::ActType::kLog},
      {"Sqrt", ops::ActType::kSqrt},         {"Rsqrt", ops::ActType::kRsqrt},     {"Abs", ops::ActType::kAbs},
      {"Neg", ops::ActType::kNeg},           {"Square", ops::ActType::kSquare},   {"Reciprocal", ops::ActType::kReciprocal}};
  for (const auto& [name, type] : acts) {
    const ops::ActType t = type;
    RegisterKernel(name, [t](const NodeContext& c) { return MakeActivation(c, t); });
  }
  RegisterKernel("PRelu", MakePRelu);
  RegisterKernel("BatchNorm", MakeBatchNorm);
  RegisterKernel("ChannelAffine", MakeChannelAffine);
}

}  // namespace facelib::rt::kernels
