// Shared definitions for every operator kernel: activation descriptors, the
// execution context handed to kernels, and small helpers.
//
// Conventions (all ops):
//  * Tensors are dense float32, NHWC for 4-D data, row-major otherwise.
//  * Each op has a scalar reference `XxxRef(...)` (the definition of truth, plain
//    C++, single-threaded) and a SIMD entry `Xxx(...)` that dispatches to the best
//    Highway target at run time and may split its work over `ctx.num_threads`
//    threads with ParallelFor (ops/parallel.h).
//  * Kernels never allocate on the hot path; scratch memory is passed in.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace facelib::ops {

// Activations that can stand alone or be fused into the epilogue of conv/dense.
enum class ActType : int32_t {
  kNone = 0,
  kRelu,
  kRelu6,
  kLeakyRelu,  // alpha = negative slope
  kElu,        // alpha
  kSigmoid,
  kTanh,
  kHardSwish,  // x * relu6(x + 3) / 6
  kSilu,       // x * sigmoid(x)
  kSoftplus,   // log(1 + exp(x))
  kClip,       // clamp to [lo, hi]
  // Plain unary math, available as stand-alone ops and as epilogues.
  kExp,
  kLog,
  kSqrt,
  kRsqrt,      // 1 / sqrt(x)
  kAbs,
  kNeg,
  kSquare,
  kReciprocal, // 1 / x
};

struct Activation {
  ActType type = ActType::kNone;
  float alpha = 0.0f;
  float lo = 0.0f;
  float hi = 0.0f;

  static Activation None() { return {}; }
  static Activation Relu() { return {ActType::kRelu, 0, 0, 0}; }
  static Activation Relu6() { return {ActType::kRelu6, 0, 0, 0}; }
  static Activation Leaky(float a) { return {ActType::kLeakyRelu, a, 0, 0}; }
  static Activation Clip(float lo, float hi) { return {ActType::kClip, 0, lo, hi}; }
};

// Reference (scalar) activation. SIMD kernels must match it within 1e-5 relative.
inline float ApplyActivationScalar(const Activation& a, float x) {
  switch (a.type) {
    case ActType::kNone: return x;
    case ActType::kRelu: return x > 0.0f ? x : 0.0f;
    case ActType::kRelu6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case ActType::kLeakyRelu: return x >= 0.0f ? x : a.alpha * x;
    case ActType::kElu: return x >= 0.0f ? x : a.alpha * (std::exp(x) - 1.0f);
    case ActType::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case ActType::kTanh: return std::tanh(x);
    case ActType::kHardSwish: {
      float r = x + 3.0f;
      r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
      return x * r * (1.0f / 6.0f);
    }
    case ActType::kSilu: return x / (1.0f + std::exp(-x));
    case ActType::kSoftplus:
      // log1p(exp(x)) without overflow for large x.
      return x > 20.0f ? x : std::log1p(std::exp(x));
    case ActType::kClip: return x < a.lo ? a.lo : (x > a.hi ? a.hi : x);
    case ActType::kExp: return std::exp(x);
    case ActType::kLog: return std::log(x);
    case ActType::kSqrt: return std::sqrt(x);
    case ActType::kRsqrt: return 1.0f / std::sqrt(x);
    case ActType::kAbs: return std::fabs(x);
    case ActType::kNeg: return -x;
    case ActType::kSquare: return x * x;
    case ActType::kReciprocal: return 1.0f / x;
  }
  return x;
}

// An activation seen as a clamp to [lo, hi] where it is one (none, ReLU, ReLU6,
// clip), so that kernels can apply it in registers as Min(Max(v, lo), hi)
// before storing; the others (row_pass) run as a pass over the stored values.
struct ActClamp {
  float lo = -HUGE_VALF;
  float hi = HUGE_VALF;
  bool row_pass = false;

  static ActClamp For(const Activation& a) {
    ActClamp c;
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

// What a kernel may use while running. Passed by const reference.
struct ExecContext {
  int num_threads = 1;  // threads for intra-op parallelism (>= 1), see ops/parallel.h
};

constexpr size_t kTensorAlignment = 64;

inline size_t AlignUp(size_t n, size_t a = kTensorAlignment) { return (n + a - 1) / a * a; }

}  // namespace facelib::ops
