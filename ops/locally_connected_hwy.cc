// SIMD LocallyConnected2D. Every output position has its own K x out_c weight
// matrix (K = kernel_h * kernel_w * in_c), packed into GEMM panels. Per position
// the batch rows form a small GEMM (a GEMV for batch 1) whose A rows are the
// input patches read in place: each of the kernel_h patch rows is kernel_w * in_c
// contiguous floats in NHWC, so the microkernel sees kernel_h runs per row.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/locally_connected_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/gemm-inl.h"
#include "ops/locally_connected.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {

// Output positions [pos_begin, pos_end) for all batch items.
void LocallyConnectedPositions(const LocallyConnectedParams& p, const float* input,
                               const float* panels, const float* bias, size_t nr, float* output,
                               size_t pos_begin, size_t pos_end) {
  const size_t in_c = static_cast<size_t>(p.in_c);
  const size_t out_c = static_cast<size_t>(p.out_c);
  const size_t kc = static_cast<size_t>(p.kernel_w) * in_c;
  const size_t k_size = static_cast<size_t>(p.kernel_h) * kc;
  const size_t num_panels = (out_c + nr - 1) / nr;
  const size_t image_in = static_cast<size_t>(p.in_h) * p.in_w * in_c;
  const size_t image_out = static_cast<size_t>(p.out_h) * p.out_w * out_c;
  for (size_t pos = pos_begin; pos < pos_end; ++pos) {
    const size_t oy = pos / p.out_w;
    const size_t ox = pos % p.out_w;
    const float* patch = input + (oy * p.stride_h * p.in_w + ox * p.stride_w) * in_c;
    // Row r = batch item r, run t = patch row t.
    const StridedA a{patch, image_in, static_cast<size_t>(p.in_w) * in_c};
    const float* pos_panels = panels + pos * num_panels * k_size * nr;
    const float* pos_bias = bias + pos * num_panels * nr;
    for (size_t q = 0; q < num_panels; ++q) {
      const size_t n0 = q * nr;
      GemmPanelRows(a, static_cast<size_t>(p.kernel_h), kc, pos_panels + q * k_size * nr, nr,
                    pos_bias + n0, HWY_MIN(nr, out_c - n0), p.act, output + pos * out_c + n0,
                    image_out, 0, static_cast<size_t>(p.batch));
    }
  }
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "ops/parallel.h"
#include <algorithm>

#include "ops/gemm.h"

namespace facelib::ops {
HWY_EXPORT(LocallyConnectedPositions);

namespace {

class PackedLocallyConnectedImpl final : public PackedLocallyConnected {
 public:
  PackedLocallyConnectedImpl(const LocallyConnectedParams& p, const float* weights,
                             const float* bias)
      : pack_(p) {
    nr_ = gemm::PanelWidth(gemm::CurrentTileGeometry(), static_cast<size_t>(p.out_c));
    const size_t positions = static_cast<size_t>(p.out_h) * p.out_w;
    const size_t out_c = static_cast<size_t>(p.out_c);
    const size_t k_size = static_cast<size_t>(p.kernel_h) * p.kernel_w * p.in_c;
    const size_t num_panels = gemm::NumPanels(out_c, nr_);
    panels_ = gemm::AllocFloats(positions * num_panels * k_size * nr_);
    bias_ = gemm::AllocFloats(positions * num_panels * nr_);
    for (size_t pos = 0; pos < positions; ++pos) {
      // weights[pos] is K x out_c row-major.
      gemm::PackPanels(weights + pos * k_size * out_c, k_size, out_c, out_c, 1, nr_,
                       panels_.get() + pos * num_panels * k_size * nr_);
      gemm::PackBias(bias != nullptr ? bias + pos * out_c : nullptr, out_c, nr_,
                     bias_.get() + pos * num_panels * nr_);
    }
  }

  void Run(const ExecContext& ctx, const LocallyConnectedParams& p, const float* input,
           float* output) const override {
    if (p.in_c != pack_.in_c || p.out_c != pack_.out_c || p.out_h != pack_.out_h ||
        p.out_w != pack_.out_w || p.kernel_h != pack_.kernel_h || p.kernel_w != pack_.kernel_w) {
      HWY_ABORT("LocallyConnected: Run params do not match the packed weights");
    }
    const size_t positions = static_cast<size_t>(p.out_h) * p.out_w;
    if (positions == 0 || p.out_c == 0 || p.batch <= 0) return;
    const int threads = std::max(1, ctx.num_threads);
    // Chunks of positions of ~64K multiply-adds each.
    const size_t per_pos =
        static_cast<size_t>(p.batch) * p.kernel_h * p.kernel_w * p.in_c * p.out_c;
    const size_t chunk = std::max<size_t>(1, (size_t{1} << 16) / std::max<size_t>(1, per_pos));
    const long chunks = static_cast<long>((positions + chunk - 1) / chunk);
    const auto fn = HWY_DYNAMIC_DISPATCH(LocallyConnectedPositions);
    ParallelFor(threads, static_cast<size_t>(chunks), [&](size_t c0, size_t c1) {
      fn(p, input, panels_.get(), bias_.get(), nr_, output, c0 * chunk,
         std::min(positions, c1 * chunk));
    });
  }

 private:
  LocallyConnectedParams pack_;
  size_t nr_ = 0;
  hwy::AlignedFreeUniquePtr<float[]> panels_;
  hwy::AlignedFreeUniquePtr<float[]> bias_;
};

}  // namespace

std::unique_ptr<PackedLocallyConnected> PackLocallyConnected(const LocallyConnectedParams& p,
                                                             const float* weights,
                                                             const float* bias) {
  return std::make_unique<PackedLocallyConnectedImpl>(p, weights, bias);
}

}  // namespace facelib::ops
#endif  // HWY_ONCE
