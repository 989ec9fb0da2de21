// SIMD Dense (constant, pre-packed weights) and MatMul (two activations).
//  * Dense, 1 row: GEMV streaming the packed panels once (memory bound).
//  * Dense, more rows: the register-blocked GEMM microkernel of ops/gemm-inl.h.
//  * MatMul: a straightforward row x column-block kernel on unpacked operands.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/dense_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// y[0, cols] = x * B_strip + bias for one strip of NV vectors of a packed panel
// (rows ldb floats apart). Two accumulator sets (even / odd k) double the number
// of independent FMA chains; they are summed in a fixed order at the end.
template <size_t NV>
HWY_NOINLINE void GemvStrip(const float* HWY_RESTRICT x, size_t k_size, const float* HWY_RESTRICT b,
                            size_t ldb, const float* HWY_RESTRICT bias, size_t cols,
                            float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  V acc0[NV], acc1[NV];
#pragma GCC unroll 8
  for (size_t v = 0; v < NV; ++v) acc0[v] = acc1[v] = hn::Zero(d);
  size_t k = 0;
  for (; k + 2 <= k_size; k += 2) {
    const V x0 = hn::Set(d, x[k]);
    const V x1 = hn::Set(d, x[k + 1]);
    const float* b0 = b + k * ldb;
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; ++v) {
      acc0[v] = hn::MulAdd(x0, hn::Load(d, b0 + v * N), acc0[v]);
      acc1[v] = hn::MulAdd(x1, hn::Load(d, b0 + ldb + v * N), acc1[v]);
    }
  }
  if (k < k_size) {
    const V x0 = hn::Set(d, x[k]);
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; ++v)
      acc0[v] = hn::MulAdd(x0, hn::Load(d, b + k * ldb + v * N), acc0[v]);
  }
#pragma GCC unroll 8
  for (size_t v = 0; v < NV; ++v) {
    const V r = hn::Add(hn::Add(acc0[v], acc1[v]), hn::Load(d, bias + v * N));
    if ((v + 1) * N <= cols) {
      hn::StoreU(r, d, y + v * N);
    } else if (v * N < cols) {
      hn::BlendedStore(r, hn::FirstN(d, cols - v * N), d, y + v * N);
    }
  }
}

// Single-row Dense over panels [p_begin, p_end).
void DenseGemvPanels(const float* x, size_t k_size, size_t n_size, const float* panels, size_t nr,
                     const float* bias, const Activation& act, float* y, size_t p_begin,
                     size_t p_end) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  if (nr % N != 0) HWY_ABORT("Dense: panel width %zu was packed for another target", nr);
  const size_t strip = kGemmNV * N;
  for (size_t p = p_begin; p < p_end; ++p) {
    const size_t n0 = p * nr;
    const size_t ncols = HWY_MIN(nr, n_size - n0);
    const float* panel = panels + p * k_size * nr;
    for (size_t s = 0; s < ncols; s += strip) {
      const size_t cols = HWY_MIN(strip, ncols - s);
      const size_t nv = (cols + N - 1) / N;
      const float* bs = bias + n0 + s;
      float* ys = y + n0 + s;
      switch (nv) {
        case 1:
          GemvStrip<1>(x, k_size, panel + s, nr, bs, cols, ys);
          break;
        case 2:
          if constexpr (kGemmNV >= 2) GemvStrip<2>(x, k_size, panel + s, nr, bs, cols, ys);
          break;
        case 3:
          if constexpr (kGemmNV >= 3) GemvStrip<3>(x, k_size, panel + s, nr, bs, cols, ys);
          break;
        case 4:
          if constexpr (kGemmNV >= 4) GemvStrip<4>(x, k_size, panel + s, nr, bs, cols, ys);
          break;
        default:
          HWY_ABORT("Dense: unsupported strip width %zu", nv);
      }
    }
    ApplyActivationRow(act, y + n0, ncols);
  }
}

// Multi-row Dense: panel p, rows [m0, m1).
void DenseGemmBlock(const float* x, size_t k_size, size_t n_size, const float* panels, size_t nr,
                    const float* bias, const Activation& act, float* y, size_t p, size_t m0,
                    size_t m1) {
  const size_t n0 = p * nr;
  const StridedA a{x, k_size, 0};
  GemmPanelRows(a, 1, k_size, panels + p * k_size * nr, nr, bias + n0, HWY_MIN(nr, n_size - n0),
                act, y + n0, n_size, m0, m1);
}

// Rows [r_begin, r_end) of c = a * b for one batch item (a: m x k, b: k x n).
void MatMulRows(size_t k_size, size_t n_size, const float* HWY_RESTRICT a,
                const float* HWY_RESTRICT b, float* HWY_RESTRICT c, size_t r_begin, size_t r_end) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  for (size_t r = r_begin; r < r_end; ++r) {
    const float* ar = a + r * k_size;
    float* cr = c + r * n_size;
    size_t n = 0;
    for (; n + 4 * N <= n_size; n += 4 * N) {
      V c0 = hn::Zero(d), c1 = hn::Zero(d), c2 = hn::Zero(d), c3 = hn::Zero(d);
      for (size_t k = 0; k < k_size; ++k) {
        const V av = hn::Set(d, ar[k]);
        const float* bk = b + k * n_size + n;
        c0 = hn::MulAdd(av, hn::LoadU(d, bk), c0);
        c1 = hn::MulAdd(av, hn::LoadU(d, bk + N), c1);
        c2 = hn::MulAdd(av, hn::LoadU(d, bk + 2 * N), c2);
        c3 = hn::MulAdd(av, hn::LoadU(d, bk + 3 * N), c3);
      }
      hn::StoreU(c0, d, cr + n);
      hn::StoreU(c1, d, cr + n + N);
      hn::StoreU(c2, d, cr + n + 2 * N);
      hn::StoreU(c3, d, cr + n + 3 * N);
    }
    for (; n < n_size; n += N) {
      const size_t cols = HWY_MIN(N, n_size - n);
      const auto m = hn::FirstN(d, cols);
      V c0 = hn::Zero(d);
      for (size_t k = 0; k < k_size; ++k) {
        c0 = hn::MulAdd(hn::Set(d, ar[k]), hn::MaskedLoad(m, d, b + k * n_size + n), c0);
      }
      hn::BlendedStore(c0, m, d, cr + n);
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
#include <algorithm>

#include "ops/dense.h"
#include "ops/gemm.h"

namespace facelib::ops {
HWY_EXPORT(DenseGemvPanels);
HWY_EXPORT(DenseGemmBlock);
HWY_EXPORT(MatMulRows);

namespace {

class PackedDenseImpl final : public PackedDense {
 public:
  PackedDenseImpl(const DenseParams& p, const float* weights, const float* bias)
      : k_(static_cast<size_t>(p.in_features)), n_(static_cast<size_t>(p.out_features)) {
    const gemm::TileGeometry geom = gemm::CurrentTileGeometry();
    nr_ = gemm::PanelWidth(geom, n_);
    m_block_ = static_cast<size_t>(geom.mr) * 8;
    num_panels_ = gemm::NumPanels(n_, nr_);
    panels_ = gemm::AllocFloats(num_panels_ * k_ * nr_);
    bias_ = gemm::AllocFloats(num_panels_ * nr_);
    // weights are K x N row-major: B(k, n) = w[k * N + n].
    gemm::PackPanels(weights, k_, n_, n_, 1, nr_, panels_.get());
    gemm::PackBias(bias, n_, nr_, bias_.get());
  }

  void Run(const ExecContext& ctx, const DenseParams& p, const float* x, float* y) const override {
    if (static_cast<size_t>(p.in_features) != k_ || static_cast<size_t>(p.out_features) != n_) {
      HWY_ABORT("Dense: Run params do not match the packed weights");
    }
    const size_t rows = static_cast<size_t>(p.rows);
    if (rows == 0 || n_ == 0) return;
    const int threads = std::max(1, ctx.num_threads);
    if (rows == 1) {
      const auto fn = HWY_DYNAMIC_DISPATCH(DenseGemvPanels);
      const long panels = static_cast<long>(num_panels_);
      ParallelFor(threads, static_cast<size_t>(panels), [&](size_t q0, size_t q1) {
        fn(x, k_, n_, panels_.get(), nr_, bias_.get(), p.act, y, q0, q1);
      });
      return;
    }
    const auto fn = HWY_DYNAMIC_DISPATCH(DenseGemmBlock);
    const size_t m_blocks = (rows + m_block_ - 1) / m_block_;
    const long tasks = static_cast<long>(num_panels_ * m_blocks);
    ParallelFor(threads, static_cast<size_t>(tasks), [&](size_t t0, size_t t1) {
      for (size_t t = t0; t < t1; ++t) {
        const size_t panel = t / m_blocks;
        const size_t m0 = (t % m_blocks) * m_block_;
        fn(x, k_, n_, panels_.get(), nr_, bias_.get(), p.act, y, panel, m0,
           std::min(rows, m0 + m_block_));
      }
    });
  }

 private:
  size_t k_, n_, nr_ = 0, m_block_ = 1, num_panels_ = 0;
  hwy::AlignedFreeUniquePtr<float[]> panels_;
  hwy::AlignedFreeUniquePtr<float[]> bias_;
};

}  // namespace

std::unique_ptr<PackedDense> PackDense(const DenseParams& p, const float* weights,
                                       const float* bias) {
  return std::make_unique<PackedDenseImpl>(p, weights, bias);
}

void MatMul(const ExecContext& ctx, int batch, int m, int k, int n, const float* a, const float* b,
            float* c) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  const size_t ms = static_cast<size_t>(m), ks = static_cast<size_t>(k),
               ns = static_cast<size_t>(n);
  // Work unit: a block of rows of one batch item, sized to ~64K multiply-adds.
  const size_t rows_per_task =
      std::max<size_t>(1, (size_t{1} << 16) / std::max<size_t>(1, ks * ns));
  const size_t tasks_per_item = (ms + rows_per_task - 1) / rows_per_task;
  const long tasks = static_cast<long>(static_cast<size_t>(batch) * tasks_per_item);
  const int threads = std::max(1, ctx.num_threads);
  const auto fn = HWY_DYNAMIC_DISPATCH(MatMulRows);
  ParallelFor(threads, static_cast<size_t>(tasks), [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const size_t bi = t / tasks_per_item;
      const size_t r0 = (t % tasks_per_item) * rows_per_task;
      fn(ks, ns, a + bi * ms * ks, b + bi * ks * ns, c + bi * ms * ns, r0,
         std::min(ms, r0 + rows_per_task));
    }
  });
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
