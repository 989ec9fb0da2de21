// Single-threaded convolution benchmarks with a GFLOPS counter (compare with
// BM_PeakFMA). Weights are packed once outside the timed loop, as at model load.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "ops/conv2d.h"

namespace {

using facelib::ops::Conv2DParams;

std::vector<float> Filled(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = scale * static_cast<float>((i * 7919) % 97) / 97.0f - 0.5f * scale;
  return v;
}

void RunConvBenchmark(benchmark::State& state, const Conv2DParams& p) {
  const size_t in_size = static_cast<size_t>(p.batch) * p.in_h * p.in_w * p.in_c;
  const size_t w_size =
      static_cast<size_t>(p.out_c) * p.kernel_h * p.kernel_w * (p.in_c / p.groups);
  const size_t out_size = static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c;
  // 64-byte aligned like the runtime's arena tensors.
  auto input = hwy::AllocateAligned<float>(in_size);
  {
    const auto values = Filled(in_size, 1.0f);
    std::copy(values.begin(), values.end(), input.get());
  }
  const auto weights = Filled(w_size, 0.1f);
  const auto bias = Filled(p.out_c, 0.1f);
  auto packed = facelib::ops::PackConv2D(p, weights.data(), bias.data());
  const size_t scratch_bytes = packed->ScratchBytes(p);
  auto scratch = hwy::AllocateAligned<uint8_t>(scratch_bytes == 0 ? 1 : scratch_bytes);
  auto output = hwy::AllocateAligned<float>(out_size);
  const facelib::ops::ExecContext ctx{1};
  const double flops_per_run =
      2.0 * static_cast<double>(out_size) * p.kernel_h * p.kernel_w * (p.in_c / p.groups);
  double flops = 0;
  for (auto _ : state) {
    packed->Run(ctx, p, input.get(), output.get(), scratch.get());
    benchmark::DoNotOptimize(output.get());
    benchmark::ClobberMemory();
    flops += flops_per_run;
  }
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}

Conv2DParams SameConv(int hw, int in_c, int out_c, int k, int groups) {
  Conv2DParams p;
  p.in_h = p.in_w = hw;
  p.in_c = in_c;
  p.out_c = out_c;
  p.kernel_h = p.kernel_w = k;
  p.groups = groups;
  facelib::ops::ResolvePadding(facelib::ops::PaddingMode::kSame, hw, k, 1, 1, &p.pad_top,
                               &p.pad_bottom);
  facelib::ops::ResolvePadding(facelib::ops::PaddingMode::kSame, hw, k, 1, 1, &p.pad_left,
                               &p.pad_right);
  p.out_h = p.out_w = hw;
  p.act = facelib::ops::Activation::Relu();
  return p;
}

// Args: spatial size, in channels, out channels.
void BM_Conv3x3(benchmark::State& state) {
  RunConvBenchmark(state,
                   SameConv(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                            static_cast<int>(state.range(2)), 3, 1));
}
BENCHMARK(BM_Conv3x3)->Args({56, 64, 64})->Unit(benchmark::kMillisecond);

void BM_Conv1x1(benchmark::State& state) {
  RunConvBenchmark(state,
                   SameConv(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                            static_cast<int>(state.range(2)), 1, 1));
}
// 28/128/256: ResNet-style; 160/64/64 and 320/16/16: YuNet-n's large pointwise layers;
// 128/24/24: BlazeFace's.
BENCHMARK(BM_Conv1x1)
    ->Args({28, 128, 256})
    ->Args({160, 64, 64})
    ->Args({40, 64, 64})
    ->Args({160, 16, 64})
    ->Args({320, 16, 16})
    ->Args({128, 24, 24})
    ->Unit(benchmark::kMillisecond);

// YOLO5Face's 1x1 layers with their fused SiLU. Args: spatial size, in channels, out channels.
void BM_Conv1x1Silu(benchmark::State& state) {
  Conv2DParams p = SameConv(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                            static_cast<int>(state.range(2)), 1, 1);
  p.act.type = facelib::ops::ActType::kSilu;
  RunConvBenchmark(state, p);
}
BENCHMARK(BM_Conv1x1Silu)->Args({160, 16, 8})->Args({80, 16, 32})->Unit(benchmark::kMillisecond);

// Args: spatial size, channels (multiplier 1).
void BM_DepthwiseConv3x3(benchmark::State& state) {
  const int c = static_cast<int>(state.range(1));
  RunConvBenchmark(state, SameConv(static_cast<int>(state.range(0)), c, c, 3, c));
}
// 40/64 fits in L2 (compute-bound); 128/24: BlazeFace (channels not a multiple of 16).
BENCHMARK(BM_DepthwiseConv3x3)
    ->Args({112, 32})
    ->Args({160, 64})
    ->Args({40, 64})
    ->Args({128, 24})
    ->Args({320, 16})
    ->Unit(benchmark::kMillisecond);

// Convolution with explicit geometry: square input hw x hw x in_c, k x k kernel,
// stride s, TF SAME padding (pad 1 for 3x3 stride 2) or VALID.
Conv2DParams GeneralConv(int hw, int in_c, int out_c, int k, int stride, bool same) {
  Conv2DParams p;
  p.in_h = p.in_w = hw;
  p.in_c = in_c;
  p.out_c = out_c;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  const auto mode = same ? facelib::ops::PaddingMode::kSame : facelib::ops::PaddingMode::kValid;
  facelib::ops::ResolvePadding(mode, hw, k, stride, 1, &p.pad_top, &p.pad_bottom);
  facelib::ops::ResolvePadding(mode, hw, k, stride, 1, &p.pad_left, &p.pad_right);
  p.out_h = p.out_w = facelib::ops::ConvOutputSize(hw, k, stride, 1, p.pad_top, p.pad_bottom);
  p.act = facelib::ops::Activation::Relu();
  return p;
}

// First layer of a detector: few input channels (RGB), stride 2.
// Args: spatial size, in channels, out channels.
void BM_ConvFirst3x3s2(benchmark::State& state) {
  RunConvBenchmark(state, GeneralConv(static_cast<int>(state.range(0)),
                                      static_cast<int>(state.range(1)),
                                      static_cast<int>(state.range(2)), 3, 2, true));
}
BENCHMARK(BM_ConvFirst3x3s2)
    ->Args({640, 3, 16})
    ->Args({160, 8, 16})
    ->Args({640, 3, 8})
    ->Args({160, 3, 16})
    ->Args({112, 3, 64})
    ->Unit(benchmark::kMillisecond);
void BM_ConvFirst5x5s2(benchmark::State& state) {
  RunConvBenchmark(state, GeneralConv(static_cast<int>(state.range(0)),
                                      static_cast<int>(state.range(1)),
                                      static_cast<int>(state.range(2)), 5, 2, true));
}
BENCHMARK(BM_ConvFirst5x5s2)->Args({256, 3, 24})->Unit(benchmark::kMillisecond);

// Detection heads: 3x3 SAME convs with few output channels.
void BM_ConvNarrow3x3(benchmark::State& state) {
  RunConvBenchmark(state, GeneralConv(static_cast<int>(state.range(0)),
                                      static_cast<int>(state.range(1)),
                                      static_cast<int>(state.range(2)), 3, 1, true));
}
BENCHMARK(BM_ConvNarrow3x3)
    ->Args({80, 64, 2})
    ->Args({80, 64, 8})
    ->Args({80, 64, 20})
    ->Unit(benchmark::kMillisecond);

// Detection heads: 1x1 convs with few output channels (YuNet). Args as above.
void BM_ConvNarrow1x1(benchmark::State& state) {
  RunConvBenchmark(state, GeneralConv(static_cast<int>(state.range(0)),
                                      static_cast<int>(state.range(1)),
                                      static_cast<int>(state.range(2)), 1, 1, true));
}
BENCHMARK(BM_ConvNarrow1x1)
    ->Args({80, 64, 1})
    ->Args({80, 64, 4})
    ->Args({80, 64, 10})
    ->Unit(benchmark::kMillisecond);

// Large VALID 3x3 convs with odd output widths (tfjs gear).
void BM_ConvValid3x3(benchmark::State& state) {
  RunConvBenchmark(state, GeneralConv(static_cast<int>(state.range(0)),
                                      static_cast<int>(state.range(1)),
                                      static_cast<int>(state.range(2)), 3, 1, false));
}
BENCHMARK(BM_ConvValid3x3)
    ->Args({196, 32, 64})
    ->Args({97, 64, 96})
    ->Args({47, 96, 128})
    ->Unit(benchmark::kMillisecond);

// Fused pairs. Compare with the sum of the separate convs above (BM_Conv1x1 and
// BM_DepthwiseConv3x3 of the same shapes). FLOPs count both convs.
// Args: spatial size, depthwise channels, 1x1 channels on the other side,
// pointwise first (1: YuNet) or depthwise first (0: BlazeFace, with a residual).
void BM_ConvPair(benchmark::State& state) {
  const int hw = static_cast<int>(state.range(0)), c = static_cast<int>(state.range(1));
  const int other = static_cast<int>(state.range(2));
  const bool pw_first = state.range(3) != 0;
  Conv2DParams dw = SameConv(hw, c, c, 3, c);
  Conv2DParams pw = SameConv(hw, pw_first ? other : c, pw_first ? c : other, 1, 1);
  if (pw_first) pw.act = {};
  else dw.act = {};
  const Conv2DParams& first = pw_first ? pw : dw;
  const Conv2DParams& second = pw_first ? dw : pw;
  const auto w1 = Filled(static_cast<size_t>(first.out_c) * first.kernel_h * first.kernel_w *
                             (first.in_c / first.groups), 0.1f);
  const auto w2 = Filled(static_cast<size_t>(second.out_c) * second.kernel_h * second.kernel_w *
                             (second.in_c / second.groups), 0.1f);
  const auto b1 = Filled(first.out_c, 0.1f), b2 = Filled(second.out_c, 0.1f);
  auto packed = facelib::ops::PackConvPair(first, w1.data(), b1.data(), second, w2.data(), b2.data());
  const size_t in_size = static_cast<size_t>(hw) * hw * first.in_c;
  const size_t out_size = static_cast<size_t>(hw) * hw * second.out_c;
  auto input = hwy::AllocateAligned<float>(in_size);
  auto residual = hwy::AllocateAligned<float>(out_size);
  auto output = hwy::AllocateAligned<float>(out_size);
  {
    const auto values = Filled(in_size, 1.0f);
    std::copy(values.begin(), values.end(), input.get());
    const auto res = Filled(out_size, 1.0f);
    std::copy(res.begin(), res.end(), residual.get());
  }
  auto scratch = hwy::AllocateAligned<uint8_t>(packed->ScratchBytes(first, second));
  const facelib::ops::ExecContext ctx{1};
  const double flops_per_run = 2.0 * hw * hw * (9.0 * c + static_cast<double>(c) * other);
  double flops = 0;
  for (auto _ : state) {
    packed->Run(ctx, first, second, input.get(), pw_first ? nullptr : residual.get(), output.get(),
                scratch.get());
    benchmark::DoNotOptimize(output.get());
    benchmark::ClobberMemory();
    flops += flops_per_run;
  }
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConvPair)
    ->Args({160, 64, 64, 1})
    ->Args({40, 64, 64, 1})
    ->Args({160, 64, 16, 1})
    ->Args({320, 16, 16, 1})
    ->Args({128, 24, 24, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace
