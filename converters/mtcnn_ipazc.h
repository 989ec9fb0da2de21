// ipazc/mtcnn weight files (the "mtcnn" package DeepFace uses), converted to
// the facenet-pytorch naming and layout that models/mtcnn_builder.h takes.
//
//   mtcnn/assets/weights/{pnet,rnet,onet}.lz4 (mtcnn >= 1.0): an LZ4 frame
//     around a joblib pickle of a list of Keras arrays: conv kernels HWIO for an
//     upright image, PReLU alphas [1, 1, C], dense [in, out], heads in the order
//     box regression, (landmarks,) classification.
//   mtcnn/data/mtcnn_weights.npy (mtcnn < 1.0): a .npy object array holding a
//     pickled dict {PNet|RNet|ONet: {layer: {weights|biases|alpha: array}}};
//     the conv kernels there are for a transposed image (KH and KW swapped).
// Both copies have the same dense weights, whose input order is [W, H, C].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/mtcnn_builder.h"
#include "models/weights.h"

namespace facelib::convert {

models::WeightMap ReadIpazcMtcnnLz4(const std::vector<uint8_t>& bytes, models::MtcnnNet net, const std::string& label);
models::WeightMap ReadIpazcMtcnnNpy(const std::vector<uint8_t>& bytes, models::MtcnnNet net, const std::string& label);
// Picks the reader from the file's magic bytes.
models::WeightMap LoadIpazcMtcnn(const std::string& path, models::MtcnnNet net);

}  // namespace facelib::convert
