// Core result types shared by detectors, the aligner and the operations.
//
// Coordinates are pixels of the image that was handed to the detector, x to
// the right, y down, (0,0) the top-left corner of the top-left pixel.
// Eyes are named from the person's point of view, as DeepFace does: left_eye
// is the subject's left eye, normally on the right side of the photo.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace facelib {

struct Point {
  float x = 0, y = 0;
};

struct Box {
  float x = 0, y = 0, w = 0, h = 0;
  float area() const { return w > 0 && h > 0 ? w * h : 0.f; }
};

// Intersection over union of two boxes (0 when either is empty).
float IoU(const Box& a, const Box& b);

// Greedy non-maximum suppression: indices of kept boxes, highest score first.
// Boxes overlapping a kept box by more than iou_threshold are dropped.
// top_k > 0 caps the number kept.
std::vector<int> Nms(const std::vector<Box>& boxes, const std::vector<float>& scores, float iou_threshold,
                     int top_k = 0);

struct Detection {
  Box box;
  float confidence = 0;  // detector score mapped to 0..1
  std::optional<Point> left_eye, right_eye;             // person's left / right eye
  std::optional<Point> nose, mouth_left, mouth_right;   // person's left / right mouth corner
  std::vector<Point> landmarks;  // every point the model gives (e.g. 5, 6 or 68), in image pixels
};

}  // namespace facelib
