// Face extraction and alignment, following DeepFace's extract_faces:
//
//  detect -> keep the largest `max_faces` -> grow the box by expand_percentage
//  -> eyes from the Haar eye cascade when the detector gave none -> with
//  align: take the box with a margin of half its size on every side, rotate it
//  about its centre by the eye angle (bicubic, black border) and cut the box,
//  projected into the rotated frame, out of it -> clamp the reported box.
//
// One deliberate difference: DeepFace pads the whole photo with black borders
// of half its size before detecting (so the rotation margin never leaves the
// image). Here the margin is cut with black fill directly, so detectors see
// the original photo: the same crops, without detecting on a 4x larger canvas
// (which DeepFace's own issue #1400 reports costs speed and confidence).
//
// The second mode, alignment "landmarks", warps the photo with the similarity
// transform that takes the detector's 5 points (or the 2 eyes) onto a
// canonical template, the way recognition networks are usually trained.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "facelib/detector.h"
#include "facelib/imgproc.h"

namespace facelib {

// DeepFace's facial_area: integer pixels of the original image.
struct FacialArea {
  int x = 0, y = 0, w = 0, h = 0;
  std::optional<std::pair<int, int>> left_eye, right_eye, nose, mouth_left, mouth_right;
};

enum class AlignMode { kNone, kEyes, kLandmarks };
AlignMode ParseAlignMode(const std::string& s);  // "none"/"false", "eyes"/"true", "landmarks"
const char* AlignModeName(AlignMode m);

struct ExtractedFace {
  Image face;               // aligned crop (RGB), native resolution for kNone/kEyes
  FacialArea area;          // DeepFace's facial_area
  float confidence = 0;     // detector confidence (0 for the whole-image fallback)
  Detection detection;      // the detection in original-image pixels (after expansion), all landmarks
  bool whole_image = false; // no face found (enforce_detection off) or detector "skip"
};

// Eye finder used when a detector gives no eyes (the Haar eye cascade); may be
// empty (no fallback). Returns eyes in the crop's pixels.
using EyeFinder = std::function<void(const Image& crop, std::optional<Point>* left, std::optional<Point>* right)>;

struct ExtractParams {
  bool align = true;
  int expand_percentage = 0;
  int max_faces = 0;  // 0 = all
};

// Turns raw detections (original-image pixels) into DeepFace's extracted
// faces. `detections` best first; `eye_finder` may be null.
std::vector<ExtractedFace> ExtractFromDetections(const Image& image, std::vector<Detection> detections,
                                                  const ExtractParams& params, const EyeFinder& eye_finder);

// The whole image as one face (detector "skip" or no face found).
ExtractedFace WholeImageFace(const Image& image);

// DeepFace's eye-angle rotation of a face box (steps 8a-8d of extract_faces):
// returns the aligned crop; the angle in degrees goes to *angle.
Image AlignByEyes(const Image& image, const Box& box, const std::optional<Point>& left_eye,
                  const std::optional<Point>& right_eye, double* angle = nullptr);

// Canonical 5-point template (person's right eye, left eye, nose, right and
// left mouth corner) for a square crop of `size` pixels: the ArcFace/InsightFace
// 112x112 template scaled, with `margin` extra border as a fraction of the size.
std::vector<Point> CanonicalTemplate(int size, float margin = 0.f);

// Warps the face onto the canonical template at size x size. Uses the 5 points
// when the detection has them, else the two eyes; without eyes it falls back
// to a square crop around the box. `margin` as in CanonicalTemplate.
Image AlignToTemplate(const Image& image, const Detection& det, int size, float margin = 0.f);

}  // namespace facelib
