// 2-D convolution (NHWC), any kernel size, stride, dilation, explicit asymmetric
// padding and groups (depthwise when groups == in_c == out_c / multiplier), with
// fused bias, residual, activation and post affine; fused 1x1 + depthwise pairs.
// Also the shape rules shared with the runtime.
#pragma once

#include <cstddef>
#include <memory>

#include "ops/common.h"

namespace facelib::ops {

struct Conv2DParams {
  int batch = 1;
  int in_h = 0, in_w = 0, in_c = 0;
  int out_h = 0, out_w = 0, out_c = 0;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int groups = 1;
  Activation act;
};

enum class PaddingMode : int32_t { kExplicit = 0, kValid = 1, kSame = 2 };

// Output size along one axis for explicit padding. Returns <= 0 when the window
// does not fit (callers report that as an error).
inline int ConvOutputSize(int in, int kernel, int stride, int dilation, int pad_begin, int pad_end) {
  const int eff = (kernel - 1) * dilation + 1;
  const int span = in + pad_begin + pad_end - eff;
  return span < 0 ? 0 : span / stride + 1;
}

// TensorFlow-style SAME padding (extra pixel at the end), or VALID (none).
inline void ResolvePadding(PaddingMode mode, int in, int kernel, int stride, int dilation,
                           int* pad_begin, int* pad_end) {
  if (mode == PaddingMode::kValid) {
    *pad_begin = *pad_end = 0;
  } else if (mode == PaddingMode::kSame) {
    const int eff = (kernel - 1) * dilation + 1;
    const int out = (in + stride - 1) / stride;
    int total = (out - 1) * stride + eff - in;
    if (total < 0) total = 0;
    *pad_begin = total / 2;
    *pad_end = total - total / 2;
  }
}

// weights: [out_c][kernel_h][kernel_w][in_c / groups] ("OHWI"); bias: [out_c] or nullptr.
// input [batch, in_h, in_w, in_c] -> output [batch, out_h, out_w, out_c].
void Conv2DRef(const Conv2DParams& p, const float* input, const float* weights, const float* bias,
               float* output);

// Weights repacked once (at model load) for the SIMD kernels of the CPU's best
// target. Immutable and safe to share between threads. The spatial fields of the
// params (in_h, in_w, out_h, out_w, batch) are ignored when packing.
class PackedConv2D {
 public:
  virtual ~PackedConv2D() = default;
  // Scratch bytes Run needs for this input geometry (0 if none).
  virtual size_t ScratchBytes(const Conv2DParams& p) const = 0;
  // `scratch` has ScratchBytes(p) bytes, 64-byte aligned. Output must not alias input.
  void Run(const ExecContext& ctx, const Conv2DParams& p, const float* input, float* output,
           void* scratch) const {
    Run(ctx, p, input, nullptr, output, scratch);
  }
  // With a residual (nullptr: none) laid out like the output and added before
  // the activation: output = act(conv(input) + residual).
  virtual void Run(const ExecContext& ctx, const Conv2DParams& p, const float* input,
                   const float* residual, float* output, void* scratch) const = 0;
};

// post_scale / post_shift (optional, [out_c] each; one may be null: 1 / 0):
// a per-channel affine applied after the activation (a BatchNorm placed after
// the activation), output = act(conv + bias [+ residual]) * post_scale + post_shift.
std::unique_ptr<PackedConv2D> PackConv2D(const Conv2DParams& p, const float* weights,
                                         const float* bias, const float* post_scale = nullptr,
                                         const float* post_shift = nullptr);

// Two convolutions run as one, a band of rows at a time, so that the tensor
// between them stays in cache instead of making a round trip through memory:
//  * pointwise-depthwise: a 1x1 conv (stride 1, no padding, groups 1) feeding a
//    depthwise conv (groups == channels, multiplier 1), as in YuNet;
//  * depthwise-pointwise: the reverse (separable convs of MobileNet-style
//    networks); its 1x1 conv may add a residual tensor, laid out like the
//    output, before its activation.
// Each conv keeps its own bias and activation. The results are those of running
// the convs (and the residual add) one after the other (bit for bit when the
// 1x1 conv on its own would run as a GEMM too). Like PackedConv2D, a packed pair
// is immutable and safe to share between threads (each Run has its own scratch).
// Whether the pair qualifies, given both convs' params (padding resolved).
bool CanFuseConvPair(const Conv2DParams& first, const Conv2DParams& second);

class PackedConvPair {
 public:
  virtual ~PackedConvPair() = default;
  // Scratch bytes Run needs (the first/second params of this input geometry).
  virtual size_t ScratchBytes(const Conv2DParams& first, const Conv2DParams& second) const = 0;
  // first: params of the first conv for this input; second: of the second conv,
  // whose input is the first's output. residual: nullptr, or (depthwise-pointwise
  // only) a tensor with the output's shape. `scratch` has ScratchBytes bytes,
  // 64-byte aligned. Output must not alias input or residual.
  virtual void Run(const ExecContext& ctx, const Conv2DParams& first, const Conv2DParams& second,
                   const float* input, const float* residual, float* output,
                   void* scratch) const = 0;
};

// Packs both convs' weights; nullptr when CanFuseConvPair(first, second) is
// false. max_pool (pointwise-depthwise only, no residual): the output is the
// 2x2 stride-2 max pool of the pair's output ([N, floor(H/2), floor(W/2), C]),
// computed from rows still in cache.
std::unique_ptr<PackedConvPair> PackConvPair(const Conv2DParams& first, const float* first_weights,
                                             const float* first_bias, const Conv2DParams& second,
                                             const float* second_weights, const float* second_bias,
                                             bool max_pool = false);

}  // namespace facelib::ops
