// Named weight tensors handed from a checkpoint reader to an architecture
// builder. Values are float32 in the source framework's own layout (PyTorch:
// conv OIHW, linear [out, in]); the builders convert to facelib's layouts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/graph.h"

namespace facelib::models {

struct WeightTensor {
  rt::Shape shape;
  std::vector<float> data;
};

class WeightMap {
 public:
  explicit WeightMap(std::string label = "weights") : label_(std::move(label)) {}

  void Add(const std::string& name, WeightTensor t) { tensors_[name] = std::move(t); }
  bool Has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws kInvalidModel naming the tensor when it is missing or, if `shape`
  // is given, has another shape (-1 in `shape` matches any size).
  const WeightTensor& Get(const std::string& name, const rt::Shape& shape = {}) const;
  const std::map<std::string, WeightTensor>& tensors() const { return tensors_; }
  const std::string& label() const { return label_; }
  // Number of float values over all tensors whose name passes `filter`
  // (nullptr: all).
  int64_t CountValues(bool (*filter)(const std::string&) = nullptr) const;

 private:
  std::string label_;
  std::map<std::string, WeightTensor> tensors_;
};

}  // namespace facelib::models
