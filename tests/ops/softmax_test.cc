#include "ops/softmax.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

std::vector<AxisParams> Shapes() {
  std::vector<AxisParams> shapes;
  for (size_t outer : {1u, 3u, 5u}) {
    for (size_t axis : {1u, 2u, 3u, 17u, 33u, 1000u}) {
      for (size_t inner : {1u, 3u, 5u, 16u, 17u, 33u}) {
        if (outer * axis * inner <= 20000) shapes.push_back({outer, axis, inner});
      }
    }
  }
  // Big enough for several OpenMP work units in both layouts, including an
  // inner size that spans more than one 256-float block.
  shapes.push_back({64, 1000, 1});  // classifier logits
  shapes.push_back({2, 17, 1000});
  shapes.push_back({1, 7, 4099});
  return shapes;
}

TEST(SoftmaxTest, SimdMatchesReference) {
  uint32_t seed = 1;
  for (const AxisParams& p : Shapes()) {
    const size_t n = p.outer * p.axis * p.inner;
    // Range wide enough that exp() without the max shift would overflow.
    const auto x = RandomVector(n, seed++, -100.0f, 100.0f);
    std::vector<float> ref(n);
    SoftmaxRef(p, x.data(), ref.data());
    ForEachTarget([&](const char*) {
      for (int threads : {1, 2}) {
        SCOPED_TRACE("outer=" + std::to_string(p.outer) + " axis=" + std::to_string(p.axis) +
                     " inner=" + std::to_string(p.inner) + " threads=" + std::to_string(threads));
        std::vector<float> got(n);
        Softmax(ExecContext{threads}, p, x.data(), got.data());
        EXPECT_SIMD_MATCHES_REF("Softmax", got, ref, 1e-5);
      }
    });
  }
}

TEST(SoftmaxTest, ModerateRangeElementwise) {
  // With a narrow range every probability is sizeable, so check each element
  // relative to itself as well (a max-relative check could hide small ones).
  ForEachTarget([](const char*) {
    for (AxisParams p : {AxisParams{3, 33, 1}, AxisParams{2, 17, 33}}) {
      const size_t n = p.outer * p.axis * p.inner;
      const auto x = RandomVector(n, 9, -2.0f, 2.0f);
      std::vector<float> ref(n), got(n);
      SoftmaxRef(p, x.data(), ref.data());
      Softmax(ExecContext{2}, p, x.data(), got.data());
      for (size_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], ref[i], 1e-5f * ref[i]) << i;
    }
  });
}

TEST(SoftmaxTest, KnownValues) {
  ForEachTarget([](const char*) {
    const float x[3] = {1, 2, 3};
    float y[3];
    Softmax(ExecContext{1}, {1, 3, 1}, x, y);
    EXPECT_NEAR(y[0], 0.09003057f, 1e-7);
    EXPECT_NEAR(y[1], 0.24472847f, 1e-7);
    EXPECT_NEAR(y[2], 0.66524096f, 1e-7);

    // Numerically stable: huge logits give the same answer instead of NaN.
    const float big[3] = {1001, 1002, 1003};
    Softmax(ExecContext{1}, {1, 3, 1}, big, y);
    EXPECT_NEAR(y[0], 0.09003057f, 1e-7);
    EXPECT_NEAR(y[2], 0.66524096f, 1e-7);

    // Strided axis: [1, 2, 2] along the middle dim; columns are (0, 0) and (1, 3).
    const float s[4] = {0, 1, 0, 3};
    float t[4];
    Softmax(ExecContext{1}, {1, 2, 2}, s, t);
    EXPECT_FLOAT_EQ(t[0], 0.5f);
    EXPECT_FLOAT_EQ(t[2], 0.5f);
    EXPECT_NEAR(t[1], 0.11920292f, 1e-7);
    EXPECT_NEAR(t[3], 0.88079708f, 1e-7);

    // A single-element axis is 1.
    const float one = -50.0f;
    float r;
    Softmax(ExecContext{1}, {1, 1, 1}, &one, &r);
    EXPECT_EQ(r, 1.0f);
  });
}

TEST(SoftmaxTest, InPlace) {
  ForEachTarget([](const char*) {
    for (AxisParams p : {AxisParams{5, 33, 1}, AxisParams{3, 5, 17}}) {
      auto x = RandomVector(p.outer * p.axis * p.inner, 4, -5, 5);
      std::vector<float> ref(x.size());
      SoftmaxRef(p, x.data(), ref.data());
      Softmax(ExecContext{2}, p, x.data(), x.data());
      EXPECT_SIMD_MATCHES_REF("Softmax", x, ref, 1e-5);
    }
  });
}

TEST(L2NormalizeTest, SimdMatchesReference) {
  uint32_t seed = 100;
  for (const AxisParams& p : Shapes()) {
    const size_t n = p.outer * p.axis * p.inner;
    const auto x = RandomVector(n, seed++, -3.0f, 3.0f);
    std::vector<float> ref(n);
    L2NormalizeRef(p, x.data(), ref.data(), 1e-12f);
    ForEachTarget([&](const char*) {
      for (int threads : {1, 2}) {
        SCOPED_TRACE("outer=" + std::to_string(p.outer) + " axis=" + std::to_string(p.axis) +
                     " inner=" + std::to_string(p.inner) + " threads=" + std::to_string(threads));
        std::vector<float> got(n);
        L2Normalize(ExecContext{threads}, p, x.data(), got.data(), 1e-12f);
        EXPECT_SIMD_MATCHES_REF("L2Normalize", got, ref, 1e-5);
      }
    });
  }
}

TEST(L2NormalizeTest, KnownValues) {
  ForEachTarget([](const char*) {
    const float x[2] = {3, 4};
    float y[2];
    L2Normalize(ExecContext{1}, {1, 2, 1}, x, y, 1e-12f);
    EXPECT_FLOAT_EQ(y[0], 0.6f);
    EXPECT_FLOAT_EQ(y[1], 0.8f);

    // Along the middle axis of [1, 2, 2]: columns (3, 4) and (0, -2).
    const float s[4] = {3, 0, 4, -2};
    float t[4];
    L2Normalize(ExecContext{1}, {1, 2, 2}, s, t, 1e-12f);
    EXPECT_FLOAT_EQ(t[0], 0.6f);
    EXPECT_FLOAT_EQ(t[2], 0.8f);
    EXPECT_FLOAT_EQ(t[1], 0.0f);
    EXPECT_FLOAT_EQ(t[3], -1.0f);

    // A zero vector is divided by epsilon, not by 0: zeros, no NaN.
    const float z[5] = {0, 0, 0, 0, 0};
    float w[5];
    L2Normalize(ExecContext{1}, {1, 5, 1}, z, w, 1e-6f);
    for (float v : w) EXPECT_EQ(v, 0.0f);
    // The same along a strided axis ([1, 3, 2], column 0 all zero).
    const float zs[6] = {0, 1, 0, 2, 0, 2};
    float zw[6];
    L2Normalize(ExecContext{1}, {1, 3, 2}, zs, zw, 1e-6f);
    EXPECT_EQ(zw[0], 0.0f);
    EXPECT_EQ(zw[2], 0.0f);
    EXPECT_EQ(zw[4], 0.0f);
    EXPECT_FLOAT_EQ(zw[1], 1.0f / 3.0f);
    EXPECT_FLOAT_EQ(zw[5], 2.0f / 3.0f);
    // Epsilon dominates a tiny norm: 1e-3 / max(1e-3, 0.5) = 2e-3.
    const float tiny = 1e-3f;
    L2Normalize(ExecContext{1}, {1, 1, 1}, &tiny, w, 0.5f);
    EXPECT_FLOAT_EQ(w[0], 2e-3f);
  });
}

TEST(L2NormalizeTest, InPlace) {
  ForEachTarget([](const char*) {
    for (AxisParams p : {AxisParams{4, 512, 1}, AxisParams{3, 5, 17}}) {  // 512-d face embeddings
      auto x = RandomVector(p.outer * p.axis * p.inner, 5, -1, 1);
      std::vector<float> ref(x.size());
      L2NormalizeRef(p, x.data(), ref.data(), 1e-12f);
      L2Normalize(ExecContext{2}, p, x.data(), x.data(), 1e-12f);
      EXPECT_SIMD_MATCHES_REF("L2Normalize", x, ref, 1e-5);
    }
  });
}

}  // namespace
}  // namespace facelib::ops
