#include "models/weights.h"

#include "runtime/error.h"

namespace facelib::models {

const WeightTensor& WeightMap::Get(const std::string& name, const rt::Shape& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(ErrorCode::kInvalidModel, label_ + ": missing weight '" + name + "'");
  if (!shape.empty()) {
    bool ok = shape.size() == it->second.shape.size();
    for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == it->second.shape[i];
    if (!ok)
      throw Error(ErrorCode::kInvalidModel, label_ + ": weight '" + name + "' has shape " +
                                                rt::ShapeToString(it->second.shape) + ", expected " +
                                                rt::ShapeToString(shape));
  }
  return it->second;
}

int64_t WeightMap::CountValues(bool (*filter)(const std::string&)) const {
  int64_t n = 0;
  for (const auto& [name, t] : tensors_)
    if (!filter || filter(name)) n += static_cast<int64_t>(t.data.size());
  return n;
}

}  // namespace facelib::models
