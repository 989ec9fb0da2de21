// facelib-run: runs any facelib model file on .npy inputs.
//
//   facelib-run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR [--threads N] [--repeat N] [--profile]
//
// --profile: afterwards, times every node on its own (a one-node model fed with the
// shapes of this run, median of --repeat runs) and prints them, slowest first.
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
               "                   [--threads N] [--repeat N] [--profile]\n"
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

double MedianMs(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Times each node of the loaded (optimised) graph in isolation: the node alone in a
// model whose run-time inputs get the shapes this run gave them.
void Profile(const facelib::rt::Model& model, const std::vector<facelib::rt::Shape>& input_shapes, int threads,
             int repeat) {
  using namespace facelib::rt;
  const Graph& g = model.graph();
  const auto plan = model.GetPlan(input_shapes);
  struct Row {
    double ms;
    std::string op, name, shapes;
  };
  std::vector<Row> rows;
  double total = 0;
  for (int ni : g.TopologicalOrder()) {
    const NodeDef& n = g.nodes[ni];
    Graph sub;
    NodeDef copy = n;
    std::vector<Shape> feed_shapes;
    std::string shapes;
    for (int& t : copy.inputs) {
      if (t < 0) continue;
      const TensorDef& td = g.tensors[t];
      const Shape& shape = plan->shapes[t];
      if (td.constant) {
        t = sub.AddConstant(td.name, td.shape, *td.constant);
      } else {
        feed_shapes.push_back(shape);
        shapes += (shapes.empty() ? "" : ",") + ShapeToString(shape);
        t = sub.AddInput(td.name, shape);
      }
    }
    std::vector<int> outs = sub.AddNode(copy.op, copy.inputs, copy.attrs, static_cast<int>(copy.outputs.size()), copy.name);
    for (int o : outs) sub.MarkOutput(o);
    shapes += " -> " + ShapeToString(plan->shapes[n.outputs[0]]);
    ModelOptions mo;
    mo.num_threads = threads;
    mo.optimize = false;
    auto m = Model::FromGraph(std::move(sub), mo);
    std::vector<std::vector<float>> data;
    std::vector<TensorView> views;
    for (const Shape& s : feed_shapes) data.emplace_back(static_cast<size_t>(NumElements(s)), 0.5f);
    for (size_t i = 0; i < feed_shapes.size(); ++i) views.push_back({feed_shapes[i], data[i].data()});
    Session session(m);
    session.Run(views);
    std::vector<double> ms;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      session.Run(views);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    rows.push_back({MedianMs(ms), n.op, n.name, shapes});
    total += rows.back().ms;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.ms > b.ms; });
  std::printf("profile: %zu nodes, sum of isolated medians %.3f ms\n", rows.size(), total);
  for (const Row& r : rows)
    std::printf("  %8.3f ms %5.1f%%  %-14s %s  %s\n", r.ms, total > 0 ? 100 * r.ms / total : 0.0, r.op.c_str(),
                r.shapes.c_str(), r.name.c_str());
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
    bool profile = false;
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
      } else if (a == "--profile") {
        profile = true;
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
    if (profile) {
      std::vector<rt::Shape> shapes;
      for (const auto& v : views) shapes.push_back(v.shape);
      Profile(*model, shapes, threads > 0 ? threads : model->default_threads(), repeat);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "facelib-run: %s: %s\n", ErrorCodeName(e.code()), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "facelib-run: error: %s\n", e.what());
    return 1;
  }
}
