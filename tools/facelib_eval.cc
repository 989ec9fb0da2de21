// facelib-eval: accuracy of the engine on the labelled development sets.
//
//   facelib-eval lfw   --data DIR [--model M] [--detector D] [--align A]   verification (10-fold CV, tuned threshold)
//   facelib-eval wider --data DIR [--detector D]                           detection recall / precision
//   facelib-eval utk   --data DIR [--detector D]                           age MAE, gender and race accuracy
//   facelib-eval fer   --data DIR                                          emotion accuracy (48x48 crops, no detector)
//   facelib-eval lfw-gender --data DIR [--detector D]                      gender accuracy on LFW
// Each prints a human-readable summary on stderr and one JSON line on stdout.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "facelib/detectors.h"
#include "facelib/distance.h"
#include "facelib/engine.h"
#include "facelib/image.h"
#include "runtime/error.h"
#include "tools/json_writer.h"

namespace fs = std::filesystem;
using facelib::Error;
using facelib::ErrorCode;

namespace {

std::map<std::string, std::string> ParseOpts(int argc, char** argv, int from) {
  std::map<std::string, std::string> o;
  for (int i = from; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, "bad option " + k);
    o[k.substr(2)] = argv[++i];
  }
  return o;
}

std::vector<std::vector<std::string>> ReadTsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot open " + path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, '\t')) cols.push_back(c);
    rows.push_back(cols);
  }
  return rows;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best threshold on (distance, same) pairs: midpoint between consecutive
// sorted distances maximising accuracy.
std::pair<double, double> BestThreshold(const std::vector<std::pair<double, int>>& v) {
  std::vector<std::pair<double, int>> s = v;
  std::sort(s.begin(), s.end());
  int pos_total = 0;
  for (auto& p : s) pos_total += p.second;
  // threshold below s[i]: predicted same = first i items.
  int best_correct = -1;
  double best_thr = 0;
  int pos_below = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    const int neg_below = static_cast<int>(i) - pos_below;
    const int correct = pos_below + (static_cast<int>(s.size() - i) - (pos_total - pos_below));
    (void)neg_below;
    if (correct > best_correct) {
      best_correct = correct;
      if (i == 0) best_thr = s.empty() ? 0 : s[0].first - 1e-6;
      else if (i == s.size()) best_thr = s.back().first + 1e-6;
      else best_thr = (s[i - 1].first + s[i].first) / 2;
    }
    if (i < s.size()) pos_below += s[i].second;
  }
  return {best_thr, s.empty() ? 0 : 100.0 * best_correct / s.size()};
}

double AccuracyAt(const std::vector<std::pair<double, int>>& v, double thr) {
  int c = 0;
  for (auto& p : v) c += ((p.first <= thr) == (p.second == 1));
  return v.empty() ? 0 : 100.0 * c / v.size();
}

// Logistic regression P(same) = sigmoid(w d + b) by Newton's method.
// Distances are standardised first so the fit is scale-free.
std::pair<double, double> FitLogistic(const std::vector<std::pair<double, int>>& raw) {
  double mean = 0, sq = 0;
  for (auto& p : raw) mean += p.first, sq += p.first * p.first;
  mean /= std::max<size_t>(1, raw.size());
  const double sd = std::sqrt(std::max(1e-24, sq / std::max<size_t>(1, raw.size()) - mean * mean));
  std::vector<std::pair<double, int>> v;
  for (auto& p : raw) v.push_back({(p.first - mean) / sd, p.second});
  double w = -1, b = 0;
  for (int it = 0; it < 50; ++it) {
    double gw = 0, gb = 0, hww = 1e-6, hwb = 0, hbb = 1e-6;
    for (auto& [d, y] : v) {
      const double p = 1 / (1 + std::exp(-(w * d + b)));
      gw += (p - y) * d, gb += (p - y);
      const double r = p * (1 - p);
      hww += r * d * d, hwb += r * d, hbb += r;
    }
    // L2 regularisation keeps separable data finite.
    gw += 1e-3 * w, hww += 1e-3;
    const double det = hww * hbb - hwb * hwb;
    if (std::fabs(det) < 1e-18) break;
    w -= (hbb * gw - hwb * gb) / det;
    b -= (-hwb * gw + hww * gb) / det;
  }
  return {w / sd, b - w * mean / sd};
}

int Lfw(const std::map<std::string, std::string>& o) {
  const std::string data = o.at("data");
  facelib::Engine engine;
  facelib::RepresentOptions ro;
  ro.model_name = o.count("model") ? o.at("model") : ro.model_name;
  ro.face.detector_backend = o.count("detector") ? o.at("detector") : ro.face.detector_backend;
  if (o.count("align")) ro.face.align = facelib::ParseAlignMode(o.at("align"));
  if (o.count("flip")) ro.flip_augment = o.at("flip") == "true";
  ro.face.enforce_detection = false;
  const auto rows = ReadTsv(data + "/pairs.tsv");
  std::map<std::string, std::vector<std::vector<float>>> cache;
  size_t no_face = 0;
  const double t0 = Now();
  for (const auto& r : rows)
    for (int k = 0; k < 2; ++k) {
      const std::string& p = r[k];
      if (cache.count(p)) continue;
      auto img = facelib::LoadImage(data + "/" + p);
      auto reps = engine.Represent(img, ro);
      std::vector<std::vector<float>> e;
      for (auto& rep : reps) {
        if (rep.face_confidence == 0 && reps.size() == 1) ++no_face;
        e.push_back(std::move(rep.embedding));
      }
      cache[p] = std::move(e);
    }
  const double secs = Now() - t0;
  facelib::tools::Json j;
  j.BeginObject().Key("task").String("lfw").Key("model").String(ro.model_name).Key("detector").String(ro.face.detector_backend);
  j.Key("align").String(facelib::AlignModeName(ro.face.align)).Key("pairs").Int(rows.size()).Key("images").Int(cache.size());
  j.Key("no_face").Int(no_face).Key("ms_per_image").Number(1000 * secs / cache.size(), 4).Key("metrics").BeginObject();
  std::fprintf(stderr, "LFW %s / %s / align %s: %zu pairs, %zu images (%zu without a detected face), %.1f ms/image\n",
               ro.model_name.c_str(), ro.face.detector_backend.c_str(), facelib::AlignModeName(ro.face.align),
               rows.size(), cache.size(), no_face, 1000 * secs / cache.size());
  for (const char* mname : {"cosine", "euclidean", "euclidean_l2", "angular"}) {
    const auto metric = facelib::ParseMetric(mname);
    std::vector<std::pair<double, int>> v;
    for (const auto& r : rows) {
      float best = std::numeric_limits<float>::infinity();
      for (const auto& a : cache[r[0]])
        for (const auto& b : cache[r[1]]) best = std::min(best, facelib::Distance(metric, a, b));
      v.push_back({best, std::stoi(r[2])});
    }
    // 10-fold cross validation over the pairs (index mod 10).
    double cv_sum = 0, cv_sq = 0;
    for (int f = 0; f < 10; ++f) {
      std::vector<std::pair<double, int>> train, test;
      for (size_t i = 0; i < v.size(); ++i) (static_cast<int>(i % 10) == f ? test : train).push_back(v[i]);
      const double acc = AccuracyAt(test, BestThreshold(train).first);
      cv_sum += acc, cv_sq += acc * acc;
    }
    const double cv = cv_sum / 10, sd = std::sqrt(std::max(0.0, cv_sq / 10 - cv * cv));
    const auto [thr, acc_all] = BestThreshold(v);
    const auto [lw, lb] = FitLogistic(v);
    double current = std::nan("");
    try {
      current = AccuracyAt(v, facelib::DefaultThreshold(ro.model_name, mname));
    } catch (const Error&) {
    }
    std::fprintf(stderr, "  %-13s 10-fold %.2f%% +- %.2f | best threshold %.4f -> %.2f%% | at recorded default %.2f%% | logit w %.3f b %.3f\n",
                 mname, cv, sd, thr, acc_all, current, lw, lb);
    j.Key(mname).BeginObject().Key("cv_accuracy").Number(cv, 5).Key("cv_std").Number(sd, 4);
    j.Key("threshold").Number(thr, 6).Key("accuracy_at_threshold").Number(acc_all, 5);
    j.Key("accuracy_at_default").Number(current, 5).Key("logit_w").Number(lw, 6).Key("logit_b").Number(lb, 6).EndObject();
  }
  j.EndObject().EndObject();
  std::cout << j.str() << std::endl;
  return 0;
}

std::vector<facelib::Box> ParseBoxes(const std::string& s) {
  std::vector<facelib::Box> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ';')) {
    if (item.empty()) continue;
    facelib::Box b;
    if (std::sscanf(item.c_str(), "%f,%f,%f,%f", &b.x, &b.y, &b.w, &b.h) == 4) v.push_back(b);
  }
  return v;
}

int Wider(const std::map<std::string, std::string>& o) {
  const std::string data = o.at("data");
  const std::string backend = o.count("detector") ? o.at("detector") : "yunet";
  facelib::Engine engine;
  const auto& det = engine.detector(backend);
  std::map<std::string, std::vector<facelib::Box>> ignore;
  if (fs::exists(data + "/ignore.tsv"))
    for (const auto& r : ReadTsv(data + "/ignore.tsv"))
      if (r.size() >= 2) ignore[r[0]] = ParseBoxes(r[1]);
  size_t gt_total = 0, tp = 0, fp = 0;
  double secs = 0;
  const auto rows = ReadTsv(data + "/manifest.tsv");
  for (const auto& r : rows) {
    const auto gt = r.size() > 1 ? ParseBoxes(r[1]) : std::vector<facelib::Box>{};
    const auto img = facelib::LoadImage(data + "/" + r[0]);
    const double t0 = Now();
    const auto dets = det.Detect(img);
    secs += Now() - t0;
    gt_total += gt.size();
    std::vector<bool> used(gt.size(), false);
    for (const auto& d : dets) {
      int best = -1;
      float best_iou = 0.5f;
      for (size_t g = 0; g < gt.size(); ++g)
        if (!used[g]) {
          const float iou = facelib::IoU(d.box, gt[g]);
          if (iou >= best_iou) best_iou = iou, best = static_cast<int>(g);
        }
      if (best >= 0) {
        used[best] = true;
        ++tp;
        continue;
      }
      bool ign = false;
      const float cx = d.box.x + d.box.w / 2, cy = d.box.y + d.box.h / 2;
      for (const auto& ib : ignore[r[0]])
        if (facelib::IoU(d.box, ib) >= 0.5f || (cx >= ib.x && cy >= ib.y && cx <= ib.x + ib.w && cy <= ib.y + ib.h)) ign = true;
      // Detections matching an already-matched face (duplicates) count as false positives.
      if (!ign) ++fp;
    }
  }
  const double recall = gt_total ? 100.0 * tp / gt_total : 0, precision = (tp + fp) ? 100.0 * tp / (tp + fp) : 0;
  std::fprintf(stderr, "WIDER val200 %s: recall %.1f%% (%zu/%zu), precision %.1f%% (%zu TP, %zu FP), %.1f ms/image\n",
               backend.c_str(), recall, tp, gt_total, precision, tp, fp, 1000 * secs / rows.size());
  facelib::tools::Json j;
  j.BeginObject().Key("task").String("wider").Key("detector").String(backend).Key("images").Int(rows.size());
  j.Key("gt").Int(gt_total).Key("tp").Int(tp).Key("fp").Int(fp).Key("recall").Number(recall, 4);
  j.Key("precision").Number(precision, 4).Key("ms_per_image").Number(1000 * secs / rows.size(), 4).EndObject();
  std::cout << j.str() << std::endl;
  return 0;
}

int Utk(const std::map<std::string, std::string>& o) {
  const std::string data = o.at("data");
  facelib::Engine engine;
  facelib::AnalyzeOptions ao;
  ao.face.detector_backend = o.count("detector") ? o.at("detector") : "yunet";
  ao.face.enforce_detection = false;
  ao.face.max_faces = 1;
  if (o.count("age-model")) ao.age_model = o.at("age-model");
  if (o.count("gender-model")) ao.gender_model = o.at("gender-model");
  double abs_err = 0;
  size_t n = 0, gender_ok = 0, race_ok = 0, race_n = 0, no_face = 0;
  std::map<std::string, std::map<std::string, int>> race_conf;
  for (const auto& r : ReadTsv(data + "/manifest.tsv")) {
    const auto img = facelib::LoadImage(data + "/" + r[0]);
    const auto res = engine.Analyze(img, ao);
    if (res.empty()) continue;
    const auto& a = res[0];
    if (a.face_confidence == 0) ++no_face;
    ++n;
    abs_err += std::fabs(*a.age - std::stof(r[1]));
    gender_ok += a.dominant_gender == r[2];
    if (r.size() > 3 && !r[3].empty()) {
      ++race_n;
      std::string want = r[3] == "other" ? "others" : r[3];
      race_ok += a.dominant_race == want;
      race_conf[want][a.dominant_race]++;
    }
  }
  std::fprintf(stderr, "UTKFace part1, age %s, gender %s (%zu images, %zu without a detected face): age MAE %.2f years, gender accuracy %.2f%%, race accuracy %.2f%% (%zu)\n",
               ao.age_model.c_str(), ao.gender_model.c_str(), n, no_face, abs_err / n, 100.0 * gender_ok / n, race_n ? 100.0 * race_ok / race_n : 0, race_n);
  facelib::tools::Json j;
  j.BeginObject().Key("task").String("utk").Key("detector").String(ao.face.detector_backend).Key("images").Int(n);
  j.Key("no_face").Int(no_face).Key("age_mae").Number(abs_err / n, 4).Key("gender_accuracy").Number(100.0 * gender_ok / n, 4);
  j.Key("race_accuracy").Number(race_n ? 100.0 * race_ok / race_n : 0, 4).EndObject();
  std::cout << j.str() << std::endl;
  return 0;
}

int Fer(const std::map<std::string, std::string>& o) {
  const std::string data = o.at("data");
  facelib::Engine engine;
  facelib::AnalyzeOptions ao;
  ao.face.detector_backend = o.count("detector") ? o.at("detector") : "skip";
  ao.face.enforce_detection = false;
  ao.actions = {"emotion"};
  if (o.count("emotion-model")) ao.emotion_model = o.at("emotion-model");
  size_t n = 0, ok = 0;
  std::map<std::string, std::pair<int, int>> per;
  for (const auto& r : ReadTsv(data + "/manifest.tsv")) {
    const auto img = facelib::LoadImage(data + "/" + r[0]);
    const auto res = engine.Analyze(img, ao);
    const std::string& want = r[4];
    ++n;
    const bool hit = !res.empty() && res[0].dominant_emotion == want;
    ok += hit;
    per[want].first += hit, per[want].second++;
  }
  std::fprintf(stderr, "FER2013 test, emotion model %s (%zu images): accuracy %.2f%%\n", ao.emotion_model.c_str(), n,
               100.0 * ok / n);
  for (auto& [k, v] : per) std::fprintf(stderr, "  %-9s %d/%d\n", k.c_str(), v.first, v.second);
  facelib::tools::Json j;
  j.BeginObject().Key("task").String("fer").Key("images").Int(n).Key("accuracy").Number(100.0 * ok / n, 4).EndObject();
  std::cout << j.str() << std::endl;
  return 0;
}

int LfwGender(const std::map<std::string, std::string>& o) {
  const std::string data = o.at("data");
  facelib::Engine engine;
  facelib::AnalyzeOptions ao;
  ao.face.detector_backend = o.count("detector") ? o.at("detector") : "yunet";
  ao.face.enforce_detection = false;
  ao.face.max_faces = 1;
  ao.actions = {"gender"};
  if (o.count("gender-model")) ao.gender_model = o.at("gender-model");
  size_t n = 0, ok = 0;
  for (const auto& r : ReadTsv(data + "/attributes_gender.tsv")) {
    const auto img = facelib::LoadImage(data + "/" + r[0]);
    const auto res = engine.Analyze(img, ao);
    ++n;
    ok += !res.empty() && res[0].dominant_gender == r[2];
  }
  std::fprintf(stderr, "LFW gender, model %s (%zu images): accuracy %.2f%%\n", ao.gender_model.c_str(), n, 100.0 * ok / n);
  facelib::tools::Json j;
  j.BeginObject().Key("task").String("lfw-gender").Key("images").Int(n).Key("accuracy").Number(100.0 * ok / n, 4).EndObject();
  std::cout << j.str() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw Error(ErrorCode::kInvalidArgument, "usage: facelib-eval lfw|wider|utk|fer|lfw-gender --data DIR [options]");
    const std::string cmd = argv[1];
    const auto o = ParseOpts(argc, argv, 2);
    if (!o.count("data")) throw Error(ErrorCode::kInvalidArgument, "--data DIR is required");
    if (cmd == "lfw") return Lfw(o);
    if (cmd == "wider") return Wider(o);
    if (cmd == "utk") return Utk(o);
    if (cmd == "fer") return Fer(o);
    if (cmd == "lfw-gender") return LfwGender(o);
    throw Error(ErrorCode::kInvalidArgument, "unknown task " + cmd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "facelib-eval: %s\n", e.what());
    return 1;
  }
}
