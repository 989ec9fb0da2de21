#include "ops/dense.h"

#include <cstring>

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

std::vector<Activation> AllActivations() { return facelib::testing::FusableActivations(); }

std::vector<float> RunDense(const DenseParams& p, const std::vector<float>& x,
                            const std::vector<float>& w, const float* bias, int threads) {
  auto packed = PackDense(p, w.data(), bias);
  std::vector<float> y(static_cast<size_t>(p.rows) * p.out_features, -123.0f);
  packed->Run(ExecContext{threads}, p, x.data(), y.data());
  return y;
}

// Rows 1 (GEMV) and >1 (GEMM with row tails), odd K and N (panel tails), all
// activations, with and without bias, 1 and 2 threads.
TEST(DenseTest, RandomShapesMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    int case_id = 0;
    for (int rows : {1, 2, 7, 13}) {
      for (int k : {1, 3, 17, 64, 129}) {
        for (int n : {1, 5, 16, 33, 64, 100, 257}) {
          DenseParams p;
          p.rows = rows;
          p.in_features = k;
          p.out_features = n;
          p.act = acts[case_id % acts.size()];
          const int threads = 1 + case_id % 2;
          SCOPED_TRACE(::testing::Message()
                       << "rows=" << rows << " k=" << k << " n=" << n
                       << " act=" << static_cast<int>(p.act.type) << " threads=" << threads);
          const auto x = RandomVector(static_cast<size_t>(rows) * k, 11 + case_id);
          const auto w = RandomVector(static_cast<size_t>(k) * n, 12 + case_id);
          const auto b = RandomVector(n, 13 + case_id);
          const float* bias = case_id % 3 == 2 ? nullptr : b.data();
          std::vector<float> ref(static_cast<size_t>(rows) * n);
          DenseRef(p, x.data(), w.data(), bias, ref.data());
          EXPECT_SIMD_MATCHES_REF("Dense", RunDense(p, x, w, bias, threads), ref, 1e-5);
          ++case_id;
        }
      }
    }
  });
}

TEST(DenseTest, DeterministicAcrossThreadCounts) {
  for (int rows : {1, 20}) {
    DenseParams p;
    p.rows = rows;
    p.in_features = 300;
    p.out_features = 500;
    const auto x = RandomVector(static_cast<size_t>(rows) * 300, 1);
    const auto w = RandomVector(300 * 500, 2);
    const auto one = RunDense(p, x, w, nullptr, 1);
    const auto two = RunDense(p, x, w, nullptr, 2);
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  }
}

TEST(DenseTest, KnownValues) {
  // x = [[1, 2], [-1, 0]], w = [[1, 2, 3], [4, 5, 6]], bias = [0, -10, 1].
  DenseParams p;
  p.rows = 2;
  p.in_features = 2;
  p.out_features = 3;
  p.act = Activation::Relu();
  const std::vector<float> x = {1, 2, -1, 0};
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  const float bias[3] = {0, -10, 1};
  // Row 0: [9, 12 - 10, 15 + 1]; row 1: [-1, -2 - 10, -3 + 1] -> relu.
  const float expected[6] = {9, 2, 16, 0, 0, 0};
  ForEachTarget([&](const char*) {
    auto y = RunDense(p, x, w, bias, 2);
    for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], expected[i]) << i;
    DenseParams one = p;
    one.rows = 1;
    one.act = Activation::None();
    y = RunDense(one, x, w, nullptr, 1);
    EXPECT_FLOAT_EQ(y[0], 9.0f);
    EXPECT_FLOAT_EQ(y[1], 12.0f);
    EXPECT_FLOAT_EQ(y[2], 15.0f);
  });
}

TEST(MatMulTest, RandomShapesMatchReference) {
  ForEachTarget([&](const char*) {
    int case_id = 0;
    for (int batch : {1, 2}) {
      for (int m : {1, 3, 8}) {
        for (int k : {1, 5, 33}) {
          for (int n : {1, 7, 16, 65, 130}) {
            SCOPED_TRACE(::testing::Message()
                         << "batch=" << batch << " m=" << m << " k=" << k << " n=" << n);
            const auto a = RandomVector(static_cast<size_t>(batch) * m * k, 21 + case_id);
            const auto b = RandomVector(static_cast<size_t>(batch) * k * n, 22 + case_id);
            std::vector<float> ref(static_cast<size_t>(batch) * m * n);
            std::vector<float> got(ref.size(), -123.0f);
            MatMulRef(batch, m, k, n, a.data(), b.data(), ref.data());
            MatMul(ExecContext{1 + case_id % 2}, batch, m, k, n, a.data(), b.data(), got.data());
            EXPECT_SIMD_MATCHES_REF("MatMul", got, ref, 1e-5);
            ++case_id;
          }
        }
      }
    }
  });
}

TEST(MatMulTest, KnownValues) {
  // Two batch items of [1x2] x [2x2].
  const float a[4] = {1, 2, 3, 4};
  const float b[8] = {1, 0, 0, 1, 2, 1, 1, 2};
  const float expected[4] = {1, 2, 10, 11};
  ForEachTarget([&](const char*) {
    float c[4];
    MatMul(ExecContext{2}, 2, 1, 2, 2, a, b, c);
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(c[i], expected[i]) << i;
  });
}

}  // namespace
}  // namespace facelib::ops
