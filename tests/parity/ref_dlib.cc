// Reference side of tests/parity/dlib.sh: real dlib (Debian's libdlib-dev),
// called the way DeepFace's dlib backend calls it from Python:
//   detections, scores, idx = detector.run(bgr_image, 1)   # pyramid_up, detect, rect_down
//   shape = sp(bgr_image, detection)
// The image arrives as a binary PPM written by facelib-dlib --dump-ppm (so
// both sides see the same decoded pixels) and is handed to dlib in BGR order,
// as DeepFace's OpenCV arrays are.
//
//   ref_dlib SHAPE_PREDICTOR.DAT [--repeat N] NAME=FILE.ppm...
// prints the format of facelib-dlib. Built by tests/parity/dlib.sh with g++
// against the installed dlib; not part of the CMake build.
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_processing/shape_predictor.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

bool ReadPpm(const std::string& path, dlib::array2d<dlib::rgb_pixel>* img) {
  std::ifstream f(path, std::ios::binary);
  std::string magic;
  long w = 0, h = 0, maxv = 0;
  if (!(f >> magic >> w >> h >> maxv) || magic != "P6" || maxv != 255 || w <= 0 || h <= 0) return false;
  f.get();
  std::vector<unsigned char> buf(static_cast<size_t>(w) * h * 3);
  if (!f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()))) return false;
  img->set_size(h, w);
  for (long y = 0; y < h; ++y)
    for (long x = 0; x < w; ++x) {
      const unsigned char* p = &buf[(static_cast<size_t>(y) * w + x) * 3];
      // BGR as DeepFace's array; dlib reads channel 0 as red.
      (*img)[y][x] = dlib::rgb_pixel(p[2], p[1], p[0]);
    }
  return true;
}

// dlib's python binding: run_detector_with_upscale1 for an RGB image.
std::vector<dlib::rect_detection> Run(dlib::frontal_face_detector& det, const dlib::array2d<dlib::rgb_pixel>& img,
                                      unsigned upsample) {
  std::vector<dlib::rect_detection> dets;
  if (upsample == 0) {
    det(img, dets, 0.0);
    return dets;
  }
  dlib::pyramid_down<2> pyr;
  dlib::array2d<dlib::rgb_pixel> temp;
  dlib::pyramid_up(img, temp, pyr);
  for (unsigned i = 1; i < upsample; ++i) dlib::pyramid_up(temp);
  det(temp, dets, 0.0);
  for (auto& d : dets) d.rect = pyr.rect_down(d.rect, upsample);
  return dets;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ref_dlib SHAPE_PREDICTOR.DAT [--repeat N] NAME=FILE.ppm...\n");
    return 2;
  }
  dlib::shape_predictor sp;
  dlib::deserialize(argv[1]) >> sp;
  dlib::frontal_face_detector det = dlib::get_frontal_face_detector();
  int repeat = 0;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
      continue;
    }
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq), file = arg.substr(eq + 1);
    dlib::array2d<dlib::rgb_pixel> img;
    if (!ReadPpm(file, &img)) {
      std::fprintf(stderr, "ref_dlib: cannot read %s\n", file.c_str());
      return 1;
    }
    const auto dets = Run(det, img, 1);
    std::printf("# %s %ld %ld %zu\n", name.c_str(), img.nc(), img.nr(), dets.size());
    for (const auto& d : dets) {
      std::printf("%s\t%ld %ld %ld %ld\t%.17g\t%lu\t", name.c_str(), d.rect.left(), d.rect.top(), d.rect.right(),
                  d.rect.bottom(), d.detection_confidence, d.weight_index);
      const dlib::full_object_detection shape = sp(img, d.rect);
      for (unsigned long k = 0; k < shape.num_parts(); ++k)
        std::printf("%s%ld,%ld", k ? " " : "", shape.part(k).x(), shape.part(k).y());
      std::printf("\n");
    }
    if (repeat > 0) {
      std::vector<double> ms;
      for (int r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto d2 = Run(det, img, 1);
        for (const auto& d : d2) (void)sp(img, d.rect);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      std::fprintf(stderr, "%s: detect+landmarks median=%.2f ms min=%.2f ms (%d runs)\n", name.c_str(),
                   ms[ms.size() / 2], ms[0], repeat);
    }
  }
  return 0;
}
