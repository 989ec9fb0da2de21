#include "facelib/detectors.h"

#include <filesystem>
#include <functional>
#include <map>

#include "facelib/dlib_hog.h"
#include "facelib/haar_cascade.h"
#include "facelib/model_detectors.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {
namespace {

// Path of a data-only zoo model (cascades), kNotFound with the setup command when missing.
std::string CheckedZooPath(const std::string& dir, const std::string& name) {
  const std::string path = ZooModelPath(dir, name);
  if (!std::filesystem::exists(path))
    throw Error(ErrorCode::kNotFound, "model file " + path + " not found; create it with `tools/setup-models.sh --only " +
                                          name + "` (or set FACELIB_MODELS_DIR)");
  return path;
}

using Factory = std::function<std::unique_ptr<Detector>(const std::string&, const DetectorOptions&)>;

const std::vector<std::pair<std::string, Factory>>& Factories() {
  static const std::vector<std::pair<std::string, Factory>> kList = {
      {"opencv",
       [](const std::string& dir, const DetectorOptions& o) -> std::unique_ptr<Detector> {
         return std::make_unique<HaarFaceDetector>(CheckedZooPath(dir, "opencv_haar_face"),
                                                   CheckedZooPath(dir, "opencv_haar_eye"), o);
       }},
      {"dlib", CreateDlibHogDetector},
      {"mtcnn", MakeMtcnnDetector},
      {"retinaface", MakeRetinaFaceDetector},
      {"mediapipe", MakeMediaPipeDetector},
      {"yunet", MakeYunetDetector},
      {"ssd", MakeSsdDetector},
      {"scrfd", MakeScrfdDetector},
      {"ultraface", MakeUltraFaceDetector},
      {"tinyface", MakeTinyFaceDetector},
      {"blazeface", MakeBlazeFaceDetector},
      {"yolo5face", MakeYolo5FaceDetector},
  };
  return kList;
}

class HaarEyes : public EyeDetector {
 public:
  explicit HaarEyes(const std::string& models_dir) : eyes_(CheckedZooPath(models_dir, "opencv_haar_eye")) {}
  void FindEyes(const Image& crop, std::optional<Point>* left, std::optional<Point>* right) const override {
    const EyePair p = eyes_.Find(crop);
    *left = p.left_eye;
    *right = p.right_eye;
  }

 private:
  HaarEyeFinder eyes_;
};

}  // namespace

const std::vector<std::string>& DetectorBackends() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> v;
    for (const auto& [name, f] : Factories()) v.push_back(name);
    return v;
  }();
  return kNames;
}

std::unique_ptr<Detector> CreateDetector(const std::string& backend, const std::string& models_dir,
                                         const DetectorOptions& options) {
  for (const auto& [name, make] : Factories())
    if (name == backend) return make(models_dir, options);
  std::string names;
  for (const auto& n : DetectorBackends()) names += (names.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::kInvalidArgument, "unknown detector_backend '" + backend + "'; available: " + names + ", skip");
}

std::shared_ptr<const EyeDetector> CreateEyeDetector(const std::string& models_dir) {
  return std::make_shared<HaarEyes>(models_dir);
}

}  // namespace facelib
