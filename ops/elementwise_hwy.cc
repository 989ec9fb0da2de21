#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/elementwise_hwy.cc"
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/elementwise.h"

// Target-independent types, seen once although this file is compiled per target.
#ifndef FACELIB_OPS_ELEMENTWISE_HWY_SHARED_
#define FACELIB_OPS_ELEMENTWISE_HWY_SHARED_
namespace facelib::ops::detail {

// A broadcast binary op with its shapes collapsed: output dims of size 1 are
// dropped and neighbouring dims that can be addressed as one are merged, so the
// common cases become short: same shape -> [n]; tensor op scalar -> [n] with one
// stride 0; [N,H,W,C] + [C] -> [NHW, C]; [N,H,W,C] * [N,1,1,C] -> [N, HW, C].
// The innermost dim is the unit the SIMD rows run over; the outer ones are
// walked like an odometer.
struct BroadcastPlan {
  static constexpr size_t kMaxDims = 8;
  size_t ndim = 0;
  int64_t ext[kMaxDims];  // output extent of each collapsed dim, outermost first
  int64_t sa[kMaxDims];   // element stride in a (0 = broadcast)
  int64_t sb[kMaxDims];   // element stride in b
};

}  // namespace facelib::ops::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using detail::BroadcastPlan;

struct AddOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Add(a, b); }
};
struct SubOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Sub(a, b); }
};
struct MulOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Mul(a, b); }
};
struct DivOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Div(a, b); }
};
struct MaxOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Max(a, b); }
};
struct MinOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V b) const { return hn::Min(a, b); }
};
// Pow with a broadcast exponent of exactly 2 or 0.5 (the only pow forms that are
// common in models: squared differences and square roots). Sqrt differs from
// std::pow(x, 0.5) only at -0 (gives -0, not +0) and -inf (NaN, not +inf).
struct SquareOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V) const { return hn::Mul(a, a); }
};
struct SqrtOp {
  template <class D, class V>
  HWY_INLINE V operator()(D, V a, V) const { return hn::Sqrt(a); }
};

// out[i] = act(op(a[i], b[i])). No HWY_RESTRICT: out may alias a or b.
template <class Op>
HWY_INLINE void RowVV(const Activation& act, const float* a, const float* b, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const Op op;
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(ApplyActivation(d, act, op(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i))), d, out + i);
  }
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    const auto r = op(d, hn::MaskedLoad(m, d, a + i), hn::MaskedLoad(m, d, b + i));
    hn::BlendedStore(ApplyActivation(d, act, r), m, d, out + i);
  }
}

// out[i] = act(op(a0, b[i])).
template <class Op>
HWY_INLINE void RowSV(const Activation& act, float a0, const float* b, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const Op op;
  const auto va = hn::Set(d, a0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(ApplyActivation(d, act, op(d, va, hn::LoadU(d, b + i))), d, out + i);
  }
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    hn::BlendedStore(ApplyActivation(d, act, op(d, va, hn::MaskedLoad(m, d, b + i))), m, d, out + i);
  }
}

// out[i] = act(op(a[i], b0)).
template <class Op>
HWY_INLINE void RowVS(const Activation& act, const float* a, float b0, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const Op op;
  const auto vb = hn::Set(d, b0);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(ApplyActivation(d, act, op(d, hn::LoadU(d, a + i), vb)), d, out + i);
  }
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    hn::BlendedStore(ApplyActivation(d, act, op(d, hn::MaskedLoad(m, d, a + i), vb)), m, d, out + i);
  }
}

// Highway 1.0.3 has no vector pow, so general Pow runs std::pow per element
// (exactly the reference formula) and only the activation is vectorised.
struct PowTag {};

template <class Op>
HWY_INLINE void Row(const Activation& act, const float* a, size_t a_step, const float* b,
                    size_t b_step, float* out, size_t n) {
  if constexpr (std::is_same_v<Op, PowTag>) {
    if (a_step == 1 && b_step == 0 && (*b == 2.0f || *b == 0.5f)) {
      if (*b == 2.0f) {
        RowVS<SquareOp>(act, a, *b, out, n);
      } else {
        RowVS<SqrtOp>(act, a, *b, out, n);
      }
      return;
    }
    for (size_t i = 0; i < n; ++i) out[i] = std::pow(a[i * a_step], b[i * b_step]);
    ApplyActivationRow(act, out, n);
  } else {
    if (a_step != 0 && b_step != 0) {
      RowVV<Op>(act, a, b, out, n);
    } else if (b_step != 0) {
      RowSV<Op>(act, *a, b, out, n);
    } else {
      RowVS<Op>(act, a, *b, out, n);
    }
  }
}

// Computes output elements [begin, end) of a collapsed broadcast.
template <class Op>
void BinaryRange(const Activation& act, const float* a, const float* b, float* out,
                 const BroadcastPlan& plan, size_t begin, size_t end) {
  const size_t nd = plan.ndim;
  const size_t inner = static_cast<size_t>(plan.ext[nd - 1]);
  const size_t a_step = static_cast<size_t>(plan.sa[nd - 1]);
  const size_t b_step = static_cast<size_t>(plan.sb[nd - 1]);

  // Coordinates of the first row in the outer dims and the matching offsets.
  int64_t idx[BroadcastPlan::kMaxDims] = {};
  int64_t off_a = 0, off_b = 0;
  size_t rem = begin / inner;
  for (size_t i = nd - 1; i-- > 0;) {
    idx[i] = static_cast<int64_t>(rem % static_cast<size_t>(plan.ext[i]));
    rem /= static_cast<size_t>(plan.ext[i]);
    off_a += idx[i] * plan.sa[i];
    off_b += idx[i] * plan.sb[i];
  }

  size_t col = begin % inner;
  for (size_t pos = begin; pos < end;) {
    const size_t n = std::min(inner - col, end - pos);
    Row<Op>(act, a + off_a + col * a_step, a_step, b + off_b + col * b_step, b_step, out + pos, n);
    pos += n;
    col = 0;
    // Advance the odometer over the outer dims.
    for (size_t i = nd - 1; i-- > 0;) {
      off_a += plan.sa[i];
      off_b += plan.sb[i];
      if (++idx[i] < plan.ext[i]) break;
      off_a -= plan.sa[i] * plan.ext[i];
      off_b -= plan.sb[i] * plan.ext[i];
      idx[i] = 0;
    }
  }
}

void BinaryKernel(BinaryOp op, const Activation& act, const float* a, const float* b, float* out,
                  const BroadcastPlan& plan, size_t begin, size_t end) {
  switch (op) {
    case BinaryOp::kAdd: return BinaryRange<AddOp>(act, a, b, out, plan, begin, end);
    case BinaryOp::kSub: return BinaryRange<SubOp>(act, a, b, out, plan, begin, end);
    case BinaryOp::kMul: return BinaryRange<MulOp>(act, a, b, out, plan, begin, end);
    case BinaryOp::kDiv: return BinaryRange<DivOp>(act, a, b, out, plan, begin, end);
    case BinaryOp::kMax: return BinaryRange<MaxOp>(act, a, b, out, plan, begin, end);
    case BinaryOp::kMin: return BinaryRange<MinOp>(act, a, b, out, plan, begin, end);
    case BinaryOp::kPow: return BinaryRange<PowTag>(act, a, b, out, plan, begin, end);
  }
}

void ChannelAffineKernel(const float* x, const float* HWY_RESTRICT scale,
                         const float* HWY_RESTRICT shift, float* y, size_t rows, size_t channels,
                         const Activation& act) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);
  if (channels < N && channels <= kMaxLanes) {
    // Fewer channels than lanes (e.g. RGB): one masked row per pixel would waste
    // most of every vector. Treat the rows as one flat array instead: `channels`
    // vectors hold exactly N whole pixels, so the per-lane scale and shift
    // repeat with that period.
    HWY_ALIGN float ps[kMaxLanes * kMaxLanes], pt[kMaxLanes * kMaxLanes];
    const size_t period = channels * N;
    for (size_t j = 0; j < period; ++j) {
      ps[j] = scale[j % channels];
      pt[j] = shift[j % channels];
    }
    const size_t total = rows * channels;
    size_t i = 0;
    for (; i + period <= total; i += period) {
      for (size_t v = 0; v < channels; ++v) {
        const auto xv = hn::LoadU(d, x + i + v * N);
        const auto r = hn::MulAdd(xv, hn::Load(d, ps + v * N), hn::Load(d, pt + v * N));
        hn::StoreU(ApplyActivation(d, act, r), d, y + i + v * N);
      }
    }
    for (size_t v = 0; i + v * N < total; ++v) {
      const size_t start = i + v * N;
      const auto m = hn::FirstN(d, HWY_MIN(N, total - start));
      const auto r = hn::MulAdd(hn::MaskedLoad(m, d, x + start), hn::Load(d, ps + v * N),
                                hn::Load(d, pt + v * N));
      hn::BlendedStore(ApplyActivation(d, act, r), m, d, y + start);
    }
    return;
  }
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    size_t c = 0;
    for (; c + N <= channels; c += N) {
      const auto v = hn::MulAdd(hn::LoadU(d, xr + c), hn::LoadU(d, scale + c), hn::LoadU(d, shift + c));
      hn::StoreU(ApplyActivation(d, act, v), d, yr + c);
    }
    if (c < channels) {
      const auto m = hn::FirstN(d, channels - c);
      const auto v = hn::MulAdd(hn::MaskedLoad(m, d, xr + c), hn::MaskedLoad(m, d, scale + c),
                                hn::MaskedLoad(m, d, shift + c));
      hn::BlendedStore(ApplyActivation(d, act, v), m, d, yr + c);
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
#include <cstdio>
#include <cstdlib>

namespace facelib::ops {
HWY_EXPORT(BinaryKernel);
HWY_EXPORT(ChannelAffineKernel);

namespace {

constexpr size_t kChunk = 16384;  // elements per OpenMP work unit; a multiple of every vector width

// Builds the collapsed plan; returns false if it needs more than kMaxDims dims
// (only possible for rank > 8 with alternating broadcast patterns).
bool MakePlan(const BinaryParams& p, detail::BroadcastPlan* plan) {
  const size_t rank = p.out_shape.size();
  const size_t ra = p.a_shape.size(), rb = p.b_shape.size();
  // Contiguous strides of a and b, right-aligned to the output rank.
  int64_t stride_a = 1, stride_b = 1;
  // Collected innermost first, reversed at the end.
  int64_t ext[64], sa[64], sb[64];
  size_t n = 0;
  for (size_t i = 0; i < rank; ++i) {  // i counts from the innermost dim
    const int64_t e = p.out_shape[rank - 1 - i];
    const int64_t da = i < ra ? p.a_shape[ra - 1 - i] : 1;
    const int64_t db = i < rb ? p.b_shape[rb - 1 - i] : 1;
    const int64_t cur_a = da == 1 ? 0 : stride_a;
    const int64_t cur_b = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
    if (e == 1) continue;  // contributes nothing to addressing
    // Merge into the previously kept (inner) dim if one linear index can walk both.
    if (n > 0 && cur_a == sa[n - 1] * ext[n - 1] && cur_b == sb[n - 1] * ext[n - 1]) {
      ext[n - 1] *= e;
      continue;
    }
    if (n == 64) return false;
    ext[n] = e;
    sa[n] = cur_a;
    sb[n] = cur_b;
    ++n;
  }
  if (n == 0) {  // every dim is 1: a single element on each side
    ext[0] = 1;
    sa[0] = sb[0] = 1;
    n = 1;
  }
  if (n > detail::BroadcastPlan::kMaxDims) return false;
  plan->ndim = n;
  for (size_t i = 0; i < n; ++i) {
    plan->ext[i] = ext[n - 1 - i];
    plan->sa[i] = sa[n - 1 - i];
    plan->sb[i] = sb[n - 1 - i];
  }
  return true;
}

}  // namespace

void Binary(const ExecContext& ctx, const BinaryParams& p, const float* a, const float* b,
            float* out) {
  if (!ValidBinaryShapes(p)) {
    std::fprintf(stderr, "Binary: out_shape is not the broadcast of a_shape and b_shape\n");
    std::abort();
  }
  size_t total = 1;
  for (int64_t e : p.out_shape) total *= static_cast<size_t>(e);
  if (total == 0) return;
  detail::BroadcastPlan plan;
  if (p.out_shape.size() > 64 || !MakePlan(p, &plan)) {
    BinaryRef(p, a, b, out);  // exotic high-rank pattern: correctness over speed
    return;
  }
  const size_t chunks = (total + kChunk - 1) / kChunk;
  const auto fn = HWY_DYNAMIC_DISPATCH(BinaryKernel);
  ParallelFor(ctx.num_threads, chunks, [&](size_t c0, size_t c1) {
    fn(p.op, p.act, a, b, out, plan, c0 * kChunk, std::min(total, c1 * kChunk));
  });
}

void ChannelAffine(const ExecContext& ctx, const float* x, const float* scale, const float* shift,
                   float* y, size_t rows, size_t channels, const Activation& act) {
  if (rows == 0 || channels == 0) return;
  const size_t rows_per_chunk = std::max<size_t>(1, kChunk / channels);
  const size_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const auto fn = HWY_DYNAMIC_DISPATCH(ChannelAffineKernel);
  ParallelFor(ctx.num_threads, chunks, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) {
      const size_t r0 = c * rows_per_chunk;
      const size_t nr = std::min(rows_per_chunk, rows - r0);
      fn(x + r0 * channels, scale, shift, y + r0 * channels, nr, channels, act);
    }
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
