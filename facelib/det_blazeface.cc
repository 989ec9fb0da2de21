// Human's BlazeFace (MediaPipe back-camera model, 256x256).
#include <algorithm>

#include "facelib/det2_util.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"

namespace facelib {
namespace {

constexpr const char* kModel = "human_blazeface";
constexpr int kSize = 256;
constexpr size_t kFine = 512, kCoarse = 384;  // anchors at stride 16 (2 per cell) and 32 (6 per cell)

class BlazeFaceDetector : public Detector {
 public:
  BlazeFaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
    model_ = LoadZooModel(models_dir, kModel, opts.num_threads);
    spec_ = ZooInfo(kModel).input;
    // Human's facemeshutil.generateAnchors: strides input/16 and input/8 with 2 and 6 anchors per cell.
    anchors_ = det2::SsdAnchorCentres(kSize, kSize, {16, 32, 32, 32}, true);
    // Human's own default (0.2) is paired with maxDetected 1; without that cap it
    // reports many false faces, so the default is MediaPipe's 0.5 for this model.
    threshold_ = OrDefault(opts.score_threshold, 0.5f);
    nms_iou_ = OrDefault(opts.nms_iou, 0.1f);
  }

  std::string name() const override { return "blazeface"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, name());
    // Human stretches the frame to the input size; letterboxing (as MediaPipe
    // feeds this model) keeps faces undistorted in non-square images.
    det::InputMap map;
    const Image in = det::Letterbox(image, kSize, kSize, det::PadAt::kCentre, &map);
    const std::vector<float> x = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, kSize, kSize, 3}, x.data()}});
    const char* who = "blazeface detector";
    const rt::Tensor& reg_fine = det2::Output(*model_, outs, "Identity_2", kFine * 16, who);
    const rt::Tensor& reg_coarse = det2::Output(*model_, outs, "Identity_3", kCoarse * 16, who);
    const rt::Tensor& logit_fine = det2::Output(*model_, outs, "Identity", kFine, who);
    const rt::Tensor& logit_coarse = det2::Output(*model_, outs, "Identity_1", kCoarse, who);
    std::vector<float> reg(reg_fine.data), logits(logit_fine.data);
    reg.insert(reg.end(), reg_coarse.data.begin(), reg_coarse.data.end());
    logits.insert(logits.end(), logit_coarse.data.begin(), logit_coarse.data.end());

    std::vector<det2::BlazeCandidate> cands = det2::DecodeBlaze(reg.data(), logits.data(), anchors_, threshold_, 100.f);
    // Human keeps scores strictly above minConfidence.
    cands.erase(std::remove_if(cands.begin(), cands.end(), [&](const auto& c) { return !(c.score > threshold_); }),
                cands.end());
    std::vector<Box> boxes;
    std::vector<float> scores;
    for (const auto& c : cands) boxes.push_back(c.box()), scores.push_back(c.score);
    std::vector<Detection> faces;
    for (int i : Nms(boxes, scores, nms_iou_)) {
      const det2::BlazeCandidate& c = cands[i];
      Detection d;
      d.box = det2::ClipBox(det2::MapBox(map, c.x0, c.y0, c.x1, c.y1), image.width, image.height);
      if (d.box.area() <= 0) continue;
      d.confidence = c.score;
      for (const Point& p : c.keypoints) d.landmarks.push_back(map.ToImage(p.x, p.y));
      d.right_eye = d.landmarks[0];
      d.left_eye = d.landmarks[1];
      d.nose = d.landmarks[2];
      faces.push_back(std::move(d));
    }
    return faces;
  }

 private:
  std::shared_ptr<const rt::Model> model_;
  models::InputSpec spec_;
  std::vector<Point> anchors_;
  float threshold_ = 0, nms_iou_ = 0;
};

}  // namespace

std::unique_ptr<Detector> MakeBlazeFaceDetector(const std::string& models_dir, const DetectorOptions& options) {
  return std::make_unique<BlazeFaceDetector>(models_dir, options);
}

}  // namespace facelib
