// SIMD 2-D convolution (NHWC). Three execution plans, chosen at pack time:
//  * 1x1, stride 1, no padding: a GEMM directly on the input rows.
//  * any other non-depthwise conv (incl. grouped): implicit GEMM through an
//    indirection buffer of input-pixel pointers per (output pixel, tap), built in
//    the scratch memory at each Run, with a shared zero row standing in for
//    padding. No im2col copy is made.
//  * depthwise (groups == in_c > 1, any channel multiplier): a direct kernel
//    vectorised over channels with unrolled 3x3 / 5x5 interiors.
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
    float* c = job.output + g * job.cout_g + col0;
    if (job.ind != nullptr) {
      const IndirectA a{job.ind, job.taps, g * job.cin_g};
      GemmPanelRows(a, job.taps, job.cin_g, panel, job.nr, bias, ncols, job.act, c, job.out_c, m0,
                    m1);
    } else {
      const StridedA a{job.input + g * job.cin_g, job.in_c, 0};
      GemmPanelRows(a, 1, job.cin_g, panel, job.nr, bias, ncols, job.act, c, job.out_c, m0, m1);
    }
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
                        const conv_internal::DwClamp& clamp) {
  v = hn::Min(hn::Max(v, hn::Set(d, clamp.lo)), hn::Set(d, clamp.hi));
  if constexpr (kTail) {
    hn::BlendedStore(v, tail, d, dst);
  } else {
    hn::StoreU(v, d, dst);
  }
}

// Output channels [oc, oc + N) of kPix consecutive interior output pixels (all
// taps in bounds), with the kTaps weight vectors already in registers. Pixel i's
// window starts at in0 + i * in_step; tap t is at offset off[t]. The kPix
// accumulators are independent FMA chains.
template <size_t kTaps, size_t kPix, bool kGather, bool kTail, class D>
HWY_INLINE void DwPixelGroup(D d, const float* HWY_RESTRICT in0, size_t in_step,
                             const ptrdiff_t* off, const hn::Vec<D>* wv, hn::Vec<D> bias,
                             const int32_t* gather, size_t oc, hn::Mask<D> tail,
                             float* HWY_RESTRICT out0, size_t out_step,
                             const conv_internal::DwClamp& clamp) {
  using V = hn::Vec<D>;
  V acc[kPix];
#pragma GCC unroll 8
  for (size_t i = 0; i < kPix; ++i) acc[i] = bias;
#pragma GCC unroll 32
  for (size_t t = 0; t < kTaps; ++t) {
    const float* q = in0 + off[t];
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

// Pixels per group: two FMA pipes x 4-cycle latency need 8 independent chains;
// AVX2's 16 registers cannot hold 8 accumulators next to 9 weight vectors.
#if HWY_MAX_BYTES >= 64
constexpr size_t kDwPixels = 8;
#else
constexpr size_t kDwPixels = 4;
#endif

// Output channels [oc, oc + N) of `npix` consecutive interior output pixels.
// The channel block is the outer loop so that its weights stay in registers.
template <size_t kTaps, bool kGather, bool kTail, class D>
HWY_INLINE void DwInteriorBlock(D d, const float* HWY_RESTRICT in0, size_t in_step,
                                const ptrdiff_t* off, const float* HWY_RESTRICT w, size_t cp,
                                hn::Vec<D> bias, const int32_t* gather, size_t oc, hn::Mask<D> tail,
                                float* HWY_RESTRICT out0, size_t out_step, size_t npix,
                                const conv_internal::DwClamp& clamp) {
  hn::Vec<D> wv[kTaps];
#pragma GCC unroll 32
  for (size_t t = 0; t < kTaps; ++t) wv[t] = hn::Load(d, w + t * cp + oc);
  size_t i = 0;
  for (; i + kDwPixels <= npix; i += kDwPixels) {
    DwPixelGroup<kTaps, kDwPixels, kGather, kTail>(d, in0 + i * in_step, in_step, off, wv, bias,
                                                   gather, oc, tail, out0 + i * out_step, out_step,
                                                   clamp);
  }
  if constexpr (kDwPixels > 4) {
    if (i + 4 <= npix) {
      DwPixelGroup<kTaps, 4, kGather, kTail>(d, in0 + i * in_step, in_step, off, wv, bias, gather,
                                             oc, tail, out0 + i * out_step, out_step, clamp);
      i += 4;
    }
  }
  for (; i < npix; ++i) {
    DwPixelGroup<kTaps, 1, kGather, kTail>(d, in0 + i * in_step, in_step, off, wv, bias, gather, oc,
                                           tail, out0 + i * out_step, out_step, clamp);
  }
}

template <size_t kTaps, bool kGather>
void DwInterior(const conv_internal::DepthwiseJob& job, const float* in0, size_t in_step,
                const ptrdiff_t* off, float* out0, size_t npix) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t out_c = static_cast<size_t>(job.p->out_c);
  size_t oc = 0;
  for (; oc + N <= out_c; oc += N) {
    DwInteriorBlock<kTaps, kGather, false>(d, in0, in_step, off, job.weights, job.cp,
                                           hn::Load(d, job.bias + oc), job.gather, oc,
                                           hn::FirstN(d, N), out0, out_c, npix, job.clamp);
  }
  if (oc < out_c) {
    DwInteriorBlock<kTaps, kGather, true>(d, in0, in_step, off, job.weights, job.cp,
                                          hn::Load(d, job.bias + oc), job.gather, oc,
                                          hn::FirstN(d, out_c - oc), out0, out_c, npix, job.clamp);
  }
}

// One output pixel with per-tap bounds checks (borders, and interiors of kernel
// sizes without an unrolled path).
template <bool kGather, bool kTail, class D>
HWY_INLINE void DwPixelBlock(D d, const conv_internal::DepthwiseJob& job, const float* in_img,
                             int iy0, int ix0, size_t oc, hn::Mask<D> tail, float* out_px) {
  const Conv2DParams& p = *job.p;
  auto acc = hn::Load(d, job.bias + oc);
  for (int ky = 0; ky < p.kernel_h; ++ky) {
    const int iy = iy0 + ky * p.dilation_h;
    if (iy < 0 || iy >= p.in_h) continue;
    for (int kx = 0; kx < p.kernel_w; ++kx) {
      const int ix = ix0 + kx * p.dilation_w;
      if (ix < 0 || ix >= p.in_w) continue;
      const float* px = in_img + (static_cast<size_t>(iy) * p.in_w + ix) * p.in_c;
      const float* w = job.weights + static_cast<size_t>(ky * p.kernel_w + kx) * job.cp;
      acc = hn::MulAdd(DwLoadInput<kGather, kTail>(d, px, oc, job.gather, tail),
                       hn::Load(d, w + oc), acc);
    }
  }
  DwStore<kTail>(d, acc, out_px + oc, tail, job.clamp);
}

template <bool kGather>
void DwPixel(const conv_internal::DepthwiseJob& job, const float* in_img, int iy0, int ix0,
             float* out_px) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t out_c = static_cast<size_t>(job.p->out_c);
  size_t oc = 0;
  for (; oc + N <= out_c; oc += N) {
    DwPixelBlock<kGather, false>(d, job, in_img, iy0, ix0, oc, hn::FirstN(d, N), out_px);
  }
  if (oc < out_c) {
    DwPixelBlock<kGather, true>(d, job, in_img, iy0, ix0, oc, hn::FirstN(d, out_c - oc), out_px);
  }
}

template <bool kGather>
void DwRows(const conv_internal::DepthwiseJob& job, size_t row_begin, size_t row_end) {
  const Conv2DParams& p = *job.p;
  const size_t in_c = static_cast<size_t>(p.in_c);
  const size_t out_c = static_cast<size_t>(p.out_c);
  const int eff_h = (p.kernel_h - 1) * p.dilation_h + 1;
  const int eff_w = (p.kernel_w - 1) * p.dilation_w + 1;
  // Output columns whose whole window is inside the input: [x_lo, x_hi).
  int x_lo = (p.pad_left + p.stride_w - 1) / p.stride_w;
  int x_hi = p.in_w + p.pad_left - eff_w < 0 ? 0 : (p.in_w + p.pad_left - eff_w) / p.stride_w + 1;
  x_hi = HWY_MIN(x_hi, p.out_w);
  if (x_lo > x_hi) x_lo = x_hi;
  const int taps = p.kernel_h * p.kernel_w;
  const bool fast = p.kernel_h == p.kernel_w && (taps == 9 || taps == 25);
  ptrdiff_t off[25];
  if (fast) {
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      for (int kx = 0; kx < p.kernel_w; ++kx) {
        off[ky * p.kernel_w + kx] =
            (static_cast<ptrdiff_t>(ky) * p.dilation_h * p.in_w + kx * p.dilation_w) *
            static_cast<ptrdiff_t>(in_c);
      }
    }
  }

  for (size_t row = row_begin; row < row_end; ++row) {
    const size_t b = row / p.out_h;
    const int oy = static_cast<int>(row % p.out_h);
    const float* in_img = job.input + b * p.in_h * p.in_w * in_c;
    float* out_row = job.output + row * p.out_w * out_c;
    const int iy0 = oy * p.stride_h - p.pad_top;
    const bool row_inside = iy0 >= 0 && iy0 + eff_h <= p.in_h;
    int ox = 0;
    if (fast && row_inside && x_lo < x_hi) {
      for (; ox < x_lo; ++ox)
        DwPixel<kGather>(job, in_img, iy0, ox * p.stride_w - p.pad_left, out_row + ox * out_c);
      const int ix0 = x_lo * p.stride_w - p.pad_left;
      const float* in0 = in_img + (static_cast<size_t>(iy0) * p.in_w + ix0) * in_c;
      const size_t in_step = static_cast<size_t>(p.stride_w) * in_c;
      float* out0 = out_row + x_lo * out_c;
      const size_t npix = static_cast<size_t>(x_hi - x_lo);
      if (taps == 9) {
        DwInterior<9, kGather>(job, in0, in_step, off, out0, npix);
      } else {
        DwInterior<25, kGather>(job, in0, in_step, off, out0, npix);
      }
      ox = x_hi;
    }
    for (; ox < p.out_w; ++ox) {
      DwPixel<kGather>(job, in_img, iy0, ox * p.stride_w - p.pad_left, out_row + ox * out_c);
    }
    if (job.clamp.row_pass)
      ApplyActivationRow(p.act, out_row, static_cast<size_t>(p.out_w) * out_c);
  }
}

void DepthwiseRows(const conv_internal::DepthwiseJob& job, size_t row_begin, size_t row_end) {
  if (job.multiplier == 1) {
    DwRows<false>(job, row_begin, row_end);
  } else {
    DwRows<true>(job, row_begin, row_end);
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/gemm.h"

namespace facelib::ops {
HWY_EXPORT(ConvGemmTasks);
HWY_EXPORT(DepthwiseRows);

namespace {

using conv_internal::DepthwiseJob;
using conv_internal::GemmJob;

enum class ConvPlan { kGemm, kDepthwise };

// 1x1 stride-1 unpadded convolutions read A straight from the input rows; all
// other GEMM convolutions go through an indirection buffer.
bool IsDirectGemm(const Conv2DParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
}

class PackedConv2DImpl final : public PackedConv2D {
 public:
  PackedConv2DImpl(const Conv2DParams& p, const float* weights, const float* bias) : pack_(p) {
    const size_t taps = static_cast<size_t>(p.kernel_h) * p.kernel_w;
    if (p.groups > 1 && p.groups == p.in_c && p.out_c % p.in_c == 0) {
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
    plan_ = ConvPlan::kGemm;
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

  size_t ScratchBytes(const Conv2DParams& p) const override {
    if (plan_ != ConvPlan::kGemm || IsDirectGemm(p)) return 0;
    return IndirectionBytes(p) + AlignUp(static_cast<size_t>(p.in_c) * sizeof(float));
  }

  void Run(const ExecContext& ctx, const Conv2DParams& p, const float* input, float* output,
           void* scratch) const override {
    const size_t m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    if (p.in_c != pack_.in_c || p.out_c != pack_.out_c || p.kernel_h != pack_.kernel_h ||
        p.kernel_w != pack_.kernel_w || p.groups != pack_.groups) {
      HWY_ABORT("Conv2D: Run params do not match the packed weights");
    }
    if (m_total == 0 || p.out_c == 0) return;
    const int threads = std::max(1, ctx.num_threads);
    if (plan_ == ConvPlan::kDepthwise) {
      RunDepthwise(threads, p, input, output);
    } else {
      RunGemm(threads, p, input, output, scratch);
    }
  }

 private:
  static size_t IndirectionBytes(const Conv2DParams& p) {
    const size_t m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    return AlignUp(m_total * p.kernel_h * p.kernel_w * sizeof(const float*));
  }

  void RunDepthwise(int threads, const Conv2DParams& p, const float* input, float* output) const {
    DepthwiseJob job;
    job.p = &p;
    job.input = input;
    job.output = output;
    job.weights = weights_.get();
    job.bias = bias_.get();
    job.gather = gather_.get();
    job.cp = cp_;
    job.multiplier = static_cast<size_t>(p.out_c / p.in_c);
    job.clamp = conv_internal::DwClamp::For(p.act);
    const size_t rows = static_cast<size_t>(p.batch) * p.out_h;
    const auto fn = HWY_DYNAMIC_DISPATCH(DepthwiseRows);
    // One output row per iteration; static schedule keeps each thread's rows adjacent.
    const long n = static_cast<long>(rows);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 1)
    for (long r = 0; r < n; ++r) fn(job, static_cast<size_t>(r), static_cast<size_t>(r) + 1);
  }

  void RunGemm(int threads, const Conv2DParams& p, const float* input, float* output,
               void* scratch) const {
    const size_t groups = static_cast<size_t>(p.groups);
    const size_t taps = static_cast<size_t>(p.kernel_h) * p.kernel_w;
    GemmJob job;
    job.input = input;
    job.in_c = static_cast<size_t>(p.in_c);
    job.cin_g = job.in_c / groups;
    job.panels = weights_.get();
    job.bias = bias_.get();
    job.nr = nr_;
    job.panels_per_group = panels_per_group_;
    job.output = output;
    job.out_c = static_cast<size_t>(p.out_c);
    job.cout_g = job.out_c / groups;
    job.m_total = static_cast<size_t>(p.batch) * p.out_h * p.out_w;
    job.act = p.act;
    // Row blocks of several tiles: big enough to amortise the task overhead,
    // small enough to balance two threads on small layers.
    job.m_block = mr_ * 8;
    job.num_m_blocks = (job.m_total + job.m_block - 1) / job.m_block;

    const float** ind = nullptr;
    if (!IsDirectGemm(p)) {
      ind = static_cast<const float**>(scratch);
      float* zero = reinterpret_cast<float*>(static_cast<char*>(scratch) + IndirectionBytes(p));
      std::memset(zero, 0, static_cast<size_t>(p.in_c) * sizeof(float));
      job.ind = ind;
      job.taps = taps;
    }
    const auto fn = HWY_DYNAMIC_DISPATCH(ConvGemmTasks);
    const long num_tasks = static_cast<long>(job.NumTasks(groups));
    const long m_total = static_cast<long>(job.m_total);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      if (ind != nullptr) {
#pragma omp for schedule(static)
        for (long m = 0; m < m_total; ++m) FillIndirection(p, input, static_cast<size_t>(m), ind);
        // (implicit barrier: every row's pointers exist before any tile reads them)
      }
#pragma omp for schedule(static)
      for (long t = 0; t < num_tasks; ++t)
        fn(job, static_cast<size_t>(t), static_cast<size_t>(t) + 1);
    }
  }

  // Pointers to the input pixel under every tap of output pixel m, or to the
  // zero row that follows the indirection buffer when the tap is in the padding.
  static void FillIndirection(const Conv2DParams& p, const float* input, size_t m,
                              const float** ind) {
    const size_t taps = static_cast<size_t>(p.kernel_h) * p.kernel_w;
    const float* zero =
        reinterpret_cast<const float*>(reinterpret_cast<const char*>(ind) + IndirectionBytes(p));
    const size_t ox = m % p.out_w;
    const size_t oy = (m / p.out_w) % p.out_h;
    const size_t b = m / (static_cast<size_t>(p.out_w) * p.out_h);
    const float** row = ind + m * taps;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      const int iy = static_cast<int>(oy) * p.stride_h - p.pad_top + ky * p.dilation_h;
      for (int kx = 0; kx < p.kernel_w; ++kx) {
        const int ix = static_cast<int>(ox) * p.stride_w - p.pad_left + kx * p.dilation_w;
        const bool inside = iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w;
        *row++ = inside ? input + ((b * p.in_h + iy) * p.in_w + ix) * p.in_c : zero;
      }
    }
  }

  Conv2DParams pack_;
  ConvPlan plan_ = ConvPlan::kGemm;
  hwy::AlignedFreeUniquePtr<float[]> weights_;
  hwy::AlignedFreeUniquePtr<float[]> bias_;
  hwy::AlignedFreeUniquePtr<int32_t[]> gather_;
  size_t nr_ = 0, mr_ = 1, panels_per_group_ = 0, cp_ = 0;
};

}  // namespace

std::unique_ptr<PackedConv2D> PackConv2D(const Conv2DParams& p, const float* weights,
                                         const float* bias) {
  return std::make_unique<PackedConv2DImpl>(p, weights, bias);
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
