#include "ops/reduce.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;
using Shape = std::vector<int64_t>;

constexpr ReduceOp kAllOps[] = {ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kSum, ReduceOp::kMin};

const char* OpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMean: return "Reduce.Mean";
    case ReduceOp::kMax: return "Reduce.Max";
    case ReduceOp::kSum: return "Reduce.Sum";
    case ReduceOp::kMin: return "Reduce.Min";
  }
  return "?";
}

size_t NumElements(const Shape& s) {
  size_t n = 1;
  for (int64_t d : s) n *= static_cast<size_t>(d);
  return n;
}

size_t OutElements(const ReduceParams& p) {
  size_t n = 1;
  for (size_t i = 0; i < p.in_shape.size(); ++i) {
    if (std::find(p.axes.begin(), p.axes.end(), static_cast<int>(i)) == p.axes.end()) {
      n *= static_cast<size_t>(p.in_shape[i]);
    }
  }
  return n;
}

std::string Describe(const ReduceParams& p) {
  std::string s = std::string(OpName(p.op)) + " shape=[";
  for (size_t i = 0; i < p.in_shape.size(); ++i) s += (i ? "," : "") + std::to_string(p.in_shape[i]);
  s += "] axes={";
  for (size_t i = 0; i < p.axes.size(); ++i) s += (i ? "," : "") + std::to_string(p.axes[i]);
  return s + "}";
}

// Input data for the max-relative acceptance rule. Float summation error scales
// with sum |x|, not |sum x|, so Sum/Mean get positively biased (well-conditioned)
// data here, like the post-ReLU activations they usually pool; the zero-mean
// case is checked against sum |x| in SumErrorBoundedByMagnitudes.
std::vector<float> ReduceInput(ReduceOp op, size_t n, uint32_t seed) {
  if (op == ReduceOp::kSum || op == ReduceOp::kMean) return RandomVector(n, seed, -0.5f, 1.5f);
  return RandomVector(n, seed, -1.0f, 1.0f);
}

void CheckReduce(const ReduceParams& p, uint32_t seed) {
  const auto x = ReduceInput(p.op, NumElements(p.in_shape), seed);
  const size_t n_out = OutElements(p);
  std::vector<float> ref(n_out);
  ReduceRef(p, x.data(), ref.data());
  ForEachTarget([&](const char*) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(Describe(p) + " threads=" + std::to_string(threads));
      std::vector<float> got(n_out, -12345.0f);
      Reduce(ExecContext{threads}, p, x.data(), got.data());
      EXPECT_SIMD_MATCHES_REF(OpName(p.op), got, ref, 1e-5);
    }
  });
}

TEST(ReduceTest, KnownValues) {
  const float x[6] = {1, 2, 3, 4, 5, 6};  // [2, 3]
  float y[3];
  ForEachTarget([&](const char*) {
    const ExecContext ctx{1};
    Reduce(ctx, {ReduceOp::kSum, {2, 3}, {1}}, x, y);
    EXPECT_EQ(y[0], 6.0f);
    EXPECT_EQ(y[1], 15.0f);
    Reduce(ctx, {ReduceOp::kMean, {2, 3}, {0}}, x, y);
    EXPECT_FLOAT_EQ(y[0], 2.5f);
    EXPECT_FLOAT_EQ(y[1], 3.5f);
    EXPECT_FLOAT_EQ(y[2], 4.5f);
    Reduce(ctx, {ReduceOp::kMax, {2, 3}, {0, 1}}, x, y);
    EXPECT_EQ(y[0], 6.0f);
    Reduce(ctx, {ReduceOp::kMin, {2, 3}, {1}}, x, y);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], 4.0f);
    Reduce(ctx, {ReduceOp::kMean, {2, 3}, {0, 1}}, x, y);
    EXPECT_FLOAT_EQ(y[0], 3.5f);
    // No axes: a copy.
    float z[6];
    Reduce(ctx, {ReduceOp::kMax, {2, 3}, {}}, x, z);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(z[i], x[i]);
    // Global average pooling of NHWC [1, 2, 2, 2] over H, W.
    const float img[8] = {1, 10, 2, 20, 3, 30, 4, 40};
    Reduce(ctx, {ReduceOp::kMean, {1, 2, 2, 2}, {1, 2}}, img, y);
    EXPECT_FLOAT_EQ(y[0], 2.5f);
    EXPECT_FLOAT_EQ(y[1], 25.0f);
  });
}

TEST(ReduceTest, AllAxisSubsetsSmallShapes) {
  // Every subset of axes for a few shapes with odd sizes and size-1 dims.
  const std::vector<Shape> shapes = {{17},         {1},           {3, 33},       {33, 1, 5},
                                     {2, 3, 5, 17}, {1, 5, 1, 17}, {2, 3, 1, 5, 3}, {3, 2, 5, 2, 17}};
  uint32_t seed = 10;
  for (const Shape& s : shapes) {
    const int rank = static_cast<int>(s.size());
    for (int mask = 0; mask < (1 << rank); ++mask) {
      std::vector<int> axes;
      for (int i = 0; i < rank; ++i) {
        if (mask & (1 << i)) axes.push_back(i);
      }
      for (ReduceOp op : kAllOps) CheckReduce({op, s, axes}, seed++);
    }
  }
}

TEST(ReduceTest, RandomShapes) {
  std::mt19937 rng(77);
  const int64_t dims[] = {1, 2, 3, 5, 17, 33};
  for (int iter = 0; iter < 60; ++iter) {
    const size_t rank = 1 + rng() % 5;
    Shape s(rank);
    do {
      for (auto& d : s) d = dims[rng() % std::size(dims)];
    } while (NumElements(s) > 20000);
    std::vector<int> axes;
    for (size_t i = 0; i < rank; ++i) {
      if (rng() % 2) axes.push_back(static_cast<int>(i));
    }
    CheckReduce({kAllOps[iter % 4], s, axes}, 300 + iter);
  }
}

TEST(ReduceTest, LargeTensorsUseThreads) {
  for (ReduceOp op : kAllOps) {
    CheckReduce({op, {1, 28, 28, 128}, {1, 2}}, 1);   // global pooling: column split
    CheckReduce({op, {4, 14, 14, 64}, {1, 2}}, 2);    // one row per image
    CheckReduce({op, {64, 1000}, {1}}, 3);            // innermost reduced
    CheckReduce({op, {1000, 65}, {0}}, 4);            // outermost reduced
    CheckReduce({op, {3, 2000, 17}, {0, 2}}, 5);      // alternating kept / reduced
    CheckReduce({op, {40000}, {0}}, 6);               // everything into one value
  }
}

TEST(ReduceTest, SumErrorBoundedByMagnitudes) {
  // Zero-mean data: results can cancel to almost nothing, so bound each output's
  // error by the sum (mean) of |x| it was reduced from instead.
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean}) {
    for (const ReduceParams& p : {ReduceParams{op, {2, 3, 1, 5, 3}, {0, 1, 2, 3, 4}},
                                  ReduceParams{op, {3, 2000, 17}, {0, 2}},
                                  ReduceParams{op, {1, 28, 28, 128}, {1, 2}},
                                  ReduceParams{op, {40000}, {0}}}) {
      const auto x = RandomVector(NumElements(p.in_shape), 5, -1.0f, 1.0f);
      std::vector<float> abs_x(x.size());
      for (size_t i = 0; i < x.size(); ++i) abs_x[i] = std::fabs(x[i]);
      const size_t n_out = OutElements(p);
      std::vector<float> ref(n_out), magnitude(n_out);
      ReduceRef(p, x.data(), ref.data());
      ReduceRef(p, abs_x.data(), magnitude.data());
      ForEachTarget([&](const char*) {
        std::vector<float> got(n_out);
        Reduce(ExecContext{2}, p, x.data(), got.data());
        for (size_t i = 0; i < n_out; ++i) {
          ASSERT_LE(std::fabs(got[i] - ref[i]), 1e-5f * magnitude[i]) << Describe(p) << " out " << i;
        }
      });
    }
  }
}

TEST(ReduceTest, EmptyReductionAndEmptyOutput) {
  const float* none = nullptr;
  ForEachTarget([&](const char*) {
    float y[3] = {7, 7, 7};
    Reduce(ExecContext{2}, {ReduceOp::kSum, {3, 0}, {1}}, none, y);
    for (float v : y) EXPECT_EQ(v, 0.0f);
    Reduce(ExecContext{2}, {ReduceOp::kMean, {3, 0}, {1}}, none, y);
    for (float v : y) EXPECT_TRUE(std::isnan(v));
    Reduce(ExecContext{2}, {ReduceOp::kMax, {3, 0}, {1}}, none, y);
    for (float v : y) EXPECT_EQ(v, -INFINITY);
    float sentinel = 7.0f;
    Reduce(ExecContext{2}, {ReduceOp::kSum, {0, 3}, {1}}, none, &sentinel);
    EXPECT_EQ(sentinel, 7.0f);
  });
}

TEST(ReduceTest, HighRankFallsBack) {
  // 17 dims is above the SIMD plan's limit; the result must still be right.
  Shape s(17, 1);
  s[0] = 3;
  s[16] = 5;
  CheckReduce({ReduceOp::kSum, s, {16}}, 9);
}

}  // namespace
}  // namespace facelib::ops
