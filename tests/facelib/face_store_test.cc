// The face store on real JPEG files from ../shared/eval-dev/lfw (copied into a
// temporary folder at run time), with a fake embedder whose vectors are a
// deterministic function of each file's bytes.
#include "facelib/face_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "facelib/distance.h"
#include "runtime/error.h"
#include "runtime/model_file.h"
#include "runtime/sha256.h"

namespace facelib {
namespace {

namespace fs = std::filesystem;

constexpr size_t kDim = 8;

std::string LfwDir() {
  const char* env = std::getenv("FACELIB_SHARED");
  return std::string(env ? env : FACELIB_SOURCE_DIR "/../shared") + "/eval-dev/lfw/images";
}

// The first `n` LFW images in path order.
std::vector<fs::path> LfwImages(size_t n) {
  std::vector<fs::path> all;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(LfwDir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".jpg") all.push_back(it->path());
  }
  std::sort(all.begin(), all.end());
  if (all.size() > n) all.resize(n);
  return all;
}

#define SKIP_WITHOUT_LFW(n)                                                   \
  if (LfwImages(n).size() < (n)) {                                            \
    std::printf("SKIP: %s has fewer than %d images\n", LfwDir().c_str(), n);  \
    GTEST_SKIP();                                                             \
  }

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<float> FakeEmbedding(const std::vector<uint8_t>& bytes) {
  std::vector<float> e(kDim, 0.f);
  for (size_t i = 0; i < bytes.size(); ++i) e[i % kDim] += bytes[i];
  for (float& v : e) v = std::fmod(v, 1000.f) / 1000.f - 0.5f;
  return e;
}

// Files whose name contains "noface" have no face, "broken" fail, "nan" get
// a NaN in their embedding, "_0002" have two faces (the second one's embedding negated); the others one face
// whose box encodes the file size.
struct FakeEmbedder {
  int calls = 0;
  size_t files = 0;
  size_t dim_for_wide = kDim;  // embedding size for names containing "wide"
  int throw_on_call = 0;       // 1-based call index that throws; 0 = never

  std::vector<FileEmbeddings> operator()(const std::vector<std::string>& paths) {
    ++calls;
    if (calls == throw_on_call) throw std::runtime_error("embedder failed");
    files += paths.size();
    std::vector<FileEmbeddings> out;
    for (const std::string& p : paths) {
      FileEmbeddings r;
      const std::vector<uint8_t> bytes = ReadBytes(p);
      if (p.find("broken") != std::string::npos) {
        r.error = "cannot decode " + p;
      } else if (p.find("noface") == std::string::npos) {
        FaceRecord f;
        f.target = Box{1, 2, static_cast<float>(bytes.size() % 100), 40};
        f.confidence = 0.9f;
        f.embedding = FakeEmbedding(bytes);
        if (p.find("wide") != std::string::npos) f.embedding.resize(dim_for_wide, 0.25f);
        if (p.find("nan") != std::string::npos) f.embedding[3] = NAN;
        r.faces.push_back(f);
        if (p.find("_0002") != std::string::npos) {
          for (float& v : f.embedding) v = -v;
          f.target.x = 50;
          r.faces.push_back(f);
        }
      }
      out.push_back(std::move(r));
    }
    return out;
  }
  EmbedBatchFn fn() {
    return [this](const std::vector<std::string>& p) { return (*this)(p); };
  }
};

StoreKey TestKey() { return StoreKey{"Dlib", "yunet", true, "base", 0, "fp1"}; }

class FaceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::path(::testing::TempDir()) / ("facelib_store_test_" + std::to_string(::getpid()) + "_" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Copies src to dir_/rel (writable, whatever the source's mode).
  void Put(const fs::path& src, const std::string& rel) {
    const fs::path dst = fs::path(dir_) / rel;
    fs::create_directories(dst.parent_path());
    WriteBytes(dst.string(), ReadBytes(src.string()));
  }
  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }
  // dir_ with the first `n` LFW images as <person>/<file>, plus files the
  // scan must ignore.
  void PopulateLfw(size_t n) {
    for (const fs::path& p : LfwImages(n)) Put(p, p.parent_path().filename().string() + "/" + p.filename().string());
    WriteBytes(Path("notes.txt"), {'h', 'i'});
    fs::create_directories(Path(".cache"));
    Put(LfwImages(1)[0], ".cache/hidden_dir.jpg");
    Put(LfwImages(1)[0], ".hidden_file.jpg");
  }
  std::string dir_;
};

TEST(StoreFileNameTest, DeepFaceNamingWithOurExtension) {
  EXPECT_EQ(StoreFileName(StoreKey{"Dlib", "yunet", true, "base", 0, ""}),
            "ds_model_dlib_detector_yunet_aligned_normalization_base_expand_0.fls");
  EXPECT_EQ(StoreFileName(StoreKey{"VGG-Face", "retinaface", false, "Facenet2018", 10, "x"}),
            "ds_model_vggface_detector_retinaface_unaligned_normalization_facenet2018_expand_10.fls");
  for (const char* bad : {"", "../up", "a/b", "a b"}) {
    try {
      StoreFileName(StoreKey{bad, "yunet", true, "base", 0, ""});
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST_F(FaceStoreTest, BadFolders) {
  try {
    FaceStore(dir_ + "/missing", TestKey());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing' does not exist"), std::string::npos) << e.what();
  }
  WriteBytes(Path("file.jpg"), {1, 2, 3});
  try {
    FaceStore(Path("file.jpg"), TestKey());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("is not a directory"), std::string::npos) << e.what();
  }
  // A folder without images (only a text file and a hidden image).
  fs::remove(Path("file.jpg"));
  WriteBytes(Path("readme.txt"), {1});
  WriteBytes(Path(".hidden.png"), {1});
  FaceStore store(dir_, TestKey());
  FakeEmbedder fake;
  try {
    store.Refresh(fake.fn(), 4, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()), "No item found in " + dir_);
  }
  EXPECT_EQ(fake.calls, 0);
  EXPECT_FALSE(fs::exists(store.store_path()));
}

TEST_F(FaceStoreTest, IncrementalRefresh) {
  SKIP_WITHOUT_LFW(16);
  const auto lfw = LfwImages(16);
  PopulateLfw(10);
  Put(lfw[0], "UPPER.JPG");  // extension case does not matter
  const size_t n = 11;

  FakeEmbedder fake;
  FaceStore store(dir_, TestKey());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.invalid_reason(), "");
  RefreshStats s = store.Refresh(fake.fn(), 4, false);
  EXPECT_EQ(s.added, n);
  EXPECT_EQ(s.removed + s.changed + s.unchanged + s.failed, 0u);
  EXPECT_EQ(s.batches, 3u);
  EXPECT_EQ(s.embedded_files, n);
  EXPECT_FALSE(s.rebuilt);
  EXPECT_TRUE(s.saved) << s.save_error;
  EXPECT_EQ(fake.calls, 3);
  EXPECT_EQ(fake.files, n);
  EXPECT_EQ(store.files(), n);
  // LFW's first 10 images include Abel_Pacheco_0002 and Akhmed_Zakayev_0002: two faces each.
  EXPECT_EQ(store.size(), n + 2);
  EXPECT_EQ(store.embeddings(), n + 2);
  EXPECT_EQ(store.dim(), kDim);
  EXPECT_EQ(store.store_path(), dir_ + "/ds_model_dlib_detector_yunet_aligned_normalization_base_expand_0.fls");
  EXPECT_TRUE(fs::exists(store.store_path()));

  // Nothing changed: no embedding, no write.
  const auto mtime_before = fs::last_write_time(store.store_path());
  s = store.Refresh(fake.fn(), 4, false);
  EXPECT_EQ(s.unchanged, n);
  EXPECT_EQ(s.added + s.removed + s.changed, 0u);
  EXPECT_EQ(s.batches, 0u);
  EXPECT_FALSE(s.saved);
  EXPECT_EQ(fake.calls, 3);
  EXPECT_EQ(fs::last_write_time(store.store_path()), mtime_before);

  // Add 3, remove 2, modify 1, touch 1.
  for (size_t i = 10; i < 13; ++i) Put(lfw[i], "new/" + lfw[i].filename().string());
  const std::string gone1 = "Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg";
  const std::string gone2 = "Abel_Pacheco/Abel_Pacheco_0003.jpg";
  ASSERT_TRUE(fs::remove(Path(gone1)));
  ASSERT_TRUE(fs::remove(Path(gone2)));
  const std::string modified = "Afton_Smith/Afton_Smith_0001.jpg";
  std::vector<uint8_t> bytes = ReadBytes(Path(modified));
  bytes.push_back(0);  // a trailing byte after the JPEG end marker
  WriteBytes(Path(modified), bytes);
  const std::string touched = "Abdul_Rahman/Abdul_Rahman_0001.jpg";
  fs::last_write_time(Path(touched), fs::last_write_time(Path(touched)) + std::chrono::seconds(5));
  const std::string touched_hash = rt::Sha256File(Path(touched));

  s = store.Refresh(fake.fn(), 2, false);
  EXPECT_EQ(s.added, 3u);
  EXPECT_EQ(s.removed, 2u);
  EXPECT_EQ(s.changed, 1u);
  EXPECT_EQ(s.unchanged, n - 3);  // the touched file included
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.embedded_files, 4u);
  EXPECT_EQ(s.batches, 2u);
  EXPECT_TRUE(s.saved);
  EXPECT_EQ(fake.calls, 5);
  EXPECT_EQ(fake.files, n + 4);
  EXPECT_EQ(store.files(), n + 1);
  EXPECT_EQ(store.size(), n + 1 + 2);  // Abel_Pacheco_0002 and Akhmed_Zakayev_0002 have two faces each

  // Every row against the current bytes of its file.
  const auto all = store.Search(std::vector<float>(kDim, 0.1f), Metric::kEuclidean, 0, 0, true);
  ASSERT_EQ(all.size(), store.size());
  std::set<std::string> identities;
  for (const auto& m : all) {
    identities.insert(m.identity);
    const std::vector<uint8_t> b = ReadBytes(m.identity);
    EXPECT_EQ(m.hash, rt::Sha256Hex(b.data(), b.size())) << m.identity;
    EXPECT_EQ(m.target.w, static_cast<float>(b.size() % 100)) << m.identity;
    std::vector<float> e = FakeEmbedding(b);
    if (m.target.x == 50) {
      for (float& v : e) v = -v;
    }
    EXPECT_NEAR(m.distance, Distance(Metric::kEuclidean, std::vector<float>(kDim, 0.1f), e), 1e-6) << m.identity;
  }
  EXPECT_EQ(identities.size(), n + 1);
  EXPECT_EQ(identities.count(Path(gone1)), 0u);
  EXPECT_EQ(identities.count(Path("new/" + lfw[12].filename().string())), 1u);
  EXPECT_EQ(identities.count(Path("UPPER.JPG")), 1u);
  for (const auto& m : all) {
    if (m.identity == Path(touched)) {
      EXPECT_EQ(m.hash, touched_hash);
    }
  }

  // A fresh object reads the same rows back from disk, and finds nothing to do.
  FaceStore reloaded(dir_, TestKey());
  EXPECT_EQ(reloaded.invalid_reason(), "");
  EXPECT_EQ(reloaded.size(), store.size());
  EXPECT_EQ(reloaded.files(), store.files());
  EXPECT_EQ(reloaded.dim(), kDim);
  const auto again = reloaded.Search(std::vector<float>(kDim, 0.1f), Metric::kEuclidean, 0, 0, true);
  ASSERT_EQ(again.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(again[i].identity, all[i].identity);
    EXPECT_EQ(again[i].hash, all[i].hash);
    EXPECT_EQ(again[i].distance, all[i].distance);
    EXPECT_EQ(again[i].target.x, all[i].target.x);
    EXPECT_EQ(again[i].target.w, all[i].target.w);
    EXPECT_EQ(again[i].face_confidence, 0.9f);
  }
  s = reloaded.Refresh(fake.fn(), 2, false);
  EXPECT_EQ(s.unchanged, n + 1);
  EXPECT_EQ(s.batches, 0u);
  EXPECT_EQ(fake.calls, 5);

  // The store file deleted behind our back is written again.
  fs::remove(store.store_path());
  s = reloaded.Refresh(fake.fn(), 2, false);
  EXPECT_EQ(s.unchanged, n + 1);
  EXPECT_TRUE(s.saved);
  EXPECT_TRUE(fs::exists(store.store_path()));
}

TEST_F(FaceStoreTest, NoFaceFailedAndMultiFaceRows) {
  SKIP_WITHOUT_LFW(3);
  const auto lfw = LfwImages(3);
  Put(lfw[0], "a_noface.jpg");
  Put(lfw[1], "b_broken.png");
  Put(lfw[2], "c_0002.bmp");
  Put(lfw[0], "d_nan.jpg");
  FakeEmbedder fake;
  FaceStore store(dir_, TestKey());
  const RefreshStats s = store.Refresh(fake.fn(), 8, false);
  EXPECT_EQ(s.added, 4u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(store.files(), 4u);
  EXPECT_EQ(store.size(), 5u);  // one empty row each for no face and the two failures, two faces
  EXPECT_EQ(store.embeddings(), 2u);
  const auto all = store.Search(std::vector<float>(kDim, 1.f), Metric::kCosine, 0, 0, true);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].identity, Path("c_0002.bmp"));
  EXPECT_EQ(all[1].identity, Path("c_0002.bmp"));
  EXPECT_NEAR(all[0].distance + all[1].distance, 2.0f, 1e-6);  // e and -e
  // The failed file is not retried until it changes.
  FaceStore reloaded(dir_, TestKey());
  EXPECT_EQ(reloaded.size(), 5u);
  EXPECT_EQ(reloaded.Refresh(fake.fn(), 8, false).batches, 0u);
  EXPECT_EQ(fake.calls, 1);
}

TEST_F(FaceStoreTest, SearchOrderKThresholdAndSimilarity) {
  SKIP_WITHOUT_LFW(6);
  const auto lfw = LfwImages(6);
  // lfw[2] three times: equal distances, ordered by identity.
  Put(lfw[2], "z/dup.jpg");
  Put(lfw[2], "a/dup.jpg");
  Put(lfw[2], "m.jpg");
  Put(lfw[0], "p0.jpg");
  Put(lfw[1], "p1.jpg");
  Put(lfw[3], "p3.jpg");
  Put(lfw[4], "p4_noface.jpg");
  FakeEmbedder fake;
  FaceStore store(dir_ + "/", TestKey());  // trailing slash kept in identities, as os.path.join does
  store.Refresh(fake.fn(), 3, false);
  ASSERT_EQ(store.embeddings(), 6u);

  const std::vector<float> q = FakeEmbedding(ReadBytes(lfw[2].string()));
  std::map<std::string, float> want;
  for (const char* rel : {"p0.jpg", "p1.jpg", "p3.jpg"}) {
    want[rel] = Distance(Metric::kCosine, q, FakeEmbedding(ReadBytes(Path(rel))));
  }
  const auto all = store.Search(q, Metric::kCosine, 0, 0, true);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].identity, dir_ + "/a/dup.jpg");
  EXPECT_EQ(all[1].identity, dir_ + "/m.jpg");
  EXPECT_EQ(all[2].identity, dir_ + "/z/dup.jpg");
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(all[i].distance, 0.0f, 1e-6);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].distance, all[i].distance);
  for (size_t i = 3; i < 6; ++i) {
    const std::string rel = all[i].identity.substr(dir_.size() + 1);
    ASSERT_EQ(want.count(rel), 1u) << all[i].identity;
    EXPECT_NEAR(all[i].distance, want[rel], 2e-6) << rel;
  }

  // k keeps the best k; k larger than the matches keeps all.
  const auto top2 = store.Search(q, Metric::kCosine, 0, 2, true);
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[0].identity, all[0].identity);
  EXPECT_EQ(top2[1].identity, all[1].identity);
  EXPECT_EQ(store.Search(q, Metric::kCosine, 0, 100, true).size(), 6u);

  // The threshold keeps distance <= threshold, unless similarity_search.
  const float cut = all[4].distance;
  const auto within = store.Search(q, Metric::kCosine, cut, 0, false);
  ASSERT_EQ(within.size(), 5u);
  EXPECT_EQ(within.back().identity, all[4].identity);
  EXPECT_EQ(store.Search(q, Metric::kCosine, cut, 4, false).size(), 4u);
  EXPECT_EQ(store.Search(q, Metric::kCosine, -1.0f, 0, false).size(), 0u);
  EXPECT_EQ(store.Search(q, Metric::kCosine, -1.0f, 0, true).size(), 6u);

  // Each metric ranks the exact copies first.
  for (Metric m : {Metric::kEuclidean, Metric::kEuclideanL2, Metric::kAngular}) {
    const auto r = store.Search(q, m, 0.001f, 0, false);
    ASSERT_EQ(r.size(), 3u) << MetricName(m);
    EXPECT_EQ(r[0].identity, dir_ + "/a/dup.jpg");
  }

  // Bad queries.
  for (const std::vector<float>& bad : {std::vector<float>{}, std::vector<float>(kDim, NAN)}) {
    EXPECT_THROW(store.Search(bad, Metric::kCosine, 1, 0, false), Error);
  }
  try {
    store.Search(std::vector<float>(512, 1.f), Metric::kCosine, 1, 0, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("has 512 dimensions"), std::string::npos) << msg;
    EXPECT_NE(msg.find("holds 8-dimensional"), std::string::npos) << msg;
  }
  EXPECT_THROW(store.Search(q, Metric::kCosine, NAN, 0, false), Error);
}

TEST_F(FaceStoreTest, EmbeddingDimsMustAgree) {
  SKIP_WITHOUT_LFW(3);
  const auto lfw = LfwImages(3);
  Put(lfw[0], "a.jpg");
  Put(lfw[1], "b_wide.jpg");
  FakeEmbedder fake;
  fake.dim_for_wide = 9;
  FaceStore store(dir_, TestKey());
  try {
    store.Refresh(fake.fn(), 1, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("b_wide.jpg has 9 dimensions but the store holds 8-dimensional"), std::string::npos) << msg;
  }
  // a.jpg, done before the failure, was kept.
  EXPECT_EQ(store.files(), 1u);
  EXPECT_EQ(FaceStore(dir_, TestKey()).files(), 1u);
}

TEST_F(FaceStoreTest, InterruptedRefreshKeepsCompletedBatches) {
  SKIP_WITHOUT_LFW(7);
  PopulateLfw(7);
  FakeEmbedder fake;
  fake.throw_on_call = 2;
  {
    FaceStore store(dir_, TestKey());
    EXPECT_THROW(store.Refresh(fake.fn(), 3, false), std::runtime_error);
    EXPECT_EQ(store.files(), 3u);
  }
  FaceStore store(dir_, TestKey());
  EXPECT_EQ(store.invalid_reason(), "");
  EXPECT_EQ(store.files(), 3u);
  FakeEmbedder rest;
  const RefreshStats s = store.Refresh(rest.fn(), 3, false);
  EXPECT_EQ(s.added, 4u);
  EXPECT_EQ(s.unchanged, 3u);
  EXPECT_EQ(rest.files, 4u);
  EXPECT_EQ(store.files(), 7u);
}

TEST_F(FaceStoreTest, ForeignKeysUseSeparateFiles) {
  SKIP_WITHOUT_LFW(4);
  PopulateLfw(4);
  FakeEmbedder fake;
  StoreKey other = TestKey();
  other.model = "Facenet512";
  FaceStore a(dir_, TestKey()), b(dir_, other);
  EXPECT_NE(a.store_path(), b.store_path());
  a.Refresh(fake.fn(), 8, false);
  b.Refresh(fake.fn(), 8, false);
  EXPECT_EQ(fake.calls, 2);
  EXPECT_TRUE(fs::exists(a.store_path()));
  EXPECT_TRUE(fs::exists(b.store_path()));
  EXPECT_EQ(FaceStore(dir_, TestKey()).invalid_reason(), "");
  EXPECT_EQ(FaceStore(dir_, other).invalid_reason(), "");
  // Spelling variants of the same key share the file.
  StoreKey spelled = TestKey();
  spelled.model = "DLIB";
  EXPECT_EQ(FaceStore(dir_, spelled).files(), 4u);

  // Same file name, other fingerprint (say, a new model file): rebuilt.
  StoreKey refit = TestKey();
  refit.fingerprint = "fp2";
  FaceStore c(dir_, refit);
  EXPECT_EQ(c.store_path(), a.store_path());
  EXPECT_EQ(c.files(), 0u);
  const std::string reason = c.invalid_reason();
  EXPECT_NE(reason.find("fingerprint 'fp1', expected 'fp2'"), std::string::npos) << reason;
  const RefreshStats s = c.Refresh(fake.fn(), 8, false);
  EXPECT_TRUE(s.rebuilt);
  EXPECT_EQ(s.rebuild_reason, reason);
  EXPECT_EQ(s.added, 4u);
  EXPECT_EQ(c.invalid_reason(), "");
  EXPECT_NE(FaceStore(dir_, TestKey()).invalid_reason(), "");  // now the old key is the foreign one
}

// Rewrites the trailing checksum so that a deliberate edit passes it.
void FixChecksum(std::vector<uint8_t>* b) {
  const size_t body = b->size() - 8;
  const uint64_t c = rt::DataChecksum(b->data(), body);
  for (int i = 0; i < 8; ++i) (*b)[body + i] = static_cast<uint8_t>(c >> (8 * i));
}

TEST_F(FaceStoreTest, CorruptFilesAreRebuilt) {
  SKIP_WITHOUT_LFW(5);
  PopulateLfw(5);
  FakeEmbedder fake;
  FaceStore store(dir_, TestKey());
  store.Refresh(fake.fn(), 8, false);
  const std::string path = store.store_path();
  const std::vector<uint8_t> good = ReadBytes(path);
  const auto reference = store.Search(std::vector<float>(kDim, 0.3f), Metric::kCosine, 0, 0, true);
  ASSERT_EQ(reference.size(), 6u);

  auto reason_for = [&](const std::vector<uint8_t>& bytes) {
    WriteBytes(path, bytes);
    return FaceStore(dir_, TestKey()).invalid_reason();
  };
  EXPECT_EQ(reason_for(good), "");
  EXPECT_NE(reason_for({}).find("truncated (0 bytes)"), std::string::npos);
  EXPECT_NE(reason_for(ReadBytes(LfwImages(1)[0].string())).find("bad magic"), std::string::npos);
  std::vector<uint8_t> v2 = good;
  v2[8] = 2;
  FixChecksum(&v2);
  EXPECT_NE(reason_for(v2).find("format version 2, this build reads version 1"), std::string::npos);
  std::vector<uint8_t> flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  EXPECT_NE(reason_for(flipped).find("checksum mismatch"), std::string::npos);
  // Past the checksum: the row count of the header (after magic, version, key,
  // dim and file count) disagrees with the rows.
  std::vector<uint8_t> rows = good;
  const size_t row_count_at = 8 + 4 + (4 + 4) + (4 + 5) + 1 + (4 + 4) + 4 + (4 + 3) + 4 + 8;
  ASSERT_EQ(rows[row_count_at], 6);
  rows[row_count_at] = 7;
  FixChecksum(&rows);
  EXPECT_NE(reason_for(rows).find("row count 7 in the header, 6 in the data"), std::string::npos)
      << reason_for(rows);

  // Random truncations and bit flips are all caught; random edits with a
  // valid checksum exercise the parser: loaded consistently or rejected.
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    std::vector<uint8_t> bad = good;
    const int kind = i % 4;
    if (kind == 0) {
      bad.resize(rng() % good.size());
    } else if (kind == 1) {
      bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    } else {
      // Past the checksum: 1-4 random byte edits, or a length field made huge.
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) bad[rng() % (bad.size() - 8)] = static_cast<uint8_t>(rng());
      if (kind == 3) bad[12 + rng() % 40] = 0xff;
      FixChecksum(&bad);
    }
    WriteBytes(path, bad);
    FaceStore s(dir_, TestKey());
    if (kind < 2) {
      EXPECT_NE(s.invalid_reason(), "") << "mutation " << i;
    } else if (s.invalid_reason().empty()) {
      // The edit hit a value field; whatever loaded is internally consistent.
      EXPECT_LE(s.embeddings(), s.size());
      (void)s.Search(std::vector<float>(kDim, 0.3f), Metric::kAngular, 1, 0, true);
    }
    if (i % 20 == 0 && !s.invalid_reason().empty()) {
      const std::string reason = s.invalid_reason();
      const RefreshStats st = s.Refresh(fake.fn(), 8, false);
      EXPECT_TRUE(st.rebuilt);
      EXPECT_EQ(st.rebuild_reason, reason);
      EXPECT_EQ(s.invalid_reason(), "");
      EXPECT_EQ(st.added, 5u);
      EXPECT_TRUE(st.saved);
      const auto after = s.Search(std::vector<float>(kDim, 0.3f), Metric::kCosine, 0, 0, true);
      ASSERT_EQ(after.size(), reference.size());
      for (size_t r = 0; r < after.size(); ++r) {
        EXPECT_EQ(after[r].identity, reference[r].identity);
        EXPECT_EQ(after[r].distance, reference[r].distance);
      }
      EXPECT_EQ(ReadBytes(path), good);  // the rebuild writes the same bytes
    }
  }
}

TEST_F(FaceStoreTest, UnwritableStoreStillServes) {
  SKIP_WITHOUT_LFW(3);
  PopulateLfw(3);
  FaceStore probe(dir_, TestKey());
  // A non-empty directory where the store file belongs: it can be neither
  // read nor replaced.
  fs::create_directories(probe.store_path() + "/x");
  FaceStore store(dir_, TestKey());
  EXPECT_NE(store.invalid_reason().find("cannot read"), std::string::npos) << store.invalid_reason();
  FakeEmbedder fake;
  const RefreshStats s = store.Refresh(fake.fn(), 8, false);
  EXPECT_TRUE(s.rebuilt);
  EXPECT_EQ(s.added, 3u);
  EXPECT_FALSE(s.saved);
  EXPECT_NE(s.save_error.find("cannot rename"), std::string::npos) << s.save_error;
  EXPECT_EQ(store.Search(std::vector<float>(kDim, 1.f), Metric::kCosine, 0, 0, true).size(), 3u);
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace facelib
