#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/activation_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/activation-inl.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void ActivationKernel(const Activation& act, const float* HWY_RESTRICT x, float* y, size_t n) {
  ActivationRow(act, x, y, n);
}

void PReluKernel(const float* HWY_RESTRICT x, const float* HWY_RESTRICT slope, float* y,
                 size_t rows, size_t channels) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    size_t c = 0;
    for (; c + N <= channels; c += N) {
      const auto v = hn::LoadU(d, xr + c);
      hn::StoreU(hn::IfThenElse(hn::Ge(v, zero), v, hn::Mul(v, hn::LoadU(d, slope + c))), d, yr + c);
    }
    if (c < channels) {
      const auto m = hn::FirstN(d, channels - c);
      const auto v = hn::MaskedLoad(m, d, xr + c);
      const auto s = hn::MaskedLoad(m, d, slope + c);
      hn::BlendedStore(hn::IfThenElse(hn::Ge(v, zero), v, hn::Mul(v, s)), m, d, yr + c);
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
#include <algorithm>

#include "ops/activation.h"

namespace facelib::ops {
HWY_EXPORT(ActivationKernel);
HWY_EXPORT(PReluKernel);

void Activation_(const ExecContext& ctx, const Activation& act, const float* x, float* y,
                 size_t n) {
  constexpr size_t kChunk = 16384;  // per-thread work unit, a multiple of every vector width
  const size_t chunks = (n + kChunk - 1) / kChunk;
  const auto fn = HWY_DYNAMIC_DISPATCH(ActivationKernel);
  ParallelFor(ctx.num_threads, chunks, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      const size_t b = c * kChunk;
      fn(act, x + b, y + b, std::min(kChunk, n - b));
    }
  });
}

void PRelu(const ExecContext& ctx, const float* x, const float* slope, float* y, size_t rows,
           size_t channels) {
  const size_t rows_per_chunk = std::max<size_t>(1, 16384 / std::max<size_t>(channels, 1));
  const size_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const auto fn = HWY_DYNAMIC_DISPATCH(PReluKernel);
  ParallelFor(ctx.num_threads, chunks, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      const size_t r0 = c * rows_per_chunk;
      const size_t nr = std::min(rows_per_chunk, rows - r0);
      fn(x + r0 * channels, slope, y + r0 * channels, nr, channels);
    }
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
