#include <cstddef>
#include <vector>

#include "ops/layout.h"

namespace facelib::ops {
namespace {

int64_t Product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t e : v) p *= e;
  return p;
}

// Row-major strides of `shape`.
std::vector<int64_t> Strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

// Advances a row-major multi-index; returns false after the last element.
bool Next(std::vector<int64_t>& idx, const std::vector<int64_t>& shape) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < shape[d]) return true;
    idx[d] = 0;
  }
  return false;
}

}  // namespace

void ConcatRef(const ConcatParams& p, const float* const* inputs, float* y) {
  int64_t total = 0;
  for (int64_t a : p.axis_sizes) total += a;
  for (int64_t o = 0; o < p.outer; ++o) {
    int64_t offset = 0;  // position along the concat axis
    for (size_t i = 0; i < p.axis_sizes.size(); ++i) {
      const int64_t a = p.axis_sizes[i];
      for (int64_t k = 0; k < a; ++k) {
        for (int64_t j = 0; j < p.inner; ++j) {
          y[(o * total + offset + k) * p.inner + j] = inputs[i][(o * a + k) * p.inner + j];
        }
      }
      offset += a;
    }
  }
}

void SliceRef(const SliceParams& p, const float* x, float* y) {
  const size_t rank = p.out_shape.size();
  if (Product(p.out_shape) == 0) return;
  const std::vector<int64_t> in_strides = Strides(p.in_shape);
  std::vector<int64_t> idx(rank, 0);
  int64_t out = 0;
  do {
    int64_t src = 0;
    for (size_t d = 0; d < rank; ++d) src += (p.begin[d] + idx[d] * p.step[d]) * in_strides[d];
    y[out++] = x[src];
  } while (Next(idx, p.out_shape));
}

int64_t PadSourceIndex(PadMode mode, int64_t i, int64_t n) {
  if (n <= 0) return -1;  // nothing to replicate: every cell takes the pad value
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : n - 1;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t r = i % period;
      if (r < 0) r += period;
      return r < n ? r : period - r;
    }
  }
  return -1;
}

void PadRef(const PadParams& p, const float* x, float* y) {
  const size_t rank = p.in_shape.size();
  std::vector<int64_t> out_shape(rank);
  for (size_t d = 0; d < rank; ++d) out_shape[d] = p.in_shape[d] + p.pad_begin[d] + p.pad_end[d];
  if (Product(out_shape) == 0) return;
  const std::vector<int64_t> in_strides = Strides(p.in_shape);
  std::vector<int64_t> idx(rank, 0);
  int64_t out = 0;
  do {
    int64_t src = 0;
    bool inside = true;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t s = PadSourceIndex(p.mode, idx[d] - p.pad_begin[d], p.in_shape[d]);
      if (s < 0) {
        inside = false;
        break;
      }
      src += s * in_strides[d];
    }
    y[out++] = inside ? x[src] : p.value;
  } while (Next(idx, out_shape));
}

void TransposeRef(const TransposeParams& p, const float* x, float* y) {
  const size_t rank = p.in_shape.size();
  std::vector<int64_t> out_shape(rank);
  for (size_t i = 0; i < rank; ++i) out_shape[i] = p.in_shape[p.perm[i]];
  if (Product(out_shape) == 0) return;
  const std::vector<int64_t> in_strides = Strides(p.in_shape);
  std::vector<int64_t> idx(rank, 0);
  int64_t out = 0;
  do {
    // Output dim i walks input dim perm[i].
    int64_t src = 0;
    for (size_t i = 0; i < rank; ++i) src += idx[i] * in_strides[p.perm[i]];
    y[out++] = x[src];
  } while (Next(idx, out_shape));
}

void GatherRef(const GatherParams& p, const float* x, float* y) {
  const int64_t k = static_cast<int64_t>(p.indices.size());
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < p.inner; ++j) {
        y[(o * k + i) * p.inner + j] = x[(o * p.axis_size + p.indices[i]) * p.inner + j];
      }
    }
  }
}

}  // namespace facelib::ops
