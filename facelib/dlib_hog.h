// DeepFace's "dlib" detector backend: dlib's frontal face detector (HOG
// features + linear filters, five views) and the 68-point shape predictor.
//
// What Detect() computes, as DeepFace's `detector.run(img, 1)` on the BGR
// image followed by `sp(img, rect)`:
//  1. the image is upsampled once with dlib's pyramid_up (bilinear, to
//     (2W+2) x (2H+1) pixels);
//  2. an image pyramid with dlib's pyramid_down<6> (each level 5/6 of the
//     previous, bilinear) while the level is at least 64 x 64 (the model's
//     minimum), and on each level dlib's fHOG features (Felzenszwalb's
//     variant: 8x8 cells, 18 signed + 9 unsigned orientation bins and 4
//     texture energies, i.e. 31 values per cell, zero padded for the filter);
//  3. each of the five 10x10x31 linear filters slides over every level; a
//     window whose score reaches the filter's threshold is a candidate with
//     score = response - threshold;
//  4. candidates of all filters, best first, are kept unless they overlap a
//     kept one (dlib's test: intersection / bounding-box area above 0.33 or
//     intersection above 0.79 of either box); rectangles are mapped back to
//     the original image;
//  5. per face: box clipped to the image as DeepFace does (x = max(0, left),
//     w = min(right, width) - x), confidence = score clipped to [0, 1], the
//     68 landmarks of the shape predictor on the original image, eyes = mean
//     of points 36-41 (person's right eye, image left) and 42-47 (person's
//     left eye).
// Exactness: the pyramid images, gradients and fHOG features reproduce
// dlib 19.24 (built for baseline x86-64) bit for bit, as do the landmarks;
// filter responses are summed in another order (dlib's separable terms, in
// SIMD with fused multiply-adds), so scores differ from dlib's by about 1e-5.
// Gray images are handled as three equal channels (as cv2.imread gives
// DeepFace); colour images are taken in the order dlib sees DeepFace's BGR
// array (this only decides ties between channels of equal gradient).
//
// Options: score_threshold (NaN = 0) is dlib's adjust_threshold, a bound on
// the raw score; nms_iou (NaN = the model's 0.33) replaces the overlap
// threshold; num_threads (0 = all cores) spreads the pyramid levels and the
// faces' landmarks over threads (results do not depend on it).
//
// Thread safety: Detect() and DetectRaw() are const and may run concurrently
// on one object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "facelib/detector.h"
#include "facelib/shape_predictor.h"

namespace facelib {

struct DlibHogModel;

class DlibHogDetector : public Detector {
 public:
  // `hog_path`: the file of `facelib-convert dlib-hog` (zoo dlib_hog_frontal);
  // `shape_path`: the shape predictor (zoo dlib_shape68), "" = no landmarks.
  DlibHogDetector(const std::string& hog_path, const std::string& shape_path, const DetectorOptions& options = {});
  ~DlibHogDetector() override;

  std::string name() const override { return "dlib"; }
  std::vector<Detection> Detect(const Image& image) const override;

  // dlib's own output: rectangles in `image` pixels, raw scores (response
  // minus threshold, not clipped) and the index of the filter that fired.
  struct Raw {
    DlibRect rect;
    double score = 0;
    int filter = 0;
  };
  std::vector<Raw> DetectRaw(const Image& image, int upsample = 1, double adjust_threshold = 0) const;

  const ShapePredictor* shape_predictor() const { return shape_.get(); }
  int num_filters() const;

 private:
  Detection ToDetection(const Image& image, const Raw& raw) const;
  std::unique_ptr<DlibHogModel> model_;
  std::shared_ptr<const ShapePredictor> shape_;
  double adjust_threshold_ = 0;
  int num_threads_ = 1;
};

// Loads dlib_hog_frontal.flm and dlib_shape68.flm from `models_dir` ("" =
// DefaultModelsDir()); a missing file gives kNotFound naming the setup command.
std::unique_ptr<Detector> CreateDlibHogDetector(const std::string& models_dir, const DetectorOptions& options = {});

}  // namespace facelib
