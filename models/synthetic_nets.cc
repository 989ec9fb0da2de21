#include "models/synthetic_nets.h"

#include <random>

namespace facelib::models {
namespace {

using rt::Attr;
using rt::Constant;
using rt::Graph;
using rt::Storage;

class Builder {
 public:
  Builder(Graph* g, uint32_t seed) : g_(g), rng_(seed) {}

  std::vector<float> Random(size_t n, float scale) {
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return v;
  }
  int Const(const std::string& name, rt::Shape shape, float scale, Storage storage = Storage::kFloat32) {
    return g_->AddConstant(name, shape, Constant::FromFloats(Random(rt::NumElements(shape), scale), storage));
  }
  int Positive(const std::string& name, int64_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng_);
    return g_->AddConstant(name, {n}, Constant::FromFloats(std::move(v)));
  }
  // Conv (no bias) + BatchNorm (+ activation node), as converters emit them before folding.
  int ConvBn(int x, int ic, int oc, int k, int stride, int groups, const std::string& name, const char* act,
             Storage storage = Storage::kFloat32) {
    const float scale = 1.5f / std::sqrt(static_cast<float>(k * k * ic / groups));
    const int w = Const(name + "/w", {oc, k, k, ic / groups}, scale, storage);
    const int c = g_->AddNode1("Conv2D", {x, w, -1},
                               {{"padding", "SAME"},
                                {"strides", std::vector<int64_t>{stride, stride}},
                                {"groups", groups}},
                               name);
    const int bn = g_->AddNode1("BatchNorm",
                                {c, Positive(name + "/gamma", oc, 0.8f, 1.2f), Const(name + "/beta", {oc}, 0.1f),
                                 Const(name + "/mean", {oc}, 0.1f), Positive(name + "/var", oc, 0.5f, 1.5f)},
                                {{"epsilon", 1e-3f}}, name + "/bn");
    if (std::string(act) == "none") return bn;
    if (std::string(act) == "prelu")
      return g_->AddNode1("PRelu", {bn, Positive(name + "/slope", oc, 0.05f, 0.3f)}, {}, name + "/prelu");
    return g_->AddNode1(act, {bn}, {}, name + "/act");
  }

 private:
  Graph* g_;
  std::mt19937 rng_;
};

}  // namespace

Graph BuildSyntheticResNet(uint32_t seed, int width) {
  Graph g;
  g.producer = "facelib synthetic";
  g.metadata["description"] = "synthetic ResNet-style network with random weights";
  Builder b(&g, seed);
  const int x = g.AddInput("image", {-1, -1, -1, 3});
  int t = b.ConvBn(x, 3, width, 3, 2, 1, "stem", "Relu");
  t = g.AddNode1("MaxPool", {t}, {{"kernel", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
                                  {"padding", "SAME"}}, "pool");
  for (int blk = 0; blk < 2; ++blk) {
    const std::string n = "block" + std::to_string(blk);
    const int a = b.ConvBn(t, width, width, 3, 1, 1, n + "/a", "Relu");
    const int c = b.ConvBn(a, width, width, 3, 1, 1, n + "/b", "none");
    t = g.AddNode1("Add", {t, c}, {}, n + "/add");
    t = g.AddNode1("Relu", {t}, {}, n + "/relu");
  }
  const int gp = g.AddNode1("GlobalAvgPool", {t}, {{"keepdims", 0}}, "gap");
  const int logits = g.AddNode1("Dense", {gp, b.Const("fc/w", {width, 7}, 0.5f), b.Const("fc/b", {7}, 0.1f)}, {}, "fc");
  g.MarkOutput(g.AddNode1("Softmax", {logits}, {{"axis", -1}}, "probs"));
  return g;
}

Graph BuildSyntheticMobileNet(uint32_t seed, int width) {
  Graph g;
  g.producer = "facelib synthetic";
  g.metadata["description"] = "synthetic MobileNet-style network with random weights";
  Builder b(&g, seed);
  const int x = g.AddInput("image", {-1, -1, -1, 3});
  int t = b.ConvBn(x, 3, width, 3, 2, 1, "stem", "Relu6", Storage::kFloat16);
  int c = width;
  const char* acts[] = {"Relu6", "HardSwish", "prelu"};
  for (int blk = 0; blk < 3; ++blk) {
    const std::string n = "dw" + std::to_string(blk);
    const int stride = blk == 1 ? 2 : 1;
    const int d = b.ConvBn(t, c, c, blk == 2 ? 5 : 3, stride, c, n + "/depthwise", acts[blk], Storage::kFloat16);
    const int p = b.ConvBn(d, c, 2 * c, 1, 1, 1, n + "/pointwise", acts[blk], Storage::kUInt8);
    c *= 2;
    t = p;
  }
  const int mx = g.AddNode1("GlobalMaxPool", {t}, {{"keepdims", 0}}, "gmp");
  const int av = g.AddNode1("GlobalAvgPool", {t}, {{"keepdims", 0}}, "gap");
  const int cat = g.AddNode1("Concat", {mx, av}, {{"axis", -1}}, "concat");
  const int emb = g.AddNode1("Dense", {cat, b.Const("embed/w", {2 * c, 32}, 0.2f, Storage::kFloat16)}, {}, "embed");
  g.MarkOutput(g.AddNode1("L2Normalize", {emb}, {{"axis", -1}}, "embedding"));
  return g;
}

const std::vector<SyntheticNet>& SyntheticNets() {
  static const std::vector<SyntheticNet> nets = {{"synthetic_resnet", BuildSyntheticResNet},
                                                 {"synthetic_mobilenet", BuildSyntheticMobileNet}};
  return nets;
}

}  // namespace facelib::models
