// face-api SSD MobileNetV1 (512x512): the graph decodes its 5118 anchors itself.
#include <algorithm>

#include "facelib/det2_util.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"

namespace facelib {
namespace {

constexpr const char* kModel = "faceapi_ssd";
constexpr int kSize = 512;
constexpr size_t kAnchors = 5118;
constexpr int kMaxResults = 100;

class SsdDetector : public Detector {
 public:
  SsdDetector(const std::string& models_dir, const DetectorOptions& opts) {
    model_ = LoadZooModel(models_dir, kModel, opts.num_threads);
    spec_ = ZooInfo(kModel).input;
    threshold_ = OrDefault(opts.score_threshold, 0.5f);
    nms_iou_ = OrDefault(opts.nms_iou, 0.5f);
  }

  std::string name() const override { return "ssd"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, name());
    det::InputMap map;
    const Image in = det::Letterbox(image, kSize, kSize, det::PadAt::kBottomRight, &map);
    const std::vector<float> x = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, kSize, kSize, 3}, x.data()}});
    const rt::Tensor& boxes_t = det2::Output(*model_, outs, "boxes", kAnchors * 4, "ssd detector");
    const rt::Tensor& scores_t = det2::Output(*model_, outs, "scores", kAnchors, "ssd detector");
    std::vector<Box> boxes;  // input pixels
    std::vector<float> scores;
    for (size_t i = 0; i < kAnchors; ++i) {
      if (!(scores_t.data[i] > threshold_)) continue;
      const float* b = &boxes_t.data[i * 4];  // ymin, xmin, ymax, xmax in 0..1 of the padded square
      const float y0 = std::max(0.f, b[0]) * kSize, x0 = std::max(0.f, b[1]) * kSize;
      const float y1 = std::min(1.f, b[2]) * kSize, x1 = std::min(1.f, b[3]) * kSize;
      const Box box{x0, y0, x1 - x0, y1 - y0};
      if (!det2::Finite(box)) continue;
      boxes.push_back(box);
      scores.push_back(scores_t.data[i]);
    }
    std::vector<Detection> faces;
    for (int i : Nms(boxes, scores, nms_iou_, kMaxResults)) {
      const Box& b = boxes[i];
      Detection d;
      d.box = det2::ClipBox(det2::MapBox(map, b.x, b.y, b.x + b.w, b.y + b.h), image.width, image.height);
      if (d.box.area() <= 0) continue;
      d.confidence = std::clamp(scores[i], 0.f, 1.f);
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

std::unique_ptr<Detector> MakeSsdDetector(const std::string& models_dir, const DetectorOptions& options) {
  return std::make_unique<SsdDetector>(models_dir, options);
}

}  // namespace facelib
