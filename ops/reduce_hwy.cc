#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/reduce_hwy.cc"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/reduce.h"

// Target-independent types, seen once although this file is compiled per target.
#ifndef FACELIB_OPS_REDUCE_HWY_SHARED_
#define FACELIB_OPS_REDUCE_HWY_SHARED_
namespace facelib::ops::detail {

// The input shape with size-1 dims dropped and neighbouring dims of the same kind
// (kept / reduced) merged, so kept and reduced dims alternate. The innermost
// collapsed dim (length `inner`) is contiguous; the others are listed outermost
// first with their element strides. E.g. NHWC mean over {1,2} -> kept [N],
// reduced [HW], inner C kept; a mean over the last axis -> kept [rows], inner
// reduced.
struct ReducePlan {
  static constexpr size_t kMaxDims = 16;
  size_t n_kept = 0, n_red = 0;
  int64_t kept_ext[kMaxDims], kept_stride[kMaxDims];  // outer kept dims
  int64_t red_ext[kMaxDims], red_stride[kMaxDims];    // outer reduced dims
  size_t inner = 1;
  bool inner_reduced = false;
  size_t count = 1;  // elements reduced into each output
};

}  // namespace facelib::ops::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using detail::ReducePlan;

struct SumOp {
  template <class D>
  static hn::Vec<D> Identity(D d) { return hn::Zero(d); }
  template <class V>
  static V Combine(V a, V b) { return hn::Add(a, b); }
  template <class D>
  static float Lanes(D d, hn::Vec<D> v) { return hn::GetLane(hn::SumOfLanes(d, v)); }
};
struct MaxOp {
  template <class D>
  static hn::Vec<D> Identity(D d) { return hn::Set(d, -INFINITY); }
  template <class V>
  static V Combine(V a, V b) { return hn::Max(a, b); }
  template <class D>
  static float Lanes(D d, hn::Vec<D> v) { return hn::GetLane(hn::MaxOfLanes(d, v)); }
};
struct MinOp {
  template <class D>
  static hn::Vec<D> Identity(D d) { return hn::Set(d, INFINITY); }
  template <class V>
  static V Combine(V a, V b) { return hn::Min(a, b); }
  template <class D>
  static float Lanes(D d, hn::Vec<D> v) { return hn::GetLane(hn::MinOfLanes(d, v)); }
};

// Odometer over a list of (extent, stride) dims, tracking the element offset.
struct Odometer {
  const int64_t* ext;
  const int64_t* stride;
  size_t n;
  int64_t idx[ReducePlan::kMaxDims] = {};
  int64_t offset = 0;

  Odometer(const int64_t* e, const int64_t* s, size_t nd, size_t start) : ext(e), stride(s), n(nd) {
    for (size_t i = n; i-- > 0;) {
      idx[i] = static_cast<int64_t>(start % static_cast<size_t>(ext[i]));
      start /= static_cast<size_t>(ext[i]);
      offset += idx[i] * stride[i];
    }
  }
  void Next() {
    for (size_t i = n; i-- > 0;) {
      offset += stride[i];
      if (++idx[i] < ext[i]) return;
      offset -= stride[i] * ext[i];
      idx[i] = 0;
    }
  }
};

size_t Product(const int64_t* ext, size_t n) {
  size_t p = 1;
  for (size_t i = 0; i < n; ++i) p *= static_cast<size_t>(ext[i]);
  return p;
}

// y[0:w] = op(y[0:w], src[0:w]).
template <class Op>
HWY_INLINE void CombineRow(float* HWY_RESTRICT dst, const float* HWY_RESTRICT src, size_t w) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t c = 0;
  for (; c + N <= w; c += N) {
    hn::StoreU(Op::Combine(hn::LoadU(d, dst + c), hn::LoadU(d, src + c)), d, dst + c);
  }
  if (c < w) {
    const auto m = hn::FirstN(d, w - c);
    hn::BlendedStore(Op::Combine(hn::MaskedLoad(m, d, dst + c), hn::MaskedLoad(m, d, src + c)), m,
                     d, dst + c);
  }
}

// Sums are accumulated in blocks that are then added together (two-level
// summation): the float rounding error then grows with the block length rather
// than with the full reduction length. Max/Min are exact either way.
constexpr size_t kSumRowsPerBlock = 64;   // kept-inner layout, input rows per block
constexpr size_t kSumBlock = 1024;        // reduced-inner layout, floats per block
constexpr size_t kKeptColBlock = 256;     // columns per stack partial (kept-inner)

// Innermost dim kept: each output row y[row, c0:c1] accumulates whole input rows
// (read sequentially) over every reduced index.
template <class Op>
void ReduceKeptInner(const ReducePlan& plan, const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                     size_t row0, size_t row1, size_t c0, size_t c1, float scale) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t n_red = Product(plan.red_ext, plan.n_red);
  constexpr bool kBlocked = std::is_same_v<Op, SumOp>;
  HWY_ALIGN float partial[kKeptColBlock];
  Odometer rows(plan.kept_ext, plan.kept_stride, plan.n_kept, row0);
  for (size_t r = row0; r < row1; ++r, rows.Next()) {
    for (size_t cb = c0; cb < c1; cb += kKeptColBlock) {
      const size_t w = std::min(kKeptColBlock, c1 - cb);
      float* yr = y + r * plan.inner + cb;
      const float* xr = x + rows.offset + cb;
      Odometer red(plan.red_ext, plan.red_stride, plan.n_red, 0);
      // The first block accumulates straight into y, later ones into `partial`.
      std::memcpy(yr, xr + red.offset, w * sizeof(float));
      red.Next();
      float* acc = yr;
      for (size_t k = 1; k < n_red; ++k, red.Next()) {
        if (kBlocked && k % kSumRowsPerBlock == 0) {
          if (acc == partial) CombineRow<Op>(yr, partial, w);
          acc = partial;
          std::memcpy(partial, xr + red.offset, w * sizeof(float));
          continue;
        }
        CombineRow<Op>(acc, xr + red.offset, w);
      }
      if (acc == partial) CombineRow<Op>(yr, partial, w);
      if (scale != 1.0f) {
        const auto vs = hn::Set(d, scale);
        size_t c = 0;
        for (; c + N <= w; c += N) hn::StoreU(hn::Mul(hn::LoadU(d, yr + c), vs), d, yr + c);
        for (; c < w; ++c) yr[c] *= scale;
      }
    }
  }
}

// Innermost dim reduced: each output is a horizontal reduction over contiguous
// segments of `inner` floats (one per outer reduced index).
template <class Op>
void ReduceReducedInner(const ReducePlan& plan, const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                        size_t out0, size_t out1, float scale) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t n = plan.inner;
  const size_t n_red = Product(plan.red_ext, plan.n_red);
  const auto identity = Op::Identity(d);
  Odometer outs(plan.kept_ext, plan.kept_stride, plan.n_kept, out0);
  for (size_t o = out0; o < out1; ++o, outs.Next()) {
    // Two accumulators hide the latency of the dependent adds / max; they are
    // folded into `total` about every kSumBlock floats.
    auto total = identity, acc0 = identity, acc1 = identity;
    size_t since_flush = 0;
    Odometer red(plan.red_ext, plan.red_stride, plan.n_red, 0);
    for (size_t k = 0; k < n_red; ++k, red.Next()) {
      const float* src = x + outs.offset + red.offset;
      // kSumBlock is a multiple of 2N, so only a segment's last block has a tail.
      for (size_t blk = 0; blk < n; blk += kSumBlock) {
        const size_t end = std::min(n, blk + kSumBlock);
        size_t i = blk;
        for (; i + 2 * N <= end; i += 2 * N) {
          acc0 = Op::Combine(acc0, hn::LoadU(d, src + i));
          acc1 = Op::Combine(acc1, hn::LoadU(d, src + i + N));
        }
        for (; i + N <= end; i += N) acc0 = Op::Combine(acc0, hn::LoadU(d, src + i));
        if (i < end) {
          const auto m = hn::FirstN(d, end - i);
          acc1 = Op::Combine(acc1, hn::IfThenElse(m, hn::MaskedLoad(m, d, src + i), identity));
        }
        since_flush += end - blk;
        if (since_flush >= kSumBlock) {
          total = Op::Combine(total, Op::Combine(acc0, acc1));
          acc0 = acc1 = identity;
          since_flush = 0;
        }
      }
    }
    total = Op::Combine(total, Op::Combine(acc0, acc1));
    y[o] = Op::Lanes(d, total) * scale;
  }
}

// Output units [u0, u1): rows of the kept-inner layout split into column blocks
// of `col_block`, or single outputs for the reduced-inner layout.
void ReduceKernel(ReduceOp op, const ReducePlan& plan, const float* x, float* y, size_t u0,
                  size_t u1, size_t col_block) {
  const float scale = op == ReduceOp::kMean ? 1.0f / static_cast<float>(plan.count) : 1.0f;
  if (plan.inner_reduced) {
    switch (op) {
      case ReduceOp::kMean:
      case ReduceOp::kSum: return ReduceReducedInner<SumOp>(plan, x, y, u0, u1, scale);
      case ReduceOp::kMax: return ReduceReducedInner<MaxOp>(plan, x, y, u0, u1, scale);
      case ReduceOp::kMin: return ReduceReducedInner<MinOp>(plan, x, y, u0, u1, scale);
    }
    return;
  }
  const size_t blocks = (plan.inner + col_block - 1) / col_block;
  for (size_t u = u0; u < u1; ++u) {
    const size_t row = u / blocks;
    const size_t c0 = (u % blocks) * col_block;
    const size_t c1 = std::min(plan.inner, c0 + col_block);
    switch (op) {
      case ReduceOp::kMean:
      case ReduceOp::kSum: ReduceKeptInner<SumOp>(plan, x, y, row, row + 1, c0, c1, scale); break;
      case ReduceOp::kMax: ReduceKeptInner<MaxOp>(plan, x, y, row, row + 1, c0, c1, scale); break;
      case ReduceOp::kMin: ReduceKeptInner<MinOp>(plan, x, y, row, row + 1, c0, c1, scale); break;
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
HWY_EXPORT(ReduceKernel);

namespace {

// Returns false when the shape has too many dims for the plan (then the
// reference runs instead).
bool MakePlan(const ReduceParams& p, detail::ReducePlan* plan) {
  const size_t rank = p.in_shape.size();
  if (rank > detail::ReducePlan::kMaxDims) return false;
  bool reduced[detail::ReducePlan::kMaxDims] = {};
  for (int ax : p.axes) reduced[ax] = true;
  // Collapse, outermost first.
  int64_t ext[detail::ReducePlan::kMaxDims];
  bool red[detail::ReducePlan::kMaxDims];
  size_t n = 0;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t e = p.in_shape[i];
    if (e == 1) continue;
    if (reduced[i]) plan->count *= static_cast<size_t>(e);
    if (n > 0 && red[n - 1] == reduced[i]) {
      ext[n - 1] *= e;
    } else {
      ext[n] = e;
      red[n] = reduced[i];
      ++n;
    }
  }
  if (n == 0) {  // a single element
    ext[0] = 1;
    red[0] = false;
    n = 1;
  }
  plan->inner = static_cast<size_t>(ext[n - 1]);
  plan->inner_reduced = red[n - 1];
  int64_t stride = ext[n - 1];
  for (size_t i = n - 1; i-- > 0;) {
    // Filled innermost first, reversed below to keep outermost-first order.
    if (red[i]) {
      plan->red_ext[plan->n_red] = ext[i];
      plan->red_stride[plan->n_red++] = stride;
    } else {
      plan->kept_ext[plan->n_kept] = ext[i];
      plan->kept_stride[plan->n_kept++] = stride;
    }
    stride *= ext[i];
  }
  std::reverse(plan->red_ext, plan->red_ext + plan->n_red);
  std::reverse(plan->red_stride, plan->red_stride + plan->n_red);
  std::reverse(plan->kept_ext, plan->kept_ext + plan->n_kept);
  std::reverse(plan->kept_stride, plan->kept_stride + plan->n_kept);
  return true;
}

}  // namespace

void Reduce(const ExecContext& ctx, const ReduceParams& p, const float* x, float* y) {
  const size_t rank = p.in_shape.size();
  for (size_t k = 0; k < p.axes.size(); ++k) {
    const int ax = p.axes[k];
    if (ax < 0 || static_cast<size_t>(ax) >= rank || (k > 0 && ax <= p.axes[k - 1])) {
      std::fprintf(stderr, "Reduce: axes must be non-negative, sorted, unique and < rank\n");
      std::abort();
    }
  }
  // Empty tensors: nothing to write, or reductions over an empty set, whose
  // values (0, NaN, -inf, +inf) the reference defines.
  size_t in_total = 1;
  for (int64_t e : p.in_shape) in_total *= static_cast<size_t>(e);
  detail::ReducePlan plan;
  if (in_total == 0 || !MakePlan(p, &plan)) {
    ReduceRef(p, x, y);
    return;
  }

  constexpr size_t kChunk = 16384;  // input floats per work unit
  const auto fn = HWY_DYNAMIC_DISPATCH(ReduceKernel);
  const int threads = ctx.num_threads;
  const bool big = in_total > 2 * kChunk && threads > 1;
  if (plan.inner_reduced) {
    const size_t outs = in_total / plan.count;
    const size_t per_unit = std::max<size_t>(1, kChunk / plan.count);
    const size_t units = (outs + per_unit - 1) / per_unit;
    ParallelFor(big ? threads : 1, units, [&](size_t u0, size_t u1) {
      for (size_t u = u0; u < u1; ++u) {
        const size_t o0 = u * per_unit;
        fn(p.op, plan, x, y, o0, std::min(outs, o0 + per_unit), 0);
      }
    });
    return;
  }
  // Kept-inner layout: parallel over output rows; with fewer rows than threads
  // (e.g. global pooling of one image) split the row into 64-byte-aligned blocks.
  const size_t rows = in_total / plan.count / plan.inner;
  size_t col_block = plan.inner;
  if (big && rows < static_cast<size_t>(threads)) {
    col_block = AlignUp((plan.inner + threads - 1) / threads, 16);
  }
  const size_t units = rows * ((plan.inner + col_block - 1) / col_block);
  ParallelFor(big ? threads : 1, units, [&](size_t u0, size_t u1) {
    for (size_t u = u0; u < u1; ++u) fn(p.op, plan, x, y, u, u + 1, col_block);
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
