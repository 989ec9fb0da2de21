#include "facelib/face.h"

#include <algorithm>
#include <numeric>

namespace facelib {

float IoU(const Box& a, const Box& b) {
  const float x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const float x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  if (!(x1 > x0 && y1 > y0)) return 0.f;
  const float inter = (x1 - x0) * (y1 - y0);
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

std::vector<int> Nms(const std::vector<Box>& boxes, const std::vector<float>& scores, float iou_threshold, int top_k) {
  std::vector<int> order(boxes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<int> keep;
  for (int i : order) {
    bool ok = true;
    for (int k : keep)
      if (IoU(boxes[i], boxes[k]) > iou_threshold) {
        ok = false;
        break;
      }
    if (ok) {
      keep.push_back(i);
      if (top_k > 0 && static_cast<int>(keep.size()) >= top_k) break;
    }
  }
  return keep;
}

}  // namespace facelib
