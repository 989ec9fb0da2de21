// The detector interface every `detector_backend` implements.
#pragma once

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "facelib/face.h"
#include "facelib/image.h"

namespace facelib {

struct DetectorOptions {
  // Minimum confidence of a reported face; NaN = the backend's default
  // (DeepFace's value where DeepFace has the backend).
  float score_threshold = std::numeric_limits<float>::quiet_NaN();
  // IoU above which overlapping detections are merged; NaN = backend default.
  float nms_iou = std::numeric_limits<float>::quiet_NaN();
  // Intra-op threads for the networks; 0 = all cores.
  int num_threads = 0;
  // Backend-specific switches, e.g. mediapipe "full" range.
  std::string variant;
};

inline float OrDefault(float v, float def) { return std::isnan(v) ? def : v; }

// A loaded detector. Detect() is const and safe to call from many threads at
// once on the same object.
class Detector {
 public:
  virtual ~Detector() = default;
  virtual std::string name() const = 0;
  // Faces in `image` (RGB or gray), best first. No face -> empty vector.
  virtual std::vector<Detection> Detect(const Image& image) const = 0;
};

}  // namespace facelib
