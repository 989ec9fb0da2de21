// The Haar cascades (DeepFace's "opencv" backend) on real photos. Expected
// boxes, level weights and eyes come from OpenCV 4.6 (Debian python3-opencv)
// run on the same decoded pixels; tests/parity/opencv.sh compares 30 photos.
#include "facelib/haar_cascade.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "facelib/imgproc.h"
#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/model_file.h"
#include "tests/data_dirs.h"

namespace facelib {
namespace {

using facelib::testdata::ModelsDir;

std::string EvalDev() {
  const char* env = std::getenv("FACELIB_SHARED");
  return std::string(env && *env ? env : FACELIB_SOURCE_DIR "/../shared") + "/eval-dev";
}

bool Exists(const std::string& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

const char* kLfw = "lfw/images/Coleen_Rowley/Coleen_Rowley_0001.jpg";  // 250x250, one face
const char* kSix = "dlib_faces/images/2008_002079.jpg";                // 500x375
const char* kDogs = "dlib_faces/images/dogs.jpg";                     // 900x916, no human face

class HaarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string face = ModelsDir() + "/opencv_haar_face.flm", eye = ModelsDir() + "/opencv_haar_eye.flm";
    if (Exists(face) && Exists(eye)) detector_ = new HaarFaceDetector(face, eye);
  }
  static void TearDownTestSuite() {
    delete detector_;
    detector_ = nullptr;
  }
  void SetUp() override {
    if (!detector_) GTEST_SKIP() << "SKIP: " << ModelsDir() << "/opencv_haar_{face,eye}.flm not converted "
                                 << "(tools/setup-models.sh --only opencv_haar_face,opencv_haar_eye)";
  }
  // The photo, or an empty image (and a skip) when eval-dev is absent.
  static Image Photo(const std::string& rel) {
    const std::string path = EvalDev() + "/" + rel;
    if (!Exists(path)) return Image();
    return LoadImage(path);
  }
  static HaarFaceDetector* detector_;
};
HaarFaceDetector* HaarTest::detector_ = nullptr;

#define PHOTO_OR_SKIP(var, rel)                                   \
  const Image var = Photo(rel);                                   \
  if (var.empty()) GTEST_SKIP() << "SKIP: " << EvalDev() << "/" << rel << " missing"

TEST_F(HaarTest, CascadeShapes) {
  const HaarCascade& face = detector_->face_cascade();
  EXPECT_EQ(face.window_width(), 24);
  EXPECT_EQ(face.window_height(), 24);
  EXPECT_EQ(face.num_stages(), 25);
  EXPECT_EQ(face.num_trees(), 2913);
  EXPECT_FALSE(face.has_tilted_features());
  const HaarCascade& eye = detector_->eye_finder().cascade();
  EXPECT_EQ(eye.window_width(), 20);
  EXPECT_EQ(eye.num_stages(), 24);
  EXPECT_EQ(eye.num_trees(), 1066);
}

TEST_F(HaarTest, LfwFaceAndEyes) {
  PHOTO_OR_SKIP(img, kLfw);
  const std::vector<Detection> faces = detector_->Detect(img);
  ASSERT_EQ(faces.size(), 1u);
  const Detection& d = faces[0];
  // OpenCV: detectMultiScale3 -> [64 65 118 118], level 25, weight 12.13863612.
  EXPECT_EQ(d.box.x, 64);
  EXPECT_EQ(d.box.y, 65);
  EXPECT_EQ(d.box.w, 118);
  EXPECT_EQ(d.box.h, 118);
  EXPECT_NEAR(d.confidence, (100 - 12.13863612) / 100, 1e-6);
  // Near the centre of the 250x250 crop.
  EXPECT_NEAR(d.box.x + d.box.w / 2, 125, 10);
  EXPECT_NEAR(d.box.y + d.box.h / 2, 125, 10);
  // Eyes: OpenCV's eye boxes [62 30 32 32] and [31 36 23 23] in the crop.
  ASSERT_TRUE(d.left_eye && d.right_eye);
  EXPECT_EQ(d.left_eye->x, 142);
  EXPECT_EQ(d.left_eye->y, 111);
  EXPECT_EQ(d.right_eye->x, 106);
  EXPECT_EQ(d.right_eye->y, 112);
  EXPECT_GT(d.left_eye->x, d.right_eye->x);
  for (const Point& p : {*d.left_eye, *d.right_eye}) {
    EXPECT_GT(p.x, d.box.x);
    EXPECT_LT(p.x, d.box.x + d.box.w);
    EXPECT_GT(p.y, d.box.y);
    EXPECT_LT(p.y, d.box.y + d.box.h / 2);
  }
}

TEST_F(HaarTest, SixFacesPhotoMatchesOpenCv) {
  PHOTO_OR_SKIP(img, kSix);
  const HaarDetections found = detector_->face_cascade().DetectMultiScale(img, 1.1, 10);
  // OpenCV 4.6 on the same pixels (as a set; its order depends on its threads).
  const std::vector<std::pair<IntRect, double>> expected = {
      {{404, 161, 44, 44}, 5.28669211}, {{23, 182, 61, 61}, 4.67023213}, {{432, 164, 58, 58}, 5.61115801}};
  ASSERT_EQ(found.size(), expected.size());
  for (const auto& [box, weight] : expected) {
    bool hit = false;
    for (size_t i = 0; i < found.size(); ++i) {
      if (!(found.boxes[i] == box)) continue;
      hit = true;
      EXPECT_EQ(found.reject_levels[i], 25);
      EXPECT_NEAR(found.level_weights[i], weight, 1e-7);
    }
    EXPECT_TRUE(hit) << box.x << "," << box.y << " " << box.w << "x" << box.h;
  }
  // Best first from the detector.
  const std::vector<Detection> dets = detector_->Detect(img);
  ASSERT_EQ(dets.size(), 3u);
  EXPECT_EQ(dets[0].box.x, 23);
  EXPECT_GE(dets[0].confidence, dets[1].confidence);
  EXPECT_GE(dets[1].confidence, dets[2].confidence);
}

TEST_F(HaarTest, NegativePhoto) {
  PHOTO_OR_SKIP(img, kDogs);
  // OpenCV's cascade itself finds one false face in the dog photo, at this box.
  const std::vector<Detection> raw = detector_->Detect(img);
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].box.x, 168);
  EXPECT_EQ(raw[0].box.y, 783);
  EXPECT_EQ(raw[0].box.w, 105);
  EXPECT_NEAR(raw[0].confidence, (100 - 3.81311611) / 100, 1e-6);
  EXPECT_FALSE(raw[0].left_eye.has_value());
  // The rest of the photo holds no face.
  EXPECT_TRUE(detector_->Detect(Crop(img, 0, 0, img.width, 760)).empty());
  // DeepFace (align=True) searches the photo padded by half its size on every
  // side: OpenCV then finds the same false face, one pixel smaller.
  const Image padded = Pad(img, img.height / 2, img.height / 2, img.width / 2, img.width / 2);
  const std::vector<Detection> pad = detector_->Detect(padded);
  ASSERT_EQ(pad.size(), 1u);
  EXPECT_EQ(pad[0].box.x, 618);
  EXPECT_EQ(pad[0].box.y, 1241);
  EXPECT_EQ(pad[0].box.w, 104);
  EXPECT_NEAR(pad[0].confidence, (100 - 1.88516312) / 100, 1e-6);
}

TEST_F(HaarTest, GrayAndRgbAgree) {
  PHOTO_OR_SKIP(img, kSix);
  ASSERT_EQ(img.channels, 3);
  const std::vector<Detection> rgb = detector_->Detect(img);
  const std::vector<Detection> gray = detector_->Detect(ToGray(img));
  ASSERT_EQ(rgb.size(), gray.size());
  ASSERT_FALSE(rgb.empty());
  for (size_t i = 0; i < rgb.size(); ++i) {
    EXPECT_EQ(rgb[i].box.x, gray[i].box.x);
    EXPECT_EQ(rgb[i].box.y, gray[i].box.y);
    EXPECT_EQ(rgb[i].box.w, gray[i].box.w);
    EXPECT_EQ(rgb[i].confidence, gray[i].confidence);
  }
}

bool SameDetections(const std::vector<Detection>& a, const std::vector<Detection>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].box.x != b[i].box.x || a[i].box.y != b[i].box.y || a[i].box.w != b[i].box.w ||
        a[i].confidence != b[i].confidence || a[i].left_eye.has_value() != b[i].left_eye.has_value())
      return false;
    if (a[i].left_eye && (a[i].left_eye->x != b[i].left_eye->x || a[i].right_eye->y != b[i].right_eye->y))
      return false;
  }
  return true;
}

TEST_F(HaarTest, ConcurrentDetectCalls) {
  PHOTO_OR_SKIP(six, kSix);
  PHOTO_OR_SKIP(lfw, kLfw);
  const std::vector<Detection> want_six = detector_->Detect(six), want_lfw = detector_->Detect(lfw);
  ASSERT_EQ(want_six.size(), 3u);
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      bool all = true;
      for (int r = 0; r < 2; ++r) {
        all = all && SameDetections(detector_->Detect(six), want_six);
        all = all && SameDetections(detector_->Detect(lfw), want_lfw);
      }
      ok[t] = all;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(ok[t]) << "thread " << t;
  // Scales spread over two threads inside one call give the same result.
  DetectorOptions two;
  two.num_threads = 2;
  const HaarFaceDetector det2(ModelsDir() + "/opencv_haar_face.flm", ModelsDir() + "/opencv_haar_eye.flm", two);
  EXPECT_TRUE(SameDetections(det2.Detect(six), want_six));
}

TEST_F(HaarTest, SimdAndScalarWindowsAgree) {
  PHOTO_OR_SKIP(img, kSix);
  const HaarCascade& face = detector_->face_cascade();
  if (!face.simd_eligible()) GTEST_SKIP() << "SKIP: no SIMD target on this CPU";
  HaarScanOptions o;
  o.min_neighbors = 0;  // every window that passed, with its own level weight
  const HaarDetections simd = face.DetectMultiScale(img, o);
  o.force_scalar = true;
  const HaarDetections scalar = face.DetectMultiScale(img, o);
  // OpenCV: 154 windows pass all 25 stages on this photo.
  EXPECT_EQ(simd.size(), 154u);
  ASSERT_EQ(simd.size(), scalar.size());
  for (size_t i = 0; i < simd.size(); ++i) {
    ASSERT_EQ(simd.boxes[i], scalar.boxes[i]) << i;
    ASSERT_EQ(simd.level_weights[i], scalar.level_weights[i]) << i;
  }
}

TEST_F(HaarTest, EyeFinder) {
  PHOTO_OR_SKIP(img, kLfw);
  const Image crop = Crop(ToGray(img), 64, 65, 118, 118);
  const EyePair eyes = detector_->eye_finder().Find(crop);
  ASSERT_TRUE(eyes.left_eye && eyes.right_eye);
  // Boxes [62 30 32 32] -> (78, 46) and [31 36 23 23] -> (42, 47) in the crop.
  EXPECT_EQ(eyes.left_eye->x, 78);
  EXPECT_EQ(eyes.left_eye->y, 46);
  EXPECT_EQ(eyes.right_eye->x, 42);
  EXPECT_EQ(eyes.right_eye->y, 47);
  // Fewer than two eyes: none.
  const EyePair none = detector_->eye_finder().Find(Crop(crop, 0, 60, 118, 58));
  EXPECT_FALSE(none.left_eye.has_value());
  EXPECT_FALSE(none.right_eye.has_value());
  EXPECT_FALSE(detector_->eye_finder().Find(Image()).left_eye.has_value());
}

TEST_F(HaarTest, SmallImagesAndBadArguments) {
  // Smaller than the 24x24 window: nothing to scan.
  EXPECT_TRUE(detector_->Detect(Image(20, 30, 1)).empty());
  EXPECT_TRUE(detector_->Detect(Image(24, 24, 3)).empty());
  const HaarCascade& face = detector_->face_cascade();
  HaarScanOptions o;
  o.scale_factor = 1.0;
  try {
    face.DetectMultiScale(Image(64, 64, 1), o);
    ADD_FAILURE() << "scale factor 1 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  try {
    face.DetectMultiScale(Image(), 1.1, 3);
    ADD_FAILURE() << "empty image accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST_F(HaarTest, MinAndMaxSize) {
  PHOTO_OR_SKIP(img, kSix);
  HaarScanOptions o;
  o.min_neighbors = 10;
  o.min_width = o.min_height = 50;
  // OpenCV with minSize (50, 50): the three faces, the first one now from bigger windows only.
  const HaarDetections big = detector_->face_cascade().DetectMultiScale(img, o);
  ASSERT_EQ(big.size(), 3u);
  EXPECT_EQ(big.boxes[0], (IntRect{400, 157, 53, 53}));
  EXPECT_NEAR(big.level_weights[0], 4.73348607, 1e-7);
  EXPECT_EQ(big.boxes[1], (IntRect{432, 164, 58, 58}));
  EXPECT_EQ(big.boxes[2], (IntRect{22, 182, 62, 62}));
  // maxSize (50, 50): one face from windows of at most 50 px.
  o.min_width = o.min_height = 0;
  o.max_width = o.max_height = 50;
  const HaarDetections small = detector_->face_cascade().DetectMultiScale(img, o);
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small.boxes[0], (IntRect{407, 163, 39, 39}));
  EXPECT_NEAR(small.level_weights[0], 5.28669211, 1e-7);
}

TEST(HaarGroupTest, GroupRectangles) {
  HaarDetections w;
  const auto add = [&](IntRect r, double weight) {
    w.boxes.push_back(r);
    w.reject_levels.push_back(25);
    w.level_weights.push_back(weight);
  };
  // A cluster of four around (100, 100, 50, 50), one of two far away, and a
  // small cluster of four inside the first one's box.
  add({100, 100, 50, 50}, 1.0);
  add({102, 101, 50, 50}, 3.0);
  add({99, 103, 52, 52}, -2.0);
  add({101, 99, 49, 49}, 2.5);
  add({400, 400, 30, 30}, 9.0);
  add({401, 400, 30, 30}, 8.0);
  add({110, 110, 20, 20}, 7.0);
  add({111, 110, 20, 20}, 7.5);
  add({110, 111, 20, 20}, 6.0);
  add({111, 111, 20, 20}, 6.5);
  const HaarDetections g = GroupHaarRectangles(w, 1);
  // The inner cluster survives: it is not smaller than 3 members and the big
  // one has only 4 (not more than max(3, 4)).
  ASSERT_EQ(g.size(), 3u);
  // Averages: x = 402/4 = 100.5 -> 100 (half to even), y = 403/4 = 100.75 -> 101.
  EXPECT_EQ(g.boxes[0], (IntRect{100, 101, 50, 50}));
  EXPECT_EQ(g.level_weights[0], 3.0);  // the best member
  EXPECT_EQ(g.boxes[1], (IntRect{400, 400, 30, 30}));
  EXPECT_EQ(g.boxes[2], (IntRect{110, 110, 20, 20}));
  EXPECT_EQ(g.level_weights[2], 7.5);
  // Threshold 2: the pair goes; threshold 4: nothing has more than 4 members.
  EXPECT_EQ(GroupHaarRectangles(w, 2).size(), 2u);
  EXPECT_EQ(GroupHaarRectangles(w, 4).size(), 0u);
  // Five inner windows against a cluster of four: the inner cluster is dropped
  // only when the outer one has more than max(3, n_inner) members.
  add({400, 401, 30, 30}, 1.0);
  add({100, 100, 50, 50}, 0.5);
  const HaarDetections g2 = GroupHaarRectangles(w, 1);
  ASSERT_EQ(g2.size(), 2u);
  EXPECT_EQ(g2.boxes[0].w, 50);
  EXPECT_EQ(g2.boxes[1].w, 30);
}

// A hand-made cascade with a tilted feature and a two-node tree (the paths the
// face and eye cascades do not take), checked against OpenCV's rules written
// out directly: the 45-degree integral from its definition, float feature
// values, double stage sums, step-2 scan skipping after a first-stage failure.
TEST(HaarSyntheticTest, TiltedFeatureAndTree) {
  constexpr int kW = 8;
  rt::Graph g;
  auto f32 = [&](const char* name, rt::Shape shape, std::vector<float> v) {
    g.AddConstant(name, std::move(shape), rt::Constant::FromFloats(std::move(v)));
  };
  auto i32 = [&](const char* name, rt::Shape shape, std::vector<int64_t> v) {
    g.AddConstant(name, std::move(shape), rt::Constant::FromInts(std::move(v)));
  };
  // Feature 0: tilted (4,0,2,2) weight -1 and (4,1,1,1) weight 2; feature 1: left half -1, right half +1.
  const std::vector<int64_t> rects = {4, 0, 2, 2, 4, 1, 1, 1, 0, 0, 0, 0, 0, 0, 4, 8, 4, 0, 4, 8, 0, 0, 0, 0};
  const float t0 = 0.01f, t1 = -0.02f, leaves[3] = {0.5f, -1.f, 1.f};
  f32("haar/stage_threshold", {1}, {0.f});
  i32("haar/stage_num_trees", {1}, {1});
  i32("haar/tree_num_nodes", {1}, {2});
  i32("haar/node_children", {2, 2}, {1, 0, -1, -2});  // node 0: left -> node 1, right -> leaf 0
  i32("haar/node_feature", {2}, {0, 1});
  f32("haar/node_threshold", {2}, {t0, t1});
  f32("haar/leaf_values", {3}, {leaves[0], leaves[1], leaves[2]});
  i32("haar/feature_rects", {2, 3, 4}, rects);
  f32("haar/feature_weights", {2, 3}, {-1, 2, 0, -1, 1, 0});
  i32("haar/feature_tilted", {2}, {1, 0});
  g.metadata = {{"haar.window_width", "8"}, {"haar.window_height", "8"}, {"haar.stage_type", "BOOST"},
                {"haar.feature_type", "HAAR"}};
  const HaarCascade cascade(g, "synthetic");
  EXPECT_TRUE(cascade.has_tilted_features());
  EXPECT_FALSE(cascade.simd_eligible());

  Image img(40, 30, 1);
  uint32_t state = 12345;
  for (uint8_t& p : img.pixels) {
    state = state * 1664525u + 1013904223u;
    p = static_cast<uint8_t>(state >> 24);
  }
  const auto I = [&](int x, int y) { return static_cast<int64_t>(img.pixels[static_cast<size_t>(y) * 40 + x]); };
  // Tilted integral by definition: pixels with y < Y and |x - X + 1| <= Y - 1 - y.
  const auto T = [&](int X, int Y) {
    int64_t s = 0;
    for (int y = 0; y < Y; ++y)
      for (int x = 0; x < 40; ++x)
        if (std::abs(x - X + 1) <= Y - 1 - y) s += I(x, y);
    return s;
  };
  const auto box = [&](int x, int y, int w, int h) {
    int64_t s = 0;
    for (int yy = y; yy < y + h; ++yy)
      for (int xx = x; xx < x + w; ++xx) s += I(xx, yy);
    return s;
  };
  const auto tilted = [&](int x, int y, int w, int h) {
    return T(x, y) - T(x - h, y + h) - T(x + w, y + w) + T(x + w - h, y + w + h);
  };
  std::vector<IntRect> expected;
  for (int wy = 0; wy <= 30 - kW; wy += 2) {
    for (int wx = 0; wx <= 40 - kW;) {
      int result = -1;
      const double area = 36;
      const int64_t sum = box(wx + 1, wy + 1, 6, 6);
      int64_t sq = 0;
      for (int yy = wy + 1; yy < wy + 7; ++yy)
        for (int xx = wx + 1; xx < wx + 7; ++xx) sq += I(xx, yy) * I(xx, yy);
      const double nf = area * static_cast<double>(sq) - static_cast<double>(sum) * static_cast<double>(sum);
      if (nf > 0) {
        const float vnf = static_cast<float>(1. / std::sqrt(nf));
        if (area * vnf < 0.1) {
          const float f0 = -1.f * tilted(wx + 4, wy, 2, 2) + 2.f * tilted(wx + 4, wy + 1, 1, 1);
          const float f1 = -1.f * box(wx, wy, 4, 8) + 1.f * box(wx + 4, wy, 4, 8);
          double stage = 0;
          if (!(f0 * vnf < t0)) stage += leaves[0];
          else stage += f1 * vnf < t1 ? leaves[1] : leaves[2];
          result = stage < 0.f - 1e-5f ? 0 : 1;
        }
      }
      if (result == 1) expected.push_back({wx, wy, kW, kW});
      wx += result == 0 ? 4 : 2;
    }
  }
  HaarScanOptions o;
  o.scale_factor = 5;  // one scale: the 8x8 window only
  o.min_neighbors = 0;
  const HaarDetections found = cascade.DetectMultiScale(img, o);
  ASSERT_GT(expected.size(), 10u);
  ASSERT_EQ(found.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(found.boxes[i], expected[i]) << i;
}

TEST(HaarLoadTest, NotACascade) {
  rt::Graph g;
  const int c = g.AddConstant("x", {2}, rt::Constant::FromFloats({1, 2}));
  g.MarkOutput(g.AddNode1("Identity", {c}));
  try {
    HaarCascade cascade(g, "plain.flm");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("plain.flm: not a BOOST/HAAR cascade model"), std::string::npos) << e.what();
  }
  try {
    HaarCascade cascade("/nonexistent/opencv_haar_face.flm");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
}

}  // namespace
}  // namespace facelib
