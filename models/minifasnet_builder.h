// MiniFASNet anti-spoofing nets (minivision-ai Silent-Face-Anti-Spoofing;
// DeepFace's FasNet uses the V2 and V1SE checkpoints and averages their
// softmax outputs).
//
// The structure is read from the state dict (PyTorch names without the
// "module." prefix): conv1 (3x3/2) and conv2_dw, then the downsampling
// depthwise blocks conv_23, conv_34, conv_45 and the residual stages conv_3,
// conv_4, conv_5 (as many blocks as the checkpoint has; a block with
// se_module.* weights gets a squeeze-and-excitation step), conv_6_sep,
// the 5x5 depthwise conv_6_dw, linear + BatchNorm1d, and the 3-way `prob`
// layer. Channel counts come from the weights, so V2 and V1SE share this
// builder.
//
// Input: NHWC 80x80 BGR, raw 0..255 values (no mean or scale).
// Outputs: "logits" [N, 3] and "probs" (softmax); class 1 = real face.
#pragma once

#include <string>

#include "models/weights.h"
#include "runtime/graph.h"

namespace facelib::models {

enum class MiniFasNetVariant { kV2, kV1SE };

// `variant` is checked against the checkpoint (V1SE must have SE blocks, V2 none).
rt::Graph BuildMiniFasNet(MiniFasNetVariant variant, const WeightMap& w);

}  // namespace facelib::models
