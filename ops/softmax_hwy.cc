#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/softmax_hwy.cc"
#include <algorithm>
#include <cmath>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/softmax.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------- inner == 1
// The axis is contiguous: one row of n floats, vectorised along the row.
// x and y may be the same row (each element is read before it is written).

HWY_INLINE void SoftmaxRow(const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto neg_inf = hn::Set(d, -INFINITY);
  auto vmax = neg_inf;
  size_t i = 0;
  for (; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    vmax = hn::Max(vmax, hn::IfThenElse(m, hn::MaskedLoad(m, d, x + i), neg_inf));
  }
  const auto mx = hn::Set(d, hn::GetLane(hn::MaxOfLanes(d, vmax)));

  auto vsum = hn::Zero(d);
  for (i = 0; i + N <= n; i += N) {
    const auto e = SafeExp(d, hn::Sub(hn::LoadU(d, x + i), mx));
    hn::StoreU(e, d, y + i);
    vsum = hn::Add(vsum, e);
  }
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    const auto e = hn::IfThenElseZero(m, SafeExp(d, hn::Sub(hn::MaskedLoad(m, d, x + i), mx)));
    hn::BlendedStore(e, m, d, y + i);
    vsum = hn::Add(vsum, e);
  }
  const auto inv = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, vsum)));
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, y + i), inv), d, y + i);
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    hn::BlendedStore(hn::Mul(hn::MaskedLoad(m, d, y + i), inv), m, d, y + i);
  }
}

HWY_INLINE void L2NormalizeRow(const float* x, float* y, size_t n, float epsilon) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto vss = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    vss = hn::MulAdd(v, v, vss);
  }
  if (i < n) {
    const auto v = hn::MaskedLoad(hn::FirstN(d, n - i), d, x + i);  // zero in unused lanes
    vss = hn::MulAdd(v, v, vss);
  }
  const float norm = std::sqrt(hn::GetLane(hn::SumOfLanes(d, vss)));
  const auto inv = hn::Set(d, 1.0f / std::max(norm, epsilon));
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), inv), d, y + i);
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    hn::BlendedStore(hn::Mul(hn::MaskedLoad(m, d, x + i), inv), m, d, y + i);
  }
}

// ---------------------------------------------------------------- inner > 1
// The axis is strided by `inner`: vectorise across the inner positions instead,
// so every lane runs its own independent softmax / norm down the axis.

template <bool kPartial, class D, class M>
HWY_INLINE hn::Vec<D> LoadCol(D d, M m, const float* p) {
  if constexpr (kPartial) return hn::MaskedLoad(m, d, p);
  return hn::LoadU(d, p);
}
template <bool kPartial, class D, class M>
HWY_INLINE void StoreCol(D d, M m, hn::Vec<D> v, float* p) {
  if constexpr (kPartial) {
    hn::BlendedStore(v, m, d, p);
  } else {
    hn::StoreU(v, d, p);
  }
}

// One group of up to N inner positions; masked-off lanes read zeros, which keeps
// their (discarded) arithmetic finite.
template <bool kPartial, class D, class M>
HWY_INLINE void SoftmaxColumns(D d, M m, const float* x, float* y, size_t axis, size_t inner) {
  auto mx = hn::Set(d, -INFINITY);
  for (size_t a = 0; a < axis; ++a) mx = hn::Max(mx, LoadCol<kPartial>(d, m, x + a * inner));
  auto sum = hn::Zero(d);
  for (size_t a = 0; a < axis; ++a) {
    const auto e = SafeExp(d, hn::Sub(LoadCol<kPartial>(d, m, x + a * inner), mx));
    StoreCol<kPartial>(d, m, e, y + a * inner);
    sum = hn::Add(sum, e);
  }
  const auto inv = hn::Div(hn::Set(d, 1.0f), sum);
  for (size_t a = 0; a < axis; ++a) {
    StoreCol<kPartial>(d, m, hn::Mul(LoadCol<kPartial>(d, m, y + a * inner), inv), y + a * inner);
  }
}

template <bool kPartial, class D, class M>
HWY_INLINE void L2NormalizeColumns(D d, M m, const float* x, float* y, size_t axis, size_t inner,
                                   float epsilon) {
  auto ss = hn::Zero(d);
  for (size_t a = 0; a < axis; ++a) {
    const auto v = LoadCol<kPartial>(d, m, x + a * inner);
    ss = hn::MulAdd(v, v, ss);
  }
  const auto norm = hn::Max(hn::Sqrt(ss), hn::Set(d, epsilon));
  const auto inv = hn::Div(hn::Set(d, 1.0f), norm);
  for (size_t a = 0; a < axis; ++a) {
    StoreCol<kPartial>(d, m, hn::Mul(LoadCol<kPartial>(d, m, x + a * inner), inv), y + a * inner);
  }
}

// Processes outer indices [o0, o1) and inner positions [i0, i1) (ignored when
// inner == 1): softmax, or L2 normalisation with `epsilon` if `l2`.
void AxisKernel(const AxisParams& p, const float* x, float* y, size_t o0, size_t o1, size_t i0,
                size_t i1, bool l2, float epsilon) {
  const size_t slab = p.axis * p.inner;
  if (p.inner == 1) {
    for (size_t o = o0; o < o1; ++o) {
      if (l2) {
        L2NormalizeRow(x + o * slab, y + o * slab, p.axis, epsilon);
      } else {
        SoftmaxRow(x + o * slab, y + o * slab, p.axis);
      }
    }
    return;
  }
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t o = o0; o < o1; ++o) {
    const float* xo = x + o * slab;
    float* yo = y + o * slab;
    size_t i = i0;
    const auto all = hn::FirstN(d, N);
    for (; i + N <= i1; i += N) {
      if (l2) {
        L2NormalizeColumns<false>(d, all, xo + i, yo + i, p.axis, p.inner, epsilon);
      } else {
        SoftmaxColumns<false>(d, all, xo + i, yo + i, p.axis, p.inner);
      }
    }
    if (i < i1) {
      const auto m = hn::FirstN(d, i1 - i);
      if (l2) {
        L2NormalizeColumns<true>(d, m, xo + i, yo + i, p.axis, p.inner, epsilon);
      } else {
        SoftmaxColumns<true>(d, m, xo + i, yo + i, p.axis, p.inner);
      }
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
namespace facelib::ops {
HWY_EXPORT(AxisKernel);

namespace {

// Splits the [outer, axis, inner] tensor into work units for OpenMP.
void RunAxisOp(const ExecContext& ctx, const AxisParams& p, const float* x, float* y, bool l2,
               float epsilon) {
  if (p.outer == 0 || p.axis == 0 || p.inner == 0) return;
  constexpr size_t kChunk = 16384;  // floats per work unit
  const auto fn = HWY_DYNAMIC_DISPATCH(AxisKernel);
  const size_t total = p.outer * p.axis * p.inner;
  if (p.inner == 1) {
    const size_t rows_per_chunk = std::max<size_t>(1, kChunk / p.axis);
    const size_t chunks = (p.outer + rows_per_chunk - 1) / rows_per_chunk;
    ParallelFor(ctx.num_threads, chunks, [&](size_t c0, size_t c1) {
      fn(p, x, y, c0 * rows_per_chunk, std::min(p.outer, c1 * rows_per_chunk), 0, 1, l2, epsilon);
    });
    return;
  }
  // Unit = one outer index x a block of inner positions (a multiple of every
  // vector width, so only the last block of a row has a partial vector).
  constexpr size_t kBlock = 256;
  const size_t blocks = (p.inner + kBlock - 1) / kBlock;
  const size_t units = p.outer * blocks;
  const bool parallel = units > 1 && total > kChunk && ctx.num_threads > 1;
  ParallelFor(parallel ? ctx.num_threads : 1, units, [&](size_t u0, size_t u1) {
    for (size_t u = u0; u < u1; ++u) {
      const size_t o = u / blocks;
      const size_t i0 = (u % blocks) * kBlock;
      fn(p, x, y, o, o + 1, i0, std::min(p.inner, i0 + kBlock), l2, epsilon);
    }
  });
}

}  // namespace

void Softmax(const ExecContext& ctx, const AxisParams& p, const float* x, float* y) {
  RunAxisOp(ctx, p, x, y, /*l2=*/false, 0.0f);
}

void L2Normalize(const ExecContext& ctx, const AxisParams& p, const float* x, float* y,
                 float epsilon) {
  RunAxisOp(ctx, p, x, y, /*l2=*/true, epsilon);
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
