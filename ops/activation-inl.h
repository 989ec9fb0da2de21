// Highway implementation of the fused activations in ops/common.h. Included by
// every kernel that has an activation epilogue (re-compiled per target).
#if defined(FACELIB_OPS_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FACELIB_OPS_ACTIVATION_INL_H_
#undef FACELIB_OPS_ACTIVATION_INL_H_
#else
#define FACELIB_OPS_ACTIVATION_INL_H_
#endif

#include <type_traits>

#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/common.h"

HWY_BEFORE_NAMESPACE();
namespace facelib::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// exp() with the argument clamped to [-87, 88], so that neither overflow nor
// subnormal paths are hit: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two
// parts), e^r by a degree-5 polynomial fitted for relative error (1.1e-7), and
// 2^n straight from the bits of x log2(e) + 1.5 * 2^23 + 127, whose low bits
// hold n + 127 once rounded to an integer. 13 operations instead of hn::Exp's
// ~25 (its range checks and split scaling are unnecessary after the clamp).
template <class D, class V>
HWY_INLINE V SafeExp(D d, V x) {
  x = hn::Min(hn::Max(x, hn::Set(d, -87.0f)), hn::Set(d, 88.0f));
  const hn::RebindToSigned<D> di;
  const V magic = hn::Set(d, 12583039.0f);  // 1.5 * 2^23 + 127
  const V j = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
  const V n = hn::Sub(j, magic);
  V r = hn::MulAdd(n, hn::Set(d, -0.693145751953125f), x);
  r = hn::MulAdd(n, hn::Set(d, -1.428606765330187045e-6f), r);
  V p = hn::MulAdd(hn::Set(d, 8.312533411e-3f), r, hn::Set(d, 4.189012543e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.666711441e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.999923167e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  const V scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, j)));
  return hn::Mul(p, scale);
}

// 1 / x for x >= 1 (the denominators of the logistic function): the hardware
// reciprocal estimate refined by one Newton step, far cheaper than a division
// and within a few ulp of it.
template <class D, class V>
HWY_INLINE V LogisticReciprocal(D d, V x) {
#if HWY_TARGET == HWY_SCALAR
  return hn::Div(hn::Set(d, 1.0f), x);
#else
  const V r = hn::ApproximateReciprocal(x);
  return hn::Mul(r, hn::NegMulAdd(x, r, hn::Set(d, 2.0f)));
#endif
}

// Activation T (a.type == T) on one vector.
template <ActType T, class D, class V>
HWY_INLINE V ActivationOf(D d, const Activation& a, V x) {
  if constexpr (T == ActType::kNone) {
    return x;
  } else if constexpr (T == ActType::kRelu) {
    return hn::Max(x, hn::Zero(d));
  } else if constexpr (T == ActType::kRelu6) {
    return hn::Min(hn::Max(x, hn::Zero(d)), hn::Set(d, 6.0f));
  } else if constexpr (T == ActType::kLeakyRelu) {
    const auto neg = hn::Mul(x, hn::Set(d, a.alpha));
    return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), x, neg);
  } else if constexpr (T == ActType::kElu) {
    const auto neg = hn::Mul(hn::Set(d, a.alpha), hn::Sub(SafeExp(d, x), hn::Set(d, 1.0f)));
    return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), x, neg);
  } else if constexpr (T == ActType::kSigmoid) {
    const auto e = SafeExp(d, hn::Neg(x));
    return LogisticReciprocal(d, hn::Add(hn::Set(d, 1.0f), e));
  } else if constexpr (T == ActType::kTanh) {
    return hn::Tanh(d, x);
  } else if constexpr (T == ActType::kHardSwish) {
    auto r = hn::Add(x, hn::Set(d, 3.0f));
    r = hn::Min(hn::Max(r, hn::Zero(d)), hn::Set(d, 6.0f));
    return hn::Mul(hn::Mul(x, r), hn::Set(d, 1.0f / 6.0f));
  } else if constexpr (T == ActType::kSilu) {
    const auto e = SafeExp(d, hn::Neg(x));
    return hn::Mul(x, LogisticReciprocal(d, hn::Add(hn::Set(d, 1.0f), e)));
  } else if constexpr (T == ActType::kSoftplus) {
    const auto big = hn::Gt(x, hn::Set(d, 20.0f));
    const auto sp = hn::Log1p(d, SafeExp(d, x));
    return hn::IfThenElse(big, x, sp);
  } else if constexpr (T == ActType::kClip) {
    return hn::Min(hn::Max(x, hn::Set(d, a.lo)), hn::Set(d, a.hi));
  } else if constexpr (T == ActType::kExp) {
    // Unclamped: overflow gives +inf and underflow 0, as std::exp does.
    return hn::Exp(d, x);
  } else if constexpr (T == ActType::kLog) {
    return hn::Log(d, x);
  } else if constexpr (T == ActType::kSqrt) {
    return hn::Sqrt(x);
  } else if constexpr (T == ActType::kRsqrt) {
    return hn::Div(hn::Set(d, 1.0f), hn::Sqrt(x));
  } else if constexpr (T == ActType::kAbs) {
    return hn::Abs(x);
  } else if constexpr (T == ActType::kNeg) {
    return hn::Neg(x);
  } else if constexpr (T == ActType::kSquare) {
    return hn::Mul(x, x);
  } else {
    static_assert(T == ActType::kReciprocal, "unhandled activation");
    return hn::Div(hn::Set(d, 1.0f), x);
  }
}

// Calls fn(std::integral_constant<ActType, a.type>) so that loops over many
// vectors dispatch on the activation once, not per vector.
template <class Fn>
HWY_INLINE void VisitActivation(ActType type, const Fn& fn) {
#define FACELIB_ACT_CASE(T) \
  case ActType::T:          \
    return fn(std::integral_constant<ActType, ActType::T>());
  switch (type) {
    FACELIB_ACT_CASE(kNone)
    FACELIB_ACT_CASE(kRelu)
    FACELIB_ACT_CASE(kRelu6)
    FACELIB_ACT_CASE(kLeakyRelu)
    FACELIB_ACT_CASE(kElu)
    FACELIB_ACT_CASE(kSigmoid)
    FACELIB_ACT_CASE(kTanh)
    FACELIB_ACT_CASE(kHardSwish)
    FACELIB_ACT_CASE(kSilu)
    FACELIB_ACT_CASE(kSoftplus)
    FACELIB_ACT_CASE(kClip)
    FACELIB_ACT_CASE(kExp)
    FACELIB_ACT_CASE(kLog)
    FACELIB_ACT_CASE(kSqrt)
    FACELIB_ACT_CASE(kRsqrt)
    FACELIB_ACT_CASE(kAbs)
    FACELIB_ACT_CASE(kNeg)
    FACELIB_ACT_CASE(kSquare)
    FACELIB_ACT_CASE(kReciprocal)
  }
#undef FACELIB_ACT_CASE
}

template <class D, class V>
HWY_INLINE V ApplyActivation(D d, const Activation& a, V x) {
  V y = x;
  VisitActivation(a.type, [&](auto t) { y = ActivationOf<decltype(t)::value>(d, a, x); });
  return y;
}

// y[i] = a(x[i]) for n floats (any alignment, any n; y may equal x).
HWY_INLINE void ActivationRow(const Activation& a, const float* x, float* y, size_t n) {
  if (a.type == ActType::kNone && x == y) return;
  VisitActivation(a.type, [&](auto t) {
    constexpr ActType kType = decltype(t)::value;
    const hn::ScalableTag<float> d;
    const size_t N = hn::Lanes(d);
    size_t i = 0;
    for (; i + N <= n; i += N) hn::StoreU(ActivationOf<kType>(d, a, hn::LoadU(d, x + i)), d, y + i);
    if (i < n) {
      // Masked tail: the lanes past n load zeros and are not stored.
      const auto m = hn::FirstN(d, n - i);
      hn::BlendedStore(ActivationOf<kType>(d, a, hn::MaskedLoad(m, d, x + i)), m, d, y + i);
    }
  });
}

// Applies `a` in place to n floats (any alignment, any n).
HWY_INLINE void ApplyActivationRow(const Activation& a, float* HWY_RESTRICT p, size_t n) {
  ActivationRow(a, p, p, n);
}

}  // namespace facelib::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
