#include "facelib/det_common.h"

#include <algorithm>
#include <cmath>

#include "facelib/imgproc.h"
#include "runtime/error.h"

namespace facelib::det {

void CheckDetectorInput(const Image& img, const std::string& detector) {
  if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
    throw Error(ErrorCode::kInvalidArgument, detector + ": invalid image " + std::to_string(img.width) + "x" +
                                                 std::to_string(img.height) + "x" + std::to_string(img.channels) +
                                                 " with " + std::to_string(img.pixels.size()) + " bytes");
}

Image Letterbox(const Image& img, int w, int h, PadAt pad, InputMap* map) {
  const double f = std::min(static_cast<double>(h) / img.height, static_cast<double>(w) / img.width);
  const int nw = std::clamp(static_cast<int>(img.width * f), 1, w);
  const int nh = std::clamp(static_cast<int>(img.height * f), 1, h);
  const int dx = pad == PadAt::kCentre ? (w - nw) / 2 : 0;
  const int dy = pad == PadAt::kCentre ? (h - nh) / 2 : 0;
  Image resized = Resize(img, nw, nh);
  if (map) *map = InputMap{static_cast<float>(nw) / img.width, static_cast<float>(nh) / img.height,
                           static_cast<float>(dx), static_cast<float>(dy)};
  if (nw == w && nh == h) return resized;
  return Pad(resized, dy, h - nh - dy, dx, w - nw - dx);
}

Image Stretch(const Image& img, int w, int h, InputMap* map) {
  if (map) *map = InputMap{static_cast<float>(w) / img.width, static_cast<float>(h) / img.height, 0, 0};
  return Resize(img, w, h);
}

Image FitAndPadToMultiple(const Image& img, int max_side, int multiple, InputMap* map, bool upscale) {
  int nw = img.width, nh = img.height;
  if (std::max(nw, nh) > max_side || (upscale && std::max(nw, nh) < max_side)) {
    const double r = static_cast<double>(max_side) / std::max(nw, nh);
    nw = std::max(1, static_cast<int>(nw * r));
    nh = std::max(1, static_cast<int>(nh * r));
  }
  const int pw = (nw + multiple - 1) / multiple * multiple, ph = (nh + multiple - 1) / multiple * multiple;
  if (map) *map = InputMap{static_cast<float>(nw) / img.width, static_cast<float>(nh) / img.height, 0, 0};
  Image resized = (nw == img.width && nh == img.height) ? img : Resize(img, nw, nh);
  if (pw == nw && ph == nh) return resized;
  return Pad(resized, 0, ph - nh, 0, pw - nw);
}

int64_t Rows(const rt::Tensor& t) { return t.shape.size() >= 2 ? t.shape[t.shape.size() - 2] : 0; }

const rt::Tensor& Output(const rt::Model& model, const std::vector<rt::Tensor>& outs, const std::string& name,
                         int64_t rows, int64_t cols, const std::string& model_name) {
  size_t i = 0;
  try {
    i = model.output_index(name);
  } catch (const Error&) {
    throw Error(ErrorCode::kInvalidModel, "model " + model_name + " has no output '" + name + "'");
  }
  if (i >= outs.size()) throw Error(ErrorCode::kInternal, "model " + model_name + ": output '" + name + "' missing");
  const rt::Tensor& t = outs[i];
  const auto& s = t.shape;
  const bool rank_ok = s.size() == 2 || (s.size() == 3 && s[0] == 1);
  const bool ok = rank_ok && s.back() == cols && (rows < 0 || s[s.size() - 2] == rows) &&
                  t.size() == s[s.size() - 2] * cols;
  if (!ok)
    throw Error(ErrorCode::kInvalidModel, "model " + model_name + ": output '" + name + "' has shape " +
                                              rt::ShapeToString(s) + ", expected [1," +
                                              (rows < 0 ? std::string("N") : std::to_string(rows)) + "," +
                                              std::to_string(cols) + "]");
  return t;
}

std::vector<Detection> Finish(std::vector<Candidate> cands, const FinishOptions& opts, const InputMap& map,
                              int image_width, int image_height) {
  // Drop non-finite values before anything compares them.
  std::erase_if(cands, [](const Candidate& c) {
    return !(std::isfinite(c.x1) && std::isfinite(c.y1) && std::isfinite(c.x2) && std::isfinite(c.y2) &&
             std::isfinite(c.score));
  });
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  if (opts.pre_nms_top_k > 0 && static_cast<int>(cands.size()) > opts.pre_nms_top_k) cands.resize(opts.pre_nms_top_k);
  std::vector<Box> boxes(cands.size());
  std::vector<float> scores(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    boxes[i] = Box{cands[i].x1, cands[i].y1, cands[i].x2 - cands[i].x1, cands[i].y2 - cands[i].y1};
    scores[i] = cands[i].score;
  }
  const std::vector<int> keep = Nms(boxes, scores, opts.nms_iou, opts.keep_top_k);
  const float W = static_cast<float>(image_width), H = static_cast<float>(image_height);
  std::vector<Detection> out;
  out.reserve(keep.size());
  for (int k : keep) {
    const Candidate& c = cands[k];
    const Point p0 = map.ToImage(c.x1, c.y1), p1 = map.ToImage(c.x2, c.y2);
    const float x0 = std::clamp(p0.x, 0.f, W), y0 = std::clamp(p0.y, 0.f, H);
    const float x1 = std::clamp(p1.x, 0.f, W), y1 = std::clamp(p1.y, 0.f, H);
    if (!(x1 > x0 && y1 > y0)) continue;
    Detection d;
    d.box = Box{x0, y0, x1 - x0, y1 - y0};
    d.confidence = std::clamp(c.score, 0.f, 1.f);
    for (int i = 0; i < c.num_points; ++i) d.landmarks.push_back(map.ToImage(c.points[i].x, c.points[i].y));
    if (c.num_points == 5) {
      d.right_eye = d.landmarks[0];
      d.left_eye = d.landmarks[1];
      d.nose = d.landmarks[2];
      d.mouth_right = d.landmarks[3];
      d.mouth_left = d.landmarks[4];
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace facelib::det
