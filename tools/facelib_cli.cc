// facelib: DeepFace's operations from the command line. Output is JSON on
// stdout with DeepFace's keys; an error is one line on stderr
// ("facelib: <category>: <message>") and a non-zero exit code:
//   2 invalid argument / usage, 3 not found (image, folder, model file),
//   4 face not detected, 5 spoof detected, 6 unsupported, 1 anything else.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "facelib/detectors.h"
#include "facelib/draw.h"
#include "facelib/engine.h"
#include "facelib/image.h"
#include "facelib/version.h"
#include "facelib/zoo_model.h"
#include "models/zoo.h"
#include "runtime/error.h"
#include "tools/json_writer.h"

namespace fs = std::filesystem;
using facelib::Error;
using facelib::ErrorCode;
using facelib::tools::Json;

namespace {

const char* kUsage = R"(usage: facelib COMMAND [ARGS] [OPTIONS]

commands:
  verify IMG1 IMG2            are the two photos the same person?
  verify --pairs PAIRS.tsv    many pairs (img1<TAB>img2 per line), one JSON line per pair
  find IMG --db DIR           search a folder of photos (embeddings cached in DIR)
  analyze IMG                 age, gender, emotion, race per face
  represent IMG...            embeddings per face
  extract IMG --out DIR       save aligned face crops
  detect IMG                  face boxes and landmarks
  draw IMG --out OUT.jpg      draw boxes, landmarks and labels on the photo
  models                      recognizers, detectors and converted models

IMG is a file path, a base64 string or a data:image/...;base64, URI.

options (DeepFace's parameters):
  --model NAME            recognizer (default MobileFaceNet)
  --detector NAME         detector backend (default mtcnn); skip = whole image
  --detector-variant V    e.g. mediapipe: full; retinaface: torch; yunet: n; ultraface: rfb640, slim320
  --detector-threshold X  minimum face confidence instead of the backend's default
  --metric NAME           cosine | euclidean | euclidean_l2 | angular (default cosine)
  --threshold X           custom verification threshold
  --align MODE            landmarks | eyes (= true) | none (= false); default landmarks
                          (5-point warp to the recognizer's template), analyze/draw: eyes
  --no-flip               embed without the mirrored-face augmentation
  --expand PCT            grow face boxes by PCT percent
  --enforce-detection B   true | false (default true)
  --anti-spoofing         run anti-spoofing (is_real, antispoof_score)
  --antispoof-model M     fasnet (MiniFASNet V2 + V1SE, default) | human (antispoof + liveness)
  --age-model M           faceapi (default) | human
  --gender-model M        faceapi (default) | human
  --emotion-model M       human (default, FER2013 mini-Xception) | faceapi
  --actions LIST          analyze: comma list of emotion,age,gender,race
  --max-faces N           keep the N largest faces
  --l2-normalize          unit-length embeddings (represent)
  --k N                   find: keep the N best rows per face
  --similarity-search     find: do not filter by threshold
  --no-refresh            find: use the stored embeddings as they are
  --no-progress           find: no progress bar
  --out PATH              extract: output folder; draw: output image
  --threads N             threads per model run (default: all cores)
  --models-dir DIR        converted models (default build/models)
)";

int ExitCode(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kFaceNotDetected: return 4;
    case ErrorCode::kSpoofDetected: return 5;
    case ErrorCode::kUnsupported: return 6;
    default: return 1;
  }
}

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> opts;
  bool Has(const std::string& k) const { return opts.count(k) > 0; }
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
};

const std::map<std::string, bool> kOptions = {  // name -> takes a value
    {"model", true},        {"detector", true},      {"metric", true},       {"threshold", true},
    {"align", true},        {"expand", true},        {"enforce-detection", true}, {"anti-spoofing", false},
    {"actions", true},      {"max-faces", true},     {"l2-normalize", false}, {"k", true},
    {"similarity-search", false}, {"no-refresh", false}, {"no-progress", false}, {"out", true},
    {"threads", true},      {"models-dir", true},    {"db", true},           {"pairs", true},    {"no-flip", false},
    {"antispoof-model", true}, {"detector-variant", true}, {"detector-threshold", true}, {"age-model", true}, {"gender-model", true}, {"emotion-model", true},
    {"help", false}};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0 && s.size() > 2) {
      std::string key = s.substr(2), val;
      if (auto eq = key.find('='); eq != std::string::npos) val = key.substr(eq + 1), key = key.substr(0, eq);
      auto it = kOptions.find(key);
      if (it == kOptions.end()) throw Error(ErrorCode::kInvalidArgument, "unknown option --" + key);
      if (it->second && val.empty()) {
        if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, "option --" + key + " needs a value");
        val = argv[++i];
      }
      a.opts[key] = val;
    } else if (a.command.empty()) {
      a.command = s;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

int ParseInt(const std::string& s, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end || errno || v < -1000000 || v > 1000000)
    throw Error(ErrorCode::kInvalidArgument, what + " must be an integer, got '" + s + "'");
  return static_cast<int>(v);
}

float ParseFloat(const std::string& s, const std::string& what) {
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (s.empty() || *end || !std::isfinite(v)) throw Error(ErrorCode::kInvalidArgument, what + " must be a number, got '" + s + "'");
  return v;
}

bool ParseBool(const std::string& s, const std::string& what) {
  if (s == "true" || s == "1" || s == "yes" || s == "True") return true;
  if (s == "false" || s == "0" || s == "no" || s == "False") return false;
  throw Error(ErrorCode::kInvalidArgument, what + " must be true or false, got '" + s + "'");
}

facelib::FaceOptions FaceOpts(const Args& a, facelib::FaceOptions f = {}) {
  f.detector_backend = a.Get("detector", f.detector_backend);
  f.detector.variant = a.Get("detector-variant");
  if (a.Has("detector-threshold")) f.detector.score_threshold = ParseFloat(a.Get("detector-threshold"), "--detector-threshold");
  if (a.Has("align")) f.align = facelib::ParseAlignMode(a.Get("align"));
  if (a.Has("expand")) f.expand_percentage = ParseInt(a.Get("expand"), "--expand");
  if (f.expand_percentage < 0) throw Error(ErrorCode::kInvalidArgument, "--expand must be >= 0");
  if (a.Has("enforce-detection")) f.enforce_detection = ParseBool(a.Get("enforce-detection"), "--enforce-detection");
  if (a.Has("max-faces")) f.max_faces = ParseInt(a.Get("max-faces"), "--max-faces");
  f.anti_spoofing = a.Has("anti-spoofing") || a.Has("antispoof-model");
  f.antispoof_model = a.Get("antispoof-model", f.antispoof_model);
  return f;
}

facelib::RepresentOptions RepOpts(const Args& a) {
  facelib::RepresentOptions r;
  r.face = FaceOpts(a);
  r.model_name = a.Get("model", r.model_name);
  r.l2_normalize = a.Has("l2-normalize");
  r.flip_augment = !a.Has("no-flip");
  return r;
}

facelib::Image LoadArg(const std::string& s) {
  try {
    return facelib::DecodeImageString(s);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound)
      throw Error(ErrorCode::kNotFound, "Confirm that " + (s.size() > 200 ? s.substr(0, 200) + "..." : s) + " exists");
    throw;
  }
}

void WriteArea(Json& j, const facelib::FacialArea& a, bool null_box = false) {
  j.BeginObject();
  auto pt = [&](const char* k, const std::optional<std::pair<int, int>>& p, bool always) {
    if (!p && !always) return;
    j.Key(k);
    if (p) j.BeginArray().Int(p->first).Int(p->second).EndArray();
    else j.Null();
  };
  if (null_box) {
    for (const char* k : {"x", "y", "w", "h", "left_eye", "right_eye"}) j.Key(k).Null();
  } else {
    j.Key("x").Int(a.x).Key("y").Int(a.y).Key("w").Int(a.w).Key("h").Int(a.h);
    pt("left_eye", a.left_eye, true);
    pt("right_eye", a.right_eye, true);
    pt("nose", a.nose, false);
    pt("mouth_left", a.mouth_left, false);
    pt("mouth_right", a.mouth_right, false);
  }
  j.EndObject();
}

void WriteVerify(Json& j, const facelib::VerifyResult& r) {
  j.BeginObject();
  j.Key("verified").Bool(r.verified);
  j.Key("distance").Number(r.distance);
  j.Key("threshold").Number(r.threshold);
  j.Key("confidence").Number(r.confidence);
  j.Key("model").String(r.model);
  j.Key("detector_backend").String(r.detector_backend);
  j.Key("similarity_metric").String(r.similarity_metric);
  j.Key("facial_areas").BeginObject();
  j.Key("img1");
  WriteArea(j, r.img1, r.img1_is_embedding);
  j.Key("img2");
  WriteArea(j, r.img2, r.img2_is_embedding);
  j.EndObject();
  j.Key("time").Number(r.time);
  j.EndObject();
}

void WriteScores(Json& j, const std::vector<std::pair<std::string, float>>& v) {
  j.BeginObject();
  for (const auto& [k, p] : v) j.Key(k).Number(p);
  j.EndObject();
}

std::string ResolvePairPath(const std::string& p, const fs::path& base) {
  std::error_code ec;
  if (fs::exists(p, ec) || p.rfind("data:", 0) == 0) return p;
  const fs::path alt = base / p;
  return fs::exists(alt, ec) ? alt.string() : p;
}

int CmdVerify(const facelib::Engine& engine, const Args& a) {
  facelib::VerifyOptions vo;
  vo.represent = RepOpts(a);
  vo.distance_metric = a.Get("metric", vo.distance_metric);
  if (a.Has("threshold")) vo.threshold = ParseFloat(a.Get("threshold"), "--threshold");
  if (a.Has("pairs")) {
    const std::string path = a.Get("pairs");
    std::ifstream in(path);
    if (!in) throw Error(ErrorCode::kNotFound, "cannot open pairs file " + path);
    const fs::path base = fs::path(path).parent_path();
    std::string line;
    int failures = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string p1, p2;
      std::getline(ls, p1, '\t');
      std::getline(ls, p2, '\t');
      Json j;
      try {
        if (p2.empty()) throw Error(ErrorCode::kInvalidArgument, "pair line needs two tab-separated images");
        const auto i1 = LoadArg(ResolvePairPath(p1, base)), i2 = LoadArg(ResolvePairPath(p2, base));
        const auto r = engine.Verify(i1, i2, vo);
        std::string body;
        {
          Json jr;
          WriteVerify(jr, r);
          body = jr.str();
        }
        // img1/img2 first, then the verify keys.
        std::cout << "{\"img1\":" << Json().String(p1).str() << ",\"img2\":" << Json().String(p2).str() << ","
                  << body.substr(1) << "\n";
      } catch (const Error& e) {
        ++failures;
        j.BeginObject().Key("img1").String(p1).Key("img2").String(p2).Key("error").String(e.what());
        j.Key("category").String(facelib::ErrorCodeName(e.code())).EndObject();
        std::cout << j.str() << "\n";
      }
      std::cout.flush();
    }
    return failures ? 1 : 0;
  }
  if (a.positional.size() != 2) throw Error(ErrorCode::kInvalidArgument, "verify needs two images (or --pairs FILE)");
  const auto i1 = LoadArg(a.positional[0]), i2 = LoadArg(a.positional[1]);
  Json j;
  WriteVerify(j, engine.Verify(i1, i2, vo));
  std::cout << j.str() << "\n";
  return 0;
}

facelib::AnalyzeOptions AnalyzeOpts(const Args& a) {
  facelib::AnalyzeOptions ao;
  ao.face = FaceOpts(a, ao.face);
  ao.age_model = a.Get("age-model", ao.age_model);
  ao.gender_model = a.Get("gender-model", ao.gender_model);
  ao.emotion_model = a.Get("emotion-model", ao.emotion_model);
  if (a.Has("actions")) {
    ao.actions.clear();
    std::stringstream ss(a.Get("actions"));
    std::string s;
    while (std::getline(ss, s, ','))
      if (!s.empty()) ao.actions.push_back(s);
  }
  return ao;
}

void WriteAnalyze(Json& j, const facelib::AnalyzeResult& r, bool spoof) {
  j.BeginObject();
  if (!r.emotion.empty()) {
    j.Key("emotion");
    WriteScores(j, r.emotion);
    j.Key("dominant_emotion").String(r.dominant_emotion);
  }
  if (r.age) j.Key("age").Int(static_cast<int>(*r.age));
  if (!r.gender.empty()) {
    j.Key("gender");
    WriteScores(j, r.gender);
    j.Key("dominant_gender").String(r.dominant_gender);
  }
  if (!r.race.empty()) {
    j.Key("race");
    WriteScores(j, r.race);
    j.Key("dominant_race").String(r.dominant_race);
  }
  j.Key("region");
  WriteArea(j, r.region);
  j.Key("face_confidence").Number(r.face_confidence);
  if (spoof && r.is_real) j.Key("is_real").Bool(*r.is_real).Key("antispoof_score").Number(r.antispoof_score);
  j.EndObject();
}

int CmdAnalyze(const facelib::Engine& engine, const Args& a) {
  if (a.positional.size() != 1) throw Error(ErrorCode::kInvalidArgument, "analyze needs one image");
  const auto ao = AnalyzeOpts(a);
  const auto res = engine.Analyze(LoadArg(a.positional[0]), ao);
  Json j;
  j.BeginArray();
  for (const auto& r : res) WriteAnalyze(j, r, ao.face.anti_spoofing);
  j.EndArray();
  std::cout << j.str() << "\n";
  return 0;
}

int CmdRepresent(const facelib::Engine& engine, const Args& a) {
  if (a.positional.empty()) throw Error(ErrorCode::kInvalidArgument, "represent needs at least one image");
  std::vector<facelib::Image> imgs;
  for (const auto& p : a.positional) imgs.push_back(LoadArg(p));
  const auto res = engine.Represent(imgs, RepOpts(a));
  Json j;
  if (res.size() > 1) j.BeginArray();
  for (const auto& faces : res) {
    j.BeginArray();
    for (const auto& r : faces) {
      j.BeginObject().Key("embedding").BeginArray();
      for (float v : r.embedding) j.Number(v, 8);
      j.EndArray().Key("facial_area");
      WriteArea(j, r.facial_area);
      j.Key("face_confidence").Number(r.face_confidence).EndObject();
    }
    j.EndArray();
  }
  if (res.size() > 1) j.EndArray();
  std::cout << j.str() << "\n";
  return 0;
}

int CmdExtract(const facelib::Engine& engine, const Args& a, bool save) {
  if (a.positional.size() != 1) throw Error(ErrorCode::kInvalidArgument, std::string(save ? "extract" : "detect") + " needs one image");
  const auto opts = FaceOpts(a);
  const auto faces = engine.ExtractFaces(LoadArg(a.positional[0]), opts);
  std::string dir;
  if (save) {
    dir = a.Get("out");
    if (dir.empty()) throw Error(ErrorCode::kInvalidArgument, "extract needs --out DIR");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(ErrorCode::kIoError, "cannot create " + dir + ": " + ec.message());
  }
  Json j;
  j.BeginArray();
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    j.BeginObject();
    if (save) {
      const std::string path = (fs::path(dir) / ("face_" + std::to_string(i) + ".png")).string();
      facelib::SaveImage(f.extracted.face, path);
      j.Key("face").String(path);
    }
    j.Key("facial_area");
    WriteArea(j, f.extracted.area);
    j.Key("confidence").Number(std::round(f.extracted.confidence * 100) / 100);
    if (!save && !f.extracted.detection.landmarks.empty()) {
      j.Key("landmarks").BeginArray();
      for (const auto& p : f.extracted.detection.landmarks) j.BeginArray().Number(p.x, 6).Number(p.y, 6).EndArray();
      j.EndArray();
    }
    if (f.is_real) j.Key("is_real").Bool(*f.is_real).Key("antispoof_score").Number(f.antispoof_score);
    j.EndObject();
  }
  j.EndArray();
  std::cout << j.str() << "\n";
  return 0;
}

int CmdDraw(const facelib::Engine& engine, const Args& a) {
  if (a.positional.size() != 1) throw Error(ErrorCode::kInvalidArgument, "draw needs one image");
  const std::string out = a.Get("out");
  if (out.empty()) throw Error(ErrorCode::kInvalidArgument, "draw needs --out OUT.jpg");
  facelib::Image img = LoadArg(a.positional[0]);
  if (img.channels != 3) img = facelib::ToRgb(img);
  auto ao = AnalyzeOpts(a);
  if (!a.Has("actions")) ao.actions = {"age", "gender", "emotion"};
  const auto res = engine.Analyze(img, ao);
  std::vector<facelib::Detection> dets;
  std::vector<std::string> labels;
  for (size_t i = 0; i < res.size(); ++i) {
    dets.push_back(res[i].detection);
    std::string label;
    const auto& r = res[i];
    if (!r.dominant_gender.empty()) label += r.dominant_gender;
    if (r.age) label += (label.empty() ? "" : " ") + std::to_string(static_cast<int>(*r.age));
    if (!r.dominant_emotion.empty()) label += (label.empty() ? "" : " ") + r.dominant_emotion;
    if (!r.dominant_race.empty()) label += (label.empty() ? "" : " ") + r.dominant_race;
    labels.push_back(label);
  }
  facelib::DrawFaces(img, dets, labels, facelib::DrawStyle{});
  facelib::SaveImage(img, out);
  Json j;
  j.BeginObject().Key("output").String(out).Key("faces").BeginArray();
  for (size_t i = 0; i < res.size(); ++i) WriteAnalyze(j, res[i], ao.face.anti_spoofing);
  j.EndArray().EndObject();
  std::cout << j.str() << "\n";
  return 0;
}

int CmdFind(const facelib::Engine& engine, const Args& a) {
  if (a.positional.size() != 1 || !a.Has("db")) throw Error(ErrorCode::kInvalidArgument, "find needs IMG --db DIR");
  facelib::FindOptions fo;
  fo.represent = RepOpts(a);
  fo.distance_metric = a.Get("metric", fo.distance_metric);
  if (a.Has("threshold")) fo.threshold = ParseFloat(a.Get("threshold"), "--threshold");
  if (a.Has("k")) fo.k = ParseInt(a.Get("k"), "--k");
  fo.similarity_search = a.Has("similarity-search");
  fo.refresh_database = !a.Has("no-refresh");
  fo.progress = !a.Has("no-progress");
  facelib::FindStats st;
  const auto res = engine.Find(LoadArg(a.positional[0]), a.Get("db"), fo, &st);
  std::fprintf(stderr, "find: %zu rows (added %zu, removed %zu, changed %zu, failed %zu%s), refresh %.2f s, search %.3f s\n",
               st.rows, st.added, st.removed, st.changed, st.failed, st.rebuilt ? ", store rebuilt" : "",
               st.refresh_seconds, st.search_seconds);
  Json j;
  j.BeginArray();
  for (const auto& rows : res) {
    j.BeginArray();
    for (const auto& r : rows) {
      j.BeginObject();
      j.Key("identity").String(r.identity).Key("hash").String(r.hash);
      j.Key("target_x").Int(r.target_x).Key("target_y").Int(r.target_y).Key("target_w").Int(r.target_w).Key("target_h").Int(r.target_h);
      j.Key("source_x").Int(r.source_x).Key("source_y").Int(r.source_y).Key("source_w").Int(r.source_w).Key("source_h").Int(r.source_h);
      j.Key("threshold").Number(r.threshold).Key("distance").Number(r.distance).Key("confidence").Number(r.confidence);
      j.EndObject();
    }
    j.EndArray();
  }
  j.EndArray();
  std::cout << j.str() << "\n";
  return 0;
}

int CmdModels(const facelib::Engine& engine) {
  Json j;
  j.BeginObject().Key("version").String(facelib::Version());
  j.Key("recognizers").BeginArray();
  for (const auto& r : facelib::Recognizers()) {
    std::error_code ec;
    j.BeginObject().Key("name").String(r.name).Key("model").String(r.zoo_model).Key("dim").Int(r.dim);
    j.Key("input_size").Int(r.input_size).Key("present").Bool(fs::exists(facelib::ZooModelPath(engine.options().models_dir, r.zoo_model), ec));
    j.Key("description").String(r.description).EndObject();
  }
  j.EndArray().Key("detectors").BeginArray();
  for (const auto& d : facelib::DetectorBackends()) j.String(d);
  j.EndArray().Key("models_dir").String(engine.options().models_dir.empty() ? facelib::DefaultModelsDir() : engine.options().models_dir);
  j.Key("zoo").BeginArray();
  for (const auto& m : facelib::models::Zoo()) {
    std::error_code ec;
    j.BeginObject().Key("name").String(m.name).Key("task").String(facelib::models::TaskName(m.task));
    j.Key("present").Bool(fs::exists(facelib::ZooModelPath(engine.options().models_dir, m.name), ec)).EndObject();
  }
  j.EndArray().EndObject();
  std::cout << j.str() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = Parse(argc, argv);
    if (a.Has("help") || a.command.empty() || a.command == "help") {
      std::fputs(kUsage, a.command.empty() && !a.Has("help") ? stderr : stdout);
      return a.command.empty() && !a.Has("help") ? 2 : 0;
    }
    facelib::EngineOptions eo;
    eo.models_dir = a.Get("models-dir");
    if (a.Has("threads")) eo.num_threads = ParseInt(a.Get("threads"), "--threads");
    if (eo.num_threads < 0) throw Error(ErrorCode::kInvalidArgument, "--threads must be >= 0");
    facelib::Engine engine(eo);
    if (a.command == "verify") return CmdVerify(engine, a);
    if (a.command == "analyze") return CmdAnalyze(engine, a);
    if (a.command == "represent") return CmdRepresent(engine, a);
    if (a.command == "extract") return CmdExtract(engine, a, true);
    if (a.command == "detect") return CmdExtract(engine, a, false);
    if (a.command == "draw") return CmdDraw(engine, a);
    if (a.command == "find") return CmdFind(engine, a);
    if (a.command == "models") return CmdModels(engine);
    throw Error(ErrorCode::kInvalidArgument, "unknown command '" + a.command + "' (see facelib --help)");
  } catch (const Error& e) {
    std::fprintf(stderr, "facelib: %s: %s\n", facelib::ErrorCodeName(e.code()), e.what());
    return ExitCode(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "facelib: error: %s\n", e.what());
    return 1;
  }
}
