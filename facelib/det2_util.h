// Helpers shared by the detectors declared in facelib/model_detectors2.h
// (MediaPipe and Human BlazeFace, face-api SSD and Tiny, MTCNN): box mapping
// and clipping, output checks, BlazeFace/SSD anchor decoding and MediaPipe's
// weighted NMS. Fitting images into network inputs comes from
// facelib/det_common.h.
//
// Internal to facelib. Everything here is a pure function: safe to call from
// any number of threads.
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "facelib/det_common.h"
#include "facelib/face.h"
#include "facelib/image.h"
#include "runtime/model.h"

namespace facelib::det2 {

inline float Sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

// A box given by its corners in network-input pixels, in image pixels.
inline Box MapBox(const det::InputMap& map, float x0, float y0, float x1, float y1) {
  const Point a = map.ToImage(x0, y0), b = map.ToImage(x1, y1);
  return {a.x, a.y, b.x - a.x, b.y - a.y};
}

// Clamps the corners of `b` into [0, width] x [0, height].
Box ClipBox(const Box& b, int width, int height);

bool Finite(const Box& b);

// The output of `model` called `name` with exactly `count` values; throws
// kInvalidModel naming the model and output otherwise.
const rt::Tensor& Output(const rt::Model& model, const std::vector<rt::Tensor>& outs, const std::string& name,
                         size_t count, const char* who);

// SSD anchor centres as MediaPipe's SsdAnchorsCalculator lays them out with a
// fixed anchor size: consecutive layers of equal stride share a feature map;
// each layer adds one anchor per cell, plus one more when
// `interpolated_anchor` is set. Order: feature map, row, column, anchor.
// Centres are in input pixels.
std::vector<Point> SsdAnchorCentres(int input_w, int input_h, const std::vector<int>& strides,
                                    bool interpolated_anchor, float offset = 0.5f);

// A decoded BlazeFace candidate, in model input pixels.
struct BlazeCandidate {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // corners
  float score = 0;
  std::array<Point, 6> keypoints;
  Box box() const { return {x0, y0, x1 - x0, y1 - y0}; }
};

// Decodes BlazeFace rows of 16 regressors (centre offset dx, dy, width,
// height, then 6 keypoints as x, y offsets from the anchor, all in input
// pixels) and one logit each. The logit is clipped to +-score_clip before the
// sigmoid; candidates with score < min_score are dropped.
std::vector<BlazeCandidate> DecodeBlaze(const float* regressors, const float* logits, const std::vector<Point>& anchors,
                                        float min_score, float score_clip);

// MediaPipe's weighted non-maximum suppression: the best remaining candidate
// absorbs every remaining candidate whose IoU with it exceeds iou_threshold;
// the corners and keypoints reported are their score-weighted mean, the score
// the best one's. Result sorted by score, best first.
std::vector<BlazeCandidate> WeightedNms(std::vector<BlazeCandidate> cands, float iou_threshold);

}  // namespace facelib::det2
