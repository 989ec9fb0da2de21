#include "models/synthetic_nets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/model.h"
#include "runtime/model_file.h"

namespace facelib::models {
namespace {

std::vector<float> Input(size_t n) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(SyntheticNetsTest, LoadTimePassesPreserveResults) {
  for (const auto& net : SyntheticNets()) {
    SCOPED_TRACE(net.name);
    const rt::Graph g = net.build(99, 16);
    const auto bytes = rt::SerializeGraph(g);
    auto optimized = rt::Model::FromGraph(rt::LoadGraphFromBuffer(bytes.data(), bytes.size()));
    rt::ModelOptions plain;
    plain.optimize = false;
    auto reference = rt::Model::FromGraph(rt::LoadGraphFromBuffer(bytes.data(), bytes.size()), plain);
    // Folding removes every BatchNorm and fusion removes the activation nodes.
    EXPECT_LT(optimized->num_nodes(), reference->num_nodes());
    for (auto [h, w] : {std::pair{64, 64}, std::pair{37, 50}}) {
      const auto x = Input(static_cast<size_t>(2) * h * w * 3);
      const auto a = optimized->Run({{{2, h, w, 3}, x.data()}});
      const auto b = reference->Run({{{2, h, w, 3}, x.data()}});
      ASSERT_EQ(a[0].shape, b[0].shape);
      for (size_t i = 0; i < a[0].data.size(); ++i) ASSERT_NEAR(a[0].data[i], b[0].data[i], 2e-5f) << i;
      // Each row is a probability vector or a unit embedding.
      const int64_t cols = a[0].shape.back();
      for (int r = 0; r < 2; ++r) {
        double sum = 0, sq = 0;
        for (int64_t c = 0; c < cols; ++c) {
          sum += a[0].data[r * cols + c];
          sq += a[0].data[r * cols + c] * a[0].data[r * cols + c];
        }
        if (net.name == "synthetic_resnet") EXPECT_NEAR(sum, 1.0, 1e-5);
        else EXPECT_NEAR(std::sqrt(sq), 1.0, 1e-5);
      }
    }
  }
}

TEST(SyntheticNetsTest, SeedsChangeWeights) {
  const auto x = Input(32 * 32 * 3);
  auto a = rt::Model::FromGraph(BuildSyntheticMobileNet(1))->Run({{{1, 32, 32, 3}, x.data()}});
  auto b = rt::Model::FromGraph(BuildSyntheticMobileNet(2))->Run({{{1, 32, 32, 3}, x.data()}});
  double diff = 0;
  for (size_t i = 0; i < a[0].data.size(); ++i) diff += std::fabs(a[0].data[i] - b[0].data[i]);
  EXPECT_GT(diff, 0.1);
}

}  // namespace
}  // namespace facelib::models
