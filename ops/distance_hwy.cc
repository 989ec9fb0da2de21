#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/distance_hwy.cc"
#include <algorithm>
#include <cmath>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/distance.h"

#ifndef FACELIB_OPS_DISTANCE_HWY_SHARED_
#define FACELIB_OPS_DISTANCE_HWY_SHARED_
namespace facelib::ops::detail {
enum RowMode : int { kRowDot = 0, kRowSquaredL2 = 1, kRowScaledSquaredL2 = 2, kRowNorm = 3 };
}  // namespace facelib::ops::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using namespace detail;  // NOLINT

// acc += the contribution of one vector of row elements x against query q
// (sc = the row's scale, used by kRowScaledSquaredL2 only).
template <int kMode, class V>
HWY_INLINE V Accumulate(V q, V x, V sc, V acc) {
  if constexpr (kMode == kRowDot) {
    return hn::MulAdd(q, x, acc);
  } else if constexpr (kMode == kRowSquaredL2) {
    const V diff = hn::Sub(q, x);
    return hn::MulAdd(diff, diff, acc);
  } else if constexpr (kMode == kRowScaledSquaredL2) {
    const V diff = hn::NegMulAdd(sc, x, q);  // q - sc * x
    return hn::MulAdd(diff, diff, acc);
  } else {
    return hn::MulAdd(x, x, acc);
  }
}

template <int kMode, class D>
HWY_INLINE float Finish(D d, hn::Vec<D> acc) {
  const float sum = hn::GetLane(hn::SumOfLanes(d, acc));
  return kMode == kRowNorm ? std::sqrt(sum) : sum;
}

// Four consecutive rows at once: four independent accumulator chains, and the
// query vector is loaded once for all of them. Masked-off tail lanes load
// zeros in both query and row, so they add nothing.
template <int kMode>
HWY_INLINE void FourRows(const float* q, const float* r, size_t dim, const float* scale, float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float* r0 = r;
  const float* r1 = r + dim;
  const float* r2 = r + 2 * dim;
  const float* r3 = r + 3 * dim;
  const auto s0 = hn::Set(d, scale ? scale[0] : 1.0f);
  const auto s1 = hn::Set(d, scale ? scale[1] : 1.0f);
  const auto s2 = hn::Set(d, scale ? scale[2] : 1.0f);
  const auto s3 = hn::Set(d, scale ? scale[3] : 1.0f);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  size_t k = 0;
  for (; k + N <= dim; k += N) {
    const auto qv = kMode == kRowNorm ? hn::Zero(d) : hn::LoadU(d, q + k);
    a0 = Accumulate<kMode>(qv, hn::LoadU(d, r0 + k), s0, a0);
    a1 = Accumulate<kMode>(qv, hn::LoadU(d, r1 + k), s1, a1);
    a2 = Accumulate<kMode>(qv, hn::LoadU(d, r2 + k), s2, a2);
    a3 = Accumulate<kMode>(qv, hn::LoadU(d, r3 + k), s3, a3);
  }
  if (k < dim) {
    const auto m = hn::FirstN(d, dim - k);
    const auto qv = kMode == kRowNorm ? hn::Zero(d) : hn::MaskedLoad(m, d, q + k);
    a0 = Accumulate<kMode>(qv, hn::MaskedLoad(m, d, r0 + k), s0, a0);
    a1 = Accumulate<kMode>(qv, hn::MaskedLoad(m, d, r1 + k), s1, a1);
    a2 = Accumulate<kMode>(qv, hn::MaskedLoad(m, d, r2 + k), s2, a2);
    a3 = Accumulate<kMode>(qv, hn::MaskedLoad(m, d, r3 + k), s3, a3);
  }
  out[0] = Finish<kMode>(d, a0);
  out[1] = Finish<kMode>(d, a1);
  out[2] = Finish<kMode>(d, a2);
  out[3] = Finish<kMode>(d, a3);
}

// One row, two accumulators so that consecutive FMAs do not wait on each other.
template <int kMode>
HWY_INLINE void OneRow(const float* q, const float* r, size_t dim, const float* scale, float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto s = hn::Set(d, scale ? scale[0] : 1.0f);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d);
  size_t k = 0;
  for (; k + 2 * N <= dim; k += 2 * N) {
    const auto q0 = kMode == kRowNorm ? hn::Zero(d) : hn::LoadU(d, q + k);
    const auto q1 = kMode == kRowNorm ? hn::Zero(d) : hn::LoadU(d, q + k + N);
    a0 = Accumulate<kMode>(q0, hn::LoadU(d, r + k), s, a0);
    a1 = Accumulate<kMode>(q1, hn::LoadU(d, r + k + N), s, a1);
  }
  for (; k < dim; k += N) {
    const auto m = hn::FirstN(d, dim - k);
    const auto qv = kMode == kRowNorm ? hn::Zero(d) : hn::MaskedLoad(m, d, q + k);
    a0 = Accumulate<kMode>(qv, hn::MaskedLoad(m, d, r + k), s, a0);
  }
  out[0] = Finish<kMode>(d, hn::Add(a0, a1));
}

template <int kMode>
HWY_INLINE void RowRange(const float* q, const float* rows, size_t dim, const float* scale, float* out, size_t r0,
                         size_t r1) {
  size_t i = r0;
  for (; i + 4 <= r1; i += 4) FourRows<kMode>(q, rows + i * dim, dim, scale ? scale + i : nullptr, out + i);
  for (; i < r1; ++i) OneRow<kMode>(q, rows + i * dim, dim, scale ? scale + i : nullptr, out + i);
}

// Rows [r0, r1) of one op (mode: detail::RowMode).
void RowKernel(int mode, size_t dim, const float* q, const float* rows, const float* scale, float* out, size_t r0,
               size_t r1) {
  switch (mode) {
    case kRowDot: return RowRange<kRowDot>(q, rows, dim, nullptr, out, r0, r1);
    case kRowSquaredL2: return RowRange<kRowSquaredL2>(q, rows, dim, nullptr, out, r0, r1);
    case kRowScaledSquaredL2: return RowRange<kRowScaledSquaredL2>(q, rows, dim, scale, out, r0, r1);
    default: return RowRange<kRowNorm>(q, rows, dim, nullptr, out, r0, r1);
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
namespace facelib::ops {
HWY_EXPORT(RowKernel);

namespace {

// Splits the rows into chunks of about kChunkFloats floats (a multiple of four
// rows, so only the last chunk has a partial block) for ParallelFor.
void RunRows(const ExecContext& ctx, int mode, const RowsShape& s, const float* q, const float* rows,
             const float* scale, float* out) {
  if (s.rows == 0) return;
  if (s.dim == 0) {
    std::fill(out, out + s.rows, 0.0f);
    return;
  }
  constexpr size_t kChunkFloats = size_t{1} << 16;
  const size_t rows_per_chunk = (std::max<size_t>(4, kChunkFloats / s.dim) + 3) / 4 * 4;
  const size_t chunks = (s.rows + rows_per_chunk - 1) / rows_per_chunk;
  const auto fn = HWY_DYNAMIC_DISPATCH(RowKernel);
  ParallelFor(chunks > 1 ? ctx.num_threads : 1, chunks, [&](size_t c0, size_t c1) {
    fn(mode, s.dim, q, rows, scale, out, c0 * rows_per_chunk, std::min(s.rows, c1 * rows_per_chunk));
  });
}

}  // namespace

void RowDot(const ExecContext& ctx, const RowsShape& s, const float* query, const float* rows, float* out) {
  RunRows(ctx, detail::kRowDot, s, query, rows, nullptr, out);
}

void RowSquaredL2(const ExecContext& ctx, const RowsShape& s, const float* query, const float* rows,
                  const float* scale, float* out) {
  RunRows(ctx, scale ? detail::kRowScaledSquaredL2 : detail::kRowSquaredL2, s, query, rows, scale, out);
}

void RowNorm(const ExecContext& ctx, const RowsShape& s, const float* rows, float* out) {
  RunRows(ctx, detail::kRowNorm, s, nullptr, rows, nullptr, out);
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
