// The detector backends by name (DeepFace's `detector_backend`) and the eye
// finder used when a detector gives no eyes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "facelib/detector.h"

namespace facelib {

// Every backend name CreateDetector accepts, "skip" excluded.
const std::vector<std::string>& DetectorBackends();

// Loads a backend's models from models_dir ("" = DefaultModelsDir()).
// Unknown name -> kInvalidArgument listing the valid names; missing model file
// -> kNotFound naming the setup command.
std::unique_ptr<Detector> CreateDetector(const std::string& backend, const std::string& models_dir,
                                         const DetectorOptions& options = {});

// Finds the two eyes in a face crop (Haar eye cascade, as DeepFace). Thread-safe.
class EyeDetector {
 public:
  virtual ~EyeDetector() = default;
  // Eyes in crop pixels, person's left/right; both unset when fewer than two eyes are found.
  virtual void FindEyes(const Image& crop, std::optional<Point>* left, std::optional<Point>* right) const = 0;
};
std::shared_ptr<const EyeDetector> CreateEyeDetector(const std::string& models_dir);

}  // namespace facelib
