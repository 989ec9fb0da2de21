// Max and average pooling (NHWC), with explicit asymmetric padding, and global
// pooling. Average pooling can count padded cells or not (ONNX
// count_include_pad; TF and Keras exclude them).
#pragma once

#include <cstdint>

#include "ops/common.h"

namespace facelib::ops {

enum class PoolType : int32_t { kMax = 0, kAvg = 1 };

struct PoolParams {
  PoolType type = PoolType::kMax;
  int batch = 1;
  int in_h = 0, in_w = 0, channels = 0;
  int out_h = 0, out_w = 0;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  // avg only. When true the divisor counts the window's cells inside the padded
  // input [-pad_top, in_h + pad_bottom) x [-pad_left, in_w + pad_right); cells a
  // ceil-mode window sticks out beyond that are never counted (ONNX Runtime,
  // PyTorch). A window holding no real input cell yields act(0).
  bool count_include_pad = false;
  Activation act;
};

void PoolRef(const PoolParams& p, const float* x, float* y);
void Pool(const ExecContext& ctx, const PoolParams& p, const float* x, float* y);

// [batch, hw, channels] -> [batch, channels]: mean or max over hw.
void GlobalPoolRef(PoolType type, int batch, int hw, int channels, const float* x, float* y);
void GlobalPool(const ExecContext& ctx, PoolType type, int batch, int hw, int channels, const float* x,
                float* y);

}  // namespace facelib::ops
