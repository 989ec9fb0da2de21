// Stand-alone activations over a [160, 160, 16] tensor (the size of YOLO5Face's
// stem output), single-threaded; the GB/s counter counts bytes read plus written.
#include <benchmark/benchmark.h>

#include <vector>

#include "ops/activation.h"

namespace {

void BM_Activation(benchmark::State& state) {
  facelib::ops::Activation act;
  act.type = static_cast<facelib::ops::ActType>(state.range(0));
  const size_t n = 160 * 160 * 16;
  std::vector<float> x(n), y(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 7919) % 1999) / 100.0f - 10.0f;
  const facelib::ops::ExecContext ctx{1};
  for (auto _ : state) {
    facelib::ops::Activation_(ctx, act, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(8.0 * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
// Args: ActType (5 sigmoid, 8 SiLU, 1 ReLU).
BENCHMARK(BM_Activation)->Arg(5)->Arg(8)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
