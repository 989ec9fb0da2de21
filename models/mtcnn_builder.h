// MTCNN (Zhang et al. 2016) P-Net, R-Net and O-Net as facelib graphs.
//
// Weights use facenet-pytorch's parameter names and PyTorch layouts
// (conv1.weight [O, C, KH, KW], dense4.weight [out, in], prelu1.weight [C]),
// with kernels oriented for an upright image; the dense layers after the
// convolutions read their input in [W, H, C] flatten order (the original Caffe
// nets ran on transposed images). Readers of other copies of these weights
// (ipazc's Keras arrays) convert to this convention first.
//
// Input: NHWC RGB, (pixel - 127.5) * 0.0078125, upright (not transposed).
// P-Net takes any size >= 12x12; R-Net 24x24; O-Net 48x48.
// Outputs: "prob" (softmax, index 1 = face), "bbox_reg" (4 box offsets), and
// for O-Net "landmarks" (x1..x5, y1..y5 relative to the box).
#pragma once

#include <string>

#include "models/weights.h"
#include "runtime/graph.h"

namespace facelib::models {

enum class MtcnnNet { kPNet, kRNet, kONet };

// "pnet" / "rnet" / "onet"; kInvalidArgument otherwise.
MtcnnNet ParseMtcnnNet(const std::string& name);
const char* MtcnnNetName(MtcnnNet net);
// Parameter count of the published nets: 6,632 / 100,178 / 389,040.
int64_t MtcnnParamCount(MtcnnNet net);

rt::Graph BuildMtcnn(MtcnnNet net, const WeightMap& w);

}  // namespace facelib::models
