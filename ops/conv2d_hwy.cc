// SIMD 2-D convolution (NHWC). Execution plans, chosen at pack time:
//  * 1x1, stride 1, no padding: a GEMM directly on the input rows.
//  * any other non-depthwise conv (incl. grouped): implicit GEMM whose tiles
//    locate the input pixel under every tap from the geometry (a shared zero row
//    stands in for the padding). No im2col copy and no indirection buffer.
//  * few input channels (RGB stems): im2col of one tile at a time, or the input
//    read in place for common pixel strides.
//  * few output channels with a long reduction (detection heads): dot products
//    along the input channels.
//  * one input and one output channel (score maps): a stencil along the row.
//  * depthwise (groups == in_c > 1, any channel multiplier): a direct kernel
//    vectorised over channels with unrolled 3x3 / 5x5 interiors, fed input row
//    pointers (a zero row stands in for rows in the padding).
// The GEMM epilogue adds the bias and an optional residual, applies clamp-type
// activations and an optional per-channel post affine in registers; other
// activations run once per finished block. Fused 1x1 + depthwise pairs reuse the
// GEMM and depthwise kernels row by row (see ConvPairBands).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/conv2d_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/activation-inl.h"
#include "ops/conv2d-internal.h"
#include "ops/gemm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------------------
// GEMM plans

// A rows of an implicit-GEMM tile located from the convolution geometry (no
// indirection buffer): row r's window origin is pix[r] floats into the input,
// tap t is tap_off[t] floats further, plus the group's channel offset. kChecked:
// some window of the tile crosses the padding, whose taps read the zero row.
template <bool kChecked>
struct WindowA {
  const float* input;
  const float* zero;
  const ptrdiff_t* pix;   // [rows of the tile]
  const int* iy0;         // [rows] window origin row (kChecked)
  const int* ix0;         // [rows] window origin column (kChecked)
  const ptrdiff_t* tap_off;
  const int* tap_y;
  const int* tap_x;
  int in_h, in_w;
  size_t offset;
  HWY_INLINE const float* Row(size_t r, size_t t) const {
    if constexpr (kChecked) {
      const int iy = iy0[r] + tap_y[t], ix = ix0[r] + tap_x[t];
      if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) return zero + offset;
    }
    return input + (pix[r] + tap_off[t] + static_cast<ptrdiff_t>(offset));
  }
  HWY_INLINE WindowA Advance(size_t rows) const {
    WindowA a = *this;
    a.pix += rows;
    a.iy0 += rows;
    a.ix0 += rows;
    return a;
  }
};

// Rows per geometry block of ConvWindowRows.
constexpr size_t kWindowBlock = 64;

// Rows [m0, m1) of one group and panel of an implicit-GEMM convolution: the
// window of every row is located once per block, then runs of tiles whose
// windows are all inside the input go to the unchecked kernel in one call.
void ConvWindowRows(const conv_internal::GemmJob& job, size_t g, const float* panel,
                    const float* bias, const float* post_scale, const float* post_shift,
                    size_t ncols, float* c, const float* residual, size_t m0, size_t m1) {
  const Conv2DParams& p = *job.p;
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  const int eff_h = (p.kernel_h - 1) * p.dilation_h + 1;
  const int eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  const size_t strip = kGemmNV * N;
  const size_t offset = g * job.cin_g;
  ptrdiff_t pix[kWindowBlock];
  int iy0[kWindowBlock], ix0[kWindowBlock];
  bool row_inside[kWindowBlock];
  for (size_t b0 = m0; b0 < m1; b0 += kWindowBlock) {
    const size_t b1 = HWY_MIN(m1, b0 + kWindowBlock);
    size_t ox = b0 % p.out_w;
    size_t row = b0 / p.out_w;  // batch * out_h + oy
    for (size_t r = 0; r < b1 - b0; ++r) {
      const size_t b = row / p.out_h;
      const int oy = static_cast<int>(row % p.out_h);
      const int iy = oy * p.stride_h - p.pad_top;
      const int ix = static_cast<int>(ox) * p.stride_w - p.pad_left;
      iy0[r] = iy;
      ix0[r] = ix;
      pix[r] = ((static_cast<ptrdiff_t>(b) * p.in_h + iy) * p.in_w + ix) *
               static_cast<ptrdiff_t>(p.in_c);
      row_inside[r] = iy >= 0 && iy + eff_h <= p.in_h && ix >= 0 && ix + eff_w <= p.in_w;
      if (++ox == static_cast<size_t>(p.out_w)) {
        ox = 0;
        ++row;
      }
    }
    const WindowA<false> inner{job.input, job.zero, pix,    iy0,    ix0,    job.tap_off,
                               job.tap_y, job.tap_x, p.in_h, p.in_w, offset};
    const WindowA<true> border{job.input, job.zero, pix,    iy0,    ix0,    job.tap_off,
                               job.tap_y, job.tap_x, p.in_h, p.in_w, offset};
    for (size_t s = 0; s < ncols; s += strip) {
      const size_t cols = HWY_MIN(strip, ncols - s);
      const size_t nv = (cols + N - 1) / N;
      const size_t tall = GemmTallRows(nv);
      auto out_at = [&](size_t m) {
        return GemmOut{c + m * job.out_c + s,
                       job.out_c,
                       cols,
                       bias + s,
                       &job.act,
                       residual != nullptr ? residual + m * job.out_c + s : nullptr,
                       job.out_c,
                       post_scale != nullptr ? post_scale + s : nullptr,
                       post_shift != nullptr ? post_shift + s : nullptr};
      };
      auto inside = [&](size_t r0, size_t rows) {
        for (size_t r = r0; r < r0 + rows; ++r)
          if (!row_inside[r]) return false;
        return true;
      };
      size_t r = 0;  // row within the block
      const size_t rows = b1 - b0;
      while (r < rows) {
        if (rows - r >= tall && inside(r, tall)) {
          size_t tiles = 1;
          while (r + (tiles + 1) * tall <= rows && inside(r + tiles * tall, tall)) ++tiles;
          GemmTallTiles(nv, inner.Advance(r), job.taps, job.cin_g, panel + s, job.nr,
                        out_at(b0 + r), tiles);
          r += tiles * tall;
          continue;
        }
        const size_t mr = GemmNextTileRows(nv, rows - r);
        if (inside(r, mr)) {
          GemmAnyTile(mr, nv, inner.Advance(r), job.taps, job.cin_g, panel + s, job.nr,
                      out_at(b0 + r));
        } else {
          GemmAnyTile(mr, nv, border.Advance(r), job.taps, job.cin_g, panel + s, job.nr,
                      out_at(b0 + r));
        }
        r += mr;
      }
    }
  }
  ApplyEpilogueBlock(job.act, post_scale, post_shift, c + m0 * job.out_c, job.out_c, m1 - m0,
                     ncols);
}

void ConvGemmTasks(const conv_internal::GemmJob& job, size_t task_begin, size_t task_end) {
  const size_t per_group = job.panels_per_group * job.num_m_blocks;
  const size_t k_size = job.taps * job.cin_g;
  for (size_t task = task_begin; task < task_end; ++task) {
    const size_t g = task / per_group;
    const size_t p = (task / job.num_m_blocks) % job.panels_per_group;
    const size_t mb = task % job.num_m_blocks;
    const size_t m0 = mb * job.m_block;
    const size_t m1 = HWY_MIN(job.m_total, m0 + job.m_block);
    const size_t col0 = p * job.nr;  // first column within the group
    const size_t ncols = HWY_MIN(job.nr, job.cout_g - col0);
    const size_t panel_index = g * job.panels_per_group + p;
    const float* panel = job.panels + panel_index * k_size * job.nr;
    const float* bias = job.bias + panel_index * job.nr;
    const float* post_scale =
        job.post_scale != nullptr ? job.post_scale + panel_index * job.nr : nullptr;
    const float* post_shift =
        job.post_shift != nullptr ? job.post_shift + panel_index * job.nr : nullptr;
    float* c = job.output + g * job.cout_g + col0;
    const float* res = job.residual != nullptr ? job.residual + g * job.cout_g + col0 : nullptr;
    if (job.direct) {
      const StridedA a{job.input + g * job.cin_g, job.in_c, 0};
      GemmPanelRows(a, 1, job.cin_g, panel, job.nr, bias, ncols, job.act, c, job.out_c, m0, m1,
                    res, post_scale, post_shift);
    } else {
      ConvWindowRows(job, g, panel, bias, post_scale, post_shift, ncols, c, res, m0, m1);
    }
  }
}

// ---------------------------------------------------------------------------
// Im2col plan (few input channels)

// Register tile of the im2col microkernel per panel width in vectors. A is read
// as a broadcast memory operand of the FMA, so the register file only holds the
// accumulators and one panel row (AVX-512: 32 registers; AVX2: 16, plus one for
// the broadcast). One-vector panels get the tallest tile: FMA latency x two FMA
// pipes needs at least 8 independent accumulators.
template <size_t NV>
constexpr size_t Im2colMR() {
#if HWY_TARGET == HWY_SCALAR
  return 4;
#elif HWY_MAX_BYTES >= 64
  return NV == 1 ? 16 : NV == 2 ? 12 : NV == 3 ? 8 : 6;
#else
  return NV == 1 ? 12 : 6;
#endif
}

// Interior tiles of stems with in_c * stride_w equal to one of these read the
// input in place: consecutive output pixels of a row are that many floats
// apart, and one kernel row of one pixel (kernel_w * in_c floats) is contiguous.
// (3: RGB stride 1, 6: RGB stride 2, 16: 8 channels stride 2.)
constexpr size_t kDirectStrideA = 3;
constexpr size_t kDirectStrideB = 6;
constexpr size_t kDirectStrideC = 16;

// Copies `len` floats; may write up to one vector past dst + len (callers leave
// room and write the tile row by row in increasing address order, so the spill
// is always overwritten or ignored). The surplus lanes are loaded too when
// `src_end` shows that a whole vector is readable.
template <class D>
HWY_INLINE void CopyRun(D d, const float* HWY_RESTRICT src, size_t len, float* HWY_RESTRICT dst,
                        const float* src_end) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= len; i += N) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  if (i < len) {
    const auto v = src + i + N <= src_end ? hn::LoadU(d, src + i)
                                          : hn::MaskedLoad(hn::FirstN(d, len - i), d, src + i);
    hn::StoreU(v, d, dst + i);
  }
}

template <class D>
HWY_INLINE void ZeroRun(D d, size_t len, float* HWY_RESTRICT dst) {
  const size_t N = hn::Lanes(d);
  for (size_t i = 0; i < len; i += N) hn::StoreU(hn::Zero(d), d, dst + i);
}

// Writes the K = kernel_h * kernel_w * in_c input values of output pixels
// ox0 .. ox0 + rows - 1 of output row (b, oy) as rows of `lda` floats (k order
// ky, kx, c as in OHWI weights), zeros for taps in the padding. Used for tiles
// touching the padding or for strides without an in-place kernel.
void PackIm2colRows(const Conv2DParams& p, const float* input, size_t b, int oy, int ox0,
                    size_t rows, size_t lda, float* HWY_RESTRICT dst) {
  const hn::ScalableTag<float> d;
  const size_t C = static_cast<size_t>(p.in_c);
  const size_t run = static_cast<size_t>(p.kernel_w) * C;  // one kernel row of one pixel
  const float* input_end = input + static_cast<size_t>(p.batch) * p.in_h * p.in_w * C;
  const int eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  for (size_t r = 0; r < rows; ++r) {
    float* row = dst + r * lda;
    const int ix0 = (ox0 + static_cast<int>(r)) * p.stride_w - p.pad_left;
    const bool x_inside = ix0 >= 0 && ix0 + eff_w <= p.in_w;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      float* seg = row + static_cast<size_t>(ky) * run;
      const int iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
      if (iy < 0 || iy >= p.in_h) {
        ZeroRun(d, run, seg);
        continue;
      }
      const float* in_row = input + (b * p.in_h + static_cast<size_t>(iy)) * p.in_w * C;
      if (x_inside && p.dilation_w == 1) {
        CopyRun(d, in_row + static_cast<size_t>(ix0) * C, run, seg, input_end);  // contiguous
        continue;
      }
      for (int kx = 0; kx < p.kernel_w; ++kx) {
        const int ix = ix0 + kx * p.dilation_w;
        if (ix < 0 || ix >= p.in_w) {
          ZeroRun(d, C, seg + kx * C);
        } else {
          CopyRun(d, in_row + static_cast<size_t>(ix) * C, C, seg + kx * C, input_end);
        }
      }
    }
  }
}

// One MR x NV tile. A is `nseg` segments of `seg_len` consecutive k; row r of
// segment s starts at seg[s] + r * kRS. The row stride is a compile-time
// constant so that every broadcast is an immediate offset from one pointer.
// Only the first `rows` rows are stored; clamp-type activations are applied in
// registers, others by the caller over each finished output row.
template <size_t MR, size_t NV, size_t kRS>
HWY_NOINLINE void Im2colMicroKernel(const float* const* seg, size_t nseg, size_t seg_len,
                                    const float* HWY_RESTRICT b, size_t ldb, size_t rows,
                                    const GemmOut& out, const ActClamp& clamp) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  V acc[MR][NV];
#pragma GCC unroll 16
  for (size_t r = 0; r < MR; ++r) {
#pragma GCC unroll 4
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Load(d, out.bias + v * N);
  }
  for (size_t s = 0; s < nseg; ++s) {
    const float* HWY_RESTRICT a = seg[s];
    for (size_t k = 0; k < seg_len; ++k) {
      V bv[NV];
#pragma GCC unroll 4
      for (size_t v = 0; v < NV; ++v) bv[v] = hn::Load(d, b + v * N);
#pragma GCC unroll 16
      for (size_t r = 0; r < MR; ++r) {
        const V av = hn::Set(d, a[r * kRS]);
#pragma GCC unroll 4
        for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
      }
      a += 1;
      b += ldb;
    }
  }
  const V lo = hn::Set(d, clamp.lo), hi = hn::Set(d, clamp.hi);
  const size_t full_v = out.ncols / N;
  const size_t rem = out.ncols - full_v * N;
#pragma GCC unroll 16
  for (size_t r = 0; r < MR; ++r) {
    if (r >= rows) break;
    float* HWY_RESTRICT cr = out.c + r * out.ldc;
#pragma GCC unroll 4
    for (size_t v = 0; v < NV; ++v) {
      const V x = hn::Min(hn::Max(acc[r][v], lo), hi);
      if (v < full_v) {
        hn::StoreU(x, d, cr + v * N);
      } else if (v == full_v && rem != 0) {
        hn::BlendedStore(x, hn::FirstN(d, rem), d, cr + v * N);
      }
    }
  }
}

// All output channels of one tile: every panel, in strips of at most NV vectors
// (a panel packed for a wider target, or a narrow last panel, takes several
// strips or a narrower kernel at the same tile height).
template <size_t MR, size_t NV, size_t kRS>
HWY_INLINE void Im2colTileAllPanels(const conv_internal::Im2colJob& job, const float* const* seg,
                                    size_t nseg, size_t seg_len, size_t rows, float* out_px) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  const size_t out_c = static_cast<size_t>(job.p->out_c);
  for (size_t pi = 0; pi < job.num_panels; ++pi) {
    const size_t col0 = pi * job.nr;
    const size_t ncols = HWY_MIN(job.nr, out_c - col0);
    const float* panel = job.panels + pi * job.k_size * job.nr;
    const float* bias = job.bias + pi * job.nr;
    for (size_t s = 0; s < ncols; s += NV * N) {
      const size_t cols = HWY_MIN(NV * N, ncols - s);
      const GemmOut out{out_px + col0 + s, out_c, cols, bias + s, &job.p->act};
      const size_t vecs = (cols + N - 1) / N;
      const float* bp = panel + s;
      if (vecs == NV) {
        Im2colMicroKernel<MR, NV, kRS>(seg, nseg, seg_len, bp, job.nr, rows, out, job.clamp);
      } else if (vecs == 1) {
        Im2colMicroKernel<MR, 1, kRS>(seg, nseg, seg_len, bp, job.nr, rows, out, job.clamp);
      } else if constexpr (NV > 2) {
        if (vecs == 2) {
          Im2colMicroKernel<MR, 2, kRS>(seg, nseg, seg_len, bp, job.nr, rows, out, job.clamp);
        } else {
          Im2colMicroKernel<MR, 3, kRS>(seg, nseg, seg_len, bp, job.nr, rows, out, job.clamp);
        }
      }
    }
  }
}

// Output rows [row_begin, row_end) (row = batch * out_h + oy), in tiles of MR
// consecutive pixels of one row. Tiles whose windows are all inside the input
// read it in place when the pixel stride has a compiled kernel; the others are
// packed into a row-major tile with row stride kLda >= K.
template <size_t NV, size_t kLda>
void Im2colRowsImpl(const conv_internal::Im2colJob& job, size_t row_begin, size_t row_end) {
  constexpr size_t MR = Im2colMR<NV>();
  const hn::ScalableTag<float> d;
  const Conv2DParams& p = *job.p;
  const size_t C = static_cast<size_t>(p.in_c);
  const size_t out_c = static_cast<size_t>(p.out_c);
  const float* input_end = job.input + static_cast<size_t>(p.batch) * p.in_h * p.in_w * C;
  const int eff_h = (p.kernel_h - 1) * p.dilation_h + 1;
  const size_t pixel_stride = static_cast<size_t>(p.stride_w) * C;
  const bool can_direct = p.dilation_w == 1 && p.kernel_h <= 8 &&
                          (pixel_stride == kDirectStrideA || pixel_stride == kDirectStrideB ||
                           pixel_stride == kDirectStrideC);
  const size_t run = static_cast<size_t>(p.kernel_w) * C;
  // The packed A tile: MR rows of kLda floats plus room for CopyRun's spill.
  HWY_ALIGN float a[MR * kLda + HWY_MAX_BYTES / sizeof(float)];
  // Zero-padded copies of up to 8 input rows under one tile (kernel_h <= 8):
  // (MR - 1) * stride_w + kernel_w pixels of in_c floats, where stride_w * in_c
  // <= kDirectStrideC and kernel_w * in_c <= K.
  constexpr size_t kStageStride =
      (MR - 1) * kDirectStrideC + conv_internal::kIm2colMaxK + 16;
  HWY_ALIGN float stage[8 * kStageStride];
  const float* seg[8];
  for (size_t row = row_begin; row < row_end; ++row) {
    const size_t b = row / p.out_h;
    const int oy = static_cast<int>(row % p.out_h);
    const int iy0 = oy * p.stride_h - p.pad_top;
    const bool y_inside = iy0 >= 0 && iy0 + eff_h <= p.in_h;
    float* out_row = job.output + row * p.out_w * out_c;
    for (int ox0 = 0; ox0 < p.out_w; ox0 += static_cast<int>(MR)) {
      const size_t rows = HWY_MIN(MR, static_cast<size_t>(p.out_w - ox0));
      const int ix_first = ox0 * p.stride_w - p.pad_left;
      const int ix_last = (ox0 + static_cast<int>(rows) - 1) * p.stride_w - p.pad_left;
      float* out_px = out_row + static_cast<size_t>(ox0) * out_c;
      if (can_direct) {
        const size_t nseg = static_cast<size_t>(p.kernel_h);
        bool in_place = y_inside && ix_first >= 0 && ix_last + p.kernel_w <= p.in_w;
        if (in_place) {
          for (int ky = 0; ky < p.kernel_h; ++ky) {
            seg[ky] = job.input +
                      ((b * p.in_h + static_cast<size_t>(iy0 + ky * p.dilation_h)) * p.in_w +
                       static_cast<size_t>(ix_first)) * C;
          }
          // The kernel reads all MR rows (those past `rows` are not stored): they
          // must still be inside the input buffer.
          in_place = seg[nseg - 1] + (MR - 1) * pixel_stride + run <= input_end;
        }
        if (!in_place) {
          // Tiles touching the padding (or the end of the input) read a zero-padded
          // copy of the input rows under the tile, laid out like the input.
          const int span_px = static_cast<int>(MR - 1) * p.stride_w + p.kernel_w;
          const size_t span = static_cast<size_t>(span_px) * C;
          for (int ky = 0; ky < p.kernel_h; ++ky) {
            float* dst = stage + static_cast<size_t>(ky) * kStageStride;
            seg[ky] = dst;
            const int iy = iy0 + ky * p.dilation_h;
            if (iy < 0 || iy >= p.in_h) {
              ZeroRun(d, span, dst);
              continue;
            }
            const int x0 = HWY_MAX(0, -ix_first);                      // first pixel inside
            const int x1 = HWY_MAX(x0, HWY_MIN(span_px, p.in_w - ix_first));  // end inside
            const float* src = job.input + ((b * p.in_h + static_cast<size_t>(iy)) * p.in_w +
                                            static_cast<size_t>(ix_first + x0)) * C;
            ZeroRun(d, static_cast<size_t>(x0) * C, dst);
            CopyRun(d, src, static_cast<size_t>(x1 - x0) * C, dst + static_cast<size_t>(x0) * C,
                    input_end);
            if (x1 < span_px) {
              ZeroRun(d, static_cast<size_t>(span_px - x1) * C, dst + static_cast<size_t>(x1) * C);
            }
          }
        }
        if (pixel_stride == kDirectStrideA) {
          Im2colTileAllPanels<MR, NV, kDirectStrideA>(job, seg, nseg, run, rows, out_px);
        } else if (pixel_stride == kDirectStrideB) {
          Im2colTileAllPanels<MR, NV, kDirectStrideB>(job, seg, nseg, run, rows, out_px);
        } else {
          Im2colTileAllPanels<MR, NV, kDirectStrideC>(job, seg, nseg, run, rows, out_px);
        }
        continue;
      }
      PackIm2colRows(p, job.input, b, oy, ox0, rows, kLda, a);
      // Rows past the end of the output row are computed but not stored; keep them finite.
      if (rows < MR) ZeroRun(d, (MR - rows) * kLda, a + rows * kLda);
      seg[0] = a;
      Im2colTileAllPanels<MR, NV, kLda>(job, seg, 1, job.k_size, rows, out_px);
    }
    if (job.clamp.row_pass) ApplyActivationRow(p.act, out_row, static_cast<size_t>(p.out_w) * out_c);
  }
}

template <size_t kLda>
void Im2colRowsLda(const conv_internal::Im2colJob& job, size_t row_begin, size_t row_end) {
  const size_t N = hn::Lanes(hn::ScalableTag<float>());
  const size_t nv = HWY_MIN((job.nr + N - 1) / N, kGemmNV);
  switch (nv) {
    case 1:
      return Im2colRowsImpl<1, kLda>(job, row_begin, row_end);
    case 2:
      if constexpr (kGemmNV >= 2) return Im2colRowsImpl<2, kLda>(job, row_begin, row_end);
      break;
    case 3:
      if constexpr (kGemmNV >= 3) return Im2colRowsImpl<3, kLda>(job, row_begin, row_end);
      break;
    default:
      if constexpr (kGemmNV >= 4) return Im2colRowsImpl<4, kLda>(job, row_begin, row_end);
      break;
  }
  HWY_ABORT("Conv2D im2col: unsupported panel width %zu", job.nr);
}

void ConvIm2colRows(const conv_internal::Im2colJob& job, size_t row_begin, size_t row_end) {
  // Row stride of the packed tile: the smallest supported size >= K.
  if (job.k_size <= 32) return Im2colRowsLda<32>(job, row_begin, row_end);
  if (job.k_size <= 80) return Im2colRowsLda<80>(job, row_begin, row_end);
  static_assert(conv_internal::kIm2colMaxK == 160, "update the tile strides");
  return Im2colRowsLda<160>(job, row_begin, row_end);
}

// ---------------------------------------------------------------------------
// Dot-product plan (few output channels)

// Partial-sum registers: P pixels x NO outputs accumulators plus P input vectors
// and one weight vector must fit the register file.
template <size_t NO>
constexpr size_t DotPixels() {
#if HWY_TARGET == HWY_SCALAR
  constexpr size_t kAcc = 8;
#elif HWY_MAX_BYTES >= 64
  constexpr size_t kAcc = 24;
#else
  constexpr size_t kAcc = 10;
#endif
  return kAcc / NO < 1 ? 1 : (kAcc / NO > 8 ? 8 : kAcc / NO);
}

// Horizontal sums of `count` <= N vectors: lane j of the result is the sum of
// the lanes of v[j] (0 for j >= count). A pairwise tree of even/odd
// de-interleaves, about 3 operations per vector instead of a full reduction each.
template <class D>
HWY_INLINE hn::Vec<D> ReduceToLanes(D d, const hn::Vec<D>* v, size_t count) {
#if HWY_TARGET == HWY_SCALAR
  (void)d;
  (void)count;
  return v[0];
#elif HWY_HAVE_SCALABLE
  // Lane count unknown at compile time: one reduction per vector.
  const size_t N = hn::Lanes(d);
  HWY_ALIGN float sums[HWY_MAX_BYTES / sizeof(float)] = {};
  for (size_t j = 0; j < count && j < N; ++j) sums[j] = hn::GetLane(hn::SumOfLanes(d, v[j]));
  return hn::Load(d, sums);
#else
  // Full vectors of a fixed-width target: the tree below is fully unrolled and
  // stays in registers.
  constexpr size_t kN = HWY_MAX_BYTES / sizeof(float);
  hn::Vec<D> t[kN];
#pragma GCC unroll 16
  for (size_t j = 0; j < kN; ++j) t[j] = j < count ? v[j] : hn::Zero(d);
  // Each level halves the vector count: pair (lo, hi) becomes adjacent-lane sums
  // of lo in the lower half and of hi in the upper half, keeping element order.
#pragma GCC unroll 4
  for (size_t n = kN; n > 1; n /= 2) {
#pragma GCC unroll 8
    for (size_t j = 0; j < n / 2; ++j) {
      t[j] = hn::Add(hn::ConcatEven(d, t[2 * j + 1], t[2 * j]),
                     hn::ConcatOdd(d, t[2 * j + 1], t[2 * j]));
    }
  }
  return t[0];
#endif
}

// Output pixels ox0 .. ox0 + rows - 1 (rows <= P) of output row (b, oy) x all NO
// output channels. kBorder: some taps fall in the padding and read the zero row
// instead; otherwise tap (ky, kx) of pixel i is at a fixed offset from the
// pixel's window origin, so no per-tap pointers are stored anywhere.
template <size_t P, size_t NO, bool kBorder>
HWY_INLINE void DotTile(const conv_internal::DotJob& job, const float* HWY_RESTRICT bias_pattern,
                        size_t b, int oy, int ox0, size_t rows, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const Conv2DParams& p = *job.p;
  const size_t in_c = job.in_c;
  const size_t wstride = job.taps * job.cin_pad;  // floats between output channels
  const float* img = job.input + b * p.in_h * p.in_w * in_c;
  const int iy0 = oy * p.stride_h - p.pad_top;
  const float* origin[P];
  int ix0[P];
#pragma GCC unroll 8
  for (size_t i = 0; i < P; ++i) {
    // Pixels past `rows` repeat the first one (always valid), their results are dropped.
    ix0[i] = (ox0 + static_cast<int>(i < rows ? i : 0)) * p.stride_w - p.pad_left;
    origin[i] = img + (static_cast<ptrdiff_t>(iy0) * p.in_w + ix0[i]) * static_cast<ptrdiff_t>(in_c);
  }
  V acc[P][NO];
#pragma GCC unroll 8
  for (size_t i = 0; i < P; ++i) {
#pragma GCC unroll 8
    for (size_t n = 0; n < NO; ++n) acc[i][n] = hn::Zero(d);
  }
  const size_t full = in_c - in_c % N;
  const float* HWY_RESTRICT w = job.weights;
  for (int ky = 0; ky < p.kernel_h; ++ky) {
    const int iy = iy0 + ky * p.dilation_h;
    if (kBorder && (iy < 0 || iy >= p.in_h)) {
      w += static_cast<size_t>(p.kernel_w) * job.cin_pad;  // whole kernel row in the padding
      continue;
    }
    const ptrdiff_t row_off = static_cast<ptrdiff_t>(ky) * p.dilation_h * p.in_w * in_c;
    if (!kBorder && job.row_runs) {
      // The kernel_w taps of this kernel row are one contiguous run of whole
      // vectors, in the input and in the (unpadded) weights alike.
      const size_t len = static_cast<size_t>(p.kernel_w) * in_c;
      const float* HWY_RESTRICT a[P];
#pragma GCC unroll 8
      for (size_t i = 0; i < P; ++i) a[i] = origin[i] + row_off;
      for (size_t c = 0; c < len; c += N) {
        // Weights first, then one input vector at a time used by all NO outputs:
        // P + NO loads per P * NO FMAs.
        V bv[NO];
#pragma GCC unroll 8
        for (size_t n = 0; n < NO; ++n) bv[n] = hn::Load(d, w + n * wstride + c);
#pragma GCC unroll 8
        for (size_t i = 0; i < P; ++i) {
          const V av = hn::LoadU(d, a[i] + c);
#pragma GCC unroll 8
          for (size_t n = 0; n < NO; ++n) acc[i][n] = hn::MulAdd(av, bv[n], acc[i][n]);
        }
      }
      w += len;
      continue;
    }
    for (int kx = 0; kx < p.kernel_w; ++kx, w += job.cin_pad) {
      const ptrdiff_t off = row_off + static_cast<ptrdiff_t>(kx) * p.dilation_w * in_c;
      const float* HWY_RESTRICT a[P];
#pragma GCC unroll 8
      for (size_t i = 0; i < P; ++i) {
        if constexpr (kBorder) {
          const int ix = ix0[i] + kx * p.dilation_w;
          a[i] = (ix >= 0 && ix < p.in_w) ? origin[i] + off : job.zero;
        } else {
          a[i] = origin[i] + off;
        }
      }
      for (size_t c = 0; c < full; c += N) {
        V av[P];
#pragma GCC unroll 8
        for (size_t i = 0; i < P; ++i) av[i] = hn::LoadU(d, a[i] + c);
#pragma GCC unroll 8
        for (size_t n = 0; n < NO; ++n) {
          const V bv = hn::Load(d, w + n * wstride + c);
#pragma GCC unroll 8
          for (size_t i = 0; i < P; ++i) acc[i][n] = hn::MulAdd(av[i], bv, acc[i][n]);
        }
      }
      if (full < in_c) {
        // Masked: lanes past in_c belong to the next pixel (or past the buffer).
        const auto mask = hn::FirstN(d, in_c - full);
        V av[P];
#pragma GCC unroll 8
        for (size_t i = 0; i < P; ++i) av[i] = hn::MaskedLoad(mask, d, a[i] + full);
#pragma GCC unroll 8
        for (size_t n = 0; n < NO; ++n) {
          const V bv = hn::Load(d, w + n * wstride + full);
#pragma GCC unroll 8
          for (size_t i = 0; i < P; ++i) acc[i][n] = hn::MulAdd(av[i], bv, acc[i][n]);
        }
      }
    }
  }
  // acc[i][n] holds the partial sums of output element i * NO + n, the order of
  // the output row: reduce them N at a time into one vector of N totals each.
  const size_t valid = rows * NO;
  constexpr size_t kFlat = P * NO;
  const V* flat = &acc[0][0];
  for (size_t g = 0; g < kFlat; g += N) {
    const V sums = hn::Add(ReduceToLanes(d, flat + g, HWY_MIN(N, kFlat - g)),
                           hn::Load(d, bias_pattern + g));
    if (g + N <= valid) {
      hn::StoreU(sums, d, out + g);
    } else if (g < valid) {
      hn::BlendedStore(sums, hn::FirstN(d, valid - g), d, out + g);
    }
  }
}

// Output rows [row_begin, row_end) (row = batch * out_h + oy) in tiles of P pixels.
template <size_t NO>
void DotRowsN(const conv_internal::DotJob& job, size_t row_begin, size_t row_end) {
  constexpr size_t P = DotPixels<NO>();
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  // Bias of output element i * NO + n is bias[n], for whole vectors of elements.
  constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);
  HWY_ALIGN float bias_pattern[(P * NO + kMaxLanes - 1) / kMaxLanes * kMaxLanes];
  for (size_t j = 0; j < (P * NO + N - 1) / N * N; ++j) bias_pattern[j] = job.bias[j % NO];
  const Conv2DParams& p = *job.p;
  const int eff_h = (p.kernel_h - 1) * p.dilation_h + 1;
  const int eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  int x_lo = (p.pad_left + p.stride_w - 1) / p.stride_w;
  int x_hi = p.in_w + p.pad_left - eff_w < 0 ? 0 : (p.in_w + p.pad_left - eff_w) / p.stride_w + 1;
  x_hi = HWY_MIN(x_hi, p.out_w);
  x_lo = HWY_MIN(x_lo, x_hi);
  for (size_t row = row_begin; row < row_end; ++row) {
    const size_t b = row / p.out_h;
    const int oy = static_cast<int>(row % p.out_h);
    const int iy0 = oy * p.stride_h - p.pad_top;
    const bool y_inside = iy0 >= 0 && iy0 + eff_h <= p.in_h;
    float* out_row = job.output + row * p.out_w * NO;
    if (!y_inside) {
      for (int ox0 = 0; ox0 < p.out_w; ox0 += static_cast<int>(P)) {
        const size_t rows = HWY_MIN(P, static_cast<size_t>(p.out_w - ox0));
        DotTile<P, NO, true>(job, bias_pattern, b, oy, ox0, rows,
                             out_row + static_cast<size_t>(ox0) * NO);
      }
    } else {
      // Columns [x_lo, x_hi) have their whole window inside; the few border
      // pixels on either side run one at a time so that full tiles stay on the
      // fast path.
      for (int ox = 0; ox < x_lo; ++ox) {
        DotTile<1, NO, true>(job, bias_pattern, b, oy, ox, 1,
                             out_row + static_cast<size_t>(ox) * NO);
      }
      for (int ox0 = x_lo; ox0 < x_hi; ox0 += static_cast<int>(P)) {
        const size_t rows = HWY_MIN(P, static_cast<size_t>(x_hi - ox0));
        DotTile<P, NO, false>(job, bias_pattern, b, oy, ox0, rows,
                              out_row + static_cast<size_t>(ox0) * NO);
      }
      for (int ox = x_hi; ox < p.out_w; ++ox) {
        DotTile<1, NO, true>(job, bias_pattern, b, oy, ox, 1,
                             out_row + static_cast<size_t>(ox) * NO);
      }
    }
    // Activation over the finished row (many independent vectors at once).
    ApplyActivationRow(job.act, out_row, static_cast<size_t>(p.out_w) * NO);
  }
}

void ConvDotRows(const conv_internal::DotJob& job, size_t row_begin, size_t row_end) {
  static_assert(conv_internal::kDotMaxOutC == 8, "extend the switch below");
  switch (job.out_c) {
    case 1: return DotRowsN<1>(job, row_begin, row_end);
    case 2: return DotRowsN<2>(job, row_begin, row_end);
    case 3: return DotRowsN<3>(job, row_begin, row_end);
    case 4: return DotRowsN<4>(job, row_begin, row_end);
    case 5: return DotRowsN<5>(job, row_begin, row_end);
    case 6: return DotRowsN<6>(job, row_begin, row_end);
    case 7: return DotRowsN<7>(job, row_begin, row_end);
    case 8: return DotRowsN<8>(job, row_begin, row_end);
  }
  HWY_ABORT("Conv2D dot: unsupported output width %zu", job.out_c);
}

// out[i] = act(out[i] + residual[i]) for a conv plan without a residual epilogue.
void AddResidual(const float* HWY_RESTRICT residual, const Activation& act,
                 float* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Add(hn::LoadU(d, out + i), hn::LoadU(d, residual + i)), d, out + i);
  }
  if (i < n) {
    const auto m = hn::FirstN(d, n - i);
    hn::BlendedStore(hn::Add(hn::MaskedLoad(m, d, out + i), hn::MaskedLoad(m, d, residual + i)),
                     m, d, out + i);
  }
  ApplyActivationRow(act, out, n);
}

// ---------------------------------------------------------------------------
// Planar plan (one input and one output channel, stride_w 1)

void ConvPlanarRows(const conv_internal::PlanarJob& job, size_t row_begin, size_t row_end) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int N = static_cast<int>(hn::Lanes(d));
  const Conv2DParams& p = *job.p;
  const int eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  // Output columns whose taps are all inside the row: [x_lo, x_hi).
  const int x_lo = HWY_MIN(p.pad_left, p.out_w);
  const int x_hi = HWY_MAX(x_lo, HWY_MIN(p.out_w, p.in_w + p.pad_left - eff_w + 1));
  const float* rows[16];
  const float* w_rows[16];
  for (size_t row = row_begin; row < row_end; ++row) {
    const size_t b = row / p.out_h;
    const int oy = static_cast<int>(row % p.out_h);
    // Kernel rows over input rows inside the image (the others add nothing).
    size_t nrows = 0;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      const int iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
      if (iy < 0 || iy >= p.in_h) continue;
      rows[nrows] = job.input + (b * p.in_h + static_cast<size_t>(iy)) * p.in_w;
      w_rows[nrows] = job.weights + static_cast<size_t>(ky) * p.kernel_w;
      ++nrows;
    }
    float* out = job.output + row * p.out_w;
    auto scalar_pixel = [&](int ox) {
      float acc = job.bias;
      for (size_t r = 0; r < nrows; ++r) {
        for (int kx = 0; kx < p.kernel_w; ++kx) {
          const int ix = ox - p.pad_left + kx * p.dilation_w;
          if (ix >= 0 && ix < p.in_w) acc += rows[r][ix] * w_rows[r][kx];
        }
      }
      out[ox] = ApplyActivationScalar(p.act, acc);
    };
    for (int ox = 0; ox < x_lo; ++ox) scalar_pixel(ox);
    for (int ox = x_lo; ox < x_hi; ox += N) {
      const auto mask = hn::FirstN(d, static_cast<size_t>(x_hi - ox));
      V acc = hn::Set(d, job.bias);
      for (size_t r = 0; r < nrows; ++r) {
        const float* in = rows[r] + (ox - p.pad_left);
        for (int kx = 0; kx < p.kernel_w; ++kx) {
          acc = hn::MulAdd(hn::MaskedLoad(mask, d, in + kx * p.dilation_w),
                           hn::Set(d, w_rows[r][kx]), acc);
        }
      }
      hn::BlendedStore(ApplyActivation(d, p.act, acc), mask, d, out + ox);
    }
    for (int ox = x_hi; ox < p.out_w; ++ox) scalar_pixel(ox);
  }
}

// ---------------------------------------------------------------------------
// Depthwise

// Loads the input values feeding output channels [oc, oc + N) of one pixel:
// contiguous for multiplier 1, a gather through the channel map otherwise.
// kTail: only the first `rem` lanes are valid (masked load; gather indices are
// clamped so the gather never leaves the pixel).
template <bool kGather, bool kTail, class D>
HWY_INLINE hn::Vec<D> DwLoadInput(D d, const float* HWY_RESTRICT px, size_t oc,
                                  const int32_t* HWY_RESTRICT gather, hn::Mask<D> tail) {
  if constexpr (kGather) {
    const hn::RebindToSigned<D> di;
    return hn::GatherIndex(d, px, hn::Load(di, gather + oc));
  } else if constexpr (kTail) {
    return hn::MaskedLoad(tail, d, px + oc);
  } else {
    return hn::LoadU(d, px + oc);
  }
}

template <bool kTail, class D>
HWY_INLINE void DwStore(D d, hn::Vec<D> v, float* HWY_RESTRICT dst, hn::Mask<D> tail,
                        const ActClamp& clamp) {
  v = hn::Min(hn::Max(v, hn::Set(d, clamp.lo)), hn::Set(d, clamp.hi));
  if constexpr (kTail) {
    hn::BlendedStore(v, tail, d, dst);
  } else {
    hn::StoreU(v, d, dst);
  }
}

// Output channels [oc, oc + N) of kPix consecutive interior output pixels (all
// taps in bounds), with the kTaps weight vectors already in registers. Tap t of
// pixel i is at tp[t] + px + i * in_step. The kPix accumulators are independent
// FMA chains.
template <size_t kTaps, size_t kPix, bool kGather, bool kTail, class D>
HWY_INLINE void DwPixelGroup(D d, const float* const* tp, size_t px, size_t in_step,
                             const hn::Vec<D>* wv, hn::Vec<D> bias, const int32_t* gather,
                             size_t oc, hn::Mask<D> tail, float* HWY_RESTRICT out0,
                             size_t out_step, const ActClamp& clamp) {
  using V = hn::Vec<D>;
  V acc[kPix];
#pragma GCC unroll 8
  for (size_t i = 0; i < kPix; ++i) acc[i] = bias;
#pragma GCC unroll 32
  for (size_t t = 0; t < kTaps; ++t) {
    const float* q = tp[t] + px;
#pragma GCC unroll 8
    for (size_t i = 0; i < kPix; ++i) {
      acc[i] = hn::MulAdd(DwLoadInput<kGather, kTail>(d, q + i * in_step, oc, gather, tail), wv[t],
                          acc[i]);
    }
  }
#pragma GCC unroll 8
  for (size_t i = 0; i < kPix; ++i)
    DwStore<kTail>(d, acc[i], out0 + i * out_step + oc, tail, clamp);
}

// Pixels per group. Four measured fastest on AVX-512 (8 groups of 9 chained
// FMAs each ran at 60% of the speed of 4); AVX2's 16 registers hold 4
// accumulators next to 9 weight vectors.
constexpr size_t kDwPixels = 4;

// Keeps a loaded vector in a register: otherwise the compiler folds the load
// into every FMA that uses it, reloading it once per use.
template <class V>
HWY_INLINE void KeepInRegister(V& v) {
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128 && (defined(__GNUC__) || defined(__clang__))
  asm("" : "+v"(v.raw));
#else
  (void)v;
#endif
}

// kPix consecutive interior pixels of a K x K window with stride 1 and
// dilation 1 along x (multiplier 1): pixel i's tap (ky, kx) is input column
// i + kx of kernel row ky, so each loaded input vector feeds up to K pixels
// (kPix + K - 1 loads per kernel row instead of kPix * K).
template <size_t K, size_t kPix, bool kTail, class D>
HWY_INLINE void DwPixelGroupUnitStride(D d, const float* const* tp, size_t px, size_t in_c,
                                       const hn::Vec<D>* wv, hn::Vec<D> bias, size_t oc,
                                       hn::Mask<D> tail, float* HWY_RESTRICT out0,
                                       size_t out_step, const ActClamp& clamp) {
  using V = hn::Vec<D>;
  V acc[kPix];
#pragma GCC unroll 8
  for (size_t i = 0; i < kPix; ++i) acc[i] = bias;
#pragma GCC unroll 8
  for (size_t ky = 0; ky < K; ++ky) {
    const float* q = tp[ky * K] + px + oc;
#pragma GCC unroll 16
    for (size_t j = 0; j < kPix + K - 1; ++j) {
      V v = kTail ? hn::MaskedLoad(tail, d, q + j * in_c) : hn::LoadU(d, q + j * in_c);
      KeepInRegister(v);
#pragma GCC unroll 8
      for (size_t kx = 0; kx < K; ++kx) {
        if (j >= kx && j - kx < kPix) acc[j - kx] = hn::MulAdd(v, wv[ky * K + kx], acc[j - kx]);
      }
    }
  }
#pragma GCC unroll 8
  for (size_t i = 0; i < kPix; ++i)
    DwStore<kTail>(d, acc[i], out0 + i * out_step + oc, tail, clamp);
}

// Output channels [oc, oc + N) of `npix` consecutive interior output pixels.
// The channel block is the outer loop so that its weights stay in registers.
// unit_stride: stride 1 and dilation 1 along x, multiplier 1.
template <size_t kTaps, bool kGather, bool kTail, class D>
HWY_INLINE void DwInteriorBlock(D d, const float* const* tp, size_t in_step,
                                const float* HWY_RESTRICT w, size_t cp, hn::Vec<D> bias,
                                const int32_t* gather, size_t oc, hn::Mask<D> tail,
                                float* HWY_RESTRICT out0, size_t out_step, size_t npix,
                                const ActClamp& clamp, bool unit_stride) {
  hn::Vec<D> wv[kTaps];
#pragma GCC unroll 32
  for (size_t t = 0; t < kTaps; ++t) wv[t] = hn::Load(d, w + t * cp + oc);
  size_t i = 0;
  if constexpr (kTaps == 9 && !kGather) {
    if (unit_stride) {
      for (; i + kDwPixels <= npix; i += kDwPixels) {
        DwPixelGroupUnitStride<3, kDwPixels, kTail>(d, tp, i * in_step, in_step, wv, bias, oc,
                                                    tail, out0 + i * out_step, out_step, clamp);
      }
    }
  }
  for (; i + kDwPixels <= npix; i += kDwPixels) {
    DwPixelGroup<kTaps, kDwPixels, kGather, kTail>(d, tp, i * in_step, in_step, wv, bias, gather,
                                                   oc, tail, out0 + i * out_step, out_step, clamp);
  }
  if (i + 2 <= npix) {
    DwPixelGroup<kTaps, 2, kGather, kTail>(d, tp, i * in_step, in_step, wv, bias, gather, oc, tail,
                                           out0 + i * out_step, out_step, clamp);
    i += 2;
  }
  for (; i < npix; ++i) {
    DwPixelGroup<kTaps, 1, kGather, kTail>(d, tp, i * in_step, in_step, wv, bias, gather, oc, tail,
                                           out0 + i * out_step, out_step, clamp);
  }
}

template <size_t kTaps, bool kGather>
void DwInterior(const conv_internal::DepthwiseJob& job, const float* const* tp, size_t in_step,
                float* out0, size_t npix) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t out_c = static_cast<size_t>(job.p->out_c);
  const bool unit_stride = job.p->stride_w == 1 && job.p->dilation_w == 1;
  size_t oc = 0;
  for (; oc + N <= out_c; oc += N) {
    DwInteriorBlock<kTaps, kGather, false>(d, tp, in_step, job.weights, job.cp,
                                           hn::Load(d, job.bias + oc), job.gather, oc,
                                           hn::FirstN(d, N), out0, out_c, npix, job.clamp,
                                           unit_stride);
  }
  if (oc < out_c) {
    DwInteriorBlock<kTaps, kGather, true>(d, tp, in_step, job.weights, job.cp,
                                          hn::Load(d, job.bias + oc), job.gather, oc,
                                          hn::FirstN(d, out_c - oc), out0, out_c, npix, job.clamp,
                                          unit_stride);
  }
}

// One output pixel with per-tap column checks (borders, and kernel sizes
// without an unrolled path). rows[ky] is the input row under kernel row ky.
template <bool kGather, bool kTail, class D>
HWY_INLINE void DwPixelBlock(D d, const conv_internal::DepthwiseJob& job, const float* const* rows,
                             int ix0, size_t oc, hn::Mask<D> tail, float* out_px) {
  const Conv2DParams& p = *job.p;
  auto acc = hn::Load(d, job.bias + oc);
  for (int ky = 0; ky < p.kernel_h; ++ky) {
    for (int kx = 0; kx < p.kernel_w; ++kx) {
      const int ix = ix0 + kx * p.dilation_w;
      if (ix < 0 || ix >= p.in_w) continue;
      const float* px = rows[ky] + static_cast<size_t>(ix) * p.in_c;
      const float* w = job.weights + static_cast<size_t>(ky * p.kernel_w + kx) * job.cp;
      acc = hn::MulAdd(DwLoadInput<kGather, kTail>(d, px, oc, job.gather, tail),
                       hn::Load(d, w + oc), acc);
    }
  }
  DwStore<kTail>(d, acc, out_px + oc, tail, job.clamp);
}

template <bool kGather>
void DwPixel(const conv_internal::DepthwiseJob& job, const float* const* rows, int ix0,
             float* out_px) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t out_c = static_cast<size_t>(job.p->out_c);
  size_t oc = 0;
  for (; oc + N <= out_c; oc += N) {
    DwPixelBlock<kGather, false>(d, job, rows, ix0, oc, hn::FirstN(d, N), out_px);
  }
  if (oc < out_c) {
    DwPixelBlock<kGather, true>(d, job, rows, ix0, oc, hn::FirstN(d, out_c - oc), out_px);
  }
}

// One output row from the kernel_h input rows under it: rows[ky] is the start
// of input row oy * stride_h - pad_top + ky * dilation_h, or job.zero (a row of
// zeros) where that row is in the padding, so that every row takes the same
// path and only the columns at the borders are checked per tap.
template <bool kGather>
void DwRowFromRows(const conv_internal::DepthwiseJob& job, const float* const* rows,
                   float* out_row) {
  const Conv2DParams& p = *job.p;
  const size_t in_c = static_cast<size_t>(p.in_c);
  const size_t out_c = static_cast<size_t>(p.out_c);
  const int eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  // Output columns whose whole window is inside the input: [x_lo, x_hi).
  int x_lo = (p.pad_left + p.stride_w - 1) / p.stride_w;
  int x_hi = p.in_w + p.pad_left - eff_w < 0 ? 0 : (p.in_w + p.pad_left - eff_w) / p.stride_w + 1;
  x_hi = HWY_MIN(x_hi, p.out_w);
  if (x_lo > x_hi) x_lo = x_hi;
  const int taps = p.kernel_h * p.kernel_w;
  const bool fast = p.kernel_h == p.kernel_w && (taps == 9 || taps == 25);
  int ox = 0;
  if (fast && x_lo < x_hi) {
    for (; ox < x_lo; ++ox)
      DwPixel<kGather>(job, rows, ox * p.stride_w - p.pad_left, out_row + ox * out_c);
    const int ix0 = x_lo * p.stride_w - p.pad_left;
    const float* tp[25];
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      for (int kx = 0; kx < p.kernel_w; ++kx) {
        tp[ky * p.kernel_w + kx] = rows[ky] + static_cast<size_t>(ix0 + kx * p.dilation_w) * in_c;
      }
    }
    const size_t in_step = static_cast<size_t>(p.stride_w) * in_c;
    float* out0 = out_row + x_lo * out_c;
    const size_t npix = static_cast<size_t>(x_hi - x_lo);
    if (taps == 9) {
      DwInterior<9, kGather>(job, tp, in_step, out0, npix);
    } else {
      DwInterior<25, kGather>(job, tp, in_step, out0, npix);
    }
    ox = x_hi;
  }
  for (; ox < p.out_w; ++ox) {
    DwPixel<kGather>(job, rows, ox * p.stride_w - p.pad_left, out_row + ox * out_c);
  }
  if (job.clamp.row_pass) ApplyActivationRow(p.act, out_row, static_cast<size_t>(p.out_w) * out_c);
}

// The input rows under output row `row` (= batch * out_h + oy) of an image.
HWY_INLINE void DwImageRows(const conv_internal::DepthwiseJob& job, const float* input, size_t row,
                            const float** rows) {
  const Conv2DParams& p = *job.p;
  const size_t b = row / p.out_h;
  const int oy = static_cast<int>(row % p.out_h);
  const size_t row_floats = static_cast<size_t>(p.in_w) * p.in_c;
  for (int ky = 0; ky < p.kernel_h; ++ky) {
    const int iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
    rows[ky] = iy < 0 || iy >= p.in_h
                   ? job.zero
                   : input + (b * p.in_h + static_cast<size_t>(iy)) * row_floats;
  }
}

template <bool kGather>
void DwRows(const conv_internal::DepthwiseJob& job, size_t row_begin, size_t row_end) {
  const Conv2DParams& p = *job.p;
  const float* rows[conv_internal::kDwMaxKernelH];
  for (size_t row = row_begin; row < row_end; ++row) {
    DwImageRows(job, job.input, row, rows);
    DwRowFromRows<kGather>(job, rows, job.output + row * p.out_w * p.out_c);
  }
}

void DepthwiseRows(const conv_internal::DepthwiseJob& job, size_t row_begin, size_t row_end) {
  if (job.multiplier == 1) {
    DwRows<false>(job, row_begin, row_end);
  } else {
    DwRows<true>(job, row_begin, row_end);
  }
}

// ---------------------------------------------------------------------------
// Fused pairs: 1x1 then depthwise, depthwise then 1x1

// C rows [0, m) = A rows (m x k, row stride k) times every panel of a 1x1 conv.
HWY_INLINE void PointwiseRows(const conv_internal::PointwiseJob& pw, const float* a, size_t m,
                              float* c, const float* residual) {
  const StridedA sa{a, pw.in_c, 0};
  for (size_t pi = 0; pi < pw.num_panels; ++pi) {
    const size_t col0 = pi * pw.nr;
    GemmPanelRows(sa, 1, pw.in_c, pw.panels + pi * pw.in_c * pw.nr, pw.nr, pw.bias + col0,
                  HWY_MIN(pw.nr, pw.out_c - col0), pw.act, c + col0, pw.out_c, 0, m,
                  residual != nullptr ? residual + col0 : nullptr);
  }
}

// y[x] = max of the 2x2 window (a[2x], a[2x+1], b[2x], b[2x+1]) per channel,
// for x < out_w (a, b: rows of `c` channels per pixel).
void MaxPool2x2Row(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t c,
                   size_t out_w, float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t x = 0; x < out_w; ++x) {
    const float* a0 = a + 2 * x * c;
    const float* b0 = b + 2 * x * c;
    float* y0 = y + x * c;
    size_t i = 0;
    for (; i + N <= c; i += N) {
      const auto m = hn::Max(hn::Max(hn::LoadU(d, a0 + i), hn::LoadU(d, a0 + c + i)),
                             hn::Max(hn::LoadU(d, b0 + i), hn::LoadU(d, b0 + c + i)));
      hn::StoreU(m, d, y0 + i);
    }
    if (i < c) {
      const auto k = hn::FirstN(d, c - i);
      const auto m =
          hn::Max(hn::Max(hn::MaskedLoad(k, d, a0 + i), hn::MaskedLoad(k, d, a0 + c + i)),
                  hn::Max(hn::MaskedLoad(k, d, b0 + i), hn::MaskedLoad(k, d, b0 + c + i)));
      hn::BlendedStore(m, k, d, y0 + i);
    }
  }
}

// Pointwise then depthwise, depthwise output rows [row_begin, row_end) (row =
// batch * out_h + oy) with one ring of kernel-window rows of the pointwise
// output: each pointwise row is computed once per band, when a window first
// needs it. With job.max_pool, the rows are those of the pooled output (half
// the depthwise rows, floor), each from two depthwise rows kept in `pool_rows`.
void PwDwBand(const conv_internal::ConvPairJob& job, size_t row_begin, size_t row_end,
              float* ring, float* pool_rows) {
  const Conv2DParams& p = *job.dw.p;  // the depthwise conv: in_h x in_w x in_c is the 1x1's output
  const size_t row_floats = static_cast<size_t>(p.in_w) * p.in_c;
  const size_t in_row_floats = static_cast<size_t>(p.in_w) * job.pw.in_c;
  const size_t out_row_floats = static_cast<size_t>(p.out_w) * p.out_c;
  const int slots = (p.kernel_h - 1) * p.dilation_h + 1;
  int slot_row[conv_internal::kPairMaxWindowH];  // batch * in_h + iy held by each slot, -1: none
  for (int i = 0; i < slots; ++i) slot_row[i] = -1;
  const float* rows[conv_internal::kDwMaxKernelH];
  // Depthwise output row `row` into dst.
  auto dw_row = [&](size_t row, float* dst) {
    const size_t b = row / p.out_h;
    const int oy = static_cast<int>(row % p.out_h);
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      const int iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
      if (iy < 0 || iy >= p.in_h) {
        rows[ky] = job.dw.zero;
        continue;
      }
      const int key = static_cast<int>(b) * p.in_h + iy;
      const int slot = iy % slots;
      float* src = ring + static_cast<size_t>(slot) * row_floats;
      if (slot_row[slot] != key) {
        PointwiseRows(job.pw, job.input + static_cast<size_t>(key) * in_row_floats,
                      static_cast<size_t>(p.in_w), src, nullptr);
        slot_row[slot] = key;
      }
      rows[ky] = src;
    }
    DwRowFromRows<false>(job.dw, rows, dst);
  };
  if (!job.max_pool) {
    for (size_t row = row_begin; row < row_end; ++row) dw_row(row, job.output + row * out_row_floats);
    return;
  }
  const size_t pool_h = static_cast<size_t>(p.out_h / 2), pool_w = static_cast<size_t>(p.out_w / 2);
  for (size_t prow = row_begin; prow < row_end; ++prow) {
    const size_t b = prow / pool_h, py = prow % pool_h;
    const size_t row = b * p.out_h + 2 * py;
    dw_row(row, pool_rows);
    dw_row(row + 1, pool_rows + out_row_floats);
    MaxPool2x2Row(pool_rows, pool_rows + out_row_floats, static_cast<size_t>(p.out_c), pool_w,
                  job.output + prow * pool_w * p.out_c);
  }
}

// Depthwise then pointwise, output rows [row_begin, row_end): each depthwise
// output row goes to `buf` and straight into the 1x1 conv (and residual).
void DwPwBand(const conv_internal::ConvPairJob& job, size_t row_begin, size_t row_end,
              float* buf) {
  const Conv2DParams& p = *job.dw.p;
  const float* rows[conv_internal::kDwMaxKernelH];
  const size_t out_row_floats = static_cast<size_t>(p.out_w) * job.pw.out_c;
  for (size_t row = row_begin; row < row_end; ++row) {
    DwImageRows(job.dw, job.input, row, rows);
    DwRowFromRows<false>(job.dw, rows, buf);
    PointwiseRows(job.pw, buf, static_cast<size_t>(p.out_w), job.output + row * out_row_floats,
                  job.residual != nullptr ? job.residual + row * out_row_floats : nullptr);
  }
}

// Band `band` of job.bands: a contiguous range of output rows with its own
// intermediate buffer.
void ConvPairBands(const conv_internal::ConvPairJob& job, size_t band_begin, size_t band_end) {
  for (size_t band = band_begin; band < band_end; ++band) {
    const size_t r0 = job.rows_total * band / job.bands;
    const size_t r1 = job.rows_total * (band + 1) / job.bands;
    float* buf = job.buffers + band * job.buffer_floats;
    if (job.pointwise_first) {
      PwDwBand(job, r0, r1, buf, buf + job.pool_offset);
    } else {
      DwPwBand(job, r0, r1, buf);
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/parallel.h"

namespace facelib::ops {
HWY_EXPORT(ConvGemmTasks);
HWY_EXPORT(ConvIm2colRows);
HWY_EXPORT(ConvDotRows);
HWY_EXPORT(ConvPlanarRows);
HWY_EXPORT(AddResidual);
HWY_EXPORT(DepthwiseRows);
HWY_EXPORT(ConvPairBands);

namespace {

using conv_internal::DepthwiseJob;
using conv_internal::DotJob;
using conv_internal::GemmJob;
using conv_internal::Im2colJob;
using conv_internal::PlanarJob;

enum class ConvPlan { kGemm, kIm2col, kDot, kPlanar, kDepthwise };

// 1x1 stride-1 unpadded convolutions read A straight from the input rows; all
// other GEMM convolutions locate their input windows from the geometry.
bool IsDirectGemm(const Conv2DParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
}

bool IsDepthwise(const Conv2DParams& p) {
  return p.groups > 1 && p.groups == p.in_c && p.out_c % p.in_c == 0 &&
         p.kernel_h <= conv_internal::kDwMaxKernelH;
}

class PackedConv2DImpl final : public PackedConv2D {
 public:
  // gemm_only: always the GEMM plan (1x1 convs inside a fused pair).
  PackedConv2DImpl(const Conv2DParams& p, const float* weights, const float* bias,
                   bool gemm_only = false, const float* post_scale = nullptr,
                   const float* post_shift = nullptr)
      : pack_(p) {
    Pack(p, weights, bias, gemm_only);
    if (post_scale == nullptr && post_shift == nullptr) return;
    // The post affine per output channel, padded like the bias for the GEMM plan.
    const size_t out_c = static_cast<size_t>(p.out_c);
    const size_t n = plan_ == ConvPlan::kGemm ? static_cast<size_t>(p.groups) * panels_per_group_ * nr_
                                              : out_c;
    post_scale_ = gemm::AllocFloats(n);
    post_shift_ = gemm::AllocFloats(n);
    const size_t cout_g = out_c / static_cast<size_t>(p.groups);
    for (size_t i = 0; i < n; ++i) {
      size_t oc = i;  // output channel of slot i, or out_c for padding
      if (plan_ == ConvPlan::kGemm) {
        const size_t per_group = panels_per_group_ * nr_;
        const size_t col = i % per_group;
        oc = col < cout_g ? (i / per_group) * cout_g + col : out_c;
      }
      post_scale_[i] = oc < out_c ? (post_scale != nullptr ? post_scale[oc] : 1.0f) : 0.0f;
      post_shift_[i] = oc < out_c ? (post_shift != nullptr ? post_shift[oc] : 0.0f) : 0.0f;
    }
  }

 private:
  void Pack(const Conv2DParams& p, const float* weights, const float* bias, bool gemm_only) {
    const size_t taps = static_cast<size_t>(p.kernel_h) * p.kernel_w;
    if (!gemm_only && IsDepthwise(p)) {
      plan_ = ConvPlan::kDepthwise;
      // [tap][cp] so that a channel block of one tap is one aligned vector load.
      const size_t out_c = static_cast<size_t>(p.out_c);
      cp_ = AlignUp(out_c, 16);
      weights_ = gemm::AllocFloats(taps * cp_);
      bias_ = gemm::AllocFloats(cp_);
      gather_ = hwy::AllocateAligned<int32_t>(cp_);
      const size_t mult = out_c / static_cast<size_t>(p.in_c);
      for (size_t t = 0; t < taps; ++t) {
        for (size_t oc = 0; oc < cp_; ++oc) {
          weights_[t * cp_ + oc] = oc < out_c ? weights[oc * taps + t] : 0.0f;
        }
      }
      for (size_t oc = 0; oc < cp_; ++oc) {
        bias_[oc] = (bias != nullptr && oc < out_c) ? bias[oc] : 0.0f;
        gather_[oc] = static_cast<int32_t>(std::min(oc, out_c - 1) / mult);
      }
      return;
    }
    if (!gemm_only && p.groups == 1 && p.in_c == 1 && p.out_c == 1 && p.stride_w == 1 &&
        p.kernel_h <= 16) {
      plan_ = ConvPlan::kPlanar;
      weights_ = gemm::AllocFloats(taps);
      std::copy(weights, weights + taps, weights_.get());
      bias_ = gemm::AllocFloats(1);
      bias_[0] = bias != nullptr ? bias[0] : 0.0f;
      return;
    }
    if (!gemm_only && p.groups == 1 && p.out_c <= static_cast<int>(conv_internal::kDotMaxOutC) &&
        p.in_c >= static_cast<int>(conv_internal::kDotMinInC) &&
        taps * static_cast<size_t>(p.in_c) >= conv_internal::kDotMinK) {
      plan_ = ConvPlan::kDot;
      // [oc][tap][cp]: each tap's channels start on an aligned vector.
      const size_t in_c = static_cast<size_t>(p.in_c), out_c = static_cast<size_t>(p.out_c);
      cp_ = AlignUp(in_c, 16);
      weights_ = gemm::AllocFloats(out_c * taps * cp_);
      bias_ = gemm::AllocFloats(out_c);
      for (size_t oc = 0; oc < out_c; ++oc) {
        bias_[oc] = bias != nullptr ? bias[oc] : 0.0f;
        for (size_t t = 0; t < taps; ++t) {
          for (size_t c = 0; c < cp_; ++c) {
            weights_[(oc * taps + t) * cp_ + c] =
                c < in_c ? weights[(oc * taps + t) * in_c + c] : 0.0f;
          }
        }
      }
      return;
    }
    plan_ = !gemm_only && UseIm2col(p) ? ConvPlan::kIm2col : ConvPlan::kGemm;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      for (int kx = 0; kx < p.kernel_w; ++kx) {
        tap_y_.push_back(ky * p.dilation_h);
        tap_x_.push_back(kx * p.dilation_w);
      }
    }
    const gemm::TileGeometry geom = gemm::CurrentTileGeometry();
    mr_ = static_cast<size_t>(geom.mr);
    const size_t groups = static_cast<size_t>(p.groups);
    const size_t cin_g = static_cast<size_t>(p.in_c) / groups;
    const size_t cout_g = static_cast<size_t>(p.out_c) / groups;
    nr_ = gemm::PanelWidth(geom, cout_g);
    const size_t k_size = taps * cin_g;
    panels_per_group_ = gemm::NumPanels(cout_g, nr_);
    const size_t panel_floats = k_size * nr_;
    weights_ = gemm::AllocFloats(groups * panels_per_group_ * panel_floats);
    bias_ = gemm::AllocFloats(groups * panels_per_group_ * nr_);
    for (size_t g = 0; g < groups; ++g) {
      // OHWI: B(k, n) = w[(g * cout_g + n) * k_size + k] with k = tap * cin_g + c.
      const float* wg = weights + g * cout_g * k_size;
      float* dst = weights_.get() + g * panels_per_group_ * panel_floats;
      gemm::PackPanels(wg, k_size, cout_g, 1, k_size, nr_, dst);
      gemm::PackBias(bias != nullptr ? bias + g * cout_g : nullptr, cout_g, nr_,
                     bias_.get() + g * panels_per_group_ * nr_);
    }
  }

 public:
  size_t ScratchBytes(const Conv2DParams& p) const override {
    if (plan_ == ConvPlan::kDot) return AlignUp(static_cast<size_t>(p.in_c) * sizeof(float));
    if (plan_ == ConvPlan::kDepthwise) return ZeroRowBytes(p);
    if (plan_ != ConvPlan::kGemm || IsDirectGemm(p)) return 0;
    return TapOffsetBytes(p) + AlignUp(static_cast<size_t>(p.in_c) * sizeof(float));
  }

  using PackedConv2D::Run;
  void Run(const ExecContext& ctx, const Conv2DParams& p, const float* input,
           const float* residual, float* output, void* scratch) const override {
    const size_t m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    if (p.in_c != pack_.in_c || p.out_c != pack_.out_c || p.kernel_h != pack_.kernel_h ||
        p.kernel_w != pack_.kernel_w || p.groups != pack_.groups) {
      HWY_ABORT("Conv2D: Run params do not match the packed weights");
    }
    if (m_total == 0 || p.out_c == 0) return;
    const int threads = std::max(1, ctx.num_threads);
    if (plan_ == ConvPlan::kGemm) {
      RunGemm(threads, p, input, residual, output, scratch);
      return;
    }
    if (post_scale_ != nullptr) {
      // Plans without a post-affine epilogue: the conv, then one pass over the output.
      RunPlan(ctx, threads, p, input, residual, output, scratch);
      ChannelAffine(ctx, output, post_scale_.get(), post_shift_.get(), output, m_total,
                    static_cast<size_t>(p.out_c), Activation::None());
      return;
    }
    RunPlan(ctx, threads, p, input, residual, output, scratch);
  }

 private:
  // The non-GEMM plans, without the post affine.
  void RunPlan(const ExecContext& ctx, int threads, const Conv2DParams& p, const float* input,
               const float* residual, float* output, void* scratch) const {
    const size_t m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    if (residual != nullptr) {
      // The other plans have no residual epilogue: the conv, then one pass
      // adding the residual and applying the activation.
      Conv2DParams plain = p;
      plain.act = Activation::None();
      RunPlan(ctx, threads, plain, input, nullptr, output, scratch);
      const size_t n = m_total * static_cast<size_t>(p.out_c);
      const size_t chunk = 4096;
      ParallelFor(threads, (n + chunk - 1) / chunk, [&](size_t c0, size_t c1) {
        const size_t begin = c0 * chunk, end = std::min(n, c1 * chunk);
        HWY_DYNAMIC_DISPATCH(AddResidual)(residual + begin, p.act, output + begin, end - begin);
      });
      return;
    }
    if (plan_ == ConvPlan::kDepthwise) {
      RunDepthwise(threads, p, input, output, scratch);
    } else if (plan_ == ConvPlan::kIm2col) {
      RunIm2col(threads, p, input, output);
    } else if (plan_ == ConvPlan::kDot) {
      RunDot(threads, p, input, output, scratch);
    } else if (plan_ == ConvPlan::kPlanar) {
      PlanarJob job;
      job.p = &p;
      job.input = input;
      job.output = output;
      job.weights = weights_.get();
      job.bias = bias_[0];
      ParallelFor(threads, static_cast<size_t>(p.batch) * p.out_h, [&](size_t begin, size_t end) {
        HWY_DYNAMIC_DISPATCH(ConvPlanarRows)(job, begin, end);
      });
    }
  }

 private:
  // Dense convs with few input channels and a short reduction (image stems).
  // 1x1 stride-1 convs stay on the direct GEMM, which needs no copy at all.
  static bool UseIm2col(const Conv2DParams& p) {
    const size_t k = static_cast<size_t>(p.kernel_h) * p.kernel_w * p.in_c;
    return p.groups == 1 && p.in_c <= static_cast<int>(conv_internal::kIm2colMaxInC) &&
           k <= conv_internal::kIm2colMaxK && !IsDirectGemm(p);
  }

  void RunIm2col(int threads, const Conv2DParams& p, const float* input, float* output) const {
    Im2colJob job;
    job.p = &p;
    job.input = input;
    job.output = output;
    job.panels = weights_.get();
    job.bias = bias_.get();
    job.nr = nr_;
    job.num_panels = panels_per_group_;
    job.k_size = static_cast<size_t>(p.kernel_h) * p.kernel_w * p.in_c;
    job.m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    job.clamp = ActClamp::For(p.act);
    const size_t rows = static_cast<size_t>(p.batch) * p.out_h;
    ParallelFor(threads, rows, [&](size_t begin, size_t end) {
      HWY_DYNAMIC_DISPATCH(ConvIm2colRows)(job, begin, end);
    });
  }

  void RunDot(int threads, const Conv2DParams& p, const float* input, float* output,
              void* scratch) const {
    DotJob job;
    job.p = &p;
    job.input = input;
    job.zero = static_cast<const float*>(scratch);
    job.taps = static_cast<size_t>(p.kernel_h) * p.kernel_w;
    job.in_c = static_cast<size_t>(p.in_c);
    job.weights = weights_.get();
    job.cin_pad = cp_;
    job.row_runs = cp_ == job.in_c && p.dilation_w == 1;
    job.bias = bias_.get();
    job.output = output;
    job.out_c = static_cast<size_t>(p.out_c);
    job.act = p.act;
    std::memset(scratch, 0, static_cast<size_t>(p.in_c) * sizeof(float));
    const size_t rows = static_cast<size_t>(p.batch) * p.out_h;
    ParallelFor(threads, rows, [&](size_t begin, size_t end) {
      HWY_DYNAMIC_DISPATCH(ConvDotRows)(job, begin, end);
    });
  }

  static size_t TapOffsetBytes(const Conv2DParams& p) {
    return AlignUp(static_cast<size_t>(p.kernel_h) * p.kernel_w * sizeof(ptrdiff_t));
  }

 public:
  // A row of zeros standing in for depthwise input rows in the padding.
  static size_t ZeroRowBytes(const Conv2DParams& p) {
    return AlignUp(static_cast<size_t>(p.in_w) * p.in_c * sizeof(float));
  }

  // The depthwise job without its input and output (zero: ZeroRowBytes(p) of scratch).
  DepthwiseJob DepthwiseFor(const Conv2DParams& p, void* zero) const {
    std::memset(zero, 0, static_cast<size_t>(p.in_w) * p.in_c * sizeof(float));
    DepthwiseJob job;
    job.p = &p;
    job.zero = static_cast<const float*>(zero);
    job.weights = weights_.get();
    job.bias = bias_.get();
    job.gather = gather_.get();
    job.cp = cp_;
    job.multiplier = static_cast<size_t>(p.out_c / p.in_c);
    job.clamp = ActClamp::For(p.act);
    return job;
  }

  // The 1x1 conv of a fused pair (GEMM plan, one group).
  conv_internal::PointwiseJob PointwiseFor(const Conv2DParams& p) const {
    conv_internal::PointwiseJob job;
    job.panels = weights_.get();
    job.bias = bias_.get();
    job.nr = nr_;
    job.num_panels = panels_per_group_;
    job.in_c = static_cast<size_t>(p.in_c);
    job.out_c = static_cast<size_t>(p.out_c);
    job.act = p.act;
    return job;
  }

 private:
  void RunDepthwise(int threads, const Conv2DParams& p, const float* input, float* output,
                    void* scratch) const {
    DepthwiseJob job = DepthwiseFor(p, scratch);
    job.input = input;
    job.output = output;
    const size_t rows = static_cast<size_t>(p.batch) * p.out_h;
    const auto fn = HWY_DYNAMIC_DISPATCH(DepthwiseRows);
    // One output row per iteration; static schedule keeps each thread's rows adjacent.
    ParallelFor(threads, rows, [&](size_t r0, size_t r1) { fn(job, r0, r1); });
  }

  void RunGemm(int threads, const Conv2DParams& p, const float* input, const float* residual,
               float* output, void* scratch) const {
    const size_t groups = static_cast<size_t>(p.groups);
    GemmJob job;
    job.p = &p;
    job.direct = IsDirectGemm(p);
    job.input = input;
    job.in_c = static_cast<size_t>(p.in_c);
    job.cin_g = job.in_c / groups;
    job.panels = weights_.get();
    job.bias = bias_.get();
    job.nr = nr_;
    job.panels_per_group = panels_per_group_;
    job.output = output;
    job.residual = residual;
    job.post_scale = post_scale_.get();
    job.post_shift = post_shift_.get();
    job.out_c = static_cast<size_t>(p.out_c);
    job.cout_g = job.out_c / groups;
    job.m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    job.act = p.act;
    // Row blocks of several tiles: big enough to amortise the task overhead,
    // small enough to balance two threads on small layers.
    job.m_block = mr_ * 8;
    job.num_m_blocks = (job.m_total + job.m_block - 1) / job.m_block;
    if (!job.direct) {
      // Scratch: the float offset of every tap from the window origin, then a zero row.
      auto* tap_off = static_cast<ptrdiff_t*>(scratch);
      float* zero = reinterpret_cast<float*>(static_cast<char*>(scratch) + TapOffsetBytes(p));
      std::memset(zero, 0, job.in_c * sizeof(float));
      for (size_t t = 0; t < tap_y_.size(); ++t) {
        tap_off[t] = (static_cast<ptrdiff_t>(tap_y_[t]) * p.in_w + tap_x_[t]) *
                     static_cast<ptrdiff_t>(p.in_c);
      }
      job.taps = tap_y_.size();
      job.tap_off = tap_off;
      job.tap_y = tap_y_.data();
      job.tap_x = tap_x_.data();
      job.zero = zero;
    }
    const auto fn = HWY_DYNAMIC_DISPATCH(ConvGemmTasks);
    ParallelFor(threads, job.NumTasks(groups), [&](size_t t0, size_t t1) { fn(job, t0, t1); });
  }

  Conv2DParams pack_;
  ConvPlan plan_ = ConvPlan::kGemm;
  hwy::AlignedFreeUniquePtr<float[]> weights_;
  hwy::AlignedFreeUniquePtr<float[]> bias_;
  hwy::AlignedFreeUniquePtr<int32_t[]> gather_;
  hwy::AlignedFreeUniquePtr<float[]> post_scale_, post_shift_;  // null: no post affine
  std::vector<int> tap_y_, tap_x_;  // GEMM plan: ky * dilation_h, kx * dilation_w per tap
  size_t nr_ = 0, mr_ = 1, panels_per_group_ = 0, cp_ = 0;
};

bool IsPlainPointwise(const Conv2DParams& p) {
  return p.groups == 1 && p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 &&
         p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 &&
         p.pad_right == 0;
}

bool IsPairDepthwise(const Conv2DParams& p) {
  constexpr int kMax = conv_internal::kPairMaxWindowH;
  return p.in_c > 1 && p.groups == p.in_c && p.out_c == p.in_c && p.kernel_h >= 1 &&
         p.kernel_h <= kMax && p.dilation_h >= 1 && p.dilation_h <= kMax &&
         (p.kernel_h - 1) * p.dilation_h + 1 <= kMax;
}

// Bands of output rows run concurrently, each with its own buffer.
constexpr size_t kMaxPairBands = 4;

class PackedConvPairImpl final : public PackedConvPair {
 public:
  PackedConvPairImpl(const Conv2DParams& first, const float* w1, const float* b1,
                     const Conv2DParams& second, const float* w2, const float* b2, bool max_pool)
      : pointwise_first_(IsPlainPointwise(first)),
        max_pool_(max_pool),
        first_(first, w1, b1, /*gemm_only=*/pointwise_first_),
        second_(second, w2, b2, /*gemm_only=*/!pointwise_first_) {}

  size_t ScratchBytes(const Conv2DParams& first, const Conv2DParams& second) const override {
    const Conv2DParams& dw = pointwise_first_ ? second : first;
    return PackedConv2DImpl::ZeroRowBytes(dw) + kMaxPairBands * BufferFloats(dw) * sizeof(float);
  }

  void Run(const ExecContext& ctx, const Conv2DParams& first, const Conv2DParams& second,
           const float* input, const float* residual, float* output,
           void* scratch) const override {
    if (!CanFuseConvPair(first, second) || IsPlainPointwise(first) != pointwise_first_ ||
        (pointwise_first_ && residual != nullptr) || (max_pool_ && residual != nullptr)) {
      HWY_ABORT("Conv2D pair: Run params do not match the packed pair");
    }
    const Conv2DParams& dw = pointwise_first_ ? second : first;
    const Conv2DParams& pw = pointwise_first_ ? first : second;
    conv_internal::ConvPairJob job;
    job.pointwise_first = pointwise_first_;
    job.dw = (pointwise_first_ ? second_ : first_).DepthwiseFor(dw, scratch);
    job.pw = (pointwise_first_ ? first_ : second_).PointwiseFor(pw);
    job.input = input;
    job.residual = residual;
    job.output = output;
    job.buffers = reinterpret_cast<float*>(static_cast<char*>(scratch) +
                                           PackedConv2DImpl::ZeroRowBytes(dw));
    job.buffer_floats = BufferFloats(dw);
    job.max_pool = max_pool_;
    job.pool_offset = RingFloats(dw);
    job.rows_total = static_cast<size_t>(dw.batch) * (max_pool_ ? dw.out_h / 2 : dw.out_h);
    if (job.rows_total == 0 || dw.out_w < (max_pool_ ? 2 : 1)) return;
    const size_t threads = static_cast<size_t>(std::max(1, ctx.num_threads));
    job.bands = std::min({threads, kMaxPairBands, job.rows_total});
    const auto fn = HWY_DYNAMIC_DISPATCH(ConvPairBands);
    ParallelFor(static_cast<int>(threads), job.bands,
                [&](size_t b0, size_t b1) { fn(job, b0, b1); });
  }

 private:
  // Per band: the ring of 1x1 output rows under one depthwise window, or one
  // depthwise output row (rounded to whole cache lines)...
  size_t RingFloats(const Conv2DParams& dw) const {
    const size_t rows = pointwise_first_ ? static_cast<size_t>((dw.kernel_h - 1) * dw.dilation_h + 1) : 1;
    const size_t width = static_cast<size_t>(pointwise_first_ ? dw.in_w : dw.out_w);
    return AlignUp(rows * width * static_cast<size_t>(dw.in_c) * sizeof(float)) / sizeof(float);
  }
  // ... then, with the max pool, the two depthwise output rows under one pooled row.
  size_t BufferFloats(const Conv2DParams& dw) const {
    const size_t pool = max_pool_ ? 2 * static_cast<size_t>(dw.out_w) * dw.out_c : 0;
    return RingFloats(dw) + AlignUp(pool * sizeof(float)) / sizeof(float);
  }

  bool pointwise_first_;
  bool max_pool_;
  PackedConv2DImpl first_;
  PackedConv2DImpl second_;
};

}  // namespace

std::unique_ptr<PackedConv2D> PackConv2D(const Conv2DParams& p, const float* weights,
                                         const float* bias, const float* post_scale,
                                         const float* post_shift) {
  return std::make_unique<PackedConv2DImpl>(p, weights, bias, false, post_scale, post_shift);
}

bool CanFuseConvPair(const Conv2DParams& first, const Conv2DParams& second) {
  if (IsPlainPointwise(first)) {
    return IsPairDepthwise(second) && second.in_c == first.out_c;
  }
  return IsPairDepthwise(first) && IsPlainPointwise(second) && second.in_c == first.out_c;
}

std::unique_ptr<PackedConvPair> PackConvPair(const Conv2DParams& first, const float* first_weights,
                                             const float* first_bias, const Conv2DParams& second,
                                             const float* second_weights, const float* second_bias,
                                             bool max_pool) {
  if (!CanFuseConvPair(first, second) || (max_pool && !IsPlainPointwise(first))) return nullptr;
  return std::make_unique<PackedConvPairImpl>(first, first_weights, first_bias, second,
                                              second_weights, second_bias, max_pool);
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
