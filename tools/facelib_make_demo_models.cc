// facelib-make-demo-models DIR: writes the synthetic networks (models/synthetic_nets.h)
// as model files, plus a sample 1x64x64x3 input.npy, into DIR.
#include <sys/stat.h>

#include <cstdio>
#include <random>

#include "models/synthetic_nets.h"
#include "runtime/model_file.h"
#include "runtime/npy.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: facelib-make-demo-models DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  ::mkdir(dir.c_str(), 0755);
  try {
    for (const auto& net : facelib::models::SyntheticNets()) {
      const std::string path = dir + "/" + net.name + ".flm";
      facelib::rt::SaveGraph(net.build(1234, 16), path);
      std::printf("wrote %s\n", path.c_str());
    }
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(64 * 64 * 3);
    for (auto& v : x) v = d(rng);
    facelib::rt::WriteNpy(dir + "/input.npy", {1, 64, 64, 3}, x.data());
    std::printf("wrote %s/input.npy\n", dir.c_str());
  } catch (const facelib::Error& e) {
    std::fprintf(stderr, "facelib-make-demo-models: %s\n", e.what());
    return 1;
  }
  return 0;
}
