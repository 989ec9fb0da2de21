#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "converters/converter.h"
#include "converters/tflite_schema_generated.h"
#include "runtime/error.h"
#include "runtime/model.h"

namespace facelib::convert {
namespace {

namespace tfl = ::facelib::tflite;

// Writes small .tflite files with the FlatBuffers builder: buffer 0 is the empty
// sentinel, as in files written by TFLite's converter.
class TfliteBuilder {
 public:
  TfliteBuilder() { buffers_.push_back(tfl::CreateBuffer(fbb_)); }

  template <typename T>
  int Tensor(const std::string& name, std::vector<int32_t> shape, tfl::TensorType type, const std::vector<T>& data) {
    uint32_t buffer = 0;
    if (!data.empty()) {
      fbb_.ForceVectorAlignment(data.size() * sizeof(T), 1, 16);
      const auto bytes = fbb_.CreateVector(reinterpret_cast<const uint8_t*>(data.data()), data.size() * sizeof(T));
      buffers_.push_back(tfl::CreateBuffer(fbb_, bytes));
      buffer = static_cast<uint32_t>(buffers_.size() - 1);
    }
    tensors_.push_back(tfl::CreateTensorDirect(fbb_, &shape, type, buffer, name.c_str()));
    return static_cast<int>(tensors_.size() - 1);
  }
  int Tensor(const std::string& name, std::vector<int32_t> shape, tfl::TensorType type = tfl::TensorType::FLOAT32) {
    return Tensor<float>(name, std::move(shape), type, {});
  }
  int Code(tfl::BuiltinOperator op, const std::string& custom = "") {
    const int8_t small = static_cast<int8_t>(std::min(static_cast<int>(op), 127));
    codes_.push_back(tfl::CreateOperatorCodeDirect(fbb_, small, custom.empty() ? nullptr : custom.c_str(), 1, op));
    return static_cast<int>(codes_.size() - 1);
  }
  void Op(int code, std::vector<int32_t> in, std::vector<int32_t> out,
          tfl::BuiltinOptions type = tfl::BuiltinOptions::NONE, flatbuffers::Offset<void> options = 0) {
    ops_.push_back(tfl::CreateOperatorDirect(fbb_, static_cast<uint32_t>(code), &in, &out, type, options));
  }
  flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }

  std::string Finish(std::vector<int32_t> inputs, std::vector<int32_t> outputs) {
    auto sg = tfl::CreateSubGraphDirect(fbb_, &tensors_, &inputs, &outputs, &ops_, "main");
    std::vector<flatbuffers::Offset<tfl::SubGraph>> sgs = {sg};
    auto model = tfl::CreateModelDirect(fbb_, 3, &codes_, &sgs, "test model", &buffers_);
    tfl::FinishModelBuffer(fbb_, model);
    return std::string(reinterpret_cast<const char*>(fbb_.GetBufferPointer()), fbb_.GetSize());
  }

 private:
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<tfl::Buffer>> buffers_;
  std::vector<flatbuffers::Offset<tfl::Tensor>> tensors_;
  std::vector<flatbuffers::Offset<tfl::OperatorCode>> codes_;
  std::vector<flatbuffers::Offset<tfl::Operator>> ops_;
};

// input [1,3,3,1] -> CONV_2D (2x2 VALID, fp16 filter through DEQUANTIZE, fp32 bias) -> RELU.
//   filter 0 = [[-1, 0], [0, 1]]: x[i+1][j+1] - x[i][j] = 4 everywhere, + 0.25
//   filter 1 = 0.5 everywhere: half the window sum, - 10 (window sums 12, 16, 24, 28)
std::string ConvReluModel() {
  TfliteBuilder b;
  const uint16_t kOne = 0x3C00, kMinusOne = 0xBC00, kHalf = 0x3800;
  const int x = b.Tensor("input", {1, 3, 3, 1});
  const int w16 = b.Tensor<uint16_t>("filter_fp16", {2, 2, 2, 1}, tfl::TensorType::FLOAT16,
                                     {kMinusOne, 0, 0, kOne, kHalf, kHalf, kHalf, kHalf});
  const int w = b.Tensor("filter", {2, 2, 2, 1});
  const int bias = b.Tensor<float>("bias", {2}, tfl::TensorType::FLOAT32, {0.25f, -10.0f});
  const int conv = b.Tensor("conv", {1, 2, 2, 2});
  const int out = b.Tensor("relu_out", {1, 2, 2, 2});
  b.Op(b.Code(tfl::BuiltinOperator::DEQUANTIZE), {w16}, {w});
  const auto opts = tfl::CreateConv2DOptions(b.fbb(), tfl::Padding::VALID, 1, 1).Union();
  b.Op(b.Code(tfl::BuiltinOperator::CONV_2D), {x, w, bias}, {conv}, tfl::BuiltinOptions::Conv2DOptions, opts);
  b.Op(b.Code(tfl::BuiltinOperator::RELU), {conv}, {out});
  return b.Finish({x}, {out});
}

class TfliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "tflite_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string Write(const std::string& bytes, const std::string& name = "model.tflite") {
    const std::string path = dir_ + "/" + name;
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  rt::Graph Convert(const std::string& bytes, std::map<std::string, std::string> options = {}) {
    const Converter* c = FindConverter("tflite");
    EXPECT_NE(c, nullptr);
    ConvertRequest req;
    req.inputs.push_back(Write(bytes));
    req.options = std::move(options);
    return c->convert(req);
  }
  std::string ConvertError(const std::string& bytes, ErrorCode want) {
    try {
      Convert(bytes);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), want) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "conversion succeeded";
    return "";
  }
  static std::vector<float> Run(const rt::Graph& g, const rt::Shape& shape, const std::vector<float>& x, size_t out = 0) {
    auto model = rt::Model::FromGraph(g);
    return model->Run({{shape, x.data()}})[out].data;
  }

  std::string dir_;
};

TEST_F(TfliteTest, ConvReluMatchesHandComputedValues) {
  const rt::Graph g = Convert(ConvReluModel());
  ASSERT_EQ(g.inputs.size(), 1u);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.inputs[0]].name, "input");
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "relu_out");
  // DEQUANTIZE folded away; the fp16 filter keeps fp16 storage.
  bool fp16_filter = false;
  for (const rt::TensorDef& t : g.tensors)
    if (t.constant && t.shape == rt::Shape{2, 2, 2, 1}) fp16_filter = t.constant->storage == rt::Storage::kFloat16;
  EXPECT_TRUE(fp16_filter);
  EXPECT_EQ(g.metadata.at("converter"), "facelib-convert tflite");

  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> y = Run(g, {1, 3, 3, 1}, x);
  const std::vector<float> want = {4.25f, 0, 4.25f, 0, 4.25f, 2, 4.25f, 4};
  ASSERT_EQ(y.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
}

TEST_F(TfliteTest, ReadsAByteRangeOfALargerFile) {
  const std::string model = ConvReluModel();
  const std::string packed = std::string(24, '\x7f') + model + std::string(8, '\0');
  const rt::Graph g = Convert(packed, {{"offset", "24"}, {"length", std::to_string(model.size())}});
  EXPECT_EQ(g.metadata.at("source_offset"), "24");
  const std::vector<float> y = Run(g, {1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_FLOAT_EQ(y[7], 4.0f);
  EXPECT_THROW(Convert(packed, {{"offset", "24"}, {"length", std::to_string(packed.size())}}), Error);
}

TEST_F(TfliteTest, TruncatedFileIsMalformed) {
  const std::string model = ConvReluModel();
  ConvertError(model.substr(0, model.size() / 2), ErrorCode::kInvalidModel);
  ConvertError(model.substr(0, 6), ErrorCode::kInvalidModel);
  ConvertError("", ErrorCode::kInvalidModel);
}

TEST_F(TfliteTest, WrongFileIdentifierIsNamed) {
  std::string model = ConvReluModel();
  model.replace(4, 4, "TFL2");
  const std::string msg = ConvertError(model, ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("'TFL2'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("TFL3"), std::string::npos) << msg;
}

TEST_F(TfliteTest, CorruptFlatbufferIsRejectedByTheVerifier) {
  std::string model = ConvReluModel();
  // Root table offset pointing past the end of the file.
  std::string bad_root = model;
  const uint32_t far = static_cast<uint32_t>(model.size() + 1000);
  std::memcpy(bad_root.data(), &far, 4);
  EXPECT_NE(ConvertError(bad_root, ErrorCode::kInvalidModel).find("verifier"), std::string::npos);
  // Garbage after a valid identifier.
  std::string garbage(512, '\xA5');
  garbage.replace(4, 4, "TFL3");
  ConvertError(garbage, ErrorCode::kInvalidModel);
}

TEST_F(TfliteTest, EverySingleByteCorruptionFailsCleanly) {
  const std::string model = ConvReluModel();
  for (size_t i = 0; i < model.size(); ++i) {
    for (const uint8_t flip : {0xFF}) {
      std::string bad = model;
      bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ flip);
      try {
        Convert(bad);  // may still be a valid model (e.g. a changed weight)
      } catch (const Error&) {
        // A clean, typed error is the requirement.
      }
    }
  }
}

TEST_F(TfliteTest, CustomOpIsNamed) {
  TfliteBuilder b;
  const int x = b.Tensor("input", {1, 4});
  const int y = b.Tensor("out", {1, 4});
  b.Op(b.Code(tfl::BuiltinOperator::CUSTOM, "TransformLandmarks"), {x}, {y});
  const std::string msg = ConvertError(b.Finish({x}, {y}), ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("TransformLandmarks"), std::string::npos) << msg;
}

TEST_F(TfliteTest, UnsupportedOperatorIsNamed) {
  TfliteBuilder b;
  const int x = b.Tensor("input", {1, 4});
  const int y = b.Tensor("out", {1, 4});
  b.Op(b.Code(tfl::BuiltinOperator::CUMSUM), {x}, {y});
  const std::string msg = ConvertError(b.Finish({x}, {y}), ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("CUMSUM"), std::string::npos) << msg;
}

TEST_F(TfliteTest, UnsupportedDtypesAreNamed) {
  {
    TfliteBuilder b;
    const int x = b.Tensor("input", {1, 4}, tfl::TensorType::UINT8);
    const int y = b.Tensor("out", {1, 4});
    b.Op(b.Code(tfl::BuiltinOperator::RELU), {x}, {y});
    const std::string msg = ConvertError(b.Finish({x}, {y}), ErrorCode::kUnsupported);
    EXPECT_NE(msg.find("UINT8"), std::string::npos) << msg;
  }
  {
    TfliteBuilder b;
    const int x = b.Tensor("input", {1, 2});
    const int c = b.Tensor<float>("complex_const", {1, 1}, tfl::TensorType::COMPLEX64, {1.0f, 2.0f});
    const int y = b.Tensor("out", {1, 2});
    b.Op(b.Code(tfl::BuiltinOperator::ADD), {x, c}, {y});
    const std::string msg = ConvertError(b.Finish({x}, {y}), ErrorCode::kUnsupported);
    EXPECT_NE(msg.find("COMPLEX64"), std::string::npos) << msg;
  }
}

TEST_F(TfliteTest, RunTimeComparisonsGiveZeroOrOne) {
  // LESS(x, 0.5) and GREATER_EQUAL(x, 0.5), cast to float.
  TfliteBuilder b;
  const int x = b.Tensor("input", {1, 5});
  const int half = b.Tensor<float>("half", {}, tfl::TensorType::FLOAT32, {0.5f});
  const int lt = b.Tensor("lt", {1, 5}, tfl::TensorType::BOOL);
  const int ge = b.Tensor("ge", {1, 5}, tfl::TensorType::BOOL);
  const int lt_f = b.Tensor("lt_f", {1, 5});
  const int ge_f = b.Tensor("ge_f", {1, 5});
  b.Op(b.Code(tfl::BuiltinOperator::LESS), {x, half}, {lt});
  b.Op(b.Code(tfl::BuiltinOperator::GREATER_EQUAL), {x, half}, {ge});
  const int cast = b.Code(tfl::BuiltinOperator::CAST);
  b.Op(cast, {lt}, {lt_f});
  b.Op(cast, {ge}, {ge_f});
  const rt::Graph g = Convert(b.Finish({x}, {lt_f, ge_f}));
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "lt_f");
  EXPECT_EQ(g.tensors[g.outputs[1]].name, "ge_f");
  const std::vector<float> in = {-1e30f, 0.4999999f, 0.5f, 0.5000001f, 3e38f};
  auto model = rt::Model::FromGraph(g);
  const auto out = model->Run({{{1, 5}, in.data()}});
  EXPECT_EQ(out[0].data, (std::vector<float>{1, 1, 0, 0, 0}));
  EXPECT_EQ(out[1].data, (std::vector<float>{0, 0, 1, 1, 1}));
}

TEST_F(TfliteTest, LoweredPReluBecomesOnePRelu) {
  // relu(x) + alpha * neg(relu(neg(x))), as in expo's MTCNN.
  TfliteBuilder b;
  const int x = b.Tensor("input", {1, 1, 2, 2});
  const int alpha = b.Tensor<float>("alpha", {2}, tfl::TensorType::FLOAT32, {0.25f, 0.5f});
  const int pos = b.Tensor("pos", {1, 1, 2, 2}), n1 = b.Tensor("n1", {1, 1, 2, 2}), r1 = b.Tensor("r1", {1, 1, 2, 2});
  const int n2 = b.Tensor("n2", {1, 1, 2, 2}), m = b.Tensor("m", {1, 1, 2, 2}), y = b.Tensor("out", {1, 1, 2, 2});
  const int relu = b.Code(tfl::BuiltinOperator::RELU), neg = b.Code(tfl::BuiltinOperator::NEG);
  b.Op(relu, {x}, {pos});
  b.Op(neg, {x}, {n1});
  b.Op(relu, {n1}, {r1});
  b.Op(neg, {r1}, {n2});
  b.Op(b.Code(tfl::BuiltinOperator::MUL), {alpha, n2}, {m});
  b.Op(b.Code(tfl::BuiltinOperator::ADD), {pos, m}, {y});
  const rt::Graph g = Convert(b.Finish({x}, {y}));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op, "PRelu");
  EXPECT_EQ(Run(g, {1, 1, 2, 2}, {-4, -4, 3, 3}), (std::vector<float>{-1, -2, 3, 3}));
}

TEST_F(TfliteTest, DepthwiseAndFullyConnectedLayouts) {
  // DEPTHWISE_CONV_2D 1x1 with multiplier 2 on 2 channels, then FULLY_CONNECTED [N=1, K=4].
  TfliteBuilder b;
  const int x = b.Tensor("input", {1, 1, 1, 2});
  const int dw_w = b.Tensor<float>("dw_w", {1, 1, 1, 4}, tfl::TensorType::FLOAT32, {1, 2, 3, 4});
  const int dw = b.Tensor("dw", {1, 1, 1, 4});
  const int fc_w = b.Tensor<float>("fc_w", {1, 4}, tfl::TensorType::FLOAT32, {1, 10, 100, 1000});
  const int y = b.Tensor("out", {1, 1});
  const auto dopts = tfl::CreateDepthwiseConv2DOptions(b.fbb(), tfl::Padding::SAME, 1, 1, 2).Union();
  b.Op(b.Code(tfl::BuiltinOperator::DEPTHWISE_CONV_2D), {x, dw_w, -1}, {dw},
       tfl::BuiltinOptions::DepthwiseConv2DOptions, dopts);
  const auto fopts = tfl::CreateFullyConnectedOptions(b.fbb()).Union();
  b.Op(b.Code(tfl::BuiltinOperator::FULLY_CONNECTED), {dw, fc_w, -1}, {y}, tfl::BuiltinOptions::FullyConnectedOptions,
       fopts);
  const rt::Graph g = Convert(b.Finish({x}, {y}));
  // Channels (a, b) -> depthwise (a, 2a, 3b, 4b) -> 1*a + 10*2a + 100*3b + 1000*4b.
  EXPECT_EQ(Run(g, {1, 1, 1, 2}, {1, 2}), (std::vector<float>{21 + 8600}));
}

}  // namespace
}  // namespace facelib::convert
