// Reductions over any set of axes (ReduceMean / ReduceMax / ReduceSum); the
// output keeps the reduced axes as size 1 (callers drop them if keepdims=false).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/common.h"

namespace facelib::ops {

enum class ReduceOp : int32_t { kMean = 0, kMax, kSum, kMin };

struct ReduceParams {
  ReduceOp op = ReduceOp::kMean;
  std::vector<int64_t> in_shape;
  std::vector<int> axes;  // non-negative, sorted, unique
};

// y must not alias x. A reduction over an empty set gives 0 (sum), NaN (mean),
// -inf (max) or +inf (min).
void ReduceRef(const ReduceParams& p, const float* x, float* y);
void Reduce(const ExecContext& ctx, const ReduceParams& p, const float* x, float* y);

}  // namespace facelib::ops
