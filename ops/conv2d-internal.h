// Work descriptions passed from the conv2d driver (ops/conv2d_hwy.cc, HWY_ONCE
// part, which owns the threading) to its per-target kernels.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "ops/conv2d.h"

namespace facelib::ops::conv_internal {

// Convolution as one GEMM per group: C[M, cout_g] = A[M, taps * cin_g] * B_g,
// M = batch * out_h * out_w. Work is split into tasks (group, panel, block of
// m_block rows), enumerated with the row block fastest so that one thread's
// consecutive tasks reuse the same weight panel.
struct GemmJob {
  // A: either an indirection buffer (ind[m * taps + t], taps = kernel_h * kernel_w)
  // or, when ind is null, rows input + m * in_c (1x1, stride 1, no padding).
  const float* const* ind = nullptr;
  const float* input = nullptr;
  size_t in_c = 0;
  size_t taps = 1;
  size_t cin_g = 0;
  // B: panels_per_group panels per group, each taps * cin_g rows of nr floats.
  const float* panels = nullptr;
  const float* bias = nullptr;  // nr floats per panel
  size_t nr = 0;
  size_t panels_per_group = 0;
  // C
  float* output = nullptr;
  size_t out_c = 0;
  size_t cout_g = 0;
  size_t m_total = 0;
  size_t m_block = 0;
  size_t num_m_blocks = 0;
  Activation act;

  size_t NumTasks(size_t groups) const { return groups * panels_per_group * num_m_blocks; }
};

// Activations that are a clamp (none, ReLU, ReLU6, clip) are fused into the
// depthwise stores as Min(Max(v, lo), hi); the others run as a pass over each
// finished output row.
struct DwClamp {
  float lo = -HUGE_VALF;
  float hi = HUGE_VALF;
  bool row_pass = false;  // activation not expressible as a clamp

  static DwClamp For(const Activation& a) {
    DwClamp c;
    switch (a.type) {
      case ActType::kNone:
        break;
      case ActType::kRelu:
        c.lo = 0.0f;
        break;
      case ActType::kRelu6:
        c.lo = 0.0f;
        c.hi = 6.0f;
        break;
      case ActType::kClip:
        c.lo = a.lo;
        c.hi = a.hi;
        break;
      default:
        c.row_pass = true;
        break;
    }
    return c;
  }
};

// Depthwise convolution (groups == in_c, out_c = in_c * multiplier). Output
// channel oc reads input channel oc / multiplier. Work unit: one output row.
struct DepthwiseJob {
  const Conv2DParams* p = nullptr;
  const float* input = nullptr;
  float* output = nullptr;
  const float* weights = nullptr;   // [kernel_h * kernel_w][cp], zero-padded
  const float* bias = nullptr;      // [cp], zero-padded
  const int32_t* gather = nullptr;  // [cp] input channel per output channel (clamped)
  size_t cp = 0;                    // padded channel stride of weights/bias/gather
  size_t multiplier = 1;
  DwClamp clamp;
};

// Few input channels (RGB stems): the reduction K = kernel_h * kernel_w * in_c
// is short and each tap contributes only in_c values, so the implicit GEMM
// spends its time on per-tap pointer loads instead of FMAs. This plan copies
// the K input values of a tile of output pixels into a small row-major buffer
// (im2col, one tile at a time, in L1) and runs a tall register tile on it.
// Work unit: tiles of consecutive output pixels (all panels of one tile).
struct Im2colJob {
  const Conv2DParams* p = nullptr;
  const float* input = nullptr;
  float* output = nullptr;
  const float* panels = nullptr;  // GEMM panels of nr columns, K rows each
  const float* bias = nullptr;    // nr floats per panel
  size_t nr = 0;
  size_t num_panels = 0;
  size_t k_size = 0;
  size_t m_total = 0;
  DwClamp clamp;
};

// Largest K the im2col plan handles (its tile buffer lives on the stack).
constexpr size_t kIm2colMaxK = 160;
constexpr size_t kIm2colMaxInC = 8;

// Few output channels (detection heads): with N much narrower than a vector,
// the outer-product microkernel wastes most lanes. This plan vectorises along
// the reduction instead (input channels of each tap), keeps P pixels x N
// outputs of partial-sum vectors in registers and reduces them horizontally
// once per output. Work unit: one output row.
struct DotJob {
  const Conv2DParams* p = nullptr;
  const float* input = nullptr;
  const float* zero = nullptr;  // in_c zeros, read for taps in the padding
  size_t taps = 1;
  size_t in_c = 0;
  // Weights [out_c][taps][cin_pad], zero-padded to cin_pad (a multiple of 16).
  const float* weights = nullptr;
  size_t cin_pad = 0;
  // cin_pad == in_c and dilation_w == 1: the taps of one kernel row are one
  // contiguous run in both the input and the weights.
  bool row_runs = false;
  const float* bias = nullptr;  // [out_c], never null
  float* output = nullptr;
  size_t out_c = 0;
  Activation act;
};

constexpr size_t kDotMaxOutC = 8;
constexpr size_t kDotMinInC = 16;

}  // namespace facelib::ops::conv_internal
