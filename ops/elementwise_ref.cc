#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "ops/elementwise.h"

namespace facelib::ops {

bool BroadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                     std::vector<int64_t>* out) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // i counts from the innermost (right-most) dimension.
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da < 0 || db < 0) return false;
    int64_t d;
    if (da == db) {
      d = da;
    } else if (da == 1) {
      d = db;
    } else if (db == 1) {
      d = da;
    } else {
      return false;
    }
    result[rank - 1 - i] = d;
  }
  if (out) *out = std::move(result);
  return true;
}

bool ValidBinaryShapes(const BinaryParams& p) {
  const auto& a = p.a_shape;
  const auto& b = p.b_shape;
  const auto& o = p.out_shape;
  if (o.size() != std::max(a.size(), b.size())) return false;
  for (size_t i = 0; i < o.size(); ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    const int64_t dout = o[o.size() - 1 - i];
    if (da < 0 || db < 0) return false;
    const int64_t expect = da == 1 ? db : da;
    if ((da != db && da != 1 && db != 1) || dout != expect) return false;
  }
  return true;
}

void BinaryRef(const BinaryParams& p, const float* a, const float* b, float* out) {
  if (!ValidBinaryShapes(p)) {
    std::fprintf(stderr, "BinaryRef: out_shape is not the broadcast of a_shape and b_shape\n");
    std::abort();
  }
  const size_t rank = p.out_shape.size();
  // Right-align both inputs to the output rank; a broadcast dim gets stride 0.
  std::vector<int64_t> a_dims(rank, 1), b_dims(rank, 1);
  for (size_t i = 0; i < p.a_shape.size(); ++i) a_dims[rank - p.a_shape.size() + i] = p.a_shape[i];
  for (size_t i = 0; i < p.b_shape.size(); ++i) b_dims[rank - p.b_shape.size() + i] = p.b_shape[i];
  std::vector<int64_t> a_stride(rank), b_stride(rank);
  int64_t sa = 1, sb = 1;
  for (size_t i = rank; i-- > 0;) {
    a_stride[i] = a_dims[i] == 1 ? 0 : sa;
    b_stride[i] = b_dims[i] == 1 ? 0 : sb;
    sa *= a_dims[i];
    sb *= b_dims[i];
  }
  int64_t total = 1;
  for (int64_t d : p.out_shape) total *= d;

  std::vector<int64_t> idx(rank, 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    // Decompose the output flat index into coordinates.
    int64_t rem = flat;
    for (size_t i = rank; i-- > 0;) {
      idx[i] = rem % p.out_shape[i];
      rem /= p.out_shape[i];
    }
    int64_t ia = 0, ib = 0;
    for (size_t i = 0; i < rank; ++i) {
      ia += idx[i] * a_stride[i];
      ib += idx[i] * b_stride[i];
    }
    out[flat] = ApplyActivationScalar(p.act, ApplyBinaryScalar(p.op, a[ia], b[ib]));
  }
}

void ChannelAffineRef(const float* x, const float* scale, const float* shift, float* y, size_t rows,
                      size_t channels, const Activation& act) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < channels; ++c) {
      const size_t i = r * channels + c;
      y[i] = ApplyActivationScalar(act, x[i] * scale[c] + shift[c]);
    }
  }
}

void BatchNormToAffine(const float* gamma, const float* beta, const float* mean, const float* var,
                       float eps, size_t channels, float* scale, float* shift) {
  for (size_t c = 0; c < channels; ++c) {
    // Folded in double so the stored scale/shift are correctly rounded.
    const double s = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(static_cast<double>(beta[c]) - static_cast<double>(mean[c]) * s);
  }
}

}  // namespace facelib::ops
