#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "converters/converter.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/model_file.h"

namespace facelib::convert {
namespace {

class TfjsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "tfjs_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream f(dir_ + "/" + name, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  template <typename T>
  static std::string Bytes(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  rt::Graph Convert(const std::string& extra_option = "") {
    const Converter* c = FindConverter("tfjs");
    EXPECT_NE(c, nullptr);
    ConvertRequest req;
    req.inputs.push_back(dir_ + "/model.json");
    if (!extra_option.empty()) req.options["outputs"] = extra_option;
    return c->convert(req);
  }
  // Runs Convert() expecting an error; returns its message.
  std::string ConvertError(ErrorCode want) {
    try {
      Convert();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), want) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "conversion succeeded";
    return "";
  }

  std::string dir_;
};

// Conv2D (2x2 VALID, 1 -> 2 channels) + BiasAdd + Relu + Mean over H, W.
// The bias is uint8-quantised: value = q * 0.5 + 0.5.
const char* kConvModel = R"({
  "format": "graph-model",
  "generatedBy": "hand",
  "modelTopology": {"node": [
    {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
      "shape": {"shape": {"dim": [{"size": "-1"}, {"size": "3"}, {"size": "3"}, {"size": "1"}]}}}},
    {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {"dtype": "DT_FLOAT"}}}},
    {"name": "b", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}, "value": {"tensor": {"dtype": "DT_FLOAT"}}}},
    {"name": "axes", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"}, "value": {"tensor": {"dtype": "DT_INT32"}}}},
    {"name": "conv", "op": "Conv2D", "input": ["x", "w"], "attr": {
      "strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": "VkFMSUQ="},
      "data_format": {"s": "TkhXQw=="}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}},
    {"name": "bias", "op": "BiasAdd", "input": ["conv", "b", "^x"]},
    {"name": "relu", "op": "Relu", "input": ["bias:0"]},
    {"name": "pool/Mean", "op": "Mean", "input": ["relu", "axes"], "attr": {"keep_dims": {"b": false}}}
  ]},
  "weightsManifest": [{"paths": ["w.bin"], "weights": [
    {"name": "w", "shape": [2, 2, 1, 2], "dtype": "float32"},
    {"name": "b", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": 0.5}},
    {"name": "axes", "shape": [2], "dtype": "int32"}
  ]}]
})";

std::string ConvWeights() {
  // TF filter [KH, KW, C=1, O=2]: channel 0 sums the diagonal, channel 1 negates the anti-diagonal.
  const std::vector<float> w = {1, 0, 0, -1, 0, -1, 1, 0};
  const std::vector<uint8_t> b = {0, 19};
  const std::vector<int32_t> axes = {1, 2};
  std::string s(reinterpret_cast<const char*>(w.data()), w.size() * 4);
  s.append(reinterpret_cast<const char*>(b.data()), b.size());
  s.append(reinterpret_cast<const char*>(axes.data()), axes.size() * 4);
  return s;
}

TEST_F(TfjsTest, ConvBiasReluMeanByHand) {
  Write("model.json", kConvModel);
  Write("w.bin", ConvWeights());
  rt::Graph g = Convert();
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.inputs[0]].name, "x");
  EXPECT_EQ(g.tensors[g.inputs[0]].shape, (rt::Shape{-1, 3, 3, 1}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "pool/Mean");  // the terminal node (no signature)
  // BiasAdd folds into the convolution; the spatial mean becomes a global pool.
  std::vector<std::string> ops;
  for (const auto& n : g.nodes) ops.push_back(n.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv2D", "Relu", "GlobalAvgPool"}));
  EXPECT_EQ(g.metadata.at("converter"), "facelib-convert tfjs");
  EXPECT_EQ(g.metadata.at("source_file0"), "model.json");
  EXPECT_EQ(g.metadata.at("source_file1"), "w.bin");
  EXPECT_EQ(g.metadata.at("tfjs_generated_by"), "hand");

  auto model = rt::Model::FromGraph(g);
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto out = model->Run({{{1, 3, 3, 1}, x.data()}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 2}));
  // conv ch0 = 6, 8, 12, 14 (+0.5); ch1 = -6, -8, -12, -14 (+10) -> relu 4, 2, 0, 0.
  EXPECT_FLOAT_EQ(out[0].data[0], 10.5f);
  EXPECT_FLOAT_EQ(out[0].data[1], 1.5f);

  // The batch stays dynamic.
  std::vector<float> x2(x);
  x2.insert(x2.end(), x.begin(), x.end());
  for (size_t i = 9; i < 18; ++i) x2[i] *= -1;
  auto out2 = model->Run({{{2, 3, 3, 1}, x2.data()}});
  ASSERT_EQ(out2[0].shape, (rt::Shape{2, 2}));
  EXPECT_FLOAT_EQ(out2[0].data[0], 10.5f);
  // second sample: ch0 = -6+.5.. all negative -> 0; ch1 = 6+10.. = 16, 18, 22, 24 -> mean 20.
  EXPECT_FLOAT_EQ(out2[0].data[2], 0.0f);
  EXPECT_FLOAT_EQ(out2[0].data[3], 20.0f);

  // Survives the model file round trip.
  const auto bytes = rt::SerializeGraph(g);
  auto reloaded = rt::Model::FromGraph(rt::LoadGraphFromBuffer(bytes.data(), bytes.size()));
  EXPECT_FLOAT_EQ(reloaded->Run({{{1, 3, 3, 1}, x.data()}})[0].data[0], 10.5f);
}

TEST_F(TfjsTest, Float16WeightsSignatureAndStridedSlice) {
  // y = x[:, 1:3] * s (s fp16) with a shrink-axis slice as a second output: z = x[:, 0].
  Write("model.json", R"({
    "format": "graph-model",
    "signature": {"outputs": {"out_y": {"name": "y:0"}, "out_z": {"name": "z"}}},
    "modelTopology": {"node": [
      {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "4"}]}}}},
      {"name": "s", "op": "Const"},
      {"name": "b0", "op": "Const"}, {"name": "b1", "op": "Const"}, {"name": "b2", "op": "Const"},
      {"name": "z", "op": "StridedSlice", "input": ["x", "b0", "b1", "b2"],
       "attr": {"begin_mask": {"i": "1"}, "end_mask": {"i": "1"}, "shrink_axis_mask": {"i": "2"}}},
      {"name": "e1", "op": "Const"},
      {"name": "sl", "op": "StridedSlice", "input": ["x", "b0", "e1", "b2"],
       "attr": {"begin_mask": {"i": "1"}, "end_mask": {"i": "1"}}},
      {"name": "one", "op": "Const"},
      {"name": "beg", "op": "AddV2", "input": ["b0", "one"]},
      {"name": "y", "op": "Mul", "input": ["sl2", "s"]},
      {"name": "sl2", "op": "StridedSlice", "input": ["x", "beg", "e1", "b2"],
       "attr": {"begin_mask": {"i": "1"}, "end_mask": {"i": "1"}}}
    ]},
    "weightsManifest": [{"paths": ["a.bin", "b.bin"], "weights": [
      {"name": "s", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
      {"name": "b0", "shape": [2], "dtype": "int32"},
      {"name": "b1", "shape": [2], "dtype": "int32"},
      {"name": "b2", "shape": [2], "dtype": "int32"},
      {"name": "e1", "shape": [2], "dtype": "int32"},
      {"name": "one", "shape": [2], "dtype": "int32"}
    ]}]
  })");
  // fp16 0.5 = 0x3800, -2 = 0xC000; then int32 begin/end/strides; the bytes are split over two shards.
  const std::vector<uint16_t> s = {0x3800, 0xC000};
  const std::vector<int32_t> ints = {0, 0, 0, 1, 1, 1, 0, 3, 0, 1};
  const std::string all = Bytes(s) + Bytes(ints);
  Write("a.bin", all.substr(0, 7));
  Write("b.bin", all.substr(7));
  rt::Graph g = Convert();
  ASSERT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "y");
  EXPECT_EQ(g.tensors[g.outputs[1]].name, "z");
  auto model = rt::Model::FromGraph(g);
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  auto out = model->Run({{{2, 4}, x.data()}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape, (rt::Shape{2, 2}));
  EXPECT_EQ(out[0].data, (std::vector<float>{1.0f, -6.0f, 3.0f, -14.0f}));
  EXPECT_EQ(out[1].shape, (rt::Shape{2}));
  EXPECT_EQ(out[1].data, (std::vector<float>{1, 5}));
  // --outputs overrides the signature.
  rt::Graph g2 = Convert("z");
  ASSERT_EQ(g2.outputs.size(), 1u);
  EXPECT_EQ(g2.tensors[g2.outputs[0]].name, "z");
}

TEST_F(TfjsTest, MissingShard) {
  Write("model.json", kConvModel);
  const std::string msg = ConvertError(ErrorCode::kNotFound);
  EXPECT_NE(msg.find("model.json: weight shard w.bin: cannot open"), std::string::npos) << msg;
}

TEST_F(TfjsTest, ShardTooShortForTheManifest) {
  Write("model.json", kConvModel);
  Write("w.bin", ConvWeights().substr(0, 38));
  const std::string msg = ConvertError(ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("weight 'axes' [2] needs bytes 34..42 but the shards hold only 38 bytes"), std::string::npos) << msg;
}

TEST_F(TfjsTest, ShardLongerThanTheManifest) {
  Write("model.json", kConvModel);
  Write("w.bin", ConvWeights() + "xx");
  const std::string msg = ConvertError(ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("the weight shards hold 44 bytes but the manifest describes 42"), std::string::npos) << msg;
}

TEST_F(TfjsTest, UnknownDtype) {
  std::string m = kConvModel;
  m.replace(m.find("\"dtype\": \"int32\""), 16, "\"dtype\": \"complex64\"");
  Write("model.json", m);
  Write("w.bin", ConvWeights());
  const std::string msg = ConvertError(ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("weightsManifest[0].weights[2] ('axes'): weight dtype 'complex64'"), std::string::npos) << msg;
}

TEST_F(TfjsTest, UnknownQuantizationDtype) {
  std::string m = kConvModel;
  m.replace(m.find("\"dtype\": \"uint8\""), 16, "\"dtype\": \"int4\"");
  Write("model.json", m);
  Write("w.bin", ConvWeights());
  const std::string msg = ConvertError(ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("('b'): quantization dtype 'int4'"), std::string::npos) << msg;
}

TEST_F(TfjsTest, UnknownOpIsNamed) {
  std::string m = kConvModel;
  m.replace(m.find("\"op\": \"Relu\""), 12, "\"op\": \"Gelu\"");
  Write("model.json", m);
  Write("w.bin", ConvWeights());
  const std::string msg = ConvertError(ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("unsupported TF ops: Gelu (1 node, e.g. 'relu')"), std::string::npos) << msg;
}

TEST_F(TfjsTest, BadJson) {
  Write("model.json", "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [}");
  const std::string msg = ConvertError(ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("model.json: JSON parse error at byte 53: unexpected character '}'"), std::string::npos) << msg;
}

TEST_F(TfjsTest, NotAGraphModel) {
  Write("model.json", R"({"format": "layers-model", "modelTopology": {}})");
  const std::string msg = ConvertError(ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("format 'layers-model'"), std::string::npos) << msg;
}

TEST_F(TfjsTest, RunTimeShapeInputMustBeConstant) {
  std::string m = kConvModel;
  // Reduce over axes computed at run time: the converter must say which input is not constant.
  m.replace(m.find("[\"relu\", \"axes\"]"), 16, "[\"relu\", \"relu\"]");
  Write("model.json", m);
  Write("w.bin", ConvWeights());
  const std::string msg = ConvertError(ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("node 'pool/Mean' (Mean): reduction_indices (input 1) must be a constant"), std::string::npos) << msg;
}

TEST_F(TfjsTest, ShardPathMayNotLeaveTheFolder) {
  std::string m = kConvModel;
  m.replace(m.find("\"w.bin\""), 7, "\"../w.bin\"");
  Write("model.json", m);
  const std::string msg = ConvertError(ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("shard path '../w.bin' must be relative to the model folder"), std::string::npos) << msg;
}

}  // namespace
}  // namespace facelib::convert
