// Face detectors built on converted ONNX / PyTorch zoo models.
//
// Each factory loads its zoo model from `models_dir` ("" = DefaultModelsDir())
// and returns a Detector whose Detect() takes an RGB or gray image of any size
// and returns faces in that image's pixels, best first, boxes clipped to the
// image, confidence in 0..1. Five landmarks, where the model has them, are
// named from the person's point of view (left_eye = subject's left eye) and
// also listed in Detection::landmarks in the order right eye, left eye, nose,
// right mouth corner, left mouth corner.
//
// Defaults (DetectorOptions NaN fields):
//   yunet       zoo "yunet" (dynamic size): images whose longer side exceeds
//               640 are scaled down to 640 (as DeepFace), then padded to
//               multiples of 32; score 0.9, NMS IoU 0.3, top-k 5000 (OpenCV
//               FaceDetectorYN). variant "n" uses "yunet_n".
//   retinaface  zoo "retinaface_mnet025": letterboxed into 640x640; score 0.9,
//               NMS IoU 0.4. variant "torch" uses "retinaface_mnet025_torch"
//               at the image's aspect: longer side scaled (up or down) to 640,
//               padded bottom/right to multiples of 32.
//   scrfd       zoo "scrfd_500m": resized keeping the aspect into 640x640,
//               padded bottom/right (InsightFace); score 0.5, NMS IoU 0.4.
//   ultraface   zoo "ultraface_rfb320" (variant "rfb640" / "slim320"):
//               stretched to the network size as the reference code does;
//               score 0.7, NMS IoU 0.3; no landmarks.
//   yolo5face   zoo "yolo5face_500m": letterboxed into 320x320; score
//               (objectness x class) 0.5, NMS IoU 0.45.
//
// Errors: a missing model file gives kNotFound (see LoadZooModel); an unknown
// variant kInvalidArgument; an invalid image kInvalidArgument.
//
// Thread safety: Detect() is const and may run concurrently on one object;
// models are immutable and per-size caches are guarded.
#pragma once

#include <memory>
#include <string>

#include "facelib/detector.h"

namespace facelib {

std::unique_ptr<Detector> MakeYunetDetector(const std::string& models_dir, const DetectorOptions& opts = {});
std::unique_ptr<Detector> MakeRetinaFaceDetector(const std::string& models_dir, const DetectorOptions& opts = {});
std::unique_ptr<Detector> MakeScrfdDetector(const std::string& models_dir, const DetectorOptions& opts = {});
std::unique_ptr<Detector> MakeUltraFaceDetector(const std::string& models_dir, const DetectorOptions& opts = {});
std::unique_ptr<Detector> MakeYolo5FaceDetector(const std::string& models_dir, const DetectorOptions& opts = {});

}  // namespace facelib
