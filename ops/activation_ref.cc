#include "ops/activation.h"

namespace facelib::ops {

void ActivationRef(const Activation& act, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = ApplyActivationScalar(act, x[i]);
}

void PReluRef(const float* x, const float* slope, float* y, size_t rows, size_t channels) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < channels; ++c) {
      const float v = x[r * channels + c];
      y[r * channels + c] = v >= 0.0f ? v : slope[c] * v;
    }
  }
}

}  // namespace facelib::ops
