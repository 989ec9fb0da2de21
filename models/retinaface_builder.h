// RetinaFace with the MobileNet-0.25 backbone (biubug6/Pytorch_Retinaface,
// Final_Retinaface.pth / mobilenet0.25_Final.pth).
//
// Backbone: conv_bn 3->8 /2, then conv_dw blocks (depthwise 3x3 + BN + leaky,
// pointwise 1x1 + BN + leaky; LeakyReLU 0.1 throughout); stage1 ends at
// stride 8 (64 ch), stage2 at 16 (128), stage3 at 32 (256). FPN: 1x1 lateral
// convs to 64 ch, nearest x2 upsampling + add, 3x3 merge convs. SSH context
// modules per level (3x3 -> 32 ch, 5x5 and 7x7 branches as stacked 3x3 -> 16
// ch each; concat, ReLU). Heads: 1x1 convs with 2 anchors per cell.
//
// Input: NHWC BGR, pixel - (104, 117, 123), no scaling; H and W multiples of
// 32 (the FPN upsamples by exactly 2, which matches PyTorch's size-based
// interpolation only then; pad the image bottom/right otherwise).
// Outputs (anchors ordered by level 8/16/32, then row, column, anchor):
// "loc" [N, A, 4], "conf" [N, A, 2] (softmax, index 1 = face), "landms" [N, A, 10].
// Priors: min sizes {16, 32}, {64, 128}, {256, 512}; variances 0.1, 0.2.
#pragma once

#include "models/weights.h"
#include "runtime/graph.h"

namespace facelib::models {

rt::Graph BuildRetinaFaceMobileNet025(const WeightMap& w);

}  // namespace facelib::models
