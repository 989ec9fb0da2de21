// Softmax and L2 normalisation along one axis. The tensor is viewed as
// [outer, axis, inner]; the common case is inner == 1 (last axis).
#pragma once

#include <cstddef>

#include "ops/common.h"

namespace facelib::ops {

struct AxisParams {
  size_t outer = 1, axis = 1, inner = 1;
};

// In-place (y == x) is allowed for both ops.
void SoftmaxRef(const AxisParams& p, const float* x, float* y);
void Softmax(const ExecContext& ctx, const AxisParams& p, const float* x, float* y);

// y = x / max(sqrt(sum x^2), epsilon) along the axis.
void L2NormalizeRef(const AxisParams& p, const float* x, float* y, float epsilon);
void L2Normalize(const ExecContext& ctx, const AxisParams& p, const float* x, float* y, float epsilon);

}  // namespace facelib::ops
