// The seven face-api networks (@vladmandic/face-api 1.7.15, the face-api.js
// models) as facelib graphs. face-api ships only weights manifests; the layer
// structure lives in its JavaScript, so each builder below spells it out.
//
// Weights are read by their manifest names in TensorFlow layouts (conv HWIO,
// depthwise [KH, KW, C, 1], fully connected [in, out]) and converted to
// facelib's (OHWI, groups = C for depthwise, Dense [K, N]). A missing tensor
// or a tensor of the wrong shape is an error naming it; so is a manifest
// tensor the architecture does not use (usually a manifest given with the
// wrong ARCH), except the TF graph constants the SSD manifest carries.
//
// Every graph takes what face-api's networks take after NetInput.toBatchTensor:
// input "image" [N, S, S, 3], RGB 0..255, already zero-padded to a square and
// bilinearly resized to S. The per-network normalisation is the first node of
// the graph, so callers feed pixels unchanged.
//
//   arch                   S    normalisation                   outputs
//   ssd_mobilenetv1        512  x/127.5 - 1                     boxes [N,5118,4] (ymin,xmin,ymax,xmax in 0..1,
//                                                               anchor-decoded), scores [N,5118] (sigmoid);
//                                                               NMS (IoU 0.5) is left to the caller
//   tiny_face_detector     416  (x - [117.001,114.697,97.404])/255  out [N,13,13,25]: 5 anchors x (x,y,w,h,score)
//                                                               logits of the TinyYolo grid
//   face_landmark_68       112  (x - [122.782,117.001,104.298])/255  landmarks [N,136]: x,y interleaved, 0..1 of
//   face_landmark_68_tiny  112  same                            the input square
//   face_recognition       150  same                            descriptor [N,128]
//   age_gender             112  same                            age [N] (years), gender [N,2] softmax [male, female]
//   face_expression        112  same                            probs [N,7] softmax (neutral, happy, sad, angry,
//                                                               fearful, disgusted, surprised)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/weights.h"
#include "runtime/graph.h"

namespace facelib::models {

enum class FaceApiArch {
  kSsdMobilenetV1,
  kTinyFaceDetector,
  kLandmark68,
  kLandmark68Tiny,
  kRecognition,
  kAgeGender,
  kExpression,
};

// Names as used on the facelib-convert command line ("ssd_mobilenetv1", ...).
const std::vector<std::string>& FaceApiArchNames();
// kInvalidArgument listing the known names when `name` is not one of them.
FaceApiArch ParseFaceApiArch(const std::string& name);
const char* FaceApiArchName(FaceApiArch arch);
// Native input side S (the input is S x S).
int FaceApiInputSize(FaceApiArch arch);

rt::Graph BuildFaceApiSsdMobilenetV1(const WeightMap& w);
rt::Graph BuildFaceApiTinyFaceDetector(const WeightMap& w);
rt::Graph BuildFaceApiLandmark68(const WeightMap& w);
rt::Graph BuildFaceApiLandmark68Tiny(const WeightMap& w);
rt::Graph BuildFaceApiRecognition(const WeightMap& w);
rt::Graph BuildFaceApiAgeGender(const WeightMap& w);
rt::Graph BuildFaceApiExpression(const WeightMap& w);

rt::Graph BuildFaceApi(FaceApiArch arch, const WeightMap& w);

// Constants a builder adds that do not come from the manifest are named
// under these prefixes (input normalisation; SSD anchor decoding).
inline constexpr const char* kFaceApiPreprocessPrefix = "preprocess/";
inline constexpr const char* kFaceApiDecodePrefix = "decode/";

}  // namespace facelib::models
