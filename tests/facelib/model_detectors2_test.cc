// The tfjs / TFLite / face-api / MTCNN zoo detectors (facelib/model_detectors2.h)
// on real images: LFW portraits (one centred face each) and WIDER FACE
// validation images from ../shared/eval-dev, with the converted models of
// build/models (or $FACELIB_MODELS_DIR). Missing data or models print "SKIP:"
// and skip.
#include "facelib/model_detectors2.h"

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
#include <tuple>
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

// Values measured on lfw/images/<kLfw[0]>.
struct Golden {
  float x, y, w, h;          // box
  float rex, rey, lex, ley;  // person's right and left eye (models with landmarks)
};

struct Case {
  const char* label;
  Factory make;
  const char* variant;
  std::vector<const char*> models;  // zoo models the case needs
  const char* name;                 // Detector::name()
  float threshold;                  // the backend's default score threshold
  size_t points;                    // landmarks per face
  Golden golden;
  // First 20 WIDER images with faces (100 faces), default settings; measured
  // recall / precision in the comments, asserted with a margin.
  double min_recall, min_precision;
};

const Case kCases[] = {
    // recall 0.09, precision 0.75
    {"MediaPipeShort", MakeMediaPipeDetector, "", {"mediapipe_blazeface_short"}, "mediapipe", 0.7f, 6,
     {75.2f, 85.4f, 109.4f, 109.4f, 101.2f, 110.6f, 148.8f, 110.7f}, 0.06, 0.6},
    // recall 0.27, precision 0.87
    {"MediaPipeFull", MakeMediaPipeDetector, "full", {"mediapipe_blazeface_full"}, "mediapipe", 0.5f, 6,
     {71.9f, 77.0f, 107.9f, 107.9f, 103.5f, 112.6f, 148.3f, 111.2f}, 0.22, 0.75},
    // recall 0.37, precision 0.71
    {"BlazeFace", MakeBlazeFaceDetector, "", {"human_blazeface"}, "blazeface", 0.5f, 6,
     {79.8f, 87.2f, 102.4f, 102.4f, 106.2f, 111.4f, 149.7f, 112.3f}, 0.32, 0.6},
    // recall 0.56, precision 0.90 (face-api 1.7.15 itself: box 76.3 63.8 106.5 119.7 on kLfw[0])
    {"Ssd", MakeSsdDetector, "", {"faceapi_ssd"}, "ssd", 0.5f, 0, {76.8f, 66.2f, 105.6f, 116.2f, 0, 0, 0, 0}, 0.5, 0.8},
    // recall 0.10, precision 0.50 (face-api 1.7.15 itself: box 59.5 82.3 130.5 115.7 on kLfw[0])
    {"TinyFace", MakeTinyFaceDetector, "", {"faceapi_tiny"}, "tinyface", 0.5f, 0,
     {60.1f, 83.2f, 130.0f, 114.2f, 0, 0, 0, 0}, 0.07, 0.35},
    // recall 0.55, precision 0.95
    {"Mtcnn", MakeMtcnnDetector, "", {"mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"}, "mtcnn", 0.8f, 5,
     {81.8f, 67.0f, 92.1f, 121.7f, 103.8f, 112.1f, 145.9f, 110.6f}, 0.5, 0.88},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

// Portraits on which every backend reports exactly one face.
const char* kLfw[] = {
    "Abel_Pacheco/Abel_Pacheco_0002.jpg",
    "Ann_Veneman/Ann_Veneman_0003.jpg",
    "Bill_Bradley/Bill_Bradley_0001.jpg",
    "Dean_Jacek/Dean_Jacek_0001.jpg",
};

// Loads the case's detector, or explains why not (then the test skips).
std::unique_ptr<Detector> Load(const Case& c, DetectorOptions opts = {}) {
  for (const char* m : c.models) {
    const std::string path = ZooModelPath(ModelsDir(), m);
    if (!fs::exists(path)) {
      std::printf("SKIP: %s not found (run tools/setup-models.sh)\n", path.c_str());
      return nullptr;
    }
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

void ExpectSame(const std::vector<Detection>& a, const std::vector<Detection>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_FLOAT_EQ(a[i].box.x, b[i].box.x) << what << " face " << i;
    EXPECT_FLOAT_EQ(a[i].box.y, b[i].box.y) << what << " face " << i;
    EXPECT_FLOAT_EQ(a[i].box.w, b[i].box.w) << what << " face " << i;
    EXPECT_FLOAT_EQ(a[i].box.h, b[i].box.h) << what << " face " << i;
    EXPECT_FLOAT_EQ(a[i].confidence, b[i].confidence) << what << " face " << i;
    ASSERT_EQ(a[i].landmarks.size(), b[i].landmarks.size()) << what;
    for (size_t k = 0; k < a[i].landmarks.size(); ++k) {
      EXPECT_FLOAT_EQ(a[i].landmarks[k].x, b[i].landmarks[k].x) << what << " face " << i << " point " << k;
      EXPECT_FLOAT_EQ(a[i].landmarks[k].y, b[i].landmarks[k].y) << what << " face " << i << " point " << k;
    }
  }
}

class ModelDetector2Test : public ::testing::TestWithParam<Case> {};

TEST_P(ModelDetector2Test, OneFaceOnLfwPortraits) {
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
    EXPECT_TRUE(Inside(d.box, {img.width / 2.f, img.height / 2.f})) << rel;
    EXPECT_GT(d.box.w, 70) << rel;
    EXPECT_LT(d.box.w, 140) << rel;
    EXPECT_GT(d.box.h, 70) << rel;
    EXPECT_LT(d.box.h, 160) << rel;
    EXPECT_GE(d.box.x, 0) << rel;
    EXPECT_GE(d.box.y, 0) << rel;
    EXPECT_LE(d.box.x + d.box.w, img.width) << rel;
    EXPECT_LE(d.box.y + d.box.h, img.height) << rel;
    ASSERT_EQ(d.landmarks.size(), c.points) << rel;
    if (c.points == 0) {
      EXPECT_FALSE(d.left_eye || d.right_eye || d.nose || d.mouth_left || d.mouth_right) << rel;
      continue;
    }
    ASSERT_TRUE(d.left_eye && d.right_eye && d.nose) << rel;
    // The subject's left eye is on the right of an upright frontal photo.
    EXPECT_GT(d.left_eye->x, d.right_eye->x + 20) << rel;
    for (Point eye : {*d.left_eye, *d.right_eye}) {
      EXPECT_TRUE(Inside(d.box, eye)) << rel;
      EXPECT_LT(eye.y, d.box.y + d.box.h / 2) << rel;
    }
    EXPECT_GT(d.nose->y, std::max(d.left_eye->y, d.right_eye->y)) << rel;
    EXPECT_GT(d.nose->x, d.right_eye->x) << rel;
    EXPECT_LT(d.nose->x, d.left_eye->x) << rel;
    EXPECT_FLOAT_EQ(d.landmarks[0].x, d.right_eye->x);
    EXPECT_FLOAT_EQ(d.landmarks[1].x, d.left_eye->x);
    EXPECT_FLOAT_EQ(d.landmarks[2].y, d.nose->y);
    if (c.points == 6) {
      // MediaPipe's keypoints: mouth centre, then the right and left ear tragions.
      EXPECT_FALSE(d.mouth_left || d.mouth_right) << rel;
      EXPECT_GT(d.landmarks[3].y, d.nose->y) << rel;
      EXPECT_LT(d.landmarks[4].x, d.right_eye->x) << rel;
      EXPECT_GT(d.landmarks[5].x, d.left_eye->x) << rel;
    } else {
      ASSERT_TRUE(d.mouth_left && d.mouth_right) << rel;
      EXPECT_GT(d.mouth_left->x, d.mouth_right->x + 15) << rel;
      EXPECT_GT(d.mouth_left->y, d.nose->y) << rel;
      EXPECT_FLOAT_EQ(d.landmarks[3].x, d.mouth_right->x);
      EXPECT_FLOAT_EQ(d.landmarks[4].x, d.mouth_left->x);
    }
  }
}

TEST_P(ModelDetector2Test, MatchesRecordedValues) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  const fs::path path = EvalDir() / "lfw/images" / kLfw[0];
  if (!HaveFile(path)) GTEST_SKIP();
  const auto faces = det->Detect(LoadImage(path.string()));
  ASSERT_EQ(faces.size(), 1u);
  const Detection& d = faces[0];
  std::printf("%s: box %.1f %.1f %.1f %.1f", c.label, d.box.x, d.box.y, d.box.w, d.box.h);
  if (d.right_eye && d.left_eye)
    std::printf(" eyes %.1f %.1f %.1f %.1f", d.right_eye->x, d.right_eye->y, d.left_eye->x, d.left_eye->y);
  std::printf(" confidence %.3f\n", d.confidence);
  const Golden& g = c.golden;
  constexpr float kTol = 1.5f;  // pixels
  EXPECT_NEAR(d.box.x, g.x, kTol);
  EXPECT_NEAR(d.box.y, g.y, kTol);
  EXPECT_NEAR(d.box.w, g.w, kTol);
  EXPECT_NEAR(d.box.h, g.h, kTol);
  if (c.points) {
    ASSERT_TRUE(d.right_eye && d.left_eye);
    EXPECT_NEAR(d.right_eye->x, g.rex, kTol);
    EXPECT_NEAR(d.right_eye->y, g.rey, kTol);
    EXPECT_NEAR(d.left_eye->x, g.lex, kTol);
    EXPECT_NEAR(d.left_eye->y, g.ley, kTol);
  }
}

// The face moves and scales with the image: boxes are mapped back through the
// letterbox or padding and the resize.
TEST_P(ModelDetector2Test, BoxesFollowTranslationAndScale) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  const fs::path path = EvalDir() / "lfw/images" / kLfw[0];
  if (!HaveFile(path)) GTEST_SKIP();
  const Image img = LoadImage(path.string());
  const auto base = det->Detect(img);
  ASSERT_EQ(base.size(), 1u);
  const Box b = base[0].box;
  const float tol = 0.12f * std::max(b.w, b.h);

  // Portrait and landscape canvases: letterbox and bottom/right padding on either axis.
  for (auto [top, bottom, left, right] : {std::tuple{40, 60, 30, 0}, std::tuple{20, 0, 120, 90}}) {
    const auto shifted = det->Detect(Pad(img, top, bottom, left, right));
    ASSERT_EQ(shifted.size(), 1u) << top << " " << left;
    EXPECT_NEAR(shifted[0].box.x, b.x + left, tol) << top << " " << left;
    EXPECT_NEAR(shifted[0].box.y, b.y + top, tol) << top << " " << left;
    EXPECT_NEAR(shifted[0].box.w, b.w, tol) << top << " " << left;
    EXPECT_NEAR(shifted[0].box.h, b.h, tol) << top << " " << left;
  }

  const float s = 2.4f;
  const auto scaled = det->Detect(Resize(img, 600, 600));
  ASSERT_EQ(scaled.size(), 1u);
  EXPECT_NEAR(scaled[0].box.x, b.x * s, tol * s);
  EXPECT_NEAR(scaled[0].box.y, b.y * s, tol * s);
  EXPECT_NEAR(scaled[0].box.w, b.w * s, tol * s);
  EXPECT_NEAR(scaled[0].box.h, b.h * s, tol * s);
  if (c.points) {
    ASSERT_TRUE(scaled[0].left_eye && base[0].left_eye);
    EXPECT_NEAR(scaled[0].left_eye->x, base[0].left_eye->x * s, 0.1f * b.w * s);
    EXPECT_NEAR(scaled[0].left_eye->y, base[0].left_eye->y * s, 0.1f * b.w * s);
  }
}

struct WiderImage {
  std::string path;
  std::vector<Box> faces, ignore;
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

// Manifest rows with their ignore boxes; only rows with evaluable faces when
// `with_faces`, at most `n` (0 = all).
std::vector<WiderImage> WiderImages(size_t n, bool with_faces) {
  const fs::path dir = EvalDir() / "wider_val200";
  std::vector<WiderImage> out;
  std::ifstream f(dir / "manifest.tsv");
  std::string line;
  while ((n == 0 || out.size() < n) && std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    const std::vector<Box> faces = tab == std::string::npos ? std::vector<Box>{} : ParseBoxes(line.substr(tab + 1));
    if (with_faces && faces.empty()) continue;
    out.push_back({(dir / line.substr(0, tab)).string(), faces, {}});
  }
  std::ifstream g(dir / "ignore.tsv");
  while (std::getline(g, line)) {
    const size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    const std::string p = (dir / line.substr(0, tab)).string();
    for (WiderImage& w : out)
      if (w.path == p) w.ignore = ParseBoxes(line.substr(tab + 1));
  }
  return out;
}

// Greedy IoU >= 0.5 matching (best first), one detection per face;
// unmatched detections on an ignore box (IoU >= 0.5 or centre inside) are
// neither true nor false positives.
void Score(const std::vector<Detection>& dets, const WiderImage& img, int* tp, int* fp) {
  std::vector<char> used(img.faces.size(), 0);
  for (const Detection& d : dets) {
    int best = -1;
    float best_iou = 0.5f;
    for (size_t g = 0; g < img.faces.size(); ++g) {
      const float v = used[g] ? 0.f : IoU(d.box, img.faces[g]);
      if (v >= best_iou) best_iou = v, best = static_cast<int>(g);
    }
    if (best >= 0) {
      used[best] = 1;
      ++*tp;
      continue;
    }
    const Point centre{d.box.x + d.box.w / 2, d.box.y + d.box.h / 2};
    if (std::none_of(img.ignore.begin(), img.ignore.end(),
                     [&](const Box& g) { return IoU(d.box, g) >= 0.5f || Inside(g, centre); }))
      ++*fp;
  }
}

TEST_P(ModelDetector2Test, RecallOnWiderFace) {
  const Case& c = GetParam();
  if (!HaveFile(EvalDir() / "wider_val200/manifest.tsv")) GTEST_SKIP();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  const auto images = WiderImages(20, true);
  ASSERT_EQ(images.size(), 20u);
  int faces = 0, tp = 0, fp = 0;
  for (const WiderImage& img : images) {
    const auto dets = det->Detect(LoadImage(img.path));
    for (size_t i = 0; i < dets.size(); ++i) {
      EXPECT_GE(dets[i].confidence, c.threshold);
      EXPECT_LE(dets[i].confidence, 1.f);
      if (i > 0) EXPECT_LE(dets[i].confidence, dets[i - 1].confidence) << "not sorted best first";
      EXPECT_GE(dets[i].box.x, 0);
      EXPECT_GE(dets[i].box.y, 0);
    }
    Score(dets, img, &tp, &fp);
    faces += static_cast<int>(img.faces.size());
  }
  const double recall = static_cast<double>(tp) / faces, precision = tp + fp ? static_cast<double>(tp) / (tp + fp) : 1;
  std::printf("%s: %d faces, %d TP, %d FP, recall %.3f, precision %.3f\n", c.label, faces, tp, fp, recall, precision);
  EXPECT_EQ(faces, 100);
  EXPECT_GE(recall, c.min_recall);
  EXPECT_GE(precision, c.min_precision);
}

TEST_P(ModelDetector2Test, GrayEqualsReplicatedRgb) {
  const Case& c = GetParam();
  // Gray photos score lower; a lower threshold keeps the comparison non-trivial.
  DetectorOptions opts;
  opts.score_threshold = c.threshold * 0.7f;
  auto det = Load(c, opts);
  if (!det) GTEST_SKIP();
  for (const fs::path& path :
       {EvalDir() / "lfw/images" / kLfw[1], EvalDir() / "wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg"}) {
    if (!HaveFile(path)) GTEST_SKIP();
    const Image gray = ToGray(LoadImage(path.string()));
    ASSERT_EQ(gray.channels, 1);
    const auto from_gray = det->Detect(gray);
    const auto from_rgb = det->Detect(ToRgb(gray));
    // The short-range model finds none of the small faces of the WIDER photo.
    if (path.string().find("lfw") != std::string::npos) EXPECT_FALSE(from_gray.empty()) << path;
    ExpectSame(from_gray, from_rgb, path.string());
  }
}

TEST_P(ModelDetector2Test, ConcurrentCallsGiveSameResults) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  std::vector<Image> images;
  for (const fs::path& path : {EvalDir() / "lfw/images" / kLfw[2],
                               EvalDir() / "wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg",
                               EvalDir() / "lfw/images" / kLfw[3]}) {
    if (!HaveFile(path)) GTEST_SKIP();
    images.push_back(LoadImage(path.string()));
  }
  // A non-square image too: MTCNN's pyramid and crop batches take other shapes.
  images.push_back(Pad(images[0], 0, 37, 91, 0));
  std::vector<std::vector<Detection>> expected;
  for (const Image& img : images) expected.push_back(det->Detect(img));
  EXPECT_FALSE(expected[0].empty());
  constexpr int kThreads = 4, kRounds = 2;
  std::vector<std::vector<std::vector<Detection>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r)
        for (size_t i = 0; i < images.size(); ++i) got[t].push_back(det->Detect(images[(i + t) % images.size()]));
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), kRounds * images.size());
    for (size_t k = 0; k < got[t].size(); ++k)
      ExpectSame(got[t][k], expected[(k % images.size() + t) % images.size()],
                 "thread " + std::to_string(t) + " call " + std::to_string(k));
  }
}

TEST_P(ModelDetector2Test, OddInputsAreHandled) {
  const Case& c = GetParam();
  auto det = Load(c);
  if (!det) GTEST_SKIP();
  // Tiny, thin and blank images: no crash, everything inside the image.
  for (auto [w, h, ch] : {std::tuple{1, 1, 3}, {7, 5, 1}, {500, 3, 3}, {2, 300, 1}, {13, 12, 3}, {64, 64, 3}}) {
    const Image img(w, h, ch);
    std::vector<Detection> faces;
    ASSERT_NO_THROW(faces = det->Detect(img)) << w << "x" << h;
    for (const Detection& d : faces) {
      EXPECT_GE(d.box.x, 0);
      EXPECT_LE(d.box.x + d.box.w, w + 1e-3f);
      EXPECT_LE(d.box.y + d.box.h, h + 1e-3f);
    }
  }
  Image broken(8, 8, 3);
  broken.pixels.resize(10);
  for (const Image& bad : {Image(), broken}) {
    try {
      det->Detect(bad);
      ADD_FAILURE() << "bad image accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  }
}

TEST_P(ModelDetector2Test, MissingModelsAreReported) {
  const Case& c = GetParam();
  DetectorOptions opts;
  opts.variant = c.variant;
  const std::string dir = (fs::temp_directory_path() / "facelib-no-models").string();
  try {
    c.make(dir, opts);
    ADD_FAILURE() << "no error for a missing model";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.models[0]), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelDetector2Test, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.label); });

TEST(Detectors2MediaPipe, UnknownVariantIsRejected) {
  DetectorOptions opts;
  opts.variant = "long";
  try {
    MakeMediaPipeDetector(ModelsDir(), opts);
    ADD_FAILURE() << "variant 'long' accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("long"), std::string::npos) << e.what();
  }
}

// Options reach the backends: a stricter threshold keeps fewer faces, a looser one more.
TEST(Detectors2Mtcnn, ThresholdOptionApplies) {
  const fs::path path = EvalDir() / "wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg";
  if (!HaveFile(path) || !HaveFile(ZooModelPath(ModelsDir(), "mtcnn_onet"))) GTEST_SKIP();
  const Image img = LoadImage(path.string());
  DetectorOptions strict, loose;
  strict.score_threshold = 0.999f;
  loose.score_threshold = 0.5f;
  const auto base = MakeMtcnnDetector(ModelsDir(), {})->Detect(img);
  const auto few = MakeMtcnnDetector(ModelsDir(), strict)->Detect(img);
  const auto many = MakeMtcnnDetector(ModelsDir(), loose)->Detect(img);
  std::printf("mtcnn faces at 0.999 / 0.8 / 0.5: %zu %zu %zu\n", few.size(), base.size(), many.size());
  EXPECT_LT(few.size(), base.size());
  EXPECT_GE(many.size(), base.size());
  for (const Detection& d : few) EXPECT_GE(d.confidence, 0.999f);
}

}  // namespace
}  // namespace facelib
