// SCRFD-500M with keypoints (InsightFace), 640x640.
#include <algorithm>

#include "facelib/det_common.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

constexpr int kStrides[3] = {8, 16, 32};
constexpr int kAnchorsPerCell = 2;

class ScrfdDetector final : public Detector {
 public:
  ScrfdDetector(const std::string& models_dir, const DetectorOptions& opts) {
    if (!opts.variant.empty() && opts.variant != "500m")
      throw Error(ErrorCode::kInvalidArgument, "scrfd: unknown variant '" + opts.variant + "' (use \"\")");
    spec_ = ZooInfo(kModel).input;
    if (spec_.width <= 0 || spec_.height <= 0)
      throw Error(ErrorCode::kInternal, std::string("scrfd: zoo entry ") + kModel + " has no fixed input size");
    model_ = LoadZooModel(models_dir, kModel, opts.num_threads);
    threshold_ = OrDefault(opts.score_threshold, 0.5f);
    finish_.nms_iou = OrDefault(opts.nms_iou, 0.4f);
    // Anchor centres: top-left corner of each cell (InsightFace), each
    // repeated for the cell's two anchors.
    for (int l = 0; l < 3; ++l) {
      const int s = kStrides[l], rows = spec_.height / s, cols = spec_.width / s;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
          for (int a = 0; a < kAnchorsPerCell; ++a)
            centres_[l].push_back(Point{static_cast<float>(c * s), static_cast<float>(r * s)});
    }
  }

  std::string name() const override { return "scrfd"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, "scrfd");
    det::InputMap map;
    const Image in = det::Letterbox(image, spec_.width, spec_.height, det::PadAt::kBottomRight, &map);
    const std::vector<float> t = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, in.height, in.width, 3}, t.data()}});

    std::vector<det::Candidate> cands;
    for (int l = 0; l < 3; ++l) {
      const float stride = static_cast<float>(kStrides[l]);
      const std::vector<Point>& ctr = centres_[l];
      const int64_t n = static_cast<int64_t>(ctr.size());
      const std::string s = std::to_string(kStrides[l]);
      const float* score = det::Output(*model_, outs, "score_" + s, n, 1, kModel).data.data();
      const float* box = det::Output(*model_, outs, "bbox_" + s, n, 4, kModel).data.data();
      const float* kps = det::Output(*model_, outs, "kps_" + s, n, 10, kModel).data.data();
      for (int64_t i = 0; i < n; ++i) {
        if (!(score[i] >= threshold_)) continue;
        const Point p = ctr[i];
        const float* d = box + 4 * i;
        det::Candidate c;
        c.x1 = p.x - d[0] * stride;
        c.y1 = p.y - d[1] * stride;
        c.x2 = p.x + d[2] * stride;
        c.y2 = p.y + d[3] * stride;
        c.score = score[i];
        // WIDER FACE landmark order: the eye on the image's left (the
        // subject's right) first -- the standard order.
        c.num_points = 5;
        for (int k = 0; k < 5; ++k)
          c.points[k] = Point{p.x + kps[10 * i + 2 * k] * stride, p.y + kps[10 * i + 2 * k + 1] * stride};
        cands.push_back(c);
      }
    }
    return det::Finish(std::move(cands), finish_, map, image.width, image.height);
  }

 private:
  static constexpr const char* kModel = "scrfd_500m";
  models::InputSpec spec_;
  std::shared_ptr<const rt::Model> model_;
  float threshold_ = 0.5f;
  det::FinishOptions finish_;
  std::vector<Point> centres_[3];
};

}  // namespace

std::unique_ptr<Detector> MakeScrfdDetector(const std::string& models_dir, const DetectorOptions& opts) {
  return std::make_unique<ScrfdDetector>(models_dir, opts);
}

}  // namespace facelib
