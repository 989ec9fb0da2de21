#include "ops/pool.h"

#include <random>

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

// Output size for the given padding; ceil mode drops a last window that would
// start in the bottom/right padding (PyTorch / ONNX rule).
int OutSize(int in, int k, int s, int pb, int pe, bool ceil_mode) {
  const int span = in + pb + pe - k;
  if (span < 0) return 0;
  int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  return out;
}

std::vector<Activation> SomeActivations() {
  return {Activation::None(), Activation::Relu(), Activation::Relu6(), Activation::Leaky(0.2f),
          {ActType::kSigmoid, 0, 0, 0}, Activation::Clip(-0.3f, 0.4f)};
}

void CheckPool(const PoolParams& p, int threads, uint32_t seed) {
  const size_t in_n = static_cast<size_t>(p.batch) * p.in_h * p.in_w * p.channels;
  const size_t out_n = static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.channels;
  const auto x = RandomVector(in_n, seed, -2.0f, 2.0f);
  std::vector<float> ref(out_n, NAN), got(out_n, NAN);
  PoolRef(p, x.data(), ref.data());
  Pool(ExecContext{threads}, p, x.data(), got.data());
  for (float v : ref) ASSERT_FALSE(std::isnan(v));
  EXPECT_SIMD_MATCHES_REF(p.type == PoolType::kMax ? "MaxPool" : "AvgPool", got, ref, 1e-5);
  if (p.type == PoolType::kMax && p.act.type == ActType::kNone) {
    // A max is a selection: any difference is a wrong window.
    for (size_t i = 0; i < out_n; ++i) ASSERT_EQ(got[i], ref[i]) << "i=" << i;
  }
}

TEST(PoolTest, SimdMatchesReferenceOnRandomShapes) {
  const int channel_list[] = {1, 3, 5, 17, 33, 64, 2};
  const auto acts = SomeActivations();
  ForEachTarget([&](const char*) {
    std::mt19937 rng(1234);
    auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    int iter = 0;
    for (int k = 1; k <= 5; ++k) {
      for (int s = 1; s <= 3; ++s) {
        for (PoolType type : {PoolType::kMax, PoolType::kAvg}) {
          for (bool cip : {false, true}) {
            for (int rep = 0; rep < 2; ++rep, ++iter) {
              PoolParams p;
              p.type = type;
              p.count_include_pad = cip;
              p.batch = rnd(1, 2);
              // Asymmetric kernels on every other case.
              p.kernel_h = k;
              p.kernel_w = rep ? rnd(1, 5) : k;
              p.stride_h = s;
              p.stride_w = rep ? rnd(1, 3) : s;
              p.in_h = rnd(1, 10);
              p.in_w = rnd(1, 10);
              p.channels = channel_list[iter % 7];
              p.pad_top = rnd(0, p.kernel_h - 1);
              p.pad_bottom = rnd(0, p.kernel_h - 1);
              p.pad_left = rnd(0, p.kernel_w - 1);
              p.pad_right = rnd(0, p.kernel_w - 1);
              const bool ceil_mode = rnd(0, 1);
              p.out_h = OutSize(p.in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, ceil_mode);
              p.out_w = OutSize(p.in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, ceil_mode);
              p.act = acts[iter % acts.size()];
              if (p.out_h <= 0 || p.out_w <= 0) continue;
              SCOPED_TRACE(::testing::Message() << "k=" << p.kernel_h << "x" << p.kernel_w << " s=" << p.stride_h
                                              << "x" << p.stride_w << " in=" << p.in_h << "x" << p.in_w
                                              << " c=" << p.channels << " cip=" << cip);
              CheckPool(p, 1 + iter % 2, iter);
            }
          }
        }
      }
    }
  });
}

TEST(PoolTest, LargeAndMultiThreaded) {
  ForEachTarget([](const char*) {
    for (PoolType type : {PoolType::kMax, PoolType::kAvg}) {
      for (int threads : {1, 2}) {
        PoolParams p;
        p.type = type;
        p.batch = 2;
        p.in_h = p.in_w = 28;
        p.channels = 67;
        p.kernel_h = p.kernel_w = 3;
        p.stride_h = p.stride_w = 2;
        p.pad_top = p.pad_left = 1;
        p.pad_bottom = p.pad_right = 1;
        p.out_h = p.out_w = 14;
        p.count_include_pad = threads == 2;
        p.act = Activation::Relu();
        CheckPool(p, threads, 77 + threads);
      }
    }
  });
}

// Windows lying entirely in the padding (pad >= kernel) are defined as 0.
TEST(PoolTest, WindowsInsidePaddingGiveZero) {
  ForEachTarget([](const char*) {
    for (PoolType type : {PoolType::kMax, PoolType::kAvg}) {
      PoolParams p;
      p.type = type;
      p.in_h = p.in_w = 2;
      p.channels = 3;
      p.kernel_h = p.kernel_w = 2;
      p.stride_h = p.stride_w = 2;
      p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 2;
      p.out_h = p.out_w = 3;
      p.count_include_pad = true;
      const auto x = RandomVector(12, 5, 1.0f, 2.0f);
      std::vector<float> y(27, NAN);
      Pool(ExecContext{1}, p, x.data(), y.data());
      EXPECT_EQ(y[0], 0.0f);                     // (0, 0): all padding
      EXPECT_GT(y[(1 * 3 + 1) * 3], 0.5f);       // (1, 1): the whole input
      CheckPool(p, 1, 9);
    }
  });
}

TEST(PoolTest, KnownValues) {
  ForEachTarget([](const char*) {
    // 4x4 input 1..16, 2x2 max pool stride 2 -> [6, 8, 14, 16].
    std::vector<float> x(16);
    for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i + 1);
    PoolParams p;
    p.in_h = p.in_w = 4;
    p.channels = 1;
    p.kernel_h = p.kernel_w = 2;
    p.stride_h = p.stride_w = 2;
    p.out_h = p.out_w = 2;
    std::vector<float> y(4);
    Pool(ExecContext{1}, p, x.data(), y.data());
    EXPECT_EQ(y, (std::vector<float>{6, 8, 14, 16}));

    // Same, average: [3.5, 5.5, 11.5, 13.5].
    p.type = PoolType::kAvg;
    Pool(ExecContext{1}, p, x.data(), y.data());
    EXPECT_EQ(y, (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}));

    // 3x3 input 1..9, 3x3 average, stride 1, pad 1. Corner (0,0) sees 1,2,4,5.
    PoolParams a;
    a.type = PoolType::kAvg;
    a.in_h = a.in_w = 3;
    a.channels = 1;
    a.kernel_h = a.kernel_w = 3;
    a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = 1;
    a.out_h = a.out_w = 3;
    std::vector<float> x9(9), y9(9);
    for (int i = 0; i < 9; ++i) x9[i] = static_cast<float>(i + 1);
    Pool(ExecContext{1}, a, x9.data(), y9.data());
    EXPECT_FLOAT_EQ(y9[0], 3.0f);          // 12 / 4
    EXPECT_FLOAT_EQ(y9[1], 3.5f);          // (1+2+3+4+5+6) / 6
    EXPECT_FLOAT_EQ(y9[4], 5.0f);          // 45 / 9
    a.count_include_pad = true;
    Pool(ExecContext{1}, a, x9.data(), y9.data());
    EXPECT_FLOAT_EQ(y9[0], 12.0f / 9.0f);
    EXPECT_FLOAT_EQ(y9[1], 21.0f / 9.0f);
    EXPECT_FLOAT_EQ(y9[4], 5.0f);

    // Asymmetric padding + count_include_pad + ceil-style overrun: in 3, k 2,
    // s 2, pad_begin 0, pad_end 0, out 2: the last window [2, 4) is 1 real cell
    // and 0 pad cells (it sticks out beyond pad_end), so the divisor is 1.
    PoolParams c;
    c.type = PoolType::kAvg;
    c.in_h = 1;
    c.in_w = 3;
    c.channels = 2;  // channels interleaved: (1, 10), (2, 20), (3, 30)
    c.kernel_w = 2;
    c.stride_w = 2;
    c.out_h = 1;
    c.out_w = 2;
    c.count_include_pad = true;
    const std::vector<float> xc = {1, 10, 2, 20, 3, 30};
    std::vector<float> yc(4);
    Pool(ExecContext{1}, c, xc.data(), yc.data());
    EXPECT_EQ(yc, (std::vector<float>{1.5f, 15.0f, 3.0f, 30.0f}));
    c.pad_right = 1;  // now the overrun cell is padding and counts
    Pool(ExecContext{1}, c, xc.data(), yc.data());
    EXPECT_EQ(yc, (std::vector<float>{1.5f, 15.0f, 1.5f, 15.0f}));

    // Fused ReLU6 on a max pool.
    PoolParams r;
    r.in_h = 1;
    r.in_w = 4;
    r.channels = 1;
    r.kernel_w = 2;
    r.stride_w = 2;
    r.out_h = 1;
    r.out_w = 2;
    r.act = Activation::Relu6();
    const std::vector<float> xr = {-3, -1, 7, 2};
    std::vector<float> yr(2);
    Pool(ExecContext{1}, r, xr.data(), yr.data());
    EXPECT_EQ(yr, (std::vector<float>{0.0f, 6.0f}));
  });
}

TEST(GlobalPoolTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    uint32_t seed = 1;
    for (PoolType type : {PoolType::kMax, PoolType::kAvg}) {
      for (int batch : {1, 3}) {
        for (int hw : {1, 7, 49, 300}) {
          for (int channels : {1, 3, 17, 33, 64, 261, 517}) {
            const auto x = RandomVector(static_cast<size_t>(batch) * hw * channels, ++seed, -3.0f, 3.0f);
            std::vector<float> ref(static_cast<size_t>(batch) * channels, NAN), got(ref.size(), NAN);
            GlobalPoolRef(type, batch, hw, channels, x.data(), ref.data());
            GlobalPool(ExecContext{1 + static_cast<int>(seed % 2)}, type, batch, hw, channels, x.data(),
                       got.data());
            EXPECT_SIMD_MATCHES_REF(type == PoolType::kMax ? "GlobalMaxPool" : "GlobalAvgPool", got, ref,
                                    1e-5);
          }
        }
      }
    }
  });
}

TEST(GlobalPoolTest, KnownValues) {
  ForEachTarget([](const char*) {
    // [1, 4, 2]: channel 0 = 1,2,3,4; channel 1 = -1,-5,2,0.
    const std::vector<float> x = {1, -1, 2, -5, 3, 2, 4, 0};
    std::vector<float> y(2);
    GlobalPool(ExecContext{1}, PoolType::kAvg, 1, 4, 2, x.data(), y.data());
    EXPECT_FLOAT_EQ(y[0], 2.5f);
    EXPECT_FLOAT_EQ(y[1], -1.0f);
    GlobalPool(ExecContext{1}, PoolType::kMax, 1, 4, 2, x.data(), y.data());
    EXPECT_EQ(y[0], 4.0f);
    EXPECT_EQ(y[1], 2.0f);
  });
}

}  // namespace
}  // namespace facelib::ops
