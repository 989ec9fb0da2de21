// Internal helpers shared by the conv2d, dense and locally-connected kernels:
// the register-tile geometry of the dispatched GEMM microkernel and the packing
// of a constant right-hand side into the panel layout that microkernel streams.
//
// Panel layout: the N columns of a K x N matrix are split into panels of `nr`
// columns (nr = vectors per tile row x lanes of the dispatched target). Panel p
// holds rows k = 0..K-1 of columns [p*nr, p*nr + nr), each row nr contiguous
// floats, zero-padded past N. Panels are contiguous and 64-byte aligned, so the
// microkernel reads one aligned row of nr floats per k step.
#pragma once

#include <cstddef>

#include "hwy/aligned_allocator.h"

namespace facelib::ops::gemm {

// Register tile of the GEMM microkernel of the currently dispatched target:
// `mr` output rows x `nv` vectors of `lanes` floats.
struct TileGeometry {
  int mr = 1;
  int nv = 1;
  int lanes = 1;
  size_t nr() const { return static_cast<size_t>(nv) * static_cast<size_t>(lanes); }
};
TileGeometry CurrentTileGeometry();

inline size_t NumPanels(size_t n, size_t nr) { return (n + nr - 1) / nr; }

// Panel width for a matrix with n columns: the full tile width, or fewer whole
// vectors when n is smaller, so that narrow outputs (grouped convs,
// locally-connected layers with few filters) do not pad their weights to a full tile.
inline size_t PanelWidth(const TileGeometry& g, size_t n) {
  const size_t lanes = static_cast<size_t>(g.lanes);
  const size_t vectors = (n + lanes - 1) / lanes;
  return vectors == 0 ? lanes : (vectors < static_cast<size_t>(g.nv) ? vectors * lanes : g.nr());
}

// Packs B (K x N, element (k, n) at src[k * stride_k + n * stride_n]) into
// NumPanels(N, nr) panels written at dst (NumPanels * K * nr floats, zero-padded).
inline void PackPanels(const float* src, size_t k_size, size_t n_size, size_t stride_k,
                       size_t stride_n, size_t nr, float* dst) {
  const size_t panels = NumPanels(n_size, nr);
  for (size_t p = 0; p < panels; ++p) {
    float* panel = dst + p * k_size * nr;
    for (size_t k = 0; k < k_size; ++k) {
      for (size_t j = 0; j < nr; ++j) {
        const size_t n = p * nr + j;
        panel[k * nr + j] = n < n_size ? src[k * stride_k + n * stride_n] : 0.0f;
      }
    }
  }
}

// Bias padded to whole panels (nr per panel); zeros when bias is nullptr.
inline void PackBias(const float* bias, size_t n_size, size_t nr, float* dst) {
  const size_t total = NumPanels(n_size, nr) * nr;
  for (size_t j = 0; j < total; ++j) dst[j] = (bias != nullptr && j < n_size) ? bias[j] : 0.0f;
}

inline hwy::AlignedFreeUniquePtr<float[]> AllocFloats(size_t n) {
  // At least one element so that empty shapes still get a valid pointer.
  return hwy::AllocateAligned<float>(n == 0 ? 1 : n);
}

}  // namespace facelib::ops::gemm
