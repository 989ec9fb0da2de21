#include <algorithm>
#include <cmath>

#include "ops/lrn.h"

namespace facelib::ops {

void LrnRef(const LrnParams& p, const float* x, float* y) {
  const long c_count = static_cast<long>(p.channels);
  for (size_t r = 0; r < p.rows; ++r) {
    const float* xr = x + r * p.channels;
    float* yr = y + r * p.channels;
    for (long c = 0; c < c_count; ++c) {
      // The window is clipped at the first and last channel.
      const long lo = std::max(0L, c - p.radius);
      const long hi = std::min(c_count - 1, c + static_cast<long>(p.radius));
      double sum = 0.0;
      for (long k = lo; k <= hi; ++k) sum += static_cast<double>(xr[k]) * xr[k];
      const double base = p.bias + p.alpha * sum;
      yr[c] = static_cast<float>(xr[c] / std::pow(base, static_cast<double>(p.beta)));
    }
  }
}

}  // namespace facelib::ops
