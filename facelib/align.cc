#include "facelib/align.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace facelib {

AlignMode ParseAlignMode(const std::string& s) {
  if (s == "none" || s == "false" || s == "0" || s == "off") return AlignMode::kNone;
  if (s == "eyes" || s == "true" || s == "1" || s == "on") return AlignMode::kEyes;
  if (s == "landmarks") return AlignMode::kLandmarks;
  throw Error(ErrorCode::kInvalidArgument, "unknown alignment '" + s + "' (expected eyes, landmarks or none)");
}

const char* AlignModeName(AlignMode m) {
  switch (m) {
    case AlignMode::kNone: return "none";
    case AlignMode::kEyes: return "eyes";
    case AlignMode::kLandmarks: return "landmarks";
  }
  return "?";
}

namespace {

std::optional<std::pair<int, int>> ToIntPoint(const std::optional<Point>& p, int w, int h) {
  if (!p || !std::isfinite(p->x) || !std::isfinite(p->y)) return std::nullopt;
  const int x = static_cast<int>(p->x), y = static_cast<int>(p->y);
  if (x < 0 || y < 0 || x >= w || y >= h) return std::nullopt;
  return std::make_pair(x, y);
}

FacialArea MakeArea(const Detection& d, int W, int H) {
  FacialArea a;
  a.x = std::max(0, static_cast<int>(d.box.x));
  a.y = std::max(0, static_cast<int>(d.box.y));
  a.w = std::max(0, std::min(W - a.x, static_cast<int>(d.box.w)));
  a.h = std::max(0, std::min(H - a.y, static_cast<int>(d.box.h)));
  a.left_eye = ToIntPoint(d.left_eye, W, H);
  a.right_eye = ToIntPoint(d.right_eye, W, H);
  a.nose = ToIntPoint(d.nose, W, H);
  a.mouth_left = ToIntPoint(d.mouth_left, W, H);
  a.mouth_right = ToIntPoint(d.mouth_right, W, H);
  return a;
}

}  // namespace

ExtractedFace WholeImageFace(const Image& image) {
  ExtractedFace f;
  f.face = image.channels == 3 ? image : ToRgb(image);
  f.area.w = image.width;
  f.area.h = image.height;
  f.detection.box = {0, 0, static_cast<float>(image.width), static_cast<float>(image.height)};
  f.whole_image = true;
  return f;
}

Image AlignByEyes(const Image& image, const Box& box, const std::optional<Point>& left_eye,
                  const std::optional<Point>& right_eye, double* angle_out) {
  const int x = static_cast<int>(box.x), y = static_cast<int>(box.y);
  const int w = std::max(1, static_cast<int>(box.w)), h = std::max(1, static_cast<int>(box.h));
  double angle = 0;
  if (left_eye && right_eye)
    angle = std::atan2(left_eye->y - right_eye->y, left_eye->x - right_eye->x) * 180.0 / M_PI;
  if (angle_out) *angle_out = angle;
  if (angle == 0) return Crop(image, x, y, w, h);
  // Sub-image with half the box size as margin on every side (black outside the photo).
  const int mx = w / 2, my = h / 2;
  const int sw = w + 2 * mx, sh = h + 2 * my;
  const Image sub = Crop(image, x - mx, y - my, sw, sh);
  const Point centre{static_cast<float>(sw / 2), static_cast<float>(sh / 2)};
  const Affine rot = RotationMatrix(centre, angle);
  const Image rotated = WarpAffine(sub, rot, sw, sh, Interp::kBicubic);
  // The box centre, rotated with the image; a box of the same size around it.
  const Point c = Apply(rot, {mx + w / 2.f, my + h / 2.f});
  int x1 = static_cast<int>(c.x - w / 2.f), y1 = static_cast<int>(c.y - h / 2.f);
  int x2 = x1 + w, y2 = y1 + h;
  x1 = std::clamp(x1, 0, sw), x2 = std::clamp(x2, 0, sw), y1 = std::clamp(y1, 0, sh), y2 = std::clamp(y2, 0, sh);
  if (x2 <= x1 || y2 <= y1) return Crop(image, x, y, w, h);
  return Crop(rotated, x1, y1, x2 - x1, y2 - y1);
}

std::vector<ExtractedFace> ExtractFromDetections(const Image& image, std::vector<Detection> dets,
                                                  const ExtractParams& params, const EyeFinder& eye_finder) {
  const int W = image.width, H = image.height;
  if (params.max_faces > 0 && static_cast<int>(dets.size()) > params.max_faces) {
    std::stable_sort(dets.begin(), dets.end(),
                     [](const Detection& a, const Detection& b) { return a.box.area() > b.box.area(); });
    dets.resize(params.max_faces);
  }
  std::vector<ExtractedFace> out;
  for (Detection& d : dets) {
    // Integer box clipped to the photo, as DeepFace reports it.
    int x = static_cast<int>(std::floor(std::max(0.f, d.box.x))), y = static_cast<int>(std::floor(std::max(0.f, d.box.y)));
    int w = static_cast<int>(std::min<float>(d.box.w + std::min(0.f, d.box.x), W - x));
    int h = static_cast<int>(std::min<float>(d.box.h + std::min(0.f, d.box.y), H - y));
    if (params.expand_percentage > 0) {
      const int nw = w + static_cast<int>(w * params.expand_percentage / 100.0);
      const int nh = h + static_cast<int>(h * params.expand_percentage / 100.0);
      x = std::max(0, x - (nw - w) / 2);
      y = std::max(0, y - (nh - h) / 2);
      w = std::min(W - x, nw);
      h = std::min(H - y, nh);
    }
    if (w <= 0 || h <= 0) continue;
    d.box = {static_cast<float>(x), static_cast<float>(y), static_cast<float>(w), static_cast<float>(h)};
    if ((!d.left_eye || !d.right_eye) && eye_finder) {
      std::optional<Point> le, re;
      eye_finder(Crop(image, x, y, w, h), &le, &re);
      if (le && re) {
        d.left_eye = Point{le->x + x, le->y + y};
        d.right_eye = Point{re->x + x, re->y + y};
      }
    }
    ExtractedFace f;
    f.face = params.align ? AlignByEyes(image, d.box, d.left_eye, d.right_eye) : Crop(image, x, y, w, h);
    if (f.face.channels == 1) f.face = ToRgb(f.face);
    f.area = MakeArea(d, W, H);
    f.confidence = d.confidence;
    f.detection = std::move(d);
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Point> CanonicalTemplate(int size, float margin) {
  // ArcFace's 112x112 template: image-left eye (person's right), image-right
  // eye (person's left), nose tip, mouth corners (image left, image right).
  static const float kT[5][2] = {{38.2946f, 51.6963f}, {73.5318f, 51.5014f}, {56.0252f, 71.7366f},
                                 {41.5493f, 92.3655f}, {70.7299f, 92.2041f}};
  const float inner = size / (1.f + 2.f * margin), off = size * margin / (1.f + 2.f * margin);
  std::vector<Point> t(5);
  for (int i = 0; i < 5; ++i) t[i] = {kT[i][0] / 112.f * inner + off, kT[i][1] / 112.f * inner + off};
  return t;
}

Image AlignToTemplate(const Image& image, const Detection& d, int size, float margin) {
  const std::vector<Point> t = CanonicalTemplate(size, margin);
  std::vector<Point> from, to;
  if (d.left_eye && d.right_eye) {
    from = {*d.right_eye, *d.left_eye};
    to = {t[0], t[1]};
    if (d.nose && d.mouth_left && d.mouth_right) {
      from.insert(from.end(), {*d.nose, *d.mouth_right, *d.mouth_left});
      to.insert(to.end(), {t[2], t[3], t[4]});
    } else {
      // Two eyes only: the eye line fixes rotation and scale; the template's
      // mouth midpoint sits below the eye midpoint as in the template.
      const Point em{(d.left_eye->x + d.right_eye->x) / 2, (d.left_eye->y + d.right_eye->y) / 2};
      const float ex = d.left_eye->x - d.right_eye->x, ey = d.left_eye->y - d.right_eye->y;
      const float tem_x = (t[0].x + t[1].x) / 2, tem_y = (t[0].y + t[1].y) / 2;
      const float tmm_x = (t[3].x + t[4].x) / 2, tmm_y = (t[3].y + t[4].y) / 2;
      const float teye = t[1].x - t[0].x, k = std::sqrt(ex * ex + ey * ey) / teye;
      const float dy = (tmm_y - tem_y) * k, dx = (tmm_x - tem_x) * k;
      // Perpendicular to the eye line, pointing down in an upright face.
      const float nx = -ey / std::max(1e-6f, std::sqrt(ex * ex + ey * ey)), ny = ex / std::max(1e-6f, std::sqrt(ex * ex + ey * ey));
      from.push_back({em.x + nx * dy + ex / std::max(1e-6f, teye * k) * dx, em.y + ny * dy + ey / std::max(1e-6f, teye * k) * dx});
      to.push_back({tmm_x, tmm_y});
    }
    try {
      return WarpAffine(image, EstimateSimilarity(from, to), size, size, Interp::kBilinear);
    } catch (const Error&) {
    }
  }
  // No usable points: a square crop around the box, resized.
  const float side = std::max(d.box.w, d.box.h) * (1.f + 2.f * margin);
  const float cx = d.box.x + d.box.w / 2, cy = d.box.y + d.box.h / 2;
  const Image sq = Crop(image, static_cast<int>(cx - side / 2), static_cast<int>(cy - side / 2),
                        std::max(1, static_cast<int>(side)), std::max(1, static_cast<int>(side)));
  return Resize(sq, size, size);
}

}  // namespace facelib
