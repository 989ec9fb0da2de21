// Pooling, resize and transpose throughput. These ops are memory bound, so the
// counter is GB/s of tensor data touched (input read once + output written).
#include <benchmark/benchmark.h>

#include <vector>

#include "ops/layout.h"
#include "ops/pool.h"
#include "ops/resize.h"

namespace {

using namespace facelib::ops;

void SetBytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes_per_iter * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// 3x3 stride-2 pad-1 pooling of a [1, 56, 56, C] map (a typical stem pool).
void BM_Pool3x3s2(benchmark::State& state) {
  PoolParams p;
  p.type = state.range(0) ? PoolType::kAvg : PoolType::kMax;
  p.in_h = p.in_w = 56;
  p.channels = static_cast<int>(state.range(1));
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.out_h = p.out_w = 28;
  const ExecContext ctx{static_cast<int>(state.range(2))};
  std::vector<float> x(56 * 56 * p.channels, 1.0f), y(28 * 28 * p.channels);
  for (auto _ : state) {
    Pool(ctx, p, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBytes(state, 4.0 * (x.size() + y.size()));
}
BENCHMARK(BM_Pool3x3s2)->ArgsProduct({{0, 1}, {3, 64}, {1, 2}});

void BM_GlobalAvgPool(benchmark::State& state) {
  const int hw = 7 * 7, c = static_cast<int>(state.range(0));
  std::vector<float> x(hw * c, 1.0f), y(c);
  for (auto _ : state) {
    GlobalPool(ExecContext{1}, PoolType::kAvg, 1, hw, c, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBytes(state, 4.0 * (x.size() + y.size()));
}
BENCHMARK(BM_GlobalAvgPool)->Arg(512);

// NHWC -> NCHW of [1, 56, 56, 64] and back.
void BM_TransposeNhwcNchw(benchmark::State& state) {
  TransposeParams p;
  if (state.range(0)) {
    p = {{1, 64, 56, 56}, {0, 2, 3, 1}};
  } else {
    p = {{1, 56, 56, 64}, {0, 3, 1, 2}};
  }
  std::vector<float> x(56 * 56 * 64, 1.0f), y(x.size());
  for (auto _ : state) {
    Transpose(ExecContext{1}, p, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBytes(state, 8.0 * x.size());
}
BENCHMARK(BM_TransposeNhwcNchw)->Arg(0)->Arg(1);

// Bilinear 2x upsampling of [1, 28, 28, 64].
void BM_ResizeBilinear2x(benchmark::State& state) {
  ResizeParams p;
  p.in_h = p.in_w = 28;
  p.out_h = p.out_w = 56;
  p.channels = 64;
  std::vector<float> x(28 * 28 * 64, 1.0f), y(56 * 56 * 64);
  for (auto _ : state) {
    Resize(ExecContext{1}, p, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetBytes(state, 4.0 * (x.size() + y.size()));
}
BENCHMARK(BM_ResizeBilinear2x);

}  // namespace
