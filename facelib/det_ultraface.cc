// UltraFace (Ultra-Light-Fast-Generic-Face-Detector-1MB): RFB-320, RFB-640,
// slim-320. The networks decode their own priors: boxes come out as corners
// in 0..1 of the input, scores softmaxed.
#include <algorithm>

#include "facelib/det_common.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

class UltraFaceDetector final : public Detector {
 public:
  UltraFaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
    if (opts.variant.empty() || opts.variant == "rfb320") {
      model_name_ = "ultraface_rfb320";
    } else if (opts.variant == "rfb640") {
      model_name_ = "ultraface_rfb640";
    } else if (opts.variant == "slim320") {
      model_name_ = "ultraface_slim320";
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  "ultraface: unknown variant '" + opts.variant + "' (use \"rfb320\", \"rfb640\" or \"slim320\")");
    }
    spec_ = ZooInfo(model_name_).input;
    if (spec_.width <= 0 || spec_.height <= 0)
      throw Error(ErrorCode::kInternal, "ultraface: zoo entry " + model_name_ + " has no fixed input size");
    model_ = LoadZooModel(models_dir, model_name_, opts.num_threads);
    threshold_ = OrDefault(opts.score_threshold, 0.7f);
    finish_.nms_iou = OrDefault(opts.nms_iou, 0.3f);
    finish_.pre_nms_top_k = 200;  // the reference's candidate_size
  }

  std::string name() const override { return "ultraface"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, "ultraface");
    det::InputMap map;
    // The reference code resizes to the network size without keeping the aspect.
    const Image in = det::Stretch(image, spec_.width, spec_.height, &map);
    const std::vector<float> t = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, in.height, in.width, 3}, t.data()}});
    const rt::Tensor& st = det::Output(*model_, outs, "scores", -1, 2, model_name_);
    const int64_t n = det::Rows(st);
    const float* scores = st.data.data();
    const float* boxes = det::Output(*model_, outs, "boxes", n, 4, model_name_).data.data();
    const float W = static_cast<float>(in.width), H = static_cast<float>(in.height);
    std::vector<det::Candidate> cands;
    for (int64_t i = 0; i < n; ++i) {
      const float score = scores[2 * i + 1];
      if (!(score >= threshold_)) continue;
      const float* b = boxes + 4 * i;
      det::Candidate c;
      c.x1 = b[0] * W;
      c.y1 = b[1] * H;
      c.x2 = b[2] * W;
      c.y2 = b[3] * H;
      c.score = score;
      cands.push_back(c);
    }
    return det::Finish(std::move(cands), finish_, map, image.width, image.height);
  }

 private:
  std::string model_name_;
  models::InputSpec spec_;
  std::shared_ptr<const rt::Model> model_;
  float threshold_ = 0.7f;
  det::FinishOptions finish_;
};

}  // namespace

std::unique_ptr<Detector> MakeUltraFaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
  return std::make_unique<UltraFaceDetector>(models_dir, opts);
}

}  // namespace facelib
