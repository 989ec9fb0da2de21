#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "ops/reduce.h"

namespace facelib::ops {

void ReduceRef(const ReduceParams& p, const float* x, float* y) {
  const size_t rank = p.in_shape.size();
  std::vector<bool> reduced(rank, false);
  for (size_t k = 0; k < p.axes.size(); ++k) {
    const int ax = p.axes[k];
    if (ax < 0 || static_cast<size_t>(ax) >= rank || (k > 0 && ax <= p.axes[k - 1])) {
      std::fprintf(stderr, "ReduceRef: axes must be non-negative, sorted, unique and < rank\n");
      std::abort();
    }
    reduced[ax] = true;
  }

  // Output keeps every dim; reduced ones become 1.
  std::vector<int64_t> out_shape(p.in_shape);
  int64_t in_total = 1, out_total = 1, count = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (reduced[i]) {
      out_shape[i] = 1;
      count *= p.in_shape[i];
    }
    in_total *= p.in_shape[i];
    out_total *= out_shape[i];
  }

  double init = 0.0;
  if (p.op == ReduceOp::kMax) init = -std::numeric_limits<double>::infinity();
  if (p.op == ReduceOp::kMin) init = std::numeric_limits<double>::infinity();
  std::vector<double> acc(out_total, init);

  std::vector<int64_t> idx(rank);
  for (int64_t flat = 0; flat < in_total; ++flat) {
    int64_t rem = flat;
    for (size_t i = rank; i-- > 0;) {
      idx[i] = rem % p.in_shape[i];
      rem /= p.in_shape[i];
    }
    // Output index: the same coordinates with reduced ones set to 0.
    int64_t o = 0;
    for (size_t i = 0; i < rank; ++i) o = o * out_shape[i] + (reduced[i] ? 0 : idx[i]);
    const double v = x[flat];
    switch (p.op) {
      case ReduceOp::kMean:
      case ReduceOp::kSum: acc[o] += v; break;
      case ReduceOp::kMax: acc[o] = std::max(acc[o], v); break;
      case ReduceOp::kMin: acc[o] = std::min(acc[o], v); break;
    }
  }
  for (int64_t o = 0; o < out_total; ++o) {
    // Mean of an empty set is 0/0 = NaN, as in NumPy.
    y[o] = static_cast<float>(p.op == ReduceOp::kMean ? acc[o] / static_cast<double>(count) : acc[o]);
  }
}

}  // namespace facelib::ops
