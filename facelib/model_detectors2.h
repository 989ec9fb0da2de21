// Face detectors on converted tfjs / TFLite / face-api / MTCNN zoo models.
//
//   mediapipe  MediaPipe BlazeFace short range (128x128; variant "full": full
//              range 192x192). Letterbox, SSD anchors, weighted NMS (IoU 0.3).
//              Default min confidence 0.7 (DeepFace) for short, 0.5 (MediaPipe)
//              for full. 6 keypoints: right eye, left eye, nose tip, mouth
//              centre, right and left ear tragion (the subject's sides).
//   blazeface  Human's BlazeFace (MediaPipe back-camera model, 256x256),
//              letterboxed, hard NMS with Human's IoU 0.1. Default min
//              confidence 0.5 (Human's 0.2 goes with reporting one face only).
//              Same 6 keypoints.
//   ssd        face-api SSD MobileNetV1 (512x512, padded bottom/right to a
//              square). Min confidence 0.5, NMS IoU 0.5, at most 100 faces.
//              No landmarks.
//   tinyface   face-api TinyFaceDetector (416x416, padded bottom/right), YOLOv2
//              grid with 5 anchors. Score threshold 0.5, NMS IoU 0.4. No landmarks.
//   mtcnn      MTCNN P/R/O cascade with ipazc/mtcnn 1.0's weights and pipeline
//              (DeepFace "mtcnn"): min face 20 px, pyramid factor 0.709,
//              thresholds 0.6/0.7/0.8, NMS 0.5/0.7/0.7 and 0.7 over the smaller
//              box; score_threshold and nms_iou replace the last stage's. 5
//              landmarks from O-Net.
//
// DetectorOptions::score_threshold and nms_iou override the defaults above;
// num_threads is passed to the networks. Results are in source image pixels,
// boxes clipped to the image, best first, confidence in 0..1; eyes are named
// from the person's point of view (left_eye = the subject's left eye).
//
// Each factory loads its zoo models from `models_dir` ("" = DefaultModelsDir())
// and throws facelib::Error (kNotFound naming the missing file). The returned
// detectors are immutable: Detect may be called from many threads at once.
#pragma once

#include <memory>
#include <string>

#include "facelib/detector.h"

namespace facelib {

std::unique_ptr<Detector> MakeMediaPipeDetector(const std::string& models_dir, const DetectorOptions& options);
std::unique_ptr<Detector> MakeBlazeFaceDetector(const std::string& models_dir, const DetectorOptions& options);
std::unique_ptr<Detector> MakeSsdDetector(const std::string& models_dir, const DetectorOptions& options);
std::unique_ptr<Detector> MakeTinyFaceDetector(const std::string& models_dir, const DetectorOptions& options);
std::unique_ptr<Detector> MakeMtcnnDetector(const std::string& models_dir, const DetectorOptions& options);

}  // namespace facelib
