#include "facelib/det2_util.h"

#include <algorithm>
#include <numeric>

#include "runtime/error.h"

namespace facelib::det2 {

Box ClipBox(const Box& b, int width, int height) {
  const float x0 = std::clamp(b.x, 0.f, static_cast<float>(width));
  const float y0 = std::clamp(b.y, 0.f, static_cast<float>(height));
  const float x1 = std::clamp(b.x + b.w, 0.f, static_cast<float>(width));
  const float y1 = std::clamp(b.y + b.h, 0.f, static_cast<float>(height));
  return {x0, y0, std::max(0.f, x1 - x0), std::max(0.f, y1 - y0)};
}

bool Finite(const Box& b) {
  return std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.w) && std::isfinite(b.h);
}

const rt::Tensor& Output(const rt::Model& model, const std::vector<rt::Tensor>& outs, const std::string& name,
                         size_t count, const char* who) {
  const size_t i = model.output_index(name);
  if (i >= outs.size() || outs[i].data.size() != count)
    throw Error(ErrorCode::kInvalidModel, std::string(who) + ": output '" + name + "' has " +
                                              std::to_string(i < outs.size() ? outs[i].data.size() : 0) +
                                              " values, expected " + std::to_string(count));
  return outs[i];
}

std::vector<Point> SsdAnchorCentres(int input_w, int input_h, const std::vector<int>& strides,
                                    bool interpolated_anchor, float offset) {
  std::vector<Point> anchors;
  size_t layer = 0;
  while (layer < strides.size()) {
    // Layers sharing a stride share one feature map.
    size_t last = layer;
    while (last + 1 < strides.size() && strides[last + 1] == strides[layer]) ++last;
    const int per_cell = static_cast<int>(last - layer + 1) * (interpolated_anchor ? 2 : 1);
    const int stride = strides[layer];
    const int fw = (input_w + stride - 1) / stride, fh = (input_h + stride - 1) / stride;
    for (int y = 0; y < fh; ++y)
      for (int x = 0; x < fw; ++x)
        for (int a = 0; a < per_cell; ++a)
          anchors.push_back({(x + offset) / fw * input_w, (y + offset) / fh * input_h});
    layer = last + 1;
  }
  return anchors;
}

std::vector<BlazeCandidate> DecodeBlaze(const float* regressors, const float* logits, const std::vector<Point>& anchors,
                                        float min_score, float score_clip) {
  std::vector<BlazeCandidate> out;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const float logit = std::clamp(logits[i], -score_clip, score_clip);
    const float score = Sigmoid(logit);
    if (!(score >= min_score)) continue;
    const float* r = regressors + i * 16;
    const Point a = anchors[i];
    BlazeCandidate c;
    const float cx = a.x + r[0], cy = a.y + r[1], w = r[2], h = r[3];
    c.x0 = cx - w / 2;
    c.y0 = cy - h / 2;
    c.x1 = cx + w / 2;
    c.y1 = cy + h / 2;
    c.score = score;
    for (int k = 0; k < 6; ++k) c.keypoints[k] = {a.x + r[4 + 2 * k], a.y + r[5 + 2 * k]};
    if (!Finite(c.box())) continue;
    out.push_back(c);
  }
  return out;
}

std::vector<BlazeCandidate> WeightedNms(std::vector<BlazeCandidate> cands, float iou_threshold) {
  std::stable_sort(cands.begin(), cands.end(),
                   [](const BlazeCandidate& a, const BlazeCandidate& b) { return a.score > b.score; });
  std::vector<BlazeCandidate> out;
  std::vector<BlazeCandidate> rest;
  while (!cands.empty()) {
    const BlazeCandidate& best = cands.front();
    const Box bb = best.box();
    double total = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    std::array<double, 12> kp{};
    rest.clear();
    for (const BlazeCandidate& c : cands) {
      if (IoU(bb, c.box()) > iou_threshold) {
        total += c.score;
        x0 += c.score * c.x0, y0 += c.score * c.y0, x1 += c.score * c.x1, y1 += c.score * c.y1;
        for (int k = 0; k < 6; ++k) kp[2 * k] += c.score * c.keypoints[k].x, kp[2 * k + 1] += c.score * c.keypoints[k].y;
      } else {
        rest.push_back(c);
      }
    }
    BlazeCandidate merged = best;
    if (total > 0) {
      merged.x0 = static_cast<float>(x0 / total);
      merged.y0 = static_cast<float>(y0 / total);
      merged.x1 = static_cast<float>(x1 / total);
      merged.y1 = static_cast<float>(y1 / total);
      for (int k = 0; k < 6; ++k)
        merged.keypoints[k] = {static_cast<float>(kp[2 * k] / total), static_cast<float>(kp[2 * k + 1] / total)};
    }
    out.push_back(merged);
    // An empty box overlaps nothing, not even itself: drop it so the loop advances.
    if (rest.size() == cands.size()) rest.erase(rest.begin());
    cands.swap(rest);
  }
  return out;
}

}  // namespace facelib::det2
