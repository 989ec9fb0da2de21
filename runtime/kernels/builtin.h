// Registration of the built-in operator kernels, one function per file.
#pragma once

#include "runtime/kernel.h"

namespace facelib::rt::kernels {

void RegisterConvKernels();         // Conv2D, Dense, MatMul, LocallyConnected2D
void RegisterElementwiseKernels();  // binary ops, activations, PRelu, BatchNorm, ChannelAffine
void RegisterShapeKernels();        // Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Pad, Gather
void RegisterPoolKernels();         // MaxPool, AvgPool, GlobalAvgPool, GlobalMaxPool, Resize
void RegisterNormKernels();         // Softmax, L2Normalize, Reduce*, LRN

inline void RegisterBuiltinKernels() {
  RegisterConvKernels();
  RegisterElementwiseKernels();
  RegisterShapeKernels();
  RegisterPoolKernels();
  RegisterNormKernels();
}

}  // namespace facelib::rt::kernels
