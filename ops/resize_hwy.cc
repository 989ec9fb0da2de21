#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/resize_hwy.cc"
#include <algorithm>
#include <cstddef>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/resize.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Copies one pixel of `channels` floats.
HWY_INLINE void CopyPixel(const float* HWY_RESTRICT src, float* HWY_RESTRICT dst, size_t channels) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t c = 0;
  for (; c + N <= channels; c += N) hn::StoreU(hn::LoadU(d, src + c), d, dst + c);
  if (c < channels) {
    const auto m = hn::FirstN(d, channels - c);
    hn::BlendedStore(hn::MaskedLoad(m, d, src + c), m, d, dst + c);
  }
}

// out = (1-wy) * ((1-wx) * p00 + wx * p01) + wy * ((1-wx) * p10 + wx * p11), per channel.
HWY_INLINE void BlendPixel(const float* HWY_RESTRICT p00, const float* HWY_RESTRICT p01,
                           const float* HWY_RESTRICT p10, const float* HWY_RESTRICT p11, float wx,
                           float wy, float* HWY_RESTRICT out, size_t channels) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vwx = hn::Set(d, wx), vwx1 = hn::Set(d, 1.0f - wx);
  const auto vwy = hn::Set(d, wy), vwy1 = hn::Set(d, 1.0f - wy);
  size_t c = 0;
  for (; c + N <= channels; c += N) {
    const auto top = hn::MulAdd(vwx, hn::LoadU(d, p01 + c), hn::Mul(vwx1, hn::LoadU(d, p00 + c)));
    const auto bot = hn::MulAdd(vwx, hn::LoadU(d, p11 + c), hn::Mul(vwx1, hn::LoadU(d, p10 + c)));
    hn::StoreU(hn::MulAdd(vwy, bot, hn::Mul(vwy1, top)), d, out + c);
  }
  if (c < channels) {
    const auto m = hn::FirstN(d, channels - c);
    const auto top = hn::MulAdd(vwx, hn::MaskedLoad(m, d, p01 + c), hn::Mul(vwx1, hn::MaskedLoad(m, d, p00 + c)));
    const auto bot = hn::MulAdd(vwx, hn::MaskedLoad(m, d, p11 + c), hn::Mul(vwx1, hn::MaskedLoad(m, d, p10 + c)));
    hn::BlendedStore(hn::MulAdd(vwy, bot, hn::Mul(vwy1, top)), m, d, out + c);
  }
}

// Output rows [row_begin, row_end) of the flattened [batch * out_h] row index.
// Coordinates come from the shared scalar helpers, so the taps are exactly the
// reference's; only the per-channel arithmetic is vectorised.
void ResizeRows(const ResizeParams& p, const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                size_t row_begin, size_t row_end) {
  const size_t C = static_cast<size_t>(p.channels);
  const size_t in_row = static_cast<size_t>(p.in_w) * C;
  for (size_t row = row_begin; row < row_end; ++row) {
    const int n = static_cast<int>(row / p.out_h);
    const int oy = static_cast<int>(row % p.out_h);
    const float* img = x + static_cast<size_t>(n) * p.in_h * in_row;
    float* out = y + row * p.out_w * C;
    const float sy = ResizeSourceCoord(p.coord, oy, p.in_h, p.out_h, p.scale_h);
    if (p.method == ResizeMethod::kNearest) {
      const float* src_row = img + ResizeNearestIndex(p.nearest, sy, p.in_h) * in_row;
      for (int ox = 0; ox < p.out_w; ++ox) {
        const float sx = ResizeSourceCoord(p.coord, ox, p.in_w, p.out_w, p.scale_w);
        CopyPixel(src_row + ResizeNearestIndex(p.nearest, sx, p.in_w) * C, out + ox * C, C);
      }
    } else {
      const ResizeTap ty = ResizeLinearTap(sy, p.in_h);
      const float* r0 = img + ty.i0 * in_row;
      const float* r1 = img + ty.i1 * in_row;
      for (int ox = 0; ox < p.out_w; ++ox) {
        const ResizeTap tx =
            ResizeLinearTap(ResizeSourceCoord(p.coord, ox, p.in_w, p.out_w, p.scale_w), p.in_w);
        BlendPixel(r0 + tx.i0 * C, r0 + tx.i1 * C, r1 + tx.i0 * C, r1 + tx.i1 * C, tx.w, ty.w,
                   out + ox * C, C);
      }
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
namespace facelib::ops {
HWY_EXPORT(ResizeRows);

void Resize(const ExecContext& ctx, const ResizeParams& p, const float* x, float* y) {
  if (p.in_h <= 0 || p.in_w <= 0 || p.channels <= 0 || p.out_w <= 0) return;
  const size_t rows = static_cast<size_t>(p.batch) * std::max(p.out_h, 0);
  if (rows == 0) return;
  const size_t row_elems = static_cast<size_t>(p.out_w) * p.channels;
  const size_t rows_per_task = std::max<size_t>(1, 16384 / row_elems);
  const size_t tasks = (rows + rows_per_task - 1) / rows_per_task;
  const auto fn = HWY_DYNAMIC_DISPATCH(ResizeRows);
  ParallelFor(ctx.num_threads, tasks, [&](size_t t0, size_t t1) {
    fn(p, x, y, t0 * rows_per_task, std::min(rows, t1 * rows_per_task));
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
