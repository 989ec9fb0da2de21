// Register-blocked GEMM microkernel on packed weight panels (see ops/gemm.h),
// re-compiled per Highway target. Used by conv2d (implicit GEMM and 1x1),
// dense and locally-connected.
//
// Outer-product form: for every k, the microkernel loads one row of the packed
// panel (NV vectors), broadcasts one A value per tile row and FMAs into MR x NV
// accumulators that stay in registers for the whole reduction. Every output
// element is reduced in the same k order whatever the tiling or thread count,
// so results are deterministic.
//
// A is described by an accessor so that the same kernel serves the input
// windows of an implicit-GEMM convolution (located from the geometry, see
// ops/conv2d_hwy.cc) and plain strided rows (1x1 conv, dense, locally-connected):
// the reduction is `taps` runs of `kc` contiguous floats per row, run t of row r
// starting at a.Row(r, t).
#if defined(FACELIB_OPS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FACELIB_OPS_GEMM_INL_H_
#undef FACELIB_OPS_GEMM_INL_H_
#else
#define FACELIB_OPS_GEMM_INL_H_
#endif

#include <cstddef>
#include <type_traits>

#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/common.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Tile shape per target. The accumulators plus one panel row plus the broadcast
// value must fit the register file: AVX-512 has 32 vector registers (24 + 4 + 1),
// AVX2 16 (12 + 2 + 1). The 1-lane fallback only needs to be correct.
#if HWY_TARGET == HWY_SCALAR
constexpr size_t kGemmMR = 4;
constexpr size_t kGemmNV = 4;
#elif HWY_MAX_BYTES >= 64
constexpr size_t kGemmMR = 6;
constexpr size_t kGemmNV = 4;
#else
constexpr size_t kGemmMR = 6;
constexpr size_t kGemmNV = 2;
#endif

// Row r, run t at base + r * row_stride + t * tap_stride.
struct StridedA {
  const float* base;
  size_t row_stride;
  size_t tap_stride;
  HWY_INLINE const float* Row(size_t r, size_t t) const {
    return base + r * row_stride + t * tap_stride;
  }
  HWY_INLINE StridedA Advance(size_t rows) const {
    return {base + rows * row_stride, row_stride, tap_stride};
  }
};

// Where and how a tile's results are written.
struct GemmOut {
  float* c;           // element (row 0, column 0) of the tile
  size_t ldc;         // floats between output rows
  size_t ncols;       // valid columns in this panel (<= NV * lanes)
  const float* bias;  // nr floats for this panel (zero-padded), never null
  const Activation* act;
  // Optional tensor added before the activation (a fused residual connection):
  // element (row r, column j) at residual[r * ldr + j], same tile origin as c.
  const float* residual = nullptr;
  size_t ldr = 0;
  // Optional per-column affine applied after the activation (a BatchNorm that
  // follows the activation): nr floats each for this panel, both or neither.
  const float* post_scale = nullptr;
  const float* post_shift = nullptr;
};

// One MR x (NV * lanes) tile: C = act(A * B_panel + bias). `ldb` is the panel
// width (row stride of the packed panel), which may exceed NV * lanes for the
// last panel of a matrix whose width is not a multiple of the panel width.
template <size_t MR, size_t NV, class A>
HWY_INLINE void GemmTileBody(const A& a, size_t taps, size_t kc, const float* HWY_RESTRICT b,
                             size_t ldb, const GemmOut& out) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);

  V acc[MR][NV];
#pragma GCC unroll 8
  for (size_t r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  }

  for (size_t t = 0; t < taps; ++t) {
    const float* HWY_RESTRICT ap[MR];
#pragma GCC unroll 8
    for (size_t r = 0; r < MR; ++r) ap[r] = a.Row(r, t);
    const float* HWY_RESTRICT bt = b + t * kc * ldb;
    for (size_t k = 0; k < kc; ++k) {
      V bv[NV];
#pragma GCC unroll 8
      for (size_t v = 0; v < NV; ++v) bv[v] = hn::Load(d, bt + v * N);
#pragma GCC unroll 8
      for (size_t r = 0; r < MR; ++r) {
        const V av = hn::Set(d, ap[r][k]);
#pragma GCC unroll 8
        for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
      }
      bt += ldb;
    }
  }

  // Epilogue: bias (and residual), clamp-type activations and the post affine
  // in registers, store (masked in the last vector of a partial panel). Other
  // activations, and the post affine after them, are left to the caller
  // (ApplyEpilogueBlock on the cache-hot block).
  const size_t full_v = out.ncols / N;
  const size_t rem = out.ncols - full_v * N;
  const ActClamp clamp = ActClamp::For(*out.act);
  const bool do_clamp = out.act->type != ActType::kNone && !clamp.row_pass;
  const bool do_post = out.post_scale != nullptr && !clamp.row_pass;
  const V lo = hn::Set(d, clamp.lo), hi = hn::Set(d, clamp.hi);
  const auto tail = hn::FirstN(d, rem);
  // kExtras: a residual or a post affine; without them the loop has no branches.
  auto store_all = [&](auto extras) {
    constexpr bool kExtras = decltype(extras)::value;
#pragma GCC unroll 8
    for (size_t r = 0; r < MR; ++r) {
      float* HWY_RESTRICT cr = out.c + r * out.ldc;
#pragma GCC unroll 8
      for (size_t v = 0; v < NV; ++v) {
        V x = hn::Add(acc[r][v], hn::Load(d, out.bias + v * N));
        if (kExtras && out.residual != nullptr) {
          const float* res = out.residual + r * out.ldr + v * N;
          if (v < full_v) {
            x = hn::Add(x, hn::LoadU(d, res));
          } else if (v == full_v && rem != 0) {
            x = hn::Add(x, hn::MaskedLoad(tail, d, res));
          }
        }
        if (do_clamp) x = hn::Min(hn::Max(x, lo), hi);
        if (kExtras && do_post) {
          x = hn::Add(hn::Mul(x, hn::Load(d, out.post_scale + v * N)),
                      hn::Load(d, out.post_shift + v * N));
        }
        if (v < full_v) {
          hn::StoreU(x, d, cr + v * N);
        } else if (v == full_v && rem != 0) {
          hn::BlendedStore(x, tail, d, cr + v * N);
        }
      }
    }
  };
  if (out.residual == nullptr && out.post_scale == nullptr) {
    store_all(std::false_type());
  } else {
    store_all(std::true_type());
  }
}

// y = y * scale + shift over one row of ncols columns (per-column scale, shift).
HWY_INLINE void PostAffineRow(const float* HWY_RESTRICT scale, const float* HWY_RESTRICT shift,
                              float* HWY_RESTRICT y, size_t ncols) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t j = 0;
  for (; j + N <= ncols; j += N) {
    hn::StoreU(hn::Add(hn::Mul(hn::LoadU(d, y + j), hn::LoadU(d, scale + j)), hn::LoadU(d, shift + j)),
               d, y + j);
  }
  if (j < ncols) {
    const auto m = hn::FirstN(d, ncols - j);
    const auto v = hn::Add(hn::Mul(hn::MaskedLoad(m, d, y + j), hn::MaskedLoad(m, d, scale + j)),
                           hn::MaskedLoad(m, d, shift + j));
    hn::BlendedStore(v, m, d, y + j);
  }
}

template <size_t MR, size_t NV, class A>
HWY_NOINLINE void GemmMicroKernel(const A a, size_t taps, size_t kc, const float* HWY_RESTRICT b,
                                  size_t ldb, const GemmOut& out) {
  GemmTileBody<MR, NV>(a, taps, kc, b, ldb, out);
}

// `tiles` consecutive MR-row tiles in one call (A accessors with Advance):
// the call and dispatch overhead of a tile is noticeable when the reduction is short.
template <size_t MR, size_t NV, class A>
HWY_NOINLINE void GemmMicroKernelRun(const A a, size_t taps, size_t kc,
                                     const float* HWY_RESTRICT b, size_t ldb, GemmOut out,
                                     size_t tiles) {
  for (size_t i = 0; i < tiles; ++i) {
    GemmTileBody<MR, NV>(a.Advance(i * MR), taps, kc, b, ldb, out);
    out.c += MR * out.ldc;
    if (out.residual != nullptr) out.residual += MR * out.ldr;
  }
}

// The activations that are not a clamp (and the post affine after them), over
// rows x ncols of a finished block (row r at c + r * ldc): one pass per block
// rather than per tile, so that the independent transcendental chains of many
// vectors overlap.
HWY_INLINE void ApplyEpilogueBlock(const Activation& act, const float* post_scale,
                                   const float* post_shift, float* c, size_t ldc, size_t rows,
                                   size_t ncols) {
  if (!ActClamp::For(act).row_pass) return;
  if (ncols == ldc) {
    ApplyActivationRow(act, c, rows * ncols);
  } else {
    for (size_t r = 0; r < rows; ++r) ApplyActivationRow(act, c + r * ldc, ncols);
  }
  if (post_scale != nullptr) {
    for (size_t r = 0; r < rows; ++r) PostAffineRow(post_scale, post_shift, c + r * ldc, ncols);
  }
}

// Taller tiles for strips of one or two vectors: MR x NV accumulators must
// cover the FMA latency times the FMA pipes (8 independent chains). Eight rows
// is the most before the MR row pointers of A no longer fit the general-purpose
// registers. Full tiles of a strip use this height; the rows left over use
// tiles of at most kGemmMR rows.
template <size_t NV>
constexpr size_t GemmTallMR() {
#if HWY_TARGET == HWY_SCALAR
  return kGemmMR;
#elif HWY_MAX_BYTES >= 64
  return NV <= 2 ? 8 : kGemmMR;
#else
  return NV == 1 ? 8 : kGemmMR;
#endif
}
constexpr size_t kGemmMaxMR = GemmTallMR<1>() > kGemmMR ? GemmTallMR<1>() : kGemmMR;

HWY_INLINE size_t GemmTallRows(size_t nv) {
  switch (nv) {
    case 1:
      return GemmTallMR<1>();
    case 2:
      return GemmTallMR<2>();
    case 3:
      return GemmTallMR<3>();
    default:
      return GemmTallMR<4>();
  }
}

template <size_t MR, class A>
HWY_INLINE void GemmTileNV(size_t nv, const A& a, size_t taps, size_t kc, const float* b,
                           size_t ldb, const GemmOut& out) {
  switch (nv) {
    case 1:
      return GemmMicroKernel<MR, 1>(a, taps, kc, b, ldb, out);
    case 2:
      if constexpr (kGemmNV >= 2) return GemmMicroKernel<MR, 2>(a, taps, kc, b, ldb, out);
      break;
    case 3:
      if constexpr (kGemmNV >= 3) return GemmMicroKernel<MR, 3>(a, taps, kc, b, ldb, out);
      break;
    case 4:
      if constexpr (kGemmNV >= 4) return GemmMicroKernel<MR, 4>(a, taps, kc, b, ldb, out);
      break;
  }
  HWY_ABORT("GEMM: unsupported tile width %zu vectors", nv);
}

template <class A>
HWY_INLINE void GemmTile(size_t mr, size_t nv, const A& a, size_t taps, size_t kc, const float* b,
                         size_t ldb, const GemmOut& out) {
  static_assert(kGemmMR <= 6, "extend the switch below");
  switch (mr) {
    case 1:
      return GemmTileNV<1>(nv, a, taps, kc, b, ldb, out);
    case 2:
      return GemmTileNV<2>(nv, a, taps, kc, b, ldb, out);
    case 3:
      return GemmTileNV<3>(nv, a, taps, kc, b, ldb, out);
    case 4:
      return GemmTileNV<4>(nv, a, taps, kc, b, ldb, out);
    case 5:
      if constexpr (kGemmMR >= 5) return GemmTileNV<5>(nv, a, taps, kc, b, ldb, out);
      break;
    case 6:
      if constexpr (kGemmMR >= 6) return GemmTileNV<6>(nv, a, taps, kc, b, ldb, out);
      break;
  }
  HWY_ABORT("GEMM: unsupported tile height %zu rows", mr);
}

// One tile of GemmTallRows(nv) rows.
template <class A>
HWY_INLINE void GemmTallTile(size_t nv, const A& a, size_t taps, size_t kc, const float* b,
                             size_t ldb, const GemmOut& out) {
  switch (nv) {
    case 1:
      return GemmMicroKernel<GemmTallMR<1>(), 1>(a, taps, kc, b, ldb, out);
    case 2:
      if constexpr (kGemmNV >= 2) return GemmMicroKernel<GemmTallMR<2>(), 2>(a, taps, kc, b, ldb, out);
      break;
    case 3:
      if constexpr (kGemmNV >= 3) return GemmMicroKernel<GemmTallMR<3>(), 3>(a, taps, kc, b, ldb, out);
      break;
    case 4:
      if constexpr (kGemmNV >= 4) return GemmMicroKernel<GemmTallMR<4>(), 4>(a, taps, kc, b, ldb, out);
      break;
  }
  HWY_ABORT("GEMM: unsupported tile width %zu vectors", nv);
}

// `tiles` tiles of GemmTallRows(nv) rows each, rows advancing through `a`.
template <class A>
HWY_INLINE void GemmTallTiles(size_t nv, const A& a, size_t taps, size_t kc, const float* b,
                              size_t ldb, const GemmOut& out, size_t tiles) {
  switch (nv) {
    case 1:
      return GemmMicroKernelRun<GemmTallMR<1>(), 1>(a, taps, kc, b, ldb, out, tiles);
    case 2:
      if constexpr (kGemmNV >= 2) {
        return GemmMicroKernelRun<GemmTallMR<2>(), 2>(a, taps, kc, b, ldb, out, tiles);
      }
      break;
    case 3:
      if constexpr (kGemmNV >= 3) {
        return GemmMicroKernelRun<GemmTallMR<3>(), 3>(a, taps, kc, b, ldb, out, tiles);
      }
      break;
    case 4:
      if constexpr (kGemmNV >= 4) {
        return GemmMicroKernelRun<GemmTallMR<4>(), 4>(a, taps, kc, b, ldb, out, tiles);
      }
      break;
  }
  HWY_ABORT("GEMM: unsupported tile width %zu vectors", nv);
}

// Rows of the next tile starting `left` rows before the end of a strip with nv vectors.
HWY_INLINE size_t GemmNextTileRows(size_t nv, size_t left) {
  const size_t tall = GemmTallRows(nv);
  return left >= tall ? tall : HWY_MIN(kGemmMR, left);
}

// A tile of `mr` rows (GemmNextTileRows): the tall kernel or a short one.
template <class A>
HWY_INLINE void GemmAnyTile(size_t mr, size_t nv, const A& a, size_t taps, size_t kc,
                            const float* b, size_t ldb, const GemmOut& out) {
  if (mr == GemmTallRows(nv) && mr > kGemmMR) {
    GemmTallTile(nv, a, taps, kc, b, ldb, out);
  } else {
    GemmTile(mr, nv, a, taps, kc, b, ldb, out);
  }
}

// Rows [m0, m1) of C (row m at c + m * ldc) against one packed panel of width
// `ldb` whose first `ncols` columns are valid; `a` describes row 0 of A. A panel
// wider than this target's tile (packed for a wider target) is processed in
// strips of tile width; `ldb` must be a multiple of the vector length.
// `residual` (optional) is added before the activation, laid out like c;
// post_scale / post_shift (optional, nr floats like bias) are applied after it.
template <class A>
HWY_INLINE void GemmPanelRows(const A& a, size_t taps, size_t kc, const float* panel, size_t ldb,
                              const float* bias, size_t ncols, const Activation& act, float* c,
                              size_t ldc, size_t m0, size_t m1, const float* residual = nullptr,
                              const float* post_scale = nullptr,
                              const float* post_shift = nullptr) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  if (ldb % N != 0) HWY_ABORT("GEMM: panel width %zu was packed for another target", ldb);
  const size_t strip = kGemmNV * N;
  for (size_t s = 0; s < ncols; s += strip) {
    const size_t cols = HWY_MIN(strip, ncols - s);
    const size_t nv = (cols + N - 1) / N;
    auto out_at = [&](size_t m) {
      return GemmOut{c + m * ldc + s,
                     ldc,
                     cols,
                     bias + s,
                     &act,
                     residual != nullptr ? residual + m * ldc + s : nullptr,
                     ldc,
                     post_scale != nullptr ? post_scale + s : nullptr,
                     post_shift != nullptr ? post_shift + s : nullptr};
    };
    // Full tall tiles in one call, then the rows left over.
    const size_t tall = GemmTallRows(nv);
    const size_t tiles = (m1 - m0) / tall;
    if (tiles > 0) GemmTallTiles(nv, a.Advance(m0), taps, kc, panel + s, ldb, out_at(m0), tiles);
    for (size_t m = m0 + tiles * tall; m < m1;) {
      const size_t mr = HWY_MIN(kGemmMR, m1 - m);
      GemmTile(mr, nv, a.Advance(m), taps, kc, panel + s, ldb, out_at(m));
      m += mr;
    }
  }
  ApplyEpilogueBlock(act, post_scale, post_shift, c + m0 * ldc, ldc, m1 - m0, ncols);
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
