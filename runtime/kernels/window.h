// Parsing of the sliding-window attributes shared by Conv2D, pooling and
// LocallyConnected2D: kernel, strides, dilations, padding ("VALID", "SAME" or
// "EXPLICIT" with pads = [top, left, bottom, right]).
#pragma once

#include "ops/conv2d.h"
#include "runtime/kernel.h"

namespace facelib::rt::kernels {

struct Window2D {
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  ops::PaddingMode mode = ops::PaddingMode::kExplicit;
  int pads[4] = {0, 0, 0, 0};  // top, left, bottom, right (explicit mode)

  // Reads strides/dilations/padding/pads (and kernel when with_kernel) from the node.
  static Window2D Parse(const NodeContext& ctx, bool with_kernel);

  struct Resolved {
    int out_h, out_w, top, left, bottom, right;
  };
  // Output size and padding for an input of in_h x in_w; throws when the window does not fit.
  Resolved Resolve(const NodeDef& n, int64_t in_h, int64_t in_w) const;
};

inline int ToInt(const NodeDef& n, int64_t v, const char* what) {
  if (v < 0 || v > (int64_t{1} << 30)) ShapeError(n, std::string(what) + " " + std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

}  // namespace facelib::rt::kernels
