// A loaded, immutable model and the executor that runs it.
//
//   load -> load-time passes (BatchNorm folding, activation fusion) -> one Kernel
//   per node (weights repacked for the CPU's SIMD target) -> per input shape:
//   shape inference + liveness-based memory plan (cached) -> run in a workspace.
//
// Thread safety: a Model is immutable after Load and may be shared by any
// number of threads; Model::Run is safe to call concurrently (each call borrows
// its own workspace from an internal pool). A Session is one caller's
// workspace and must not be used by two threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/graph.h"
#include "runtime/kernel.h"

namespace facelib::rt {

// A tensor passed into a run (borrowed; float32, row-major/NHWC).
struct TensorView {
  Shape shape;
  const float* data = nullptr;
};

// A tensor returned from a run (owned).
struct Tensor {
  Shape shape;
  std::vector<float> data;
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

struct ModelOptions {
  int num_threads = 0;  // default intra-op threads for runs; 0 = all cores
  bool optimize = true; // fold BatchNorm into convs and fuse activations at load
};

struct RunOptions {
  int num_threads = 0;  // 0 = the model's default
};

// Nodes estimated below this many flops run single-threaded (a fork-join costs
// several microseconds, far more when the cores are oversubscribed).
constexpr double kMinParallelFlops = 2e6;

// The memory plan for one set of input shapes.
struct Plan {
  enum class Where : uint8_t { kUnused, kArena, kInput, kConstant };
  struct Loc {
    Where where = Where::kUnused;
    size_t offset = 0;  // kArena: byte offset; kInput: graph input position
  };
  std::vector<Shape> input_shapes;
  std::vector<Shape> shapes;  // per tensor
  std::vector<Loc> locs;      // per tensor
  std::vector<int> root;      // per tensor: the tensor whose buffer it shares (itself unless a view)
  std::vector<size_t> scratch_offset, scratch_bytes;  // per step
  std::vector<char> parallel;  // per step: worth more than one thread
  size_t arena_bytes = 0;  // peak bytes with liveness-based reuse
  size_t naive_bytes = 0;  // what one buffer per tensor would take
};

class Model {
 public:
  static std::shared_ptr<const Model> Load(const std::string& path, const ModelOptions& opts = {});
  static std::shared_ptr<const Model> FromGraph(Graph graph, const ModelOptions& opts = {});
  ~Model();

  size_t num_inputs() const { return graph_.inputs.size(); }
  size_t num_outputs() const { return graph_.outputs.size(); }
  const std::string& input_name(size_t i) const { return graph_.tensors[graph_.inputs[i]].name; }
  const Shape& input_shape(size_t i) const { return graph_.tensors[graph_.inputs[i]].shape; }
  const std::string& output_name(size_t i) const { return graph_.tensors[graph_.outputs[i]].name; }
  // Position of the named input/output; throws kNotFound.
  size_t input_index(const std::string& name) const;
  size_t output_index(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return graph_.metadata; }
  std::string metadata_value(const std::string& key, const std::string& def = "") const;
  size_t num_nodes() const { return order_.size(); }
  const Graph& graph() const { return graph_; }

  // Shape inference and memory plan for these input shapes (cached, thread-safe).
  std::shared_ptr<const Plan> GetPlan(const std::vector<Shape>& input_shapes) const;

  // Runs the model; inputs in declaration order. Thread-safe.
  std::vector<Tensor> Run(const std::vector<TensorView>& inputs, const RunOptions& opts = {}) const;

  int default_threads() const { return default_threads_; }

 private:
  friend class Session;
  Model() = default;
  void Compile();
  struct Workspace;
  std::unique_ptr<Workspace> AcquireWorkspace() const;
  void ReleaseWorkspace(std::unique_ptr<Workspace> ws) const;
  std::vector<Tensor> RunIn(Workspace& ws, const std::vector<TensorView>& inputs, const RunOptions& opts) const;

  Graph graph_;
  std::vector<int> order_;
  std::vector<std::unique_ptr<Kernel>> kernels_;  // per node index
  int default_threads_ = 1;

  mutable std::mutex mu_;
  mutable std::map<std::vector<Shape>, std::shared_ptr<const Plan>> plans_;
  mutable std::vector<std::unique_ptr<Workspace>> free_workspaces_;
};

// One caller's reusable workspace: keeps its arena between runs and re-plans
// only when the input shapes change.
class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model);
  ~Session();
  std::vector<Tensor> Run(const std::vector<TensorView>& inputs, const RunOptions& opts = {});
  // Arena bytes of the current plan (0 before the first run).
  size_t arena_bytes() const;
  const Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Model::Workspace> ws_;
};

// Load-time graph passes (exposed for tests and converters).
void FoldBatchNorm(Graph* g);
void FuseActivations(Graph* g);
// Conv2D chains: a per-channel Mul/Add after a conv becomes its post affine
// (inputs 4, 5), 1x1 + depthwise pairs become Conv2DPair nodes (which also take
// a following 2x2 MaxPool), and a residual Add after a conv moves into the conv
// (its input 3, or 5 of a Conv2DPair).
void FuseConvChains(Graph* g);

}  // namespace facelib::rt
