// MediaPipe BlazeFace short range (128x128) and full range (192x192).
#include <algorithm>

#include "facelib/det2_util.h"
#include "facelib/imgproc.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

struct MediaPipeConfig {
  const char* model;
  const char* regressors;
  const char* classificators;
  int size;
  std::vector<int> strides;
  bool interpolated_anchor;
  float default_threshold;
};

const MediaPipeConfig& ConfigFor(const std::string& variant) {
  static const MediaPipeConfig kShort{"mediapipe_blazeface_short", "regressors", "classificators", 128,
                                      {8, 16, 16, 16}, true, 0.7f};
  static const MediaPipeConfig kFull{"mediapipe_blazeface_full", "reshaped_regressor_face_4",
                                     "reshaped_classifier_face_4", 192, {4}, false, 0.5f};
  if (variant.empty() || variant == "short") return kShort;
  if (variant == "full") return kFull;
  throw Error(ErrorCode::kInvalidArgument, "mediapipe detector: unknown variant '" + variant + "' (short or full)");
}

class MediaPipeDetector : public Detector {
 public:
  MediaPipeDetector(const std::string& models_dir, const DetectorOptions& opts) : cfg_(ConfigFor(opts.variant)) {
    model_ = LoadZooModel(models_dir, cfg_.model, opts.num_threads);
    spec_ = ZooInfo(cfg_.model).input;
    anchors_ = det2::SsdAnchorCentres(cfg_.size, cfg_.size, cfg_.strides, cfg_.interpolated_anchor);
    threshold_ = OrDefault(opts.score_threshold, cfg_.default_threshold);
    nms_iou_ = OrDefault(opts.nms_iou, 0.3f);
  }

  std::string name() const override { return "mediapipe"; }

  std::vector<Detection> Detect(const Image& image) const override {
    det::CheckDetectorInput(image, name());
    det::InputMap map;
    const Image in = det::Letterbox(image, cfg_.size, cfg_.size, det::PadAt::kCentre, &map);
    const std::vector<float> x = ToTensor(in, spec_);
    const auto outs = model_->Run({{{1, cfg_.size, cfg_.size, 3}, x.data()}});
    const size_t n = anchors_.size();
    const rt::Tensor& reg = det2::Output(*model_, outs, cfg_.regressors, n * 16, "mediapipe detector");
    const rt::Tensor& cls = det2::Output(*model_, outs, cfg_.classificators, n, "mediapipe detector");
    const auto merged =
        det2::WeightedNms(det2::DecodeBlaze(reg.data.data(), cls.data.data(), anchors_, threshold_, 100.f), nms_iou_);
    std::vector<Detection> faces;
    for (const det2::BlazeCandidate& c : merged) {
      Detection d;
      d.box = det2::ClipBox(det2::MapBox(map, c.x0, c.y0, c.x1, c.y1), image.width, image.height);
      if (d.box.area() <= 0) continue;
      d.confidence = c.score;
      for (const Point& p : c.keypoints) d.landmarks.push_back(map.ToImage(p.x, p.y));
      // Keypoint 0 is the subject's right eye (left in an upright frontal photo).
      d.right_eye = d.landmarks[0];
      d.left_eye = d.landmarks[1];
      d.nose = d.landmarks[2];
      faces.push_back(std::move(d));
    }
    return faces;
  }

 private:
  const MediaPipeConfig& cfg_;
  std::shared_ptr<const rt::Model> model_;
  models::InputSpec spec_;
  std::vector<Point> anchors_;
  float threshold_ = 0, nms_iou_ = 0;
};

}  // namespace

std::unique_ptr<Detector> MakeMediaPipeDetector(const std::string& models_dir, const DetectorOptions& options) {
  return std::make_unique<MediaPipeDetector>(models_dir, options);
}

}  // namespace facelib
