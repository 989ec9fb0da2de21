// The detectors of facelib/model_detectors2.h (MediaPipe, Human BlazeFace,
// face-api SSD and Tiny, MTCNN): end-to-end Detect() time for one 640x480
// photo (pre-processing, networks, decoding, NMS), single-threaded. Models
// come from $FACELIB_MODELS_DIR or build/models; the photo (a WIDER FACE
// parade image with 5 faces, stretched to 640x480) from ../shared/eval-dev
// (or $FACELIB_SHARED/eval-dev). A benchmark whose model or photo is missing
// reports "SKIP: ..." as its error.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "facelib/imgproc.h"
#include "facelib/model_detectors2.h"
#include "facelib/zoo_model.h"
#include "tests/data_dirs.h"

namespace {

using namespace facelib;

using facelib::testdata::SharedDir;
using facelib::testdata::ModelsDir;

using Factory = std::unique_ptr<Detector> (*)(const std::string&, const DetectorOptions&);

void RunDetector2(benchmark::State& state, Factory make, const char* model, const char* variant) {
  const std::string photo = SharedDir() + "/eval-dev/wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg";
  std::error_code ec;
  if (!std::filesystem::exists(ZooModelPath(ModelsDir(), model), ec) || !std::filesystem::exists(photo, ec)) {
    state.SkipWithError(("SKIP: " + ZooModelPath(ModelsDir(), model) + " or " + photo + " missing").c_str());
    return;
  }
  DetectorOptions opts;
  opts.num_threads = 1;
  opts.variant = variant;
  const auto det = make(ModelsDir(), opts);
  const Image img = Resize(LoadImage(photo), 640, 480);
  size_t faces = 0;
  for (auto _ : state) {
    auto found = det->Detect(img);
    faces = found.size();
    benchmark::DoNotOptimize(found.data());
  }
  state.counters["faces"] = static_cast<double>(faces);
}

BENCHMARK_CAPTURE(RunDetector2, mediapipe_short, MakeMediaPipeDetector, "mediapipe_blazeface_short", "")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector2, mediapipe_full, MakeMediaPipeDetector, "mediapipe_blazeface_full", "full")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector2, blazeface, MakeBlazeFaceDetector, "human_blazeface", "")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector2, ssd, MakeSsdDetector, "faceapi_ssd", "")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector2, tinyface, MakeTinyFaceDetector, "faceapi_tiny", "")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector2, mtcnn, MakeMtcnnDetector, "mtcnn_pnet", "")->Unit(benchmark::kMillisecond);

}  // namespace
