// Shared pieces of the network face detectors: fitting an image into a
// network input (letterbox or stretch) and mapping results back, reading
// model outputs by name with shape checks, and the common tail of every
// detector (score sort, NMS, mapping to image pixels, clipping, naming the
// five standard landmarks).
//
// Everything here is a pure function or an immutable value: safe to use from
// any number of threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "facelib/face.h"
#include "facelib/image.h"
#include "runtime/model.h"

namespace facelib::det {

// Relation between image pixels and network-input pixels, per axis:
// input = image * scale + pad.
struct InputMap {
  float sx = 1, sy = 1;
  float px = 0, py = 0;
  Point ToImage(float x, float y) const { return {(x - px) / sx, (y - py) / sy}; }
};

enum class PadAt { kCentre, kBottomRight };

// Resizes `img` keeping its aspect so it fits in w x h (scaling up or down;
// the new size is truncated, at least 1 pixel), then pads with black to
// exactly w x h: split evenly (odd pixel bottom/right) or all at the
// bottom/right. The map uses the realised per-axis scale (new size / old
// size).
Image Letterbox(const Image& img, int w, int h, PadAt pad, InputMap* map);

// Resizes `img` to exactly w x h, ignoring the aspect.
Image Stretch(const Image& img, int w, int h, InputMap* map);

// Scales `img` so its longer side is at most max_side (with `upscale`:
// exactly max_side), then pads black at the bottom/right up to multiples of
// `multiple`.
Image FitAndPadToMultiple(const Image& img, int max_side, int multiple, InputMap* map, bool upscale = false);

// The output `name` of a run, checked to hold rows x cols floats with the
// shape [1, rows, cols] or [rows, cols] (rows = -1: any). Throws
// kInvalidModel naming the model, output and shape otherwise.
const rt::Tensor& Output(const rt::Model& model, const std::vector<rt::Tensor>& outs, const std::string& name,
                         int64_t rows, int64_t cols, const std::string& model_name);
// Rows of a checked output (its second-last dimension).
int64_t Rows(const rt::Tensor& t);

// A candidate face in network-input coordinates, corners x1,y1,x2,y2.
// When it has five landmarks they are in the standard order: person's right
// eye, left eye, nose, right mouth corner, left mouth corner.
struct Candidate {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float score = 0;
  int num_points = 0;
  std::array<Point, 5> points{};
};

struct FinishOptions {
  float nms_iou = 0.4f;
  // Only the best pre_nms_top_k candidates enter NMS (0 = all).
  int pre_nms_top_k = 0;
  // At most this many faces are reported (0 = all).
  int keep_top_k = 0;
};

// Sorts by score, suppresses overlaps, maps boxes and points to image pixels
// through `map`, clips boxes to the image (dropping faces left empty) and
// fills the named landmarks. Confidence is the candidate score clamped to
// 0..1. Best first.
std::vector<Detection> Finish(std::vector<Candidate> cands, const FinishOptions& opts, const InputMap& map,
                              int image_width, int image_height);

// Throws kInvalidArgument unless `img` is a non-empty 1- or 3-channel image
// whose pixel buffer matches its size.
void CheckDetectorInput(const Image& img, const std::string& detector);

}  // namespace facelib::det
