// In-memory graph: what a model file describes, after decoding. The loader
// produces it, load-time passes (BatchNorm folding, activation fusion) rewrite
// it, the writer serialises it, and the executor compiles it into kernels.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runtime/error.h"

namespace facelib::rt {

using Shape = std::vector<int64_t>;

// Number of elements; throws kInvalidArgument on negative dims or overflow past `limit`.
int64_t NumElements(const Shape& s, int64_t limit = int64_t{1} << 40);
std::string ShapeToString(const Shape& s);

// How a constant is stored in the file (the in-memory value is always fp32 or int).
enum class Storage : int8_t { kFloat32 = 0, kFloat16 = 1, kUInt8 = 2, kInt32 = 3 };

struct Constant {
  // Float constants: fp32 values (view into the mapped file or into `owner`).
  const float* f32 = nullptr;
  std::shared_ptr<const void> owner;
  // Integer constants (Storage::kInt32).
  std::vector<int64_t> ints;
  bool is_int = false;
  // Requested storage when written (kUInt8 quantises per tensor, kFloat16 rounds).
  Storage storage = Storage::kFloat32;

  static Constant FromFloats(std::vector<float> values, Storage storage = Storage::kFloat32);
  static Constant FromInts(std::vector<int64_t> values);
};

struct TensorDef {
  std::string name;
  Shape shape;  // -1 = dynamic (graph inputs)
  std::optional<Constant> constant;
  bool is_constant() const { return constant.has_value(); }
};

class Attr {
 public:
  using Value = std::variant<int64_t, float, std::vector<int64_t>, std::vector<float>, std::string>;
  Attr() = default;
  Attr(int64_t v) : v_(v) {}
  Attr(int v) : v_(int64_t{v}) {}
  Attr(float v) : v_(v) {}
  Attr(double v) : v_(static_cast<float>(v)) {}
  Attr(std::vector<int64_t> v) : v_(std::move(v)) {}
  Attr(std::vector<float> v) : v_(std::move(v)) {}
  Attr(std::string v) : v_(std::move(v)) {}
  Attr(const char* v) : v_(std::string(v)) {}
  const Value& value() const { return v_; }

 private:
  Value v_;
};

struct NodeDef {
  std::string name;
  std::string op;
  std::vector<int> inputs;   // -1 = optional input absent
  std::vector<int> outputs;
  std::map<std::string, Attr> attrs;

  // Typed attribute access. Missing -> default; wrong type -> kInvalidModel naming node and attr.
  bool Has(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t GetInt(const std::string& key, int64_t def) const;
  float GetFloat(const std::string& key, float def) const;
  std::vector<int64_t> GetInts(const std::string& key, std::vector<int64_t> def = {}) const;
  std::vector<float> GetFloats(const std::string& key, std::vector<float> def = {}) const;
  std::string GetString(const std::string& key, std::string def = "") const;
  // "node 'name' (Op)" for error messages.
  std::string Describe() const;
};

struct Graph {
  std::vector<TensorDef> tensors;
  std::vector<NodeDef> nodes;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::map<std::string, std::string> metadata;
  std::string producer;

  // Builder helpers (used by converters and tests).
  int AddInput(const std::string& name, Shape shape);
  int AddConstant(const std::string& name, Shape shape, Constant c);
  int AddTensor(const std::string& name, Shape shape = {});
  // Adds a node with fresh output tensors; returns their indices.
  std::vector<int> AddNode(const std::string& op, std::vector<int> inputs,
                           std::map<std::string, Attr> attrs = {}, int num_outputs = 1,
                           const std::string& name = "");
  int AddNode1(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs = {},
               const std::string& name = "") {
    return AddNode(op, std::move(inputs), std::move(attrs), 1, name)[0];
  }
  void MarkOutput(int tensor) { outputs.push_back(tensor); }

  // Structural checks: indices in range, single producer per tensor, constants and
  // inputs never produced, every consumed tensor defined, outputs defined, no
  // cycles. Throws kInvalidModel naming the problem.
  void Validate() const;
  // Node indices in a valid execution order (Validate() first).
  std::vector<int> TopologicalOrder() const;
};

}  // namespace facelib::rt
