// facelib's public API: DeepFace's operations (extract_faces, represent,
// verify, analyze, find) on the converted model zoo.
//
//   facelib::Engine engine;                       // models from DefaultModelsDir()
//   auto img = facelib::LoadImage("a.jpg");
//   auto faces = engine.ExtractFaces(img, {});    // detector "yunet", eye alignment
//   auto v = engine.Verify(img, facelib::LoadImage("b.jpg"), {});
//
// Thread safety: an Engine is safe to share between threads. Models are
// loaded lazily on first use (under a lock) and then shared read-only; every
// operation may be called concurrently from any number of threads.
//
// Errors are facelib::Error with DeepFace's categories: kFaceNotDetected
// (no face and enforce_detection), kNotFound (image or folder missing, model
// file missing: the message names the setup command), kInvalidArgument (bad
// parameter or input), kUnsupported (a DeepFace model whose weights cannot be
// converted yet: the message names the weight file), kSpoofDetected.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "facelib/align.h"
#include "facelib/detector.h"
#include "facelib/distance.h"
#include "facelib/image.h"
#include "runtime/model.h"

namespace facelib {

class EyeDetector;

struct EngineOptions {
  std::string models_dir;  // "" = DefaultModelsDir()
  int num_threads = 0;     // intra-op threads per model run; 0 = all cores
};

// Detection and alignment parameters shared by every operation.
struct FaceOptions {
  std::string detector_backend = "mtcnn";
  bool enforce_detection = true;
  // kLandmarks (default): similarity warp of the 5 detector points onto the
  // recognizer's canonical template. kEyes: DeepFace's eye-angle rotation.
  AlignMode align = AlignMode::kLandmarks;
  int expand_percentage = 0;
  int max_faces = 0;             // 0 = all faces
  bool anti_spoofing = false;    // kSpoofDetected when a face is not real (represent/verify/analyze/find)
  // "fasnet": MiniFASNet V2 + V1SE fused as DeepFace does; "human": Human's antispoof + liveness nets.
  std::string antispoof_model = "fasnet";
  DetectorOptions detector;      // thresholds etc.; defaults per backend
};

struct Face {
  ExtractedFace extracted;
  std::optional<bool> is_real;   // set when anti_spoofing was requested
  float antispoof_score = 0;
};

struct RepresentOptions {
  FaceOptions face;
  std::string model_name = "MobileFaceNet";
  std::string normalization = "base";  // only "base": each model gets its own native input normalisation
  bool l2_normalize = false;
  // Adds the embedding of the mirrored face to the original's (test-time
  // augmentation; the tuned thresholds assume it is on). DeepFace has no such step.
  bool flip_augment = true;
};

struct Representation {
  std::vector<float> embedding;
  FacialArea facial_area;
  float face_confidence = 0;
};

struct VerifyOptions {
  RepresentOptions represent;
  std::string distance_metric = "cosine";
  std::optional<float> threshold;  // default: the tuned threshold of (model, metric)
};

struct VerifyResult {
  bool verified = false;
  float distance = 0;
  float threshold = 0;
  float confidence = 0;  // 0..100
  std::string model, detector_backend, similarity_metric;
  FacialArea img1, img2;
  bool img1_is_embedding = false, img2_is_embedding = false;
  double time = 0;  // seconds
};

struct AnalyzeOptions {
  // Attribute networks were trained on box crops: eye-angle rotation by default.
  FaceOptions face = [] {
    FaceOptions f;
    f.align = AlignMode::kEyes;
    return f;
  }();
  std::vector<std::string> actions = {"emotion", "age", "gender", "race"};
  std::string age_model = "faceapi";     // faceapi (AgeGenderNet) | human (SSR-Net)
  std::string gender_model = "faceapi";  // faceapi (AgeGenderNet) | human (mini-Xception)
  std::string emotion_model = "human";   // human (mini-Xception, FER2013) | faceapi (FaceExpressionNet)
};

struct AnalyzeResult {
  std::vector<std::pair<std::string, float>> emotion;  // label -> percentage, DeepFace's label order
  std::string dominant_emotion;
  std::optional<float> age;
  std::vector<std::pair<std::string, float>> gender;   // "Woman", "Man"
  std::string dominant_gender;
  std::vector<std::pair<std::string, float>> race;     // white, black, asian, indian, others
  std::string dominant_race;
  FacialArea region;
  float face_confidence = 0;
  std::optional<bool> is_real;
  float antispoof_score = 0;
  Detection detection;  // the face in image pixels with all its landmarks (for drawing)
};

struct FindOptions {
  RepresentOptions represent;
  std::string distance_metric = "cosine";
  std::optional<float> threshold;
  bool similarity_search = false;
  int k = 0;                       // 0 = all rows
  bool refresh_database = true;
  bool progress = true;            // progress bar on stderr while embedding the folder
  size_t batch_size = 16;
};

struct FindRow {
  std::string identity, hash;
  int target_x = 0, target_y = 0, target_w = 0, target_h = 0;
  int source_x = 0, source_y = 0, source_w = 0, source_h = 0;
  float threshold = 0, distance = 0, confidence = 0;
};

struct FindStats {
  size_t added = 0, removed = 0, changed = 0, unchanged = 0, failed = 0;
  bool rebuilt = false;
  std::string rebuild_reason;
  double refresh_seconds = 0, search_seconds = 0;
  size_t rows = 0;
};

// A recognizer the engine can run.
struct RecognizerInfo {
  std::string name;           // e.g. "MobileFaceNet"
  std::string zoo_model;      // converted model file
  int dim = 0;
  int input_size = 0;         // square input
  float template_margin = 0;  // alignment "landmarks": border around the canonical 5-point template
  std::string description;
};
const std::vector<RecognizerInfo>& Recognizers();
// The tuned default threshold of (model, metric); kInvalidArgument if unknown.
float DefaultThreshold(const std::string& model_name, const std::string& metric);
// Verification confidence (0..100) for a distance, judged against the tuned threshold.
float VerifyConfidence(const std::string& model_name, const std::string& metric, float distance);

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const { return options_; }

  // DeepFace.extract_faces (faces are RGB crops; anti-spoofing adds is_real).
  std::vector<Face> ExtractFaces(const Image& image, const FaceOptions& opts) const;

  // DeepFace.represent for a batch of images: one detection pass per image and
  // one forward pass of the recognizer over all faces of the batch.
  std::vector<std::vector<Representation>> Represent(const std::vector<Image>& images,
                                                     const RepresentOptions& opts) const;
  std::vector<Representation> Represent(const Image& image, const RepresentOptions& opts) const;

  // DeepFace.verify: every face pair, the closest decides. An argument may be a
  // precomputed embedding instead of an image.
  struct Input {
    const Image* image = nullptr;
    const std::vector<float>* embedding = nullptr;
  };
  VerifyResult Verify(const Input& img1, const Input& img2, const VerifyOptions& opts) const;
  VerifyResult Verify(const Image& img1, const Image& img2, const VerifyOptions& opts) const;

  // DeepFace.analyze: one result per face.
  std::vector<AnalyzeResult> Analyze(const Image& image, const AnalyzeOptions& opts) const;

  // DeepFace.find: one list of rows per face in the query image.
  std::vector<std::vector<FindRow>> Find(const Image& image, const std::string& db_path, const FindOptions& opts,
                                         FindStats* stats = nullptr) const;

  // Embeds the faces of already-extracted crops (one forward pass).
  std::vector<std::vector<float>> Embed(const std::vector<const Face*>& faces, const Image* const* sources,
                                        const RepresentOptions& opts) const;

  // Loaded components (cached; thread-safe).
  const Detector& detector(const std::string& backend, const DetectorOptions& opts = {}) const;
  std::shared_ptr<const rt::Model> model(const std::string& zoo_name) const;

 private:
  void CheckSpoof(std::vector<Face>& faces, const Image& image, const std::string& which) const;
  EyeFinder eye_finder() const;

  EngineOptions options_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::unique_ptr<Detector>> detectors_;
  mutable std::map<std::string, std::shared_ptr<const rt::Model>> models_;
  mutable std::shared_ptr<const EyeDetector> eye_detector_;
};

}  // namespace facelib
