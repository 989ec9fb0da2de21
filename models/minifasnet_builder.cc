#include "models/minifasnet_builder.h"

#include "models/torch_layers.h"
#include "runtime/error.h"

namespace facelib::models {

namespace {

class MiniFasNetBuilder {
 public:
  MiniFasNetBuilder(rt::Graph* g, const WeightMap& w) : L_(g, w), g_(*g), w_(w) {}

  // Conv_block: conv (no bias) + BatchNorm2d + PReLU.
  int ConvBlock(int x, const std::string& p, int stride, int pad, int groups) {
    int t = L_.Conv(x, p + ".conv.weight", "", stride, pad, groups, p + ".conv");
    t = L_.BatchNorm(t, p + ".bn");
    return L_.PRelu(t, p + ".prelu.weight");
  }
  // Linear_block: conv (no bias) + BatchNorm2d.
  int LinearBlock(int x, const std::string& p, int stride, int pad, int groups) {
    const int t = L_.Conv(x, p + ".conv.weight", "", stride, pad, groups, p + ".conv");
    return L_.BatchNorm(t, p + ".bn");
  }
  int Channels(const std::string& conv_weight) const { return static_cast<int>(w_.Get(conv_weight, {-1, -1, -1, -1}).shape[0]); }

  // Depth_Wise / Depth_Wise_SE: 1x1 expand, 3x3 depthwise, 1x1 project,
  // optional SE, optional identity shortcut.
  int DepthWise(int x, const std::string& p, int stride, bool residual) {
    int t = ConvBlock(x, p + ".conv", 1, 0, 1);
    t = ConvBlock(t, p + ".conv_dw", stride, 1, Channels(p + ".conv_dw.conv.weight"));
    t = LinearBlock(t, p + ".project", 1, 0, 1);
    if (w_.Has(p + ".se_module.fc1.weight")) {
      ++se_blocks_;
      t = SqueezeExcite(t, p + ".se_module");
    }
    if (residual) t = g_.AddNode1("Add", {x, t}, {}, p + ".add");
    return t;
  }
  // SEModule: x * sigmoid(bn2(fc2(relu(bn1(fc1(mean_hw(x))))))).
  int SqueezeExcite(int x, const std::string& p) {
    int s = g_.AddNode1("GlobalAvgPool", {x}, {{"keepdims", 1}}, p + ".pool");
    s = L_.Conv(s, p + ".fc1.weight", "", 1, 0, 1, p + ".fc1");
    s = L_.BatchNorm(s, p + ".bn1");
    s = L_.Unary("Relu", s, p + ".relu");
    s = L_.Conv(s, p + ".fc2.weight", "", 1, 0, 1, p + ".fc2");
    s = L_.BatchNorm(s, p + ".bn2");
    s = L_.Unary("Sigmoid", s, p + ".sigmoid");
    return g_.AddNode1("Mul", {x, s}, {}, p + ".scale");
  }
  int Residual(int x, const std::string& p) {
    int blocks = 0;
    while (w_.Has(p + ".model." + std::to_string(blocks) + ".conv.conv.weight")) ++blocks;
    if (blocks == 0) throw Error(ErrorCode::kInvalidModel, w_.label() + ": no blocks in '" + p + "'");
    for (int i = 0; i < blocks; ++i) x = DepthWise(x, p + ".model." + std::to_string(i), 1, true);
    return x;
  }

  TorchLayers L_;
  rt::Graph& g_;
  const WeightMap& w_;
  int se_blocks_ = 0;
};

}  // namespace

rt::Graph BuildMiniFasNet(MiniFasNetVariant variant, const WeightMap& w) {
  rt::Graph g;
  g.producer = "facelib minifasnet builder";
  MiniFasNetBuilder b(&g, w);
  TorchLayers& L = b.L_;
  const int x = g.AddInput("image", {-1, 80, 80, 3});
  int t = b.ConvBlock(x, "conv1", 2, 1, 1);                                      // 40x40
  t = b.ConvBlock(t, "conv2_dw", 1, 1, b.Channels("conv2_dw.conv.weight"));
  t = b.DepthWise(t, "conv_23", 2, false);                                       // 20x20
  t = b.Residual(t, "conv_3");
  t = b.DepthWise(t, "conv_34", 2, false);                                       // 10x10
  t = b.Residual(t, "conv_4");
  t = b.DepthWise(t, "conv_45", 2, false);                                       // 5x5
  t = b.Residual(t, "conv_5");
  t = b.ConvBlock(t, "conv_6_sep", 1, 0, 1);
  // Global depthwise conv: its kernel covers the whole 5x5 map.
  t = b.LinearBlock(t, "conv_6_dw", 1, 0, b.Channels("conv_6_dw.conv.weight"));  // 1x1
  t = g.AddNode1("Flatten", {t}, {{"axis", 1}}, "flatten");
  t = L.Linear(t, "linear.weight", "");
  t = L.BatchNorm(t, "bn");
  // Dropout sits here in training only.
  const int logits = L.Linear(t, "prob.weight", "", nullptr, "logits");
  g.MarkOutput(logits);
  g.MarkOutput(g.AddNode1("Softmax", {logits}, {{"axis", -1}}, "probs"));

  const bool se = b.se_blocks_ > 0;
  if (variant == MiniFasNetVariant::kV1SE && !se)
    throw Error(ErrorCode::kInvalidModel, w.label() + ": MiniFASNetV1SE checkpoint without SE blocks");
  if (variant == MiniFasNetVariant::kV2 && se)
    throw Error(ErrorCode::kInvalidModel, w.label() + ": MiniFASNetV2 checkpoint with SE blocks (is it V1SE?)");
  auto& m = g.metadata;
  m["architecture"] = variant == MiniFasNetVariant::kV2 ? "minifasnet-v2" : "minifasnet-v1se";
  m["task"] = "face anti-spoofing";
  m["input_layout"] = "NHWC";
  m["input_size"] = "80x80";
  m["input_color"] = "BGR";
  m["input_mean"] = "0,0,0";
  m["input_scale"] = "1";
  m["input_crop"] = variant == MiniFasNetVariant::kV2 ? "face box scaled by 2.7" : "face box scaled by 4.0";
  m["labels"] = "spoof,real,spoof";  // classes 0 and 2 are two kinds of attack
  m["output_probs"] = "softmax over 3 classes; class 1 = real face";
  return g;
}

}  // namespace facelib::models
