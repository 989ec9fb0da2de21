#include "ops/conv2d.h"

#include <cstring>
#include <random>
#include <sstream>

#include "hwy/aligned_allocator.h"
#include "ops/pool.h"
#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

std::vector<Activation> AllActivations() { return facelib::testing::FusableActivations(); }

std::string Describe(const Conv2DParams& p, int threads) {
  std::ostringstream s;
  s << "batch=" << p.batch << " in=" << p.in_h << "x" << p.in_w << "x" << p.in_c
    << " out=" << p.out_h << "x" << p.out_w << "x" << p.out_c << " k=" << p.kernel_h << "x"
    << p.kernel_w << " stride=" << p.stride_h << "," << p.stride_w << " dil=" << p.dilation_h << ","
    << p.dilation_w << " pad=" << p.pad_top << "," << p.pad_left << "," << p.pad_bottom << ","
    << p.pad_right << " groups=" << p.groups << " act=" << static_cast<int>(p.act.type)
    << " threads=" << threads;
  return s.str();
}

// Fills in pads and output size for a padding mode; false if the window does not fit.
bool Finish(Conv2DParams* p, PaddingMode mode, int explicit_top = 0, int explicit_left = 0,
            int explicit_bottom = 0, int explicit_right = 0) {
  if (mode == PaddingMode::kExplicit) {
    p->pad_top = explicit_top;
    p->pad_left = explicit_left;
    p->pad_bottom = explicit_bottom;
    p->pad_right = explicit_right;
  } else {
    ResolvePadding(mode, p->in_h, p->kernel_h, p->stride_h, p->dilation_h, &p->pad_top,
                   &p->pad_bottom);
    ResolvePadding(mode, p->in_w, p->kernel_w, p->stride_w, p->dilation_w, &p->pad_left,
                   &p->pad_right);
  }
  p->out_h =
      ConvOutputSize(p->in_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, p->pad_bottom);
  p->out_w =
      ConvOutputSize(p->in_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, p->pad_right);
  return p->out_h > 0 && p->out_w > 0;
}

// Picks VALID, SAME or explicit padding (each pad in 0..max_pad) at random and
// finishes the params; false if the window does not fit.
bool FinishRandomPadding(Conv2DParams* p, std::mt19937& rng, int max_pad) {
  const size_t mode = std::uniform_int_distribution<size_t>(0, 2)(rng);
  if (mode == 0) {
    std::uniform_int_distribution<int> pad(0, max_pad);
    return Finish(p, PaddingMode::kExplicit, pad(rng), pad(rng), pad(rng), pad(rng));
  }
  return Finish(p, mode == 1 ? PaddingMode::kValid : PaddingMode::kSame);
}

std::vector<float> RunSimd(const Conv2DParams& p, const std::vector<float>& input,
                           const std::vector<float>& weights, const float* bias, int threads) {
  auto packed = PackConv2D(p, weights.data(), bias);
  const size_t scratch_bytes = packed->ScratchBytes(p);
  auto scratch = hwy::AllocateAligned<uint8_t>(scratch_bytes == 0 ? 1 : scratch_bytes);
  std::vector<float> out(static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c, -123.0f);
  packed->Run(ExecContext{threads}, p, input.data(), out.data(), scratch.get());
  return out;
}

// Compares the SIMD conv with the reference on random data for the current target.
void CheckConv(const Conv2DParams& p, int threads, uint32_t seed, bool with_bias = true) {
  SCOPED_TRACE(Describe(p, threads));
  const size_t in_size = static_cast<size_t>(p.batch) * p.in_h * p.in_w * p.in_c;
  const size_t w_size =
      static_cast<size_t>(p.out_c) * p.kernel_h * p.kernel_w * (p.in_c / p.groups);
  const auto input = RandomVector(in_size, seed);
  const auto weights = RandomVector(w_size, seed + 1);
  const auto bias = RandomVector(p.out_c, seed + 2);
  const float* b = with_bias ? bias.data() : nullptr;
  std::vector<float> ref(static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c);
  Conv2DRef(p, input.data(), weights.data(), b, ref.data());
  const auto got = RunSimd(p, input, weights, b, threads);
  const bool depthwise = p.groups > 1 && p.groups == p.in_c;
  EXPECT_SIMD_MATCHES_REF(depthwise ? "DepthwiseConv2D" : "Conv2D", got, ref, 1e-5);
}

// Random shapes over every feature: odd and size-1 dims, all padding modes,
// strides 1-3, dilations 1-2, groups 1/2/depthwise (multiplier 1 and 2), all
// activations, 1 and 2 threads.
TEST(Conv2DTest, RandomShapesMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    std::mt19937 rng(1234);
    auto pick = [&](std::initializer_list<int> v) {
      return *(v.begin() + std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng));
    };
    int done = 0;
    for (int iter = 0; done < 90 && iter < 1000; ++iter) {
      Conv2DParams p;
      p.batch = pick({1, 2});
      p.in_h = pick({1, 2, 5, 7, 9, 12});
      p.in_w = pick({1, 3, 6, 8, 11, 16});
      p.kernel_h = pick({1, 1, 2, 3, 3, 5});
      p.kernel_w = pick({1, 1, 3, 3, 4, 5});
      p.stride_h = pick({1, 1, 2, 3});
      p.stride_w = pick({1, 1, 2, 3});
      p.dilation_h = pick({1, 1, 2});
      p.dilation_w = pick({1, 1, 2});
      const int kind = done % 4;  // 0, 1: dense groups; 2: groups 2; 3: depthwise
      if (kind == 3) {
        p.in_c = pick({2, 3, 5, 17, 33});
        p.groups = p.in_c;
        p.out_c = p.in_c * pick({1, 1, 2});
      } else if (kind == 2) {
        p.groups = 2;
        p.in_c = 2 * pick({1, 3, 5, 9});
        p.out_c = 2 * pick({1, 3, 8, 17, 40});
      } else {
        p.in_c = pick({1, 3, 5, 17, 33});
        p.out_c = pick({1, 3, 5, 16, 17, 33, 64, 70, 130});
      }
      p.act = acts[done % acts.size()];
      if (!FinishRandomPadding(&p, rng, 2)) continue;
      CheckConv(p, 1 + done % 2, 100 + done, done % 5 != 4);
      ++done;
    }
    EXPECT_EQ(done, 90);
  });
}

// Layer shapes typical of face-recognition networks (multiple panels, row tails,
// 1x1 direct path, strided 1x1, 3x3/5x5 depthwise with interiors wide enough for
// the unrolled path).
TEST(Conv2DTest, NetworkShapesMatchReference) {
  struct Shape {
    int h, w, in_c, out_c, k, stride, groups;
    PaddingMode mode;
  };
  const Shape shapes[] = {
      {10, 10, 64, 64, 3, 1, 1, PaddingMode::kSame},
      {9, 11, 32, 70, 3, 2, 1, PaddingMode::kSame},
      {7, 7, 128, 256, 1, 1, 1, PaddingMode::kValid},
      {8, 8, 24, 40, 1, 2, 1, PaddingMode::kSame},
      {12, 12, 3, 16, 7, 2, 1, PaddingMode::kSame},
      {9, 9, 64, 64, 3, 1, 4, PaddingMode::kSame},
      {20, 21, 32, 32, 3, 1, 32, PaddingMode::kSame},
      {20, 19, 48, 48, 3, 2, 48, PaddingMode::kSame},
      {18, 22, 20, 20, 5, 1, 20, PaddingMode::kSame},
      {17, 17, 16, 32, 3, 1, 16, PaddingMode::kValid},
      {16, 16, 8, 16, 5, 2, 8, PaddingMode::kSame},
      {15, 15, 12, 12, 7, 1, 12, PaddingMode::kSame},
  };
  ForEachTarget([&](const char*) {
    uint32_t seed = 7;
    for (const Shape& s : shapes) {
      for (int threads : {1, 2}) {
        Conv2DParams p;
        p.batch = threads;  // batch 1 and 2
        p.in_h = s.h;
        p.in_w = s.w;
        p.in_c = s.in_c;
        p.out_c = s.out_c;
        p.kernel_h = p.kernel_w = s.k;
        p.stride_h = p.stride_w = s.stride;
        p.groups = s.groups;
        p.act = Activation::Relu6();
        ASSERT_TRUE(Finish(&p, s.mode));
        CheckConv(p, threads, seed++);
      }
    }
  });
}

// Few input channels (image stems) take the im2col plan when K = kh * kw * in_c
// is small, the implicit GEMM otherwise: every in_c <= 8 with kernels 1-7
// (including K just above the im2col limit), strides 1-3, dilations, all
// padding modes, odd widths, output widths of 1-5 vectors with tails, row tails
// of the tall tiles, batch 2 and both thread counts.
TEST(Conv2DTest, SmallInputChannelsMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    std::mt19937 rng(99);
    auto pick = [&](std::initializer_list<int> v) {
      return *(v.begin() + std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng));
    };
    int done = 0;
    for (int iter = 0; done < 80 && iter < 1000; ++iter) {
      Conv2DParams p;
      p.batch = pick({1, 1, 2});
      p.in_h = pick({1, 4, 7, 13, 20});
      p.in_w = pick({1, 5, 9, 16, 23, 33});
      p.in_c = 1 + done % 8;
      p.out_c = pick({1, 3, 8, 16, 17, 24, 32, 40, 64, 70});
      p.kernel_h = p.kernel_w = pick({1, 2, 3, 3, 5, 7});
      if (done % 7 == 6) p.kernel_w = pick({1, 3, 4});  // non-square
      p.stride_h = pick({1, 2, 2, 3});
      p.stride_w = pick({1, 2, 2, 3});
      p.dilation_h = pick({1, 1, 1, 2});
      p.dilation_w = pick({1, 1, 1, 2});
      p.act = acts[done % acts.size()];
      if (!FinishRandomPadding(&p, rng, 3)) continue;
      CheckConv(p, 1 + done % 2, 500 + done, done % 5 != 4);
      ++done;
    }
    EXPECT_EQ(done, 80);
  });
}

// Detector stems at realistic sizes: 3x3 stride 2 pad 1 (ONNX) and SAME 5x5
// stride 2 (tfjs), odd sizes so that the last tile is partial.
TEST(Conv2DTest, StemShapesMatchReference) {
  struct Shape {
    int h, w, in_c, out_c, k, stride;
  };
  const Shape shapes[] = {{64, 64, 3, 16, 3, 2}, {41, 37, 3, 8, 3, 2},  {32, 32, 3, 24, 5, 2},
                          {30, 31, 3, 32, 3, 1}, {23, 29, 3, 64, 7, 2}, {20, 20, 4, 16, 3, 1},
                          {19, 17, 1, 16, 3, 2}, {16, 16, 8, 40, 3, 1}, {40, 38, 8, 16, 3, 2}};
  ForEachTarget([&](const char*) {
    uint32_t seed = 70;
    for (const Shape& s : shapes) {
      for (int threads : {1, 2}) {
        Conv2DParams p;
        p.in_h = s.h;
        p.in_w = s.w;
        p.in_c = s.in_c;
        p.out_c = s.out_c;
        p.kernel_h = p.kernel_w = s.k;
        p.stride_h = p.stride_w = s.stride;
        p.act = threads == 1 ? Activation::Relu() : Activation::Leaky(0.1f);
        ASSERT_TRUE(Finish(&p, PaddingMode::kExplicit, s.k / 2, s.k / 2, s.k / 2, s.k / 2));
        CheckConv(p, threads, seed++);
      }
    }
  });
}

// Stems whose pixel stride (stride_w * in_c) is 3 or 6 read interior tiles in
// place and border tiles from a zero-padded copy: every such (in_c, stride)
// pair, kernels 1-7 (non-square too), every padding 0-3 on each side, widths
// giving full and partial tiles, tiles at the very end of the input.
TEST(Conv2DTest, InPlaceStemTilesMatchReference) {
  ForEachTarget([&](const char*) {
    uint32_t seed = 1000;
    // (in_c, stride_w): in_c * stride_w of 3, 6 and 16 read the input in place.
    const int pairs[][2] = {{3, 1}, {3, 2}, {1, 3}, {2, 3}, {6, 1}, {1, 6}, {8, 2}, {4, 4}, {2, 8}};
    for (const auto& pair : pairs) {
      for (int k : {1, 3, 5, 7}) {
        for (int w : {5, 17, 40}) {
          Conv2DParams p;
          p.batch = 1 + static_cast<int>(seed % 2);
          p.in_h = 3 + static_cast<int>(seed % 7);
          p.in_w = w;
          p.in_c = pair[0];
          p.stride_w = pair[1];
          p.stride_h = 1 + static_cast<int>(seed % 3);
          p.out_c = (seed % 3 == 0) ? 16 : (seed % 3 == 1) ? 24 : 8;
          p.kernel_h = k;
          p.kernel_w = k == 7 ? 3 : k;
          p.act = Activation::Relu6();
          const int pad_l = static_cast<int>(seed % 4), pad_r = static_cast<int>((seed / 4) % 4);
          const int pad_t = static_cast<int>((seed / 2) % 4), pad_b = static_cast<int>((seed / 3) % 4);
          if (Finish(&p, PaddingMode::kExplicit, pad_t, pad_l, pad_b, pad_r)) {
            CheckConv(p, 1 + static_cast<int>(seed % 2), seed);
          }
          ++seed;
        }
      }
    }
  });
}

// Few output channels (detection heads) take the dot-product plan: every
// out_c <= 8 plus 9 (just past it), in_c multiples of the vector length and
// not (masked channel tails), 1x1 direct and strided/padded 3x3, odd widths,
// pixel tails of the P-pixel tiles, batch 2, both thread counts.
TEST(Conv2DTest, NarrowOutputsMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    std::mt19937 rng(4321);
    auto pick = [&](std::initializer_list<int> v) {
      return *(v.begin() + std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng));
    };
    int done = 0;
    for (int iter = 0; done < 72 && iter < 1000; ++iter) {
      Conv2DParams p;
      p.batch = pick({1, 1, 2});
      p.in_h = pick({1, 3, 8, 11});
      p.in_w = pick({1, 5, 7, 10, 13});
      p.in_c = pick({16, 17, 24, 32, 40, 64, 70});
      p.out_c = 1 + done % 9;
      p.kernel_h = p.kernel_w = pick({1, 1, 2, 3, 3, 5});
      p.stride_h = p.stride_w = pick({1, 1, 2, 3});
      p.dilation_h = p.dilation_w = pick({1, 1, 2});
      p.act = acts[done % acts.size()];
      if (!FinishRandomPadding(&p, rng, 2)) continue;
      CheckConv(p, 1 + done % 2, 900 + done, done % 5 != 4);
      ++done;
    }
    EXPECT_EQ(done, 72);
  });
}

// Detection-head shapes: 3x3 SAME 64 -> 2 / 8 / 20 and 1x1 64 -> 2 / 4.
TEST(Conv2DTest, HeadShapesMatchReference) {
  struct Shape {
    int hw, in_c, out_c, k;
  };
  const Shape shapes[] = {{20, 64, 2, 3}, {20, 64, 8, 3}, {20, 64, 20, 3},
                          {19, 64, 2, 1}, {21, 48, 4, 1}, {10, 72, 6, 3}};
  ForEachTarget([&](const char*) {
    uint32_t seed = 170;
    for (const Shape& s : shapes) {
      for (int threads : {1, 2}) {
        Conv2DParams p;
        p.batch = threads;
        p.in_h = p.in_w = s.hw;
        p.in_c = s.in_c;
        p.out_c = s.out_c;
        p.kernel_h = p.kernel_w = s.k;
        p.act = threads == 1 ? Activation::None() : Activation{ActType::kSigmoid, 0, 0, 0};
        ASSERT_TRUE(Finish(&p, PaddingMode::kSame));
        CheckConv(p, threads, seed++);
      }
    }
  });
}

// One input and one output channel (score maps): the planar stencil when
// stride_w is 1 (row widths around the vector length, borders, dilation, rows
// in the padding), the im2col plan otherwise.
TEST(Conv2DTest, PlanarShapesMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    std::mt19937 rng(777);
    auto pick = [&](std::initializer_list<int> v) {
      return *(v.begin() + std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng));
    };
    int done = 0;
    for (int iter = 0; done < 60 && iter < 1000; ++iter) {
      Conv2DParams p;
      p.batch = pick({1, 2});
      p.in_h = pick({1, 2, 5, 9, 20});
      p.in_w = pick({1, 3, 8, 15, 16, 17, 33, 40, 80});
      p.in_c = p.out_c = 1;
      p.kernel_h = pick({1, 2, 3, 3, 5});
      p.kernel_w = pick({1, 3, 3, 4, 5});
      p.stride_h = pick({1, 1, 2});
      p.stride_w = done % 6 == 5 ? 2 : 1;
      p.dilation_h = pick({1, 1, 2});
      p.dilation_w = pick({1, 1, 2});
      p.act = acts[done % acts.size()];
      if (!FinishRandomPadding(&p, rng, 2)) continue;
      CheckConv(p, 1 + done % 2, 1300 + done, done % 4 != 3);
      ++done;
    }
    EXPECT_EQ(done, 60);
  });
}

// Every activation on each execution plan (direct 1x1, implicit GEMM, depthwise).
TEST(Conv2DTest, AllActivationsOnEveryPlan) {
  ForEachTarget([&](const char*) {
    for (const Activation& act : AllActivations()) {
      // 0: direct 1x1, 1: im2col (in_c 7), 2: depthwise, 3: implicit GEMM, 4: dot (out_c 3),
      // 5: planar (one channel in and out).
      for (int plan = 0; plan < 6; ++plan) {
        Conv2DParams p;
        p.in_h = 6;
        p.in_w = plan == 5 ? 21 : 9;
        p.in_c = plan == 5 ? 1 : plan == 2 ? 19 : plan >= 3 ? 20 : 7;
        p.out_c = plan == 5 ? 1 : plan == 2 ? 19 : plan == 4 ? 3 : 21;
        p.kernel_h = p.kernel_w = plan == 0 ? 1 : 3;
        p.groups = plan == 2 ? p.in_c : 1;
        p.act = act;
        ASSERT_TRUE(Finish(&p, plan == 0 ? PaddingMode::kValid : PaddingMode::kSame));
        CheckConv(p, 2, 31 + plan);
      }
    }
  });
}

// A residual added before the activation, on every plan (the GEMM plans add it
// in their epilogue, the others in a pass after the conv).
TEST(Conv2DTest, ResidualOnEveryPlan) {
  const Activation acts[] = {Activation::None(), Activation::Relu(), {ActType::kSilu, 0, 0, 0}};
  ForEachTarget([&](const char*) {
    uint32_t seed = 500;
    // 0: direct 1x1, 1: im2col, 2: depthwise, 3: implicit GEMM, 4: dot, 5: planar,
    // 6: implicit GEMM with a strided, dilated window and 8-row tiles (out_c 16).
    for (int plan = 0; plan < 7; ++plan) {
      for (const Activation& act : acts) {
        Conv2DParams p;
        p.batch = 2;
        p.in_h = 7;
        p.in_w = plan == 5 ? 21 : 11;
        p.in_c = plan == 5 ? 1 : plan == 2 ? 19 : plan >= 3 ? 20 : 7;
        p.out_c = plan == 5 ? 1 : plan == 2 ? 19 : plan == 4 ? 3 : plan == 6 ? 16 : 21;
        p.kernel_h = p.kernel_w = plan == 0 ? 1 : 3;
        p.groups = plan == 2 ? p.in_c : 1;
        if (plan == 6) p.stride_w = p.dilation_h = 2;
        p.act = act;
        ASSERT_TRUE(Finish(&p, plan == 0 ? PaddingMode::kValid : PaddingMode::kSame));
        SCOPED_TRACE(Describe(p, 2));
        const size_t out_size = static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c;
        const auto input =
            RandomVector(static_cast<size_t>(p.batch) * p.in_h * p.in_w * p.in_c, seed);
        const auto weights = RandomVector(
            static_cast<size_t>(p.out_c) * p.kernel_h * p.kernel_w * (p.in_c / p.groups), seed + 1);
        const auto bias = RandomVector(p.out_c, seed + 2);
        const auto residual = RandomVector(out_size, seed + 3, -2.0f, 2.0f);
        seed += 4;
        Conv2DParams plain = p;
        plain.act = Activation::None();
        std::vector<float> ref(out_size);
        Conv2DRef(plain, input.data(), weights.data(), bias.data(), ref.data());
        for (size_t i = 0; i < out_size; ++i) ref[i] = ApplyActivationScalar(act, ref[i] + residual[i]);
        auto packed = PackConv2D(p, weights.data(), bias.data());
        const size_t scratch_bytes = packed->ScratchBytes(p);
        auto scratch = hwy::AllocateAligned<uint8_t>(scratch_bytes == 0 ? 1 : scratch_bytes);
        for (int threads : {1, 2}) {
          std::vector<float> got(out_size, -123.0f);
          packed->Run(ExecContext{threads}, p, input.data(), residual.data(), got.data(),
                      scratch.get());
          EXPECT_SIMD_MATCHES_REF("Conv2D", got, ref, 1e-5);
        }
      }
    }
  });
}

// A per-channel affine after the activation (alone, and after a residual), on
// every plan (the GEMM plans apply it in their epilogue, the others in a pass).
TEST(Conv2DTest, PostAffineOnEveryPlan) {
  const Activation acts[] = {Activation::Relu(), {ActType::kSigmoid, 0, 0, 0}};
  ForEachTarget([&](const char*) {
    uint32_t seed = 700;
    // 0: direct 1x1, 1: im2col, 2: depthwise, 3: implicit GEMM (2 panels), 4: dot,
    // 5: planar, 6: grouped GEMM.
    for (int plan = 0; plan < 7; ++plan) {
      for (const Activation& act : acts) {
        for (int with_residual = 0; with_residual < 2; ++with_residual) {
          Conv2DParams p;
          p.in_h = 6;
          p.in_w = plan == 5 ? 21 : 10;
          p.in_c = plan == 5 ? 1 : plan == 2 ? 19 : plan == 6 ? 6 : plan >= 3 ? 20 : 7;
          p.out_c = plan == 5 ? 1 : plan == 2 ? 19 : plan == 4 ? 3 : plan == 3 ? 70 : plan == 6 ? 10 : 21;
          p.kernel_h = p.kernel_w = plan == 0 ? 1 : 3;
          p.groups = plan == 2 ? p.in_c : plan == 6 ? 2 : 1;
          p.act = act;
          ASSERT_TRUE(Finish(&p, plan == 0 ? PaddingMode::kValid : PaddingMode::kSame));
          SCOPED_TRACE(Describe(p, 1) + (with_residual ? " residual" : ""));
          const size_t out_size = static_cast<size_t>(p.out_h) * p.out_w * p.out_c;
          const auto input = RandomVector(static_cast<size_t>(p.in_h) * p.in_w * p.in_c, seed);
          const auto weights = RandomVector(
              static_cast<size_t>(p.out_c) * p.kernel_h * p.kernel_w * (p.in_c / p.groups), seed + 1);
          const auto bias = RandomVector(p.out_c, seed + 2);
          const auto scale = RandomVector(p.out_c, seed + 3, -2.0f, 2.0f);
          const auto shift = RandomVector(p.out_c, seed + 4);
          const auto residual = RandomVector(out_size, seed + 5);
          seed += 6;
          Conv2DParams plain = p;
          plain.act = Activation::None();
          std::vector<float> ref(out_size);
          Conv2DRef(plain, input.data(), weights.data(), bias.data(), ref.data());
          for (size_t i = 0; i < out_size; ++i) {
            const size_t c = i % p.out_c;
            const float x = ref[i] + (with_residual ? residual[i] : 0.0f);
            ref[i] = ApplyActivationScalar(act, x) * scale[c] + shift[c];
          }
          auto packed = PackConv2D(p, weights.data(), bias.data(), scale.data(), shift.data());
          const size_t scratch_bytes = packed->ScratchBytes(p);
          auto scratch = hwy::AllocateAligned<uint8_t>(scratch_bytes == 0 ? 1 : scratch_bytes);
          std::vector<float> got(out_size, -123.0f);
          packed->Run(ExecContext{1 + with_residual}, p, input.data(),
                      with_residual ? residual.data() : nullptr, got.data(), scratch.get());
          EXPECT_SIMD_MATCHES_REF("Conv2D", got, ref, 1e-5);
        }
      }
    }
    // Scale only (shift 0) and shift only (scale 1).
    Conv2DParams p;
    p.in_h = p.in_w = 5;
    p.in_c = 16;
    p.out_c = 24;
    p.kernel_h = p.kernel_w = 3;
    ASSERT_TRUE(Finish(&p, PaddingMode::kSame));
    const auto input = RandomVector(5 * 5 * 16, 801);
    const auto weights = RandomVector(24 * 9 * 16, 802);
    const auto scale = RandomVector(24, 803);
    std::vector<float> ref(5 * 5 * 24);
    Conv2DRef(p, input.data(), weights.data(), nullptr, ref.data());
    for (int which = 0; which < 2; ++which) {
      auto packed = PackConv2D(p, weights.data(), nullptr, which == 0 ? scale.data() : nullptr,
                               which == 1 ? scale.data() : nullptr);
      auto scratch = hwy::AllocateAligned<uint8_t>(packed->ScratchBytes(p) + 1);
      std::vector<float> got(ref.size());
      packed->Run(ExecContext{1}, p, input.data(), got.data(), scratch.get());
      std::vector<float> want = ref;
      for (size_t i = 0; i < want.size(); ++i) {
        want[i] = which == 0 ? want[i] * scale[i % 24] : want[i] + scale[i % 24];
      }
      EXPECT_SIMD_MATCHES_REF("Conv2D", got, want, 1e-5);
    }
  });
}

// Results must not depend on the thread count (each output is reduced in a
// fixed order by exactly one thread).
TEST(Conv2DTest, DeterministicAcrossThreadCounts) {
  // GEMM, depthwise, im2col (3 input channels), dot (2 outputs).
  const int cases[][3] = {{24, 72, 1}, {24, 48, 24}, {3, 16, 1}, {24, 2, 1}};
  for (const auto& c : cases) {
    const int groups = c[2];
    Conv2DParams p;
    p.batch = 2;
    p.in_h = p.in_w = 13;
    p.in_c = c[0];
    p.out_c = c[1];
    p.kernel_h = p.kernel_w = 3;
    p.groups = groups;
    ASSERT_TRUE(Finish(&p, PaddingMode::kSame));
    const auto input = RandomVector(static_cast<size_t>(p.batch) * 13 * 13 * p.in_c, 5);
    const auto weights = RandomVector(static_cast<size_t>(p.out_c) * 9 * (p.in_c / groups), 6);
    const auto one = RunSimd(p, input, weights, nullptr, 1);
    const auto two = RunSimd(p, input, weights, nullptr, 2);
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  }
}

// Hand-computed values: a 3x3 image 1..9, 3x3 all-ones kernel, SAME padding.
TEST(Conv2DTest, KnownValues3x3) {
  Conv2DParams p;
  p.in_h = p.in_w = 3;
  p.in_c = 1;
  p.out_c = 1;
  p.kernel_h = p.kernel_w = 3;
  ASSERT_TRUE(Finish(&p, PaddingMode::kSame));
  ASSERT_EQ(p.out_h, 3);
  const std::vector<float> input = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> weights(9, 1.0f);
  const float bias = -20.0f;
  const float expected[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
  ForEachTarget([&](const char*) {
    auto out = RunSimd(p, input, weights, nullptr, 1);
    for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
    Conv2DParams q = p;
    q.act = Activation::Relu();
    out = RunSimd(q, input, weights, &bias, 2);
    for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(out[i], std::max(0.0f, expected[i] - 20.0f)) << i;
  });
  std::vector<float> ref(9);
  Conv2DRef(p, input.data(), weights.data(), nullptr, ref.data());
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(ref[i], expected[i]) << i;
}

// Depthwise with multiplier 2 and a 1x1 grouped conv, computed by hand.
TEST(Conv2DTest, KnownValuesDepthwiseAndGrouped) {
  // Depthwise: 1x2 image, 2 channels, 1x2 kernel VALID, multiplier 2.
  Conv2DParams p;
  p.in_h = 1;
  p.in_w = 2;
  p.in_c = 2;
  p.out_c = 4;
  p.kernel_h = 1;
  p.kernel_w = 2;
  p.groups = 2;
  ASSERT_TRUE(Finish(&p, PaddingMode::kValid));
  const std::vector<float> input = {1, 10, 2, 20};  // pixel0 (c0=1, c1=10), pixel1 (2, 20)
  // OHWI with I = 1: out channel oc uses input channel oc / 2.
  const std::vector<float> weights = {1, 1, 1, -1, 0.5f, 0, 0, 2};
  const float bias[4] = {0, 0, 1, 0};
  // oc0: 1+2 = 3; oc1: 1-2 = -1; oc2: 0.5*10 + 1 = 6; oc3: 2*20 = 40.
  const float expected[4] = {3, -1, 6, 40};
  // Grouped 1x1: 2 groups of 2 in -> 1 out channel each.
  Conv2DParams g;
  g.in_h = g.in_w = 1;
  g.in_c = 4;
  g.out_c = 2;
  g.groups = 2;
  ASSERT_TRUE(Finish(&g, PaddingMode::kValid));
  const std::vector<float> g_in = {1, 2, 3, 4};
  const std::vector<float> g_w = {1, 1, 1, -1};  // out0 = 1 + 2, out1 = 3 - 4
  ForEachTarget([&](const char*) {
    const auto out = RunSimd(p, input, weights, bias, 1);
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
    const auto go = RunSimd(g, g_in, g_w, nullptr, 1);
    EXPECT_FLOAT_EQ(go[0], 3.0f);
    EXPECT_FLOAT_EQ(go[1], -1.0f);
  });
}

// ---------------------------------------------------------------------------
// Fused pairs (1x1 then depthwise, depthwise then 1x1)

struct PairCase {
  Conv2DParams first, second;
  bool residual = false;
  bool max_pool = false;  // 2x2 stride-2 max pool of the output
};

std::string DescribePair(const PairCase& c, int threads) {
  return "first: " + Describe(c.first, threads) + " | second: " + Describe(c.second, threads) +
         (c.residual ? " | residual" : "") + (c.max_pool ? " | max pool" : "");
}

// The pair through the scalar reference: two convs, then the residual add and
// the second conv's activation.
std::vector<float> PairRef(const PairCase& c, const std::vector<float>& input,
                           const std::vector<float>& w1, const float* b1,
                           const std::vector<float>& w2, const float* b2,
                           const std::vector<float>& residual) {
  const Conv2DParams& f = c.first;
  std::vector<float> mid(static_cast<size_t>(f.batch) * f.out_h * f.out_w * f.out_c);
  Conv2DRef(f, input.data(), w1.data(), b1, mid.data());
  Conv2DParams s = c.second;
  s.act = Activation::None();
  std::vector<float> out(static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c);
  Conv2DRef(s, mid.data(), w2.data(), b2, out.data());
  for (size_t i = 0; i < out.size(); ++i) {
    if (c.residual) out[i] += residual[i];
    out[i] = ApplyActivationScalar(c.second.act, out[i]);
  }
  if (!c.max_pool) return out;
  PoolParams pp;
  pp.batch = s.batch;
  pp.in_h = s.out_h;
  pp.in_w = s.out_w;
  pp.channels = s.out_c;
  pp.out_h = s.out_h / 2;
  pp.out_w = s.out_w / 2;
  pp.kernel_h = pp.kernel_w = pp.stride_h = pp.stride_w = 2;
  std::vector<float> pooled(static_cast<size_t>(pp.batch) * pp.out_h * pp.out_w * pp.channels);
  PoolRef(pp, out.data(), pooled.data());
  return pooled;
}

size_t PairOutputSize(const PairCase& c) {
  const Conv2DParams& s = c.second;
  return c.max_pool ? static_cast<size_t>(s.batch) * (s.out_h / 2) * (s.out_w / 2) * s.out_c
                    : static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c;
}

std::vector<float> PairSimd(const PairCase& c, const std::vector<float>& input,
                            const std::vector<float>& w1, const float* b1,
                            const std::vector<float>& w2, const float* b2,
                            const std::vector<float>& residual, int threads) {
  auto packed = PackConvPair(c.first, w1.data(), b1, c.second, w2.data(), b2, c.max_pool);
  EXPECT_NE(packed, nullptr);
  if (packed == nullptr) return {};
  const size_t scratch_bytes = packed->ScratchBytes(c.first, c.second);
  auto scratch = hwy::AllocateAligned<uint8_t>(scratch_bytes == 0 ? 1 : scratch_bytes);
  std::vector<float> out(PairOutputSize(c), -123.0f);
  packed->Run(ExecContext{threads}, c.first, c.second, input.data(),
              c.residual ? residual.data() : nullptr, out.data(), scratch.get());
  return out;
}

void CheckPair(const PairCase& c, int threads, uint32_t seed, bool with_bias) {
  SCOPED_TRACE(DescribePair(c, threads));
  const Conv2DParams& f = c.first;
  const Conv2DParams& s = c.second;
  const auto input = RandomVector(static_cast<size_t>(f.batch) * f.in_h * f.in_w * f.in_c, seed);
  const auto w1 = RandomVector(static_cast<size_t>(f.out_c) * f.kernel_h * f.kernel_w *
                                   (f.in_c / f.groups), seed + 1);
  const auto w2 = RandomVector(static_cast<size_t>(s.out_c) * s.kernel_h * s.kernel_w *
                                   (s.in_c / s.groups), seed + 2);
  const auto b1 = RandomVector(f.out_c, seed + 3);
  const auto b2 = RandomVector(s.out_c, seed + 4);
  const auto residual =
      RandomVector(static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c, seed + 5);
  const float* pb1 = with_bias ? b1.data() : nullptr;
  const float* pb2 = with_bias ? b2.data() : nullptr;
  const auto ref = PairRef(c, input, w1, pb1, w2, pb2, residual);
  const auto got = PairSimd(c, input, w1, pb1, w2, pb2, residual, threads);
  EXPECT_SIMD_MATCHES_REF("Conv2DPair", got, ref, 1e-5);
}

// A 1x1 conv (stride 1, no padding) with the given channels on an h x w input.
Conv2DParams Pointwise(int batch, int h, int w, int in_c, int out_c, const Activation& act) {
  Conv2DParams p;
  p.batch = batch;
  p.in_h = p.out_h = h;
  p.in_w = p.out_w = w;
  p.in_c = in_c;
  p.out_c = out_c;
  p.act = act;
  return p;
}

// Random pairs in both orders: odd channel counts (tails of the depthwise
// vectors and of the 1x1 panels), kernels 1x1 to 5x5 (unrolled 3x3 / 5x5
// interiors and the per-pixel path), strides, dilations, every padding,
// rows and columns in the padding, residuals, activations on both convs, and
// 1-3 threads (bands, each recomputing the rows its ring starts with).
TEST(Conv2DPairTest, RandomPairsMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    std::mt19937 rng(2024);
    auto pick = [&](std::initializer_list<int> v) {
      return *(v.begin() + std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng));
    };
    int done = 0;
    for (int iter = 0; done < 80 && iter < 1000; ++iter) {
      const bool pw_first = done % 2 == 0;
      Conv2DParams dw;
      dw.batch = pick({1, 1, 2});
      dw.in_h = pick({1, 2, 5, 9, 14});
      dw.in_w = pick({1, 3, 7, 12, 19, 33});
      dw.in_c = dw.out_c = dw.groups = pick({2, 3, 16, 17, 24, 33, 64});
      dw.kernel_h = pick({1, 2, 3, 3, 3, 5, 5});
      dw.kernel_w = dw.kernel_h == 3 || dw.kernel_h == 5 ? dw.kernel_h : pick({1, 3, 4});
      dw.stride_h = pick({1, 1, 2});
      dw.stride_w = pick({1, 1, 2});
      dw.dilation_h = pick({1, 1, 2});
      dw.dilation_w = pick({1, 1, 2});
      dw.act = acts[(done / 2) % acts.size()];
      if (!FinishRandomPadding(&dw, rng, 2)) continue;
      const int other_c = pick({1, 3, 8, 16, 24, 37, 64});
      const Activation pw_act = acts[(done / 2 + 5) % acts.size()];
      PairCase c;
      if (pw_first) {
        c.first = Pointwise(dw.batch, dw.in_h, dw.in_w, other_c, dw.in_c, pw_act);
        c.second = dw;
        c.max_pool = done % 4 == 2 && dw.out_h >= 2 && dw.out_w >= 2;
      } else {
        c.first = dw;
        c.second = Pointwise(dw.batch, dw.out_h, dw.out_w, dw.out_c, other_c, pw_act);
        c.residual = done % 4 == 1;
      }
      ASSERT_TRUE(CanFuseConvPair(c.first, c.second));
      CheckPair(c, 1 + done % 3, 3000 + done, done % 5 != 4);
      ++done;
    }
    EXPECT_EQ(done, 80);
  });
}

// Network shapes: YuNet's 1x1 -> depthwise 3x3 blocks, BlazeFace's depthwise
// -> 1x1 + residual (24 channels), a strided MobileNet block, and a batch of 2
// whose bands cross the image boundary.
TEST(Conv2DPairTest, NetworkPairsMatchReference) {
  struct Shape {
    bool pw_first;
    int batch, hw, dw_c, other_c, stride;
    bool residual;  // depthwise first: residual; pointwise first: 2x2 max pool
  };
  const Shape shapes[] = {{true, 1, 40, 64, 64, 1, false},  {true, 1, 33, 16, 16, 1, false},
                          {true, 2, 21, 32, 16, 1, false},  {false, 1, 32, 24, 24, 1, true},
                          {false, 1, 29, 64, 128, 2, false}, {false, 2, 17, 48, 48, 1, true},
                          {true, 1, 40, 16, 16, 1, true},   {true, 2, 23, 64, 64, 1, true}};
  ForEachTarget([&](const char*) {
    uint32_t seed = 4000;
    for (const Shape& sh : shapes) {
      for (int threads : {1, 2, 4}) {
        Conv2DParams dw;
        dw.batch = sh.batch;
        dw.in_h = dw.in_w = sh.hw;
        dw.in_c = dw.out_c = dw.groups = sh.dw_c;
        dw.kernel_h = dw.kernel_w = 3;
        dw.stride_h = dw.stride_w = sh.stride;
        dw.act = Activation::Relu();
        ASSERT_TRUE(Finish(&dw, PaddingMode::kSame));
        PairCase c;
        if (sh.pw_first) {
          c.first = Pointwise(sh.batch, sh.hw, sh.hw, sh.other_c, sh.dw_c, Activation::None());
          c.second = dw;
          c.max_pool = sh.residual;
        } else {
          dw.act = Activation::None();
          c.first = dw;
          c.second = Pointwise(sh.batch, dw.out_h, dw.out_w, sh.dw_c, sh.other_c,
                               Activation::Relu());
          c.residual = sh.residual;
        }
        CheckPair(c, threads, seed++, true);
      }
    }
  });
}

// The pair computes exactly what the two packed convs (GEMM-plan 1x1) and a
// separate residual add compute, whatever the thread count.
TEST(Conv2DPairTest, BitExactWithSeparateConvs) {
  ForEachTarget([&](const char*) {
    Conv2DParams dw;
    dw.in_h = dw.in_w = 23;
    dw.in_c = dw.out_c = dw.groups = 24;
    dw.kernel_h = dw.kernel_w = 3;
    ASSERT_TRUE(Finish(&dw, PaddingMode::kSame));
    PairCase c;
    c.first = dw;
    c.second = Pointwise(1, 23, 23, 24, 40, Activation::None());
    c.residual = true;
    const auto input = RandomVector(23 * 23 * 24, 51);
    const auto w1 = RandomVector(24 * 9, 52);
    const auto w2 = RandomVector(40 * 24, 53);
    const auto b1 = RandomVector(24, 54);
    const auto b2 = RandomVector(40, 55);
    const auto residual = RandomVector(23 * 23 * 40, 56);
    const auto mid = RunSimd(c.first, input, w1, b1.data(), 1);
    auto separate = RunSimd(c.second, mid, w2, b2.data(), 1);
    for (size_t i = 0; i < separate.size(); ++i) separate[i] += residual[i];
    for (int threads : {1, 2, 3}) {
      const auto fused =
          PairSimd(c, input, w1, b1.data(), w2, b2.data(), residual, threads);
      ASSERT_EQ(fused.size(), separate.size());
      EXPECT_EQ(0, std::memcmp(fused.data(), separate.data(), fused.size() * sizeof(float)))
          << "threads=" << threads;
    }
    // And the other order.
    PairCase d;
    d.first = Pointwise(1, 23, 23, 40, 24, Activation::None());
    d.second = dw;
    const auto input2 = RandomVector(23 * 23 * 40, 57);
    const auto w3 = RandomVector(24 * 40, 58);
    const auto mid2 = RunSimd(d.first, input2, w3, b1.data(), 1);
    const auto separate2 = RunSimd(d.second, mid2, w1, b1.data(), 1);
    for (int threads : {1, 2, 3}) {
      const auto fused = PairSimd(d, input2, w3, b1.data(), w1, b1.data(), residual, threads);
      ASSERT_EQ(fused.size(), separate2.size());
      EXPECT_EQ(0, std::memcmp(fused.data(), separate2.data(), fused.size() * sizeof(float)))
          << "threads=" << threads;
    }
  });
}

TEST(Conv2DPairTest, QualifyingPairs) {
  Conv2DParams dw;
  dw.in_h = dw.in_w = 8;
  dw.in_c = dw.out_c = dw.groups = 16;
  dw.kernel_h = dw.kernel_w = 3;
  ASSERT_TRUE(Finish(&dw, PaddingMode::kSame));
  const Conv2DParams pw_in = Pointwise(1, 8, 8, 5, 16, Activation::None());
  const Conv2DParams pw_out = Pointwise(1, 8, 8, 16, 7, Activation::None());
  EXPECT_TRUE(CanFuseConvPair(pw_in, dw));
  EXPECT_TRUE(CanFuseConvPair(dw, pw_out));
  EXPECT_FALSE(CanFuseConvPair(pw_out, dw));  // channels do not chain
  EXPECT_FALSE(CanFuseConvPair(dw, dw));       // two depthwise convs
  EXPECT_FALSE(CanFuseConvPair(pw_in, pw_out));
  Conv2DParams mult = dw;
  mult.out_c = 32;  // channel multiplier 2
  EXPECT_FALSE(CanFuseConvPair(pw_in, mult));
  Conv2DParams strided = pw_in;
  strided.stride_h = strided.stride_w = 2;
  EXPECT_FALSE(CanFuseConvPair(strided, dw));
  Conv2DParams padded = pw_out;
  padded.pad_top = 1;
  EXPECT_FALSE(CanFuseConvPair(dw, padded));
  EXPECT_EQ(PackConvPair(dw, nullptr, nullptr, dw, nullptr, nullptr), nullptr);
  // The max pool only follows a pointwise-depthwise pair.
  const auto w_dw = RandomVector(16 * 9, 1), w_pw = RandomVector(7 * 16, 2);
  EXPECT_EQ(PackConvPair(dw, w_dw.data(), nullptr, pw_out, w_pw.data(), nullptr, true), nullptr);
}

TEST(Conv2DTest, ShapeHelpers) {
  int b = -1, e = -1;
  ResolvePadding(PaddingMode::kSame, 56, 3, 1, 1, &b, &e);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(e, 1);
  ResolvePadding(PaddingMode::kSame, 56, 3, 2, 1, &b, &e);  // TF puts the extra pixel at the end
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 1);
  EXPECT_EQ(ConvOutputSize(56, 3, 2, 1, 0, 1), 28);
  EXPECT_EQ(ConvOutputSize(2, 5, 1, 1, 0, 0), 0);
}

}  // namespace
}  // namespace facelib::ops
