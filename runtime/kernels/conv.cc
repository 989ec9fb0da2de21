// Conv2D, Dense, MatMul and LocallyConnected2D nodes.
//
// Conv2D      inputs: x [N,H,W,C], weights [O,KH,KW,C/groups] (constant), bias [O] (optional constant)
//             attrs:  strides, dilations, padding/pads, groups, activation*
// Dense       inputs: x [..., K], weights [K, N] (constant), bias [N] (optional); attrs: activation*
// MatMul      inputs: a [..., M, K], b [..., K, N] (b may be constant: then it runs as Dense)
// LocallyConnected2D inputs: x, weights [OH*OW, KH, KW, C, O], bias [OH*OW, O] (optional)
//             attrs: kernel, strides (VALID padding)
#include "ops/conv2d.h"
#include "ops/dense.h"
#include "ops/locally_connected.h"
#include "runtime/kernels/builtin.h"
#include "runtime/kernels/window.h"

namespace facelib::rt::kernels {
namespace {

class Conv2DKernel : public Kernel {
 public:
  explicit Conv2DKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(2, 3);
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
    packed_ = ops::PackConv2D(p_, ctx.constant(1)->f32, bias);
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
    return {{p.batch, p.out_h, p.out_w, p.out_c}};
  }
  size_t ScratchBytes(const std::vector<Shape>& in, const std::vector<Shape>&) const override {
    return packed_->ScratchBytes(Params(in[0]));
  }
  double Cost(const std::vector<Shape>&, const std::vector<Shape>& out) const override {
    return 2.0 * static_cast<double>(NumElements(out[0])) * p_.kernel_h * p_.kernel_w * (p_.in_c / p_.groups);
  }
  void Run(const RunContext& rc) const override {
    packed_->Run(rc.exec, Params(rc.in_shapes[0]), rc.inputs[0], rc.outputs[0], rc.scratch);
  }

 private:
  NodeDef node_;
  Window2D win_;
  ops::Conv2DParams p_;
  std::unique_ptr<ops::PackedConv2D> packed_;
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
