#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/lrn_hwy.cc"
#include <algorithm>
#include <cmath>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/lrn.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// How base^-beta is evaluated: the usual betas have exact closed forms, anything
// else goes through exp(-beta * log(base)).
enum class PowMode { kBeta075, kBeta05, kBeta1, kGeneral };

template <PowMode kMode, class D, class V>
HWY_INLINE V InvPowBeta(D d, V base, float beta) {
  const auto one = hn::Set(d, 1.0f);
  if constexpr (kMode == PowMode::kBeta075) {
    const auto rs = hn::Div(one, hn::Sqrt(base));  // base^-1/2
    return hn::Mul(rs, hn::Sqrt(rs));              // * base^-1/4
  } else if constexpr (kMode == PowMode::kBeta05) {
    return hn::Div(one, hn::Sqrt(base));
  } else if constexpr (kMode == PowMode::kBeta1) {
    return hn::Div(one, base);
  } else {
    return hn::Exp(d, hn::Mul(hn::Set(d, -beta), hn::Log(d, base)));
  }
}

// One output channel with the window clipped at the row ends (same formula as
// the reference); used for the few channels near the edges.
HWY_INLINE float LrnEdge(const LrnParams& p, const float* xr, long c) {
  const long c_count = static_cast<long>(p.channels);
  const long lo = std::max(0L, c - p.radius);
  const long hi = std::min(c_count - 1, c + static_cast<long>(p.radius));
  double sum = 0.0;
  for (long k = lo; k <= hi; ++k) sum += static_cast<double>(xr[k]) * xr[k];
  return static_cast<float>(xr[c] / std::pow(p.bias + p.alpha * sum, static_cast<double>(p.beta)));
}

template <PowMode kMode>
void LrnRows(const LrnParams& p, const float* HWY_RESTRICT x, float* HWY_RESTRICT y, size_t r0,
             size_t r1) {
  const hn::ScalableTag<float> d;
  const long N = static_cast<long>(hn::Lanes(d));
  const long C = static_cast<long>(p.channels);
  const long rad = p.radius;
  const auto bias = hn::Set(d, p.bias);
  const auto alpha = hn::Set(d, p.alpha);
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * p.channels;
    float* yr = y + r * p.channels;
    long c = 0;
    // Leading channels whose window starts before channel 0.
    for (; c < std::min(C, rad); ++c) yr[c] = LrnEdge(p, xr, c);
    // Interior: every window [c - rad, c + N - 1 + rad] lies inside the row, so
    // the 2 * rad + 1 shifted unaligned loads need no masking.
    for (; c + N + rad <= C; c += N) {
      auto sum = hn::Zero(d);
      for (long k = -rad; k <= rad; ++k) {
        const auto v = hn::LoadU(d, xr + c + k);
        sum = hn::MulAdd(v, v, sum);
      }
      const auto f = InvPowBeta<kMode>(d, hn::MulAdd(alpha, sum, bias), p.beta);
      hn::StoreU(hn::Mul(hn::LoadU(d, xr + c), f), d, yr + c);
    }
    // Trailing channels (window past the end, or fewer than N left).
    for (; c < C; ++c) yr[c] = LrnEdge(p, xr, c);
  }
}

void LrnKernel(const LrnParams& p, const float* x, float* y, size_t r0, size_t r1) {
  if (p.beta == 0.75f) return LrnRows<PowMode::kBeta075>(p, x, y, r0, r1);
  if (p.beta == 0.5f) return LrnRows<PowMode::kBeta05>(p, x, y, r0, r1);
  if (p.beta == 1.0f) return LrnRows<PowMode::kBeta1>(p, x, y, r0, r1);
  return LrnRows<PowMode::kGeneral>(p, x, y, r0, r1);
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
namespace facelib::ops {
HWY_EXPORT(LrnKernel);

void Lrn(const ExecContext& ctx, const LrnParams& p, const float* x, float* y) {
  if (p.rows == 0 || p.channels == 0) return;
  constexpr size_t kChunk = 8192;  // floats per work unit (LRN does ~2r+1 FMAs per float)
  const size_t rows_per_chunk = std::max<size_t>(1, kChunk / p.channels);
  const size_t chunks = (p.rows + rows_per_chunk - 1) / rows_per_chunk;
  const auto fn = HWY_DYNAMIC_DISPATCH(LrnKernel);
  ParallelFor(ctx.num_threads, chunks, [&](size_t c0, size_t c1) {
    fn(p, x, y, c0 * rows_per_chunk, std::min(p.rows, c1 * rows_per_chunk));
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
