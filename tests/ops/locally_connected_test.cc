#include "ops/locally_connected.h"

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

std::vector<Activation> AllActivations() { return facelib::testing::FusableActivations(); }

std::vector<float> RunLc(const LocallyConnectedParams& p, const std::vector<float>& input,
                         const std::vector<float>& w, const float* bias, int threads) {
  auto packed = PackLocallyConnected(p, w.data(), bias);
  std::vector<float> out(static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c, -123.0f);
  packed->Run(ExecContext{threads}, p, input.data(), out.data());
  return out;
}

TEST(LocallyConnectedTest, RandomShapesMatchReference) {
  const auto acts = AllActivations();
  ForEachTarget([&](const char*) {
    int case_id = 0;
    for (int batch : {1, 2, 7}) {
      for (int in_c : {1, 3, 16}) {
        for (int out_c : {1, 5, 17, 70}) {
          for (int k : {1, 2, 3}) {
            for (int stride : {1, 2}) {
              LocallyConnectedParams p;
              p.batch = batch;
              p.in_h = 5 + case_id % 3;
              p.in_w = 6;
              p.in_c = in_c;
              p.out_c = out_c;
              p.kernel_h = k;
              p.kernel_w = k == 2 ? 3 : k;
              p.stride_h = stride;
              p.stride_w = 1 + case_id % 3;
              p.out_h = (p.in_h - p.kernel_h) / p.stride_h + 1;
              p.out_w = (p.in_w - p.kernel_w) / p.stride_w + 1;
              p.act = acts[case_id % acts.size()];
              const int threads = 1 + case_id % 2;
              SCOPED_TRACE(::testing::Message()
                           << "batch=" << batch << " in_c=" << in_c << " out_c=" << out_c
                           << " k=" << p.kernel_h << "x" << p.kernel_w << " stride=" << p.stride_h
                           << "," << p.stride_w << " threads=" << threads);
              const size_t positions = static_cast<size_t>(p.out_h) * p.out_w;
              const auto input =
                  RandomVector(static_cast<size_t>(batch) * p.in_h * p.in_w * in_c, 40 + case_id);
              const auto w =
                  RandomVector(positions * p.kernel_h * p.kernel_w * in_c * out_c, 41 + case_id);
              const auto b = RandomVector(positions * out_c, 42 + case_id);
              const float* bias = case_id % 4 == 3 ? nullptr : b.data();
              std::vector<float> ref(static_cast<size_t>(batch) * positions * out_c);
              LocallyConnectedRef(p, input.data(), w.data(), bias, ref.data());
              EXPECT_SIMD_MATCHES_REF("LocallyConnected2D", RunLc(p, input, w, bias, threads), ref,
                                      1e-5);
              ++case_id;
            }
          }
        }
      }
    }
  });
}

TEST(LocallyConnectedTest, KnownValues) {
  // 1x3 image with 1 channel, 1x2 kernel -> 2 positions with their own weights.
  LocallyConnectedParams p;
  p.in_h = 1;
  p.in_w = 3;
  p.in_c = 1;
  p.out_h = 1;
  p.out_w = 2;
  p.out_c = 2;
  p.kernel_h = 1;
  p.kernel_w = 2;
  const std::vector<float> input = {1, 2, 3};
  // [pos][kh][kw][in_c][out_c]
  const std::vector<float> w = {1, 0,  1, 1,   // pos 0: oc0 = x0 + x1, oc1 = x1
                                2, -1, 0, 1};  // pos 1: oc0 = 2*x1, oc1 = -x1 + x2
  const float bias[4] = {0, 0, 0.5f, 0};
  const float expected[4] = {3, 2, 4.5f, 1};
  ForEachTarget([&](const char*) {
    const auto out = RunLc(p, input, w, bias, 2);
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
  });
}

}  // namespace
}  // namespace facelib::ops
