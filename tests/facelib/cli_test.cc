// Tests of build/bin/facelib: JSON keys, exit codes and messages, and that
// `draw` really draws. Need the converted zoo and ../shared/eval-dev.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "facelib/image.h"
#include "tests/data_dirs.h"

namespace fs = std::filesystem;

namespace {

using facelib::testdata::ModelsDir;
using facelib::testdata::Lfw;

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun Cli(const std::string& args) {
  const fs::path tmp = fs::temp_directory_path() / ("facelib_cli_err_" + std::to_string(::getpid()));
  const std::string cmd = std::string(FACELIB_BIN_DIR) + "/facelib " + args + " --models-dir " + ModelsDir() +
                          " --threads 1 2>" + tmp.string();
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(tmp);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  fs::remove(tmp);
  return r;
}

bool Ready() {
  if (!fs::exists(std::string(FACELIB_BIN_DIR) + "/facelib")) {
    std::printf("SKIP: facelib binary not built\n");
    return false;
  }
  for (const char* m : {"mtcnn_pnet", "expo_mobilefacenet", "faceapi_agegender", "human_emotion", "human_gear"})
    if (!fs::exists(ModelsDir() + "/" + m + ".flm")) {
      std::printf("SKIP: model %s not converted\n", m);
      return false;
    }
  if (!fs::exists(Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"))) {
    std::printf("SKIP: ../shared/eval-dev/lfw not present\n");
    return false;
  }
  return true;
}

// Position of each key in order; -1 if a key is missing or out of order.
bool KeysInOrder(const std::string& json, const std::vector<std::string>& keys) {
  size_t pos = 0;
  for (const auto& k : keys) {
    const size_t p = json.find("\"" + k + "\":", pos);
    if (p == std::string::npos) return false;
    pos = p + 1;
  }
  return true;
}

TEST(Cli, VerifyPrintsDeepFaceKeys) {
  if (!Ready()) return;
  const CliRun r = Cli("verify " + Lfw("Ann_Veneman/Ann_Veneman_0001.jpg") + " " + Lfw("Ann_Veneman/Ann_Veneman_0005.jpg"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"verified\":true,", 0), 0u) << r.out;
  EXPECT_TRUE(KeysInOrder(r.out, {"verified", "distance", "threshold", "confidence", "model", "detector_backend",
                                  "similarity_metric", "facial_areas", "img1", "x", "y", "w", "h", "left_eye",
                                  "right_eye", "img2", "time"}))
      << r.out;
}

TEST(Cli, VerifyPairsFileGivesOneLinePerPair) {
  if (!Ready()) return;
  const fs::path tsv = fs::temp_directory_path() / ("facelib_pairs_" + std::to_string(::getpid()) + ".tsv");
  std::ofstream(tsv) << "# img1\timg2\n"
                     << Lfw("Ann_Veneman/Ann_Veneman_0001.jpg") << "\t" << Lfw("Ann_Veneman/Ann_Veneman_0002.jpg") << "\n"
                     << Lfw("Ann_Veneman/Ann_Veneman_0001.jpg") << "\t" << Lfw("Bob_Graham/Bob_Graham_0001.jpg") << "\n"
                     << "missing.jpg\t" << Lfw("Bob_Graham/Bob_Graham_0001.jpg") << "\n";
  const CliRun r = Cli("verify --pairs " + tsv.string());
  fs::remove(tsv);
  EXPECT_EQ(r.code, 1);  // one pair failed
  std::istringstream ss(r.out);
  std::string l1, l2, l3;
  std::getline(ss, l1), std::getline(ss, l2), std::getline(ss, l3);
  EXPECT_NE(l1.find("\"verified\":true"), std::string::npos) << l1;
  EXPECT_NE(l2.find("\"verified\":false"), std::string::npos) << l2;
  EXPECT_NE(l3.find("\"category\":\"not found\""), std::string::npos) << l3;
}

TEST(Cli, AnalyzePrintsDeepFaceKeys) {
  if (!Ready()) return;
  const CliRun r = Cli("analyze " + Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(KeysInOrder(r.out, {"emotion", "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
                                  "dominant_emotion", "age", "gender", "Woman", "Man", "dominant_gender", "race",
                                  "white", "black", "asian", "indian", "others", "dominant_race", "region",
                                  "face_confidence"}))
      << r.out;
  EXPECT_NE(r.out.find("\"dominant_gender\":\"Woman\""), std::string::npos) << r.out;
}

TEST(Cli, ErrorsAreOneLineWithExitCodes) {
  if (!Ready()) return;
  CliRun r = Cli("verify /nonexistent/a.jpg " + Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err.rfind("facelib: not found: Confirm that /nonexistent/a.jpg exists", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  r = Cli("analyze 'data:image/png;base64,@@@@'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("base64"), std::string::npos) << r.err;
  // A flat image has no face.
  const fs::path grey = fs::temp_directory_path() / ("facelib_grey_" + std::to_string(::getpid()) + ".png");
  facelib::Image g(200, 160, 3);
  std::fill(g.pixels.begin(), g.pixels.end(), 90);
  facelib::SaveImage(g, grey.string());
  r = Cli("analyze " + grey.string());
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("face not detected: Face could not be detected"), std::string::npos) << r.err;
  r = Cli("analyze " + grey.string() + " --enforce-detection false --actions age");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"face_confidence\":0"), std::string::npos) << r.out;
  fs::remove(grey);
  r = Cli("represent " + Lfw("Ann_Veneman/Ann_Veneman_0001.jpg") + " --model ArcFace");
  EXPECT_EQ(r.code, 6);
  EXPECT_NE(r.err.find("arcface_weights.h5"), std::string::npos) << r.err;
  r = Cli("verify a.jpg");
  EXPECT_EQ(r.code, 2);
  r = Cli("frobnicate");
  EXPECT_EQ(r.code, 2);
  r = Cli("detect " + Lfw("Ann_Veneman/Ann_Veneman_0001.jpg") + " --bogus");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option --bogus"), std::string::npos);
}

TEST(Cli, DrawWritesBoxesOntoThePhoto) {
  if (!Ready()) return;
  const std::string src = Lfw("Angela_Bassett/Angela_Bassett_0001.jpg");
  const fs::path out = fs::temp_directory_path() / ("facelib_draw_" + std::to_string(::getpid()) + ".png");
  const CliRun r = Cli("draw " + src + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"output\":\"" + out.string() + "\""), std::string::npos) << r.out;
  // The box from the JSON: "region":{"x":..,"y":..,"w":..,"h":..
  int x = 0, y = 0, w = 0, h = 0;
  const size_t p = r.out.find("\"region\":{");
  ASSERT_NE(p, std::string::npos);
  ASSERT_EQ(std::sscanf(r.out.c_str() + p, "\"region\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d", &x, &y, &w, &h), 4);
  const facelib::Image before = facelib::LoadImage(src), after = facelib::LoadImage(out.string());
  ASSERT_EQ(after.width, before.width);
  ASSERT_EQ(after.height, before.height);
  // Along the box's left and right edges most pixels changed; a point inside the box did not.
  int changed = 0, total = 0;
  for (int yy = y + 2; yy < y + h - 2; ++yy)
    for (int xx : {x, x + w - 1}) {
      int d = 0;
      for (int c = 0; c < 3; ++c) d += std::abs(int(after.at(xx, yy)[c]) - int(before.at(xx, yy)[c]));
      changed += d > 60;
      ++total;
    }
  EXPECT_GT(changed, total * 8 / 10) << changed << "/" << total;
  const int cx = x + w / 8, cy = y + h / 2;  // inside the box, away from landmarks and the outline
  for (int c = 0; c < 3; ++c) EXPECT_EQ(after.at(cx, cy)[c], before.at(cx, cy)[c]);
  fs::remove(out);
}

}  // namespace
