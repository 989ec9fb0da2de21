// DeepFace's default "opencv" backend: the frontal-face Haar cascade
// (detectMultiScale3, scale 1.1, 10 neighbours) alone and HaarFaceDetector's
// Detect() (faces + eyes) on one 640x480 photo, on 1 and 2 threads (scales in
// parallel); and the SIMD window evaluator against the scalar one. Models from
// $FACELIB_MODELS_DIR or build/models, the photo from ../shared/eval-dev (or
// $FACELIB_SHARED/eval-dev); missing files report "SKIP: ..." as the error.
// tests/parity/opencv.sh --bench times OpenCV on the same pixels.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "facelib/haar_cascade.h"
#include "facelib/imgproc.h"
#include "tests/data_dirs.h"

namespace {

using namespace facelib;

using facelib::testdata::SharedDir;
using facelib::testdata::ModelsDir;

// A 500x375 photo with six faces (OpenCV finds three), scaled to 640x480.
const char* kPhoto = "/eval-dev/dlib_faces/images/2008_002079.jpg";

std::unique_ptr<HaarFaceDetector> Load(benchmark::State& state, Image* gray, int threads) {
  const std::string photo = SharedDir() + kPhoto;
  const std::string face = ModelsDir() + "/opencv_haar_face.flm", eye = ModelsDir() + "/opencv_haar_eye.flm";
  std::error_code ec;
  if (!std::filesystem::exists(face, ec) || !std::filesystem::exists(eye, ec) || !std::filesystem::exists(photo, ec)) {
    state.SkipWithError(("SKIP: " + face + ", " + eye + " or " + photo + " missing").c_str());
    return nullptr;
  }
  *gray = ToGray(Resize(LoadImage(photo), 640, 480));
  DetectorOptions o;
  o.num_threads = threads;
  return std::make_unique<HaarFaceDetector>(face, eye, o);
}

// Args: threads.
void BM_HaarFaces640x480(benchmark::State& state) {
  Image gray;
  const auto det = Load(state, &gray, static_cast<int>(state.range(0)));
  if (!det) return;
  HaarScanOptions o;
  o.min_neighbors = 10;
  o.num_threads = static_cast<int>(state.range(0));
  size_t faces = 0;
  for (auto _ : state) {
    const HaarDetections found = det->face_cascade().DetectMultiScale(gray, o);
    faces = found.size();
    benchmark::DoNotOptimize(found.boxes.data());
  }
  state.counters["faces"] = static_cast<double>(faces);
}
BENCHMARK(BM_HaarFaces640x480)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: threads.
void BM_HaarDetect640x480(benchmark::State& state) {
  Image gray;
  const auto det = Load(state, &gray, static_cast<int>(state.range(0)));
  if (!det) return;
  size_t faces = 0;
  for (auto _ : state) {
    auto found = det->Detect(gray);
    faces = found.size();
    benchmark::DoNotOptimize(found.data());
  }
  state.counters["faces"] = static_cast<double>(faces);
}
BENCHMARK(BM_HaarDetect640x480)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same scan with the scalar window evaluator, single-threaded.
void BM_HaarFaces640x480Scalar(benchmark::State& state) {
  Image gray;
  const auto det = Load(state, &gray, 1);
  if (!det) return;
  HaarScanOptions o;
  o.min_neighbors = 10;
  o.force_scalar = true;
  for (auto _ : state) benchmark::DoNotOptimize(det->face_cascade().DetectMultiScale(gray, o).boxes.data());
}
BENCHMARK(BM_HaarFaces640x480Scalar)->Unit(benchmark::kMillisecond);

}  // namespace
