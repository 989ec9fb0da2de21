// YOLO5Face-500M (libfacedetection.train export, 320x320). The export decodes
// its grid itself: each of the 6300 rows is cx, cy, w, h (input pixels),
// objectness, 5 landmarks (x, y in input pixels) and the face class score,
// sigmoids applied.
#include <algorithm>

#include "facelib/det_common.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

class Yolo5FaceDetector final : public Detector {
 public:
  Yolo5FaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
    if (!opts.variant.empty() && opts.variant != "500m")
      throw Error(ErrorCode::kInvalidArgument, "yolo5face: unknown variant '" + opts.variant + "' (use \"\")");
    spec_ = ZooInfo(kModel).input;
    if (spec_.width <= 0 || spec_.height <= 0)
      throw Error(ErrorCode::kInternal, std::string("yolo5face: zoo entry ") + kModel + " has no fixed input size");
    model_ = LoadZooModel(models_dir, kModel, opts.num_threads);
    threshold_ = OrDefault(opts.score_threshold, 0.5f);
    finish_.nms_iou = OrDefault(opts.nms_iou, 0.45f);
  }

  std::string name() const override { return "yolo5face"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, "yolo5face");
    det::InputMap map;
    const Image in = det::Letterbox(image, spec_.width, spec_.height, det::PadAt::kCentre, &map);
    const std::vector<float> t = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, in.height, in.width, 3}, t.data()}});
    const rt::Tensor& o = det::Output(*model_, outs, "output", -1, 16, kModel);
    const int64_t n = det::Rows(o);
    std::vector<det::Candidate> cands;
    for (int64_t i = 0; i < n; ++i) {
      const float* r = o.data.data() + 16 * i;
      const float score = r[4] * r[15];
      if (!(score >= threshold_)) continue;
      det::Candidate c;
      c.x1 = r[0] - r[2] / 2;
      c.y1 = r[1] - r[3] / 2;
      c.x2 = r[0] + r[2] / 2;
      c.y2 = r[1] + r[3] / 2;
      c.score = score;
      // WIDER FACE landmark order: the eye on the image's left (the
      // subject's right) first -- the standard order.
      c.num_points = 5;
      for (int k = 0; k < 5; ++k) c.points[k] = Point{r[5 + 2 * k], r[6 + 2 * k]};
      cands.push_back(c);
    }
    return det::Finish(std::move(cands), finish_, map, image.width, image.height);
  }

 private:
  static constexpr const char* kModel = "yolo5face_500m";
  models::InputSpec spec_;
  std::shared_ptr<const rt::Model> model_;
  float threshold_ = 0.5f;
  det::FinishOptions finish_;
};

}  // namespace

std::unique_ptr<Detector> MakeYolo5FaceDetector(const std::string& models_dir, const DetectorOptions& opts) {
  return std::make_unique<Yolo5FaceDetector>(models_dir, opts);
}

}  // namespace facelib
