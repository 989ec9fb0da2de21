#include "ops/elementwise.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;
using Shape = std::vector<int64_t>;

constexpr BinaryOp kAllOps[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv,
                                BinaryOp::kMax, BinaryOp::kMin, BinaryOp::kPow};

const char* OpName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "Binary.Add";
    case BinaryOp::kSub: return "Binary.Sub";
    case BinaryOp::kMul: return "Binary.Mul";
    case BinaryOp::kDiv: return "Binary.Div";
    case BinaryOp::kMax: return "Binary.Max";
    case BinaryOp::kMin: return "Binary.Min";
    case BinaryOp::kPow: return "Binary.Pow";
  }
  return "?";
}

std::vector<Activation> AllActivations() { return facelib::testing::FusableActivations(); }

size_t NumElements(const Shape& s) {
  size_t n = 1;
  for (int64_t d : s) n *= static_cast<size_t>(d);
  return n;
}

std::string ShapeStr(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Operands in a range where every op is well conditioned: Div never divides by
// values near 0 and Pow only sees positive bases.
std::vector<float> MakeOperand(BinaryOp op, bool is_b, size_t n, uint32_t seed) {
  if (op == BinaryOp::kPow) return is_b ? RandomVector(n, seed, -2.0f, 2.0f) : RandomVector(n, seed, 0.1f, 3.0f);
  auto v = RandomVector(n, seed, -2.0f, 2.0f);
  if (op == BinaryOp::kDiv && is_b) {
    for (float& x : v) x = x < 0 ? x - 0.25f : x + 0.25f;
  }
  return v;
}

// Runs op on (a_shape, b_shape) for every target and both thread counts and
// compares with the reference.
void CheckBinary(BinaryOp op, const Shape& a_shape, const Shape& b_shape, const Activation& act,
                 uint32_t seed, const std::vector<float>* b_override = nullptr) {
  BinaryParams p;
  p.op = op;
  p.a_shape = a_shape;
  p.b_shape = b_shape;
  p.act = act;
  ASSERT_TRUE(BroadcastShapes(a_shape, b_shape, &p.out_shape));
  const auto a = MakeOperand(op, false, NumElements(a_shape), seed);
  const auto b = b_override ? *b_override : MakeOperand(op, true, NumElements(b_shape), seed + 1);
  const size_t n = NumElements(p.out_shape);
  std::vector<float> ref(n);
  BinaryRef(p, a.data(), b.data(), ref.data());
  ForEachTarget([&](const char*) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(OpName(op)) + " a=" + ShapeStr(a_shape) + " b=" + ShapeStr(b_shape) +
                   " act=" + std::to_string(static_cast<int>(act.type)) +
                   " threads=" + std::to_string(threads));
      std::vector<float> got(n, -12345.0f);
      Binary(ExecContext{threads}, p, a.data(), b.data(), got.data());
      EXPECT_SIMD_MATCHES_REF(OpName(op), got, ref, 1e-5);
    }
  });
}

// Broadcast patterns the runtime meets, plus deliberately awkward ones.
std::vector<std::pair<Shape, Shape>> PatternCases() {
  return {
      {{17}, {17}},                          // same shape, odd length
      {{2, 3, 5, 33}, {2, 3, 5, 33}},        // same shape, rank 4
      {{1}, {1}},                            // single element
      {{33, 5}, {}},                         // tensor op rank-0 scalar
      {{1}, {3, 17}},                        // scalar on the left
      {{2, 5, 3, 17}, {17}},                 // per-channel, odd C
      {{1, 7, 5, 64}, {64}},                 // per-channel, vector-multiple C
      {{2, 3, 3, 33}, {1, 1, 1, 33}},        // per-channel with explicit ones
      {{2, 5, 3, 17}, {2, 1, 1, 17}},        // squeeze-excite style [N,1,1,C]
      {{2, 1, 1, 17}, {2, 5, 3, 17}},        // same, sides swapped
      {{3, 5, 17}, {3, 5, 1}},               // per-row scalar (inner broadcast of b)
      {{3, 1, 17}, {3, 5, 17}},              // middle dim broadcast of a
      {{2, 1, 3}, {1, 4, 1}},                // both sides broadcast
      {{5, 1, 33, 1}, {1, 3, 1, 17}},        // both sides, alternating
      {{2, 3, 1, 5, 1}, {1, 1, 4, 1, 3}},    // rank 5 alternating
      {{1, 1, 1}, {1, 1, 1}},                // all ones
      {{3, 1}, {1, 1}},                      // one side all ones
      {{4, 1, 1, 1, 5}, {4, 1, 1, 1, 5}},    // size-1 dims inside same shape
  };
}

TEST(BroadcastShapesTest, KnownShapes) {
  Shape out;
  ASSERT_TRUE(BroadcastShapes({2, 1, 3}, {1, 4, 1}, &out));
  EXPECT_EQ(out, (Shape{2, 4, 3}));
  ASSERT_TRUE(BroadcastShapes({3}, {2, 3}, &out));
  EXPECT_EQ(out, (Shape{2, 3}));
  ASSERT_TRUE(BroadcastShapes({}, {5, 1}, &out));
  EXPECT_EQ(out, (Shape{5, 1}));
  ASSERT_TRUE(BroadcastShapes({8, 1, 6, 1}, {7, 1, 5}, &out));
  EXPECT_EQ(out, (Shape{8, 7, 6, 5}));
  ASSERT_TRUE(BroadcastShapes({0, 3}, {1, 3}, &out));  // 1 broadcasts to 0
  EXPECT_EQ(out, (Shape{0, 3}));

  out = {42};
  EXPECT_FALSE(BroadcastShapes({2, 3}, {3, 2}, &out));
  EXPECT_FALSE(BroadcastShapes({3}, {4}, &out));
  EXPECT_FALSE(BroadcastShapes({2, 1}, {8, 4, 3}, &out));
  EXPECT_FALSE(BroadcastShapes({0}, {2}, &out));
  EXPECT_EQ(out, (Shape{42}));  // untouched on failure
}

TEST(BroadcastShapesTest, ValidBinaryShapes) {
  BinaryParams p;
  p.a_shape = {2, 1, 3};
  p.b_shape = {4, 1};
  p.out_shape = {2, 4, 3};
  EXPECT_TRUE(ValidBinaryShapes(p));
  p.out_shape = {2, 4, 1};
  EXPECT_FALSE(ValidBinaryShapes(p));
  p.out_shape = {1, 2, 4, 3};  // extra leading dim is not the broadcast
  EXPECT_FALSE(ValidBinaryShapes(p));
  p.b_shape = {4, 2};
  p.out_shape = {2, 4, 3};
  EXPECT_FALSE(ValidBinaryShapes(p));
}

TEST(BinaryTest, KnownValues) {
  ForEachTarget([](const char*) {
    const ExecContext ctx{1};
    BinaryParams p;
    float out[6];

    // [2,3] + [3] -> row-wise bias.
    const float a[6] = {1, 2, 3, 4, 5, 6};
    const float bias[3] = {10, 20, 30};
    p = {BinaryOp::kAdd, {2, 3}, {3}, {2, 3}, Activation::None()};
    Binary(ctx, p, a, bias, out);
    const float add_expect[6] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], add_expect[i]) << i;

    // [2,1] - [1,3] with fused ReLU: out[i][j] = max(col[i] - row[j], 0).
    const float col[2] = {5, 1};
    const float row[3] = {1, 2, 6};
    p = {BinaryOp::kSub, {2, 1}, {1, 3}, {2, 3}, Activation::Relu()};
    Binary(ctx, p, col, row, out);
    const float sub_expect[6] = {4, 3, 0, 0, 0, 0};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], sub_expect[i]) << i;

    // Scalar divisor, max/min against a scalar.
    const float two = 2.0f;
    p = {BinaryOp::kDiv, {6}, {}, {6}, Activation::None()};
    Binary(ctx, p, a, &two, out);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], a[i] / 2.0f) << i;
    const float three = 3.0f;
    p = {BinaryOp::kMax, {6}, {1}, {6}, Activation::None()};
    Binary(ctx, p, a, &three, out);
    const float max_expect[6] = {3, 3, 3, 4, 5, 6};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], max_expect[i]) << i;
    p.op = BinaryOp::kMin;
    Binary(ctx, p, a, &three, out);
    const float min_expect[6] = {1, 2, 3, 3, 3, 3};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], min_expect[i]) << i;

    // Pow with the special-cased exponents and a general one.
    const float sq[3] = {4, 9, 2.25f};
    const float half = 0.5f;
    p = {BinaryOp::kPow, {3}, {1}, {3}, Activation::None()};
    Binary(ctx, p, sq, &half, out);
    EXPECT_FLOAT_EQ(out[0], 2.0f);
    EXPECT_FLOAT_EQ(out[1], 3.0f);
    EXPECT_FLOAT_EQ(out[2], 1.5f);
    Binary(ctx, p, sq, &two, out);
    EXPECT_FLOAT_EQ(out[0], 16.0f);
    EXPECT_FLOAT_EQ(out[2], 5.0625f);
    const float exps[3] = {3.0f, -1.0f, 0.0f};
    p = {BinaryOp::kPow, {3}, {3}, {3}, Activation::None()};
    Binary(ctx, p, sq, exps, out);
    EXPECT_FLOAT_EQ(out[0], 64.0f);
    EXPECT_FLOAT_EQ(out[1], 1.0f / 9.0f);
    EXPECT_FLOAT_EQ(out[2], 1.0f);
  });
}

TEST(BinaryTest, AllOpsAllPatterns) {
  uint32_t seed = 100;
  for (BinaryOp op : kAllOps) {
    for (const auto& [as, bs] : PatternCases()) {
      CheckBinary(op, as, bs, Activation::None(), seed++);
      CheckBinary(op, bs, as, Activation::Relu(), seed++);
    }
  }
}

TEST(BinaryTest, FusedActivations) {
  uint32_t seed = 500;
  for (const Activation& act : AllActivations()) {
    CheckBinary(BinaryOp::kAdd, {3, 5, 33}, {3, 5, 33}, act, seed++);
    CheckBinary(BinaryOp::kMul, {2, 3, 5, 17}, {17}, act, seed++);
    CheckBinary(BinaryOp::kSub, {2, 1, 3}, {1, 4, 1}, act, seed++);
    CheckBinary(BinaryOp::kPow, {5, 17}, {}, act, seed++);
  }
}

TEST(BinaryTest, RandomShapes) {
  std::mt19937 rng(1234);
  const int64_t dims[] = {1, 1, 2, 3, 5, 17, 33};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  for (int iter = 0; iter < 60; ++iter) {
    const size_t rank = 1 + pick(5);
    Shape out(rank);
    do {
      for (auto& d : out) d = dims[pick(std::size(dims))];
    } while (NumElements(out) > 20000);
    // Each side: maybe drop some leading dims, then randomly turn dims into 1.
    auto derive = [&](bool keep_all) {
      Shape s(out.begin() + (keep_all ? 0 : pick(rank + 1)), out.end());
      for (auto& d : s) {
        if (pick(3) == 0) d = 1;
      }
      return s;
    };
    const Shape as = derive(iter % 2 == 0), bs = derive(iter % 2 == 1);
    CheckBinary(kAllOps[iter % std::size(kAllOps)], as, bs,
                iter % 3 == 0 ? Activation::Relu() : Activation::None(), 2000 + iter);
  }
}

TEST(BinaryTest, PowSpecialExponents) {
  for (float e : {2.0f, 0.5f}) {
    const std::vector<float> exps = {e};
    CheckBinary(BinaryOp::kPow, {3, 5, 33}, {}, Activation::None(), 7, &exps);
    // Per-row exponent (inner broadcast of b): 2 and 0.5 mixed with a general one.
    const std::vector<float> rows = {e, 1.5f, e};
    CheckBinary(BinaryOp::kPow, {3, 17}, {3, 1}, Activation::Relu6(), 8, &rows);
  }
}

TEST(BinaryTest, LargeTensorsUseThreads) {
  // More than one 16K-element work unit, so the OpenMP split and the odometer
  // restart in the middle of a row are exercised.
  CheckBinary(BinaryOp::kAdd, {2, 33, 17, 64}, {64}, Activation::Relu(), 11);
  CheckBinary(BinaryOp::kMul, {2, 33, 17, 64}, {2, 1, 1, 64}, Activation::None(), 12);
  CheckBinary(BinaryOp::kSub, {1, 5, 40000}, {1, 5, 1}, Activation::None(), 13);
  CheckBinary(BinaryOp::kMax, {7, 1, 4099}, {1, 9, 1}, Activation::None(), 14);
  CheckBinary(BinaryOp::kPow, {40001}, {}, Activation::None(), 15);
}

TEST(BinaryTest, HighRankFallsBackCorrectly) {
  // Ten alternating broadcast dims cannot be collapsed below 8 dims.
  CheckBinary(BinaryOp::kAdd, {2, 1, 2, 1, 2, 1, 2, 1, 2, 1}, {1, 2, 1, 2, 1, 2, 1, 2, 1, 3},
              Activation::None(), 21);
}

TEST(BinaryTest, InPlace) {
  ForEachTarget([](const char*) {
    for (int threads : {1, 2}) {
      BinaryParams p{BinaryOp::kMul, {300, 33}, {33}, {300, 33}, Activation::Relu()};
      auto a = RandomVector(300 * 33, 1);
      const auto b = RandomVector(33, 2);
      std::vector<float> ref(a.size());
      BinaryRef(p, a.data(), b.data(), ref.data());
      Binary(ExecContext{threads}, p, a.data(), b.data(), a.data());
      EXPECT_SIMD_MATCHES_REF("Binary.Mul", a, ref, 1e-5);
    }
  });
}

TEST(BinaryTest, EmptyOutputWritesNothing) {
  BinaryParams p{BinaryOp::kAdd, {0, 3}, {3}, {0, 3}, Activation::None()};
  const float b[3] = {1, 2, 3};
  float sentinel = 7.0f;
  Binary(ExecContext{2}, p, nullptr, b, &sentinel);
  BinaryRef(p, nullptr, b, &sentinel);
  EXPECT_EQ(sentinel, 7.0f);
}

TEST(ChannelAffineTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    uint32_t seed = 30;
    for (const Activation& act : AllActivations()) {
      // 1-15 take the flat path on AVX-512 (1-7 on AVX2); rows not a multiple of the lane count.
      for (size_t channels : {1u, 2u, 3u, 5u, 7u, 8u, 15u, 16u, 17u, 64u}) {
        // The 1100-row case spans several work units; run it for a few activations only.
        for (size_t rows : {1u, 5u, 101u, 1100u}) {
          if (rows == 1100 && act.type != ActType::kNone && act.type != ActType::kRelu) continue;
          const auto x = RandomVector(rows * channels, seed++, -3, 3);
          const auto scale = RandomVector(channels, seed++, -2, 2);
          const auto shift = RandomVector(channels, seed++, -1, 1);
          std::vector<float> ref(x.size());
          ChannelAffineRef(x.data(), scale.data(), shift.data(), ref.data(), rows, channels, act);
          for (int threads : {1, 2}) {
            std::vector<float> got(x.size());
            ChannelAffine(ExecContext{threads}, x.data(), scale.data(), shift.data(), got.data(), rows,
                          channels, act);
            EXPECT_SIMD_MATCHES_REF("ChannelAffine", got, ref, 1e-5);
          }
          // In place.
          auto inplace = x;
          ChannelAffine(ExecContext{2}, inplace.data(), scale.data(), shift.data(), inplace.data(),
                        rows, channels, act);
          EXPECT_SIMD_MATCHES_REF("ChannelAffine", inplace, ref, 1e-5);
        }
      }
    }
  });
}

TEST(ChannelAffineTest, KnownValues) {
  const float x[4] = {1, 2, -3, 4};  // [2 rows, 2 channels]
  const float scale[2] = {2, -1};
  const float shift[2] = {0.5f, 1};
  float y[4];
  ForEachTarget([&](const char*) {
    ChannelAffine(ExecContext{1}, x, scale, shift, y, 2, 2, Activation::None());
    EXPECT_EQ(y[0], 2.5f);
    EXPECT_EQ(y[1], -1.0f);
    EXPECT_EQ(y[2], -5.5f);
    EXPECT_EQ(y[3], -3.0f);
    ChannelAffine(ExecContext{1}, x, scale, shift, y, 2, 2, Activation::Relu());
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[2], 0.0f);
  });
}

TEST(BatchNormToAffineTest, KnownValues) {
  const float gamma[2] = {2, 1}, beta[2] = {0.5f, 0}, mean[2] = {1, -2}, var[2] = {3, 0.25f};
  float scale[2], shift[2];
  BatchNormToAffine(gamma, beta, mean, var, 1.0f, 2, scale, shift);
  EXPECT_FLOAT_EQ(scale[0], 1.0f);   // 2 / sqrt(3 + 1)
  EXPECT_FLOAT_EQ(shift[0], -0.5f);  // 0.5 - 1 * 1
  EXPECT_FLOAT_EQ(scale[1], 1.0f / std::sqrt(1.25f));
  EXPECT_FLOAT_EQ(shift[1], 2.0f / std::sqrt(1.25f));
  // Applying the folded affine equals the BatchNorm formula.
  const float x = 0.7f;
  float y;
  ChannelAffineRef(&x, &scale[1], &shift[1], &y, 1, 1, Activation::None());
  EXPECT_NEAR(y, (x - mean[1]) / std::sqrt(var[1] + 1.0f) * gamma[1] + beta[1], 1e-6);
}

}  // namespace
}  // namespace facelib::ops
