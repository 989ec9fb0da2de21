#include "models/faceapi_builders.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace facelib::models {

namespace {

using rt::Attr;
using rt::Constant;
using rt::Graph;
using rt::Shape;
using Attrs = std::map<std::string, Attr>;

constexpr float kFaceMeanRgb[3] = {122.782f, 117.001f, 104.298f};
constexpr float kTinyMeanRgb[3] = {117.001f, 114.697f, 97.404f};

std::vector<int64_t> Pair(int64_t v) { return {v, v}; }

// A builder for one network: reads weights by manifest name (remembering which
// were read), converts layouts and emits nodes with fused activations.
class Net {
 public:
  Net(const WeightMap& w, FaceApiArch arch) : w_(w), arch_(arch) {
    g.producer = "facelib faceapi builder";
    g.metadata["architecture"] = std::string("faceapi-") + FaceApiArchName(arch);
    const int s = FaceApiInputSize(arch);
    g.metadata["input_size"] = std::to_string(s) + "x" + std::to_string(s);
    g.metadata["input_layout"] = "NHWC";
    g.metadata["input_color"] = "RGB 0..255 (normalisation is inside the graph)";
    image = g.AddInput("image", {-1, s, s, 3});
  }

  Graph g;
  int image = -1;

  // Fused activation attributes. face-api's only leaky ReLU (TinyYolo's
  // relu(x - 0.1x) + 0.1x) has slope 0.1.
  static Attrs ActAttrs(const char* act) {
    Attrs a = {{"activation", act}};
    if (std::string(act) == "leaky_relu") a["activation_alpha"] = 0.1f;
    return a;
  }

  const WeightTensor& W(const std::string& name, const Shape& shape) {
    used_.insert(name);
    return w_.Get(name, shape);
  }

  int Const(const std::string& name, Shape shape, std::vector<float> v) {
    return g.AddConstant(name, std::move(shape), Constant::FromFloats(std::move(v)));
  }
  int Scalar(const std::string& name, float v) { return Const(name, {1}, {v}); }

  // (x - mean) * scale per channel, as one ChannelAffine.
  int Normalize(int x, const float mean[3], float scale) {
    std::vector<float> s(3, scale), b(3);
    for (int c = 0; c < 3; ++c) b[c] = -mean[c] * scale;
    return g.AddNode1("ChannelAffine",
                      {x, Const(std::string(kFaceApiPreprocessPrefix) + "scale", {3}, s),
                       Const(std::string(kFaceApiPreprocessPrefix) + "shift", {3}, b)},
                      {}, "preprocess");
  }

  // TF conv kernel [KH, KW, CI, CO] -> OHWI, optionally scaling each output channel.
  std::vector<float> ConvKernel(const std::string& name, int64_t k, int64_t ci, int64_t co,
                                const std::vector<float>* out_scale = nullptr) {
    const WeightTensor& t = W(name, {k, k, ci, co});
    std::vector<float> v(t.data.size());
    for (int64_t y = 0; y < k; ++y)
      for (int64_t x = 0; x < k; ++x)
        for (int64_t i = 0; i < ci; ++i)
          for (int64_t o = 0; o < co; ++o)
            v[((o * k + y) * k + x) * ci + i] =
                t.data[((y * k + x) * ci + i) * co + o] * (out_scale ? (*out_scale)[o] : 1.0f);
    return v;
  }

  int Bias(const std::string& name, int64_t n) { return Const(name, {n}, W(name, {n}).data); }

  // Plain convolution; `bias` may be empty.
  int Conv(int x, const std::string& filters, const std::string& bias, int64_t k, int64_t ci, int64_t co,
           int stride, const char* padding, const char* act, const std::string& node) {
    const int wt = Const(filters, {co, k, k, ci}, ConvKernel(filters, k, ci, co));
    const int bt = bias.empty() ? -1 : Bias(bias, co);
    Attrs attrs = ActAttrs(act);
    attrs["strides"] = Pair(stride);
    attrs["padding"] = padding;
    return g.AddNode1("Conv2D", {x, wt, bt}, std::move(attrs), node);
  }

  // Depthwise 3x3 convolution from a TF [3, 3, C, 1] kernel, no bias.
  int Depthwise(int x, const std::string& filters, int64_t c, int stride, const std::string& node) {
    const WeightTensor& t = W(filters, {3, 3, c, 1});
    std::vector<float> v(t.data.size());
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t xx = 0; xx < 3; ++xx)
        for (int64_t ch = 0; ch < c; ++ch) v[(ch * 3 + y) * 3 + xx] = t.data[(y * 3 + xx) * c + ch];
    const int wt = Const(filters, {c, 3, 3, 1}, std::move(v));
    return g.AddNode1("Conv2D", {x, wt, -1},
                      {{"strides", Pair(stride)}, {"padding", "SAME"}, {"groups", c}}, node);
  }

  // tf.separableConv2d (depthwise 3x3 SAME with the stride, then pointwise 1x1)
  // plus bias: PREFIX/depthwise_filter, PREFIX/pointwise_filter, PREFIX/bias.
  int SeparableConv(int x, const std::string& prefix, int64_t ci, int64_t co, int stride, const char* act) {
    const int d = Depthwise(x, prefix + "/depthwise_filter", ci, stride, prefix + "/depthwise");
    return Conv(d, prefix + "/pointwise_filter", prefix + "/bias", 1, ci, co, 1, "VALID", act, prefix);
  }

  int Binary(const char* op, int a, int b, const char* act, const std::string& node) {
    return g.AddNode1(op, {a, b}, ActAttrs(act), node);
  }
  int Unary(const char* op, int x, const std::string& node, Attrs attrs = {}) {
    return g.AddNode1(op, {x}, std::move(attrs), node);
  }
  int Pool(const char* op, int x, int k, int stride, const char* padding, const std::string& node) {
    return g.AddNode1(op, {x}, {{"kernel", Pair(k)}, {"strides", Pair(stride)}, {"padding", padding}}, node);
  }
  int Reshape(int x, std::vector<int64_t> shape, const std::string& node) {
    return g.AddNode1("Reshape", {x}, {{"shape", std::move(shape)}}, node);
  }
  // Fully connected layer from TF [in, out] weights (already facelib's Dense layout).
  int Dense(int x, const std::string& weights, const std::string& bias, int64_t in, int64_t out,
            const std::string& node) {
    const int wt = Const(weights, {in, out}, W(weights, {in, out}).data);
    return g.AddNode1("Dense", {x, wt, bias.empty() ? -1 : Bias(bias, out)}, {}, node);
  }

  // Every manifest tensor must have been read, except those `ignorable` accepts.
  Graph Finish(bool (*ignorable)(const std::string&) = nullptr) {
    for (const auto& [name, t] : w_.tensors())
      if (!used_.count(name) && !(ignorable && ignorable(name)))
        throw Error(ErrorCode::kInvalidModel, w_.label() + ": tensor '" + name + "' is not part of the " +
                                                  FaceApiArchName(arch_) + " architecture (wrong ARCH?)");
    g.Validate();
    return std::move(g);
  }

 private:
  const WeightMap& w_;
  FaceApiArch arch_;
  std::set<std::string> used_;
};

// ---------------------------------------------------------------------------
// SSD MobileNetV1

// TF graph constants (reshape sizes, slice bounds, preprocessing scalars) that
// the SSD manifest carries along with the weights; face-api reads none of them.
bool SsdGraphConstant(const std::string& name) {
  return name.rfind("Preprocessor/", 0) == 0 || name.rfind("Postprocessor/", 0) == 0 ||
         name.rfind("concat_1/", 0) == 0 || name.find("/stack") != std::string::npos ||
         name.find("/strided_slice/") != std::string::npos;
}

// conv + bias ("convolution_bn_offset", BatchNorm folded by TF) + relu6.
int SsdPointwise(Net& n, int x, const std::string& prefix, int idx, int64_t k, int64_t ci, int64_t co, int stride) {
  const std::string p = prefix + "/Conv2d_" + std::to_string(idx) + "_pointwise";
  return n.Conv(x, p + "/weights", p + "/convolution_bn_offset", k, ci, co, stride, "SAME", "relu6", p);
}

// depthwise 3x3 SAME + BatchNorm (eps 0.001) + relu6.
int SsdDepthwise(Net& n, int x, int idx, int64_t c, int stride) {
  const std::string p = "MobilenetV1/Conv2d_" + std::to_string(idx) + "_depthwise";
  const int d = n.Depthwise(x, p + "/depthwise_weights", c, stride, p);
  auto param = [&](const char* what) {
    const std::string name = p + "/BatchNorm/" + what;
    return n.Const(name, {c}, n.W(name, {c}).data);
  };
  const int bn = n.g.AddNode1("BatchNorm",
                              {d, param("gamma"), param("beta"), param("moving_mean"), param("moving_variance")},
                              {{"epsilon", 0.0010000000474974513f}}, p + "/BatchNorm");
  // A separate node rather than the BatchNorm's own activation attribute: the
  // loader's BatchNorm folding keeps only the convolution's attributes (an
  // activation on the BatchNorm would be dropped); this Relu6 is fused after it.
  return n.Unary("Relu6", bn, p + "/relu6");
}

}  // namespace

Graph BuildFaceApiSsdMobilenetV1(const WeightMap& w) {
  Net n(w, FaceApiArch::kSsdMobilenetV1);
  Graph& g = n.g;
  g.metadata["description"] = "face-api SSD MobileNetV1 face detector (5118 anchors, decoded boxes + sigmoid scores)";
  // x / 127.5 - 1
  const float half[3] = {127.5f, 127.5f, 127.5f};
  int x = n.Normalize(n.image, half, 1.0f / 127.5f);

  // MobileNetV1 backbone: 512 -> 256 (conv_0) -> ... -> 32 (conv11) -> 16.
  constexpr int64_t kChannels[14] = {32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
  x = SsdPointwise(n, x, "MobilenetV1", 0, 3, 3, 32, 2);
  int conv11 = -1;
  for (int i = 1; i <= 13; ++i) {
    const int stride = (i == 2 || i == 4 || i == 6 || i == 12) ? 2 : 1;
    x = SsdDepthwise(n, x, i, kChannels[i - 1], stride);
    x = SsdPointwise(n, x, "MobilenetV1", i, 1, kChannels[i - 1], kChannels[i], 1);
    if (i == 11) conv11 = x;
  }

  // Extra feature maps 16 -> 8 -> 4 -> 2 -> 1.
  constexpr int64_t kExtra[8] = {256, 512, 128, 256, 128, 256, 64, 128};
  std::vector<int> maps = {conv11, x};
  std::vector<int64_t> map_channels = {512, 1024};
  int t = x;
  int64_t c = 1024;
  for (int i = 0; i < 8; ++i) {
    const bool down = i % 2 == 1;
    t = SsdPointwise(n, t, "Prediction", i, down ? 3 : 1, c, kExtra[i], down ? 2 : 1);
    c = kExtra[i];
    if (down) {
      maps.push_back(t);
      map_channels.push_back(c);
    }
  }

  // Box predictors: 3 anchors per cell on conv11, 6 on the others.
  std::vector<int> encodings, classes;
  for (int i = 0; i < 6; ++i) {
    const int64_t k = i == 0 ? 3 : 6;
    const std::string p = "Prediction/BoxPredictor_" + std::to_string(i);
    const int box = n.Conv(maps[i], p + "/BoxEncodingPredictor/weights", p + "/BoxEncodingPredictor/biases", 1,
                           map_channels[i], 4 * k, 1, "SAME", "none", p + "/BoxEncodingPredictor");
    const int cls = n.Conv(maps[i], p + "/ClassPredictor/weights", p + "/ClassPredictor/biases", 1,
                           map_channels[i], 3 * k, 1, "SAME", "none", p + "/ClassPredictor");
    // Cell-major, then anchor: [N, H, W, k*4] -> [N, H*W*k, 4].
    encodings.push_back(n.Reshape(box, {0, -1, 4}, p + "/box_encodings"));
    classes.push_back(n.Reshape(cls, {0, -1, 3}, p + "/class_predictions"));
  }
  const int enc = g.AddNode1("Concat", encodings, {{"axis", 1}}, "box_encodings");
  const int cls = g.AddNode1("Concat", classes, {{"axis", 1}}, "class_predictions");

  // Anchor decoding. The anchors ([1, 5118, 4] ymin, xmin, ymax, xmax) come with
  // the weights; their centres and sizes become constants, computed in float32
  // the way face-api computes them at run time.
  constexpr int64_t kAnchors = 5118;
  const WeightTensor& anchors = n.W("Output/extra_dim", {1, kAnchors, 4});
  std::vector<float> size(kAnchors * 2), center(kAnchors * 2);
  for (int64_t a = 0; a < kAnchors; ++a)
    for (int d = 0; d < 2; ++d) {
      const float lo = anchors.data[a * 4 + d], hi = anchors.data[a * 4 + 2 + d];
      size[a * 2 + d] = hi - lo;
      center[a * 2 + d] = lo + size[a * 2 + d] / 2.0f;
    }
  const std::string dp = kFaceApiDecodePrefix;
  const int anchor_size = n.Const(dp + "anchor_size", {1, kAnchors, 2}, size);
  const int center_t = n.Const(dp + "anchor_center", {1, kAnchors, 2}, center);
  std::vector<float> half_size(size);
  for (float& v : half_size) v /= 2.0f;
  const int half_t = n.Const(dp + "anchor_half_size", {1, kAnchors, 2}, std::move(half_size));

  const std::vector<int> parts =
      g.AddNode("Split", {enc}, {{"axis", -1}, {"sizes", std::vector<int64_t>{2, 2}}}, 2, "decode/split");
  // centre = t_yx / 10 * anchor_size + anchor_centre
  int cyx = n.Binary("Div", parts[0], n.Scalar(dp + "ten", 10.0f), "none", "decode/center_div");
  cyx = n.Binary("Mul", cyx, anchor_size, "none", "decode/center_mul");
  cyx = n.Binary("Add", cyx, center_t, "none", "decode/center");
  // half extent = exp(t_hw / 5) * anchor_size / 2
  int hhw = g.AddNode1("Div", {parts[1], n.Scalar(dp + "five", 5.0f)}, {{"activation", "exp"}}, "decode/size_exp");
  hhw = n.Binary("Mul", hhw, half_t, "none", "decode/half_size");
  const int lo = n.Binary("Sub", cyx, hhw, "none", "decode/min");
  const int hi = n.Binary("Add", cyx, hhw, "none", "decode/max");
  g.MarkOutput(g.AddNode1("Concat", {lo, hi}, {{"axis", -1}}, "boxes"));

  // Face score = sigmoid of class logit 1 (0 is background, 2 unused).
  int s = g.AddNode1("Slice", {cls},
                     {{"begin", std::vector<int64_t>{1}}, {"end", std::vector<int64_t>{2}},
                      {"axes", std::vector<int64_t>{2}}},
                     "face_logit");
  s = n.Reshape(s, {0, -1}, "face_logit_flat");
  g.MarkOutput(n.Unary("Sigmoid", s, "scores"));
  g.metadata["output_boxes"] = "[N,5118,4] ymin, xmin, ymax, xmax in 0..1 of the padded input square";
  g.metadata["output_scores"] = "[N,5118] face probability (sigmoid); NMS IoU 0.5 is post-processing";
  return n.Finish(SsdGraphConstant);
}

// ---------------------------------------------------------------------------
// TinyFaceDetector

Graph BuildFaceApiTinyFaceDetector(const WeightMap& w) {
  Net n(w, FaceApiArch::kTinyFaceDetector);
  Graph& g = n.g;
  g.metadata["description"] = "face-api TinyFaceDetector (Tiny YOLOv2, separable convolutions), 13x13 grid at 416";
  int x = n.Normalize(n.image, kTinyMeanRgb, 1.0f / 255.0f);
  // face-api's leaky(x) = relu(x - 0.1x) + 0.1x, i.e. a leaky ReLU with slope 0.1.
  x = n.Conv(x, "conv0/filters", "conv0/bias", 3, 3, 16, 1, "VALID", "leaky_relu", "conv0");
  constexpr int64_t kChannels[6] = {16, 32, 64, 128, 256, 512};
  for (int i = 1; i <= 5; ++i) {
    x = n.Pool("MaxPool", x, 2, 2, "SAME", "pool" + std::to_string(i - 1));
    // face-api pads by 1 and convolves VALID: the same as SAME for a 3x3 stride-1 kernel.
    x = n.SeparableConv(x, "conv" + std::to_string(i), kChannels[i - 1], kChannels[i], 1, "leaky_relu");
  }
  x = n.Pool("MaxPool", x, 2, 1, "SAME", "pool5");
  g.MarkOutput(n.Conv(x, "conv8/filters", "conv8/bias", 1, 512, 25, 1, "VALID", "none", "out"));
  g.metadata["output_out"] =
      "[N,13,13,25] per cell 5 anchors x (tx, ty, tw, th, score logit); anchors (w,h in cells) "
      "1.603231,2.094468 6.041143,7.080126 2.882459,3.518061 4.266906,5.178857 9.041765,10.66308";
  return n.Finish();
}

// ---------------------------------------------------------------------------
// FaceFeatureExtractor (68-point landmarks, expressions) and its tiny variant

namespace {

// face-api's dense block: out1 = relu(conv s2), out_k = sep(relu(out1 + ... +
// out_{k-1})), y = relu(out1 + ... + out_n), the sums nested from the right.
int DenseBlock(Net& n, int x, const std::string& prefix, int64_t ci, int64_t co, int convs, bool first) {
  int out1 = first ? n.Conv(x, prefix + "/conv0/filters", prefix + "/conv0/bias", 3, ci, co, 2, "SAME", "relu",
                            prefix + "/conv0")
                   : n.SeparableConv(x, prefix + "/conv0", ci, co, 2, "relu");
  std::vector<int> outs = {out1};
  for (int k = 1; k < convs; ++k) {
    int in = out1;
    if (k > 1) {
      // relu(out1 + (out2 + (... + out_k-1)))
      int sum = outs.back();
      for (int j = static_cast<int>(outs.size()) - 2; j >= 1; --j)
        sum = n.Binary("Add", outs[j], sum, "none", prefix + "/in" + std::to_string(k + 1) + "_sum" + std::to_string(j));
      in = n.Binary("Add", out1, sum, "relu", prefix + "/in" + std::to_string(k + 1));
    }
    outs.push_back(n.SeparableConv(in, prefix + "/conv" + std::to_string(k), co, co, 1, "none"));
  }
  int sum = outs.back();
  for (int j = static_cast<int>(outs.size()) - 2; j >= 1; --j)
    sum = n.Binary("Add", outs[j], sum, "none", prefix + "/out_sum" + std::to_string(j));
  return n.Binary("Add", out1, sum, "relu", prefix + "/out");
}

// 112 -> 7x7x256 (4 blocks) or 14x14x128 (tiny, 3 blocks), average-pooled to [N, C].
int FeatureExtractor(Net& n, bool tiny, int64_t* channels) {
  int x = n.Normalize(n.image, kFaceMeanRgb, 1.0f / 255.0f);
  const int blocks = tiny ? 3 : 4;
  const int convs = tiny ? 3 : 4;
  int64_t c = 3;
  for (int b = 0; b < blocks; ++b) {
    const int64_t co = int64_t{32} << b;
    x = DenseBlock(n, x, "dense" + std::to_string(b), c, co, convs, b == 0);
    c = co;
  }
  x = n.Pool("AvgPool", x, tiny ? 14 : 7, 2, "VALID", "features");
  *channels = c;
  return n.Reshape(x, {0, -1}, "features_flat");
}

Graph BuildLandmarks(const WeightMap& w, bool tiny) {
  Net n(w, tiny ? FaceApiArch::kLandmark68Tiny : FaceApiArch::kLandmark68);
  n.g.metadata["description"] = tiny ? "face-api FaceLandmark68TinyNet (68 points)" : "face-api FaceLandmark68Net (68 points)";
  int64_t c = 0;
  const int f = FeatureExtractor(n, tiny, &c);
  n.g.MarkOutput(n.Dense(f, "fc/weights", "fc/bias", c, 136, "landmarks"));
  n.g.metadata["output_landmarks"] = "[N,136] x0,y0,x1,y1,... in 0..1 of the input square";
  return n.Finish();
}

}  // namespace

Graph BuildFaceApiLandmark68(const WeightMap& w) { return BuildLandmarks(w, false); }
Graph BuildFaceApiLandmark68Tiny(const WeightMap& w) { return BuildLandmarks(w, true); }

Graph BuildFaceApiExpression(const WeightMap& w) {
  Net n(w, FaceApiArch::kExpression);
  n.g.metadata["description"] = "face-api FaceExpressionNet (7 expressions)";
  int64_t c = 0;
  const int f = FeatureExtractor(n, false, &c);
  const int logits = n.Dense(f, "fc/weights", "fc/bias", c, 7, "logits");
  n.g.MarkOutput(n.Unary("Softmax", logits, "probs", {{"axis", -1}}));
  n.g.metadata["output_probs"] = "[N,7] softmax: neutral, happy, sad, angry, fearful, disgusted, surprised";
  return n.Finish();
}

// ---------------------------------------------------------------------------
// FaceRecognitionNet (dlib's ResNet-29 face descriptor)

namespace {

// conv + bias followed by dlib's affine "scale" layer (x * weights + biases),
// folded into the convolution: w' = w * s, b' = b * s + c per output channel.
int ScaledConv(Net& n, int x, const std::string& prefix, int64_t k, int64_t ci, int64_t co, int stride,
               const char* padding, const char* act) {
  const std::vector<float> s = n.W(prefix + "/scale/weights", {co}).data;
  const std::vector<float>& sb = n.W(prefix + "/scale/biases", {co}).data;
  const std::vector<float>& b = n.W(prefix + "/conv/bias", {co}).data;
  std::vector<float> bias(co);
  for (int64_t o = 0; o < co; ++o) bias[o] = b[o] * s[o] + sb[o];
  const int wt = n.Const(prefix + "/filters_scaled", {co, k, k, ci}, n.ConvKernel(prefix + "/conv/filters", k, ci, co, &s));
  const int bt = n.Const(prefix + "/bias_scaled", {co}, std::move(bias));
  rt::Graph& g = n.g;
  Attrs attrs = Net::ActAttrs(act);
  attrs["strides"] = Pair(stride);
  attrs["padding"] = padding;
  return g.AddNode1("Conv2D", {x, wt, bt}, std::move(attrs), prefix);
}

int Residual(Net& n, int x, const std::string& prefix, int64_t c) {
  int t = ScaledConv(n, x, prefix + "/conv1", 3, c, c, 1, "SAME", "relu");
  t = ScaledConv(n, t, prefix + "/conv2", 3, c, c, 1, "SAME", "none");
  return n.Binary("Add", t, x, "relu", prefix);
}

// Downsampling residual: conv 3x3 stride 2 VALID on the main path; on the
// shortcut a 2x2 stride-2 average pool, zero-padded in channels when they
// double. When the main path comes out one smaller (odd sizes), face-api
// appends a zero row and column to it.
int ResidualDown(Net& n, int x, const std::string& prefix, int64_t ci, int64_t co, int64_t* side) {
  int t = ScaledConv(n, x, prefix + "/conv1", 3, ci, co, 2, "VALID", "relu");
  t = ScaledConv(n, t, prefix + "/conv2", 3, co, co, 1, "SAME", "none");
  const int64_t conv_side = (*side - 3) / 2 + 1, pool_side = *side / 2;
  if (pool_side - conv_side > 1) throw Error(ErrorCode::kInternal, prefix + ": unexpected residual sizes");
  if (conv_side != pool_side)
    t = n.g.AddNode1("Pad", {t}, {{"pads", std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 0}}}, prefix + "/pad_spatial");
  int sc = n.Pool("AvgPool", x, 2, 2, "VALID", prefix + "/shortcut");
  if (ci != co)
    sc = n.g.AddNode1("Pad", {sc}, {{"pads", std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, co - ci}}},
                      prefix + "/shortcut_pad");
  *side = pool_side;
  return n.Binary("Add", sc, t, "relu", prefix);
}

}  // namespace

Graph BuildFaceApiRecognition(const WeightMap& w) {
  Net n(w, FaceApiArch::kRecognition);
  Graph& g = n.g;
  g.metadata["description"] = "face-api FaceRecognitionNet (dlib ResNet-29 port), 128-d descriptor";
  int x = n.Normalize(n.image, kFaceMeanRgb, 1.0f / 255.0f);
  x = ScaledConv(n, x, "conv32_down", 7, 3, 32, 2, "VALID", "relu");  // 150 -> 72
  x = n.Pool("MaxPool", x, 3, 2, "VALID", "pool");                     // -> 35
  int64_t side = 35;
  for (int i = 1; i <= 3; ++i) x = Residual(n, x, "conv32_" + std::to_string(i), 32);
  x = ResidualDown(n, x, "conv64_down", 32, 64, &side);
  for (int i = 1; i <= 3; ++i) x = Residual(n, x, "conv64_" + std::to_string(i), 64);
  x = ResidualDown(n, x, "conv128_down", 64, 128, &side);
  for (int i = 1; i <= 2; ++i) x = Residual(n, x, "conv128_" + std::to_string(i), 128);
  x = ResidualDown(n, x, "conv256_down", 128, 256, &side);
  for (int i = 1; i <= 2; ++i) x = Residual(n, x, "conv256_" + std::to_string(i), 256);
  x = ResidualDown(n, x, "conv256_down_out", 256, 256, &side);
  x = n.Unary("GlobalAvgPool", x, "global_avg", {{"keepdims", 0}});
  g.MarkOutput(n.Dense(x, "fc", "", 256, 128, "descriptor"));
  g.metadata["output_descriptor"] = "[N,128] face descriptor (Euclidean distance < 0.6 = same person)";
  return n.Finish();
}

// ---------------------------------------------------------------------------
// AgeGenderNet (TinyXception with 2 middle blocks)

namespace {

int XceptionReduction(Net& n, int x, const std::string& prefix, int64_t ci, int64_t co, bool activate_input) {
  int t = activate_input ? n.Unary("Relu", x, prefix + "/input_relu") : x;
  t = n.SeparableConv(t, prefix + "/separable_conv0", ci, co, 1, "relu");
  t = n.SeparableConv(t, prefix + "/separable_conv1", co, co, 1, "none");
  t = n.Pool("MaxPool", t, 3, 2, "SAME", prefix + "/pool");
  // The expansion shortcut reads the block input before its ReLU.
  const int e = n.Conv(x, prefix + "/expansion_conv/filters", prefix + "/expansion_conv/bias", 1, ci, co, 2, "SAME",
                       "none", prefix + "/expansion_conv");
  return n.Binary("Add", t, e, "none", prefix);
}

int XceptionMain(Net& n, int x, const std::string& prefix, int64_t c) {
  int t = n.Unary("Relu", x, prefix + "/input_relu");
  t = n.SeparableConv(t, prefix + "/separable_conv0", c, c, 1, "relu");
  t = n.SeparableConv(t, prefix + "/separable_conv1", c, c, 1, "relu");
  t = n.SeparableConv(t, prefix + "/separable_conv2", c, c, 1, "none");
  return n.Binary("Add", t, x, "none", prefix);
}

}  // namespace

Graph BuildFaceApiAgeGender(const WeightMap& w) {
  Net n(w, FaceApiArch::kAgeGender);
  Graph& g = n.g;
  g.metadata["description"] = "face-api AgeGenderNet (TinyXception): age regression and gender softmax";
  int x = n.Normalize(n.image, kFaceMeanRgb, 1.0f / 255.0f);
  x = n.Conv(x, "entry_flow/conv_in/filters", "entry_flow/conv_in/bias", 3, 3, 32, 2, "SAME", "relu",
             "entry_flow/conv_in");                                                                // 56
  x = XceptionReduction(n, x, "entry_flow/reduction_block_0", 32, 64, false);                     // 28
  x = XceptionReduction(n, x, "entry_flow/reduction_block_1", 64, 128, true);                     // 14
  for (int i = 0; i < 2; ++i) x = XceptionMain(n, x, "middle_flow/main_block_" + std::to_string(i), 128);
  x = XceptionReduction(n, x, "exit_flow/reduction_block", 128, 256, true);                       // 7
  x = n.SeparableConv(x, "exit_flow/separable_conv", 256, 512, 1, "relu");
  x = n.Pool("AvgPool", x, 7, 2, "VALID", "features");
  x = n.Reshape(x, {0, -1}, "features_flat");
  const int age = n.Dense(x, "fc/age/weights", "fc/age/bias", 512, 1, "fc/age");
  g.MarkOutput(n.Reshape(age, {-1}, "age"));
  const int gender = n.Dense(x, "fc/gender/weights", "fc/gender/bias", 512, 2, "gender_logits");
  g.MarkOutput(n.Unary("Softmax", gender, "gender", {{"axis", -1}}));
  g.metadata["output_age"] = "[N] age in years";
  g.metadata["output_gender"] = "[N,2] softmax [male, female]";
  return n.Finish();
}

// ---------------------------------------------------------------------------

const std::vector<std::string>& FaceApiArchNames() {
  static const std::vector<std::string> names = {"ssd_mobilenetv1",  "tiny_face_detector", "face_landmark_68",
                                                 "face_landmark_68_tiny", "face_recognition", "age_gender",
                                                 "face_expression"};
  return names;
}

FaceApiArch ParseFaceApiArch(const std::string& name) {
  const auto& names = FaceApiArchNames();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<FaceApiArch>(i);
  std::string known;
  for (const std::string& s : names) known += (known.empty() ? "" : ", ") + s;
  throw Error(ErrorCode::kInvalidArgument, "unknown face-api architecture '" + name + "' (one of: " + known + ")");
}

const char* FaceApiArchName(FaceApiArch arch) { return FaceApiArchNames()[static_cast<size_t>(arch)].c_str(); }

int FaceApiInputSize(FaceApiArch arch) {
  switch (arch) {
    case FaceApiArch::kSsdMobilenetV1: return 512;
    case FaceApiArch::kTinyFaceDetector: return 416;
    case FaceApiArch::kRecognition: return 150;
    case FaceApiArch::kLandmark68:
    case FaceApiArch::kLandmark68Tiny:
    case FaceApiArch::kAgeGender:
    case FaceApiArch::kExpression: return 112;
  }
  return 0;
}

Graph BuildFaceApi(FaceApiArch arch, const WeightMap& w) {
  switch (arch) {
    case FaceApiArch::kSsdMobilenetV1: return BuildFaceApiSsdMobilenetV1(w);
    case FaceApiArch::kTinyFaceDetector: return BuildFaceApiTinyFaceDetector(w);
    case FaceApiArch::kLandmark68: return BuildFaceApiLandmark68(w);
    case FaceApiArch::kLandmark68Tiny: return BuildFaceApiLandmark68Tiny(w);
    case FaceApiArch::kRecognition: return BuildFaceApiRecognition(w);
    case FaceApiArch::kAgeGender: return BuildFaceApiAgeGender(w);
    case FaceApiArch::kExpression: return BuildFaceApiExpression(w);
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown face-api architecture");
}

}  // namespace facelib::models
