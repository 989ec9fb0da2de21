// The dlib HOG detector and 68-point shape predictor on real photos. Expected
// values come from real dlib 19.24 (tests/parity/dlib.sh compares 30 photos).
#include "facelib/dlib_hog.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "facelib/dlib_hog_kernels.h"
#include "facelib/shape_predictor.h"
#include "runtime/error.h"
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

class DlibTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string hog = ModelsDir() + "/dlib_hog_frontal.flm", sp = ModelsDir() + "/dlib_shape68.flm";
    if (Exists(hog) && Exists(sp)) detector_ = new DlibHogDetector(hog, sp);
  }
  static void TearDownTestSuite() {
    delete detector_;
    detector_ = nullptr;
  }
  void SetUp() override {
    if (!detector_) GTEST_SKIP() << "SKIP: " << ModelsDir() << "/dlib_{hog_frontal,shape68}.flm not converted "
                                 << "(tools/setup-models.sh --only dlib_hog_frontal,dlib_shape68)";
  }
  static Image Photo(const std::string& rel) {
    const std::string path = EvalDev() + "/" + rel;
    if (!Exists(path)) return Image();
    return LoadImage(path);
  }
  static DlibHogDetector* detector_;
};
DlibHogDetector* DlibTest::detector_ = nullptr;

ErrorCode ErrorOf(const ShapePredictor& sp, const Image& img, const DlibRect& r) {
  try {
    sp.Predict(img, r);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::kInternal;
}

#define PHOTO_OR_SKIP(var, rel)                                  \
  const Image var = Photo(rel);                                  \
  if (var.empty()) GTEST_SKIP() << "SKIP: " << rel << " not in " << EvalDev()

TEST_F(DlibTest, ModelShapes) {
  EXPECT_EQ(detector_->name(), "dlib");
  EXPECT_EQ(detector_->num_filters(), 5);
  const ShapePredictor* sp = detector_->shape_predictor();
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ(sp->num_parts(), 68);
  EXPECT_EQ(sp->num_cascades(), 15);
  EXPECT_EQ(sp->trees_per_cascade(), 500);
  EXPECT_EQ(sp->tree_depth(), 4);
  EXPECT_EQ(sp->features_per_cascade(), 500);
}

TEST_F(DlibTest, OneLfwFace) {
  PHOTO_OR_SKIP(img, "lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
  const auto faces = detector_->Detect(img);
  ASSERT_EQ(faces.size(), 1u);
  const Detection& f = faces[0];
  // dlib: rectangle (67, 80)-(175, 187), score 1.6956 (clipped to 1 as DeepFace does).
  EXPECT_EQ(f.box.x, 67);
  EXPECT_EQ(f.box.y, 80);
  EXPECT_EQ(f.box.w, 108);
  EXPECT_EQ(f.box.h, 107);
  EXPECT_EQ(f.confidence, 1.0f);
  const float cx = f.box.x + f.box.w / 2, cy = f.box.y + f.box.h / 2;
  EXPECT_NEAR(cx, img.width / 2.0f, 15);
  EXPECT_NEAR(cy, img.height / 2.0f, 15);
  ASSERT_EQ(f.landmarks.size(), 68u);
  // Every point within the box grown by 15% (the jaw line may leave dlib's
  // tight box), the eyes, brows, nose and mouth (17..67) inside it.
  const float mx = 0.15f * f.box.w, my = 0.15f * f.box.h;
  for (size_t i = 0; i < f.landmarks.size(); ++i) {
    const Point& p = f.landmarks[i];
    EXPECT_GE(p.x, f.box.x - mx) << i;
    EXPECT_LE(p.x, f.box.x + f.box.w + mx) << i;
    EXPECT_GE(p.y, f.box.y - my) << i;
    EXPECT_LE(p.y, f.box.y + f.box.h + my) << i;
    if (i >= 17) {
      EXPECT_GT(p.x, f.box.x) << i;
      EXPECT_LT(p.x, f.box.x + f.box.w) << i;
      EXPECT_GT(p.y, f.box.y) << i;
      EXPECT_LT(p.y, f.box.y + f.box.h) << i;
    }
  }
  // dlib's points 30 (nose tip) and 8 (chin).
  EXPECT_EQ(f.landmarks[30].x, 116);
  EXPECT_EQ(f.landmarks[30].y, 136);
  EXPECT_EQ(f.landmarks[8].x, 123);
  EXPECT_EQ(f.landmarks[8].y, 187);
  // Eyes from the person's point of view: the right eye (points 36-41) is on the image left.
  ASSERT_TRUE(f.left_eye && f.right_eye);
  EXPECT_NEAR(f.right_eye->x, 104.667f, 1e-3);
  EXPECT_NEAR(f.right_eye->y, 112.0f, 1e-3);
  EXPECT_NEAR(f.left_eye->x, 143.833f, 1e-3);
  EXPECT_NEAR(f.left_eye->y, 111.333f, 1e-3);
  EXPECT_LT(f.right_eye->x, f.left_eye->x);
  EXPECT_LT(f.right_eye->y, f.landmarks[30].y);
}

TEST_F(DlibTest, RawScoresAndTwoFaces) {
  PHOTO_OR_SKIP(img, "dlib_faces/images/2008_001009.jpg");
  const auto raw = detector_->DetectRaw(img);
  ASSERT_EQ(raw.size(), 2u);
  EXPECT_EQ(raw[0].rect.left, 126);
  EXPECT_EQ(raw[0].rect.top, 206);
  EXPECT_EQ(raw[0].rect.right, 215);
  EXPECT_EQ(raw[0].rect.bottom, 295);
  EXPECT_NEAR(raw[0].score, 1.906579, 1e-4);
  EXPECT_EQ(raw[0].filter, 1);
  EXPECT_EQ(raw[1].rect.left, 149);
  EXPECT_EQ(raw[1].rect.top, 87);
  EXPECT_NEAR(raw[1].score, 1.193458, 1e-4);
  EXPECT_EQ(raw[1].filter, 0);
  // A higher threshold (dlib adjust_threshold) drops the weaker face.
  EXPECT_EQ(detector_->DetectRaw(img, 1, 1.5).size(), 1u);
  const auto faces = detector_->Detect(img);
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_GT(faces[0].confidence, faces[1].confidence - 1e-6f);
  EXPECT_NEAR(faces[1].right_eye->x, 167.0f, 1e-3);
  EXPECT_NEAR(faces[1].left_eye->x, 194.1667f, 1e-3);
}

TEST_F(DlibTest, NoFaceOnNegative) {
  PHOTO_OR_SKIP(img, "dlib_faces/images/dogs.jpg");  // dlib_faces/negatives.tsv
  EXPECT_TRUE(detector_->Detect(img).empty());
}

TEST_F(DlibTest, GrayEqualsThreeEqualChannels) {
  PHOTO_OR_SKIP(rgb, "lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
  Image gray(rgb.width, rgb.height, 1), gray3(rgb.width, rgb.height, 3);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    const uint8_t v = static_cast<uint8_t>((rgb.pixels[3 * i] + rgb.pixels[3 * i + 1] + rgb.pixels[3 * i + 2]) / 3);
    gray.pixels[i] = gray3.pixels[3 * i] = gray3.pixels[3 * i + 1] = gray3.pixels[3 * i + 2] = v;
  }
  const auto a = detector_->Detect(gray), b = detector_->Detect(gray3);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].box.x, b[0].box.x);
  EXPECT_EQ(a[0].box.w, b[0].box.w);
  EXPECT_EQ(a[0].confidence, b[0].confidence);
  for (int i = 0; i < 68; ++i) EXPECT_EQ(a[0].landmarks[i].x, b[0].landmarks[i].x) << i;
}

TEST_F(DlibTest, ConcurrentDetectIsIdentical) {
  PHOTO_OR_SKIP(a, "dlib_faces/images/2008_001009.jpg");
  PHOTO_OR_SKIP(b, "lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
  const auto ref_a = detector_->Detect(a), ref_b = detector_->Detect(b);
  std::vector<std::vector<Detection>> got(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] { got[t] = detector_->Detect(t % 2 ? b : a); });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 6; ++t) {
    const auto& ref = t % 2 ? ref_b : ref_a;
    ASSERT_EQ(got[t].size(), ref.size()) << t;
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(got[t][i].box.x, ref[i].box.x);
      EXPECT_EQ(got[t][i].box.y, ref[i].box.y);
      EXPECT_EQ(got[t][i].confidence, ref[i].confidence);
      for (int k = 0; k < 68; ++k) EXPECT_EQ(got[t][i].landmarks[k].y, ref[i].landmarks[k].y);
    }
  }
}

TEST_F(DlibTest, ThreadCountDoesNotChangeResults) {
  PHOTO_OR_SKIP(img, "dlib_faces/images/2007_007763.jpg");
  DetectorOptions opts;
  opts.num_threads = 3;
  const DlibHogDetector multi(ModelsDir() + "/dlib_hog_frontal.flm", ModelsDir() + "/dlib_shape68.flm", opts);
  const auto a = detector_->DetectRaw(img), b = multi.DetectRaw(img);
  ASSERT_EQ(a.size(), 7u);  // dlib finds 7 faces
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].rect.left, b[i].rect.left);
    EXPECT_EQ(a[i].rect.bottom, b[i].rect.bottom);
    EXPECT_EQ(a[i].score, b[i].score);
  }
  const auto da = detector_->Detect(img), db = multi.Detect(img);
  ASSERT_EQ(da.size(), db.size());
  for (size_t i = 0; i < da.size(); ++i)
    for (int k = 0; k < 68; ++k) EXPECT_EQ(da[i].landmarks[k].x, db[i].landmarks[k].x);
}

TEST_F(DlibTest, TinyAndOddImages) {
  // Sizes around the cell size and the SIMD block widths: no face, no fault.
  for (const int w : {1, 2, 7, 9, 17, 33}) {
    for (const int h : {1, 3, 8, 31}) {
      for (const int ch : {1, 3}) {
        Image img(w, h, ch);
        for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 37 % 251);
        EXPECT_TRUE(detector_->Detect(img).empty()) << w << "x" << h << "x" << ch;
      }
    }
  }
  EXPECT_THROW(detector_->Detect(Image()), Error);
}

TEST_F(DlibTest, ShapePredictorBoxAndErrors) {
  PHOTO_OR_SKIP(img, "lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
  const ShapePredictor& sp = *detector_->shape_predictor();
  const auto from_rect = sp.Predict(img, DlibRect{67, 80, 175, 187});
  const auto from_box = sp.Predict(img, Box{67, 80, 108, 107});
  ASSERT_EQ(from_rect.size(), 68u);
  for (int i = 0; i < 68; ++i) {
    EXPECT_EQ(from_rect[i].x, from_box[i].x);
    EXPECT_EQ(from_rect[i].y, from_box[i].y);
  }
  EXPECT_EQ(from_rect[36].x, 98);  // dlib: (98, 112)
  EXPECT_EQ(from_rect[36].y, 112);
  // A box in the corner reads mostly pixels outside the image (intensity 0) and still gives 68 points.
  EXPECT_EQ(sp.Predict(img, DlibRect{-50, -50, 10, 10}).size(), 68u);
  EXPECT_EQ(ErrorOf(sp, img, DlibRect{10, 10, 5, 20}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(sp, Image(), DlibRect{0, 0, 5, 5}), ErrorCode::kInvalidArgument);
}

TEST(DlibLoadTest, MissingFiles) {
  try {
    DlibHogDetector d("/nonexistent/dlib_hog_frontal.flm", "");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("tools/setup-models.sh --only dlib_hog_frontal"), std::string::npos);
  }
  try {
    ShapePredictor::Load("/nonexistent/dlib_shape68.flm");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(DlibFilterBankTest, SimdMatchesScalar) {
  // Five 10x10 filters over 31 planes of odd size, as on a small pyramid level.
  const int nd = 5, planes = 31, fh = 10, fw = 10, nr = 23, nc = 37;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> filters(static_cast<size_t>(nd) * planes * fh * fw), feats(planes * nr * nc + hogkern::Slack());
  for (float& f : filters) f = u(rng);
  for (size_t i = 0; i < static_cast<size_t>(planes) * nr * nc; ++i) feats[i] = u(rng) + 0.5f;
  hogkern::FilterBank bank(filters.data(), nd, planes, fh, fw);
  const size_t n = static_cast<size_t>(nd) * (nr - fh + 1) * (nc - fw + 1);
  std::vector<float> simd(n), ref(n);
  bank.Apply(feats.data(), nr, nc, simd.data());
  bank.ApplyRef(feats.data(), nr, nc, ref.data());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::abs(double{simd[i]} - ref[i]));
    scale = std::max(scale, std::abs(double{ref[i]}));
  }
  EXPECT_GT(scale, 1.0);
  EXPECT_LT(worst, 1e-5 * scale);
  // Filters of rank two per plane, given also as their separable terms.
  std::vector<hogkern::SeparableTerm> terms;
  std::vector<float> low(filters.size(), 0.f);
  for (int d = 0; d < nd; ++d)
    for (int p = 0; p < planes; ++p)
      for (int j = 0; j < 2; ++j) {
        hogkern::SeparableTerm t{d, p, std::vector<float>(fw), std::vector<float>(fh)};
        for (float& x : t.row) x = u(rng);
        for (float& x : t.col) x = u(rng);
        float* f = &low[(static_cast<size_t>(d) * planes + p) * fh * fw];
        for (int m = 0; m < fh; ++m)
          for (int k = 0; k < fw; ++k) f[m * fw + k] += t.col[m] * t.row[k];
        terms.push_back(std::move(t));
      }
  hogkern::FilterBank sep(low.data(), nd, planes, fh, fw, terms);
  ASSERT_TRUE(sep.separable());
  std::vector<float> sep_out(n), sep_ref(n);
  sep.Apply(feats.data(), nr, nc, sep_out.data());
  sep.ApplyRef(feats.data(), nr, nc, sep_ref.data());
  double worst_sep = 0, scale_sep = 0;
  for (size_t i = 0; i < n; ++i) {
    worst_sep = std::max(worst_sep, std::abs(double{sep_out[i]} - sep_ref[i]));
    scale_sep = std::max(scale_sep, std::abs(double{sep_ref[i]}));
  }
  EXPECT_GT(scale_sep, 1.0);
  EXPECT_LT(worst_sep, 1e-5 * scale_sep);
  // Direct check of one window of filter 3.
  double direct = 0;
  for (int p = 0; p < planes; ++p)
    for (int m = 0; m < fh; ++m)
      for (int k = 0; k < fw; ++k)
        direct += double{feats[(static_cast<size_t>(p) * nr + 4 + m) * nc + 6 + k]} *
                  filters[((static_cast<size_t>(3) * planes + p) * fh + m) * fw + k];
  EXPECT_NEAR(ref[(static_cast<size_t>(3) * (nr - fh + 1) + 4) * (nc - fw + 1) + 6], direct, 1e-4);
}

// The resize and gradient kernels must reproduce dlib's single-precision
// arithmetic exactly (separate multiplies and adds, truncation, tie rules).
TEST(DlibKernelsTest, BilinearRowIsExact) {
  std::mt19937 rng(11);
  const int n = (1 << 18) + 3;  // with fused multiply-adds about 1 in 20000 values would differ
  const size_t len = n + hogkern::Slack();
  std::vector<float> tl(len), tr(len), bl(len), br(len), lr(len);
  for (int i = 0; i < n; ++i) {
    tl[i] = static_cast<float>(rng() % 256);
    tr[i] = static_cast<float>(rng() % 256);
    bl[i] = static_cast<float>(rng() % 256);
    br[i] = static_cast<float>(rng() % 256);
    lr[i] = static_cast<float>(rng() % 100000) / 100000.0f;
  }
  for (const float tb : {0.0f, 0.3333333f, 0.8f}) {
    const float itb = 1.0f - tb;
    std::vector<uint8_t> out(n);
    hogkern::BilinearRow(tl.data(), tr.data(), bl.data(), br.data(), lr.data(), tb, itb, n, out.data());
    int bad = 0;
    for (int c = 0; c < n; ++c) {
      const float ilr = 1.0f - lr[c];
      const float v = (itb * ilr) * tl[c] + (itb * lr[c]) * tr[c] + (tb * ilr) * bl[c] + (tb * lr[c]) * br[c];
      bad += out[c] != static_cast<uint8_t>(static_cast<int32_t>(v));
    }
    EXPECT_EQ(bad, 0) << "tb " << tb;
  }
}

TEST(DlibKernelsTest, GradientRowIsExact) {
  std::mt19937 rng(5);
  const int w = 1001;
  // Few distinct values so that channel ties and orientation ties occur.
  std::vector<uint8_t> img(3 * 3 * w + hogkern::Slack());
  for (size_t i = 0; i < 9u * w; ++i) img[i] = static_cast<uint8_t>(rng() % 5 * 40);
  hogkern::Planes3 rows;
  for (int k = 0; k < 3; ++k) {
    rows.above[k] = &img[(k * 3 + 0) * w];
    rows.cur[k] = &img[(k * 3 + 1) * w];
    rows.below[k] = &img[(k * 3 + 2) * w];
  }
  const double dir0[9] = {1.0000, 0.9397, 0.7660, 0.500, 0.1736, -0.1736, -0.5000, -0.7660, -0.9397};
  const double dir1[9] = {0.0000, 0.3420, 0.6428, 0.8660, 0.9848, 0.9848, 0.8660, 0.6428, 0.3420};
  float d0[9], d1[9];
  for (int o = 0; o < 9; ++o) d0[o] = static_cast<float>(dir0[o]), d1[o] = static_cast<float>(dir1[o]);
  for (const bool later : {true, false}) {
    std::vector<float> mag(w + hogkern::Slack());
    std::vector<int32_t> ori(w + hogkern::Slack());
    hogkern::GradientRow(rows, 1, w - 1, later, mag.data(), ori.data());
    int bad = 0, ties = 0;
    for (int x = 1; x < w - 1; ++x) {
      int bx = 0, by = 0, bl = -1;
      for (int k = 0; k < 3; ++k) {
        const int dx = rows.cur[k][x + 1] - rows.cur[k][x - 1], dy = rows.below[k][x] - rows.above[k][x];
        const int l = dx * dx + dy * dy;
        ties += k > 0 && l == bl;
        if (k == 0 || l > bl || (later && l == bl)) bx = dx, by = dy, bl = l;
      }
      float best = 0;
      int bo = 0;
      for (int o = 0; o < 9; ++o) {
        const float dot = static_cast<float>(bx) * d0[o] + static_cast<float>(by) * d1[o];
        if (dot > best) {
          best = dot;
          bo = o;
        } else if (-dot > best) {
          best = -dot;
          bo = o + 9;
        }
      }
      bad += ori[x - 1] != bo || mag[x - 1] != std::sqrt(static_cast<float>(bl));
    }
    EXPECT_EQ(bad, 0) << (later ? "later wins" : "earlier wins");
    EXPECT_GT(ties, 10);
  }
}

}  // namespace
}  // namespace facelib
