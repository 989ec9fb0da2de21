// Small image operations used by detectors, the aligner and the operations:
// resizing, colour conversion, cropping with black fill, affine warps, and
// turning an image into a normalised float tensor for a zoo model.
//
// All functions take and return facelib::Image (8-bit, RGB or gray) and are
// pure: safe to call concurrently.
#pragma once

#include <array>
#include <vector>

#include "facelib/face.h"
#include "facelib/image.h"
#include "models/zoo.h"

namespace facelib {

enum class Interp { kNearest, kBilinear, kBicubic };

// Resize to w x h with pixel centres aligned (OpenCV's convention:
// src = (dst + 0.5) * scale - 0.5, borders replicated).
Image Resize(const Image& src, int w, int h, Interp interp = Interp::kBilinear);

// Gray = 0.299 R + 0.587 G + 0.114 B, rounded like OpenCV's fixed-point
// conversion. A gray input is returned unchanged.
Image ToGray(const Image& src);
// Gray -> RGB by replication; RGB returned unchanged.
Image ToRgb(const Image& src);

// The w x h window at (x, y); parts outside the source are black.
Image Crop(const Image& src, int x, int y, int w, int h);
// Adds black borders.
Image Pad(const Image& src, int top, int bottom, int left, int right);

// 2x3 affine matrix mapping source to destination coordinates:
// dst = [a b c; d e f] * [x y 1].
using Affine = std::array<double, 6>;
Affine InvertAffine(const Affine& m);
Point Apply(const Affine& m, Point p);
// Rotation by `degrees` (counter-clockwise in the image as displayed, like
// OpenCV's getRotationMatrix2D) about `center`, scale 1.
Affine RotationMatrix(Point center, double degrees);
// Warps src into an out_w x out_h image: dst(x, y) = src(M^-1 (x, y)); pixels
// mapping outside the source are black.
Image WarpAffine(const Image& src, const Affine& m, int out_w, int out_h, Interp interp = Interp::kBilinear);

// Least-squares similarity transform (rotation, uniform scale, translation)
// taking `from` points onto `to` points (Umeyama). At least two pairs.
Affine EstimateSimilarity(const std::vector<Point>& from, const std::vector<Point>& to);

// DeepFace's resize for model input: scale so the image fits in w x h with
// its aspect kept (factor = min(h/H, w/W), new size truncated), then pad with
// black to exactly w x h, the odd pixel going to the bottom/right.
// Returns the padded image; `scale` (the applied horizontal scale, new width /
// old width), `pad_x`, `pad_y` (if given) describe the mapping out = in * scale + pad.
Image ResizePad(const Image& src, int w, int h, float* scale = nullptr, int* pad_x = nullptr, int* pad_y = nullptr);

// Writes an image of exactly spec.width x spec.height (or any size when the
// spec's size is 0) into dst (H x W x C floats, NHWC without the batch
// dimension) in the model's colour order: value = (pixel - mean[c]) * scale[c].
// Throws kInvalidArgument when the image size does not match the spec.
void ToTensor(const Image& img, const models::InputSpec& spec, float* dst);
std::vector<float> ToTensor(const Image& img, const models::InputSpec& spec);

}  // namespace facelib
