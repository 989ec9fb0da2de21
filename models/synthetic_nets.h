// Small networks with seeded random weights, built from the same operators as
// the real face models (residual and depthwise-separable blocks, BatchNorm,
// PReLU, pooling, dense heads, fp16 and uint8 storage). They exercise the
// runtime end to end where no converted model is needed: fuzzing seeds, the
// executor benchmark, and a smoke run of facelib-run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/graph.h"

namespace facelib::models {

// ResNet-style: conv-BN-ReLU stem, two residual blocks, global pooling, dense, softmax.
rt::Graph BuildSyntheticResNet(uint32_t seed, int width = 16);
// MobileNet-style: depthwise-separable blocks with ReLU6/hard-swish/PReLU,
// stride 2, concat and an L2-normalised embedding head (weights stored as fp16/uint8).
rt::Graph BuildSyntheticMobileNet(uint32_t seed, int width = 16);

struct SyntheticNet {
  std::string name;
  rt::Graph (*build)(uint32_t, int);
};
const std::vector<SyntheticNet>& SyntheticNets();

}  // namespace facelib::models
