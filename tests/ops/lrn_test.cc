#include "ops/lrn.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

TEST(LrnTest, SimdMatchesReference) {
  uint32_t seed = 1;
  for (size_t channels : {1u, 3u, 5u, 17u, 33u, 64u, 96u}) {
    for (int radius : {0, 1, 2, 5}) {
      // 0.75 / 0.5 / 1 have closed forms in the SIMD path; 0.6 takes exp(log).
      for (float beta : {0.75f, 0.5f, 1.0f, 0.6f}) {
        for (float alpha : {1e-4f, 0.5f}) {
          for (size_t rows : {1u, 7u}) {
            LrnParams p{rows, channels, radius, 1.0f, alpha, beta};
            if (beta == 0.6f) p.bias = 2.0f;
            const auto x = RandomVector(rows * channels, seed++, -3.0f, 3.0f);
            std::vector<float> ref(x.size());
            LrnRef(p, x.data(), ref.data());
            ForEachTarget([&](const char*) {
              for (int threads : {1, 2}) {
                SCOPED_TRACE("C=" + std::to_string(channels) + " r=" + std::to_string(radius) +
                             " beta=" + std::to_string(beta) + " alpha=" + std::to_string(alpha) +
                             " rows=" + std::to_string(rows) + " threads=" + std::to_string(threads));
                std::vector<float> got(x.size());
                Lrn(ExecContext{threads}, p, x.data(), got.data());
                EXPECT_SIMD_MATCHES_REF("Lrn", got, ref, 1e-5);
              }
            });
          }
        }
      }
    }
  }
}

TEST(LrnTest, LargeTensorUsesThreads) {
  LrnParams p{56 * 56, 64, 2, 1.0f, 1e-3f, 0.75f};
  const auto x = RandomVector(p.rows * p.channels, 3, -4.0f, 4.0f);
  std::vector<float> ref(x.size());
  LrnRef(p, x.data(), ref.data());
  ForEachTarget([&](const char*) {
    for (int threads : {1, 2}) {
      std::vector<float> got(x.size());
      Lrn(ExecContext{threads}, p, x.data(), got.data());
      EXPECT_SIMD_MATCHES_REF("Lrn", got, ref, 1e-5);
    }
  });
}

TEST(LrnTest, KnownValues) {
  ForEachTarget([](const char*) {
    // One channel: y = 3 / sqrt(1 + 1 * 9).
    const float one[1] = {3};
    float y1[1];
    Lrn(ExecContext{1}, {1, 1, 2, 1.0f, 1.0f, 0.5f}, one, y1);
    EXPECT_FLOAT_EQ(y1[0], 3.0f / std::sqrt(10.0f));

    // Three channels, radius 1, beta 1: windows are clipped at both ends.
    const float x[3] = {1, 2, 3};
    float y[3];
    Lrn(ExecContext{1}, {1, 3, 1, 1.0f, 1.0f, 1.0f}, x, y);
    EXPECT_FLOAT_EQ(y[0], 1.0f / (1 + 1 + 4));
    EXPECT_FLOAT_EQ(y[1], 2.0f / (1 + 1 + 4 + 9));
    EXPECT_FLOAT_EQ(y[2], 3.0f / (1 + 4 + 9));

    // 40 channels of 1 with radius 2, beta 0.75: interior channels (vector path
    // on every target) see 5 ones, the edges 3 and 4.
    std::vector<float> ones(40, 1.0f), out(40);
    Lrn(ExecContext{1}, {1, 40, 2, 2.0f, 0.5f, 0.75f}, ones.data(), out.data());
    EXPECT_FLOAT_EQ(out[0], std::pow(2.0f + 0.5f * 3, -0.75f));
    EXPECT_FLOAT_EQ(out[1], std::pow(2.0f + 0.5f * 4, -0.75f));
    for (int c = 2; c < 38; ++c) EXPECT_FLOAT_EQ(out[c], std::pow(2.0f + 0.5f * 5, -0.75f)) << c;
    EXPECT_FLOAT_EQ(out[39], std::pow(2.0f + 0.5f * 3, -0.75f));

    // Radius 0 only looks at the channel itself.
    const float v[2] = {2, -1};
    float w[2];
    Lrn(ExecContext{1}, {1, 2, 0, 1.0f, 1.0f, 1.0f}, v, w);
    EXPECT_FLOAT_EQ(w[0], 2.0f / 5.0f);
    EXPECT_FLOAT_EQ(w[1], -1.0f / 2.0f);
  });
}

}  // namespace
}  // namespace facelib::ops
