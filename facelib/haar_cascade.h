// Boosted Haar cascades (OpenCV's CascadeClassifier for the format written by
// opencv_traincascade), evaluated by facelib itself from the model files that
// `facelib-convert opencv-cascade` writes (layout: models/haar_cascade_format.h).
//
// HaarCascade::DetectMultiScale follows OpenCV 4's algorithm step by step so
// that it returns the same boxes and level weights as
// cv::CascadeClassifier::detectMultiScale(..., outputRejectLevels = true):
//  - scales 1, f, f^2, ... (kept as float) while the scaled window fits the
//    image; each scale resizes the image to round(W / s) x round(H / s) with
//    OpenCV's bit-exact bilinear resize (INTER_LINEAR_EXACT);
//  - integral, squared integral (32-bit, wrapping like OpenCV's) and, for
//    cascades with tilted features, the 45-degree integral;
//  - windows on a grid of step 2 (step 1 once s >= 2); a window whose first
//    stage fails also skips the next grid position; rows are cut into
//    OpenCV's stripes, which can leave a scale's last row unscanned; a window
//    is normalised by its standard deviation over the training window shrunk
//    by one pixel on every side, and skipped when that is 10 gray levels or
//    less;
//  - feature values in float, stage sums in double, stage thresholds lowered
//    by 1e-5 as OpenCV does on load;
//  - windows that pass every stage are grouped like cv::groupRectangles with
//    eps 0.2: clusters of more than min_neighbors windows, averaged boxes,
//    clusters inside bigger ones dropped; a cluster's level weight is the
//    largest last-stage sum among its members; boxes are clipped to the image.
// Stump cascades with integer feature weights (all of OpenCV's face and eye
// cascades) run many windows per stage in SIMD (Highway, dynamic dispatch);
// the arithmetic is the same, so the results are identical to the scalar path.
//
// Thread safety: a HaarCascade, HaarEyeFinder or HaarFaceDetector is immutable
// after construction; every method is const and may be called from any number
// of threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "facelib/detector.h"
#include "facelib/face.h"
#include "facelib/image.h"

namespace facelib {

namespace rt {
struct Graph;
}

struct IntRect {
  int x = 0, y = 0, w = 0, h = 0;
  bool operator==(const IntRect& o) const { return x == o.x && y == o.y && w == o.w && h == o.h; }
};

// What detectMultiScale3 returns: one entry per box.
struct HaarDetections {
  std::vector<IntRect> boxes;
  std::vector<int> reject_levels;     // stages passed (every reported window passed all of them)
  std::vector<double> level_weights;  // last-stage sum (grouped: the largest among the cluster's windows)
  size_t size() const { return boxes.size(); }
};

struct HaarScanOptions {
  double scale_factor = 1.1;  // > 1
  int min_neighbors = 3;      // 0 = no grouping: every window that passed
  int min_width = 0, min_height = 0;  // smallest window; 0 = no limit
  int max_width = 0, max_height = 0;  // largest window; 0 = the image size
  int num_threads = 1;        // scales run in parallel on up to this many threads (0 = all cores)
  bool force_scalar = false;  // skip the SIMD path (tests compare the two)
};

class HaarCascade {
 public:
  // Loads and checks a converted cascade (kNotFound, kInvalidModel naming the file).
  explicit HaarCascade(const std::string& flm_path);
  HaarCascade(const rt::Graph& graph, const std::string& label);
  ~HaarCascade();
  HaarCascade(const HaarCascade&) = default;
  HaarCascade& operator=(const HaarCascade&) = default;

  int window_width() const;
  int window_height() const;
  int num_stages() const;
  int num_features() const;
  int num_trees() const;
  bool has_tilted_features() const;
  // True when DetectMultiScale uses the SIMD window evaluator.
  bool simd_eligible() const;

  // OpenCV's detectMultiScale on an 8-bit image: gray, or RGB converted with
  // OpenCV's BGR2GRAY weights. Boxes are in image pixels.
  HaarDetections DetectMultiScale(const Image& image, const HaarScanOptions& options = {}) const;
  HaarDetections DetectMultiScale(const Image& image, double scale_factor, int min_neighbors) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// cv::groupRectangles(rects, rejectLevels, levelWeights, group_threshold, eps).
// group_threshold <= 0 returns the input unchanged.
HaarDetections GroupHaarRectangles(const HaarDetections& windows, int group_threshold, double eps = 0.2);

// The subject's eyes (DeepFace naming: left_eye is the person's left, usually
// on the right of the photo), in the coordinates of the image searched.
struct EyePair {
  std::optional<Point> left_eye, right_eye;
};

// DeepFace's OpenCV eye finder on a face crop: eye cascade with scale 1.1 and
// 10 neighbours on the gray crop; of the found eyes the two with the largest
// w*h (ties keep the detection order); the one with the smaller x is the right
// eye; each point is the integer centre of its box (int(x + w / 2)). Fewer
// than two eyes, or an empty crop, gives no eyes.
EyePair FindEyesHaar(const HaarCascade& eye_cascade, const Image& face_crop);

// The eye cascade wrapper reused by detectors that have no eye landmarks.
class HaarEyeFinder {
 public:
  explicit HaarEyeFinder(const std::string& eye_flm_path) : cascade_(eye_flm_path) {}
  EyePair Find(const Image& face_crop) const { return FindEyesHaar(cascade_, face_crop); }
  const HaarCascade& cascade() const { return cascade_; }

 private:
  HaarCascade cascade_;
};

// DeepFace's default "opencv" backend: faces from the frontal-face cascade
// (detectMultiScale3, scale 1.1, 10 neighbours), confidence
// (100 - level weight) / 100, eyes from the eye cascade on each face's crop
// (clipped to the image) offset by the face origin. Faces are returned with
// the highest confidence first. options.score_threshold (default: none)
// drops faces below it; options.num_threads spreads the scales over threads
// (0 = all cores).
class HaarFaceDetector : public Detector {
 public:
  HaarFaceDetector(const std::string& face_flm_path, const std::string& eye_flm_path,
                   const DetectorOptions& options = {});
  std::string name() const override { return "opencv"; }
  std::vector<Detection> Detect(const Image& image) const override;

  const HaarCascade& face_cascade() const { return face_; }
  const HaarEyeFinder& eye_finder() const { return eyes_; }

 private:
  HaarCascade face_;
  HaarEyeFinder eyes_;
  DetectorOptions options_;
};

}  // namespace facelib
