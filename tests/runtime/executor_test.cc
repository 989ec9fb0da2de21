// Executor tests on hand-built graphs: branches, concat, residual adds, views,
// BatchNorm folding, activation fusion, re-planning, memory reuse, concurrent runs.
#include <gtest/gtest.h>

#include <thread>

#include "ops/conv2d.h"
#include "ops/dense.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/pool.h"
#include "ops/softmax.h"
#include "runtime/model.h"
#include "runtime/model_file.h"
#include "tests/ops/test_util.h"

namespace facelib::rt {
namespace {

using facelib::testing::RandomVector;

struct ConvSpec {
  int oc, kh, kw, groups;
  std::vector<float> w, b;
};

ConvSpec MakeConv(int ic, int oc, int k, int groups, uint32_t seed) {
  ConvSpec s{oc, k, k, groups, RandomVector(static_cast<size_t>(oc) * k * k * (ic / groups), seed, -0.5f, 0.5f),
             RandomVector(oc, seed + 1, -0.1f, 0.1f)};
  return s;
}

int AddConv(Graph* g, int x, const ConvSpec& s, const std::string& name, const char* act = "none") {
  const int ic_g = static_cast<int>(s.w.size() / (s.oc * s.kh * s.kw));
  const int w = g->AddConstant(name + "/w", {s.oc, s.kh, s.kw, ic_g}, Constant::FromFloats(s.w));
  const int b = g->AddConstant(name + "/b", {s.oc}, Constant::FromFloats(s.b));
  return g->AddNode1("Conv2D", {x, w, b}, {{"padding", "SAME"}, {"groups", s.groups}, {"activation", act}}, name);
}

std::vector<float> RefConv(const std::vector<float>& x, int n, int h, int w, int c, const ConvSpec& s,
                           ops::Activation act) {
  ops::Conv2DParams p;
  p.batch = n;
  p.in_h = h;
  p.in_w = w;
  p.in_c = c;
  p.out_c = s.oc;
  p.kernel_h = s.kh;
  p.kernel_w = s.kw;
  p.groups = s.groups;
  p.act = act;
  ops::ResolvePadding(ops::PaddingMode::kSame, h, s.kh, 1, 1, &p.pad_top, &p.pad_bottom);
  ops::ResolvePadding(ops::PaddingMode::kSame, w, s.kw, 1, 1, &p.pad_left, &p.pad_right);
  p.out_h = h;
  p.out_w = w;
  std::vector<float> y(static_cast<size_t>(n) * h * w * s.oc);
  ops::Conv2DRef(p, x.data(), s.w.data(), s.b.data(), y.data());
  return y;
}

// x -> conv3x3+relu (a) -> {conv1x1 (b), depthwise3x3 (c)} -> add+relu (d) -> concat(d, a) (e)
//   -> maxpool 2x2 (f) -> global avg (g) -> dense (h) -> softmax (out0); out1 = a.
struct Net {
  ConvSpec c1 = MakeConv(3, 8, 3, 1, 10), c2 = MakeConv(8, 8, 1, 1, 20), c3 = MakeConv(8, 8, 3, 8, 30);
  std::vector<float> dw = RandomVector(16 * 5, 40), db = RandomVector(5, 41);
  Graph graph;
  Net() {
    Graph& g = graph;
    const int x = g.AddInput("image", {-1, -1, -1, 3});
    const int a = AddConv(&g, x, c1, "c1", "relu");
    const int b = AddConv(&g, a, c2, "c2");
    const int c = AddConv(&g, a, c3, "c3");
    const int d = g.AddNode1("Add", {b, c}, {{"activation", "relu"}}, "residual");
    const int e = g.AddNode1("Concat", {d, a}, {{"axis", -1}}, "concat");
    const int f = g.AddNode1("MaxPool", {e}, {{"kernel", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}, {"padding", "VALID"}});
    const int gp = g.AddNode1("GlobalAvgPool", {f}, {{"keepdims", 0}});
    const int wt = g.AddConstant("fc/w", {16, 5}, Constant::FromFloats(dw));
    const int bt = g.AddConstant("fc/b", {5}, Constant::FromFloats(db));
    const int h = g.AddNode1("Dense", {gp, wt, bt}, {}, "fc");
    const int out = g.AddNode1("Softmax", {h}, {{"axis", -1}}, "probs");
    g.MarkOutput(out);
    g.MarkOutput(a);
  }
  std::vector<std::vector<float>> Reference(const std::vector<float>& x, int n, int hh, int ww) const {
    auto a = RefConv(x, n, hh, ww, 3, c1, ops::Activation::Relu());
    auto b = RefConv(a, n, hh, ww, 8, c2, {});
    auto c = RefConv(a, n, hh, ww, 8, c3, {});
    std::vector<float> d(b.size());
    for (size_t i = 0; i < d.size(); ++i) d[i] = std::max(0.0f, b[i] + c[i]);
    std::vector<float> e(d.size() * 2);
    for (size_t px = 0; px < d.size() / 8; ++px)
      for (int k = 0; k < 8; ++k) {
        e[px * 16 + k] = d[px * 8 + k];
        e[px * 16 + 8 + k] = a[px * 8 + k];
      }
    ops::PoolParams pp;
    pp.batch = n;
    pp.in_h = hh;
    pp.in_w = ww;
    pp.channels = 16;
    pp.kernel_h = pp.kernel_w = pp.stride_h = pp.stride_w = 2;
    pp.out_h = hh / 2;
    pp.out_w = ww / 2;
    std::vector<float> f(static_cast<size_t>(n) * pp.out_h * pp.out_w * 16);
    ops::PoolRef(pp, e.data(), f.data());
    std::vector<float> gp(n * 16);
    ops::GlobalPoolRef(ops::PoolType::kAvg, n, pp.out_h * pp.out_w, 16, f.data(), gp.data());
    std::vector<float> h(n * 5), out(n * 5);
    ops::DenseParams dp{n, 16, 5, {}};
    ops::DenseRef(dp, gp.data(), dw.data(), db.data(), h.data());
    ops::SoftmaxRef({static_cast<size_t>(n), 5, 1}, h.data(), out.data());
    return {out, a};
  }
};

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i]))) << i;
}

TEST(ExecutorTest, BranchesConcatResidualMatchReference) {
  Net net;
  auto model = Model::FromGraph(net.graph);
  const int n = 2, h = 10, w = 12;
  const auto x = RandomVector(static_cast<size_t>(n) * h * w * 3, 5);
  const auto out = model->Run({{{n, h, w, 3}, x.data()}});
  const auto ref = net.Reference(x, n, h, w);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape, (Shape{n, 5}));
  EXPECT_EQ(out[1].shape, (Shape{n, h, w, 8}));
  ExpectClose(out[0].data, ref[0]);
  ExpectClose(out[1].data, ref[1]);
  float sum = 0;
  for (int i = 0; i < 5; ++i) sum += out[0].data[i];
  EXPECT_NEAR(sum, 1.0f, 1e-5f);
}

TEST(ExecutorTest, SurvivesSaveAndLoad) {
  Net net;
  const std::string path = ::testing::TempDir() + "/net_" + std::to_string(::getpid()) + ".flm";
  SaveGraph(net.graph, path);
  auto model = Model::Load(path);
  const auto x = RandomVector(8 * 8 * 3, 6);
  const auto out = model->Run({{{1, 8, 8, 3}, x.data()}});
  ExpectClose(out[0].data, net.Reference(x, 1, 8, 8)[0]);
  std::remove(path.c_str());
}

TEST(ExecutorTest, ReplansWhenInputSizeChanges) {
  Net net;
  auto model = Model::FromGraph(net.graph);
  Session session(model);
  size_t last_arena = 0;
  for (auto [n, h, w] : std::vector<std::tuple<int, int, int>>{{1, 8, 8}, {1, 16, 14}, {3, 6, 6}, {1, 8, 8}}) {
    const auto x = RandomVector(static_cast<size_t>(n) * h * w * 3, 100 + h);
    const auto out = session.Run({{{n, h, w, 3}, x.data()}});
    ExpectClose(out[0].data, net.Reference(x, n, h, w)[0]);
    EXPECT_GT(session.arena_bytes(), 0u);
    if (h == 16) EXPECT_GT(session.arena_bytes(), last_arena);
    last_arena = session.arena_bytes();
  }
  // Plans are cached per input shape.
  EXPECT_EQ(model->GetPlan({{1, 8, 8, 3}}).get(), model->GetPlan({{1, 8, 8, 3}}).get());
}

TEST(ExecutorTest, MemoryPlanReusesBuffers) {
  // A chain of 8 same-size convs needs only two live activations at a time.
  Graph g;
  int t = g.AddInput("x", {1, 16, 16, 8});
  for (int i = 0; i < 8; ++i) t = AddConv(&g, t, MakeConv(8, 8, 3, 1, 200 + i), "conv" + std::to_string(i), "relu");
  g.MarkOutput(t);
  auto model = Model::FromGraph(g);
  const auto plan = model->GetPlan({{1, 16, 16, 8}});
  const size_t act = 16 * 16 * 8 * 4;
  EXPECT_GE(plan->arena_bytes, 2 * act);
  EXPECT_LE(plan->arena_bytes, 3 * act + 64 * 1024);  // two activations + conv scratch
  EXPECT_GT(plan->naive_bytes, 7 * act);
}

TEST(ExecutorTest, ConcurrentRunsOnOneModel) {
  Net net;
  auto model = Model::FromGraph(net.graph);
  struct Case {
    int n, h, w;
    std::vector<float> x, want;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 4; ++i) {
    Case c{1 + i % 2, 6 + 2 * i, 8 + 2 * i, {}, {}};
    c.x = RandomVector(static_cast<size_t>(c.n) * c.h * c.w * 3, 300 + i);
    c.want = net.Reference(c.x, c.n, c.h, c.w)[0];
    cases.push_back(std::move(c));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 15; ++r) {
        const Case& c = cases[(t + r) % cases.size()];
        RunOptions ro;
        ro.num_threads = 1 + (r % 2);
        const auto out = model->Run({{{c.n, c.h, c.w, 3}, c.x.data()}}, ro);
        for (size_t i = 0; i < c.want.size(); ++i)
          if (std::fabs(out[0].data[i] - c.want[i]) > 1e-4f) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ExecutorTest, BatchNormFoldsIntoConvAndActivationFuses) {
  Graph g;
  const int x = g.AddInput("x", {1, 6, 6, 4});
  const ConvSpec cs = MakeConv(4, 5, 3, 1, 400);
  const int c = AddConv(&g, x, cs, "conv");
  const auto gamma = RandomVector(5, 401, 0.5f, 1.5f), beta = RandomVector(5, 402);
  const auto mean = RandomVector(5, 403), var = RandomVector(5, 404, 0.1f, 2.0f);
  const int bn = g.AddNode1("BatchNorm",
                            {c, g.AddConstant("g", {5}, Constant::FromFloats(gamma)),
                             g.AddConstant("b", {5}, Constant::FromFloats(beta)),
                             g.AddConstant("m", {5}, Constant::FromFloats(mean)),
                             g.AddConstant("v", {5}, Constant::FromFloats(var))},
                            {{"epsilon", 1e-3f}});
  g.MarkOutput(g.AddNode1("Relu", {bn}));
  auto folded = Model::FromGraph(g);
  ModelOptions plain;
  plain.optimize = false;
  auto unfolded = Model::FromGraph(g, plain);
  EXPECT_EQ(folded->num_nodes(), 1u);
  EXPECT_EQ(unfolded->num_nodes(), 3u);
  const auto xv = RandomVector(6 * 6 * 4, 405);
  const auto a = folded->Run({{{1, 6, 6, 4}, xv.data()}});
  const auto b = unfolded->Run({{{1, 6, 6, 4}, xv.data()}});
  ExpectClose(a[0].data, b[0].data, 1e-5f);
  // Independent check of one element against the BatchNorm formula.
  const auto conv = RefConv(xv, 1, 6, 6, 4, cs, {});
  const float want = std::max(0.0f, (conv[7] - mean[2]) / std::sqrt(var[2] + 1e-3f) * gamma[2] + beta[2]);
  EXPECT_NEAR(a[0].data[7], want, 1e-5f);
}

TEST(ExecutorTest, ViewsAliasWithoutCopies) {
  Graph g;
  const int x = g.AddInput("x", {2, 3, 4});
  const int r = g.AddNode1("Reshape", {x}, {{"shape", std::vector<int64_t>{0, -1}}});
  const int f = g.AddNode1("Flatten", {x}, {{"axis", 2}});
  const int c = g.AddConstant("c", {2, 2}, Constant::FromFloats({1, 2, 3, 4}));
  const int rc = g.AddNode1("Reshape", {c}, {{"shape", std::vector<int64_t>{4}}});
  const int s = g.AddNode1("Slice", {r}, {{"begin", std::vector<int64_t>{-1}}, {"end", std::vector<int64_t>{-13}},
                                          {"steps", std::vector<int64_t>{-5}}, {"axes", std::vector<int64_t>{1}}});
  g.MarkOutput(r);
  g.MarkOutput(f);
  g.MarkOutput(rc);
  g.MarkOutput(s);
  auto m = Model::FromGraph(g);
  std::vector<float> xv(24);
  for (int i = 0; i < 24; ++i) xv[i] = static_cast<float>(i);
  const auto out = m->Run({{{2, 3, 4}, xv.data()}});
  EXPECT_EQ(out[0].shape, (Shape{2, 12}));
  EXPECT_EQ(out[1].shape, (Shape{6, 4}));
  EXPECT_EQ(out[2].data, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(out[3].shape, (Shape{2, 3}));
  EXPECT_EQ(out[3].data, (std::vector<float>{11, 6, 1, 23, 18, 13}));
  EXPECT_EQ(m->GetPlan({{2, 3, 4}})->arena_bytes, 64u);  // only the slice output needs memory
}

TEST(ExecutorTest, BadInputsGiveClearErrors) {
  Net net;
  auto model = Model::FromGraph(net.graph);
  std::vector<float> x(1000);
  auto expect = [&](const std::vector<TensorView>& in, const std::string& needle) {
    try {
      model->Run(in);
      ADD_FAILURE() << "expected error " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect({}, "model takes 1 inputs, got 0");
  expect({{{1, 8, 8}, x.data()}}, "input 'image' has shape [1,8,8], the model expects [-1,-1,-1,3]");
  expect({{{1, 8, 8, 4}, x.data()}}, "the model expects [-1,-1,-1,3]");
  expect({{{1, 8, 8, 3}, nullptr}}, "has no data");
  expect({{{1, 1, 1, 3}, x.data()}}, "a 2x2 window does not fit a 1x1 input");
}

}  // namespace
}  // namespace facelib::rt

namespace facelib::rt {
namespace {

TEST(ExecutorTest, ResizeTakesItsSizeFromASecondInput) {
  Graph g;
  const int x = g.AddInput("x", {1, -1, -1, 1});
  const int like = g.AddInput("like", {1, -1, -1, -1});
  g.MarkOutput(g.AddNode1("Resize", {x, like},
                          {{"method", "nearest"}, {"coordinate_mode", "asymmetric"}, {"nearest_mode", "floor"}}));
  auto m = Model::FromGraph(g);
  const std::vector<float> xv = {1, 2, 3, 4, 5, 6};  // 2x3
  const std::vector<float> lv(4 * 5 * 7, 0.0f);
  const auto out = m->Run({{{1, 2, 3, 1}, xv.data()}, {{1, 4, 5, 7}, lv.data()}});
  ASSERT_EQ(out[0].shape, (Shape{1, 4, 5, 1}));
  // src = floor(dst * in / out): rows 0,0,1,1; columns 0,0,1,1,2.
  const std::vector<float> want = {1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 4, 4, 5, 5, 6};
  EXPECT_EQ(out[0].data, want);
}

}  // namespace
}  // namespace facelib::rt

namespace facelib::rt {
namespace {

TEST(ExecutorTest, FoldingKeepsTheBatchNormsActivation) {
  Graph g;
  const int x = g.AddInput("x", {1, 4, 4, 2});
  const int w = g.AddConstant("w", {2, 1, 1, 2}, Constant::FromFloats({1, 0, 0, 1}));
  const int c = g.AddNode1("Conv2D", {x, w});
  const auto one = [&](const char* n, float v) { return g.AddConstant(n, {2}, Constant::FromFloats({v, v})); };
  g.MarkOutput(g.AddNode1("BatchNorm", {c, one("g", 2.0f), one("b", -1.0f), one("m", 0.0f), one("v", 1.0f)},
                          {{"epsilon", 0.0f}, {"activation", "relu6"}}));
  auto m = Model::FromGraph(g);
  EXPECT_EQ(m->num_nodes(), 1u);
  std::vector<float> xv = {-3, 0, 0.25f, 0.5f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                           -1, -2, 0.75f, 1.5f, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};
  const auto out = m->Run({{{1, 4, 4, 2}, xv.data()}});
  for (size_t i = 0; i < xv.size(); ++i)
    EXPECT_FLOAT_EQ(out[0].data[i], std::min(6.0f, std::max(0.0f, 2 * xv[i] - 1))) << i;
}

}  // namespace
}  // namespace facelib::rt
