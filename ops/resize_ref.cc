#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ops/resize.h"

namespace facelib::ops {

float ResizeSourceCoord(CoordMode mode, int dst, int in_size, int out_size, float scale) {
  const float s = scale > 0.0f ? scale : static_cast<float>(in_size) / static_cast<float>(out_size);
  const float xd = static_cast<float>(dst);
  switch (mode) {
    case CoordMode::kAsymmetric:
      return xd * s;
    case CoordMode::kAlignCorners:
      // TF computes the ratio once and multiplies; out == 1 maps to 0.
      return out_size > 1 ? xd * (static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1)) : 0.0f;
    case CoordMode::kHalfPixel:
      return (xd + 0.5f) * s - 0.5f;
    case CoordMode::kPytorchHalfPixel:
      return out_size > 1 ? (xd + 0.5f) * s - 0.5f : 0.0f;
    case CoordMode::kTfHalfPixelForNearest:
      return (xd + 0.5f) * s;
  }
  return 0.0f;
}

int ResizeNearestIndex(NearestRound round, float src, int in_size) {
  const float f = std::floor(src);
  const float frac = src - f;  // exact
  float r = f;
  switch (round) {
    case NearestRound::kFloor:
      r = f;
      break;
    case NearestRound::kCeil:
      r = frac > 0.0f ? f + 1.0f : f;
      break;
    case NearestRound::kRoundPreferFloor:  // ties go down: 1.5 -> 1
      r = frac > 0.5f ? f + 1.0f : f;
      break;
    case NearestRound::kRoundPreferCeil:  // ties go up: 1.5 -> 2 (TF align_corners' round)
      r = frac >= 0.5f ? f + 1.0f : f;
      break;
  }
  r = std::min(std::max(r, 0.0f), static_cast<float>(in_size - 1));
  return static_cast<int>(r);
}

ResizeTap ResizeLinearTap(float src, int in_size) {
  src = std::min(std::max(src, 0.0f), static_cast<float>(in_size - 1));
  ResizeTap t;
  t.i0 = static_cast<int>(src);  // floor: src >= 0
  t.i1 = std::min(t.i0 + 1, in_size - 1);
  t.w = src - static_cast<float>(t.i0);
  return t;
}

void ResizeRef(const ResizeParams& p, const float* x, float* y) {
  if (p.in_h <= 0 || p.in_w <= 0) return;
  const size_t C = static_cast<size_t>(p.channels);
  auto at = [&](int n, int iy, int ix, size_t c) {
    return x[((static_cast<size_t>(n) * p.in_h + iy) * p.in_w + ix) * C + c];
  };
  for (int n = 0; n < p.batch; ++n) {
    for (int oy = 0; oy < p.out_h; ++oy) {
      const float sy = ResizeSourceCoord(p.coord, oy, p.in_h, p.out_h, p.scale_h);
      for (int ox = 0; ox < p.out_w; ++ox) {
        const float sx = ResizeSourceCoord(p.coord, ox, p.in_w, p.out_w, p.scale_w);
        float* out = y + ((static_cast<size_t>(n) * p.out_h + oy) * p.out_w + ox) * C;
        if (p.method == ResizeMethod::kNearest) {
          const int iy = ResizeNearestIndex(p.nearest, sy, p.in_h);
          const int ix = ResizeNearestIndex(p.nearest, sx, p.in_w);
          for (size_t c = 0; c < C; ++c) out[c] = at(n, iy, ix, c);
        } else {
          const ResizeTap ty = ResizeLinearTap(sy, p.in_h);
          const ResizeTap tx = ResizeLinearTap(sx, p.in_w);
          for (size_t c = 0; c < C; ++c) {
            const float top = (1.0f - tx.w) * at(n, ty.i0, tx.i0, c) + tx.w * at(n, ty.i0, tx.i1, c);
            const float bot = (1.0f - tx.w) * at(n, ty.i1, tx.i0, c) + tx.w * at(n, ty.i1, tx.i1, c);
            out[c] = (1.0f - ty.w) * top + ty.w * bot;
          }
        }
      }
    }
  }
}

}  // namespace facelib::ops
