// dlib's shape predictor: a cascade of regression-tree ensembles (Kazemi and
// Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression
// Trees", 2014) that places landmarks (68 for dlib's face model) inside a
// face box. Reads the file written by `facelib-convert dlib-shape`
// (zoo "dlib_shape68").
//
// The computation follows dlib's shape_predictor::operator() step by step:
// the mean shape lives in box-normalised coordinates ((0,0) = box top-left,
// (1,1) = bottom-right corner); each cascade finds the similarity transform
// from the mean shape to the current shape, reads its feature pixels (anchor
// landmark + transformed offset, mapped to the image and rounded to the
// nearest pixel, intensity 0 outside the image), walks every tree
// (left when pixel[idx1] - pixel[idx2] > threshold) and adds the leaf's shape
// update. Points come back rounded to whole pixels, as dlib's do.
//
// Intensity of an RGB pixel is (r + g + b) / 3 in integer arithmetic (dlib's
// rgb -> gray conversion), so the channel order does not matter.
//
// Thread safety: a loaded ShapePredictor is immutable; Predict() is const and
// may run concurrently from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "facelib/face.h"
#include "facelib/image.h"

namespace facelib {

// dlib's rectangle: inclusive pixel bounds (width = right - left + 1).
struct DlibRect {
  long left = 0, top = 0, right = -1, bottom = -1;
};

class ShapePredictor {
 public:
  // Loads and verifies a converted shape predictor. Missing file -> kNotFound;
  // a file that is not a dlib shape predictor or is inconsistent -> kInvalidModel.
  static std::shared_ptr<const ShapePredictor> Load(const std::string& path);
  ~ShapePredictor();

  int num_parts() const { return num_parts_; }
  int num_cascades() const { return num_cascades_; }
  int trees_per_cascade() const { return num_trees_; }
  int tree_depth() const { return depth_; }
  int features_per_cascade() const { return num_features_; }

  // Landmarks of the face in `rect` (image pixels, whole numbers).
  // Throws kInvalidArgument for an empty image or a rectangle with right <
  // left or bottom < top.
  std::vector<Point> Predict(const Image& image, const DlibRect& rect) const;
  // Same with a facelib box: corners (x, y) and (x + w, y + h), rounded, become
  // the rectangle's left/top and right/bottom (the inverse of DeepFace's
  // conversion of dlib rectangles to x, y, w, h).
  std::vector<Point> Predict(const Image& image, const Box& box) const;

 private:
  ShapePredictor() = default;
  struct Data;
  std::unique_ptr<Data> data_;
  int num_parts_ = 0, num_cascades_ = 0, num_trees_ = 0, depth_ = 0, num_features_ = 0;
};

}  // namespace facelib
