// Scalar reference convolution: the definition of truth for the SIMD kernels.
// Sums are accumulated in double so that the reference is more accurate than
// any float kernel it is compared with.
#include "ops/conv2d.h"

namespace facelib::ops {

void Conv2DRef(const Conv2DParams& p, const float* input, const float* weights, const float* bias,
               float* output) {
  const int cin_g = p.in_c / p.groups;
  const int cout_g = p.out_c / p.groups;
  for (int b = 0; b < p.batch; ++b) {
    for (int oy = 0; oy < p.out_h; ++oy) {
      for (int ox = 0; ox < p.out_w; ++ox) {
        float* out_px = output + ((static_cast<size_t>(b) * p.out_h + oy) * p.out_w + ox) * p.out_c;
        for (int oc = 0; oc < p.out_c; ++oc) {
          const int g = oc / cout_g;
          double sum = 0.0;
          for (int ky = 0; ky < p.kernel_h; ++ky) {
            const int iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
            if (iy < 0 || iy >= p.in_h) continue;
            for (int kx = 0; kx < p.kernel_w; ++kx) {
              const int ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
              if (ix < 0 || ix >= p.in_w) continue;
              const float* in_px =
                  input + ((static_cast<size_t>(b) * p.in_h + iy) * p.in_w + ix) * p.in_c;
              const float* w =
                  weights + ((static_cast<size_t>(oc) * p.kernel_h + ky) * p.kernel_w + kx) * cin_g;
              for (int ic = 0; ic < cin_g; ++ic) {
                sum += static_cast<double>(in_px[g * cin_g + ic]) * static_cast<double>(w[ic]);
              }
            }
          }
          if (bias != nullptr) sum += bias[oc];
          out_px[oc] = ApplyActivationScalar(p.act, static_cast<float>(sum));
        }
      }
    }
  }
}

}  // namespace facelib::ops
