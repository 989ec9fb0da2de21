// One query vector against many rows: the inner loops of exact nearest-
// neighbour search (facelib/distance.h turns them into metric distances).
//
// rows is row-major [n][dim], contiguous. Each op writes one float per row:
//   RowDot:       out[i] = sum_k query[k] * row_i[k]
//   RowSquaredL2: out[i] = sum_k (query[k] - scale[i] * row_i[k])^2
//                 (scale == nullptr means 1 for every row; with scale[i] =
//                 1 / |row_i| and a unit query this is the squared distance
//                 of the normalised vectors, computed without cancellation)
//   RowNorm:      out[i] = sqrt(sum_k row_i[k]^2)
// The references accumulate in double; the SIMD kernels in float with one
// accumulator per row and lane. n == 0 or dim == 0 is allowed (dim == 0 gives
// zeros). Pure functions of their inputs: safe to call from many threads.
#pragma once

#include <cstddef>

#include "ops/common.h"

namespace facelib::ops {

struct RowsShape {
  size_t rows = 0;  // n
  size_t dim = 0;   // floats per row
};

void RowDotRef(const RowsShape& s, const float* query, const float* rows, float* out);
void RowDot(const ExecContext& ctx, const RowsShape& s, const float* query, const float* rows, float* out);

void RowSquaredL2Ref(const RowsShape& s, const float* query, const float* rows, const float* scale, float* out);
void RowSquaredL2(const ExecContext& ctx, const RowsShape& s, const float* query, const float* rows,
                  const float* scale, float* out);

void RowNormRef(const RowsShape& s, const float* rows, float* out);
void RowNorm(const ExecContext& ctx, const RowsShape& s, const float* rows, float* out);

}  // namespace facelib::ops
