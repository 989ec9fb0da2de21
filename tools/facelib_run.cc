// facelib-run: runs any facelib model file on .npy inputs.
//
//   facelib-run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR [--threads N] [--repeat N]
//
// Writes each output as DIR/<output name>.npy ('/' and ':' in names become '_'),
// and prints every output's shape, the run time in milliseconds and the arena size.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/npy.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: facelib-run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR\n"
               "                   [--threads N] [--repeat N]\n"
               "  A model with a single input also takes --input FILE.npy.\n");
}

std::string SafeName(std::string s) {
  for (char& c : s)
    if (c == '/' || c == ':' || c == '\\') c = '_';
  return s;
}

int ParsePositive(const char* flag, const char* v) {
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (!end || *end || n < 1 || n > 1'000'000) {
    throw facelib::Error(facelib::ErrorCode::kInvalidArgument, std::string(flag) + " needs a positive integer, got '" + v + "'");
  }
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace facelib;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    Usage();
    return argc < 2 ? 2 : 0;
  }
  try {
    std::string model_path = argv[1], out_dir;
    std::vector<std::pair<std::string, std::string>> inputs;
    int threads = 0, repeat = 1;
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, a + " needs a value");
        return argv[++i];
      };
      if (a == "--input") {
        const std::string v = value();
        const size_t eq = v.find('=');
        if (eq == std::string::npos) inputs.push_back({"", v});
        else inputs.push_back({v.substr(0, eq), v.substr(eq + 1)});
      } else if (a == "--output-dir") {
        out_dir = value();
      } else if (a == "--threads") {
        threads = ParsePositive("--threads", value());
      } else if (a == "--repeat") {
        repeat = ParsePositive("--repeat", value());
      } else {
        throw Error(ErrorCode::kInvalidArgument, "unknown argument '" + a + "'");
      }
    }
    if (out_dir.empty()) throw Error(ErrorCode::kInvalidArgument, "--output-dir is required");
    rt::ModelOptions mo;
    mo.num_threads = threads;
    auto model = rt::Model::Load(model_path, mo);
    std::vector<rt::Tensor> tensors(model->num_inputs());
    std::vector<char> given(model->num_inputs(), 0);
    for (const auto& [name, file] : inputs) {
      size_t idx;
      if (name.empty()) {
        if (model->num_inputs() != 1)
          throw Error(ErrorCode::kInvalidArgument, "the model has several inputs: use --input NAME=FILE.npy");
        idx = 0;
      } else {
        idx = model->input_index(name);
      }
      tensors[idx] = rt::ReadNpy(file);
      given[idx] = 1;
    }
    for (size_t i = 0; i < model->num_inputs(); ++i)
      if (!given[i]) throw Error(ErrorCode::kInvalidArgument, "missing --input for '" + model->input_name(i) + "'");
    std::vector<rt::TensorView> views;
    for (const auto& t : tensors) views.push_back({t.shape, t.data.data()});

    rt::Session session(model);
    std::vector<rt::Tensor> outputs;
    std::vector<double> ms;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      outputs = session.Run(views);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    ::mkdir(out_dir.c_str(), 0755);
    for (size_t o = 0; o < outputs.size(); ++o) {
      const std::string path = out_dir + "/" + SafeName(model->output_name(o)) + ".npy";
      rt::WriteNpy(path, outputs[o].shape, outputs[o].data.data());
      std::printf("output %s %s -> %s\n", model->output_name(o).c_str(), rt::ShapeToString(outputs[o].shape).c_str(),
                  path.c_str());
    }
    const double first = ms.front();
    std::sort(ms.begin(), ms.end());
    std::printf("time_ms first=%.3f median=%.3f min=%.3f runs=%d threads=%d arena_bytes=%zu\n", first,
                ms[ms.size() / 2], ms.front(), repeat, threads > 0 ? threads : model->default_threads(),
                session.arena_bytes());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "facelib-run: %s: %s\n", ErrorCodeName(e.code()), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "facelib-run: error: %s\n", e.what());
    return 1;
  }
}
