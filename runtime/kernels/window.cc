#include "runtime/kernels/window.h"

namespace facelib::rt::kernels {

namespace {
void ReadPair(const NodeContext& ctx, const char* key, int* a, int* b) {
  const auto v = ctx.node().GetInts(key, {*a, *b});
  if (v.size() != 2) ctx.Fail(std::string("attribute '") + key + "' must have 2 values");
  if (v[0] < 1 || v[1] < 1 || v[0] > 4096 || v[1] > 4096)
    ctx.Fail(std::string("attribute '") + key + "' must be in 1..4096");
  *a = static_cast<int>(v[0]);
  *b = static_cast<int>(v[1]);
}
}  // namespace

Window2D Window2D::Parse(const NodeContext& ctx, bool with_kernel) {
  Window2D w;
  if (with_kernel) {
    if (!ctx.node().Has("kernel")) ctx.Fail("attribute 'kernel' is required");
    ReadPair(ctx, "kernel", &w.kh, &w.kw);
  }
  ReadPair(ctx, "strides", &w.sh, &w.sw);
  ReadPair(ctx, "dilations", &w.dh, &w.dw);
  const std::string pad = ctx.node().GetString("padding", "EXPLICIT");
  if (pad == "SAME") w.mode = ops::PaddingMode::kSame;
  else if (pad == "VALID") w.mode = ops::PaddingMode::kValid;
  else if (pad == "EXPLICIT") w.mode = ops::PaddingMode::kExplicit;
  else ctx.Fail("padding must be SAME, VALID or EXPLICIT, not '" + pad + "'");
  if (w.mode == ops::PaddingMode::kExplicit) {
    const auto p = ctx.node().GetInts("pads", {0, 0, 0, 0});
    if (p.size() != 4) ctx.Fail("attribute 'pads' must be [top, left, bottom, right]");
    for (int i = 0; i < 4; ++i) {
      if (p[i] < 0 || p[i] > 4096) ctx.Fail("pads must be in 0..4096");
      w.pads[i] = static_cast<int>(p[i]);
    }
  }
  return w;
}

Window2D::Resolved Window2D::Resolve(const NodeDef& n, int64_t in_h, int64_t in_w) const {
  Resolved r{0, 0, pads[0], pads[1], pads[2], pads[3]};
  const int ih = ToInt(n, in_h, "input height"), iw = ToInt(n, in_w, "input width");
  ops::ResolvePadding(mode, ih, kh, sh, dh, &r.top, &r.bottom);
  ops::ResolvePadding(mode, iw, kw, sw, dw, &r.left, &r.right);
  r.out_h = ops::ConvOutputSize(ih, kh, sh, dh, r.top, r.bottom);
  r.out_w = ops::ConvOutputSize(iw, kw, sw, dw, r.left, r.right);
  if (r.out_h <= 0 || r.out_w <= 0)
    ShapeError(n, "a " + std::to_string(kh) + "x" + std::to_string(kw) + " window does not fit a " +
                      std::to_string(ih) + "x" + std::to_string(iw) + " input");
  return r;
}

}  // namespace facelib::rt::kernels
