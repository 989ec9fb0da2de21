// Element-wise binary ops with NumPy-style broadcasting, and per-channel affine
// (stand-alone BatchNorm, already reduced to scale and shift).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ops/common.h"

namespace facelib::ops {

enum class BinaryOp : int32_t { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kPow };

// Shapes are right-aligned as in NumPy (a missing leading dim counts as 1); the
// output shape is the broadcast of a and b, and out_shape must equal it.
struct BinaryParams {
  BinaryOp op = BinaryOp::kAdd;
  std::vector<int64_t> a_shape, b_shape, out_shape;
  Activation act;  // fused (e.g. Add + ReLU of a residual block)
};

// Broadcast shape of a and b; returns false if they are incompatible.
bool BroadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                     std::vector<int64_t>* out);

// True if p.out_shape is exactly BroadcastShapes(p.a_shape, p.b_shape) (same rank,
// no negative dims). Does not allocate. Binary/BinaryRef abort on invalid params,
// so callers (e.g. the model loader) should check this once up front.
bool ValidBinaryShapes(const BinaryParams& p);

// Scalar definition of one binary op (no activation), as the reference uses it.
inline float ApplyBinaryScalar(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
    case BinaryOp::kMax: return a > b ? a : b;
    case BinaryOp::kMin: return a < b ? a : b;
    case BinaryOp::kPow: return std::pow(a, b);
  }
  return 0.0f;
}

// out may alias an input that has the output's shape. Pow uses std::pow per
// element (SIMD path: exact closed forms for a broadcast exponent of 2 or 0.5).
void BinaryRef(const BinaryParams& p, const float* a, const float* b, float* out);
void Binary(const ExecContext& ctx, const BinaryParams& p, const float* a, const float* b, float* out);

// y[r, c] = act(x[r, c] * scale[c] + shift[c]); x is [rows, channels]. In-place allowed.
void ChannelAffineRef(const float* x, const float* scale, const float* shift, float* y, size_t rows,
                      size_t channels, const Activation& act);
void ChannelAffine(const ExecContext& ctx, const float* x, const float* scale, const float* shift,
                   float* y, size_t rows, size_t channels, const Activation& act);

// BatchNorm reduced to scale/shift: scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
void BatchNormToAffine(const float* gamma, const float* beta, const float* mean, const float* var,
                       float eps, size_t channels, float* scale, float* shift);

}  // namespace facelib::ops
