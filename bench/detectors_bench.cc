// Face detectors on converted zoo models: end-to-end Detect() time for one
// 640x480 photo (pre-processing, network, decoding, NMS), single-threaded.
// Models come from $FACELIB_MODELS_DIR or build/models; the photo from
// ../shared/eval-dev (or $FACELIB_SHARED/eval-dev). A benchmark whose model or
// photo is missing reports "SKIP: ..." as its error.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "facelib/imgproc.h"
#include "facelib/model_detectors.h"
#include "facelib/zoo_model.h"
#include "tests/data_dirs.h"

namespace {

using namespace facelib;

using facelib::testdata::SharedDir;
using facelib::testdata::ModelsDir;

using Factory = std::unique_ptr<Detector> (*)(const std::string&, const DetectorOptions&);

void RunDetector(benchmark::State& state, Factory make, const char* model, const char* variant) {
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

BENCHMARK_CAPTURE(RunDetector, yunet, MakeYunetDetector, "yunet", "")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, yunet_n, MakeYunetDetector, "yunet_n", "n")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, retinaface, MakeRetinaFaceDetector, "retinaface_mnet025", "")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, retinaface_torch, MakeRetinaFaceDetector, "retinaface_mnet025_torch", "torch")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, scrfd, MakeScrfdDetector, "scrfd_500m", "")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, ultraface_rfb320, MakeUltraFaceDetector, "ultraface_rfb320", "")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, ultraface_rfb640, MakeUltraFaceDetector, "ultraface_rfb640", "rfb640")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, ultraface_slim320, MakeUltraFaceDetector, "ultraface_slim320", "slim320")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RunDetector, yolo5face, MakeYolo5FaceDetector, "yolo5face_500m", "")
    ->Unit(benchmark::kMillisecond);

}  // namespace
