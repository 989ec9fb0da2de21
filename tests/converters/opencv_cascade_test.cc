// The "opencv-cascade" converter: OpenCV's real cascade files (when
// tools/setup-models.sh has extracted Debian's opencv-data) and small
// hand-written cascades for every error path.
#include "converters/opencv_cascade.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "converters/converter.h"
#include "models/haar_cascade_format.h"
#include "runtime/model_file.h"

namespace facelib::convert {
namespace {

namespace hc = models::haar;

std::string CascadeDir() {
  const char* env = std::getenv("FACELIB_MODEL_SOURCES");
  const std::string sources = env ? env : std::string(FACELIB_SOURCE_DIR) + "/build/model-sources";
  return sources + "/deb/opencv-data/usr/share/opencv4";
}

// Reads a file of the opencv-data package; "" when it is absent.
std::string ReadCascade(const std::string& rel) {
  std::ifstream f(CascadeDir() + "/" + rel, std::ios::binary);
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const rt::TensorDef& Tensor(const rt::Graph& g, const char* name) {
  for (const rt::TensorDef& t : g.tensors)
    if (t.name == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return g.tensors.front();
}

// A valid 6x6 cascade with one stage of one stump; pieces can be replaced.
struct Mini {
  std::string root = "opencv_storage";
  std::string type_id = "opencv-cascade-classifier";
  std::string feature_type = "HAAR";
  std::string threshold = "-1.5e-01";
  std::string nodes = "0 -1 0 2.5e-01";
  std::string leaves = "-1. 1.";
  std::string rects = "<_>0 0 3 6 -1.</_><_>3 0 3 6 1.</_>";
  std::string extra_feature;
  std::string tilted;

  std::string Xml() const {
    return "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<" + root + ">\n<cascade type_id=\"" + type_id +
           "\"><stageType>BOOST</stageType>\n<featureType>" + feature_type +
           "</featureType>\n<height>6</height>\n<width>6</width>\n<stageParams><maxWeakCount>1</maxWeakCount>"
           "</stageParams>\n<featureParams><maxCatCount>0</maxCatCount></featureParams>\n<stageNum>1</stageNum>\n"
           "<stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>" + threshold +
           "</stageThreshold><weakClassifiers><_><internalNodes>" + nodes + "</internalNodes><leafValues>" + leaves +
           "</leafValues></_></weakClassifiers></_></stages>\n<features><_><rects>" + rects + "</rects>" + tilted +
           "</_>" + extra_feature + "</features></cascade>\n</" + root + ">\n";
  }
};

// The message of the error converting `xml`, after checking its code.
std::string ErrorOf(const std::string& xml, ErrorCode code) {
  try {
    ConvertOpenCvCascadeXml(xml, "test.xml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.xml"), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << xml;
  return "";
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

TEST(OpenCvCascadeTest, MiniCascadeConverts) {
  const rt::Graph g = ConvertOpenCvCascadeXml(Mini().Xml(), "mini.xml");
  EXPECT_EQ(g.metadata.at(hc::kMetaWindowWidth), "6");
  EXPECT_EQ(g.metadata.at(hc::kMetaWindowHeight), "6");
  EXPECT_EQ(g.metadata.at(hc::kMetaHasTilted), "0");
  const rt::TensorDef& thr = Tensor(g, hc::kStageThreshold);
  ASSERT_EQ(thr.shape, rt::Shape{1});
  EXPECT_EQ(thr.constant->f32[0], -0.15f);
  EXPECT_EQ(Tensor(g, hc::kNodeChildren).constant->ints, (std::vector<int64_t>{0, -1}));
  EXPECT_EQ(Tensor(g, hc::kNodeThreshold).constant->f32[0], 0.25f);
  EXPECT_EQ(Tensor(g, hc::kFeatureRects).shape, (rt::Shape{1, 3, 4}));
  EXPECT_EQ(Tensor(g, hc::kFeatureRects).constant->ints,
            (std::vector<int64_t>{0, 0, 3, 6, 3, 0, 3, 6, 0, 0, 0, 0}));
  const float* w = Tensor(g, hc::kFeatureWeights).constant->f32;
  EXPECT_EQ(w[0], -1.f);
  EXPECT_EQ(w[1], 1.f);
  EXPECT_EQ(w[2], 0.f);
}

TEST(OpenCvCascadeTest, XmlSyntaxVariants) {
  // Entities, CDATA, comments inside elements, self-closing elements, single quotes.
  Mini m;
  m.type_id = "opencv-cascade-&#99;lassifier";
  m.threshold = "<![CDATA[-1.5e-01]]>";
  m.leaves = "-1. <!-- between --> +1.";
  m.tilted = "<unused a='1'/>";
  const rt::Graph g = ConvertOpenCvCascadeXml(m.Xml(), "variants.xml");
  EXPECT_EQ(Tensor(g, hc::kStageThreshold).constant->f32[0], -0.15f);
  EXPECT_EQ(Tensor(g, hc::kLeafValues).constant->f32[1], 1.f);
}

TEST(OpenCvCascadeTest, TiltedAndThreeRectFeatures) {
  Mini m;
  m.nodes = "0 -1 1 2.5e-01";
  m.extra_feature = "<_><rects><_>3 0 2 2 -1.</_><_>3 1 1 1 2.</_><_>2 2 1 1 2.</_></rects><tilted>1</tilted></_>";
  const rt::Graph g = ConvertOpenCvCascadeXml(m.Xml(), "tilted.xml");
  EXPECT_EQ(g.metadata.at(hc::kMetaHasTilted), "1");
  EXPECT_EQ(Tensor(g, hc::kFeatureTilted).constant->ints, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(Tensor(g, hc::kFeatureWeights).constant->f32[5], 2.f);
  // A tilted rectangle reaches x - h on the left: 1 - 2 < 0 is outside the window.
  m.extra_feature = "<_><rects><_>1 0 2 2 -1.</_><_>3 1 1 1 2.</_></rects><tilted>1</tilted></_>";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "(tilted) 1,0 2x2 is not inside the 6x6 window");
}

TEST(OpenCvCascadeTest, TruncatedXml) {
  const std::string xml = Mini().Xml();
  for (size_t cut : {xml.size() / 3, xml.size() / 2, xml.size() - 20, xml.size() - 3}) {
    const std::string msg = ErrorOf(xml.substr(0, cut), ErrorCode::kInvalidModel);
    EXPECT_HAS(msg, "truncated");
  }
  EXPECT_HAS(ErrorOf("", ErrorCode::kInvalidModel), "no root element");
  const std::string real = ReadCascade("haarcascades/haarcascade_frontalface_default.xml");
  if (!real.empty()) {
    EXPECT_HAS(ErrorOf(real.substr(0, real.size() / 2), ErrorCode::kInvalidModel), "truncated");
  }
}

TEST(OpenCvCascadeTest, MalformedXml) {
  EXPECT_HAS(ErrorOf("<a><b></a></b>", ErrorCode::kInvalidModel), "XML line 1: </a> closes <b>");
  EXPECT_HAS(ErrorOf("<a x=1></a>", ErrorCode::kInvalidModel), "not quoted");
  EXPECT_HAS(ErrorOf("<a>&bogus;</a>", ErrorCode::kInvalidModel), "unknown entity &bogus;");
  EXPECT_HAS(ErrorOf("<a></a><b></b>", ErrorCode::kInvalidModel), "content after the root element");
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<x>";
  EXPECT_HAS(ErrorOf(deep, ErrorCode::kInvalidModel), "nested deeper than 64");
}

TEST(OpenCvCascadeTest, WrongRoot) {
  Mini m;
  m.root = "cascades";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "root element is <cascades>, expected <opencv_storage>");
  m = Mini();
  m.type_id = "opencv-matrix";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "type_id 'opencv-matrix'");
}

TEST(OpenCvCascadeTest, UnsupportedKinds) {
  Mini m;
  m.feature_type = "LBP";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kUnsupported), "featureType LBP: only HAAR cascades are supported");
  m.feature_type = "HOG";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kUnsupported), "featureType HOG");
  m.feature_type = "SURF";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "unknown featureType 'SURF'");
  const std::string old =
      "<opencv_storage><haarcascade_frontalface_alt type_id=\"opencv-haar-classifier\"><size>20 20</size><stages>"
      "</stages></haarcascade_frontalface_alt></opencv_storage>";
  EXPECT_HAS(ErrorOf(old, ErrorCode::kUnsupported), "old-format Haar cascade");
  // OpenCV's own LBP cascade, when the package is there.
  const std::string lbp = ReadCascade("lbpcascades/lbpcascade_frontalface.xml");
  if (!lbp.empty()) {
    EXPECT_HAS(ErrorOf(lbp, ErrorCode::kUnsupported), "featureType LBP");
  }
}

TEST(OpenCvCascadeTest, BadNumbersAndIndices) {
  Mini m;
  m.threshold = "abc";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "stage 0 stageThreshold: 'abc' is not a number");
  m = Mini();
  m.threshold = "1e999";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "stage 0 stageThreshold");
  m = Mini();
  m.nodes = "0 -1 x 2.5e-01";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "node 0 feature index: 'x' is not an integer");
  m = Mini();
  m.nodes = "0 -1 0";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "internalNodes holds 3 numbers");
  m = Mini();
  m.nodes = "0 -1 7 2.5e-01";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "feature index 7 is outside 0..0");
  m = Mini();
  m.nodes = "0 -5 0 2.5e-01";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "child -5 is neither a later node nor a leaf");
  m = Mini();
  m.leaves = "-1.";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "has 1 leaf values for 1 nodes, expected 2");
  m = Mini();
  m.rects = "<_>0 0 3 7 -1.</_>";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "0,0 3x7 is not inside the 6x6 window");
  m = Mini();
  m.rects = "<_>0 0 3 -1.</_>";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "must hold 5 numbers");
  m = Mini();
  m.rects = "<_>0 0 3 3 -1.</_><_>0 0 3 3 1.</_><_>0 0 1 1 1.</_><_>0 0 1 1 1.</_>";
  EXPECT_HAS(ErrorOf(m.Xml(), ErrorCode::kInvalidModel), "has 4 rectangles, expected 1..3");
}

TEST(OpenCvCascadeTest, MissingFileIsNotFound) {
  const Converter* c = FindConverter("opencv-cascade");
  ASSERT_NE(c, nullptr);
  ConvertRequest req;
  req.inputs = {"/nonexistent/cascade.xml"};
  try {
    c->convert(req);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
}

// ---------------------------------------------------------------------------
// The real files of Debian's opencv-data 4.6.

struct RealCascade {
  const char* file;
  int width, height;
  int64_t stages, trees, nodes, features;
  bool tilted;
  float first_stage_threshold, first_node_threshold;
};

TEST(OpenCvCascadeTest, RealCascades) {
  const std::vector<RealCascade> cases = {
      {"haarcascade_frontalface_default.xml", 24, 24, 25, 2913, 2913, 2913, false, -5.0425500869750977f,
       -3.1511999666690826e-02f},
      {"haarcascade_eye.xml", 20, 20, 24, 1066, 1066, 1066, false, -1.4562760591506958f, 1.2963959574699402e-01f},
      {"haarcascade_smile.xml", 36, 18, 20, 569, 569, 569, true, -1.2678639888763428f, -4.8783610691316426e-04f},
      {"haarcascade_eye_tree_eyeglasses.xml", 20, 20, 30, 851, 2553, 2553, true, -1.6473180055618286f,
       -2.6987109333276749e-02f},
  };
  int found = 0;
  for (const RealCascade& rc : cases) {
    SCOPED_TRACE(rc.file);
    const std::string xml = ReadCascade(std::string("haarcascades/") + rc.file);
    if (xml.empty()) continue;
    ++found;
    const rt::Graph g = ConvertOpenCvCascadeXml(xml, rc.file);
    EXPECT_EQ(g.metadata.at(hc::kMetaWindowWidth), std::to_string(rc.width));
    EXPECT_EQ(g.metadata.at(hc::kMetaWindowHeight), std::to_string(rc.height));
    EXPECT_EQ(g.metadata.at(hc::kMetaHasTilted), rc.tilted ? "1" : "0");
    EXPECT_EQ(Tensor(g, hc::kStageThreshold).shape, rt::Shape{rc.stages});
    EXPECT_EQ(Tensor(g, hc::kTreeNumNodes).shape, rt::Shape{rc.trees});
    EXPECT_EQ(Tensor(g, hc::kNodeFeature).shape, rt::Shape{rc.nodes});
    EXPECT_EQ(Tensor(g, hc::kLeafValues).shape, rt::Shape{rc.nodes + rc.trees});
    EXPECT_EQ(Tensor(g, hc::kFeatureTilted).shape, rt::Shape{rc.features});
    int64_t trees = 0;
    for (int64_t n : Tensor(g, hc::kStageNumTrees).constant->ints) trees += n;
    EXPECT_EQ(trees, rc.trees);
    EXPECT_EQ(Tensor(g, hc::kStageThreshold).constant->f32[0], rc.first_stage_threshold);
    EXPECT_EQ(Tensor(g, hc::kNodeThreshold).constant->f32[0], rc.first_node_threshold);
    // Survives the model file round trip unchanged.
    const std::vector<uint8_t> bytes = rt::SerializeGraph(g);
    const rt::Graph back = rt::LoadGraphFromBuffer(bytes.data(), bytes.size(), rc.file);
    EXPECT_EQ(Tensor(back, hc::kFeatureRects).constant->ints, Tensor(g, hc::kFeatureRects).constant->ints);
    const rt::TensorDef& leaves = Tensor(back, hc::kLeafValues);
    for (int64_t i = 0; i < rc.nodes + rc.trees; ++i)
      ASSERT_EQ(leaves.constant->f32[i], Tensor(g, hc::kLeafValues).constant->f32[i]) << i;
  }
  if (found == 0) GTEST_SKIP() << "SKIP: no cascades in " << CascadeDir() << " (tools/setup-models.sh)";
  // The face cascade's first feature and first stump, as written in the file.
  const std::string xml = ReadCascade("haarcascades/haarcascade_frontalface_default.xml");
  if (xml.empty()) return;
  const rt::Graph g = ConvertOpenCvCascadeXml(xml, "face");
  const std::vector<int64_t>& rects = Tensor(g, hc::kFeatureRects).constant->ints;
  EXPECT_EQ(std::vector<int64_t>(rects.begin(), rects.begin() + 12),
            (std::vector<int64_t>{6, 4, 12, 9, 6, 7, 12, 3, 0, 0, 0, 0}));
  const float* w = Tensor(g, hc::kFeatureWeights).constant->f32;
  EXPECT_EQ(w[0], -1.f);
  EXPECT_EQ(w[1], 3.f);
  const float* leaves = Tensor(g, hc::kLeafValues).constant->f32;
  EXPECT_EQ(leaves[0], 2.0875380039215088f);
  EXPECT_EQ(leaves[1], -2.2172100543975830f);
}

}  // namespace
}  // namespace facelib::convert
