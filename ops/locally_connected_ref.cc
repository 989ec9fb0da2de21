// Scalar reference LocallyConnected2D (double accumulation, see conv2d_ref.cc).
#include "ops/locally_connected.h"

namespace facelib::ops {

void LocallyConnectedRef(const LocallyConnectedParams& p, const float* input, const float* weights,
                         const float* bias, float* output) {
  const size_t patch = static_cast<size_t>(p.kernel_h) * p.kernel_w * p.in_c;
  for (int b = 0; b < p.batch; ++b) {
    for (int oy = 0; oy < p.out_h; ++oy) {
      for (int ox = 0; ox < p.out_w; ++ox) {
        const size_t pos = static_cast<size_t>(oy) * p.out_w + ox;
        const float* w_pos = weights + pos * patch * p.out_c;
        float* out_px = output + (static_cast<size_t>(b) * p.out_h * p.out_w + pos) * p.out_c;
        for (int oc = 0; oc < p.out_c; ++oc) {
          double sum = 0.0;
          for (int ky = 0; ky < p.kernel_h; ++ky) {
            for (int kx = 0; kx < p.kernel_w; ++kx) {
              const int iy = oy * p.stride_h + ky;
              const int ix = ox * p.stride_w + kx;
              const float* in_px =
                  input + ((static_cast<size_t>(b) * p.in_h + iy) * p.in_w + ix) * p.in_c;
              for (int ic = 0; ic < p.in_c; ++ic) {
                const size_t k = (static_cast<size_t>(ky) * p.kernel_w + kx) * p.in_c + ic;
                sum +=
                    static_cast<double>(in_px[ic]) * static_cast<double>(w_pos[k * p.out_c + oc]);
              }
            }
          }
          if (bias != nullptr) sum += bias[pos * p.out_c + oc];
          out_px[oc] = ApplyActivationScalar(p.act, static_cast<float>(sum));
        }
      }
    }
  }
}

}  // namespace facelib::ops
