// End-to-end conversions of the real checkpoints in ../shared/models (skipped
// when absent). Expected outputs were computed once with the PyTorch
// reference (tests/parity/ref_torch.py, python3-torch 1.13.1 on Debian 12) on
// constant inputs: MTCNN 0.25 everywhere (already normalised), MiniFASNet
// 128.0, RetinaFace 0.0 (an image equal to the mean) at 64x64.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "converters/converter.h"
#include "converters/mtcnn_ipazc.h"
#include "converters/torch_checkpoint.h"
#include "models/mtcnn_builder.h"
#include "runtime/model.h"

namespace facelib::convert {
namespace {

// ../shared/models next to the repository, or $FACELIB_SHARED/models.
const std::string kShared = [] {
  const char* env = std::getenv("FACELIB_SHARED");
  return std::string(env ? env : FACELIB_SOURCE_DIR "/../shared") + "/models/";
}();

bool Have(const std::string& rel) { return static_cast<bool>(std::ifstream(kShared + rel)); }

rt::Graph Convert(const std::string& format, const std::string& file, const std::string& key, const std::string& value) {
  ConvertRequest req;
  req.inputs = {kShared + file};
  req.options[key] = value;
  const Converter* c = FindConverter(format);
  if (!c) throw Error(ErrorCode::kInternal, "converter " + format + " not registered");
  return c->convert(req);
}

std::vector<rt::Tensor> RunConstant(const rt::Graph& g, rt::Shape shape, float value) {
  auto model = rt::Model::FromGraph(g);
  std::vector<float> x(static_cast<size_t>(rt::NumElements(shape)), value);
  return model->Run({{shape, x.data()}});
}

void ExpectNear(const rt::Tensor& t, const std::vector<float>& expect, float tol, const char* what) {
  ASSERT_GE(t.data.size(), expect.size()) << what;
  for (size_t i = 0; i < expect.size(); ++i) EXPECT_NEAR(t.data[i], expect[i], tol) << what << "[" << i << "]";
}

TEST(TorchModelsTest, MtcnnAllSourcesAgree) {
  if (!Have("mtcnn_ipazc/pnet.lz4") || !Have("mtcnn_ipazc/mtcnn_weights.npy") || !Have("mtcnn_facenet_pytorch/pnet.pt"))
    GTEST_SKIP() << "MTCNN weights not present in " << kShared;
  struct Net {
    const char* name;
    rt::Shape input;
    int64_t params;
    std::vector<std::vector<float>> expect;  // per output, first values
  };
  const Net nets[] = {
      {"pnet", {1, 12, 12, 3}, 6632, {{0.99990368f, 9.6346863e-05f}, {-0.02455131f, -0.15908508f, 0.04368325f, 0.14782199f}}},
      {"rnet", {1, 24, 24, 3}, 100178, {{0.99732023f, 0.00267979f}, {-0.07173744f, -0.16445376f, 0.03482306f, 0.22302547f}}},
      {"onet", {1, 48, 48, 3}, 389040,
       {{0.99980468f, 1.95385175e-04f},
        {-0.05383394f, -0.21740139f, 0.05030811f, 0.11403108f},
        {0.36158293f, 0.71624976f, 0.53689313f, 0.40084195f, 0.64654881f, 0.24977383f}}},
  };
  for (const Net& n : nets) {
    const models::MtcnnNet net = models::ParseMtcnnNet(n.name);
    EXPECT_EQ(LoadIpazcMtcnn(kShared + "mtcnn_ipazc/" + n.name + ".lz4", net).CountValues(), n.params);
    EXPECT_EQ(LoadIpazcMtcnn(kShared + "mtcnn_ipazc/mtcnn_weights.npy", net).CountValues(), n.params);
    const TorchStateDict pt = LoadTorchStateDict(kShared + "mtcnn_facenet_pytorch/" + n.name + ".pt");
    EXPECT_EQ(pt.container, TorchContainer::kLegacy);
    EXPECT_EQ(pt.weights.CountValues(), n.params);
    const std::string files[] = {std::string("mtcnn_ipazc/") + n.name + ".lz4", "mtcnn_ipazc/mtcnn_weights.npy",
                                 std::string("mtcnn_facenet_pytorch/") + n.name + ".pt"};
    for (const std::string& f : files) {
      const rt::Graph g = Convert("mtcnn", f, "net", n.name);
      EXPECT_EQ(g.metadata.at("input_color"), "RGB");
      const auto out = RunConstant(g, n.input, 0.25f);
      ASSERT_EQ(out.size(), n.expect.size()) << f;
      for (size_t o = 0; o < out.size(); ++o) ExpectNear(out[o], n.expect[o], 2e-5f, (f + " output").c_str());
    }
  }
}

TEST(TorchModelsTest, MtcnnWrongNetIsRejected) {
  if (!Have("mtcnn_ipazc/rnet.lz4")) GTEST_SKIP();
  try {
    Convert("mtcnn", "mtcnn_ipazc/rnet.lz4", "net", "pnet");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("expected 13 arrays for pnet, found 16"), std::string::npos) << e.what();
  }
}

TEST(TorchModelsTest, MiniFasNet) {
  if (!Have("minifasnet/2.7_80x80_MiniFASNetV2.pth")) GTEST_SKIP();
  const TorchStateDict v2 = LoadTorchStateDict(kShared + "minifasnet/2.7_80x80_MiniFASNetV2.pth");
  // 444,928 values with BatchNorm statistics, without the num_batches_tracked counters.
  EXPECT_EQ(v2.weights.CountValues([](const std::string& n) { return n.find("num_batches") == std::string::npos; }),
            444928);
  rt::Graph g = Convert("torch", "minifasnet/2.7_80x80_MiniFASNetV2.pth", "arch", "minifasnet-v2");
  auto out = RunConstant(g, {1, 80, 80, 3}, 128.0f);
  ExpectNear(out[0], {-1.89288032f, 0.40729716f, 1.48555601f}, 2e-4f, "v2 logits");
  ExpectNear(out[1], {0.02481338f, 0.24753711f, 0.72764945f}, 2e-5f, "v2 probs");

  g = Convert("torch", "minifasnet/4_0_0_80x80_MiniFASNetV1SE.pth", "arch", "minifasnet-v1se");
  out = RunConstant(g, {1, 80, 80, 3}, 128.0f);
  ExpectNear(out[0], {-1.20290875f, 0.89196861f, 0.31066048f}, 2e-4f, "v1se logits");
  ExpectNear(out[1], {0.07316702f, 0.59444135f, 0.33239165f}, 2e-5f, "v1se probs");

  // The V2 checkpoint has no SE blocks: asking for V1SE must fail, naming why.
  try {
    Convert("torch", "minifasnet/2.7_80x80_MiniFASNetV2.pth", "arch", "minifasnet-v1se");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MiniFASNetV1SE checkpoint without SE blocks"), std::string::npos) << e.what();
  }
}

TEST(TorchModelsTest, RetinaFaceMobileNet025) {
  if (!Have("retinaface_biubug6/Final_Retinaface.pth")) GTEST_SKIP();
  const rt::Graph g = Convert("torch", "retinaface_biubug6/Final_Retinaface.pth", "arch", "retinaface-mnet025");
  EXPECT_EQ(g.metadata.at("input_mean"), "104,117,123");
  const auto out = RunConstant(g, {1, 64, 64, 3}, 0.0f);
  ASSERT_EQ(out.size(), 3u);
  // 64x64: (8*8 + 4*4 + 2*2) cells x 2 anchors = 168.
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 168, 4}));
  EXPECT_EQ(out[1].shape, (rt::Shape{1, 168, 2}));
  EXPECT_EQ(out[2].shape, (rt::Shape{1, 168, 10}));
  ExpectNear(out[0], {0.27169177f, 0.67536312f, -1.8389726f, -0.98842263f, 0.63080347f, 1.2603168f}, 1e-4f, "loc");
  ExpectNear(out[1], {0.9993518f, 6.4817577e-04f, 0.99908352f, 9.1645733e-04f}, 1e-5f, "conf");
  ExpectNear(out[2], {-1.6521496f, -1.8781984f, 2.5934894f, -2.0269668f, 0.38995126f, 0.13243803f}, 1e-4f, "landms");
}

TEST(TorchModelsTest, UnknownArchIsNamed) {
  if (!Have("minifasnet/2.7_80x80_MiniFASNetV2.pth")) GTEST_SKIP();
  try {
    Convert("torch", "minifasnet/2.7_80x80_MiniFASNetV2.pth", "arch", "resnet50");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("unknown --arch 'resnet50'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace facelib::convert
