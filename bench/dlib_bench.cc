// DeepFace's "dlib" backend: DlibHogDetector::Detect() (one 2x upsampling,
// fHOG pyramid, five filters, NMS, 68 landmarks per face) on one 640x480
// photo, on one and two threads; and the shape predictor alone on one face.
// Models from $FACELIB_MODELS_DIR or build/models, the photo from
// ../shared/eval-dev (or $FACELIB_SHARED/eval-dev); missing files report
// "SKIP: ..." as the error. tests/parity/dlib.sh --bench times real dlib on
// the same pixels.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "facelib/dlib_hog.h"
#include "facelib/imgproc.h"
#include "facelib/zoo_model.h"
#include "tests/data_dirs.h"

namespace {

using namespace facelib;

using facelib::testdata::SharedDir;
using facelib::testdata::ModelsDir;

// A 500x375 photo with six faces, scaled to 640x480.
const char* kPhoto = "/eval-dev/dlib_faces/images/2008_002079.jpg";

std::unique_ptr<DlibHogDetector> Load(benchmark::State& state, Image* img, int threads = 1) {
  const std::string photo = SharedDir() + kPhoto;
  const std::string hog = ZooModelPath(ModelsDir(), "dlib_hog_frontal"), sp = ZooModelPath(ModelsDir(), "dlib_shape68");
  std::error_code ec;
  if (!std::filesystem::exists(hog, ec) || !std::filesystem::exists(sp, ec) || !std::filesystem::exists(photo, ec)) {
    state.SkipWithError(("SKIP: " + hog + ", " + sp + " or " + photo + " missing").c_str());
    return nullptr;
  }
  *img = Resize(LoadImage(photo), 640, 480);
  DetectorOptions opts;
  opts.num_threads = threads;
  return std::make_unique<DlibHogDetector>(hog, sp, opts);
}

void BM_DlibDetect640x480(benchmark::State& state) {
  Image img;
  const auto det = Load(state, &img, static_cast<int>(state.range(0)));
  if (!det) return;
  size_t faces = 0;
  for (auto _ : state) {
    auto found = det->Detect(img);
    faces = found.size();
    benchmark::DoNotOptimize(found.data());
  }
  state.counters["faces"] = static_cast<double>(faces);
}
BENCHMARK(BM_DlibDetect640x480)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_DlibShapePredictor68(benchmark::State& state) {
  Image img;
  const auto det = Load(state, &img);
  if (!det) return;
  const auto raw = det->DetectRaw(img);
  if (raw.empty()) {
    state.SkipWithError("SKIP: no face found in the photo");
    return;
  }
  for (auto _ : state) {
    auto pts = det->shape_predictor()->Predict(img, raw[0].rect);
    benchmark::DoNotOptimize(pts.data());
  }
}
BENCHMARK(BM_DlibShapePredictor68)->Unit(benchmark::kMicrosecond);

}  // namespace
