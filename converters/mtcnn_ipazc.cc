#include "converters/mtcnn_ipazc.h"

#include <cstring>

#include "converters/converter.h"
#include "converters/lz4.h"
#include "converters/pickle.h"
#include "runtime/error.h"

namespace facelib::convert {

namespace {

using models::MtcnnNet;
using models::WeightTensor;
using pickle::Type;
using pickle::Value;

WeightTensor FromArray(const Value* v, const std::string& label, const std::string& what) {
  if (!v || v->type != Type::kArray) Malformed(label, what + " is a " + pickle::DescribeValue(v) + ", not an array");
  return {v->array->shape, pickle::ArrayToFloats(*v->array, label + " " + what)};
}

void ExpectShape(const WeightTensor& t, const rt::Shape& shape, const std::string& label, const std::string& what) {
  if (t.shape != shape)
    Malformed(label, what + " has shape " + rt::ShapeToString(t.shape) + ", expected " + rt::ShapeToString(shape));
}

// Keras conv kernel [KH, KW, C, O] -> PyTorch [O, C, KH, KW]; `transposed`
// kernels were trained on H<->W transposed images and get KH and KW swapped.
WeightTensor ConvFromKeras(const WeightTensor& k, bool transposed) {
  const int64_t kh = k.shape[0], kw = k.shape[1], c = k.shape[2], o = k.shape[3];
  const int64_t oh = transposed ? kw : kh, ow = transposed ? kh : kw;
  WeightTensor t{{o, c, oh, ow}, std::vector<float>(k.data.size())};
  for (int64_t y = 0; y < kh; ++y)
    for (int64_t x = 0; x < kw; ++x)
      for (int64_t i = 0; i < c; ++i)
        for (int64_t j = 0; j < o; ++j) {
          const int64_t ty = transposed ? x : y, tx = transposed ? y : x;
          t.data[((j * c + i) * oh + ty) * ow + tx] = k.data[((y * kw + x) * c + i) * o + j];
        }
  return t;
}

WeightTensor DenseFromKeras(const WeightTensor& k) {
  const int64_t in = k.shape[0], out = k.shape[1];
  WeightTensor t{{out, in}, std::vector<float>(k.data.size())};
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < out; ++j) t.data[j * in + i] = k.data[i * out + j];
  return t;
}

WeightTensor Flat(const WeightTensor& a) {
  return {{static_cast<int64_t>(a.data.size())}, a.data};
}

// One layer of the net, in the order both ipazc copies agree on.
struct Layer {
  enum Kind { kConv, kPrelu, kDense } kind;
  const char* torch_name;  // facenet-pytorch module name
  const char* npy_name;    // layer name in mtcnn_weights.npy
  rt::Shape keras_shape;   // kernel / alpha shape as stored
};

std::vector<Layer> Layers(MtcnnNet net) {
  using L = Layer;
  switch (net) {
    case MtcnnNet::kPNet:
      return {{L::kConv, "conv1", "conv1", {3, 3, 3, 10}},   {L::kPrelu, "prelu1", "prelu1", {1, 1, 10}},
              {L::kConv, "conv2", "conv2", {3, 3, 10, 16}},  {L::kPrelu, "prelu2", "prelu2", {1, 1, 16}},
              {L::kConv, "conv3", "conv3", {3, 3, 16, 32}},  {L::kPrelu, "prelu3", "prelu3", {1, 1, 32}},
              {L::kConv, "conv4_2", "conv4-2", {1, 1, 32, 4}}, {L::kConv, "conv4_1", "conv4-1", {1, 1, 32, 2}}};
    case MtcnnNet::kRNet:
      return {{L::kConv, "conv1", "conv1", {3, 3, 3, 28}},   {L::kPrelu, "prelu1", "prelu1", {1, 1, 28}},
              {L::kConv, "conv2", "conv2", {3, 3, 28, 48}},  {L::kPrelu, "prelu2", "prelu2", {1, 1, 48}},
              {L::kConv, "conv3", "conv3", {2, 2, 48, 64}},  {L::kPrelu, "prelu3", "prelu3", {1, 1, 64}},
              {L::kDense, "dense4", "fc1", {576, 128}},      {L::kPrelu, "prelu4", "prelu4", {128}},
              {L::kDense, "dense5_2", "fc2-2", {128, 4}},    {L::kDense, "dense5_1", "fc2-1", {128, 2}}};
    case MtcnnNet::kONet:
      return {{L::kConv, "conv1", "conv1", {3, 3, 3, 32}},    {L::kPrelu, "prelu1", "prelu1", {1, 1, 32}},
              {L::kConv, "conv2", "conv2", {3, 3, 32, 64}},   {L::kPrelu, "prelu2", "prelu2", {1, 1, 64}},
              {L::kConv, "conv3", "conv3", {3, 3, 64, 64}},   {L::kPrelu, "prelu3", "prelu3", {1, 1, 64}},
              {L::kConv, "conv4", "conv4", {2, 2, 64, 128}},  {L::kPrelu, "prelu4", "prelu4", {1, 1, 128}},
              {L::kDense, "dense5", "fc1", {1152, 256}},      {L::kPrelu, "prelu5", "prelu5", {256}},
              {L::kDense, "dense6_2", "fc2-2", {256, 4}},     {L::kDense, "dense6_3", "fc2-3", {256, 10}},
              {L::kDense, "dense6_1", "fc2-1", {256, 2}}};
  }
  return {};
}

// Adds one layer given its kernel/alpha and (for conv/dense) bias.
void AddLayer(models::WeightMap* w, const Layer& l, const WeightTensor& kernel, const WeightTensor* bias,
              bool transposed, const std::string& label) {
  const std::string name = l.torch_name;
  ExpectShape(kernel, l.keras_shape, label, name);
  if (l.kind == Layer::kPrelu) {
    w->Add(name + ".weight", Flat(kernel));
    return;
  }
  const int64_t out = l.keras_shape.back();
  ExpectShape(*bias, {out}, label, name + " bias");
  w->Add(name + ".weight", l.kind == Layer::kConv ? ConvFromKeras(kernel, transposed) : DenseFromKeras(kernel));
  w->Add(name + ".bias", *bias);
}

}  // namespace

models::WeightMap ReadIpazcMtcnnLz4(const std::vector<uint8_t>& bytes, MtcnnNet net, const std::string& label) {
  const std::vector<uint8_t> raw = Lz4DecompressFrames(bytes.data(), bytes.size(), label, size_t{64} << 20);
  size_t pos = 0;
  auto p = pickle::Unpickle(raw.data(), raw.size(), &pos, label);
  const Value* root = p->root();
  if (root->type != Type::kList) Malformed(label, "expected a joblib list of arrays, found a " + pickle::DescribeValue(root));
  const std::vector<Layer> layers = Layers(net);
  size_t expected = 0;
  for (const Layer& l : layers) expected += l.kind == Layer::kPrelu ? 1 : 2;
  if (root->items.size() != expected)
    Malformed(label, std::string("expected ") + std::to_string(expected) + " arrays for " + models::MtcnnNetName(net) +
                         ", found " + std::to_string(root->items.size()) + " (wrong net?)");
  models::WeightMap w(label);
  size_t i = 0;
  for (const Layer& l : layers) {
    const WeightTensor kernel = FromArray(root->items[i++], label, std::string(l.torch_name) + " kernel");
    if (l.kind == Layer::kPrelu) {
      AddLayer(&w, l, kernel, nullptr, false, label);
    } else {
      const WeightTensor bias = FromArray(root->items[i++], label, std::string(l.torch_name) + " bias");
      AddLayer(&w, l, kernel, &bias, false, label);
    }
  }
  return w;
}

models::WeightMap ReadIpazcMtcnnNpy(const std::vector<uint8_t>& bytes, MtcnnNet net, const std::string& label) {
  // .npy: magic, version, header length, a Python dict literal, then the data
  // (for object arrays: a pickle of the array).
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) Malformed(label, "not a .npy file");
  const int major = bytes[6];
  size_t hlen, off;
  if (major == 1) {
    hlen = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) Malformed(label, "truncated .npy header");
    hlen = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) | (static_cast<size_t>(bytes[10]) << 16) |
           (static_cast<size_t>(bytes[11]) << 24);
    off = 12;
  } else {
    Unsupported(label, ".npy format version " + std::to_string(major));
  }
  if (hlen > bytes.size() - off) Malformed(label, "truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(bytes.data() + off), hlen);
  if (header.find("'descr': '|O'") == std::string::npos)
    Unsupported(label, "expected an object array (descr '|O'); header: " + header.substr(0, 80));
  size_t pos = off + hlen;
  auto p = pickle::Unpickle(bytes.data(), bytes.size(), &pos, label);
  const Value* root = p->root();
  if (root->type != Type::kArray || root->array->objects.size() != 1)
    Malformed(label, "expected a 0-d object array, found a " + pickle::DescribeValue(root));
  const Value* all = root->array->objects[0];
  const char* key = net == MtcnnNet::kPNet ? "PNet" : net == MtcnnNet::kRNet ? "RNet" : "ONet";
  const Value* nd = all->Get(key);
  if (!nd || nd->type != Type::kDict) Malformed(label, std::string("no '") + key + "' dict in the weights");
  models::WeightMap w(label);
  for (const Layer& l : Layers(net)) {
    const Value* layer = nd->Get(l.npy_name);
    if (!layer) Malformed(label, std::string(key) + " has no layer '" + l.npy_name + "'");
    const std::string what = std::string(key) + "/" + l.npy_name;
    if (l.kind == Layer::kPrelu) {
      WeightTensor alpha = FromArray(layer->Get("alpha"), label, what + "/alpha");
      // The old copy stores PReLU alphas flat.
      alpha.shape = l.keras_shape;
      if (static_cast<int64_t>(alpha.data.size()) != l.keras_shape.back())
        Malformed(label, what + "/alpha has " + std::to_string(alpha.data.size()) + " values");
      AddLayer(&w, l, alpha, nullptr, true, label);
    } else {
      const WeightTensor kernel = FromArray(layer->Get("weights"), label, what + "/weights");
      const WeightTensor bias = FromArray(layer->Get("biases"), label, what + "/biases");
      // Kernels for the transposed image; MTCNN kernels are square, so the
      // stored shape reads the same either way.
      AddLayer(&w, l, kernel, &bias, true, label);
    }
  }
  return w;
}

models::WeightMap LoadIpazcMtcnn(const std::string& path, MtcnnNet net) {
  const std::vector<uint8_t> bytes = ReadFileBytes(path, size_t{256} << 20);
  if (IsLz4Frame(bytes.data(), bytes.size())) return ReadIpazcMtcnnLz4(bytes, net, path);
  if (bytes.size() >= 6 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0) return ReadIpazcMtcnnNpy(bytes, net, path);
  Malformed(path, "neither an LZ4 frame (mtcnn >= 1.0 .lz4) nor a .npy file (mtcnn_weights.npy)");
}

}  // namespace facelib::convert
