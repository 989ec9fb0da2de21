#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/pool_hwy.cc"
#include <algorithm>
#include <cmath>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/pool.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <bool kMax, class V>
HWY_INLINE V Combine(V acc, V v) {
  if constexpr (kMax) {
    return hn::Max(acc, v);
  } else {
    return hn::Add(acc, v);
  }
}

template <bool kMax, class D, class V>
HWY_INLINE V Finish(D d, V acc, V mul, const Activation& act) {
  if constexpr (!kMax) acc = hn::Mul(acc, mul);
  return ApplyActivation(d, act, acc);
}

// Reduces a rows x cols window of NHWC cells (channels contiguous) into `out`,
// vectorised over channels. `base` points at channel 0 of the window's top-left
// cell. Cells are visited in row-major order, the same order as the reference,
// so sums agree bit for bit before the final scaling. The accumulator starts
// at `init` (-inf for max, 0 for sums; 0 for an empty window), and averages are
// multiplied by `mul` (1 / divisor).
template <bool kMax>
HWY_INLINE void ReduceWindow(const float* HWY_RESTRICT base, size_t cell_stride, size_t row_stride,
                             size_t rows, size_t cols, size_t channels, float init, float mul,
                             const Activation& act, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const V vinit = hn::Set(d, init);
  const V vmul = hn::Set(d, mul);
  size_t c = 0;
  // Four vectors of channels at a time: four independent dependency chains
  // hide the latency of max/add.
  for (; c + 4 * N <= channels; c += 4 * N) {
    V a0 = vinit, a1 = vinit, a2 = vinit, a3 = vinit;
    for (size_t r = 0; r < rows; ++r) {
      const float* p = base + r * row_stride + c;
      for (size_t k = 0; k < cols; ++k, p += cell_stride) {
        a0 = Combine<kMax>(a0, hn::LoadU(d, p));
        a1 = Combine<kMax>(a1, hn::LoadU(d, p + N));
        a2 = Combine<kMax>(a2, hn::LoadU(d, p + 2 * N));
        a3 = Combine<kMax>(a3, hn::LoadU(d, p + 3 * N));
      }
    }
    hn::StoreU(Finish<kMax>(d, a0, vmul, act), d, out + c);
    hn::StoreU(Finish<kMax>(d, a1, vmul, act), d, out + c + N);
    hn::StoreU(Finish<kMax>(d, a2, vmul, act), d, out + c + 2 * N);
    hn::StoreU(Finish<kMax>(d, a3, vmul, act), d, out + c + 3 * N);
  }
  for (; c + N <= channels; c += N) {
    V a = vinit;
    for (size_t r = 0; r < rows; ++r) {
      const float* p = base + r * row_stride + c;
      for (size_t k = 0; k < cols; ++k, p += cell_stride) a = Combine<kMax>(a, hn::LoadU(d, p));
    }
    hn::StoreU(Finish<kMax>(d, a, vmul, act), d, out + c);
  }
  if (c < channels) {
    const auto m = hn::FirstN(d, channels - c);
    V a = vinit;
    for (size_t r = 0; r < rows; ++r) {
      const float* p = base + r * row_stride + c;
      for (size_t k = 0; k < cols; ++k, p += cell_stride) {
        a = Combine<kMax>(a, hn::MaskedLoad(m, d, p));
      }
    }
    hn::BlendedStore(Finish<kMax>(d, a, vmul, act), m, d, out + c);
  }
}

// One output pixel whose clipped window is [y0, y0+rows) x [x0, x0+cols); `div`
// is the average-pool divisor.
template <bool kMax>
HWY_INLINE void PoolPixel(const PoolParams& p, const float* img, int y0, int rows, int x0, int cols,
                          int div, float* out) {
  const size_t C = static_cast<size_t>(p.channels);
  const bool empty = rows <= 0 || cols <= 0;
  const float init = (kMax && !empty) ? -HUGE_VALF : 0.0f;
  const float mul = (empty || div <= 0) ? 0.0f : 1.0f / static_cast<float>(div);
  const float* base = empty ? img : img + (static_cast<size_t>(y0) * p.in_w + x0) * C;
  ReduceWindow<kMax>(base, C, static_cast<size_t>(p.in_w) * C, empty ? 0 : rows, empty ? 0 : cols, C,
                     init, mul, p.act, out);
}

// Output rows [row_begin, row_end) of the flattened [batch * out_h] row index.
template <bool kMax>
void PoolRowsT(const PoolParams& p, const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
               size_t row_begin, size_t row_end) {
  const size_t C = static_cast<size_t>(p.channels);
  // Columns whose window lies entirely inside the input: [ox_lo, ox_hi).
  const int ox_lo = std::min(p.out_w, (p.pad_left + p.stride_w - 1) / p.stride_w);
  int ox_hi = p.in_w + p.pad_left >= p.kernel_w
                  ? std::min(p.out_w, (p.in_w + p.pad_left - p.kernel_w) / p.stride_w + 1)
                  : 0;
  ox_hi = std::max(ox_hi, ox_lo);
  for (size_t row = row_begin; row < row_end; ++row) {
    const int n = static_cast<int>(row / p.out_h);
    const int oy = static_cast<int>(row % p.out_h);
    const int hs = oy * p.stride_h - p.pad_top;
    const int he = hs + p.kernel_h;
    const int y0 = std::max(hs, 0);
    const int rows = std::min(he, p.in_h) - y0;
    const int padded_h = std::min(he, p.in_h + p.pad_bottom) - hs;
    const float* img = x + static_cast<size_t>(n) * p.in_h * p.in_w * C;
    float* out = y + row * p.out_w * C;

    auto border = [&](int ox) {
      const int ws = ox * p.stride_w - p.pad_left;
      const int we = ws + p.kernel_w;
      const int x0 = std::max(ws, 0);
      const int cols = std::min(we, p.in_w) - x0;
      const int padded_w = std::min(we, p.in_w + p.pad_right) - ws;
      const int div = p.count_include_pad ? padded_h * padded_w : rows * cols;
      PoolPixel<kMax>(p, img, y0, rows, x0, cols, div, out + static_cast<size_t>(ox) * C);
    };
    for (int ox = 0; ox < ox_lo; ++ox) border(ox);
    // Interior: the full kernel width is real input, so only the row clip matters.
    const int div = (p.count_include_pad ? padded_h : rows) * p.kernel_w;
    for (int ox = ox_lo; ox < ox_hi; ++ox) {
      PoolPixel<kMax>(p, img, y0, rows, ox * p.stride_w - p.pad_left, p.kernel_w, div,
                      out + static_cast<size_t>(ox) * C);
    }
    for (int ox = ox_hi; ox < p.out_w; ++ox) border(ox);
  }
}

void PoolRows(const PoolParams& p, const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
              size_t row_begin, size_t row_end) {
  if (p.type == PoolType::kMax) {
    PoolRowsT<true>(p, x, y, row_begin, row_end);
  } else {
    PoolRowsT<false>(p, x, y, row_begin, row_end);
  }
}

// Global pooling of one image over channels [c_begin, c_end).
void GlobalPoolChunk(PoolType type, size_t hw, size_t channels, const float* HWY_RESTRICT x,
                     float* HWY_RESTRICT y, size_t c_begin, size_t c_end) {
  const Activation none;
  const size_t nc = c_end - c_begin;
  if (type == PoolType::kMax) {
    ReduceWindow<true>(x + c_begin, channels, 0, hw > 0 ? 1 : 0, hw, nc, hw > 0 ? -HUGE_VALF : 0.0f,
                       0.0f, none, y + c_begin);
  } else {
    ReduceWindow<false>(x + c_begin, channels, 0, hw > 0 ? 1 : 0, hw, nc, 0.0f,
                        hw > 0 ? 1.0f / static_cast<float>(hw) : 0.0f, none, y + c_begin);
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
#include <algorithm>

namespace facelib::ops {
HWY_EXPORT(PoolRows);
HWY_EXPORT(GlobalPoolChunk);

void Pool(const ExecContext& ctx, const PoolParams& p, const float* x, float* y) {
  const size_t rows = static_cast<size_t>(p.batch) * p.out_h;
  if (rows == 0 || p.out_w <= 0 || p.channels <= 0) return;
  const size_t row_work = static_cast<size_t>(p.out_w) * p.channels * p.kernel_h * p.kernel_w;
  // Rows per task: about 32K window cells each, so that small pools stay serial.
  const size_t rows_per_task = std::max<size_t>(1, (size_t{1} << 15) / std::max<size_t>(row_work, 1));
  const size_t tasks = (rows + rows_per_task - 1) / rows_per_task;
  const auto fn = HWY_DYNAMIC_DISPATCH(PoolRows);
  ParallelFor(ctx.num_threads, tasks, [&](size_t t0, size_t t1) {
    fn(p, x, y, t0 * rows_per_task, std::min(rows, t1 * rows_per_task));
  });
}

void GlobalPool(const ExecContext& ctx, PoolType type, int batch, int hw, int channels, const float* x,
                float* y) {
  if (batch <= 0 || channels <= 0) return;
  // Channel chunks are a multiple of every vector width so that only the last
  // chunk of an image has a masked tail.
  constexpr size_t kChunk = 256;
  const size_t C = static_cast<size_t>(channels);
  const size_t chunks_per_image = (C + kChunk - 1) / kChunk;
  const size_t tasks = static_cast<size_t>(batch) * chunks_per_image;
  const bool parallel = ctx.num_threads > 1 && tasks > 1 && static_cast<size_t>(hw) * C * batch >= (1u << 15);
  const auto fn = HWY_DYNAMIC_DISPATCH(GlobalPoolChunk);
  ParallelFor(parallel ? ctx.num_threads : 1, tasks, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const size_t n = t / chunks_per_image;
      const size_t c0 = (t % chunks_per_image) * kChunk;
      fn(type, static_cast<size_t>(hw), C, x + n * hw * C, y + n * C, c0, std::min(C, c0 + kChunk));
    }
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
