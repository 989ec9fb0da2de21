// libFuzzer target: any byte string given to the model loader must either load
// (and then compile and plan without crashing) or fail with facelib::Error.
#include <cstddef>
#include <cstdint>

#include "runtime/model.h"
#include "runtime/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace facelib;
  try {
    rt::Graph g = rt::LoadGraphFromBuffer(data, size, "fuzz");
    rt::ModelOptions opts;
    opts.num_threads = 1;
    auto model = rt::Model::FromGraph(std::move(g), opts);
    // Plan (and run, when small) with the declared input shapes, dynamic dims set to 4.
    std::vector<rt::Shape> shapes;
    std::vector<std::vector<float>> bufs;
    int64_t total = 0;
    for (size_t i = 0; i < model->num_inputs(); ++i) {
      rt::Shape s = model->input_shape(i);
      for (auto& d : s) d = d < 0 ? 4 : d;
      const int64_t n = rt::NumElements(s);
      total += n;
      if (n > (1 << 16) || total > (1 << 18)) return 0;
      shapes.push_back(s);
      bufs.emplace_back(static_cast<size_t>(n), 0.5f);
    }
    auto plan = model->GetPlan(shapes);
    if (plan->arena_bytes > (64u << 20)) return 0;
    std::vector<rt::TensorView> views;
    for (size_t i = 0; i < shapes.size(); ++i) views.push_back({shapes[i], bufs[i].data()});
    model->Run(views);
  } catch (const Error&) {
  }
  return 0;
}
