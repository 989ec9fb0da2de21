// YuNet (libfacedetection / OpenCV FaceDetectorYN), DeepFace's "yunet".
#include <algorithm>
#include <cmath>

#include "facelib/det_common.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

class YunetDetector final : public Detector {
 public:
  YunetDetector(const std::string& models_dir, const DetectorOptions& opts) {
    if (opts.variant.empty() || opts.variant == "s") {
      model_name_ = "yunet";
    } else if (opts.variant == "n") {
      model_name_ = "yunet_n";
    } else {
      throw Error(ErrorCode::kInvalidArgument, "yunet: unknown variant '" + opts.variant + "' (use \"\" or \"n\")");
    }
    spec_ = ZooInfo(model_name_).input;
    model_ = LoadZooModel(models_dir, model_name_, opts.num_threads);
    threshold_ = OrDefault(opts.score_threshold, 0.9f);
    finish_.nms_iou = OrDefault(opts.nms_iou, 0.3f);
    finish_.pre_nms_top_k = 5000;
  }

  std::string name() const override { return "yunet"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, "yunet");
    det::InputMap map;
    // DeepFace scales images whose longer side exceeds 640 down to 640;
    // FaceDetectorYN pads the bottom/right to multiples of 32.
    const Image in = det::FitAndPadToMultiple(image, kMaxSide, 32, &map);
    const std::vector<float> t = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, in.height, in.width, 3}, t.data()}});

    std::vector<det::Candidate> cands;
    for (int stride : {8, 16, 32}) {
      const int rows = in.height / stride, cols = in.width / stride;
      const int64_t n = static_cast<int64_t>(rows) * cols;
      const std::string s = std::to_string(stride);
      const float* cls = det::Output(*model_, outs, "cls_" + s, n, 1, model_name_).data.data();
      const float* obj = det::Output(*model_, outs, "obj_" + s, n, 1, model_name_).data.data();
      const float* box = det::Output(*model_, outs, "bbox_" + s, n, 4, model_name_).data.data();
      const float* kps = det::Output(*model_, outs, "kps_" + s, n, 10, model_name_).data.data();
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          const int64_t i = static_cast<int64_t>(r) * cols + c;
          const float score = std::sqrt(std::clamp(cls[i], 0.f, 1.f) * std::clamp(obj[i], 0.f, 1.f));
          if (!(score >= threshold_)) continue;
          const float* b = box + 4 * i;
          const float cx = (c + b[0]) * stride, cy = (r + b[1]) * stride;
          const float w = std::exp(b[2]) * stride, h = std::exp(b[3]) * stride;
          det::Candidate cand;
          cand.x1 = cx - w / 2;
          cand.y1 = cy - h / 2;
          cand.x2 = cx + w / 2;
          cand.y2 = cy + h / 2;
          cand.score = score;
          // YuNet's points: right eye, left eye, nose tip, right and left
          // mouth corners, where "right" is the subject's right (the eye on
          // the image's left) -- already the standard order.
          cand.num_points = 5;
          for (int p = 0; p < 5; ++p)
            cand.points[p] = Point{(c + kps[10 * i + 2 * p]) * stride, (r + kps[10 * i + 2 * p + 1]) * stride};
          cands.push_back(cand);
        }
      }
    }
    return det::Finish(std::move(cands), finish_, map, image.width, image.height);
  }

 private:
  static constexpr int kMaxSide = 640;
  std::string model_name_;
  models::InputSpec spec_;
  std::shared_ptr<const rt::Model> model_;
  float threshold_ = 0.9f;
  det::FinishOptions finish_;
};

}  // namespace

std::unique_ptr<Detector> MakeYunetDetector(const std::string& models_dir, const DetectorOptions& opts) {
  return std::make_unique<YunetDetector>(models_dir, opts);
}

}  // namespace facelib
