// face-api TinyFaceDetector (416x416): a YOLOv2 head on a 13x13 grid.
#include <algorithm>
#include <cmath>

#include "facelib/det2_util.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"

namespace facelib {
namespace {

constexpr const char* kModel = "faceapi_tiny";
constexpr int kSize = 416;
constexpr int kCells = 13;
constexpr int kBoxes = 5;
// face-api's TinyFaceDetector anchors (width, height in grid cells).
constexpr float kAnchors[kBoxes][2] = {
    {1.603231f, 2.094468f}, {6.041143f, 7.080126f}, {2.882459f, 3.518061f}, {4.266906f, 5.178857f},
    {9.041765f, 10.66308f}};

class TinyFaceDetector : public Detector {
 public:
  TinyFaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
    model_ = LoadZooModel(models_dir, kModel, opts.num_threads);
    spec_ = ZooInfo(kModel).input;
    threshold_ = OrDefault(opts.score_threshold, 0.5f);
    nms_iou_ = OrDefault(opts.nms_iou, 0.4f);
  }

  std::string name() const override { return "tinyface"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, name());
    det::InputMap map;
    const Image in = det::Letterbox(image, kSize, kSize, det::PadAt::kBottomRight, &map);
    const std::vector<float> x = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, kSize, kSize, 3}, x.data()}});
    const rt::Tensor& grid = det2::Output(*model_, outs, "out", kCells * kCells * kBoxes * 5, "tinyface detector");
    std::vector<Box> boxes;  // input pixels
    std::vector<float> scores;
    const float cell = static_cast<float>(kSize) / kCells;
    for (int row = 0; row < kCells; ++row) {
      for (int col = 0; col < kCells; ++col) {
        for (int a = 0; a < kBoxes; ++a) {
          const float* t = &grid.data[((row * kCells + col) * kBoxes + a) * 5];
          const float score = det2::Sigmoid(t[4]);
          if (!(score > threshold_)) continue;
          const float cx = (col + det2::Sigmoid(t[0])) * cell, cy = (row + det2::Sigmoid(t[1])) * cell;
          const float w = std::exp(t[2]) * kAnchors[a][0] * cell, h = std::exp(t[3]) * kAnchors[a][1] * cell;
          const Box box{cx - w / 2, cy - h / 2, w, h};
          if (!det2::Finite(box)) continue;
          boxes.push_back(box);
          scores.push_back(score);
        }
      }
    }
    std::vector<Detection> faces;
    for (int i : Nms(boxes, scores, nms_iou_)) {
      const Box& b = boxes[i];
      Detection d;
      d.box = det2::ClipBox(det2::MapBox(map, b.x, b.y, b.x + b.w, b.y + b.h), image.width, image.height);
      if (d.box.area() <= 0) continue;
      d.confidence = scores[i];
      faces.push_back(std::move(d));
    }
    return faces;
  }

 private:
  std::shared_ptr<const rt::Model> model_;
  models::InputSpec spec_;
  float threshold_ = 0, nms_iou_ = 0;
};

}  // namespace

std::unique_ptr<Detector> MakeTinyFaceDetector(const std::string& models_dir, const DetectorOptions& options) {
  return std::make_unique<TinyFaceDetector>(models_dir, options);
}

}  // namespace facelib
