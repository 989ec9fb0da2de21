#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "converters/converter.h"
#include "converters/faceapi.h"
#include "models/faceapi_builders.h"
#include "runtime/error.h"
#include "runtime/model.h"

namespace facelib::convert {
namespace {

struct TensorSpec {
  std::string name;
  rt::Shape shape;
};

// TinyFaceDetector's manifest layout (the smallest face-api net with every
// kind of layer the builders read: plain conv, separable conv, biases).
std::vector<TensorSpec> TinySpecs() {
  std::vector<TensorSpec> s = {{"conv0/filters", {3, 3, 3, 16}}, {"conv0/bias", {16}}};
  const int64_t ch[6] = {16, 32, 64, 128, 256, 512};
  for (int i = 1; i <= 5; ++i) {
    const std::string p = "conv" + std::to_string(i);
    s.push_back({p + "/depthwise_filter", {3, 3, ch[i - 1], 1}});
    s.push_back({p + "/pointwise_filter", {1, 1, ch[i - 1], ch[i]}});
    s.push_back({p + "/bias", {ch[i]}});
  }
  s.push_back({"conv8/filters", {1, 1, 512, 25}});
  s.push_back({"conv8/bias", {25}});
  return s;
}

std::string ShapeJson(const rt::Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

rt::Graph Convert(const std::string& arch, const std::string& manifest) {
  const Converter* c = FindConverter("faceapi");
  EXPECT_NE(c, nullptr);
  ConvertRequest req;
  req.inputs = {arch, manifest};
  return c->convert(req);
}

// Runs the conversion expecting an error; returns its message.
std::string ConvertError(const std::string& arch, const std::string& manifest, ErrorCode want) {
  try {
    Convert(arch, manifest);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), want) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "conversion succeeded";
  return "";
}

class FaceApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "faceapi_test_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // Writes a manifest of uint8-quantised tensors (value = q * 0.01 - 1) and its
  // shard; `drop_bytes` shortens the shard.
  std::string WriteManifest(const std::vector<TensorSpec>& specs, size_t drop_bytes = 0) {
    std::string json = R"([{"paths": ["net.bin"], "weights": [)";
    std::string bin;
    std::mt19937 rng(7);
    for (size_t i = 0; i < specs.size(); ++i) {
      json += std::string(i ? "," : "") + R"({"name": ")" + specs[i].name + R"(", "shape": )" +
              ShapeJson(specs[i].shape) +
              R"(, "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.01, "min": -1}})";
      for (int64_t k = 0; k < rt::NumElements(specs[i].shape); ++k) bin.push_back(static_cast<char>(rng() % 201));
    }
    json += "]}]";
    bin.resize(bin.size() - drop_bytes);
    Write("net.bin", bin);
    Write("net-weights_manifest.json", json);
    return dir_ + "/net-weights_manifest.json";
  }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream f(dir_ + "/" + name, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  std::string dir_;
};

TEST_F(FaceApiTest, SyntheticTinyDetectorConvertsAndRuns) {
  const rt::Graph g = Convert("tiny_face_detector", WriteManifest(TinySpecs()));
  auto model = rt::Model::FromGraph(g);
  ASSERT_EQ(model->num_outputs(), 1u);
  EXPECT_EQ(model->output_name(0), "out");
  std::vector<float> x(416 * 416 * 3, 128.0f);
  const auto out = model->Run({{{1, 416, 416, 3}, x.data()}});
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 13, 13, 25}));
  EXPECT_EQ(g.metadata.at("converter"), "facelib-convert faceapi");
  EXPECT_EQ(g.metadata.at("source_file0"), "net-weights_manifest.json");
  EXPECT_EQ(g.metadata.at("source_file1"), "net.bin");
}

TEST_F(FaceApiTest, MissingWeightIsNamed) {
  std::vector<TensorSpec> specs = TinySpecs();
  specs.erase(specs.begin() + 6);  // conv2/pointwise_filter
  const std::string msg = ConvertError("tiny_face_detector", WriteManifest(specs), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("missing weight 'conv2/pointwise_filter'"), std::string::npos) << msg;
}

TEST_F(FaceApiTest, WrongShapeNamesTensorAndShapes) {
  std::vector<TensorSpec> specs = TinySpecs();
  specs[3].shape = {1, 1, 16, 33};  // conv1/pointwise_filter
  const std::string msg = ConvertError("tiny_face_detector", WriteManifest(specs), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("weight 'conv1/pointwise_filter' has shape [1,1,16,33], expected [1,1,16,32]"),
            std::string::npos)
      << msg;
}

TEST_F(FaceApiTest, ShortShardIsReported) {
  const std::string msg = ConvertError("tiny_face_detector", WriteManifest(TinySpecs(), 10), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("weight 'conv8/bias' [25] needs bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("but the shards hold only"), std::string::npos) << msg;
}

TEST_F(FaceApiTest, MissingShardIsReported) {
  const std::string manifest = WriteManifest(TinySpecs());
  std::remove((dir_ + "/net.bin").c_str());
  const std::string msg = ConvertError("tiny_face_detector", manifest, ErrorCode::kNotFound);
  EXPECT_NE(msg.find("weight shard net.bin"), std::string::npos) << msg;
}

TEST_F(FaceApiTest, UnknownArchIsRejected) {
  const std::string msg = ConvertError("tiny_yolo_v9", WriteManifest(TinySpecs()), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("unknown face-api architecture 'tiny_yolo_v9'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("face_landmark_68_tiny"), std::string::npos) << msg;
}

TEST_F(FaceApiTest, ManifestOfAnotherNetIsRejected) {
  // The tiny detector's weights read as a landmark net: its first tensor is missing.
  std::string msg = ConvertError("face_landmark_68", WriteManifest(TinySpecs()), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("missing weight 'dense0/conv0/filters'"), std::string::npos) << msg;
  // An extra tensor the architecture does not read.
  std::vector<TensorSpec> specs = TinySpecs();
  specs.push_back({"conv6/bias", {512}});
  msg = ConvertError("tiny_face_detector", WriteManifest(specs), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("tensor 'conv6/bias' is not part of the tiny_face_detector architecture"), std::string::npos)
      << msg;
}

TEST_F(FaceApiTest, NotAManifest) {
  Write("m.json", R"({"modelTopology": {}})");
  std::string msg = ConvertError("age_gender", dir_ + "/m.json", ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("JSON array"), std::string::npos) << msg;
  Write("m.json", R"([{"paths": ["../x.bin"], "weights": []}])");
  msg = ConvertError("age_gender", dir_ + "/m.json", ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("must be relative to the model folder"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------
// The real face-api 1.7.15 manifests, when tools/setup-models.sh has fetched them.

std::string RealModelDir() {
  const char* env = std::getenv("FACELIB_MODEL_SOURCES");
  const std::string sources = env ? env : std::string(FACELIB_SOURCE_DIR) + "/build/model-sources";
  return sources + "/npm/@vladmandic__face-api@1.7.15/package/model";
}

struct RealNet {
  const char* arch;
  const char* file;
  int64_t manifest_params;            // appendix of shared/research/models.md
  std::vector<std::string> outputs;   // with their shapes for a batch of one
  std::vector<rt::Shape> output_shapes;
};

std::vector<RealNet> RealNets() {
  return {
      {"ssd_mobilenetv1", "ssd_mobilenetv1_model", 5555541, {"boxes", "scores"}, {{1, 5118, 4}, {1, 5118}}},
      {"tiny_face_detector", "tiny_face_detector_model", 193321, {"out"}, {{1, 13, 13, 25}}},
      {"face_landmark_68", "face_landmark_68_model", 356840, {"landmarks"}, {{1, 136}}},
      {"face_landmark_68_tiny", "face_landmark_68_tiny_model", 77224, {"landmarks"}, {{1, 136}}},
      {"face_recognition", "face_recognition_model", 5614592, {"descriptor"}, {{1, 128}}},
      {"age_gender", "age_gender_model", 421731, {"age", "gender"}, {{1}, {1, 2}}},
      {"face_expression", "face_expression_model", 323687, {"probs"}, {{1, 7}}},
  };
}

bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Manifest values the graph does not hold as such: SSD's TF graph constants
// (reshape sizes, slice bounds, preprocessing scalars) and its anchors (turned
// into decode constants); the recognition net's scale layers (folded into the
// convolutions before them).
bool NotInGraph(const std::string& arch, const std::string& name) {
  if (arch == "ssd_mobilenetv1")
    return name == "Output/extra_dim" || StartsWith(name, "Preprocessor/") || StartsWith(name, "Postprocessor/") ||
           StartsWith(name, "concat_1/") || name.find("/stack") != std::string::npos ||
           name.find("/strided_slice/") != std::string::npos;
  if (arch == "face_recognition") return name.find("/scale/") != std::string::npos;
  return false;
}

TEST(FaceApiRealTest, ParameterCountsAndOutputs) {
  const std::string dir = RealModelDir();
  if (!std::ifstream(dir + "/tiny_face_detector_model-weights_manifest.json").good())
    GTEST_SKIP() << dir << " is missing (tools/setup-models.sh)";
  for (const RealNet& net : RealNets()) {
    SCOPED_TRACE(net.arch);
    const std::string manifest = dir + "/" + net.file + "-weights_manifest.json";
    const models::WeightMap w = ReadFaceApiManifest(manifest);
    EXPECT_EQ(w.CountValues(), net.manifest_params);
    int64_t expected = 0;
    for (const auto& [name, t] : w.tensors())
      if (!NotInGraph(net.arch, name)) expected += static_cast<int64_t>(t.data.size());

    const rt::Graph g = models::BuildFaceApi(models::ParseFaceApiArch(net.arch), w);
    int64_t in_graph = 0;
    for (const rt::TensorDef& t : g.tensors)
      if (t.is_constant() && !t.constant->is_int && !StartsWith(t.name, models::kFaceApiPreprocessPrefix) &&
          !StartsWith(t.name, models::kFaceApiDecodePrefix))
        in_graph += rt::NumElements(t.shape);
    EXPECT_EQ(in_graph, expected);

    auto model = rt::Model::FromGraph(g, {.num_threads = 1});
    ASSERT_EQ(model->num_outputs(), net.outputs.size());
    const int s = models::FaceApiInputSize(models::ParseFaceApiArch(net.arch));
    EXPECT_EQ(model->input_shape(0), (rt::Shape{-1, s, s, 3}));
    std::vector<float> x(static_cast<size_t>(s) * s * 3, 100.0f);
    const auto out = model->Run({{{1, s, s, 3}, x.data()}});
    for (size_t i = 0; i < net.outputs.size(); ++i) {
      EXPECT_EQ(model->output_name(i), net.outputs[i]);
      EXPECT_EQ(out[i].shape, net.output_shapes[i]) << net.outputs[i];
    }
  }
}

// face-api 1.7.15 (tfjs-wasm) on a synthetic pattern: pixel (y, x, c) =
// (3y + 5x + 70c) mod 256, 150x150. Checks the dlib ResNet's odd-size
// residual padding end to end.
TEST(FaceApiRealTest, RecognitionMatchesFaceApi) {
  const std::string manifest = RealModelDir() + "/face_recognition_model-weights_manifest.json";
  if (!std::ifstream(manifest).good()) GTEST_SKIP() << manifest << " is missing (tools/setup-models.sh)";
  auto model = rt::Model::FromGraph(Convert("face_recognition", manifest), {.num_threads = 1});
  std::vector<float> x(150 * 150 * 3);
  for (int y = 0; y < 150; ++y)
    for (int xx = 0; xx < 150; ++xx)
      for (int c = 0; c < 3; ++c) x[(y * 150 + xx) * 3 + c] = static_cast<float>((y * 3 + xx * 5 + c * 70) % 256);
  const auto out = model->Run({{{1, 150, 150, 3}, x.data()}});
  ASSERT_EQ(out[0].shape, (rt::Shape{1, 128}));
  const float head[4] = {-0.0861746967f, 0.166251332f, 0.0596568435f, -0.0310262647f};
  const float tail[4] = {0.0148200197f, -0.0620205365f, -0.00290567055f, 0.0000192699954f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(out[0].data[i], head[i], 1e-5) << i;
    EXPECT_NEAR(out[0].data[124 + i], tail[i], 1e-5) << 124 + i;
  }
}

}  // namespace
}  // namespace facelib::convert
