// RetinaFace MobileNet-0.25: the libfacedetection.train ONNX export (fixed
// 640x640) or biubug6's PyTorch weights (any size).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>

#include "facelib/det_common.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

// One SSD prior in network-input pixels.
struct Prior {
  float cx, cy, size;
};
using Priors = std::vector<Prior>;

// Priors in the networks' output order: level (steps 8/16/32), row, column,
// then the level's two sizes. Feature maps are ceil(H/step) x ceil(W/step).
std::shared_ptr<const Priors> MakePriors(int height, int width) {
  static constexpr int kSteps[3] = {8, 16, 32};
  static constexpr float kSizes[3][2] = {{16, 32}, {64, 128}, {256, 512}};
  auto priors = std::make_shared<Priors>();
  for (int l = 0; l < 3; ++l) {
    const int step = kSteps[l];
    const int rows = (height + step - 1) / step, cols = (width + step - 1) / step;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        for (float s : kSizes[l]) priors->push_back(Prior{(c + 0.5f) * step, (r + 0.5f) * step, s});
  }
  return priors;
}

class RetinaFaceDetector final : public Detector {
 public:
  RetinaFaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
    if (opts.variant.empty() || opts.variant == "onnx") {
      model_name_ = "retinaface_mnet025";
      landmarks_output_ = "iou";  // the export's name for its 10-value landmark head
    } else if (opts.variant == "torch") {
      model_name_ = "retinaface_mnet025_torch";
      landmarks_output_ = "landms";
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  "retinaface: unknown variant '" + opts.variant + "' (use \"\" or \"torch\")");
    }
    spec_ = ZooInfo(model_name_).input;
    model_ = LoadZooModel(models_dir, model_name_, opts.num_threads);
    threshold_ = OrDefault(opts.score_threshold, 0.9f);
    finish_.nms_iou = OrDefault(opts.nms_iou, 0.4f);
    finish_.pre_nms_top_k = 5000;
    finish_.keep_top_k = 750;
    if (spec_.width > 0) fixed_priors_ = MakePriors(spec_.height, spec_.width);
  }

  std::string name() const override { return "retinaface"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, "retinaface");
    det::InputMap map;
    // Fixed-size export: letterboxed into its square. Dynamic network: the
    // longer side scaled (up or down) to the same 640, padded bottom/right to
    // multiples of 32 as its FPN needs.
    const Image in = spec_.width > 0
                         ? det::Letterbox(image, spec_.width, spec_.height, det::PadAt::kCentre, &map)
                         : det::FitAndPadToMultiple(image, kLongSide, 32, &map, /*upscale=*/true);
    const std::vector<float> t = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, in.height, in.width, 3}, t.data()}});
    const std::shared_ptr<const Priors> priors = PriorsFor(in.height, in.width);
    const int64_t n = static_cast<int64_t>(priors->size());
    const float* loc = det::Output(*model_, outs, "loc", n, 4, model_name_).data.data();
    const float* conf = det::Output(*model_, outs, "conf", n, 2, model_name_).data.data();
    const float* lmk = det::Output(*model_, outs, landmarks_output_, n, 10, model_name_).data.data();

    constexpr float kVar0 = 0.1f, kVar1 = 0.2f;
    std::vector<det::Candidate> cands;
    for (int64_t i = 0; i < n; ++i) {
      const float score = conf[2 * i + 1];
      if (!(score >= threshold_)) continue;
      const Prior& p = (*priors)[i];
      const float* l = loc + 4 * i;
      const float cx = p.cx + l[0] * kVar0 * p.size, cy = p.cy + l[1] * kVar0 * p.size;
      const float w = p.size * std::exp(l[2] * kVar1), h = p.size * std::exp(l[3] * kVar1);
      det::Candidate c;
      c.x1 = cx - w / 2;
      c.y1 = cy - h / 2;
      c.x2 = cx + w / 2;
      c.y2 = cy + h / 2;
      c.score = score;
      // Points as in the WIDER FACE landmark annotations: the eye on the
      // image's left (the subject's right) first, then the other eye, the
      // nose, and the mouth corners in the same left-to-right order.
      c.num_points = 5;
      for (int k = 0; k < 5; ++k)
        c.points[k] = Point{p.cx + lmk[10 * i + 2 * k] * kVar0 * p.size,
                            p.cy + lmk[10 * i + 2 * k + 1] * kVar0 * p.size};
      cands.push_back(c);
    }
    return det::Finish(std::move(cands), finish_, map, image.width, image.height);
  }

 private:
  static constexpr int kLongSide = 640;
  static constexpr size_t kMaxCachedSizes = 32;

  std::shared_ptr<const Priors> PriorsFor(int height, int width) const {
    if (fixed_priors_) return fixed_priors_;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find({height, width});
    if (it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCachedSizes) cache_.clear();
    auto priors = MakePriors(height, width);
    cache_.emplace(std::make_pair(height, width), priors);
    return priors;
  }

  std::string model_name_, landmarks_output_;
  models::InputSpec spec_;
  std::shared_ptr<const rt::Model> model_;
  float threshold_ = 0.9f;
  det::FinishOptions finish_;
  std::shared_ptr<const Priors> fixed_priors_;
  mutable std::mutex mu_;
  mutable std::map<std::pair<int, int>, std::shared_ptr<const Priors>> cache_;
};

}  // namespace

std::unique_ptr<Detector> MakeRetinaFaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
  return std::make_unique<RetinaFaceDetector>(models_dir, opts);
}

}  // namespace facelib
