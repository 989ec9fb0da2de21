#include "models/retinaface_builder.h"

#include <string>

#include "models/torch_layers.h"

namespace facelib::models {

namespace {

// Final_Retinaface.pth comes from the repository's first release, whose MobileNet-0.25 body, FPN and SSH
// use plain ReLU where later revisions use LeakyReLU(0.1): slope 0 here.
constexpr float kLeak = 0.0f;

class RetinaFaceBuilder {
 public:
  RetinaFaceBuilder(rt::Graph* g, const WeightMap& w) : L_(g, w), g_(*g) {}

  int Leaky(int x, const std::string& name) { return L_.Unary("LeakyRelu", x, name, {{"alpha", kLeak}}); }

  // nn.Sequential(conv, bn[, leaky]) stored as PREFIX.0 (conv) and PREFIX.1 (bn).
  int ConvBn(int x, const std::string& p, int stride, int pad, bool leaky, int groups = 1) {
    int t = L_.Conv(x, p + ".0.weight", "", stride, pad, groups, p + ".0");
    t = L_.BatchNorm(t, p + ".1");
    return leaky ? Leaky(t, p + ".act") : t;
  }
  // conv_dw: PREFIX.0/1 depthwise + bn, PREFIX.3/4 pointwise + bn (leaky after each).
  int ConvDw(int x, const std::string& p, int stride) {
    const int c = static_cast<int>(L_.weights().Get(p + ".0.weight", {-1, 1, 3, 3}).shape[0]);
    int t = L_.Conv(x, p + ".0.weight", "", stride, 1, c, p + ".0");
    t = Leaky(L_.BatchNorm(t, p + ".1"), p + ".2");
    t = L_.Conv(t, p + ".3.weight", "", 1, 0, 1, p + ".3");
    return Leaky(L_.BatchNorm(t, p + ".4"), p + ".5");
  }
  int Ssh(int x, const std::string& p) {
    const int a = ConvBn(x, p + ".conv3X3", 1, 1, false);
    const int b1 = ConvBn(x, p + ".conv5X5_1", 1, 1, true);
    const int b = ConvBn(b1, p + ".conv5X5_2", 1, 1, false);
    const int c1 = ConvBn(b1, p + ".conv7X7_2", 1, 1, true);
    const int c = ConvBn(c1, p + ".conv7x7_3", 1, 1, false);
    const int cat = g_.AddNode1("Concat", {a, b, c}, {{"axis", -1}}, p + ".concat");
    return L_.Unary("Relu", cat, p + ".relu");
  }
  // Nearest upsampling to the lateral branch's size, as the FPN does with
  // interpolate(size=lateral.shape[2:]): exact for any input size, not only multiples of 32.
  int UpsampleTo(int x, int like, const std::string& name) {
    return g_.AddNode1("Resize", {x, like},
                       {{"method", "nearest"}, {"coordinate_mode", "asymmetric"}, {"nearest_mode", "floor"}}, name);
  }
  // Head conv on NHWC already has PyTorch's permute(0, 2, 3, 1) layout; the
  // reshape to [N, H*W*anchors, k] needs no transpose.
  int Head(int x, const std::string& p, int k) {
    const int t = L_.Conv(x, p + ".conv1x1.weight", p + ".conv1x1.bias", 1, 0, 1, p);
    return g_.AddNode1("Reshape", {t}, {{"shape", std::vector<int64_t>{0, -1, k}}}, p + ".reshape");
  }

  TorchLayers L_;
  rt::Graph& g_;
};

}  // namespace

rt::Graph BuildRetinaFaceMobileNet025(const WeightMap& w) {
  rt::Graph g;
  g.producer = "facelib retinaface builder";
  RetinaFaceBuilder b(&g, w);
  const int x = g.AddInput("image", {-1, -1, -1, 3});
  int t = b.ConvBn(x, "body.stage1.0", 2, 1, true);
  const int stage1_strides[] = {1, 2, 1, 2, 1};
  for (int i = 1; i <= 5; ++i) t = b.ConvDw(t, "body.stage1." + std::to_string(i), stage1_strides[i - 1]);
  const int c8 = t;
  for (int i = 0; i <= 5; ++i) t = b.ConvDw(t, "body.stage2." + std::to_string(i), i == 0 ? 2 : 1);
  const int c16 = t;
  for (int i = 0; i <= 1; ++i) t = b.ConvDw(t, "body.stage3." + std::to_string(i), i == 0 ? 2 : 1);
  const int c32 = t;

  const int o1 = b.ConvBn(c8, "fpn.output1", 1, 0, true);
  int o2 = b.ConvBn(c16, "fpn.output2", 1, 0, true);
  const int o3 = b.ConvBn(c32, "fpn.output3", 1, 0, true);
  o2 = g.AddNode1("Add", {o2, b.UpsampleTo(o3, o2, "fpn.up3")}, {}, "fpn.add2");
  o2 = b.ConvBn(o2, "fpn.merge2", 1, 1, true);
  int m1 = g.AddNode1("Add", {o1, b.UpsampleTo(o2, o1, "fpn.up2")}, {}, "fpn.add1");
  m1 = b.ConvBn(m1, "fpn.merge1", 1, 1, true);

  const int features[] = {b.Ssh(m1, "ssh1"), b.Ssh(o2, "ssh2"), b.Ssh(o3, "ssh3")};
  auto heads = [&](const std::string& name, int k) {
    std::vector<int> parts;
    for (int i = 0; i < 3; ++i) parts.push_back(b.Head(features[i], name + "." + std::to_string(i), k));
    return parts;
  };
  const int loc = g.AddNode1("Concat", heads("BboxHead", 4), {{"axis", 1}}, "loc");
  const int logits = g.AddNode1("Concat", heads("ClassHead", 2), {{"axis", 1}}, "conf_logits");
  const int landms = g.AddNode1("Concat", heads("LandmarkHead", 10), {{"axis", 1}}, "landms");
  g.MarkOutput(loc);
  g.MarkOutput(g.AddNode1("Softmax", {logits}, {{"axis", -1}}, "conf"));
  g.MarkOutput(landms);

  auto& m = g.metadata;
  m["architecture"] = "retinaface-mnet025";
  m["task"] = "face detection";
  m["input_layout"] = "NHWC";
  m["input_size"] = "any HxW";
  m["input_color"] = "BGR";
  m["input_mean"] = "104,117,123";
  m["input_scale"] = "1";
  m["anchors"] = "steps 8,16,32; min_sizes 16,32 | 64,128 | 256,512; variance 0.1,0.2; order level,row,col,anchor";
  m["output_conf"] = "softmax [background, face]";
  m["output_loc"] = "SSD box offsets (cx, cy, w, h) against the priors";
  m["output_landms"] = "5 points (x, y) offsets against the priors";
  return g;
}

}  // namespace facelib::models
