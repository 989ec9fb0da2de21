// Writes small single-operator .tflite models and an input for each, to check the
// TFLite converter's operator mappings against TensorFlow Lite itself (see
// tflite.sh, which compiles and runs this; it needs only the FlatBuffers headers).
//
//   tflite_ops OUT_DIR      writes OUT_DIR/NAME.tflite and OUT_DIR/NAME.in.npy
//
// Every model reads tensor "x" and writes tensor "y". The cases cover the option
// combinations the real models do not: resize coordinate modes, strided-slice
// masks and negative strides, grouped and dilated convolutions, depthwise
// multipliers, fully-connected flattening, reductions, broadcasting binaries.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "converters/tflite_schema_generated.h"

namespace {

namespace tfl = ::facelib::tflite;
using Op = tfl::BuiltinOperator;
using Act = tfl::ActivationFunctionType;
using Shape = std::vector<int32_t>;

std::vector<float> Wave(size_t n, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 1.5f * std::sin(static_cast<float>(i) * step);
  return v;
}

size_t Count(const Shape& s) {
  size_t n = 1;
  for (int32_t d : s) n *= static_cast<size_t>(d);
  return n;
}

void WriteNpy(const std::string& path, const Shape& shape, const std::vector<float>& data) {
  std::string dims;
  for (int32_t d : shape) dims += std::to_string(d) + ",";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * 4));
}

class Model {
 public:
  explicit Model(Shape input) : input_shape_(std::move(input)) {
    buffers_.push_back(tfl::CreateBuffer(fbb_));
    x_ = Tensor("x", input_shape_);
  }
  int x() const { return x_; }
  int Tensor(const char* name, Shape shape) { return Add<float>(name, std::move(shape), tfl::TensorType::FLOAT32, {}); }
  int Const(const char* name, Shape shape, std::vector<float> v) {
    return Add<float>(name, std::move(shape), tfl::TensorType::FLOAT32, v);
  }
  int Ints(const char* name, Shape shape, std::vector<int32_t> v) {
    return Add<int32_t>(name, std::move(shape), tfl::TensorType::INT32, v);
  }
  void Op_(Op op, std::vector<int32_t> in, std::vector<int32_t> out, tfl::BuiltinOptions type = tfl::BuiltinOptions::NONE,
           flatbuffers::Offset<void> options = 0) {
    codes_.push_back(tfl::CreateOperatorCodeDirect(fbb_, static_cast<int8_t>(std::min(static_cast<int>(op), 127)),
                                                   nullptr, 1, op));
    ops_.push_back(tfl::CreateOperatorDirect(fbb_, static_cast<uint32_t>(codes_.size() - 1), &in, &out, type, options));
  }
  flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }

  void Save(const std::string& dir, const std::string& name, int y) {
    std::vector<int32_t> in = {x_}, out = {y};
    auto sg = tfl::CreateSubGraphDirect(fbb_, &tensors_, &in, &out, &ops_, "main");
    std::vector<flatbuffers::Offset<tfl::SubGraph>> sgs = {sg};
    tfl::FinishModelBuffer(fbb_, tfl::CreateModelDirect(fbb_, 3, &codes_, &sgs, name.c_str(), &buffers_));
    std::ofstream(dir + "/" + name + ".tflite", std::ios::binary)
        .write(reinterpret_cast<const char*>(fbb_.GetBufferPointer()), fbb_.GetSize());
    WriteNpy(dir + "/" + name + ".in.npy", input_shape_, Wave(Count(input_shape_), 0.37f));
  }

 private:
  template <typename T>
  int Add(const char* name, Shape shape, tfl::TensorType type, const std::vector<T>& data) {
    uint32_t buffer = 0;
    if (!data.empty()) {
      fbb_.ForceVectorAlignment(data.size() * sizeof(T), 1, 16);
      const auto bytes = fbb_.CreateVector(reinterpret_cast<const uint8_t*>(data.data()), data.size() * sizeof(T));
      buffers_.push_back(tfl::CreateBuffer(fbb_, bytes));
      buffer = static_cast<uint32_t>(buffers_.size() - 1);
    }
    tensors_.push_back(tfl::CreateTensorDirect(fbb_, &shape, type, buffer, name));
    return static_cast<int>(tensors_.size() - 1);
  }

  Shape input_shape_;
  int x_ = -1;
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<tfl::Buffer>> buffers_;
  std::vector<flatbuffers::Offset<tfl::Tensor>> tensors_;
  std::vector<flatbuffers::Offset<tfl::OperatorCode>> codes_;
  std::vector<flatbuffers::Offset<tfl::Operator>> ops_;
};

void Resize(const std::string& dir, const std::string& name, bool bilinear, bool align, bool half) {
  Model m({1, 3, 4, 2});
  const int size = m.Ints("size", {2}, {5, 7}), y = m.Tensor("y", {1, 5, 7, 2});
  if (bilinear)
    m.Op_(Op::RESIZE_BILINEAR, {m.x(), size}, {y}, tfl::BuiltinOptions::ResizeBilinearOptions,
          tfl::CreateResizeBilinearOptions(m.fbb(), align, half).Union());
  else
    m.Op_(Op::RESIZE_NEAREST_NEIGHBOR, {m.x(), size}, {y}, tfl::BuiltinOptions::ResizeNearestNeighborOptions,
          tfl::CreateResizeNearestNeighborOptions(m.fbb(), align, half).Union());
  m.Save(dir, name, y);
}

void StridedSlice(const std::string& dir, const std::string& name, std::vector<int32_t> begin, std::vector<int32_t> end,
                  std::vector<int32_t> strides, int begin_mask, int end_mask, int shrink_mask, Shape out) {
  Model m({1, 5, 6, 3});
  const int n = static_cast<int>(begin.size());
  const int b = m.Ints("begin", {n}, begin), e = m.Ints("end", {n}, end), s = m.Ints("strides", {n}, strides);
  const int y = m.Tensor("y", out);
  m.Op_(Op::STRIDED_SLICE, {m.x(), b, e, s}, {y}, tfl::BuiltinOptions::StridedSliceOptions,
        tfl::CreateStridedSliceOptions(m.fbb(), begin_mask, end_mask, 0, 0, shrink_mask).Union());
  m.Save(dir, name, y);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tflite_ops OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  using BO = tfl::BuiltinOptions;

  Resize(dir, "resize_nearest_asymmetric", false, false, false);
  Resize(dir, "resize_nearest_align_corners", false, true, false);
  Resize(dir, "resize_nearest_half_pixel", false, false, true);
  Resize(dir, "resize_bilinear_asymmetric", true, false, false);
  Resize(dir, "resize_bilinear_align_corners", true, true, false);
  Resize(dir, "resize_bilinear_half_pixel", true, false, true);
  // Negative strides, clamped ends, shrink of the batch axis.
  StridedSlice(dir, "strided_slice_negative", {0, 4, -1, 1}, {1, 0, -7, 3}, {1, -1, -2, 1}, 0, 0, 1, {4, 3, 2});
  // begin/end masks and a shrunk last axis.
  StridedSlice(dir, "strided_slice_masks", {0, 1, 2, 2}, {0, 4, 0, 3}, {1, 2, 3, 1}, 1, 1 | 4, 8, {1, 2, 2});
  for (const bool keep : {false, true}) {
    Model m({1, 4, 5, 3});
    const int axes = m.Ints("axes", {2}, {1, 2});
    const int y = m.Tensor("y", keep ? Shape{1, 1, 1, 3} : Shape{1, 3});
    m.Op_(Op::MEAN, {m.x(), axes}, {y}, BO::ReducerOptions, tfl::CreateReducerOptions(m.fbb(), keep).Union());
    m.Save(dir, keep ? "mean_keep_dims" : "mean", y);
  }
  {
    Model m({1, 2, 3, 4});
    const int perm = m.Ints("perm", {4}, {0, 3, 1, 2}), y = m.Tensor("y", {1, 4, 2, 3});
    m.Op_(Op::TRANSPOSE, {m.x(), perm}, {y});
    m.Save(dir, "transpose", y);
  }
  {
    Model m({2, 7});
    const int y = m.Tensor("y", {2, 7});
    m.Op_(Op::SOFTMAX, {m.x()}, {y}, BO::SoftmaxOptions, tfl::CreateSoftmaxOptions(m.fbb(), 0.5f).Union());
    m.Save(dir, "softmax_beta", y);
  }
  {
    Model m({2, 7});
    const int y = m.Tensor("y", {2, 7});
    m.Op_(Op::L2_NORMALIZATION, {m.x()}, {y}, BO::L2NormOptions, tfl::CreateL2NormOptions(m.fbb()).Union());
    m.Save(dir, "l2_normalization", y);
  }
  {
    Model m({1, 2, 3, 4});
    const int c = m.Const("c", {4}, {0.5f, -1, 2, 0}), y = m.Tensor("y", {1, 2, 3, 4});
    m.Op_(Op::SQUARED_DIFFERENCE, {m.x(), c}, {y});
    m.Save(dir, "squared_difference", y);
  }
  {
    Model m({1, 2, 3, 2});
    const int c = m.Const("c", {1, 2, 3, 1}, Wave(6, 1.1f)), y = m.Tensor("y", {1, 2, 3, 3});
    m.Op_(Op::CONCATENATION, {m.x(), c}, {y}, BO::ConcatenationOptions,
          tfl::CreateConcatenationOptions(m.fbb(), 3).Union());
    m.Save(dir, "concatenation", y);
  }
  {
    Model m({1, 7, 6, 2});
    const int y = m.Tensor("y", {1, 4, 3, 2});
    m.Op_(Op::AVERAGE_POOL_2D, {m.x()}, {y}, BO::Pool2DOptions,
          tfl::CreatePool2DOptions(m.fbb(), tfl::Padding::SAME, 2, 2, 3, 3).Union());
    m.Save(dir, "average_pool_same", y);
  }
  {
    Model m({1, 7, 6, 2});
    const int y = m.Tensor("y", {1, 3, 3, 2});
    m.Op_(Op::MAX_POOL_2D, {m.x()}, {y}, BO::Pool2DOptions,
          tfl::CreatePool2DOptions(m.fbb(), tfl::Padding::VALID, 2, 2, 2, 3).Union());
    m.Save(dir, "max_pool_valid", y);
  }
  {
    Model m({1, 3, 3, 2});
    const int p = m.Ints("paddings", {4, 2}, {0, 0, 1, 2, 2, 1, 0, 1}), v = m.Const("value", {}, {1.5f});
    const int y = m.Tensor("y", {1, 6, 6, 3});
    m.Op_(Op::PADV2, {m.x(), p, v}, {y});
    m.Save(dir, "padv2_channels", y);
  }
  {
    Model m({1, 3, 4});
    const int w = m.Const("w", {5, 4}, Wave(20, 0.7f)), b = m.Const("b", {5}, Wave(5, 2.1f));
    const int y = m.Tensor("y", {1, 3, 5});
    m.Op_(Op::FULLY_CONNECTED, {m.x(), w, b}, {y}, BO::FullyConnectedOptions,
          tfl::CreateFullyConnectedOptions(m.fbb(), Act::RELU, tfl::FullyConnectedOptionsWeightsFormat::DEFAULT, true)
              .Union());
    m.Save(dir, "fully_connected_keep_dims", y);
  }
  {
    Model m({1, 2, 2, 4});
    const int w = m.Const("w", {5, 4}, Wave(20, 0.7f)), y = m.Tensor("y", {4, 5});
    m.Op_(Op::FULLY_CONNECTED, {m.x(), w, -1}, {y}, BO::FullyConnectedOptions,
          tfl::CreateFullyConnectedOptions(m.fbb()).Union());
    m.Save(dir, "fully_connected_flatten", y);
  }
  {
    Model m({1, 9, 8, 3});
    const int w = m.Const("w", {1, 3, 3, 6}, Wave(54, 0.9f)), b = m.Const("b", {6}, Wave(6, 1.3f));
    const int y = m.Tensor("y", {1, 5, 4, 6});
    m.Op_(Op::DEPTHWISE_CONV_2D, {m.x(), w, b}, {y}, BO::DepthwiseConv2DOptions,
          tfl::CreateDepthwiseConv2DOptions(m.fbb(), tfl::Padding::SAME, 2, 2, 2, Act::RELU_N1_TO_1, 2, 2).Union());
    m.Save(dir, "depthwise_multiplier_dilated", y);
  }
  {
    Model m({1, 9, 8, 4});
    const int w = m.Const("w", {6, 3, 3, 2}, Wave(108, 0.3f)), b = m.Const("b", {6}, Wave(6, 1.3f));
    const int y = m.Tensor("y", {1, 5, 4, 6});
    m.Op_(Op::CONV_2D, {m.x(), w, b}, {y}, BO::Conv2DOptions,
          tfl::CreateConv2DOptions(m.fbb(), tfl::Padding::SAME, 2, 2).Union());
    m.Save(dir, "conv_grouped", y);
  }
  {
    Model m({1, 9, 8, 4});
    const int w = m.Const("w", {6, 3, 3, 4}, Wave(216, 0.3f)), b = m.Const("b", {6}, Wave(6, 1.3f));
    const int y = m.Tensor("y", {1, 5, 4, 6});
    m.Op_(Op::CONV_2D, {m.x(), w, b}, {y}, BO::Conv2DOptions,
          tfl::CreateConv2DOptions(m.fbb(), tfl::Padding::SAME, 2, 2, Act::RELU6, 2, 1).Union());
    m.Save(dir, "conv_dilated_relu6", y);
  }
  {
    // (c - x) / x with RELU, max with c, min with x, sigmoid; c broadcasts [3, 1].
    Model m({1, 2, 3, 4});
    const int c = m.Const("c", {3, 1}, {0.5f, -2, 3});
    const int t1 = m.Tensor("t1", {1, 2, 3, 4}), t2 = m.Tensor("t2", {1, 2, 3, 4});
    const int t3 = m.Tensor("t3", {1, 2, 3, 4}), t4 = m.Tensor("t4", {1, 2, 3, 4}), y = m.Tensor("y", {1, 2, 3, 4});
    m.Op_(Op::SUB, {c, m.x()}, {t1}, BO::SubOptions, tfl::CreateSubOptions(m.fbb()).Union());
    m.Op_(Op::DIV, {t1, m.x()}, {t2}, BO::DivOptions, tfl::CreateDivOptions(m.fbb(), Act::RELU).Union());
    m.Op_(Op::MAXIMUM, {t2, c}, {t3});
    m.Op_(Op::MINIMUM, {t3, m.x()}, {t4});
    m.Op_(Op::LOGISTIC, {t4}, {y});
    m.Save(dir, "binary_broadcast", y);
  }
  {
    Model m({1, 2, 3, 4});
    const int a = m.Tensor("a", {1, 2, 3, 4}), r = m.Tensor("r", {1, 2, 3, 4}), y = m.Tensor("y", {1, 2, 3, 4});
    m.Op_(Op::ABS, {m.x()}, {a});
    m.Op_(Op::RSQRT, {a}, {r});
    m.Op_(Op::TANH, {r}, {y});
    m.Save(dir, "unary_chain", y);
  }
  {
    Model m({1, 2, 3, 4});
    const int alpha = m.Const("alpha", {2, 1, 4}, Wave(8, 0.5f)), y = m.Tensor("y", {1, 2, 3, 4});
    m.Op_(Op::PRELU, {m.x(), alpha}, {y});
    m.Save(dir, "prelu_broadcast", y);
  }
  {
    Model m({1, 2, 3, 4});
    const int y = m.Tensor("y", {1, 2, 3, 4});
    m.Op_(Op::LEAKY_RELU, {m.x()}, {y}, BO::LeakyReluOptions, tfl::CreateLeakyReluOptions(m.fbb(), 0.2f).Union());
    m.Save(dir, "leaky_relu", y);
  }
  {
    Model m({1, 2, 3, 4});
    const int s = m.Ints("shape", {3}, {1, -1, 4}), y = m.Tensor("y", {1, 6, 4});
    m.Op_(Op::RESHAPE, {m.x(), s}, {y}, BO::ReshapeOptions, tfl::CreateReshapeOptionsDirect(m.fbb()).Union());
    m.Save(dir, "reshape", y);
  }
  return 0;
}
