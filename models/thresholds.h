// Verification thresholds of the recognizers, tuned on the development LFW
// pairs (see `how` for each entry), and the logistic calibration used for the
// 0..100 confidence of a verification.
#pragma once

#include <string>
#include <vector>

namespace facelib::models {

struct TunedThreshold {
  std::string zoo_model;  // recognizer's model file
  std::string metric;     // cosine, euclidean, euclidean_l2, angular
  float threshold;        // same person when distance <= threshold
  double logit_w, logit_b;  // P(same) = 1 / (1 + exp(-(w * distance + b)))
  float accuracy;         // 10-fold accuracy on the tuning pairs, percent
  std::string how;        // detector, alignment and data the value was tuned with
};

const std::vector<TunedThreshold>& Thresholds();
// nullptr when (zoo_model, metric) has no tuned entry.
const TunedThreshold* FindThreshold(const std::string& zoo_model, const std::string& metric);

}  // namespace facelib::models
