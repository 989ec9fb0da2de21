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
  float scale_h = 0.0f, scale_w = 0.0f;
};

void ResizeRef(const ResizeParams& p, const float* x, float* y);
void Resize(const ExecContext& ctx, const ResizeParams& p, const float* x, float* y);

}  // namespace facelib::ops
