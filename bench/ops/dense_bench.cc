// Single-threaded Dense benchmarks: batch 1 (GEMV, bound by streaming the 8 MB
// of weights) and batch 32 (GEMM microkernel). GFLOPS counter as in peak_bench.
#include <benchmark/benchmark.h>

#include <vector>

#include "hwy/aligned_allocator.h"
#include "ops/dense.h"

namespace {

void RunDenseBenchmark(benchmark::State& state, int k, int n, int rows) {
  facelib::ops::DenseParams p;
  p.rows = rows;
  p.in_features = k;
  p.out_features = n;
  std::vector<float> x(static_cast<size_t>(rows) * k), w(static_cast<size_t>(k) * n), bias(n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) * 0.1f - 0.6f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 17) * 0.01f - 0.08f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i % 5) * 0.1f;
  auto packed = facelib::ops::PackDense(p, w.data(), bias.data());
  auto y = hwy::AllocateAligned<float>(static_cast<size_t>(rows) * n);
  const facelib::ops::ExecContext ctx{1};
  const double flops_per_run = 2.0 * rows * k * static_cast<double>(n);
  double flops = 0;
  for (auto _ : state) {
    packed->Run(ctx, p, x.data(), y.get());
    benchmark::DoNotOptimize(y.get());
    benchmark::ClobberMemory();
    flops += flops_per_run;
  }
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}

// Registered by hand so that the batch-1 and batched variants share the name
// BM_Dense with 2 and 3 arguments (in features, out features[, batch]).
const bool kRegistered = [] {
  benchmark::RegisterBenchmark("BM_Dense",
                               [](benchmark::State& s) {
                                 RunDenseBenchmark(s, static_cast<int>(s.range(0)),
                                                   static_cast<int>(s.range(1)), 1);
                               })
      ->Args({512, 4096})
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Dense",
                               [](benchmark::State& s) {
                                 RunDenseBenchmark(s, static_cast<int>(s.range(0)),
                                                   static_cast<int>(s.range(1)),
                                                   static_cast<int>(s.range(2)));
                               })
      ->Args({512, 4096, 32})
      ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
