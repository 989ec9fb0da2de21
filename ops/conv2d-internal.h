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
  // A: rows input + m * in_c when `direct` (1x1, stride 1, no padding);
  // otherwise row m, run t is the input pixel under tap t of output pixel m,
  // located from the geometry of `p` (the zero row for taps in the padding).
  const Conv2DParams* p = nullptr;
  bool direct = false;
  const float* input = nullptr;
  const float* zero = nullptr;      // in_c zeros
  const ptrdiff_t* tap_off = nullptr;  // [taps] float offset of each tap from the window origin
  const int* tap_y = nullptr;       // [taps] ky * dilation_h
  const int* tap_x = nullptr;       // [taps] kx * dilation_w
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
  const float* residual = nullptr;  // optional, laid out like output, added before the activation
  const float* post_scale = nullptr;  // optional, nr floats per panel, applied after the activation
  const float* post_shift = nullptr;
  size_t out_c = 0;
  size_t cout_g = 0;
  size_t m_total = 0;
  size_t m_block = 0;
  size_t num_m_blocks = 0;
  Activation act;

  size_t NumTasks(size_t groups) const { return groups * panels_per_group * num_m_blocks; }
};

// Depthwise convolution (groups == in_c, out_c = in_c * multiplier). Output
// channel oc reads input channel oc / multiplier. Work unit: one output row.
// Kernels taller than kDwMaxKernelH run as a grouped GEMM instead.
constexpr int kDwMaxKernelH = 64;
struct DepthwiseJob {
  const Conv2DParams* p = nullptr;
  const float* input = nullptr;
  const float* zero = nullptr;  // in_w * in_c zeros: stands in for input rows in the padding
  float* output = nullptr;
  const float* weights = nullptr;   // [kernel_h * kernel_w][cp], zero-padded
  const float* bias = nullptr;      // [cp], zero-padded
  const int32_t* gather = nullptr;  // [cp] input channel per output channel (clamped)
  size_t cp = 0;                    // padded channel stride of weights/bias/gather
  size_t multiplier = 1;
  ActClamp clamp;
};

// A 1x1 convolution (stride 1, no padding, groups 1) as GEMM panels.
struct PointwiseJob {
  const float* panels = nullptr;  // num_panels panels of in_c rows x nr floats
  const float* bias = nullptr;    // nr floats per panel
  size_t nr = 0;
  size_t num_panels = 0;
  size_t in_c = 0;
  size_t out_c = 0;
  Activation act;
};

// Two convolutions run as one, band by band: a 1x1 conv then a depthwise conv
// (multiplier 1), or a depthwise conv then a 1x1 conv. Output rows (batch *
// out_h + oy) are split into `bands` contiguous ranges, each with its own
// buffer: for pointwise-first, a ring of the 1x1 output rows under one
// depthwise window (kernel_h + (kernel_h - 1) * (dilation_h - 1) rows of dw.p's
// in_w * in_c floats); for depthwise-first, one depthwise output row (out_w * in_c).
constexpr int kPairMaxWindowH = 32;
struct ConvPairJob {
  bool pointwise_first = true;
  PointwiseJob pw;
  DepthwiseJob dw;  // dw.p: the depthwise conv's params; dw.input/output unused
  const float* input = nullptr;
  const float* residual = nullptr;  // depthwise-first only: added before the 1x1's activation
  float* output = nullptr;
  float* buffers = nullptr;
  size_t buffer_floats = 0;  // per band
  // Pointwise-first only: a 2x2 stride-2 max pool (floor) of the depthwise
  // output; rows_total counts pooled rows, and each band's buffer holds two
  // depthwise output rows at pool_offset after its ring.
  bool max_pool = false;
  size_t pool_offset = 0;
  size_t bands = 1;
  size_t rows_total = 0;
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
  ActClamp clamp;
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
// Shorter reductions (taps * in_c) run faster as a GEMM with narrow panels.
constexpr size_t kDotMinK = 48;

// One input and one output channel, stride 1 along x (score maps of detection
// heads): a stencil vectorised along the output row. Work unit: one output row.
struct PlanarJob {
  const Conv2DParams* p = nullptr;
  const float* input = nullptr;
  float* output = nullptr;
  const float* weights = nullptr;  // [kernel_h * kernel_w]
  float bias = 0.0f;
};

}  // namespace facelib::ops::conv_internal
