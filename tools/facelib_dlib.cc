// facelib-dlib [--models DIR] [--upsample N] [--resize WxH] [--dump-ppm DIR] [--repeat N] [--threads N] IMAGE...
// Runs the dlib HOG detector and the 68-point shape predictor on each image
// and prints dlib's raw output, one line per face:
//   IMAGE <tab> left top right bottom <tab> score <tab> filter <tab> x0,y0 x1,y1 ... x67,y67
// after a line "# IMAGE width height faces". --resize stretches each image
// first (bilinear, facelib/imgproc.h). --dump-ppm writes each decoded
// image as DIR/<n>.ppm (the pixels the detector saw) for other programs to
// read; --repeat times Detect() (median milliseconds on stderr) with
// --threads threads (default 1).
// Used by tests/parity/dlib.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "facelib/dlib_hog.h"
#include "facelib/image.h"
#include "facelib/imgproc.h"
#include "facelib/zoo_model.h"
#include "runtime/error.h"

int main(int argc, char** argv) {
  using namespace facelib;
  std::string models, dump;
  int upsample = 1, repeat = 0, resize_w = 0, resize_h = 0, threads = 1;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "facelib-dlib: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--models") models = value();
    else if (a == "--upsample") upsample = std::atoi(value().c_str());
    else if (a == "--dump-ppm") dump = value();
    else if (a == "--resize") {
      if (std::sscanf(value().c_str(), "%dx%d", &resize_w, &resize_h) != 2 || resize_w <= 0 || resize_h <= 0) {
        std::fprintf(stderr, "facelib-dlib: --resize needs WxH\n");
        return 2;
      }
    }
    else if (a == "--repeat") repeat = std::atoi(value().c_str());
    else if (a == "--threads") threads = std::atoi(value().c_str());
    else if (a == "-h" || a == "--help") {
      std::printf("usage: facelib-dlib [--models DIR] [--upsample N] [--resize WxH] [--dump-ppm DIR] [--repeat N] "
                  "[--threads N] IMAGE...\n");
      return 0;
    } else images.push_back(a);
  }
  try {
    DetectorOptions opts;
    opts.num_threads = threads;
    const DlibHogDetector det(ZooModelPath(models, "dlib_hog_frontal"), ZooModelPath(models, "dlib_shape68"), opts);
    for (size_t k = 0; k < images.size(); ++k) {
      Image img = LoadImage(images[k]);
      if (resize_w > 0) img = Resize(img, resize_w, resize_h);
      if (!dump.empty()) {
        const std::string path = dump + "/" + std::to_string(k) + ".ppm";
        FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) throw Error(ErrorCode::kIoError, "cannot write " + path);
        std::fprintf(f, "P6\n%d %d\n255\n", img.width, img.height);
        std::fwrite(img.pixels.data(), 1, img.pixels.size(), f);
        std::fclose(f);
      }
      const auto faces = det.DetectRaw(img, upsample);
      std::printf("# %s %d %d %zu\n", images[k].c_str(), img.width, img.height, faces.size());
      for (const auto& r : faces) {
        std::printf("%s\t%ld %ld %ld %ld\t%.17g\t%d\t", images[k].c_str(), r.rect.left, r.rect.top, r.rect.right,
                    r.rect.bottom, r.score, r.filter);
        const auto pts = det.shape_predictor()->Predict(img, r.rect);
        for (size_t i = 0; i < pts.size(); ++i) std::printf("%s%.0f,%.0f", i ? " " : "", pts[i].x, pts[i].y);
        std::printf("\n");
      }
      if (repeat > 0) {
        std::vector<double> ms;
        for (int i = 0; i < repeat; ++i) {
          const auto t0 = std::chrono::steady_clock::now();
          const auto d = det.Detect(img);
          ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          if (d.size() != faces.size()) std::fprintf(stderr, "facelib-dlib: unstable face count\n");
        }
        std::sort(ms.begin(), ms.end());
        std::fprintf(stderr, "%s: detect+landmarks median=%.2f ms min=%.2f ms (%d runs)\n", images[k].c_str(),
                     ms[ms.size() / 2], ms[0], repeat);
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "facelib-dlib: %s: %s\n", ErrorCodeName(e.code()), e.what());
    return 1;
  }
  return 0;
}
