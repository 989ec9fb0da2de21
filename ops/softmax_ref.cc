#include <algorithm>
#include <cmath>

#include "ops/softmax.h"

namespace facelib::ops {

void SoftmaxRef(const AxisParams& p, const float* x, float* y) {
  for (size_t o = 0; o < p.outer; ++o) {
    for (size_t i = 0; i < p.inner; ++i) {
      const size_t base = o * p.axis * p.inner + i;
      // Subtracting the maximum keeps exp() in range without changing the result.
      float mx = -INFINITY;
      for (size_t a = 0; a < p.axis; ++a) mx = std::max(mx, x[base + a * p.inner]);
      double sum = 0.0;
      for (size_t a = 0; a < p.axis; ++a) {
        const float e = std::exp(x[base + a * p.inner] - mx);
        y[base + a * p.inner] = e;
        sum += e;
      }
      for (size_t a = 0; a < p.axis; ++a) {
        y[base + a * p.inner] = static_cast<float>(y[base + a * p.inner] / sum);
      }
    }
  }
}

void L2NormalizeRef(const AxisParams& p, const float* x, float* y, float epsilon) {
  for (size_t o = 0; o < p.outer; ++o) {
    for (size_t i = 0; i < p.inner; ++i) {
      const size_t base = o * p.axis * p.inner + i;
      double sum = 0.0;
      for (size_t a = 0; a < p.axis; ++a) {
        const double v = x[base + a * p.inner];
        sum += v * v;
      }
      const double norm = std::max(std::sqrt(sum), static_cast<double>(epsilon));
      for (size_t a = 0; a < p.axis; ++a) {
        y[base + a * p.inner] = static_cast<float>(x[base + a * p.inner] / norm);
      }
    }
  }
}

}  // namespace facelib::ops
