#include "ops/distance.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

std::vector<RowsShape> Shapes() {
  std::vector<RowsShape> shapes;
  for (size_t rows : {1u, 3u, 4u, 5u, 7u, 33u}) {
    for (size_t dim : {1u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 128u, 129u, 512u, 513u}) shapes.push_back({rows, dim});
  }
  // Several parallel chunks (65536 floats each), with a partial last chunk and
  // a partial last block of four rows.
  shapes.push_back({2053, 129});
  shapes.push_back({1001, 512});
  return shapes;
}

std::string Describe(const RowsShape& s, int threads) {
  return "rows=" + std::to_string(s.rows) + " dim=" + std::to_string(s.dim) + " threads=" + std::to_string(threads);
}

TEST(DistanceOpTest, SimdMatchesReference) {
  uint32_t seed = 11;
  for (const RowsShape& s : Shapes()) {
    const auto q = RandomVector(s.dim, seed++);
    const auto rows = RandomVector(s.rows * s.dim, seed++, -2.0f, 2.0f);
    const auto scale = RandomVector(s.rows, seed++, 0.1f, 3.0f);
    std::vector<float> dot_ref(s.rows), sq_ref(s.rows), ssq_ref(s.rows), norm_ref(s.rows);
    RowDotRef(s, q.data(), rows.data(), dot_ref.data());
    RowSquaredL2Ref(s, q.data(), rows.data(), nullptr, sq_ref.data());
    RowSquaredL2Ref(s, q.data(), rows.data(), scale.data(), ssq_ref.data());
    RowNormRef(s, rows.data(), norm_ref.data());
    ForEachTarget([&](const char*) {
      for (int threads : {1, 2}) {
        SCOPED_TRACE(Describe(s, threads));
        const ExecContext ctx{threads};
        std::vector<float> got(s.rows, -1.0f);
        RowDot(ctx, s, q.data(), rows.data(), got.data());
        EXPECT_SIMD_MATCHES_REF("RowDot", got, dot_ref, 1e-5);
        std::fill(got.begin(), got.end(), -1.0f);
        RowSquaredL2(ctx, s, q.data(), rows.data(), nullptr, got.data());
        EXPECT_SIMD_MATCHES_REF("RowSquaredL2", got, sq_ref, 1e-5);
        std::fill(got.begin(), got.end(), -1.0f);
        RowSquaredL2(ctx, s, q.data(), rows.data(), scale.data(), got.data());
        EXPECT_SIMD_MATCHES_REF("RowSquaredL2(scaled)", got, ssq_ref, 1e-5);
        std::fill(got.begin(), got.end(), -1.0f);
        RowNorm(ctx, s, rows.data(), got.data());
        EXPECT_SIMD_MATCHES_REF("RowNorm", got, norm_ref, 1e-5);
        // Every norm and squared distance is well away from zero: check each
        // element against itself too, so one bad row cannot hide behind the max.
        for (size_t i = 0; i < s.rows; ++i) ASSERT_NEAR(got[i], norm_ref[i], 2e-6f * norm_ref[i] + 1e-7f) << i;
      }
    });
  }
}

TEST(DistanceOpTest, KnownValues) {
  // Rows: (1,2,3), (0,0,0), (-1,0,1), (4,4,2), (3,0,4); query (1,0,1).
  const float rows[15] = {1, 2, 3, 0, 0, 0, -1, 0, 1, 4, 4, 2, 3, 0, 4};
  const float q[3] = {1, 0, 1};
  const float scale[5] = {1, 1, 2, 0.5f, 0.2f};
  const RowsShape s{5, 3};
  ForEachTarget([&](const char*) {
    float out[5];
    RowDot(ExecContext{1}, s, q, rows, out);
    EXPECT_FLOAT_EQ(out[0], 4);
    EXPECT_FLOAT_EQ(out[1], 0);
    EXPECT_FLOAT_EQ(out[2], 0);
    EXPECT_FLOAT_EQ(out[3], 6);
    EXPECT_FLOAT_EQ(out[4], 7);
    RowSquaredL2(ExecContext{1}, s, q, rows, nullptr, out);
    EXPECT_FLOAT_EQ(out[0], 0 + 4 + 4);
    EXPECT_FLOAT_EQ(out[1], 2);
    EXPECT_FLOAT_EQ(out[2], 4);
    EXPECT_FLOAT_EQ(out[3], 9 + 16 + 1);
    EXPECT_FLOAT_EQ(out[4], 4 + 0 + 9);
    RowSquaredL2(ExecContext{1}, s, q, rows, scale, out);
    EXPECT_FLOAT_EQ(out[2], 9 + 0 + 1);  // q - 2 * (-1, 0, 1) = (3, 0, -1)
    EXPECT_FLOAT_EQ(out[3], 1 + 4 + 0);  // q - (2, 2, 1) = (-1, -2, 0)
    EXPECT_NEAR(out[4], 0.16f + 0 + 0.04f, 1e-6);  // q - (0.6, 0, 0.8) = (0.4, 0, 0.2)
    RowNorm(ExecContext{1}, s, rows, out);
    EXPECT_FLOAT_EQ(out[0], std::sqrt(14.0f));
    EXPECT_FLOAT_EQ(out[1], 0);
    EXPECT_FLOAT_EQ(out[3], 6);
    EXPECT_FLOAT_EQ(out[4], 5);
  });
}

TEST(DistanceOpTest, EmptyShapes) {
  ForEachTarget([](const char*) {
    const float q[1] = {1};
    float out[3] = {-1, -1, -1};
    RowDot(ExecContext{2}, RowsShape{0, 7}, q, nullptr, out);  // no rows: nothing written
    EXPECT_EQ(out[0], -1);
    RowSquaredL2(ExecContext{2}, RowsShape{3, 0}, q, q, nullptr, out);  // dim 0: zeros
    EXPECT_EQ(out[0], 0);
    EXPECT_EQ(out[2], 0);
  });
}

}  // namespace
}  // namespace facelib::ops
