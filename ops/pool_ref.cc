#include <algorithm>

#include "ops/pool.h"

namespace facelib::ops {

// Window semantics (shared with the SIMD kernel):
//  * output (oy, ox) covers input rows [oy*stride_h - pad_top, + kernel_h) and
//    columns [ox*stride_w - pad_left, + kernel_w);
//  * max pooling ignores padded cells;
//  * average pooling divides by the number of real input cells, or, with
//    count_include_pad, by the number of cells inside the padded input (cells a
//    ceil-mode window sticks out beyond pad_bottom/pad_right are not counted, as
//    in ONNX Runtime and PyTorch);
//  * a window that holds no real input cell yields 0 (before the activation).
void PoolRef(const PoolParams& p, const float* x, float* y) {
  for (int n = 0; n < p.batch; ++n) {
    for (int oy = 0; oy < p.out_h; ++oy) {
      for (int ox = 0; ox < p.out_w; ++ox) {
        const int hs = oy * p.stride_h - p.pad_top;
        const int ws = ox * p.stride_w - p.pad_left;
        const int he = hs + p.kernel_h;
        const int we = ws + p.kernel_w;
        const int padded_h = std::min(he, p.in_h + p.pad_bottom) - hs;
        const int padded_w = std::min(we, p.in_w + p.pad_right) - ws;
        const int y0 = std::max(hs, 0), y1 = std::min(he, p.in_h);
        const int x0 = std::max(ws, 0), x1 = std::min(we, p.in_w);
        const bool empty = y1 <= y0 || x1 <= x0;
        const int count = empty ? 0 : (y1 - y0) * (x1 - x0);
        for (int c = 0; c < p.channels; ++c) {
          float v = 0.0f;
          if (!empty) {
            if (p.type == PoolType::kMax) {
              v = x[((static_cast<size_t>(n) * p.in_h + y0) * p.in_w + x0) * p.channels + c];
              for (int iy = y0; iy < y1; ++iy) {
                for (int ix = x0; ix < x1; ++ix) {
                  const float e = x[((static_cast<size_t>(n) * p.in_h + iy) * p.in_w + ix) * p.channels + c];
                  v = e > v ? e : v;
                }
              }
            } else {
              float sum = 0.0f;
              for (int iy = y0; iy < y1; ++iy) {
                for (int ix = x0; ix < x1; ++ix) {
                  sum += x[((static_cast<size_t>(n) * p.in_h + iy) * p.in_w + ix) * p.channels + c];
                }
              }
              const int div = p.count_include_pad ? padded_h * padded_w : count;
              v = sum / static_cast<float>(div);
            }
          }
          y[((static_cast<size_t>(n) * p.out_h + oy) * p.out_w + ox) * p.channels + c] =
              ApplyActivationScalar(p.act, v);
        }
      }
    }
  }
}

void GlobalPoolRef(PoolType type, int batch, int hw, int channels, const float* x, float* y) {
  for (int n = 0; n < batch; ++n) {
    for (int c = 0; c < channels; ++c) {
      const float* xc = x + static_cast<size_t>(n) * hw * channels + c;
      float v;
      if (type == PoolType::kMax) {
        v = hw > 0 ? xc[0] : 0.0f;
        for (int i = 1; i < hw; ++i) v = xc[static_cast<size_t>(i) * channels] > v ? xc[static_cast<size_t>(i) * channels] : v;
      } else {
        float sum = 0.0f;
        for (int i = 0; i < hw; ++i) sum += xc[static_cast<size_t>(i) * channels];
        v = hw > 0 ? sum / static_cast<float>(hw) : 0.0f;
      }
      y[static_cast<size_t>(n) * channels + c] = v;
    }
  }
}

}  // namespace facelib::ops
