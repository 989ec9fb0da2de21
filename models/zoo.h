// The model zoo: what facelib knows about each converted model besides its
// weights. Pre-processing (input size, colour order, normalisation) and
// post-processing (which decoder, label order) are data here, executed by
// shared routines; nothing downstream knows which format a model came from.
// The conversions themselves are listed in models/zoo.tsv (tools/setup-models.sh);
// a test keeps the two lists in step.
#pragma once

#include <string>
#include <vector>

namespace facelib::models {

enum class Task { kDetect, kLandmarks, kEmbed, kAge, kGender, kEmotion, kRace, kAntispoof, kLiveness };
const char* TaskName(Task t);

enum class ColorOrder { kRGB, kBGR, kGray };

// How a face or image crop becomes the network input: value = (pixel - mean) * scale,
// per channel, pixels in 0..255 in the model's colour order.
struct InputSpec {
  int width = 0, height = 0;  // 0 = any size (fully convolutional)
  int channels = 3;
  ColorOrder color = ColorOrder::kRGB;
  float mean[3] = {0, 0, 0};
  float scale[3] = {1, 1, 1};
  int size_multiple = 1;       // dynamic-size models need H and W to be multiples of this
  bool transpose_hw = false;   // MTCNN's Caffe weights expect the image transposed (W x H)
};

// Output decoders implemented by facelib's post-processing.
enum class Decoder {
  kNone,            // raw outputs (embeddings, logits, probabilities)
  kYunet,           // anchor-free cls/obj/bbox/kps per stride 8/16/32
  kRetinaFace,      // priors {16,32},{64,128},{256,512}, steps 8/16/32, variances 0.1/0.2
  kScrfd,           // distance decode, 2 anchors per cell, strides 8/16/32
  kUltraFace,       // boxes already decoded to corners in 0..1, scores softmaxed
  kBlazeFace,       // SSD anchors; regressors + logits
  kMtcnn,           // P/R/O cascade
  kFaceApiSsd,      // SSD MobileNetV1, 5118 anchors
  kTinyYolo,        // face-api TinyFaceDetector, 13x13x5 grid
  kYolo5Face,       // [1, N, 16]: box, objectness, 5 landmarks, class score
  kHaarCascade,     // boosted Haar cascade (no network): facelib/haar_cascade.h scans the gray image
};

struct ModelInfo {
  std::string name;   // file build/models/<name>.flm
  Task task;
  InputSpec input;
  Decoder decoder = Decoder::kNone;
  std::vector<std::string> labels;  // class order of the main output, when it is a classifier
  std::string description;          // origin and output meaning, one line
};

// Every model the zoo can set up.
const std::vector<ModelInfo>& Zoo();
// nullptr when unknown.
const ModelInfo* FindModel(const std::string& name);

}  // namespace facelib::models
