// BM_PeakFMA: single-core fp32 FMA throughput of the best Highway target, the
// yardstick for every other GFLOPS counter.
#include <benchmark/benchmark.h>

#include "ops/peak.h"

static void BM_PeakFMA(benchmark::State& state) {
  const uint64_t iters = 1 << 22;
  double flops = 0;
  for (auto _ : state) {
    flops += facelib::ops::RunPeakFma(iters);
  }
  state.counters["GFLOPS"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PeakFMA)->Unit(benchmark::kMillisecond);
