// Local response normalisation across channels (NHWC), TensorFlow/Caffe style:
// y = x / (bias + alpha * sum_{c' in [c-r, c+r]} x[c']^2) ^ beta.
// `alpha` is the per-element coefficient (Caffe's alpha / size is converted by
// the converter, not here).
#pragma once

#include <cstddef>

#include "ops/common.h"

namespace facelib::ops {

struct LrnParams {
  size_t rows = 1;      // N * H * W
  size_t channels = 1;  // C
  int radius = 2;       // depth_radius: window is 2 * radius + 1 channels
  float bias = 1.0f, alpha = 1e-4f, beta = 0.75f;
};

// y must not alias x (each output reads its neighbours' inputs).
void LrnRef(const LrnParams& p, const float* x, float* y);
void Lrn(const ExecContext& ctx, const LrnParams& p, const float* x, float* y);

}  // namespace facelib::ops
