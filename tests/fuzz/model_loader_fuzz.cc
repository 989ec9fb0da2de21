// libFuzzer target: any byte string given to the model loader must either load
// (and then compile and plan without crashing) or fail with facelib::Error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "runtime/model.h"
#include "runtime/model_file.h"

namespace {

// Most mutations of a model file break the weight checksum and stop at that
// check; to let the fuzzer reach the FlatBuffers verifier and the semantic
// checks too, every input is also tried with its checksum field recomputed.
std::vector<uint8_t> WithFixedChecksum(const uint8_t* data, size_t size) {
  std::vector<uint8_t> copy(data, data + size);
  if (size < facelib::rt::kHeaderSize) return copy;
  uint64_t data_off, data_size;
  std::memcpy(&data_off, data + 32, 8);
  std::memcpy(&data_size, data + 40, 8);
  if (data_off > size || data_size > size - data_off) return copy;
  const uint64_t sum = facelib::rt::DataChecksum(data + data_off, data_size);
  std::memcpy(copy.data() + 48, &sum, 8);
  return copy;
}

void LoadAndRun(const uint8_t* data, size_t size) {
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
      if (n > (1 << 16) || total > (1 << 18)) return;
      shapes.push_back(s);
      bufs.emplace_back(static_cast<size_t>(n), 0.5f);
    }
    auto plan = model->GetPlan(shapes);
    if (plan->arena_bytes > (64u << 20)) return;
    std::vector<rt::TensorView> views;
    for (size_t i = 0; i < shapes.size(); ++i) views.push_back({shapes[i], bufs[i].data()});
    model->Run(views);
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  LoadAndRun(data, size);
  const std::vector<uint8_t> fixed = WithFixedChecksum(data, size);
  LoadAndRun(fixed.data(), fixed.size());
  return 0;
}
