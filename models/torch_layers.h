// Graph-building helpers for architectures whose weights come from PyTorch
// modules: they read a module's parameters from a WeightMap by name, convert
// them to facelib layouts (Conv2d OIHW -> OHWI, Linear [out, in] -> Dense
// [in, out]) and emit the matching nodes. BatchNorm is emitted as a node; the
// runtime folds it into the preceding convolution or dense layer at load.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/weights.h"
#include "runtime/graph.h"

namespace facelib::models {

class TorchLayers {
 public:
  TorchLayers(rt::Graph* g, const WeightMap& w) : g_(g), w_(w) {}

  rt::Graph& graph() { return *g_; }
  const WeightMap& weights() const { return w_; }

  // nn.Conv2d with symmetric zero padding `pad`; `weight` is the parameter
  // name ([O, C/groups, KH, KW]); `bias` may be empty.
  int Conv(int x, const std::string& weight, const std::string& bias, int stride, int pad, int groups = 1,
           const std::string& node = "");
  // nn.BatchNorm1d/2d in eval mode: PREFIX.weight, .bias, .running_mean, .running_var.
  int BatchNorm(int x, const std::string& prefix, float epsilon = 1e-5f);
  // nn.PReLU with one slope per channel (or a single shared slope).
  int PRelu(int x, const std::string& weight, const std::string& node = "");
  // nn.Linear; `row_order[k]` (if given) is the PyTorch input index feeding our
  // input k, for inputs whose flatten order differs from NHWC.
  int Linear(int x, const std::string& weight, const std::string& bias, const std::vector<int64_t>* row_order = nullptr,
             const std::string& node = "");
  int Unary(const std::string& op, int x, const std::string& node, std::map<std::string, rt::Attr> attrs = {});
  // Max pooling with PyTorch ceil_mode semantics on a known input size,
  // expressed as extra bottom/right padding.
  int MaxPoolCeil(int x, int kernel, int stride, int in_h, int in_w, const std::string& node);

  // Converts OIHW to OHWI.
  static std::vector<float> OihwToOhwi(const WeightTensor& w);

 private:
  rt::Graph* g_;
  const WeightMap& w_;
};

// Input index order of PyTorch's flatten of x.permute(0, 3, 2, 1) (an NCHW
// tensor read as [N, W, H, C]) for each NHWC flatten position: what MTCNN's
// dense layers expect.
std::vector<int64_t> NwhcFlattenOrder(int h, int w, int c);

}  // namespace facelib::models
