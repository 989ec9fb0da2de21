// Conv2D, Dense, MatMul and LocallyConnected2D nodes.
//
// Conv2D      inputs: x [N,H,W,C], weights [O,KH,KW,C/groups] (constant), bias [O] (optional constant),
//                     residual (optional, run time; broadcasts to the output, added before the activation),
//                     post scale [O], post shift [O] (optional constants, applied after the activation)
//             attrs:  strides, dilations, padding/pads, groups, activation*
// Conv2DPair  (made at load by FuseConvChains) a 1x1 conv and a depthwise conv run as one
//             inputs: x, first weights, first bias (optional), second weights, second bias (optional),
//                     residual (optional; depthwise_pointwise only)
//             attrs:  order (pointwise_depthwise | depthwise_pointwise), the depthwise conv's strides,
//                     dilations, padding/pads; activation* (second conv), first_activation* (first conv);
//                     max_pool [2, 2] (pointwise_depthwise, no residual): a 2x2 stride-2 max pool of the result
// Dense       inputs: x [..., K], weights [K, N] (constant), bias [N] (optional); attrs: activation*
// MatMul      inputs: a [..., M, K], b [..., K, N] (b may be constant: then it runs as Dense)
// LocallyConnected2D inputs: x, weights [OH*OW, KH, KW, C, O], bias [OH*OW, O] (optional)
//             attrs: kernel, strides (VALID padding)
#include "ops/conv2d.h"
#include "ops/dense.h"
#include "ops/elementwise.h"
#include "ops/locally_connected.h"
#include "runtime/kernels/builtin.h"
#include "runtime/kernels/window.h"

namespace facelib::rt::kernels {
namespace {

// A fused residual (the other operand of an Add that followed the conv) must
// broadcast to the conv's output shape.
void CheckResidual(const NodeDef& n, const Shape& out, const Shape& residual) {
  std::vector<int64_t> b;
  if (!ops::BroadcastShapes(out, residual, &b) || b != out)
    ShapeError(n, "residual " + ShapeToString(residual) + " does not broadcast to the output " + ShapeToString(out));
}

// out = act(out + residual) for a residual of another shape than out (broadcast).
void AddBroadcastResidual(const RunContext& rc, size_t residual_input, const ops::Activation& act) {
  ops::BinaryParams bp;
  bp.op = ops::BinaryOp::kAdd;
  bp.a_shape = rc.out_shapes[0];
  bp.b_shape = rc.in_shapes[residual_input];
  bp.out_shape = rc.out_shapes[0];
  bp.act = act;
  ops::Binary(rc.exec, bp, rc.outputs[0], rc.inputs[residual_input], rc.outputs[0]);
}

class Conv2DKernel : public Kernel {
 public:
  explicit Conv2DKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(2, 6);
    const TensorDef* w = ctx.input(1);
    if (!ctx.constant(1) || ctx.constant(1)->is_int || w->shape.size() != 4)
      ctx.Fail("weights must be a rank-4 float constant [O, KH, KW, C/groups]");
    win_ = Window2D::Parse(ctx, false);
    const int64_t groups = ctx.node().GetInt("groups", 1);
    for (int64_t d : w->shape)
      if (d < 1 || d > (1 << 20)) ctx.Fail("weights shape " + ShapeToString(w->shape) + " is out of range");
    if (groups < 1 || w->shape[0] % groups != 0)
      ctx.Fail("groups=" + std::to_string(groups) + " does not divide " + std::to_string(w->shape[0]) + " outputs");
    win_.kh = static_cast<int>(w->shape[1]);
    win_.kw = static_cast<int>(w->shape[2]);
    if (ctx.node().Has("kernel")) {
      const auto k = ctx.node().GetInts("kernel");
      if (k.size() != 2 || k[0] != win_.kh || k[1] != win_.kw)
        ctx.Fail("attribute 'kernel' disagrees with the weights shape " + ShapeToString(w->shape));
    }
    p_.out_c = static_cast<int>(w->shape[0]);
    p_.groups = static_cast<int>(groups);
    p_.in_c = static_cast<int>(w->shape[3] * groups);
    p_.kernel_h = win_.kh;
    p_.kernel_w = win_.kw;
    p_.stride_h = win_.sh;
    p_.stride_w = win_.sw;
    p_.dilation_h = win_.dh;
    p_.dilation_w = win_.dw;
    p_.act = ParseActivation(ctx.node());
    const float* bias = ctx.has_input(2) ? ctx.RequireFloatConstant(2, p_.out_c, "bias") : nullptr;
    const float* post_scale = ctx.has_input(4) ? ctx.RequireFloatConstant(4, p_.out_c, "post scale") : nullptr;
    const float* post_shift = ctx.has_input(5) ? ctx.RequireFloatConstant(5, p_.out_c, "post shift") : nullptr;
    post_ = post_scale != nullptr || post_shift != nullptr;
    packed_ = ops::PackConv2D(p_, ctx.constant(1)->f32, bias, post_scale, post_shift);
  }

  ops::Conv2DParams Params(const Shape& x) const {
    if (x.size() != 4) ShapeError(node_, "input must be NHWC, got " + ShapeToString(x));
    if (x[3] != p_.in_c)
      ShapeError(node_, "input has " + std::to_string(x[3]) + " channels, weights expect " + std::to_string(p_.in_c));
    ops::Conv2DParams p = p_;
    p.batch = ToInt(node_, x[0], "batch");
    p.in_h = ToInt(node_, x[1], "height");
    p.in_w = ToInt(node_, x[2], "width");
    const auto r = win_.Resolve(node_, x[1], x[2]);
    p.out_h = r.out_h;
    p.out_w = r.out_w;
    p.pad_top = r.top;
    p.pad_left = r.left;
    p.pad_bottom = r.bottom;
    p.pad_right = r.right;
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto p = Params(in[0]);
    Shape out = {p.batch, p.out_h, p.out_w, p.out_c};
    if (in.size() > 3 && node_.inputs[3] >= 0) {
      CheckResidual(node_, out, in[3]);
      if (post_ && in[3] != out) ShapeError(node_, "a residual with a post affine must have the output's shape");
    }
    return {out};
  }
  size_t ScratchBytes(const std::vector<Shape>& in, const std::vector<Shape>&) const override {
    return packed_->ScratchBytes(Params(in[0]));
  }
  double Cost(const std::vector<Shape>&, const std::vector<Shape>& out) const override {
    return 2.0 * static_cast<double>(NumElements(out[0])) * p_.kernel_h * p_.kernel_w * (p_.in_c / p_.groups);
  }
  void Run(const RunContext& rc) const override {
    ops::Conv2DParams p = Params(rc.in_shapes[0]);
    const float* residual = rc.inputs.size() > 3 ? rc.inputs[3] : nullptr;
    if (residual != nullptr && rc.in_shapes[3] != rc.out_shapes[0]) {
      const ops::Activation act = p.act;
      p.act = ops::Activation::None();
      packed_->Run(rc.exec, p, rc.inputs[0], rc.outputs[0], rc.scratch);
      AddBroadcastResidual(rc, 3, act);
      return;
    }
    packed_->Run(rc.exec, p, rc.inputs[0], residual, rc.outputs[0], rc.scratch);
  }

 private:
  NodeDef node_;
  Window2D win_;
  ops::Conv2DParams p_;
  bool post_ = false;
  std::unique_ptr<ops::PackedConv2D> packed_;
};

class Conv2DPairKernel : public Kernel {
 public:
  explicit Conv2DPairKernel(const NodeContext& ctx) : node_(ctx.node()) {
    if (ctx.num_inputs() < 4 || ctx.num_inputs() > 6 || !ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(3))
      ctx.Fail("expects inputs x, first weights, [first bias], second weights, [second bias], [residual]");
    const std::string order = ctx.node().GetString("order", "");
    if (order != "pointwise_depthwise" && order != "depthwise_pointwise")
      ctx.Fail("order must be pointwise_depthwise or depthwise_pointwise, not '" + order + "'");
    pointwise_first_ = order == "pointwise_depthwise";
    if (pointwise_first_ && ctx.has_input(5)) ctx.Fail("a residual needs order depthwise_pointwise");
    if (ctx.node().Has("max_pool")) {
      if (ctx.node().GetInts("max_pool") != std::vector<int64_t>{2, 2})
        ctx.Fail("max_pool must be [2, 2]");
      if (!pointwise_first_) ctx.Fail("max_pool needs order pointwise_depthwise");
      max_pool_ = true;
    }
    const float* w[2];
    Shape ws[2];
    for (int i = 0; i < 2; ++i) {
      const size_t in = i == 0 ? 1 : 3;
      const TensorDef* t = ctx.input(in);
      if (!ctx.constant(in) || ctx.constant(in)->is_int || t->shape.size() != 4)
        ctx.Fail("weights (input " + std::to_string(in) + ") must be a rank-4 float constant");
      for (int64_t d : t->shape)
        if (d < 1 || d > (1 << 20)) ctx.Fail("weights shape " + ShapeToString(t->shape) + " is out of range");
      w[i] = ctx.constant(in)->f32;
      ws[i] = t->shape;
    }
    const Shape& pw = ws[pointwise_first_ ? 0 : 1];
    const Shape& dw = ws[pointwise_first_ ? 1 : 0];
    if (pw[1] != 1 || pw[2] != 1 || dw[3] != 1 || dw[0] < 2 || (pointwise_first_ ? pw[0] != dw[0] : pw[3] != dw[0]))
      ctx.Fail("weights " + ShapeToString(ws[0]) + " and " + ShapeToString(ws[1]) + " are not a 1x1 and a " +
               "depthwise conv of chained channels in the order '" + order + "'");
    win_ = Window2D::Parse(ctx, false);
    win_.kh = static_cast<int>(dw[1]);
    win_.kw = static_cast<int>(dw[2]);
    ops::Conv2DParams& pwp = pointwise_first_ ? first_ : second_;
    ops::Conv2DParams& dwp = pointwise_first_ ? second_ : first_;
    pwp.in_c = static_cast<int>(pw[3]);
    pwp.out_c = static_cast<int>(pw[0]);
    dwp.in_c = dwp.out_c = dwp.groups = static_cast<int>(dw[0]);
    dwp.kernel_h = win_.kh;
    dwp.kernel_w = win_.kw;
    dwp.stride_h = win_.sh;
    dwp.stride_w = win_.sw;
    dwp.dilation_h = win_.dh;
    dwp.dilation_w = win_.dw;
    second_.act = ParseActivation(ctx.node());
    NodeDef first_act;  // first_activation* under their plain names
    for (const auto& [key, value] : ctx.node().attrs)
      if (key.rfind("first_", 0) == 0) first_act.attrs[key.substr(6)] = value;
    first_act.name = ctx.node().name;
    first_act.op = ctx.node().op;
    first_.act = ParseActivation(first_act);
    const float* b1 = ctx.has_input(2) ? ctx.RequireFloatConstant(2, first_.out_c, "first bias") : nullptr;
    const float* b2 = ctx.has_input(4) ? ctx.RequireFloatConstant(4, second_.out_c, "second bias") : nullptr;
    packed_ = ops::PackConvPair(first_, w[0], b1, second_, w[1], b2, max_pool_);
    if (!packed_) ctx.Fail("the convs do not form a fusable pair");
  }

  // Params of both convs for input shape x.
  std::pair<ops::Conv2DParams, ops::Conv2DParams> Params(const Shape& x) const {
    if (x.size() != 4) ShapeError(node_, "input must be NHWC, got " + ShapeToString(x));
    if (x[3] != first_.in_c)
      ShapeError(node_, "input has " + std::to_string(x[3]) + " channels, weights expect " +
                            std::to_string(first_.in_c));
    ops::Conv2DParams a = first_, b = second_;
    a.batch = b.batch = ToInt(node_, x[0], "batch");
    a.in_h = ToInt(node_, x[1], "height");
    a.in_w = ToInt(node_, x[2], "width");
    ops::Conv2DParams& dw = pointwise_first_ ? b : a;
    if (pointwise_first_) {
      a.out_h = b.in_h = a.in_h;
      a.out_w = b.in_w = a.in_w;
    }
    const auto r = win_.Resolve(node_, dw.in_h, dw.in_w);
    dw.out_h = r.out_h;
    dw.out_w = r.out_w;
    dw.pad_top = r.top;
    dw.pad_left = r.left;
    dw.pad_bottom = r.bottom;
    dw.pad_right = r.right;
    if (!pointwise_first_) {
      b.in_h = b.out_h = a.out_h;
      b.in_w = b.out_w = a.out_w;
    }
    return {a, b};
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto [a, b] = Params(in[0]);
    Shape out = {b.batch, b.out_h, b.out_w, b.out_c};
    if (max_pool_) {
      out[1] /= 2;
      out[2] /= 2;
      if (out[1] < 1 || out[2] < 1)
        ShapeError(node_, "a 2x2 max pool does not fit the " + std::to_string(b.out_h) + "x" +
                              std::to_string(b.out_w) + " result");
    }
    if (in.size() > 5 && node_.inputs[5] >= 0) CheckResidual(node_, out, in[5]);
    return {out};
  }
  size_t ScratchBytes(const std::vector<Shape>& in, const std::vector<Shape>&) const override {
    const auto [a, b] = Params(in[0]);
    return packed_->ScratchBytes(a, b);
  }
  double Cost(const std::vector<Shape>& in, const std::vector<Shape>&) const override {
    const auto [a, b] = Params(in[0]);
    auto flops = [](const ops::Conv2DParams& p) {
      return 2.0 * p.batch * p.out_h * p.out_w * p.out_c * p.kernel_h * p.kernel_w * (p.in_c / p.groups);
    };
    return flops(a) + flops(b);
  }
  void Run(const RunContext& rc) const override {
    auto [a, b] = Params(rc.in_shapes[0]);
    const float* residual = rc.inputs.size() > 5 ? rc.inputs[5] : nullptr;
    if (residual != nullptr && rc.in_shapes[5] != rc.out_shapes[0]) {
      const ops::Activation act = b.act;
      b.act = ops::Activation::None();
      packed_->Run(rc.exec, a, b, rc.inputs[0], nullptr, rc.outputs[0], rc.scratch);
      AddBroadcastResidual(rc, 5, act);
      return;
    }
    packed_->Run(rc.exec, a, b, rc.inputs[0], residual, rc.outputs[0], rc.scratch);
  }

 private:
  NodeDef node_;
  bool pointwise_first_ = true;
  bool max_pool_ = false;
  Window2D win_;
  ops::Conv2DParams first_, second_;
  std::unique_ptr<ops::PackedConvPair> packed_;
};

class DenseKernel : public Kernel {
 public:
  explicit DenseKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(2, 3);
    const TensorDef* w = ctx.input(1);
    if (!ctx.constant(1) || ctx.constant(1)->is_int || w->shape.size() != 2 || w->shape[0] < 1 || w->shape[1] < 1)
      ctx.Fail("weights must be a rank-2 float constant [K, N]");
    p_.in_features = static_cast<int>(w->shape[0]);
    p_.out_features = static_cast<int>(w->shape[1]);
    p_.act = ParseActivation(ctx.node());
    const float* bias = ctx.has_input(2) ? ctx.RequireFloatConstant(2, p_.out_features, "bias") : nullptr;
    packed_ = ops::PackDense(p_, ctx.constant(1)->f32, bias);
  }
  ops::DenseParams Params(const Shape& x) const {
    if (x.empty() || x.back() != p_.in_features)
      ShapeError(node_, "input " + ShapeToString(x) + " must end in " + std::to_string(p_.in_features) + " features");
    ops::DenseParams p = p_;
    p.rows = ToInt(node_, NumElements(x) / p_.in_features, "rows");
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    Params(in[0]);
    Shape out = in[0];
    out.back() = p_.out_features;
    return {out};
  }
  double Cost(const std::vector<Shape>&, const std::vector<Shape>& out) const override {
    return 2.0 * static_cast<double>(NumElements(out[0])) * p_.in_features;
  }
  void Run(const RunContext& rc) const override {
    packed_->Run(rc.exec, Params(rc.in_shapes[0]), rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  ops::DenseParams p_;
  std::unique_ptr<ops::PackedDense> packed_;
};

// MatMul of two run-time tensors. b may have no batch dims (shared by every batch).
class MatMulKernel : public Kernel {
 public:
  explicit MatMulKernel(const NodeContext& ctx) : node_(ctx.node()) { ctx.RequireInputs(2, 2); }
  struct Dims {
    int64_t batch, m, k, n;
    bool b_shared;
  };
  Dims Get(const Shape& a, const Shape& b) const {
    if (a.size() < 2 || b.size() < 2) ShapeError(node_, "MatMul inputs must have rank >= 2");
    Dims d{1, a[a.size() - 2], a.back(), b.back(), b.size() == 2};
    if (b[b.size() - 2] != d.k)
      ShapeError(node_, "inner dimensions differ: " + ShapeToString(a) + " x " + ShapeToString(b));
    for (size_t i = 0; i + 2 < a.size(); ++i) d.batch *= a[i];
    if (!d.b_shared) {
      if (b.size() != a.size()) ShapeError(node_, "batched MatMul needs equal ranks");
      for (size_t i = 0; i + 2 < a.size(); ++i)
        if (a[i] != b[i]) ShapeError(node_, "batch dims differ: " + ShapeToString(a) + " x " + ShapeToString(b));
    }
    return d;
  }
  double Cost(const std::vector<Shape>& in, const std::vector<Shape>& out) const override {
    return 2.0 * static_cast<double>(NumElements(out[0])) * static_cast<double>(in[0].back());
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    Get(in[0], in[1]);
    Shape out = in[0];
    out.back() = in[1].back();
    return {out};
  }
  void Run(const RunContext& rc) const override {
    const Dims d = Get(rc.in_shapes[0], rc.in_shapes[1]);
    if (d.b_shared) {
      ops::MatMul(rc.exec, 1, static_cast<int>(d.batch * d.m), static_cast<int>(d.k), static_cast<int>(d.n),
                  rc.inputs[0], rc.inputs[1], rc.outputs[0]);
    } else {
      ops::MatMul(rc.exec, static_cast<int>(d.batch), static_cast<int>(d.m), static_cast<int>(d.k),
                  static_cast<int>(d.n), rc.inputs[0], rc.inputs[1], rc.outputs[0]);
    }
  }

 private:
  NodeDef node_;
};

class LocallyConnectedKernel : public Kernel {
 public:
  explicit LocallyConnectedKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(2, 3);
    const TensorDef* w = ctx.input(1);
    if (!ctx.constant(1) || ctx.constant(1)->is_int || w->shape.size() != 5)
      ctx.Fail("weights must be a rank-5 float constant [OH*OW, KH, KW, C, O]");
    const Window2D win = Window2D::Parse(ctx, true);
    if (win.kh != w->shape[1] || win.kw != w->shape[2]) ctx.Fail("kernel attribute disagrees with the weights");
    const auto out_size = ctx.node().GetInts("output_size");
    if (out_size.size() != 2 || out_size[0] < 1 || out_size[1] < 1 || out_size[0] * out_size[1] != w->shape[0])
      ctx.Fail("attribute 'output_size' [OH, OW] must match the weights' first dimension");
    p_.kernel_h = win.kh;
    p_.kernel_w = win.kw;
    p_.stride_h = win.sh;
    p_.stride_w = win.sw;
    p_.out_h = static_cast<int>(out_size[0]);
    p_.out_w = static_cast<int>(out_size[1]);
    p_.in_c = static_cast<int>(w->shape[3]);
    p_.out_c = static_cast<int>(w->shape[4]);
    p_.act = ParseActivation(ctx.node());
    const float* bias =
        ctx.has_input(2) ? ctx.RequireFloatConstant(2, w->shape[0] * w->shape[4], "bias") : nullptr;
    packed_ = ops::PackLocallyConnected(p_, ctx.constant(1)->f32, bias);
  }
  ops::LocallyConnectedParams Params(const Shape& x) const {
    if (x.size() != 4 || x[3] != p_.in_c) ShapeError(node_, "input " + ShapeToString(x) + " does not fit the weights");
    ops::LocallyConnectedParams p = p_;
    p.batch = ToInt(node_, x[0], "batch");
    p.in_h = ToInt(node_, x[1], "height");
    p.in_w = ToInt(node_, x[2], "width");
    if (ops::ConvOutputSize(p.in_h, p.kernel_h, p.stride_h, 1, 0, 0) != p.out_h ||
        ops::ConvOutputSize(p.in_w, p.kernel_w, p.stride_w, 1, 0, 0) != p.out_w)
      ShapeError(node_, "input " + ShapeToString(x) + " does not produce the " + std::to_string(p.out_h) + "x" +
                            std::to_string(p.out_w) + " output the weights were trained for");
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto p = Params(in[0]);
    return {{p.batch, p.out_h, p.out_w, p.out_c}};
  }
  double Cost(const std::vector<Shape>&, const std::vector<Shape>& out) const override {
    return 2.0 * static_cast<double>(NumElements(out[0])) * p_.kernel_h * p_.kernel_w * p_.in_c;
  }
  void Run(const RunContext& rc) const override {
    packed_->Run(rc.exec, Params(rc.in_shapes[0]), rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  ops::LocallyConnectedParams p_;
  std::unique_ptr<ops::PackedLocallyConnected> packed_;
};

}  // namespace

void RegisterConvKernels() {
  RegisterKernel("Conv2D", [](const NodeContext& c) { return std::make_unique<Conv2DKernel>(c); });
  RegisterKernel("Conv2DPair", [](const NodeContext& c) { return std::make_unique<Conv2DPairKernel>(c); });
  RegisterKernel("Dense", [](const NodeContext& c) { return std::make_unique<DenseKernel>(c); });
  RegisterKernel("MatMul", [](const NodeContext& c) -> std::unique_ptr<Kernel> {
    if (c.constant(1) && !c.constant(1)->is_int && c.input(1)->shape.size() == 2 && c.num_inputs() == 2)
      return std::make_unique<DenseKernel>(c);
    return std::make_unique<MatMulKernel>(c);
  });
  RegisterKernel("LocallyConnected2D",
                 [](const NodeContext& c) { return std::make_unique<LocallyConnectedKernel>(c); });
}

}  // namespace facelib::rt::kernels
