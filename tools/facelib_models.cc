// facelib-models [--json] [--run] [--dir DIR]: lists the model zoo: name, task,
// file, input shape and source of each model, and whether it has been set up.
// --run also loads every present model and times one inference on a synthetic
// input of its size (dynamic sizes: 320x320).
#include <sys/stat.h>

#include <cstdio>
#include <chrono>
#include <cstring>
#include <string>

#include "models/zoo.h"
#include "runtime/model.h"
#include "runtime/model_file.h"

namespace {

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
      continue;
    }
    o += c;
  }
  return o + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace facelib;
  bool json = false, run = false;
  std::string dir = "build/models";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) json = true;
    else if (!std::strcmp(argv[i], "--run")) run = true;
    else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: facelib-models [--json] [--run] [--dir DIR]\n");
      return 2;
    }
  }
  if (json) std::printf("[\n");
  bool first = true;
  for (const models::ModelInfo& m : models::Zoo()) {
    const std::string path = dir + "/" + m.name + ".flm";
    struct stat st;
    const bool present = ::stat(path.c_str(), &st) == 0;
    std::string source, sha;
    if (present) {
      try {
        const rt::Graph g = rt::LoadGraphFromFile(path);
        auto get = [&](const char* k) {
          auto it = g.metadata.find(k);
          return it == g.metadata.end() ? std::string() : it->second;
        };
        source = get("source_file");
        if (source.empty()) source = get("source_file0");
        sha = get("source_sha256");
        if (sha.empty()) sha = get("source_sha2560");
      } catch (const Error& e) {
        source = std::string("unreadable: ") + e.what();
      }
    }
    const std::string shape = "[1," + (m.input.height ? std::to_string(m.input.height) : std::string("-1")) + "," +
                              (m.input.width ? std::to_string(m.input.width) : std::string("-1")) + "," +
                              std::to_string(m.input.channels) + "]";
    if (json) {
      std::printf("%s  {\"name\": %s, \"task\": %s, \"path\": %s, \"present\": %s, \"input_shape\": %s, "
                  "\"source\": %s, \"source_sha256\": %s, \"description\": %s}",
                  first ? "" : ",\n", JsonString(m.name).c_str(), JsonString(models::TaskName(m.task)).c_str(),
                  JsonString(path).c_str(), present ? "true" : "false", shape.c_str(), JsonString(source).c_str(),
                  JsonString(sha).c_str(), JsonString(m.description).c_str());
    } else {
      std::string timing;
      if (run && present) {
        try {
          rt::ModelOptions mo;
          mo.num_threads = 1;
          auto model = rt::Model::Load(path, mo);
          std::vector<rt::Tensor> in(model->num_inputs());
          std::vector<rt::TensorView> views;
          for (size_t i = 0; i < model->num_inputs(); ++i) {
            rt::Shape s = model->input_shape(i);
            for (size_t d = 0; d < s.size(); ++d)
              if (s[d] < 0) s[d] = d == 0 ? 1 : 320;
            in[i].shape = s;
            in[i].data.assign(static_cast<size_t>(rt::NumElements(s)), 0.5f);
            views.push_back({s, in[i].data.data()});
          }
          rt::Session session(model);
          session.Run(views);  // plan and warm up
          const auto t0 = std::chrono::steady_clock::now();
          const auto out = session.Run(views);
          const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          char buf[96];
          std::snprintf(buf, sizeof buf, "  %.2f ms, %zu outputs", ms, out.size());
          timing = buf;
        } catch (const Error& e) {
          timing = std::string("  error: ") + e.what();
        }
      }
      std::printf("%-26s %-10s %-15s %-8s %s%s\n", m.name.c_str(), models::TaskName(m.task), shape.c_str(),
                  present ? "ready" : "missing", source.c_str(), timing.c_str());
    }
    first = false;
  }
  if (json) std::printf("\n]\n");
  return 0;
}
