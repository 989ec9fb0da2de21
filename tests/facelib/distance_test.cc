#include "facelib/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace facelib {
namespace {

const Metric kAll[] = {Metric::kCosine, Metric::kEuclidean, Metric::kEuclideanL2, Metric::kAngular};

// Reference values computed independently in double precision.
TEST(DistanceTest, HandComputedPairs) {
  const std::vector<float> a = {1, 2, 3}, b = {4, 5, 6};
  EXPECT_NEAR(Distance(Metric::kCosine, a, b), 0.0253681538, 1e-7);
  EXPECT_NEAR(Distance(Metric::kEuclidean, a, b), 5.1961524227, 1e-6);  // sqrt(27)
  EXPECT_NEAR(Distance(Metric::kEuclideanL2, a, b), 0.2252472144, 1e-7);
  EXPECT_NEAR(Distance(Metric::kAngular, a, b), 0.0718508583, 1e-7);

  const std::vector<float> c = {0.6f, -0.8f, 0, 2}, d = {-1, 1, 3, 0.5f};
  EXPECT_NEAR(Distance(Metric::kCosine, c, d), 1.0533333333, 1e-6);
  EXPECT_NEAR(Distance(Metric::kEuclidean, c, d), 4.1291645644, 1e-6);
  EXPECT_NEAR(Distance(Metric::kEuclideanL2, c, d), 1.4514360705, 1e-6);
  EXPECT_NEAR(Distance(Metric::kAngular, c, d), 0.5169845857, 1e-6);

  // Orthogonal and opposite vectors hit the ends of each range.
  const std::vector<float> x = {1, 0}, y = {0, 1}, p = {1, 2}, n = {-2, -4};
  EXPECT_NEAR(Distance(Metric::kCosine, x, y), 1.0, 1e-7);
  EXPECT_NEAR(Distance(Metric::kAngular, x, y), 0.5, 1e-7);
  EXPECT_NEAR(Distance(Metric::kEuclideanL2, x, y), std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(Distance(Metric::kCosine, p, n), 2.0, 1e-7);
  EXPECT_NEAR(Distance(Metric::kAngular, p, n), 1.0, 1e-7);
  EXPECT_NEAR(Distance(Metric::kEuclideanL2, p, n), 2.0, 1e-6);
  EXPECT_NEAR(Distance(Metric::kEuclidean, p, n), std::sqrt(45.0), 1e-6);
  // Scale does not matter except for plain euclidean.
  const std::vector<float> b10 = {40, 50, 60};
  EXPECT_NEAR(Distance(Metric::kCosine, a, b10), 0.0253681538, 1e-7);
  EXPECT_NEAR(Distance(Metric::kEuclidean, a, b10), std::sqrt(39.0 * 39 + 48 * 48 + 57 * 57), 1e-4);
}

TEST(DistanceTest, ZeroVectorsAreFinite) {
  const std::vector<float> z = {0, 0}, b = {3, 4};
  EXPECT_FLOAT_EQ(Distance(Metric::kCosine, z, b), 1.0f);
  EXPECT_FLOAT_EQ(Distance(Metric::kAngular, z, b), 0.5f);
  EXPECT_FLOAT_EQ(Distance(Metric::kEuclidean, z, b), 5.0f);
  EXPECT_NEAR(Distance(Metric::kEuclideanL2, z, b), 1.0f, 1e-6);
  EXPECT_FLOAT_EQ(Distance(Metric::kCosine, z, z), 1.0f);
  EXPECT_FLOAT_EQ(Distance(Metric::kAngular, z, z), 0.5f);
  EXPECT_FLOAT_EQ(Distance(Metric::kEuclidean, z, z), 0.0f);
  EXPECT_FLOAT_EQ(Distance(Metric::kEuclideanL2, z, z), 0.0f);
  // The matrix form agrees.
  const float rows[4] = {0, 0, 3, 4};
  float out[2];
  Distances(Metric::kCosine, z.data(), rows, nullptr, 2, 2, out);
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 1.0f);
  Distances(Metric::kEuclideanL2, b.data(), rows, nullptr, 2, 2, out);
  EXPECT_NEAR(out[0], 1.0f, 1e-6);
  EXPECT_NEAR(out[1], 0.0f, 1e-6);
}

// a = b = (1, 1, 1): in double, a.b / (|a| |b|) = 3 / 2.9999999999999996 =
// 1.0000000000000002, and arccos of it is NaN without the clamp.
TEST(DistanceTest, AngularClampsTheCosine) {
  const std::vector<float> v = {1, 1, 1};
  const double n = std::sqrt(3.0);
  ASSERT_GT(3.0 / (n * n), 1.0);  // the case the clamp exists for
  EXPECT_EQ(Distance(Metric::kAngular, v, v), 0.0f);
  EXPECT_NEAR(Distance(Metric::kCosine, v, v), 0.0f, 1e-12);
  float d = -1;
  Distances(Metric::kAngular, v.data(), v.data(), nullptr, 1, 3, &d);
  EXPECT_EQ(d, 0.0f);

  // The SIMD path: self-distances of random vectors are finite and close to
  // 0 (arccos of a float cosine would give up to ~1e-4 here).
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  const size_t n_rows = 300, dim = 129;
  std::vector<float> rows(n_rows * dim);
  for (float& x : rows) x = u(rng);
  const std::vector<float> norms = RowNorms(rows.data(), n_rows, dim);
  for (size_t i = 0; i < n_rows; ++i) {
    Distances(Metric::kAngular, rows.data() + i * dim, rows.data() + i * dim, norms.data() + i, 1, dim, &d);
    ASSERT_TRUE(std::isfinite(d)) << i;
    ASSERT_GE(d, 0.0f);
    ASSERT_LT(d, 1e-5f) << i;
  }
}

TEST(DistanceTest, MatrixFormMatchesPairs) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 1.f);
  for (size_t dim : {1u, 7u, 128u, 129u, 512u}) {
    for (size_t n : {1u, 5u, 203u}) {
      std::vector<float> q(dim), rows(n * dim);
      for (float& x : q) x = g(rng);
      for (float& x : rows) x = g(rng) * 3.0f;
      const std::vector<float> norms = RowNorms(rows.data(), n, dim);
      for (Metric m : kAll) {
        for (int threads : {1, 2}) {
          for (bool given_norms : {true, false}) {
            std::vector<float> out(n, -1.0f);
            Distances(m, q.data(), rows.data(), given_norms ? norms.data() : nullptr, n, dim, out.data(), threads);
            for (size_t i = 0; i < n; ++i) {
              const float want = Distance(m, q.data(), rows.data() + i * dim, dim);
              ASSERT_NEAR(out[i], want, 2e-6f * std::max(1.0f, want))
                  << MetricName(m) << " dim=" << dim << " n=" << n << " row " << i;
            }
          }
        }
      }
    }
  }
}

TEST(DistanceTest, ParseMetric) {
  for (Metric m : kAll) EXPECT_EQ(ParseMetric(MetricName(m)), m);
  EXPECT_EQ(ParseMetric("euclidean_l2"), Metric::kEuclideanL2);
  for (const char* bad : {"", "Cosine", "manhattan", "euclidean-l2"}) {
    try {
      ParseMetric(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'" + std::string(bad) + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("cosine, euclidean, euclidean_l2, angular"), std::string::npos) << msg;
    }
  }
}

TEST(DistanceTest, DimensionMismatchNamesBothDims) {
  try {
    Distance(Metric::kCosine, std::vector<float>(128), std::vector<float>(512));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("128 vs 512"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace facelib
