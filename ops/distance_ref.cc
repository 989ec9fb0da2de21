#include <cmath>

#include "ops/distance.h"

namespace facelib::ops {

void RowDotRef(const RowsShape& s, const float* query, const float* rows, float* out) {
  for (size_t i = 0; i < s.rows; ++i) {
    const float* r = rows + i * s.dim;
    double acc = 0.0;
    for (size_t k = 0; k < s.dim; ++k) acc += static_cast<double>(query[k]) * r[k];
    out[i] = static_cast<float>(acc);
  }
}

void RowSquaredL2Ref(const RowsShape& s, const float* query, const float* rows, const float* scale, float* out) {
  for (size_t i = 0; i < s.rows; ++i) {
    const float* r = rows + i * s.dim;
    const double sc = scale ? scale[i] : 1.0;
    double acc = 0.0;
    for (size_t k = 0; k < s.dim; ++k) {
      const double diff = static_cast<double>(query[k]) - sc * r[k];
      acc += diff * diff;
    }
    out[i] = static_cast<float>(acc);
  }
}

void RowNormRef(const RowsShape& s, const float* rows, float* out) {
  for (size_t i = 0; i < s.rows; ++i) {
    const float* r = rows + i * s.dim;
    double acc = 0.0;
    for (size_t k = 0; k < s.dim; ++k) acc += static_cast<double>(r[k]) * r[k];
    out[i] = static_cast<float>(std::sqrt(acc));
  }
}

}  // namespace facelib::ops
