#include "facelib/imgproc.h"

#include <gtest/gtest.h>

#include <cmath>

#include "facelib/align.h"
#include "runtime/error.h"

namespace facelib {
namespace {

Image Gradient(int w, int h, int c) {
  Image img(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) img.at(x, y)[ch] = static_cast<uint8_t>((x * 7 + y * 3 + ch * 50) % 256);
  return img;
}

TEST(Imgproc, GrayUsesFixedPointWeights) {
  Image img(3, 1, 3);
  img.at(0, 0)[0] = 255;
  img.at(1, 0)[1] = 255;
  img.at(2, 0)[2] = 255;
  const Image g = ToGray(img);
  ASSERT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels[0], 76);
  EXPECT_EQ(g.pixels[1], 150);
  EXPECT_EQ(g.pixels[2], 29);
  const Image back = ToRgb(g);
  EXPECT_EQ(back.at(1, 0)[0], 150);
  EXPECT_EQ(back.at(1, 0)[2], 150);
}

TEST(Imgproc, ResizeKeepsConstantsAndLinearRamps) {
  Image flat(17, 9, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 123);
  for (Interp in : {Interp::kNearest, Interp::kBilinear, Interp::kBicubic}) {
    const Image r = Resize(flat, 40, 5, in);
    for (uint8_t v : r.pixels) ASSERT_EQ(v, 123);
  }
  // A horizontal ramp 10*x upsampled 2x with centre alignment: dst x -> src (x+0.5)/2-0.5.
  Image ramp(8, 1, 1);
  for (int x = 0; x < 8; ++x) ramp.pixels[x] = static_cast<uint8_t>(10 * x);
  const Image up = Resize(ramp, 16, 1);
  EXPECT_EQ(up.pixels[0], 0);    // clamped at the border
  EXPECT_EQ(up.pixels[1], 3);    // src 0.25 -> 2.5 rounds to 3 (lround half away from zero)
  EXPECT_EQ(up.pixels[2], 8);    // src 0.75 -> 7.5 -> 8
  EXPECT_EQ(up.pixels[15], 70);  // clamped
  const Image same = Resize(ramp, 8, 1);
  EXPECT_EQ(same.pixels, ramp.pixels);
  EXPECT_THROW(Resize(ramp, 0, 3), Error);
  EXPECT_THROW(Resize(Image{}, 3, 3), Error);
}

TEST(Imgproc, CropAndPadFillBlackOutside) {
  const Image img = Gradient(10, 6, 3);
  const Image c = Crop(img, -2, 4, 5, 4);
  ASSERT_EQ(c.width, 5);
  ASSERT_EQ(c.height, 4);
  EXPECT_EQ(c.at(0, 0)[0], 0);                 // x = -2 outside
  EXPECT_EQ(c.at(2, 0)[0], img.at(0, 4)[0]);   // x = 0, y = 4
  EXPECT_EQ(c.at(4, 1)[1], img.at(2, 5)[1]);
  EXPECT_EQ(c.at(3, 2)[2], 0);                 // y = 6 outside
  const Image p = Pad(img, 1, 2, 3, 4);
  EXPECT_EQ(p.width, 17);
  EXPECT_EQ(p.height, 9);
  EXPECT_EQ(p.at(3, 1)[0], img.at(0, 0)[0]);
  EXPECT_EQ(p.at(0, 0)[0], 0);
  EXPECT_THROW(Pad(img, -1, 0, 0, 0), Error);
  // Entirely outside: all black, no crash.
  const Image far = Crop(img, 1000000, -1000000, 3, 3);
  for (uint8_t v : far.pixels) EXPECT_EQ(v, 0);
}

TEST(Imgproc, WarpAffineIdentityAndQuarterTurn) {
  const Image img = Gradient(9, 9, 1);
  const Image same = WarpAffine(img, {1, 0, 0, 0, 1, 0}, 9, 9, Interp::kBilinear);
  EXPECT_EQ(same.pixels, img.pixels);
  // 90 degrees about the centre (4, 4): OpenCV convention, counter-clockwise as displayed.
  const Affine rot = RotationMatrix({4, 4}, 90);
  const Image r = WarpAffine(img, rot, 9, 9, Interp::kNearest);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 9; ++x) {
      const Point s = Apply(InvertAffine(rot), {static_cast<float>(x), static_cast<float>(y)});
      ASSERT_EQ(r.at(x, y)[0], img.at(static_cast<int>(std::lround(s.x)), static_cast<int>(std::lround(s.y)))[0]);
    }
  // Counter-clockwise: the point right of the centre moves up.
  const Point p = Apply(rot, {8, 4});
  EXPECT_NEAR(p.x, 4, 1e-5);
  EXPECT_NEAR(p.y, 0, 1e-5);
  EXPECT_THROW(InvertAffine({0, 0, 1, 0, 0, 1}), Error);
}

TEST(Imgproc, SimilarityRecoversKnownTransform) {
  const double a = 1.7 * std::cos(0.3), b = 1.7 * std::sin(0.3);
  const Affine m = {a, -b, 12.5, b, a, -4.25};
  std::vector<Point> from = {{10, 20}, {40, 22}, {25, 35}, {14, 50}, {37, 51}}, to;
  for (auto p : from) to.push_back(Apply(m, p));
  const Affine e = EstimateSimilarity(from, to);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(e[i], m[i], 1e-4) << i;
  EXPECT_THROW(EstimateSimilarity({{1, 1}}, {{2, 2}}), Error);
  EXPECT_THROW(EstimateSimilarity({{1, 1}, {1, 1}}, {{2, 2}, {3, 3}}), Error);
}

TEST(Imgproc, ResizePadLetterboxesLikeDeepFace) {
  const Image img = Gradient(100, 50, 3);
  float scale = 0;
  int px = -1, py = -1;
  const Image out = ResizePad(img, 224, 224, &scale, &px, &py);
  EXPECT_EQ(out.width, 224);
  EXPECT_EQ(out.height, 224);
  EXPECT_FLOAT_EQ(scale, 2.24f);  // 224 / 100
  EXPECT_EQ(px, 0);
  EXPECT_EQ(py, 56);
  EXPECT_EQ(out.at(100, 55)[0], 0);   // padding above
  EXPECT_EQ(out.at(100, 168)[0], 0);  // padding below (56 + 112)
  EXPECT_NE(out.at(100, 100)[1], 0);
}

TEST(Imgproc, ToTensorAppliesColourOrderMeanAndScale) {
  Image img(2, 1, 3);
  img.at(0, 0)[0] = 10, img.at(0, 0)[1] = 20, img.at(0, 0)[2] = 30;
  models::InputSpec spec;
  spec.width = 2, spec.height = 1, spec.channels = 3;
  spec.color = models::ColorOrder::kBGR;
  for (int i = 0; i < 3; ++i) spec.mean[i] = 127.5f, spec.scale[i] = 1 / 128.f;
  const auto t = ToTensor(img, spec);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_FLOAT_EQ(t[0], (30 - 127.5f) / 128);
  EXPECT_FLOAT_EQ(t[2], (10 - 127.5f) / 128);
  spec.width = 3;
  EXPECT_THROW(ToTensor(img, spec), Error);
}

TEST(Align, EyeRotationLevelsTheEyes) {
  // Two bright dots: right eye (image left) at (40, 60), left eye at (80, 40): angle atan2(-20, 40).
  Image img(160, 120, 3);
  auto dot = [&](int cx, int cy) {
    for (int y = cy - 2; y <= cy + 2; ++y)
      for (int x = cx - 2; x <= cx + 2; ++x) img.at(x, y)[0] = img.at(x, y)[1] = img.at(x, y)[2] = 255;
  };
  dot(40, 60);
  dot(80, 40);
  double angle = 0;
  const Image face = AlignByEyes(img, {30, 20, 60, 60}, Point{80, 40}, Point{40, 60}, &angle);
  EXPECT_NEAR(angle, std::atan2(-20.0, 40.0) * 180 / M_PI, 1e-5);
  EXPECT_EQ(face.width, 60);
  EXPECT_EQ(face.height, 60);
  // After rotation the two dots are on one row: find the brightest column sums per half.
  auto row_of_peak = [&](int x0, int x1) {
    int best = -1, best_v = -1;
    for (int y = 0; y < face.height; ++y) {
      int v = 0;
      for (int x = x0; x < x1; ++x) v += face.at(x, y)[0];
      if (v > best_v) best_v = v, best = y;
    }
    return best;
  };
  EXPECT_NEAR(row_of_peak(0, 30), row_of_peak(30, 60), 1);
  // No eyes: a plain crop.
  const Image plain = AlignByEyes(img, {30, 20, 60, 60}, std::nullopt, std::nullopt, &angle);
  EXPECT_EQ(angle, 0);
  EXPECT_EQ(plain.at(10, 40)[0], 255);  // dot (40, 60) at crop (10, 40)
}

TEST(Align, TemplateWarpPutsLandmarksOnTheTemplate) {
  Image img(300, 300, 3);
  Detection d;
  d.box = {100, 100, 100, 120};
  d.right_eye = Point{130, 150};
  d.left_eye = Point{172, 146};
  d.nose = Point{150, 175};
  d.mouth_right = Point{135, 200};
  d.mouth_left = Point{168, 198};
  // Mark the nose so it can be found after warping.
  for (int y = 172; y <= 178; ++y)
    for (int x = 147; x <= 153; ++x) img.at(x, y)[1] = 255;
  const Image out = AlignToTemplate(img, d, 112);
  ASSERT_EQ(out.width, 112);
  const auto t = CanonicalTemplate(112);
  EXPECT_GT(out.at(static_cast<int>(t[2].x), static_cast<int>(t[2].y))[1], 200);
  EXPECT_EQ(out.at(5, 5)[1], 0);
  // Margin shrinks the template towards the centre.
  const auto tm = CanonicalTemplate(112, 0.25f);
  EXPECT_NEAR(tm[0].x, 56 + (t[0].x - 56) / 1.5f, 1e-3);
}

TEST(Align, ExtractClampsExpandsAndKeepsLargest) {
  const Image img = Gradient(200, 100, 3);
  std::vector<Detection> dets(2);
  dets[0].box = {-10, 10, 50, 40};
  dets[0].confidence = 0.9f;
  dets[1].box = {100, 20, 80, 70};
  dets[1].confidence = 0.8f;
  ExtractParams p;
  p.align = false;
  auto faces = ExtractFromDetections(img, dets, p, nullptr);
  ASSERT_EQ(faces.size(), 2u);
  EXPECT_EQ(faces[0].area.x, 0);
  EXPECT_EQ(faces[0].area.w, 40);
  EXPECT_EQ(faces[0].face.width, 40);
  p.max_faces = 1;
  faces = ExtractFromDetections(img, dets, p, nullptr);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].area.x, 100);  // the larger box
  p.max_faces = 0;
  p.expand_percentage = 50;
  faces = ExtractFromDetections(img, {dets[1]}, p, nullptr);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].area.x, 80);   // 100 - (120 - 80) / 2
  EXPECT_EQ(faces[0].area.y, 3);    // 20 - (105 - 70) / 2
  EXPECT_EQ(faces[0].area.w, 120);
  EXPECT_EQ(faces[0].area.h, 97);   // clipped at the bottom
}

}  // namespace
}  // namespace facelib
