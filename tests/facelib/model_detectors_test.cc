// The ONNX/PyTorch zoo detectors (facelib/model_detectors.h) on real images:
// LFW portraits (one centred face each) and WIDER FACE validation images from
// ../shared/eval-dev, with the converted models of build/models (or
// $FACELIB_MODELS_DIR). Missing data or models print "SKIP:" and skip.
#include "facelib/model_detectors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "facelib/imgproc.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"
#include "tests/data_dirs.h"

namespace facelib {
namespace {

namespace fs = std::filesystem;

using facelib::testdata::ModelsDir;
using facelib::testdata::EvalDir;

using Factory = std::unique_ptr<Detector> (*)(const std::string&, const DetectorOptions&);

struct Golden {
  float x, y, w, h;               // box on lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg
  float rex, rey, lex, ley;       // person's right and left eye (when the model has landmarks)
};

struct Case {
  const char* label;
  Factory make;
  const char* variant;
  const char* model;   // zoo model the case needs
  const char* name;    // Detector::name()
  float threshold;     // the backend's default score threshold
  bool landmarks;
  Golden golden;
  // On the first 20 WIDER images with faces (100 faces), at the default
  // threshold: measured recall 0.11 / 0.23 / 0.57 / 0.58 / 0.66 / 0.68 /
  // 0.75 / 0.68 / 0.59 and precision 1.00 / 1.00 / 1.00 / 0.95 / 0.99 / 0.94 /
  // 0.96 / 0.97 / 0.94 (order of kCases); asserted with a margin.
  double min_recall, min_precision;
};

const Case kCases[] = {
    {"Yunet", MakeYunetDetector, "", "yunet", "yunet", 0.9f, true,
     {88.2f, 58.9f, 101.8f, 130.2f, 103.4f, 108.9f, 147.8f, 107.7f}, 0.08, 0.9},
    {"YunetN", MakeYunetDetector, "n", "yunet_n", "yunet", 0.9f, true,
     {91.5f, 62.3f, 90.9f, 124.2f, 101.5f, 112.4f, 143.5f, 111.5f}, 0.18, 0.9},
    {"RetinaFace", MakeRetinaFaceDetector, "", "retinaface_mnet025", "retinaface", 0.9f, true,
     {90.4f, 60.8f, 96.2f, 127.6f, 106.3f, 113.6f, 143.7f, 114.8f}, 0.50, 0.9},
    {"RetinaFaceTorch", MakeRetinaFaceDetector, "torch", "retinaface_mnet025_torch", "retinaface", 0.9f, true,
     {85.4f, 56.6f, 104.5f, 133.7f, 106.3f, 110.8f, 143.7f, 113.7f}, 0.50, 0.85},
    {"Scrfd", MakeScrfdDetector, "", "scrfd_500m", "scrfd", 0.5f, true,
     {90.8f, 56.9f, 98.3f, 128.2f, 107.1f, 112.0f, 146.8f, 114.8f}, 0.58, 0.9},
    {"UltraFace", MakeUltraFaceDetector, "", "ultraface_rfb320", "ultraface", 0.7f, false,
     {89.4f, 56.0f, 98.8f, 129.2f, 0, 0, 0, 0}, 0.60, 0.85},
    {"UltraFace640", MakeUltraFaceDetector, "rfb640", "ultraface_rfb640", "ultraface", 0.7f, false,
     {89.2f, 53.7f, 103.8f, 128.4f, 0, 0, 0, 0}, 0.67, 0.88},
    {"UltraFaceSlim", MakeUltraFaceDetector, "slim320", "ultraface_slim320", "ultraface", 0.7f, false,
     {89.5f, 53.5f, 99.0f, 137.5f, 0, 0, 0, 0}, 0.60, 0.88},
    {"Yolo5Face", MakeYolo5FaceDetector, "", "yolo5face_500m", "yolo5face", 0.5f, true,
     {82.8f, 51.9f, 109.8f, 139.2f, 104.2f, 111.5f, 145.8f, 111.4f}, 0.52, 0.85},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

const char* kLfw[] = {
    "Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "Alanis_Morissette/Alanis_Morissette_0001.jpg",
    "Amber_Tamblyn/Amber_Tamblyn_0001.jpg",
    "Casey_Mears/Casey_Mears_0001.jpg",
};

// Loads the case's detector, or explains why not (then the test skips).
std::unique_ptr<Detector> Load(const Case& c, DetectorOptions opts = {}) {
  const std::string path = ZooModelPath(ModelsDir(), c.model);
  if (!fs::exists(path)) {
    std::printf("SKIP: %s not found (run tools/setup-models.sh)\n", path.c_str());
    return nullptr;
  }
  opts.variant = c.variant;
  return c.make(ModelsDir(), opts);
}

bool HaveFile(const fs::path& p) {
  if (fs::exists(p)) return true;
  std::printf("SKIP: %s not found\n", p.string().c_str());
  return false;
}

bool Inside(const Box& b, Point p) { return p.x >= b.x && p.x <= b.x + b.w && p.y >= b.y && p.y <= b.y + b.h; }

void ExpectSame(const std::vector<Detection>& a, const std::vector<Detection>& b, float tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i].box.x, b[i].box.x, tol) << what << " face " << i;
    EXPECT_NEAR(a[i].box.y, b[i].box.y, tol) << what << " face " << i;
    EXPECT_NEAR(a[i].box.w, b[i].box.w, tol) << what << " face " << i;
    EXPECT_NEAR(a[i].box.h, b[i].box.h, tol) << what << " face " << i;
    EXPECT_NEAR(a[i].confidence, b[i].confidence, 1e-5) << what << " face " << i;
    ASSERT_EQ(a[i].landmarks.size(), b[i].landmarks.size()) << what;
    for (size_t k = 0; k < a[i].landmarks.size(); ++k) {
      EXPECT_NEAR(a[i].landmarks[k].x, b[i].landmarks[k].x, tol) << what << " face " << i << " point " << k;
      EXPECT_NEAR(a[i].landmarks[k].y, b[i].landmarks[k].y, tol) << what << " face " << i << " point " << k;
    }
  }
}

class ModelDetectorTest : public ::testing::TestWithParam<Case> {};

TEST_P(ModelDetectorTest, OneFaceOnLfwPortraits) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  EXPECT_EQ(det->name(), c.name);
  for (const char* rel : kLfw) {
    const fs::path path = EvalDir() / "lfw/images" / rel;
    if (!HaveFile(path)) GTEST_SKIP();
    const Image img = LoadImage(path.string());
    const auto faces = det->Detect(img);
    ASSERT_EQ(faces.size(), 1u) << rel;
    const Detection& d = faces[0];
    EXPECT_GE(d.confidence, c.threshold) << rel;
    EXPECT_LE(d.confidence, 1.f) << rel;
    const Point centre{img.width / 2.f, img.height / 2.f};
    EXPECT_TRUE(Inside(d.box, centre)) << rel;
    EXPECT_GT(d.box.w, 70) << rel;
    EXPECT_LT(d.box.w, 130) << rel;
    EXPECT_GT(d.box.h, 90) << rel;
    EXPECT_LT(d.box.h, 170) << rel;
    EXPECT_GE(d.box.x, 0) << rel;
    EXPECT_GE(d.box.y, 0) << rel;
    EXPECT_LE(d.box.x + d.box.w, img.width) << rel;
    EXPECT_LE(d.box.y + d.box.h, img.height) << rel;
    if (!c.landmarks) {
      EXPECT_TRUE(d.landmarks.empty());
      EXPECT_FALSE(d.left_eye || d.right_eye || d.nose || d.mouth_left || d.mouth_right);
      continue;
    }
    ASSERT_EQ(d.landmarks.size(), 5u) << rel;
    ASSERT_TRUE(d.left_eye && d.right_eye && d.nose && d.mouth_left && d.mouth_right) << rel;
    // Person's left eye is on the right of an upright frontal photo.
    EXPECT_GT(d.left_eye->x, d.right_eye->x + 20) << rel;
    EXPECT_GT(d.mouth_left->x, d.mouth_right->x + 15) << rel;
    const float mid_y = d.box.y + d.box.h / 2;
    for (Point eye : {*d.left_eye, *d.right_eye}) {
      EXPECT_TRUE(Inside(d.box, eye)) << rel;
      EXPECT_LT(eye.y, mid_y) << rel;
    }
    EXPECT_GT(d.nose->y, std::max(d.left_eye->y, d.right_eye->y)) << rel;
    EXPECT_GT(d.mouth_left->y, d.nose->y) << rel;
    EXPECT_GT(d.nose->x, d.right_eye->x) << rel;
    EXPECT_LT(d.nose->x, d.left_eye->x) << rel;
    EXPECT_FLOAT_EQ(d.landmarks[0].x, d.right_eye->x);
    EXPECT_FLOAT_EQ(d.landmarks[1].x, d.left_eye->x);
    EXPECT_FLOAT_EQ(d.landmarks[2].y, d.nose->y);
    EXPECT_FLOAT_EQ(d.landmarks[3].x, d.mouth_right->x);
    EXPECT_FLOAT_EQ(d.landmarks[4].x, d.mouth_left->x);
  }
}

TEST_P(ModelDetectorTest, MatchesRecordedValues) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  const fs::path path = EvalDir() / "lfw/images" / kLfw[0];
  if (!HaveFile(path)) GTEST_SKIP();
  const auto faces = det->Detect(LoadImage(path.string()));
  ASSERT_EQ(faces.size(), 1u);
  const Detection& d = faces[0];
  const Golden& g = c.golden;
  constexpr float kTol = 1.5f;  // pixels
  EXPECT_NEAR(d.box.x, g.x, kTol);
  EXPECT_NEAR(d.box.y, g.y, kTol);
  EXPECT_NEAR(d.box.w, g.w, kTol);
  EXPECT_NEAR(d.box.h, g.h, kTol);
  if (c.landmarks) {
    ASSERT_TRUE(d.right_eye && d.left_eye);
    EXPECT_NEAR(d.right_eye->x, g.rex, kTol);
    EXPECT_NEAR(d.right_eye->y, g.rey, kTol);
    EXPECT_NEAR(d.left_eye->x, g.lex, kTol);
    EXPECT_NEAR(d.left_eye->y, g.ley, kTol);
  }
}

// The face moves and scales with the image: boxes are mapped back through
// padding and resizing (including YuNet's shrinking of images over 640 px).
TEST_P(ModelDetectorTest, BoxesFollowTranslationAndScale) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  const fs::path path = EvalDir() / "lfw/images" / kLfw[0];
  if (!HaveFile(path)) GTEST_SKIP();
  const Image img = LoadImage(path.string());
  const auto base = det->Detect(img);
  ASSERT_EQ(base.size(), 1u);
  const Box b = base[0].box;

  const int left = 150, top = 40;
  const auto shifted = det->Detect(Pad(img, top, 110, left, 60));
  ASSERT_EQ(shifted.size(), 1u);
  const float tol = 0.12f * b.w;
  EXPECT_NEAR(shifted[0].box.x, b.x + left, tol);
  EXPECT_NEAR(shifted[0].box.y, b.y + top, tol);
  EXPECT_NEAR(shifted[0].box.w, b.w, tol);
  EXPECT_NEAR(shifted[0].box.h, b.h, tol);

  const float s = 2.8f;
  const auto scaled = det->Detect(Resize(img, 700, 700));
  ASSERT_EQ(scaled.size(), 1u);
  EXPECT_NEAR(scaled[0].box.x, b.x * s, tol * s);
  EXPECT_NEAR(scaled[0].box.y, b.y * s, tol * s);
  EXPECT_NEAR(scaled[0].box.w, b.w * s, tol * s);
  EXPECT_NEAR(scaled[0].box.h, b.h * s, tol * s);
  if (c.landmarks) {
    ASSERT_TRUE(scaled[0].left_eye && base[0].left_eye);
    EXPECT_NEAR(scaled[0].left_eye->x, base[0].left_eye->x * s, 0.1f * b.w * s);
    EXPECT_NEAR(scaled[0].left_eye->y, base[0].left_eye->y * s, 0.1f * b.w * s);
  }
}

struct WiderImage {
  std::string path;
  std::vector<Box> faces;
};

std::vector<Box> ParseBoxes(const std::string& s) {
  std::vector<Box> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ';')) {
    Box b;
    if (std::sscanf(item.c_str(), "%f,%f,%f,%f", &b.x, &b.y, &b.w, &b.h) == 4) out.push_back(b);
  }
  return out;
}

// The first `n` manifest rows that have at least one evaluable face; with
// their ignore boxes.
std::vector<WiderImage> WiderImages(size_t n, std::vector<std::vector<Box>>* ignore) {
  const fs::path dir = EvalDir() / "wider_val200";
  std::vector<WiderImage> out;
  std::ifstream f(dir / "manifest.tsv");
  std::string line;
  while (out.size() < n && std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab + 1 >= line.size()) continue;
    out.push_back({(dir / line.substr(0, tab)).string(), ParseBoxes(line.substr(tab + 1))});
  }
  ignore->assign(out.size(), {});
  std::ifstream g(dir / "ignore.tsv");
  while (std::getline(g, line)) {
    const size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    const std::string p = (dir / line.substr(0, tab)).string();
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i].path == p) (*ignore)[i] = ParseBoxes(line.substr(tab + 1));
  }
  return out;
}

// Greedy IoU >= 0.5 matching (best first), one detection per face;
// unmatched detections on an ignore box are neither true nor false positives.
void Score(const std::vector<Detection>& dets, const std::vector<Box>& faces, const std::vector<Box>& ignore, int* tp,
           int* fp) {
  std::vector<char> used(faces.size(), 0);
  for (const Detection& d : dets) {
    int best = -1;
    float best_iou = 0.5f;
    for (size_t g = 0; g < faces.size(); ++g) {
      const float v = used[g] ? 0.f : IoU(d.box, faces[g]);
      if (v >= best_iou) best_iou = v, best = static_cast<int>(g);
    }
    if (best >= 0) {
      used[best] = 1;
      ++*tp;
      continue;
    }
    const Point centre{d.box.x + d.box.w / 2, d.box.y + d.box.h / 2};
    const bool ignored = std::any_of(ignore.begin(), ignore.end(),
                                     [&](const Box& g) { return IoU(d.box, g) >= 0.5f || Inside(g, centre); });
    if (!ignored) ++*fp;
  }
}

TEST_P(ModelDetectorTest, RecallOnWiderFace) {
  const Case& c = GetParam();
  if (!HaveFile(EvalDir() / "wider_val200/manifest.tsv")) GTEST_SKIP();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  std::vector<std::vector<Box>> ignore;
  const auto images = WiderImages(20, &ignore);
  ASSERT_EQ(images.size(), 20u);
  int faces = 0, tp = 0, fp = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto dets = det->Detect(LoadImage(images[i].path));
    for (const Detection& d : dets) {
      EXPECT_GE(d.confidence, c.threshold);
      EXPECT_GE(d.box.x, 0);
      EXPECT_GE(d.box.y, 0);
    }
    Score(dets, images[i].faces, ignore[i], &tp, &fp);
    faces += static_cast<int>(images[i].faces.size());
  }
  const double recall = static_cast<double>(tp) / faces, precision = tp + fp ? static_cast<double>(tp) / (tp + fp) : 1;
  std::printf("%s: %d faces, %d TP, %d FP, recall %.3f, precision %.3f\n", c.label, faces, tp, fp, recall, precision);
  EXPECT_EQ(faces, 100);
  EXPECT_GE(recall, c.min_recall);
  EXPECT_GE(precision, c.min_precision);
}

TEST_P(ModelDetectorTest, GrayEqualsReplicatedRgb) {
  const Case& c = GetParam();
  // Gray photos score lower; a lower threshold keeps the comparison non-trivial.
  DetectorOptions opts;
  opts.score_threshold = c.threshold * 0.7f;
  auto det = Load(c, opts);
  if (!det) GTEST_SKIP();
  const fs::path path = EvalDir() / "wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg";
  if (!HaveFile(path)) GTEST_SKIP();
  const Image gray = ToGray(LoadImage(path.string()));
  ASSERT_EQ(gray.channels, 1);
  const auto from_gray = det->Detect(gray);
  const auto from_rgb = det->Detect(ToRgb(gray));
  EXPECT_GE(from_gray.size(), 2u);
  ExpectSame(from_gray, from_rgb, 1e-4f, path.string());
}

TEST_P(ModelDetectorTest, ConcurrentCallsGiveSameResults) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  std::vector<Image> images;
  for (const fs::path& path : {EvalDir() / "wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg",
                               EvalDir() / "lfw/images" / kLfw[2]}) {
    if (!HaveFile(path)) GTEST_SKIP();
    images.push_back(LoadImage(path.string()));
  }
  // Make the portrait non-square so dynamic-size models see two shapes at once.
  images[1] = Pad(images[1], 0, 37, 91, 0);
  std::vector<std::vector<Detection>> expected;
  for (const Image& img : images) expected.push_back(det->Detect(img));
  ASSERT_FALSE(expected[1].empty());
  constexpr int kThreads = 4;
  std::vector<std::vector<std::vector<Detection>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < images.size(); ++i) got[t].push_back(det->Detect(images[(i + t) % images.size()]));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), images.size());
    for (size_t k = 0; k < got[t].size(); ++k)
      ExpectSame(got[t][k], expected[(k + t) % images.size()], 1e-4f,
                 "thread " + std::to_string(t) + " call " + std::to_string(k));
  }
}

TEST_P(ModelDetectorTest, OddInputsAreHandled) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  // Tiny, thin and blank images: no crash, everything inside the image.
  for (auto [w, h, ch] : {std::tuple{1, 1, 3}, {7, 5, 1}, {500, 3, 3}, {2, 300, 1}, {64, 64, 3}}) {
    const Image img(w, h, ch);
    std::vector<Detection> faces;
    ASSERT_NO_THROW(faces = det->Detect(img)) << w << "x" << h;
    for (const Detection& d : faces) {
      EXPECT_GE(d.box.x, 0);
      EXPECT_LE(d.box.x + d.box.w, w + 1e-3f);
      EXPECT_LE(d.box.y + d.box.h, h + 1e-3f);
    }
  }
  try {
    det->Detect(Image());
    ADD_FAILURE() << "empty image accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  Image bad(4, 4, 3);
  bad.pixels.resize(5);
  try {
    det->Detect(bad);
    ADD_FAILURE() << "inconsistent image accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST_P(ModelDetectorTest, OptionsAreApplied) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  const fs::path path = EvalDir() / "lfw/images" / kLfw[0];
  if (!HaveFile(path)) GTEST_SKIP();
  const Image img = LoadImage(path.string());
  ASSERT_EQ(det->Detect(img).size(), 1u);
  // No score reaches 1.01.
  DetectorOptions strict;
  strict.score_threshold = 1.01f;
  EXPECT_TRUE(Load(c, strict)->Detect(img).empty());
  // With a lower threshold and NMS IoU 1 the overlapping candidates of the
  // one face all come through.
  DetectorOptions loose;
  loose.score_threshold = c.threshold * 0.5f;
  loose.nms_iou = 1.0f;
  const auto many = Load(c, loose)->Detect(img);
  EXPECT_GT(many.size(), 3u);
  for (size_t i = 1; i < many.size(); ++i) EXPECT_LE(many[i].confidence, many[i - 1].confidence);
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelDetectorTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.label); });

TEST(ModelDetectors, YunetFindsMoreAtALowerThreshold) {
  if (!HaveFile(EvalDir() / "wider_val200/manifest.tsv")) GTEST_SKIP();
  DetectorOptions opts;
  opts.score_threshold = 0.6f;
  auto det = Load(kCases[0], opts);
  if (!det) GTEST_SKIP();
  std::vector<std::vector<Box>> ignore;
  const auto images = WiderImages(20, &ignore);
  int faces = 0, tp = 0, fp = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    Score(det->Detect(LoadImage(images[i].path)), images[i].faces, ignore[i], &tp, &fp);
    faces += static_cast<int>(images[i].faces.size());
  }
  // Measured: 68 of 100 faces, 14 false positives.
  EXPECT_GE(tp, 60);
  EXPECT_LE(fp, 22);
}

TEST(ModelDetectors, BadVariantsAndMissingModels) {
  const Factory factories[] = {MakeYunetDetector, MakeRetinaFaceDetector, MakeScrfdDetector, MakeUltraFaceDetector,
                               MakeYolo5FaceDetector};
  for (Factory make : factories) {
    DetectorOptions opts;
    opts.variant = "no-such-variant";
    try {
      make(ModelsDir(), opts);
      ADD_FAILURE() << "unknown variant accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("no-such-variant"), std::string::npos);
    }
    try {
      make("/nonexistent/models", DetectorOptions{});
      ADD_FAILURE() << "missing model accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound);
      EXPECT_NE(std::string(e.what()).find("/nonexistent/models"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace facelib
