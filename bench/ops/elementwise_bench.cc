// Memory-bound element-wise kernels; the GB/s counter counts bytes read plus
// bytes written once, per wall-clock second. First arg = OpenMP threads.
#include <benchmark/benchmark.h>

#include <vector>

#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/softmax.h"

namespace {

using facelib::ops::ExecContext;

void SetBandwidth(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iter * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

void RunBinary(benchmark::State& state, facelib::ops::BinaryParams p) {
  facelib::ops::BroadcastShapes(p.a_shape, p.b_shape, &p.out_shape);
  auto count = [](const std::vector<int64_t>& s) {
    size_t n = 1;
    for (int64_t d : s) n *= static_cast<size_t>(d);
    return n;
  };
  std::vector<float> a(count(p.a_shape), 0.5f), b(count(p.b_shape), 1.5f), out(count(p.out_shape));
  const ExecContext ctx{static_cast<int>(state.range(0))};
  for (auto _ : state) {
    facelib::ops::Binary(ctx, p, a.data(), b.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  SetBandwidth(state, 4.0 * (a.size() + b.size() + out.size()));
}

// Residual add with fused ReLU, [1,56,56,64] + [1,56,56,64].
void BM_AddSameShapeRelu(benchmark::State& state) {
  RunBinary(state, {facelib::ops::BinaryOp::kAdd, {1, 56, 56, 64}, {1, 56, 56, 64}, {},
                    facelib::ops::Activation::Relu()});
}
// Per-channel bias, [1,56,56,64] + [64].
void BM_AddPerChannel(benchmark::State& state) {
  RunBinary(state, {facelib::ops::BinaryOp::kAdd, {1, 56, 56, 64}, {64}, {}, {}});
}
// Stand-alone BatchNorm after ReLU as tfjs exports it: Mul then Add by per-channel constants.
void BM_MulPerChannelLarge(benchmark::State& state) {
  RunBinary(state, {facelib::ops::BinaryOp::kMul, {1, 194, 194, 64}, {64}, {}, {}});
}
// Per-channel affine with 3 channels (input normalisation of RGB images).
void BM_ChannelAffine3(benchmark::State& state) {
  const size_t rows = 640 * 640, channels = 3;
  std::vector<float> x(rows * channels, 0.5f), y(x.size()), scale(channels, 2.0f), shift(channels, 1.0f);
  const ExecContext ctx{static_cast<int>(state.range(0))};
  for (auto _ : state) {
    facelib::ops::ChannelAffine(ctx, x.data(), scale.data(), shift.data(), y.data(), rows, channels, {});
    benchmark::DoNotOptimize(y.data());
  }
  SetBandwidth(state, 8.0 * x.size());
}
// Squeeze-excite gating, [1,28,28,128] * [1,1,1,128].
void BM_MulSqueezeExcite(benchmark::State& state) {
  RunBinary(state, {facelib::ops::BinaryOp::kMul, {1, 28, 28, 128}, {1, 1, 1, 128}, {}, {}});
}

// Global average pooling, [1,7,7,512] -> [1,1,1,512] and [1,56,56,64].
void BM_ReduceMeanGlobalPool(benchmark::State& state) {
  const int64_t hw = state.range(1);
  const int64_t c = state.range(2);
  facelib::ops::ReduceParams p{facelib::ops::ReduceOp::kMean, {1, hw, hw, c}, {1, 2}};
  std::vector<float> x(hw * hw * c, 0.25f), y(c);
  const ExecContext ctx{static_cast<int>(state.range(0))};
  for (auto _ : state) {
    facelib::ops::Reduce(ctx, p, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBandwidth(state, 4.0 * (x.size() + y.size()));
}

// L2 normalisation of a batch of 512-d embeddings and a 1000-way softmax.
void BM_L2NormalizeEmbeddings(benchmark::State& state) {
  const facelib::ops::AxisParams p{64, 512, 1};
  std::vector<float> x(p.outer * p.axis, 0.1f), y(x.size());
  const ExecContext ctx{static_cast<int>(state.range(0))};
  for (auto _ : state) {
    facelib::ops::L2Normalize(ctx, p, x.data(), y.data(), 1e-12f);
    benchmark::DoNotOptimize(y.data());
  }
  SetBandwidth(state, 8.0 * x.size());
}
void BM_SoftmaxLogits(benchmark::State& state) {
  const facelib::ops::AxisParams p{64, 1000, 1};
  std::vector<float> x(p.outer * p.axis, 0.1f), y(x.size());
  const ExecContext ctx{static_cast<int>(state.range(0))};
  for (auto _ : state) {
    facelib::ops::Softmax(ctx, p, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBandwidth(state, 8.0 * x.size());
}

}  // namespace

BENCHMARK(BM_AddSameShapeRelu)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_AddPerChannel)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_MulSqueezeExcite)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_MulPerChannelLarge)->Arg(1);
BENCHMARK(BM_ChannelAffine3)->Arg(1);
BENCHMARK(BM_ReduceMeanGlobalPool)->Args({1, 7, 512})->Args({1, 56, 64})->Args({2, 56, 64})->UseRealTime();
BENCHMARK(BM_L2NormalizeEmbeddings)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_SoftmaxLogits)->Arg(1)->Arg(2)->UseRealTime();
