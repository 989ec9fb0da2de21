// LocallyConnected2D (unshared weights: one filter bank per output position, as
// in Facebook's DeepFace), NHWC, VALID padding, with bias and activation.
#pragma once

#include <cstddef>
#include <memory>

#include "ops/common.h"

namespace facelib::ops {

struct LocallyConnectedParams {
  int batch = 1;
  int in_h = 0, in_w = 0, in_c = 0;
  int out_h = 0, out_w = 0, out_c = 0;  // out_h/out_w fixed by the weights
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  Activation act;
};

// weights: [out_h * out_w][kernel_h][kernel_w][in_c][out_c]; bias: [out_h * out_w][out_c] or nullptr.
void LocallyConnectedRef(const LocallyConnectedParams& p, const float* input, const float* weights,
                         const float* bias, float* output);

class PackedLocallyConnected {
 public:
  virtual ~PackedLocallyConnected() = default;
  virtual void Run(const ExecContext& ctx, const LocallyConnectedParams& p, const float* input,
                   float* output) const = 0;
};
std::unique_ptr<PackedLocallyConnected> PackLocallyConnected(const LocallyConnectedParams& p,
                                                             const float* weights, const float* bias);

}  // namespace facelib::ops
