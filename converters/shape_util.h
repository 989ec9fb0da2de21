// Small shape helpers shared by the converters' constant folders.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/graph.h"

namespace facelib::convert {

// Element count of a static shape.
inline int64_t Product(const rt::Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Row-major strides in elements.
inline std::vector<int64_t> Strides(const rt::Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

}  // namespace facelib::convert
