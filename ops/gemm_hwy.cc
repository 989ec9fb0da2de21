// Exposes the dispatched GEMM microkernel's tile geometry so that weights can be
// packed (once, after target selection) into panels of the right width.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/gemm_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/gemm-inl.h"
#include "ops/gemm.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {

gemm::TileGeometry GemmTileGeometry() {
  gemm::TileGeometry g;
  g.mr = static_cast<int>(kGemmMR);
  g.nv = static_cast<int>(kGemmNV);
  g.lanes = static_cast<int>(hn::Lanes(hn::ScalableTag<float>()));
  return g;
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace facelib::ops {
HWY_EXPORT(GemmTileGeometry);
gemm::TileGeometry gemm::CurrentTileGeometry() { return HWY_DYNAMIC_DISPATCH(GemmTileGeometry)(); }
}  // namespace facelib::ops
#endif  // HWY_ONCE
