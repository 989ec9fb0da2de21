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
// A is described by an accessor so that the same kernel serves an indirection
// buffer (implicit-GEMM convolution) and plain strided rows (1x1 conv, dense,
// locally-connected): the reduction is `taps` runs of `kc` contiguous floats
// per row, run t of row r starting at a.Row(r, t).
#if defined(FACELIB_OPS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FACELIB_OPS_GEMM_INL_H_
#undef FACELIB_OPS_GEMM_INL_H_
#else
#define FACELIB_OPS_GEMM_INL_H_
#endif

#include <cstddef>

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

// Row pointers from an indirection buffer: ind[r * taps + t] points at the first
// channel of an input pixel (or at a zero row for padding); `offset` selects the
// group's channel slice.
struct IndirectA {
  const float* const* ind;
  size_t taps;
  size_t offset;
  HWY_INLINE const float* Row(size_t r, size_t t) const { return ind[r * taps + t] + offset; }
  HWY_INLINE IndirectA Advance(size_t rows) const { return {ind + rows * taps, taps, offset}; }
};

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
};

// One MR x (NV * lanes) tile: C = act(A * B_panel + bias). `ldb` is the panel
// width (row stride of the packed panel), which may exceed NV * lanes for the
// last panel of a matrix whose width is not a multiple of the panel width.
template <size_t MR, size_t NV, class A>
HWY_NOINLINE void GemmMicroKernel(const A a, size_t taps, size_t kc, const float* HWY_RESTRICT b,
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

  // Epilogue: bias, store (masked in the last vector of a partial panel), then
  // the activation on the freshly written (cache-hot) rows. Keeping the
  // transcendental activations out of this function keeps it small.
  const size_t full_v = out.ncols / N;
  const size_t rem = out.ncols - full_v * N;
#pragma GCC unroll 8
  for (size_t r = 0; r < MR; ++r) {
    float* HWY_RESTRICT cr = out.c + r * out.ldc;
#pragma GCC unroll 8
    for (size_t v = 0; v < NV; ++v) {
      const V x = hn::Add(acc[r][v], hn::Load(d, out.bias + v * N));
      if (v < full_v) {
        hn::StoreU(x, d, cr + v * N);
      } else if (v == full_v && rem != 0) {
        hn::BlendedStore(x, hn::FirstN(d, rem), d, cr + v * N);
      }
    }
  }
  if (out.act->type != ActType::kNone) {
    for (size_t r = 0; r < MR; ++r) ApplyActivationRow(*out.act, out.c + r * out.ldc, out.ncols);
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

// Rows [m0, m1) of C (row m at c + m * ldc) against one packed panel of width
// `ldb` whose first `ncols` columns are valid; `a` describes row 0 of A. A panel
// wider than this target's tile (packed for a wider target) is processed in
// strips of tile width; `ldb` must be a multiple of the vector length.
template <class A>
HWY_INLINE void GemmPanelRows(const A& a, size_t taps, size_t kc, const float* panel, size_t ldb,
                              const float* bias, size_t ncols, const Activation& act, float* c,
                              size_t ldc, size_t m0, size_t m1) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  if (ldb % N != 0) HWY_ABORT("GEMM: panel width %zu was packed for another target", ldb);
  const size_t strip = kGemmNV * N;
  for (size_t s = 0; s < ncols; s += strip) {
    const size_t cols = HWY_MIN(strip, ncols - s);
    const size_t nv = (cols + N - 1) / N;
    for (size_t m = m0; m < m1; m += kGemmMR) {
      const size_t mr = HWY_MIN(kGemmMR, m1 - m);
      const GemmOut out{c + m * ldc + s, ldc, cols, bias + s, &act};
      GemmTile(mr, nv, a.Advance(m), taps, kc, panel + s, ldb, out);
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
