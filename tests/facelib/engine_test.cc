// End-to-end tests of the DeepFace operations on real models and real photos.
// They need the converted zoo (tools/setup-models.sh) and ../shared/eval-dev;
// each test prints "SKIP: ..." and returns when either is absent.
#include "facelib/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "facelib/detectors.h"
#include "facelib/image.h"
#include "runtime/error.h"
#include "tests/data_dirs.h"

namespace fs = std::filesystem;

namespace facelib {
namespace {

using facelib::testdata::ModelsDir;
using facelib::testdata::Lfw;

bool Ready(const std::vector<std::string>& models) {
  for (const auto& m : models)
    if (!fs::exists(ModelsDir() + "/" + m + ".flm")) {
      std::printf("SKIP: model %s not converted (tools/setup-models.sh)\n", m.c_str());
      return false;
    }
  if (!fs::exists(Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"))) {
    std::printf("SKIP: ../shared/eval-dev/lfw not present\n");
    return false;
  }
  return true;
}

const std::vector<std::string> kDefault = {"mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "expo_mobilefacenet"};

Engine& TheEngine() {
  static Engine* e = [] {
    EngineOptions o;
    o.models_dir = ModelsDir();
    o.num_threads = 1;
    return new Engine(o);
  }();
  return *e;
}

TEST(Engine, VerifySamePersonAndDifferentPeople) {
  if (!Ready(kDefault)) return;
  const Image a1 = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"));
  const Image a2 = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0005.jpg"));
  const Image b = LoadImage(Lfw("Angela_Bassett/Angela_Bassett_0001.jpg"));
  const VerifyOptions vo;
  const VerifyResult same = TheEngine().Verify(a1, a2, vo);
  const VerifyResult diff = TheEngine().Verify(a1, b, vo);
  EXPECT_TRUE(same.verified) << same.distance;
  EXPECT_FALSE(diff.verified) << diff.distance;
  EXPECT_LT(same.distance, same.threshold);
  EXPECT_GT(diff.distance, diff.threshold);
  EXPECT_FLOAT_EQ(same.threshold, DefaultThreshold("MobileFaceNet", "cosine"));
  EXPECT_GE(same.confidence, 51.f);
  EXPECT_LE(diff.confidence, 49.f);
  EXPECT_EQ(same.model, "MobileFaceNet");
  EXPECT_EQ(same.detector_backend, "mtcnn");
  EXPECT_EQ(same.similarity_metric, "cosine");
  // LFW crops are 250x250 with the face in the middle.
  EXPECT_GT(same.img1.x, 40);
  EXPECT_LT(same.img1.x, 125);
  EXPECT_GT(same.img1.w, 60);
  ASSERT_TRUE(same.img1.left_eye && same.img1.right_eye);
  EXPECT_GT(same.img1.left_eye->first, same.img1.right_eye->first);
  // A custom threshold decides instead of the tuned one; confidence still follows the tuned one.
  VerifyOptions strict = vo;
  strict.threshold = same.distance / 2;
  const VerifyResult s2 = TheEngine().Verify(a1, a2, strict);
  EXPECT_FALSE(s2.verified);
  EXPECT_FLOAT_EQ(s2.confidence, same.confidence);
  // Every metric has a tuned threshold and separates this pair.
  for (const char* m : {"euclidean", "euclidean_l2", "angular"}) {
    VerifyOptions o = vo;
    o.distance_metric = m;
    EXPECT_TRUE(TheEngine().Verify(a1, a2, o).verified) << m;
    EXPECT_FALSE(TheEngine().Verify(a1, b, o).verified) << m;
  }
}

TEST(Engine, VerifyAcceptsPrecomputedEmbeddings) {
  if (!Ready(kDefault)) return;
  const Image a1 = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"));
  const Image a2 = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0005.jpg"));
  const VerifyOptions vo;
  const auto e1 = TheEngine().Represent(a1, vo.represent);
  ASSERT_EQ(e1.size(), 1u);
  ASSERT_EQ(e1[0].embedding.size(), 192u);
  const VerifyResult r = TheEngine().Verify(Engine::Input{nullptr, &e1[0].embedding}, Engine::Input{&a2, nullptr}, vo);
  const VerifyResult ref = TheEngine().Verify(a1, a2, vo);
  EXPECT_NEAR(r.distance, ref.distance, 1e-5);
  EXPECT_TRUE(r.img1_is_embedding);
  std::vector<float> short_emb(128, 0.1f);
  try {
    TheEngine().Verify(Engine::Input{nullptr, &short_emb}, Engine::Input{&a2, nullptr}, vo);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("should have 192 dimensions, but img1 has 128"), std::string::npos) << e.what();
  }
}

TEST(Engine, RepresentBatchesAndNormalises) {
  if (!Ready(kDefault)) return;
  const std::vector<Image> imgs = {LoadImage(Lfw("Bob_Graham/Bob_Graham_0001.jpg")),
                                   LoadImage(Lfw("Demi_Moore/Demi_Moore_0001.jpg"))};
  RepresentOptions ro;
  ro.l2_normalize = true;
  const auto batch = TheEngine().Represent(imgs, ro);
  ASSERT_EQ(batch.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_GE(batch[i].size(), 1u);
    double n = 0;
    for (float v : batch[i][0].embedding) n += double(v) * v;
    EXPECT_NEAR(n, 1.0, 1e-5);
    // Same result as one image at a time.
    const auto single = TheEngine().Represent(imgs[i], ro);
    for (size_t k = 0; k < 192; ++k) ASSERT_NEAR(single[0].embedding[k], batch[i][0].embedding[k], 1e-5);
    EXPECT_GT(batch[i][0].face_confidence, 0.9f);
  }
  ro.face.max_faces = 1;
  EXPECT_EQ(TheEngine().Represent(imgs[0], ro).size(), 1u);
}

TEST(Engine, AnalyzeReturnsDeepFaceLabels) {
  if (!Ready({"mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "human_emotion", "faceapi_agegender", "human_gear"})) return;
  const Image img = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"));
  const auto res = TheEngine().Analyze(img, {});
  ASSERT_EQ(res.size(), 1u);
  const auto& r = res[0];
  const std::vector<std::string> emo = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
  ASSERT_EQ(r.emotion.size(), 7u);
  float sum = 0;
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(r.emotion[i].first, emo[i]);
    sum += r.emotion[i].second;
  }
  EXPECT_NEAR(sum, 100, 1e-3);
  ASSERT_EQ(r.gender.size(), 2u);
  EXPECT_EQ(r.gender[0].first, "Woman");
  EXPECT_EQ(r.gender[1].first, "Man");
  EXPECT_EQ(r.dominant_gender, "Woman");  // Ann Veneman
  ASSERT_TRUE(r.age);
  EXPECT_GT(*r.age, 30);
  EXPECT_LT(*r.age, 75);
  ASSERT_EQ(r.race.size(), 5u);
  EXPECT_EQ(r.race[0].first, "white");
  EXPECT_EQ(r.race[4].first, "others");
  EXPECT_EQ(r.dominant_race, "white");
  EXPECT_GT(r.face_confidence, 0.9f);
  // Only the requested actions.
  AnalyzeOptions ao;
  ao.actions = {"age"};
  const auto only_age = TheEngine().Analyze(img, ao);
  ASSERT_EQ(only_age.size(), 1u);
  EXPECT_TRUE(only_age[0].emotion.empty());
  EXPECT_TRUE(only_age[0].gender.empty());
  EXPECT_FLOAT_EQ(*only_age[0].age, *r.age);
  ao.actions = {"mood"};
  try {
    TheEngine().Analyze(img, ao);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("invalid action 'mood'"), std::string::npos);
  }
  ao.actions = {};
  EXPECT_THROW(TheEngine().Analyze(img, ao), Error);
}

TEST(Engine, ErrorsHaveDeepFaceCategories) {
  if (!Ready(kDefault)) return;
  const Image face = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0001.jpg"));
  // No face: a flat grey image.
  Image grey(320, 240, 3);
  std::fill(grey.pixels.begin(), grey.pixels.end(), 128);
  try {
    TheEngine().ExtractFaces(grey, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFaceNotDetected);
    EXPECT_NE(std::string(e.what()).find("Face could not be detected"), std::string::npos);
  }
  try {
    TheEngine().Verify(face, grey, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFaceNotDetected);
    EXPECT_NE(std::string(e.what()).find("img2"), std::string::npos) << e.what();
  }
  FaceOptions lax;
  lax.enforce_detection = false;
  const auto whole = TheEngine().ExtractFaces(grey, lax);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_TRUE(whole[0].extracted.whole_image);
  EXPECT_EQ(whole[0].extracted.confidence, 0);
  EXPECT_EQ(whole[0].extracted.area.w, 320);
  EXPECT_EQ(whole[0].extracted.area.h, 240);  // not swapped (DeepFace's skip path swaps them)
  RepresentOptions ro;
  ro.model_name = "VGG-Face";
  try {
    TheEngine().Represent(face, ro);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("vgg_face_weights.h5"), std::string::npos);
  }
  ro.model_name = "NoSuchNet";
  EXPECT_THROW(TheEngine().Represent(face, ro), Error);
  ro.model_name = "MobileFaceNet";
  ro.face.detector_backend = "nosuch";
  try {
    TheEngine().Represent(face, ro);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("available: opencv"), std::string::npos) << e.what();
  }
  VerifyOptions vo;
  vo.distance_metric = "manhattan";
  EXPECT_THROW(TheEngine().Verify(face, face, vo), Error);
  ro.face.detector_backend = "mtcnn";
  ro.normalization = "Facenet";
  EXPECT_THROW(TheEngine().Represent(face, ro), Error);
  FaceOptions neg;
  neg.expand_percentage = -5;
  EXPECT_THROW(TheEngine().ExtractFaces(face, neg), Error);
  // A missing model file names the setup command.
  EngineOptions eo;
  eo.models_dir = "/nonexistent-models";
  Engine empty(eo);
  try {
    empty.ExtractFaces(face, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("tools/setup-models.sh --only"), std::string::npos) << e.what();
  }
}

TEST(Engine, SkipDetectorUsesWholeImage) {
  if (!Ready(kDefault)) return;
  const Image img = LoadImage(Lfw("Demi_Moore/Demi_Moore_0002.jpg"));
  FaceOptions fo;
  fo.detector_backend = "skip";
  const auto f = TheEngine().ExtractFaces(img, fo);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].extracted.area.w, img.width);
  EXPECT_EQ(f[0].extracted.face.width, img.width);
}

TEST(Engine, ConcurrentCallsAgree) {
  if (!Ready(kDefault)) return;
  const Image a1 = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0002.jpg"));
  const Image a2 = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0003.jpg"));
  const float ref = TheEngine().Verify(a1, a2, {}).distance;
  std::vector<float> got(4 * 3, -1);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) got[t * 3 + i] = TheEngine().Verify(a1, a2, {}).distance;
    });
  for (auto& t : ts) t.join();
  for (float d : got) EXPECT_EQ(d, ref);
}

TEST(Engine, FindSearchesAFolderAndRefreshesIncrementally) {
  if (!Ready(kDefault)) return;
  const fs::path db = fs::temp_directory_path() / ("facelib_find_" + std::to_string(::getpid()));
  fs::remove_all(db);
  for (const char* person : {"Ann_Veneman", "Angela_Bassett", "Bob_Graham"}) {
    fs::create_directories(db / person);
    int n = 0;
    for (const auto& e : fs::directory_iterator(fs::path(Lfw(person))))
      if (n++ < 3) fs::copy_file(e.path(), db / person / e.path().filename());
  }
  FindOptions fo;
  fo.progress = false;
  FindStats st;
  const Image q = LoadImage(Lfw("Ann_Veneman/Ann_Veneman_0011.jpg"));  // not in the folder
  auto res = TheEngine().Find(q, db.string(), fo, &st);
  EXPECT_EQ(st.added, 9u);
  EXPECT_EQ(st.rows, 11u);  // two of the photos show a second face
  ASSERT_EQ(res.size(), 1u);
  ASSERT_GE(res[0].size(), 1u);
  for (const auto& r : res[0]) {
    EXPECT_NE(r.identity.find("Ann_Veneman"), std::string::npos) << r.identity << " " << r.distance;
    EXPECT_LE(r.distance, r.threshold);
    EXPECT_EQ(r.hash.size(), 64u);
  }
  for (size_t i = 1; i < res[0].size(); ++i) EXPECT_LE(res[0][i - 1].distance, res[0][i].distance);
  // Add one file: only it is embedded.
  fs::copy_file(Lfw("Demi_Moore/Demi_Moore_0001.jpg"), db / "Demi_Moore_0001.jpg");
  res = TheEngine().Find(q, db.string(), fo, &st);
  EXPECT_EQ(st.added, 1u);
  EXPECT_EQ(st.unchanged, 9u);
  // Look-alike search returns every row, nearest first; k keeps the best.
  fo.similarity_search = true;
  fo.k = 4;
  res = TheEngine().Find(q, db.string(), fo, &st);
  ASSERT_EQ(res[0].size(), 4u);
  EXPECT_NE(res[0][0].identity.find("Ann_Veneman"), std::string::npos);
  // A corrupt store file is detected and rebuilt.
  for (const auto& e : fs::directory_iterator(db))
    if (e.path().extension() == ".fls") {
      std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "garbage";
    }
  res = TheEngine().Find(q, db.string(), fo, &st);
  EXPECT_TRUE(st.rebuilt);
  EXPECT_EQ(st.rows, 12u);
  fs::remove_all(db);
  EXPECT_THROW(TheEngine().Find(q, (db / "missing").string(), fo), Error);
}

TEST(Engine, AntiSpoofingJudgesRealPhotosReal) {
  if (!Ready({"mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "minifasnet_v2", "minifasnet_v1se", "human_antispoof",
              "human_liveness"}))
    return;
  const Image img = LoadImage(Lfw("Angela_Bassett/Angela_Bassett_0003.jpg"));
  FaceOptions fo;
  fo.anti_spoofing = true;
  fo.max_faces = 1;
  auto f = TheEngine().ExtractFaces(img, fo);
  ASSERT_EQ(f.size(), 1u);
  ASSERT_TRUE(f[0].is_real.has_value());
  EXPECT_TRUE(*f[0].is_real);
  EXPECT_GT(f[0].antispoof_score, 0.9f);  // MiniFASNet pair: 0.9998 on this photo
  EXPECT_LE(f[0].antispoof_score, 1.0f);
  fo.antispoof_model = "human";
  f = TheEngine().ExtractFaces(img, fo);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(*f[0].is_real);
  EXPECT_GT(f[0].antispoof_score, 0.7f);  // Human's antispoof + liveness: 0.83
  fo.antispoof_model = "nosuch";
  EXPECT_THROW(TheEngine().ExtractFaces(img, fo), Error);
}

}  // namespace
}  // namespace facelib

namespace facelib {
namespace {

TEST(Thresholds, EveryRecognizerHasEveryMetric) {
  for (const auto& r : Recognizers())
    for (const char* m : {"cosine", "euclidean", "euclidean_l2", "angular"}) {
      const float t = DefaultThreshold(r.name, m);
      EXPECT_GT(t, 0.f) << r.name << " " << m;
      // Confidence is above 50 exactly on the verified side of the threshold.
      EXPECT_GE(VerifyConfidence(r.name, m, t * 0.99f), 51.f) << r.name << " " << m;
      EXPECT_LE(VerifyConfidence(r.name, m, t * 1.01f + 1e-6f), 49.f) << r.name << " " << m;
    }
  EXPECT_NEAR(DefaultThreshold("MobileFaceNet", "cosine"), 0.5336f, 1e-3);
  EXPECT_THROW(DefaultThreshold("MobileFaceNet", "chebyshev"), Error);
  EXPECT_THROW(DefaultThreshold("VGG-Face", "cosine"), Error);
}

}  // namespace
}  // namespace facelib
