#include "ops/resize.h"

#include <random>

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

constexpr CoordMode kAllCoords[] = {CoordMode::kAsymmetric, CoordMode::kAlignCorners, CoordMode::kHalfPixel,
                                    CoordMode::kPytorchHalfPixel, CoordMode::kTfHalfPixelForNearest};
constexpr NearestRound kAllRounds[] = {NearestRound::kFloor, NearestRound::kRoundPreferFloor,
                                       NearestRound::kRoundPreferCeil, NearestRound::kCeil};

void CheckResize(const ResizeParams& p, int threads, uint32_t seed) {
  const auto x = RandomVector(static_cast<size_t>(p.batch) * p.in_h * p.in_w * p.channels, seed, -3.0f, 3.0f);
  const size_t out_n = static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.channels;
  std::vector<float> ref(out_n, NAN), got(out_n, NAN);
  ResizeRef(p, x.data(), ref.data());
  Resize(ExecContext{threads}, p, x.data(), got.data());
  for (float v : ref) ASSERT_FALSE(std::isnan(v));
  if (p.method == ResizeMethod::kNearest) {
    EXPECT_SIMD_MATCHES_REF("ResizeNearest", got, ref, 1e-5);
    for (size_t i = 0; i < out_n; ++i) ASSERT_EQ(got[i], ref[i]) << "i=" << i;
  } else {
    EXPECT_SIMD_MATCHES_REF("ResizeBilinear", got, ref, 1e-5);
  }
}

TEST(ResizeTest, SimdMatchesReferenceAllModes) {
  // (in, out) pairs: identity, up, down, integer and non-integer ratios, size 1.
  const int sizes[][2] = {{1, 1}, {1, 4}, {4, 1}, {2, 4}, {3, 7}, {7, 3}, {5, 5}, {4, 2}, {6, 9}, {9, 6}, {8, 3}};
  const int channel_list[] = {1, 3, 5, 17, 33, 64};
  ForEachTarget([&](const char*) {
    std::mt19937 rng(99);
    auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int iter = 0;
    for (ResizeMethod method : {ResizeMethod::kNearest, ResizeMethod::kBilinear}) {
      for (CoordMode coord : kAllCoords) {
        for (NearestRound round : kAllRounds) {
          if (method == ResizeMethod::kBilinear && round != NearestRound::kFloor) continue;  // unused
          for (int rep = 0; rep < 8; ++rep, ++iter) {
            ResizeParams p;
            p.method = method;
            p.coord = coord;
            p.nearest = round;
            p.batch = rnd(1, 2);
            const auto& sh = sizes[rnd(0, 10)];
            const auto& sw = sizes[rnd(0, 10)];
            p.in_h = sh[0];
            p.out_h = sh[1];
            p.in_w = sw[0];
            p.out_w = sw[1];
            p.channels = channel_list[iter % 6];
            if (rep == 7) {  // explicit scales (ONNX "scales" input), not equal to in / out
              p.scale_h = 0.6f;
              p.scale_w = 1.7f;
            }
            SCOPED_TRACE(::testing::Message() << "method=" << static_cast<int>(method) << " coord="
                                              << static_cast<int>(coord) << " round=" << static_cast<int>(round)
                                              << " h " << p.in_h << "->" << p.out_h << " w " << p.in_w << "->"
                                              << p.out_w << " c=" << p.channels);
            CheckResize(p, 1 + iter % 2, iter);
          }
        }
      }
    }
  });
}

TEST(ResizeTest, LargeAndMultiThreaded) {
  ForEachTarget([](const char*) {
    for (ResizeMethod method : {ResizeMethod::kNearest, ResizeMethod::kBilinear}) {
      for (int threads : {1, 2}) {
        ResizeParams p;
        p.method = method;
        p.coord = CoordMode::kHalfPixel;
        p.nearest = NearestRound::kRoundPreferFloor;
        p.batch = 2;
        p.in_h = 20;
        p.in_w = 27;
        p.out_h = 45;
        p.out_w = 31;
        p.channels = 35;
        CheckResize(p, threads, 3 + threads);
      }
    }
  });
}

ResizeParams Params1(ResizeMethod m, CoordMode c, NearestRound r, int in_h, int in_w, int out_h, int out_w) {
  ResizeParams p;
  p.method = m;
  p.coord = c;
  p.nearest = r;
  p.in_h = in_h;
  p.in_w = in_w;
  p.out_h = out_h;
  p.out_w = out_w;
  p.channels = 1;
  return p;
}

std::vector<float> RunResize(const ResizeParams& p, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.channels, NAN);
  Resize(ExecContext{1}, p, x.data(), y.data());
  return y;
}

TEST(ResizeTest, KnownValuesBilinear) {
  ForEachTarget([](const char*) {
    // 2x2 -> 4x4 align_corners on [[0, 3], [6, 9]]: y = 6 * row/3 + 3 * col/3 = 2 * row + col.
    const auto p = Params1(ResizeMethod::kBilinear, CoordMode::kAlignCorners, NearestRound::kFloor, 2, 2, 4, 4);
    const auto y = RunResize(p, {0, 3, 6, 9});
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) EXPECT_NEAR(y[r * 4 + c], 2 * r + c, 1e-5) << r << "," << c;
    }
    // half_pixel 1x2 -> 1x4 on [0, 4]: src = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
    auto q = Params1(ResizeMethod::kBilinear, CoordMode::kHalfPixel, NearestRound::kFloor, 1, 2, 1, 4);
    auto yq = RunResize(q, {0, 4});
    EXPECT_NEAR(yq[0], 0.0f, 1e-6);
    EXPECT_NEAR(yq[1], 1.0f, 1e-6);
    EXPECT_NEAR(yq[2], 3.0f, 1e-6);
    EXPECT_NEAR(yq[3], 4.0f, 1e-6);
    // asymmetric 1x2 -> 1x4: src = 0, 0.5, 1, 1.5 -> 0, 2, 4, 4.
    q.coord = CoordMode::kAsymmetric;
    yq = RunResize(q, {0, 4});
    EXPECT_EQ(yq, (std::vector<float>{0, 2, 4, 4}));
    // 1x4 -> 1x1: half_pixel samples 1.5 (mean of the middle pair); pytorch_half_pixel samples 0.
    auto s = Params1(ResizeMethod::kBilinear, CoordMode::kHalfPixel, NearestRound::kFloor, 1, 4, 1, 1);
    EXPECT_NEAR(RunResize(s, {10, 20, 30, 40})[0], 25.0f, 1e-5);
    s.coord = CoordMode::kPytorchHalfPixel;
    EXPECT_EQ(RunResize(s, {10, 20, 30, 40})[0], 10.0f);
    // Channels stay independent: 1x1x2 pixel with 3 channels, upsampled.
    auto c3 = Params1(ResizeMethod::kBilinear, CoordMode::kAlignCorners, NearestRound::kFloor, 1, 2, 1, 3);
    c3.channels = 3;
    const auto y3 = RunResize(c3, {0, 10, 100, 2, 20, 200});
    EXPECT_NEAR(y3[3], 1.0f, 1e-5);
    EXPECT_NEAR(y3[4], 15.0f, 1e-5);
    EXPECT_NEAR(y3[5], 150.0f, 1e-4);
  });
}

TEST(ResizeTest, KnownValuesNearest) {
  ForEachTarget([](const char*) {
    // ONNX default (half_pixel, round_prefer_floor), 2x2 -> 4x6 on [[1, 2], [3, 4]].
    auto p = Params1(ResizeMethod::kNearest, CoordMode::kHalfPixel, NearestRound::kRoundPreferFloor, 2, 2, 4, 6);
    EXPECT_EQ(RunResize(p, {1, 2, 3, 4}), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,  //
                                                        3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
    // ONNX downsample with scales 0.6 on [[1,2,3,4],[5,6,7,8]] -> [[1, 3]].
    auto d = Params1(ResizeMethod::kNearest, CoordMode::kHalfPixel, NearestRound::kRoundPreferFloor, 2, 4, 1, 2);
    d.scale_h = d.scale_w = 1.0f / 0.6f;
    EXPECT_EQ(RunResize(d, {1, 2, 3, 4, 5, 6, 7, 8}), (std::vector<float>{1, 3}));
    // Asymmetric 1x2 -> 1x4, src = 0, 0.5, 1, 1.5: rounding modes differ on ties.
    auto a = Params1(ResizeMethod::kNearest, CoordMode::kAsymmetric, NearestRound::kFloor, 1, 2, 1, 4);
    EXPECT_EQ(RunResize(a, {5, 7}), (std::vector<float>{5, 5, 7, 7}));
    a.nearest = NearestRound::kRoundPreferCeil;
    EXPECT_EQ(RunResize(a, {5, 7}), (std::vector<float>{5, 7, 7, 7}));
    a.nearest = NearestRound::kRoundPreferFloor;
    EXPECT_EQ(RunResize(a, {5, 7}), (std::vector<float>{5, 5, 7, 7}));
    // Asymmetric 1x3 -> 1x2, src = 0, 1.5: ceil and round_prefer_ceil take index 2.
    auto c = Params1(ResizeMethod::kNearest, CoordMode::kAsymmetric, NearestRound::kCeil, 1, 3, 1, 2);
    EXPECT_EQ(RunResize(c, {5, 6, 7}), (std::vector<float>{5, 7}));
    c.nearest = NearestRound::kRoundPreferFloor;
    EXPECT_EQ(RunResize(c, {5, 6, 7}), (std::vector<float>{5, 6}));
    // TF half_pixel_centers nearest, 1x3 -> 1x2: src = 0.75, 2.25 -> floor 0, 2.
    c.coord = CoordMode::kTfHalfPixelForNearest;
    c.nearest = NearestRound::kFloor;
    EXPECT_EQ(RunResize(c, {5, 6, 7}), (std::vector<float>{5, 7}));
    // TF align_corners nearest (round half up), 1x3 -> 1x5: src = 0, .5, 1, 1.5, 2.
    auto t = Params1(ResizeMethod::kNearest, CoordMode::kAlignCorners, NearestRound::kRoundPreferCeil, 1, 3, 1, 5);
    EXPECT_EQ(RunResize(t, {5, 6, 7}), (std::vector<float>{5, 6, 6, 7, 7}));
  });
}

TEST(ResizeTest, CoordinateFormulas) {
  // Spot checks of each mode's formula (in 4 -> out 8, scale 0.5).
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kAsymmetric, 3, 4, 8, 0), 1.5f);
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kHalfPixel, 3, 4, 8, 0), 1.25f);
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kPytorchHalfPixel, 3, 4, 8, 0), 1.25f);
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kTfHalfPixelForNearest, 3, 4, 8, 0), 1.75f);
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kAlignCorners, 7, 4, 8, 0), 3.0f);
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kAlignCorners, 0, 4, 1, 0), 0.0f);
  EXPECT_FLOAT_EQ(ResizeSourceCoord(CoordMode::kAsymmetric, 3, 4, 8, 0.25f), 0.75f);  // explicit scale
  EXPECT_EQ(ResizeNearestIndex(NearestRound::kRoundPreferFloor, 2.5f, 10), 2);
  EXPECT_EQ(ResizeNearestIndex(NearestRound::kRoundPreferCeil, 2.5f, 10), 3);
  EXPECT_EQ(ResizeNearestIndex(NearestRound::kCeil, 2.1f, 10), 3);
  EXPECT_EQ(ResizeNearestIndex(NearestRound::kFloor, 2.9f, 10), 2);
  EXPECT_EQ(ResizeNearestIndex(NearestRound::kFloor, -0.7f, 10), 0);
  EXPECT_EQ(ResizeNearestIndex(NearestRound::kCeil, 9.2f, 10), 9);
  const ResizeTap t = ResizeLinearTap(2.25f, 4);
  EXPECT_EQ(t.i0, 2);
  EXPECT_EQ(t.i1, 3);
  EXPECT_FLOAT_EQ(t.w, 0.25f);
  const ResizeTap e = ResizeLinearTap(3.5f, 4);  // clamped to the last pixel
  EXPECT_EQ(e.i0, 3);
  EXPECT_EQ(e.i1, 3);
}

}  // namespace
}  // namespace facelib::ops
