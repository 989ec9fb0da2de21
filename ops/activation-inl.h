// Highway implementation of the fused activations in ops/common.h. Included by
// every kernel that has an activation epilogue (re-compiled per target).
#if defined(FACELIB_OPS_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FACELIB_OPS_ACTIVATION_INL_H_
#undef FACELIB_OPS_ACTIVATION_INL_H_
#else
#define FACELIB_OPS_ACTIVATION_INL_H_
#endif

#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/common.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp() with the argument clamped so that neither overflow nor denormal paths are hit.
template <class D, class V>
HWY_INLINE V SafeExp(D d, V x) {
  x = hn::Min(hn::Max(x, hn::Set(d, -87.0f)), hn::Set(d, 88.0f));
  return hn::Exp(d, x);
}

template <class D, class V>
HWY_INLINE V ApplyActivation(D d, const Activation& a, V x) {
  switch (a.type) {
    case ActType::kNone:
      return x;
    case ActType::kRelu:
      return hn::Max(x, hn::Zero(d));
    case ActType::kRelu6:
      return hn::Min(hn::Max(x, hn::Zero(d)), hn::Set(d, 6.0f));
    case ActType::kLeakyRelu: {
      const auto neg = hn::Mul(x, hn::Set(d, a.alpha));
      return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), x, neg);
    }
    case ActType::kElu: {
      const auto neg = hn::Mul(hn::Set(d, a.alpha), hn::Sub(SafeExp(d, x), hn::Set(d, 1.0f)));
      return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), x, neg);
    }
    case ActType::kSigmoid: {
      const auto e = SafeExp(d, hn::Neg(x));
      return hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
    }
    case ActType::kTanh:
      return hn::Tanh(d, x);
    case ActType::kHardSwish: {
      auto r = hn::Add(x, hn::Set(d, 3.0f));
      r = hn::Min(hn::Max(r, hn::Zero(d)), hn::Set(d, 6.0f));
      return hn::Mul(hn::Mul(x, r), hn::Set(d, 1.0f / 6.0f));
    }
    case ActType::kSilu: {
      const auto e = SafeExp(d, hn::Neg(x));
      return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
    }
    case ActType::kSoftplus: {
      const auto big = hn::Gt(x, hn::Set(d, 20.0f));
      const auto sp = hn::Log1p(d, SafeExp(d, x));
      return hn::IfThenElse(big, x, sp);
    }
    case ActType::kClip:
      return hn::Min(hn::Max(x, hn::Set(d, a.lo)), hn::Set(d, a.hi));
    case ActType::kExp:
      // Unclamped: overflow gives +inf and underflow 0, as std::exp does.
      return hn::Exp(d, x);
    case ActType::kLog:
      return hn::Log(d, x);
    case ActType::kSqrt:
      return hn::Sqrt(x);
    case ActType::kRsqrt:
      return hn::Div(hn::Set(d, 1.0f), hn::Sqrt(x));
    case ActType::kAbs:
      return hn::Abs(x);
    case ActType::kNeg:
      return hn::Neg(x);
    case ActType::kSquare:
      return hn::Mul(x, x);
    case ActType::kReciprocal:
      return hn::Div(hn::Set(d, 1.0f), x);
  }
  return x;
}

// Applies `a` in place to n floats (any alignment, any n).
HWY_INLINE void ApplyActivationRow(const Activation& a, float* HWY_RESTRICT p, size_t n) {
  if (a.type == ActType::kNone) return;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(ApplyActivation(d, a, hn::LoadU(d, p + i)), d, p + i);
  for (; i < n; ++i) p[i] = ApplyActivationScalar(a, p[i]);
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
