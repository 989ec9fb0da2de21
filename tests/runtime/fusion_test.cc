// Load-time conv fusions (runtime/model.cc): Mul(x, Sigmoid(x)) -> SiLU, the
// per-channel affine after a conv, 1x1 + depthwise pairs with their 2x2 max
// pool, residual adds. Each fused model is checked against the same graph run
// without the load-time passes (one kernel per node) and against the scalar
// reference, and the fused node count is checked so that a pass that stops
// firing is noticed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops/conv2d.h"
#include "ops/pool.h"
#include "runtime/model.h"
#include "tests/ops/test_util.h"

namespace facelib::rt {
namespace {

using facelib::testing::RandomVector;

int Const(Graph* g, const std::string& name, Shape shape, uint32_t seed, float lo = -0.5f, float hi = 0.5f) {
  const auto v = RandomVector(static_cast<size_t>(NumElements(shape)), seed, lo, hi);
  return g->AddConstant(name, shape, Constant::FromFloats(v));
}

// A conv with weights [oc, k, k, ic / groups], bias, SAME padding.
int Conv(Graph* g, int x, int ic, int oc, int k, int groups, uint32_t seed, const char* act = "none",
         int stride = 1) {
  const std::string name = "conv" + std::to_string(seed);
  const int w = Const(g, name + "/w", {oc, k, k, ic / groups}, seed);
  const int b = Const(g, name + "/b", {oc}, seed + 1, -0.1f, 0.1f);
  return g->AddNode1("Conv2D", {x, w, b},
                     {{"padding", "SAME"},
                      {"groups", groups},
                      {"activation", act},
                      {"strides", std::vector<int64_t>{stride, stride}}},
                     name);
}

size_t CountOps(const Model& m, const std::string& op) {
  size_t n = 0;
  for (const NodeDef& node : m.graph().nodes) n += node.op == op;
  return n;
}

// Runs the graph with and without the load-time passes, with 1 and 3 threads,
// and requires the same outputs; returns the optimised model.
std::shared_ptr<const Model> CheckAgainstUnfused(const Graph& g, const Shape& in_shape, uint32_t seed,
                                                 float tol = 2e-5f) {
  auto fused = Model::FromGraph(g);
  ModelOptions plain;
  plain.optimize = false;
  auto unfused = Model::FromGraph(g, plain);
  const auto x = RandomVector(static_cast<size_t>(NumElements(in_shape)), seed);
  const auto want = unfused->Run({{in_shape, x.data()}});
  for (int threads : {1, 3}) {
    RunOptions ro;
    ro.num_threads = threads;
    const auto got = fused->Run({{in_shape, x.data()}}, ro);
    EXPECT_EQ(got.size(), want.size());
    for (size_t o = 0; o < std::min(got.size(), want.size()); ++o) {
      EXPECT_EQ(got[o].shape, want[o].shape);
      if (got[o].data.size() != want[o].data.size()) continue;
      float scale = 1.0f;
      for (float v : want[o].data) scale = std::max(scale, std::fabs(v));
      for (size_t i = 0; i < want[o].data.size(); ++i) {
        if (std::fabs(got[o].data[i] - want[o].data[i]) > tol * scale) {
          ADD_FAILURE() << "output " << o << " element " << i << " threads " << threads << ": "
                        << got[o].data[i] << " vs " << want[o].data[i];
          break;
        }
      }
    }
  }
  return fused;
}

TEST(FusionTest, MulSigmoidBecomesSiluInTheConv) {
  for (int order = 0; order < 2; ++order) {
    Graph g;
    const int x = g.AddInput("x", {1, -1, -1, 8});
    const int c = Conv(&g, x, 8, 16, 3, 1, 10);
    const int s = g.AddNode1("Sigmoid", {c});
    g.MarkOutput(g.AddNode1("Mul", order == 0 ? std::vector<int>{c, s} : std::vector<int>{s, c}));
    auto m = CheckAgainstUnfused(g, {1, 9, 11, 8}, 11);
    ASSERT_EQ(m->num_nodes(), 1u);
    EXPECT_EQ(m->graph().nodes[0].GetString("activation"), "silu");
    // x * sigmoid(x) at one element, from the reference conv.
    ops::Conv2DParams p;
    p.in_h = 9;
    p.in_w = 11;
    p.in_c = 8;
    p.out_c = 16;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.out_h = 9;
    p.out_w = 11;
    const auto xv = RandomVector(9 * 11 * 8, 11);
    std::vector<float> ref(9 * 11 * 16);
    const auto* w = g.tensors[g.nodes[0].inputs[1]].constant->f32;
    const auto* b = g.tensors[g.nodes[0].inputs[2]].constant->f32;
    ops::Conv2DRef(p, xv.data(), w, b, ref.data());
    const auto out = m->Run({{{1, 9, 11, 8}, xv.data()}});
    const float v = ref[123];
    EXPECT_NEAR(out[0].data[123], v / (1.0f + std::exp(-v)), 1e-5f);
  }
}

TEST(FusionTest, SigmoidWithOtherUsesStays) {
  Graph g;
  const int x = g.AddInput("x", {1, 6, 6, 4});
  const int c = Conv(&g, x, 4, 4, 1, 1, 20);
  const int s = g.AddNode1("Sigmoid", {c});
  g.MarkOutput(g.AddNode1("Mul", {c, s}));
  g.MarkOutput(s);  // the sigmoid is an output too
  auto m = CheckAgainstUnfused(g, {1, 6, 6, 4}, 21);
  EXPECT_EQ(CountOps(*m, "Sigmoid"), 1u);
  EXPECT_EQ(CountOps(*m, "Mul"), 1u);
}

TEST(FusionTest, ChannelAffineAfterTheActivationMovesIntoTheConv) {
  // conv(relu) -> Mul([C]) -> Add([1,1,1,C]) as tfjs exports a BatchNorm after the ReLU.
  Graph g;
  const int x = g.AddInput("x", {1, -1, -1, 6});
  const int c = Conv(&g, x, 6, 20, 3, 1, 30, "relu");
  const int m1 = g.AddNode1("Mul", {c, Const(&g, "scale", {20}, 31, -2.0f, 2.0f)});
  g.MarkOutput(g.AddNode1("Add", {Const(&g, "shift", {1, 1, 1, 20}, 32), m1}));
  auto m = CheckAgainstUnfused(g, {1, 13, 10, 6}, 33);
  ASSERT_EQ(m->num_nodes(), 1u);
  EXPECT_EQ(m->graph().nodes[0].inputs.size(), 6u);
  // A Mul by a per-pixel tensor is not a channel affine and stays.
  Graph h;
  const int y = h.AddInput("y", {1, 5, 5, 6});
  const int d = Conv(&h, y, 6, 6, 3, 1, 34, "relu");
  h.MarkOutput(h.AddNode1("Mul", {d, Const(&h, "map", {1, 5, 5, 1}, 35)}));
  auto k = CheckAgainstUnfused(h, {1, 5, 5, 6}, 36);
  EXPECT_EQ(k->num_nodes(), 2u);
}

TEST(FusionTest, PointwiseDepthwisePairWithMaxPool) {
  // YuNet's block: 1x1 (no activation) -> depthwise 3x3 + ReLU -> MaxPool 2x2.
  Graph g;
  const int x = g.AddInput("x", {-1, -1, -1, 16});
  const int a = Conv(&g, x, 16, 24, 1, 1, 40);
  const int b = Conv(&g, a, 24, 24, 3, 24, 42, "relu");
  const int p = g.AddNode1("MaxPool", {b}, {{"kernel", std::vector<int64_t>{2, 2}},
                                           {"strides", std::vector<int64_t>{2, 2}},
                                           {"padding", "VALID"}});
  const int c = Conv(&g, p, 24, 24, 1, 1, 44);
  g.MarkOutput(Conv(&g, c, 24, 24, 3, 24, 46, "relu"));
  for (const Shape& s : {Shape{1, 20, 17, 16}, Shape{2, 9, 12, 16}}) {
    auto m = CheckAgainstUnfused(g, s, 47);
    EXPECT_EQ(m->num_nodes(), 2u);
    EXPECT_EQ(CountOps(*m, "Conv2DPair"), 2u);
    EXPECT_EQ(CountOps(*m, "MaxPool"), 0u);
  }
}

TEST(FusionTest, DepthwisePointwisePairWithResidual) {
  // BlazeFace's block: depthwise 3x3 -> 1x1 -> Add(skip) + ReLU.
  Graph g;
  const int x = g.AddInput("x", {1, -1, -1, 24});
  const int a = Conv(&g, x, 24, 24, 3, 24, 50);
  const int b = Conv(&g, a, 24, 24, 1, 1, 52);
  g.MarkOutput(g.AddNode1("Add", {x, b}, {{"activation", "relu"}}));
  auto m = CheckAgainstUnfused(g, {1, 16, 19, 24}, 53);
  ASSERT_EQ(m->num_nodes(), 1u);
  EXPECT_EQ(m->graph().nodes[0].op, "Conv2DPair");
  EXPECT_EQ(m->graph().nodes[0].inputs.size(), 6u);
  EXPECT_EQ(m->graph().nodes[0].GetString("activation"), "relu");
}

TEST(FusionTest, IntermediateWithOtherUsesIsNotFused) {
  Graph g;
  const int x = g.AddInput("x", {1, 8, 8, 8});
  const int a = Conv(&g, x, 8, 8, 1, 1, 60);
  g.MarkOutput(Conv(&g, a, 8, 8, 3, 8, 62, "relu"));
  g.MarkOutput(a);
  auto m = CheckAgainstUnfused(g, {1, 8, 8, 8}, 63);
  EXPECT_EQ(CountOps(*m, "Conv2DPair"), 0u);
  EXPECT_EQ(m->num_nodes(), 2u);
}

TEST(FusionTest, ResidualIntoAPlainConvAndBroadcastResidual) {
  // A 3x3 conv + residual of the same shape (fused in the epilogue) and a
  // 1x1 conv + a [N,1,1,C] run-time tensor (fused, added by broadcasting).
  Graph g;
  const int x = g.AddInput("x", {1, -1, -1, 12});
  const int a = Conv(&g, x, 12, 12, 3, 1, 70);
  const int r = g.AddNode1("Add", {a, x}, {{"activation", "relu6"}});
  const int pooled = g.AddNode1("GlobalAvgPool", {r}, {{"keepdims", 1}});
  const int b = Conv(&g, r, 12, 12, 1, 1, 72, "none", 2);
  g.MarkOutput(g.AddNode1("Add", {pooled, b}));
  auto m = CheckAgainstUnfused(g, {1, 11, 14, 12}, 73);
  EXPECT_EQ(CountOps(*m, "Add"), 0u);
  EXPECT_EQ(CountOps(*m, "Conv2D"), 2u);
}

TEST(FusionTest, Conv2DPairRunsUnoptimised) {
  // The fused op is an ordinary node: a graph that holds one (as the profiler's
  // one-node models do) runs without the passes.
  Graph g;
  const int x = g.AddInput("x", {1, 10, 10, 8});
  const int w1 = Const(&g, "w1", {16, 1, 1, 8}, 80);
  const int w2 = Const(&g, "w2", {16, 3, 3, 1}, 81);
  g.MarkOutput(g.AddNode1("Conv2DPair", {x, w1, -1, w2, -1},
                          {{"order", "pointwise_depthwise"},
                           {"padding", "SAME"},
                           {"max_pool", std::vector<int64_t>{2, 2}}}));
  ModelOptions plain;
  plain.optimize = false;
  auto m = Model::FromGraph(g, plain);
  const auto xv = RandomVector(10 * 10 * 8, 82);
  const auto out = m->Run({{{1, 10, 10, 8}, xv.data()}});
  ASSERT_EQ(out[0].shape, (Shape{1, 5, 5, 16}));
  // Reference: 1x1, depthwise 3x3 SAME, max pool.
  ops::Conv2DParams p1;
  p1.in_h = p1.in_w = p1.out_h = p1.out_w = 10;
  p1.in_c = 8;
  p1.out_c = 16;
  std::vector<float> mid(10 * 10 * 16), dw(10 * 10 * 16), want(5 * 5 * 16);
  ops::Conv2DRef(p1, xv.data(), g.tensors[w1].constant->f32, nullptr, mid.data());
  ops::Conv2DParams p2 = p1;
  p2.in_c = 16;
  p2.groups = 16;
  p2.kernel_h = p2.kernel_w = 3;
  p2.pad_top = p2.pad_left = p2.pad_bottom = p2.pad_right = 1;
  ops::Conv2DRef(p2, mid.data(), g.tensors[w2].constant->f32, nullptr, dw.data());
  ops::PoolParams pp;
  pp.in_h = pp.in_w = 10;
  pp.channels = 16;
  pp.out_h = pp.out_w = 5;
  pp.kernel_h = pp.kernel_w = pp.stride_h = pp.stride_w = 2;
  ops::PoolRef(pp, dw.data(), want.data());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(out[0].data[i], want[i], 1e-5f) << i;
}

TEST(FusionTest, BadConv2DPairsAreRejected) {
  auto build = [](const std::map<std::string, Attr>& attrs, Shape w2_shape) {
    Graph g;
    const int x = g.AddInput("x", {1, 6, 6, 8});
    const int w1 = Const(&g, "w1", {8, 1, 1, 8}, 90);
    const int w2 = Const(&g, "w2", w2_shape, 91);
    g.MarkOutput(g.AddNode1("Conv2DPair", {x, w1, -1, w2, -1}, attrs));
    ModelOptions plain;
    plain.optimize = false;
    return Model::FromGraph(g, plain);
  };
  EXPECT_NO_THROW(build({{"order", "pointwise_depthwise"}}, {8, 3, 3, 1}));
  EXPECT_THROW(build({{"order", "sideways"}}, {8, 3, 3, 1}), Error);
  EXPECT_THROW(build({{"order", "pointwise_depthwise"}}, {8, 3, 3, 2}), Error);  // not depthwise
  EXPECT_THROW(build({{"order", "depthwise_pointwise"}}, {8, 3, 3, 1}), Error);  // wrong order
  EXPECT_THROW(build({{"order", "pointwise_depthwise"}, {"max_pool", std::vector<int64_t>{3, 3}}}, {8, 3, 3, 1}),
               Error);
}

}  // namespace
}  // namespace facelib::rt
