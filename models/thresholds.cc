#include "models/thresholds.h"

namespace facelib::models {

// Tuned with `build/bin/facelib-eval lfw --data ../shared/eval-dev/lfw --model M --detector mtcnn --align landmarks`
// (flip augmentation on, the defaults of verify): the threshold is the midpoint between neighbouring distances that
// maximises accuracy on all 300 pairs; `accuracy` is the 10-fold cross-validated accuracy (threshold chosen on
// 9 folds, tested on the 10th); logit_w/b are a logistic fit of same-person against distance on the same pairs.
const std::vector<TunedThreshold>& Thresholds() {
  static const std::string kHow =
      "LFW dev pairs (300, ../shared/eval-dev/lfw), detector mtcnn, alignment landmarks, flip augmentation";
  static const std::vector<TunedThreshold> kList = {
      {"expo_mobilefacenet", "cosine", 0.533649f, -27.5384, 16.2365, 99.33f, kHow},
      {"expo_mobilefacenet", "euclidean", 133.481f, -0.151386, 20.6964, 97.67f, kHow},
      {"expo_mobilefacenet", "euclidean_l2", 1.03309f, -30.1155, 32.5882, 99.33f, kHow},
      {"expo_mobilefacenet", "angular", 0.345566f, -78.7153, 28.6972, 99.33f, kHow},
      {"faceapi_recognition", "cosine", 0.0507706f, -166.391, 8.69354, 92.67f, kHow},
      {"faceapi_recognition", "euclidean", 0.878561f, -19.546, 17.2528, 90.33f, kHow},
      {"faceapi_recognition", "euclidean_l2", 0.318653f, -53.7646, 17.2761, 92.67f, kHow},
      {"faceapi_recognition", "angular", 0.101865f, -166.626, 17.1197, 92.67f, kHow},
      {"human_faceres", "cosine", 0.484314f, -41.813, 19.4104, 97.0f, kHow},
      {"human_faceres", "euclidean", 21.4327f, -1.42332, 30.1662, 95.0f, kHow},
      {"human_faceres", "euclidean_l2", 0.984188f, -40.6874, 39.137, 97.0f, kHow},
      {"human_faceres", "angular", 0.327537f, -111.474, 35.6257, 97.0f, kHow},
      {"human_mobilefacenet", "cosine", 7.9132e-05f, -12458.6, 1.22182, 66.33f, kHow},
      {"human_mobilefacenet", "euclidean", 0.0251604f, -95.8673, 2.5246, 66.33f, kHow},
      {"human_mobilefacenet", "euclidean_l2", 0.0125803f, -191.732, 2.52459, 66.33f, kHow},
      {"human_mobilefacenet", "angular", 0.00400446f, -602.326, 2.52454, 66.33f, kHow},
  };
  return kList;
}

const TunedThreshold* FindThreshold(const std::string& zoo_model, const std::string& metric) {
  for (const auto& t : Thresholds())
    if (t.zoo_model == zoo_model && t.metric == metric) return &t;
  return nullptr;
}

}  // namespace facelib::models
