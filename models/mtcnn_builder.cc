#include "models/mtcnn_builder.h"

#include "models/torch_layers.h"
#include "runtime/error.h"

namespace facelib::models {

MtcnnNet ParseMtcnnNet(const std::string& name) {
  if (name == "pnet") return MtcnnNet::kPNet;
  if (name == "rnet") return MtcnnNet::kRNet;
  if (name == "onet") return MtcnnNet::kONet;
  throw Error(ErrorCode::kInvalidArgument, "MTCNN net must be pnet, rnet or onet, not '" + name + "'");
}

const char* MtcnnNetName(MtcnnNet net) {
  switch (net) {
    case MtcnnNet::kPNet: return "pnet";
    case MtcnnNet::kRNet: return "rnet";
    case MtcnnNet::kONet: return "onet";
  }
  return "?";
}

int64_t MtcnnParamCount(MtcnnNet net) {
  switch (net) {
    case MtcnnNet::kPNet: return 6632;
    case MtcnnNet::kRNet: return 100178;
    case MtcnnNet::kONet: return 389040;
  }
  return 0;
}

namespace {

void Metadata(rt::Graph* g, MtcnnNet net) {
  auto& m = g->metadata;
  m["architecture"] = std::string("mtcnn-") + MtcnnNetName(net);
  m["task"] = "face detection (MTCNN cascade stage)";
  m["input_layout"] = "NHWC, upright image (not transposed)";
  m["input_color"] = "RGB";
  m["input_mean"] = "127.5,127.5,127.5";
  m["input_scale"] = "0.0078125";
  m["input_size"] = net == MtcnnNet::kPNet ? "any HxW >= 12x12 (12x12 cell, stride 2)"
                    : net == MtcnnNet::kRNet ? "24x24"
                                             : "48x48";
  m["output_prob"] = "softmax [not face, face]";
  m["output_bbox_reg"] = "box offsets dx1, dy1, dx2, dy2 (fractions of the box size)";
  if (net == MtcnnNet::kONet) m["output_landmarks"] = "x1..x5, y1..y5 as fractions of the box";
}

// conv (3x3 or 2x2, VALID) + PReLU
int ConvPrelu(TorchLayers& L, int x, const std::string& conv, const std::string& prelu) {
  const int c = L.Conv(x, conv + ".weight", conv + ".bias", 1, 0);
  return L.PRelu(c, prelu + ".weight");
}

}  // namespace

rt::Graph BuildMtcnn(MtcnnNet net, const WeightMap& w) {
  rt::Graph g;
  g.producer = "facelib mtcnn builder";
  TorchLayers L(&g, w);
  auto softmax = [&](int x, const std::string& name) { return L.Unary("Softmax", x, name, {{"axis", -1}}); };
  if (net == MtcnnNet::kPNet) {
    // Fully convolutional, so the input size is free. ceil_mode 2x2/2 pooling
    // without base padding equals SAME padding, which adapts to odd sizes.
    const int x = g.AddInput("image", {-1, -1, -1, 3});
    int t = ConvPrelu(L, x, "conv1", "prelu1");
    t = g.AddNode1("MaxPool", {t},
                   {{"kernel", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}, {"padding", "SAME"}},
                   "pool1");
    t = ConvPrelu(L, t, "conv2", "prelu2");
    t = ConvPrelu(L, t, "conv3", "prelu3");
    g.MarkOutput(softmax(L.Conv(t, "conv4_1.weight", "conv4_1.bias", 1, 0), "prob"));
    g.MarkOutput(L.Conv(t, "conv4_2.weight", "conv4_2.bias", 1, 0, 1, "bbox_reg"));
  } else if (net == MtcnnNet::kRNet) {
    const int x = g.AddInput("image", {-1, 24, 24, 3});
    int t = ConvPrelu(L, x, "conv1", "prelu1");          // 22x22x28
    t = L.MaxPoolCeil(t, 3, 2, 22, 22, "pool1");          // 11x11
    t = ConvPrelu(L, t, "conv2", "prelu2");               // 9x9x48
    t = L.MaxPoolCeil(t, 3, 2, 9, 9, "pool2");            // 4x4
    t = ConvPrelu(L, t, "conv3", "prelu3");               // 3x3x64
    t = g.AddNode1("Flatten", {t}, {{"axis", 1}}, "flatten");
    const auto order = NwhcFlattenOrder(3, 3, 64);
    t = L.Linear(t, "dense4.weight", "dense4.bias", &order);
    t = L.PRelu(t, "prelu4.weight");
    g.MarkOutput(softmax(L.Linear(t, "dense5_1.weight", "dense5_1.bias"), "prob"));
    g.MarkOutput(L.Linear(t, "dense5_2.weight", "dense5_2.bias", nullptr, "bbox_reg"));
  } else {
    const int x = g.AddInput("image", {-1, 48, 48, 3});
    int t = ConvPrelu(L, x, "conv1", "prelu1");          // 46x46x32
    t = L.MaxPoolCeil(t, 3, 2, 46, 46, "pool1");          // 23x23
    t = ConvPrelu(L, t, "conv2", "prelu2");               // 21x21x64
    t = L.MaxPoolCeil(t, 3, 2, 21, 21, "pool2");          // 10x10
    t = ConvPrelu(L, t, "conv3", "prelu3");               // 8x8x64
    t = L.MaxPoolCeil(t, 2, 2, 8, 8, "pool3");            // 4x4
    t = ConvPrelu(L, t, "conv4", "prelu4");               // 3x3x128
    t = g.AddNode1("Flatten", {t}, {{"axis", 1}}, "flatten");
    const auto order = NwhcFlattenOrder(3, 3, 128);
    t = L.Linear(t, "dense5.weight", "dense5.bias", &order);
    t = L.PRelu(t, "prelu5.weight");
    g.MarkOutput(softmax(L.Linear(t, "dense6_1.weight", "dense6_1.bias"), "prob"));
    g.MarkOutput(L.Linear(t, "dense6_2.weight", "dense6_2.bias", nullptr, "bbox_reg"));
    g.MarkOutput(L.Linear(t, "dense6_3.weight", "dense6_3.bias", nullptr, "landmarks"));
  }
  Metadata(&g, net);
  return g;
}

}  // namespace facelib::models
