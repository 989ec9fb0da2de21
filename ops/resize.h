// Spatial resize of NHWC tensors: nearest and bilinear, with the coordinate
// conventions used by TF (align_corners, half_pixel_centers) and ONNX
// (asymmetric, half_pixel, pytorch_half_pixel, align_corners).
#pragma once

#include <cstdint>

#include "ops/common.h"

namespace facelib::ops {

enum class ResizeMethod : int32_t { kNearest = 0, kBilinear = 1 };
enum class CoordMode : int32_t {
  kAsymmetric = 0,        // src = dst * scale                      (TF default)
  kAlignCorners = 1,      // src = dst * (in - 1) / (out - 1)
  kHalfPixel = 2,         // src = (dst + 0.5) * scale - 0.5
  kPytorchHalfPixel = 3,  // as half_pixel, but 0 when out == 1
  kTfHalfPixelForNearest = 4,  // src = (dst + 0.5) * scale (TF nearest, half_pixel_centers)
};
enum class NearestRound : int32_t {
  kFloor = 0,            // TF without half_pixel_centers; ONNX "floor"
  kRoundPreferFloor = 1, // ONNX default "round_prefer_floor"
  kRoundPreferCeil = 2,
  kCeil = 3,
};

struct ResizeParams {
  ResizeMethod method = ResizeMethod::kBilinear;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestRound nearest = NearestRound::kFloor;
  int batch = 1, in_h = 0, in_w = 0, channels = 0, out_h = 0, out_w = 0;
  // scale = in / out unless set (> 0) explicitly, as ONNX "scales" inputs do.
  // Either way it is the source step per output step (the factor in the
  // formulas above), i.e. 1 / ONNX scales[i]. align_corners ignores it.
  float scale_h = 0.0f, scale_w = 0.0f;
};

// Per-axis coordinate mapping shared by the reference and the SIMD kernel.
// Source coordinate of output index `dst` (not yet clamped); scale <= 0 means in / out.
float ResizeSourceCoord(CoordMode mode, int dst, int in_size, int out_size, float scale);
// Nearest: source coordinate rounded per `round`, clamped to [0, in_size - 1].
int ResizeNearestIndex(NearestRound round, float src, int in_size);
// Bilinear: the two source taps and the weight of i1 (i0 gets 1 - w). The
// coordinate is clamped to [0, in_size - 1] first, as ONNX Runtime and TF do.
struct ResizeTap {
  int i0 = 0, i1 = 0;
  float w = 0.0f;
};
ResizeTap ResizeLinearTap(float src, int in_size);

void ResizeRef(const ResizeParams& p, const float* x, float* y);
void Resize(const ExecContext& ctx, const ResizeParams& p, const float* x, float* y);

}  // namespace facelib::ops
