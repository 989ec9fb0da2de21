// Data movement: Concat, Slice (strided), Pad, Transpose, Gather. Reshape and
// Flatten are pure metadata changes done by the runtime (a copy at most).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/common.h"

namespace facelib::ops {

// Concat along `axis`: inputs share every other dim. outer = prod(dims before
// axis), inner = prod(dims after axis); input i has axis_sizes[i] along the axis.
struct ConcatParams {
  int64_t outer = 1, inner = 1;
  std::vector<int64_t> axis_sizes;
};
void ConcatRef(const ConcatParams& p, const float* const* inputs, float* y);
void Concat(const ExecContext& ctx, const ConcatParams& p, const float* const* inputs, float* y);

// y = x[begin[d] : ... : step[d]] with out_shape[d] elements along each dim
// (steps may be negative; begin is already resolved to a valid index).
struct SliceParams {
  std::vector<int64_t> in_shape, begin, step, out_shape;
};
void SliceRef(const SliceParams& p, const float* x, float* y);
void Slice(const ExecContext& ctx, const SliceParams& p, const float* x, float* y);

enum class PadMode : int32_t { kConstant = 0, kReflect = 1, kEdge = 2 };
struct PadParams {
  PadMode mode = PadMode::kConstant;
  float value = 0.0f;
  std::vector<int64_t> in_shape, pad_begin, pad_end;  // per dim, >= 0
};
void PadRef(const PadParams& p, const float* x, float* y);
// Maps padded coordinate i (i < 0 or i >= n for pad cells) of a dim of size n to
// the source index in [0, n), or -1 if the cell takes the constant value
// (constant mode, or n == 0). Reflect mirrors without repeating the edge (ONNX
// and numpy "reflect": [1,2,3] padded by 2 is [3,2,1,2,3,2,1]) and keeps
// mirroring if the pad exceeds n - 1; edge repeats the border value.
int64_t PadSourceIndex(PadMode mode, int64_t i, int64_t n);
void Pad(const ExecContext& ctx, const PadParams& p, const float* x, float* y);

// y = transpose(x, perm): out_shape[i] = in_shape[perm[i]].
struct TransposeParams {
  std::vector<int64_t> in_shape;
  std::vector<int> perm;
};
void TransposeRef(const TransposeParams& p, const float* x, float* y);
void Transpose(const ExecContext& ctx, const TransposeParams& p, const float* x, float* y);

// Gather along an axis: x viewed as [outer, axis_size, inner]; y is
// [outer, indices.size(), inner]. Indices are validated (0 <= i < axis_size) by the caller.
struct GatherParams {
  int64_t outer = 1, axis_size = 1, inner = 1;
  std::vector<int64_t> indices;
};
void GatherRef(const GatherParams& p, const float* x, float* y);
void Gather(const ExecContext& ctx, const GatherParams& p, const float* x, float* y);

}  // namespace facelib::ops
