#include "models/torch_layers.h"

#include <algorithm>

#include "runtime/error.h"

namespace facelib::models {

using rt::Attr;
using rt::Constant;

std::vector<float> TorchLayers::OihwToOhwi(const WeightTensor& w) {
  const int64_t o = w.shape[0], i = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  std::vector<float> out(w.data.size());
  for (int64_t a = 0; a < o; ++a)
    for (int64_t b = 0; b < i; ++b)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x) out[((a * kh + y) * kw + x) * i + b] = w.data[((a * i + b) * kh + y) * kw + x];
  return out;
}

int TorchLayers::Conv(int x, const std::string& weight, const std::string& bias, int stride, int pad, int groups,
                      const std::string& node) {
  const WeightTensor& w = w_.Get(weight, {-1, -1, -1, -1});
  const int64_t o = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  const int wt = g_->AddConstant(weight, {o, kh, kw, w.shape[1]}, Constant::FromFloats(OihwToOhwi(w)));
  int b = -1;
  if (!bias.empty()) b = g_->AddConstant(bias, {o}, Constant::FromFloats(w_.Get(bias, {o}).data));
  const std::string name = node.empty() ? weight.substr(0, weight.rfind('.')) : node;
  return g_->AddNode1("Conv2D", {x, wt, b},
                      {{"strides", std::vector<int64_t>{stride, stride}},
                       {"padding", "EXPLICIT"},
                       {"pads", std::vector<int64_t>{pad, pad, pad, pad}},
                       {"groups", groups}},
                      name);
}

int TorchLayers::BatchNorm(int x, const std::string& prefix, float epsilon) {
  const WeightTensor& gamma = w_.Get(prefix + ".weight", {-1});
  const int64_t c = gamma.shape[0];
  auto k = [&](const char* suffix) {
    const std::string n = prefix + suffix;
    return g_->AddConstant(n, {c}, Constant::FromFloats(w_.Get(n, {c}).data));
  };
  return g_->AddNode1("BatchNorm", {x, k(".weight"), k(".bias"), k(".running_mean"), k(".running_var")},
                      {{"epsilon", epsilon}}, prefix);
}

int TorchLayers::PRelu(int x, const std::string& weight, const std::string& node) {
  const WeightTensor& s = w_.Get(weight, {-1});
  const int slope = g_->AddConstant(weight, {s.shape[0]}, Constant::FromFloats(s.data));
  return g_->AddNode1("PRelu", {x, slope}, {}, node.empty() ? weight.substr(0, weight.rfind('.')) : node);
}

int TorchLayers::Linear(int x, const std::string& weight, const std::string& bias,
                        const std::vector<int64_t>* row_order, const std::string& node) {
  const WeightTensor& w = w_.Get(weight, {-1, -1});
  const int64_t n = w.shape[0], k = w.shape[1];
  if (row_order && static_cast<int64_t>(row_order->size()) != k)
    throw Error(ErrorCode::kInvalidModel, w_.label() + ": '" + weight + "' has " + std::to_string(k) +
                                              " inputs, the layer before it gives " + std::to_string(row_order->size()));
  std::vector<float> kn(static_cast<size_t>(k * n));
  for (int64_t r = 0; r < k; ++r) {
    const int64_t src = row_order ? (*row_order)[r] : r;
    for (int64_t c = 0; c < n; ++c) kn[r * n + c] = w.data[c * k + src];
  }
  const int wt = g_->AddConstant(weight, {k, n}, Constant::FromFloats(std::move(kn)));
  int b = -1;
  if (!bias.empty()) b = g_->AddConstant(bias, {n}, Constant::FromFloats(w_.Get(bias, {n}).data));
  return g_->AddNode1("Dense", {x, wt, b}, {}, node.empty() ? weight.substr(0, weight.rfind('.')) : node);
}

int TorchLayers::Unary(const std::string& op, int x, const std::string& node, std::map<std::string, Attr> attrs) {
  return g_->AddNode1(op, {x}, std::move(attrs), node);
}

int TorchLayers::MaxPoolCeil(int x, int kernel, int stride, int in_h, int in_w, const std::string& node) {
  // ceil_mode: out = ceil((in - k) / s) + 1; the windows past the end read
  // padding, which max pooling ignores.
  auto extra = [&](int in) {
    const int out = (in - kernel + stride - 1) / stride + 1;
    return std::max(0, (out - 1) * stride + kernel - in);
  };
  return g_->AddNode1("MaxPool", {x},
                      {{"kernel", std::vector<int64_t>{kernel, kernel}},
                       {"strides", std::vector<int64_t>{stride, stride}},
                       {"padding", "EXPLICIT"},
                       {"pads", std::vector<int64_t>{0, 0, extra(in_h), extra(in_w)}}},
                      node);
}

std::vector<int64_t> NwhcFlattenOrder(int h, int w, int c) {
  std::vector<int64_t> order(static_cast<size_t>(h) * w * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) order[(static_cast<size_t>(y) * w + x) * c + k] = (static_cast<int64_t>(x) * h + y) * c + k;
  return order;
}

}  // namespace facelib::models
