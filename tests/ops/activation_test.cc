#include "ops/activation.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

// The fusable activations plus the plain unary functions.
std::vector<Activation> AllActivations() {
  std::vector<Activation> all = facelib::testing::FusableActivations();
  for (ActType t : {ActType::kExp, ActType::kLog, ActType::kSqrt, ActType::kRsqrt, ActType::kAbs, ActType::kNeg,
                    ActType::kSquare, ActType::kReciprocal})
    all.push_back({t, 0, 0, 0});
  return all;
}

// Functions defined only for positive arguments get positive inputs.
bool NeedsPositive(ActType t) {
  return t == ActType::kLog || t == ActType::kSqrt || t == ActType::kRsqrt || t == ActType::kReciprocal;
}

TEST(ActivationTest, SimdMatchesReferenceOnOddSizes) {
  ForEachTarget([](const char*) {
    for (const Activation& act : AllActivations()) {
      for (size_t n : {1u, 3u, 15u, 16u, 17u, 33u, 1000u, 40000u}) {
        // Wide range so that saturating paths (exp overflow, softplus > 20) are hit.
        auto x = NeedsPositive(act.type) ? RandomVector(n, 7 + n, 0.01f, 30.0f) : RandomVector(n, 7 + n, -30.0f, 30.0f);
        std::vector<float> ref(n), got(n);
        ActivationRef(act, x.data(), ref.data(), n);
        ExecContext ctx{2};
        Activation_(ctx, act, x.data(), got.data(), n);
        EXPECT_SIMD_MATCHES_REF("Activation", got, ref, 1e-5);
        for (size_t i = 0; i < n; ++i) {
          // Element-wise too: a saturating op can hide a wrong small value behind max|ref|.
          ASSERT_NEAR(got[i], ref[i], 1e-5f * std::max(1.0f, std::fabs(ref[i])))
              << "act=" << static_cast<int>(act.type) << " x=" << x[i];
        }
      }
    }
  });
}

TEST(ActivationTest, KnownValues) {
  const float x[] = {-2.0f, 0.0f, 3.0f, 7.0f};
  float y[4];
  Activation_({1}, Activation::Relu6(), x, y, 4);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[2], 3.0f);
  EXPECT_EQ(y[3], 6.0f);
  Activation_({1}, {ActType::kHardSwish, 0, 0, 0}, x, y, 4);
  EXPECT_FLOAT_EQ(y[0], -2.0f * 1.0f / 6.0f);
  EXPECT_FLOAT_EQ(y[2], 3.0f);
  Activation_({1}, {ActType::kSigmoid, 0, 0, 0}, x, y, 4);
  EXPECT_FLOAT_EQ(y[1], 0.5f);
}

TEST(PReluTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    for (size_t channels : {1u, 3u, 16u, 17u, 64u}) {
      for (size_t rows : {1u, 5u, 3000u}) {
        auto x = RandomVector(rows * channels, 3, -2, 2);
        auto slope = RandomVector(channels, 4, 0, 0.5f);
        std::vector<float> ref(x.size()), got(x.size());
        PReluRef(x.data(), slope.data(), ref.data(), rows, channels);
        PRelu({2}, x.data(), slope.data(), got.data(), rows, channels);
        EXPECT_SIMD_MATCHES_REF("PRelu", got, ref, 1e-6);
      }
    }
  });
}

}  // namespace
}  // namespace facelib::ops
