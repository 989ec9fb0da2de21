// Pooling and resize nodes (NHWC).
//
// MaxPool, AvgPool   attrs: kernel, strides, padding/pads, count_include_pad (0), activation*
// GlobalAvgPool, GlobalMaxPool   attrs: keepdims (1): [N,1,1,C], else [N,C]
// Resize   attrs: method (nearest|bilinear), coordinate_mode (asymmetric|align_corners|half_pixel|
//          pytorch_half_pixel|tf_half_pixel_for_nn), nearest_mode (floor|round_prefer_floor|
//          round_prefer_ceil|ceil), and either size [H, W] or scales [sh, sw] (output = floor(in * scale)),
//          or a second input whose H and W the output takes (e.g. the lateral branch of an FPN)
#include <cmath>
#include <map>

#include "ops/pool.h"
#include "ops/resize.h"
#include "runtime/kernels/builtin.h"
#include "runtime/kernels/window.h"

namespace facelib::rt::kernels {
namespace {

class PoolKernel : public Kernel {
 public:
  PoolKernel(const NodeContext& ctx, ops::PoolType type) : node_(ctx.node()) {
    ctx.RequireInputs(1, 1);
    win_ = Window2D::Parse(ctx, true);
    if (win_.dh != 1 || win_.dw != 1) ctx.Fail("dilated pooling is not supported");
    p_.type = type;
    p_.kernel_h = win_.kh;
    p_.kernel_w = win_.kw;
    p_.stride_h = win_.sh;
    p_.stride_w = win_.sw;
    p_.count_include_pad = ctx.node().GetInt("count_include_pad", 0) != 0;
    p_.act = ParseActivation(ctx.node());
  }
  ops::PoolParams Params(const Shape& x) const {
    if (x.size() != 4) ShapeError(node_, "input must be NHWC, got " + ShapeToString(x));
    ops::PoolParams p = p_;
    p.batch = ToInt(node_, x[0], "batch");
    p.in_h = ToInt(node_, x[1], "height");
    p.in_w = ToInt(node_, x[2], "width");
    p.channels = ToInt(node_, x[3], "channels");
    const auto r = win_.Resolve(node_, x[1], x[2]);
    p.out_h = r.out_h;
    p.out_w = r.out_w;
    p.pad_top = r.top;
    p.pad_left = r.left;
    p.pad_bottom = r.bottom;
    p.pad_right = r.right;
    if (p.pad_top >= p.kernel_h || p.pad_bottom >= p.kernel_h || p.pad_left >= p.kernel_w || p.pad_right >= p.kernel_w)
      ShapeError(node_, "padding must be smaller than the pooling window");
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto p = Params(in[0]);
    return {{p.batch, p.out_h, p.out_w, p.channels}};
  }
  void Run(const RunContext& rc) const override { ops::Pool(rc.exec, Params(rc.in_shapes[0]), rc.inputs[0], rc.outputs[0]); }

 private:
  NodeDef node_;
  Window2D win_;
  ops::PoolParams p_;
};

class GlobalPoolKernel : public Kernel {
 public:
  GlobalPoolKernel(const NodeContext& ctx, ops::PoolType type)
      : node_(ctx.node()), type_(type), keepdims_(ctx.node().GetInt("keepdims", 1) != 0) {
    ctx.RequireInputs(1, 1);
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const Shape& x = in[0];
    if (x.size() != 4) ShapeError(node_, "input must be NHWC, got " + ShapeToString(x));
    if (keepdims_) return {{x[0], 1, 1, x[3]}};
    return {{x[0], x[3]}};
  }
  void Run(const RunContext& rc) const override {
    const Shape& x = rc.in_shapes[0];
    ops::GlobalPool(rc.exec, type_, static_cast<int>(x[0]), static_cast<int>(x[1] * x[2]), static_cast<int>(x[3]),
                    rc.inputs[0], rc.outputs[0]);
  }

 private:
  NodeDef node_;
  ops::PoolType type_;
  bool keepdims_;
};

class ResizeKernel : public Kernel {
 public:
  explicit ResizeKernel(const NodeContext& ctx) : node_(ctx.node()) {
    ctx.RequireInputs(1, 2);
    size_like_ = ctx.has_input(1);
    const std::string method = ctx.node().GetString("method", "bilinear");
    if (method == "nearest") p_.method = ops::ResizeMethod::kNearest;
    else if (method == "bilinear") p_.method = ops::ResizeMethod::kBilinear;
    else ctx.Fail("method must be nearest or bilinear, not '" + method + "'");
    static const std::map<std::string, ops::CoordMode> kCoord = {
        {"asymmetric", ops::CoordMode::kAsymmetric},
        {"align_corners", ops::CoordMode::kAlignCorners},
        {"half_pixel", ops::CoordMode::kHalfPixel},
        {"pytorch_half_pixel", ops::CoordMode::kPytorchHalfPixel},
        {"tf_half_pixel_for_nn", ops::CoordMode::kTfHalfPixelForNearest}};
    static const std::map<std::string, ops::NearestRound> kRound = {
        {"floor", ops::NearestRound::kFloor},
        {"round_prefer_floor", ops::NearestRound::kRoundPreferFloor},
        {"round_prefer_ceil", ops::NearestRound::kRoundPreferCeil},
        {"ceil", ops::NearestRound::kCeil}};
    const std::string coord = ctx.node().GetString("coordinate_mode", "half_pixel");
    const std::string round = ctx.node().GetString("nearest_mode", "floor");
    if (!kCoord.count(coord)) ctx.Fail("unknown coordinate_mode '" + coord + "'");
    if (!kRound.count(round)) ctx.Fail("unknown nearest_mode '" + round + "'");
    p_.coord = kCoord.at(coord);
    p_.nearest = kRound.at(round);
    size_ = ctx.node().GetInts("size");
    scales_ = ctx.node().GetFloats("scales");
    if ((size_.empty() ? 0 : 1) + (scales_.empty() ? 0 : 1) + (size_like_ ? 1 : 0) != 1)
      ctx.Fail("give exactly one of 'size' [H, W], 'scales' [sh, sw] or a second input to take the size from");
    if (!size_.empty() && (size_.size() != 2 || size_[0] < 1 || size_[1] < 1 || size_[0] > (1 << 16) || size_[1] > (1 << 16)))
      ctx.Fail("'size' must be [H, W] in 1..65536");
    if (!scales_.empty() && (scales_.size() != 2 || !(scales_[0] > 0) || !(scales_[1] > 0) || scales_[0] > 1024 || scales_[1] > 1024))
      ctx.Fail("'scales' must be two positive factors up to 1024");
  }
  ops::ResizeParams Params(const std::vector<Shape>& in) const {
    const Shape& x = in[0];
    if (x.size() != 4) ShapeError(node_, "input must be NHWC, got " + ShapeToString(x));
    ops::ResizeParams p = p_;
    p.batch = ToInt(node_, x[0], "batch");
    p.in_h = ToInt(node_, x[1], "height");
    p.in_w = ToInt(node_, x[2], "width");
    p.channels = ToInt(node_, x[3], "channels");
    if (size_like_) {
      const Shape& like = in[1];
      if (like.size() != 4) ShapeError(node_, "the size reference must be NHWC, got " + ShapeToString(like));
      p.out_h = ToInt(node_, like[1], "height");
      p.out_w = ToInt(node_, like[2], "width");
    } else if (!size_.empty()) {
      p.out_h = static_cast<int>(size_[0]);
      p.out_w = static_cast<int>(size_[1]);
    } else {
      p.out_h = static_cast<int>(std::floor(p.in_h * static_cast<double>(scales_[0])));
      p.out_w = static_cast<int>(std::floor(p.in_w * static_cast<double>(scales_[1])));
      // ONNX maps coordinates with the given scales, not the rounded size ratio.
      p.scale_h = 1.0f / scales_[0];
      p.scale_w = 1.0f / scales_[1];
      if (p.out_h < 1 || p.out_w < 1) ShapeError(node_, "scales give an empty output");
    }
    return p;
  }
  std::vector<Shape> InferShapes(const std::vector<Shape>& in) const override {
    const auto p = Params(in);
    return {{p.batch, p.out_h, p.out_w, p.channels}};
  }
  void Run(const RunContext& rc) const override { ops::Resize(rc.exec, Params(rc.in_shapes), rc.inputs[0], rc.outputs[0]); }

 private:
  NodeDef node_;
  ops::ResizeParams p_;
  bool size_like_ = false;
  std::vector<int64_t> size_;
  std::vector<float> scales_;
};

}  // namespace

void RegisterPoolKernels() {
  RegisterKernel("MaxPool", [](const NodeContext& c) { return std::make_unique<PoolKernel>(c, ops::PoolType::kMax); });
  RegisterKernel("AvgPool", [](const NodeContext& c) { return std::make_unique<PoolKernel>(c, ops::PoolType::kAvg); });
  RegisterKernel("GlobalAvgPool",
                 [](const NodeContext& c) { return std::make_unique<GlobalPoolKernel>(c, ops::PoolType::kAvg); });
  RegisterKernel("GlobalMaxPool",
                 [](const NodeContext& c) { return std::make_unique<GlobalPoolKernel>(c, ops::PoolType::kMax); });
  RegisterKernel("Resize", [](const NodeContext& c) { return std::make_unique<ResizeKernel>(c); });
}

}  // namespace facelib::rt::kernels
