// The runtime side of an operator: attribute parsing and weight packing when a
// model is loaded (the factory), shape inference, scratch size, and the call
// into the ops/ kernel. A Kernel is immutable after creation, so one loaded
// model can serve concurrent runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ops/common.h"
#include "runtime/graph.h"

namespace facelib::rt {

// What a factory sees of its node.
class NodeContext {
 public:
  NodeContext(const Graph& g, const NodeDef& n) : graph_(g), node_(n) {}
  const NodeDef& node() const { return node_; }
  size_t num_inputs() const { return node_.inputs.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(size_t i) const { return i < node_.inputs.size() && node_.inputs[i] >= 0; }
  const TensorDef* input(size_t i) const { return has_input(i) ? &graph_.tensors[node_.inputs[i]] : nullptr; }
  // The constant feeding input i, or nullptr when that input is computed at run time.
  const Constant* constant(size_t i) const {
    const TensorDef* t = input(i);
    return t && t->is_constant() ? &*t->constant : nullptr;
  }
  // Input i must be a float constant of the given element count; returns its data.
  const float* RequireFloatConstant(size_t i, int64_t count, const char* what) const;
  // Throws kInvalidModel with "node 'x' (Op): message".
  [[noreturn]] void Fail(const std::string& message) const;
  void RequireInputs(size_t min, size_t max) const;

 private:
  const Graph& graph_;
  const NodeDef& node_;
};

struct RunContext {
  const ops::ExecContext& exec;
  const std::vector<const float*>& inputs;  // nullptr for absent optional inputs
  const std::vector<Shape>& in_shapes;
  const std::vector<float*>& outputs;
  const std::vector<Shape>& out_shapes;
  void* scratch;  // ScratchBytes() bytes, 64-byte aligned
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Output shapes for these input shapes; throws kInvalidArgument when they do not fit.
  virtual std::vector<Shape> InferShapes(const std::vector<Shape>& in) const = 0;
  virtual size_t ScratchBytes(const std::vector<Shape>& in, const std::vector<Shape>& out) const { return 0; }
  // True when output 0 is input 0's data under another shape (Reshape, Flatten...):
  // the planner aliases the buffers and Run is never called.
  virtual bool IsView() const { return false; }
  // Rough work estimate in flops (default: one per output element). The executor
  // runs cheap nodes on one thread: a fork-join costs more than they do.
  virtual double Cost(const std::vector<Shape>& in, const std::vector<Shape>& out) const;
  virtual void Run(const RunContext& rc) const = 0;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const NodeContext&)>;

void RegisterKernel(const std::string& op, KernelFactory factory);
// Throws kUnsupported naming the op when no kernel is registered for it.
std::unique_ptr<Kernel> CreateKernel(const NodeContext& ctx);
std::vector<std::string> RegisteredOps();

// Shared attribute helpers.
ops::Activation ParseActivation(const NodeDef& n);
void SetActivationAttrs(NodeDef* n, const ops::Activation& a);
// Normalises a possibly negative axis against rank; throws naming the node.
int NormalizeAxis(const NodeDef& n, int64_t axis, size_t rank);
[[noreturn]] void ShapeError(const NodeDef& n, const std::string& message);

}  // namespace facelib::rt
