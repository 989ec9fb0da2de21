// facelib-haar: runs facelib's Haar cascades on image files (the parity
// harness tests/parity/opencv.sh compares its output with OpenCV's).
//
//   facelib-haar --face FACE.flm [--eye EYE.flm] [options] IMAGE...
//   facelib-haar --cascade CASCADE.flm [options] IMAGE...
//
// --face: DeepFace's opencv backend (scale 1.1, 10 neighbours, eyes from
// --eye on each face crop). --cascade: one cascade's detectMultiScale with
// --scale (1.1) and --neighbors (3; 0 = every window that passed).
// Other options: --threads N (1), --repeat N (time N runs, print the median),
// --scalar (no SIMD path), --resize WxH (bilinear, before the gray conversion),
// --dump-gray DIR (write each gray image searched as DIR/<n>.pgm, n = position
// on the command line).
//
// Output, tab-separated, one line per item, images numbered from 0:
//   face    n  i  x y w h  level  weight   (face cascade, detectMultiScale3 order)
//   eyebox  n  i  x y w h                  (eye cascade boxes in face i's crop)
//   det     n  i  x y w h  confidence  lx ly rx ry | -   (HaarFaceDetector::Detect, with --eye)
//   box     n  i  x y w h  level  weight   (--cascade)
//   time    n  cascade_ms [detect_ms]      (medians of --repeat runs)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "facelib/haar_cascade.h"
#include "facelib/image.h"
#include "facelib/imgproc.h"
#include "runtime/error.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: facelib-haar (--face FACE.flm [--eye EYE.flm] | --cascade CASCADE.flm) [--scale F]\n"
               "                    [--neighbors N] [--threads N] [--repeat N] [--scalar] [--resize WxH]\n"
               "                    [--dump-gray DIR] IMAGE...\n");
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

void WritePgm(const facelib::Image& g, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw facelib::Error(facelib::ErrorCode::kIoError, "cannot write " + path);
  std::fprintf(f, "P5\n%d %d\n255\n", g.width, g.height);
  const size_t n = g.pixels.size();
  const bool ok = std::fwrite(g.pixels.data(), 1, n, f) == n;
  if (std::fclose(f) != 0 || !ok) throw facelib::Error(facelib::ErrorCode::kIoError, "cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace facelib;
  std::string face_path, eye_path, cascade_path, dump_dir;
  int resize_w = 0, resize_h = 0;
  double scale = 1.1;
  int neighbors = -1, threads = 1, repeat = 0;
  bool scalar = false;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--face") face_path = value();
    else if (a == "--eye") eye_path = value();
    else if (a == "--cascade") cascade_path = value();
    else if (a == "--scale") scale = std::atof(value().c_str());
    else if (a == "--neighbors") neighbors = std::atoi(value().c_str());
    else if (a == "--threads") threads = std::atoi(value().c_str());
    else if (a == "--repeat") repeat = std::atoi(value().c_str());
    else if (a == "--scalar") scalar = true;
    else if (a == "--dump-gray") dump_dir = value();
    else if (a == "--resize") {
      if (std::sscanf(value().c_str(), "%dx%d", &resize_w, &resize_h) != 2 || resize_w <= 0 || resize_h <= 0) {
        Usage();
        return 2;
      }
    }
    else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (a.rfind("--", 0) == 0) {
      Usage();
      return 2;
    } else {
      images.push_back(a);
    }
  }
  if ((face_path.empty() == cascade_path.empty()) || images.empty()) {
    Usage();
    return 2;
  }
  try {
    HaarScanOptions o;
    o.scale_factor = scale;
    o.num_threads = threads;
    o.force_scalar = scalar;
    std::unique_ptr<HaarCascade> cascade, eyes;
    std::unique_ptr<HaarFaceDetector> detector;
    if (!cascade_path.empty()) {
      cascade = std::make_unique<HaarCascade>(cascade_path);
      o.min_neighbors = neighbors < 0 ? 3 : neighbors;
    } else {
      cascade = std::make_unique<HaarCascade>(face_path);
      o.min_neighbors = neighbors < 0 ? 10 : neighbors;
      if (!eye_path.empty()) {
        eyes = std::make_unique<HaarCascade>(eye_path);
        DetectorOptions dopt;
        dopt.num_threads = threads;
        detector = std::make_unique<HaarFaceDetector>(face_path, eye_path, dopt);
      }
    }
    for (size_t n = 0; n < images.size(); ++n) {
      Image img = LoadImage(images[n]);
      if (resize_w > 0) img = Resize(img, resize_w, resize_h);
      const Image gray = ToGray(img);
      if (!dump_dir.empty()) WritePgm(gray, dump_dir + "/" + std::to_string(n) + ".pgm");
      const auto ms_since = [](std::chrono::steady_clock::time_point t0) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      };
      std::vector<double> t_cascade, t_detect;
      HaarDetections found;
      std::vector<Detection> dets;
      for (int r = 0; r < std::max(repeat, 1); ++r) {
        auto t0 = std::chrono::steady_clock::now();
        found = cascade->DetectMultiScale(gray, o);
        t_cascade.push_back(ms_since(t0));
        if (detector) {
          t0 = std::chrono::steady_clock::now();
          dets = detector->Detect(gray);
          t_detect.push_back(ms_since(t0));
        }
      }
      const char* kind = cascade_path.empty() ? "face" : "box";
      for (size_t i = 0; i < found.size(); ++i) {
        const IntRect& b = found.boxes[i];
        std::printf("%s\t%zu\t%zu\t%d\t%d\t%d\t%d\t%d\t%.9g\n", kind, n, i, b.x, b.y, b.w, b.h,
                    found.reject_levels[i], found.level_weights[i]);
        if (!eyes) continue;
        // The eye cascade's own boxes in the face crop (clipped to the image), for diagnosis.
        const int x0 = std::clamp(b.x, 0, gray.width), y0 = std::clamp(b.y, 0, gray.height);
        const int x1 = std::clamp(b.x + b.w, 0, gray.width), y1 = std::clamp(b.y + b.h, 0, gray.height);
        if (x1 <= x0 || y1 <= y0) continue;
        HaarScanOptions eo = o;
        eo.min_neighbors = 10;
        for (const IntRect& e : eyes->DetectMultiScale(Crop(gray, x0, y0, x1 - x0, y1 - y0), eo).boxes)
          std::printf("eyebox\t%zu\t%zu\t%d\t%d\t%d\t%d\n", n, i, e.x, e.y, e.w, e.h);
      }
      // HaarFaceDetector's detections (highest confidence first) with their eyes.
      for (size_t i = 0; i < dets.size(); ++i) {
        const Detection& d = dets[i];
        std::printf("det\t%zu\t%zu\t%d\t%d\t%d\t%d\t%.7f", n, i, static_cast<int>(d.box.x),
                    static_cast<int>(d.box.y), static_cast<int>(d.box.w), static_cast<int>(d.box.h), d.confidence);
        if (d.left_eye && d.right_eye)
          std::printf("\t%d\t%d\t%d\t%d\n", static_cast<int>(d.left_eye->x), static_cast<int>(d.left_eye->y),
                      static_cast<int>(d.right_eye->x), static_cast<int>(d.right_eye->y));
        else
          std::printf("\t-\n");
      }
      if (repeat > 0) {
        std::printf("time\t%zu\t%.3f", n, Median(t_cascade));
        if (detector) std::printf("\t%.3f", Median(t_detect));
        std::printf("\n");
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "facelib-haar: %s: %s\n", ErrorCodeName(e.code()), e.what());
    return 1;
  }
  return 0;
}
