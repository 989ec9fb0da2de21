// Reading PyTorch checkpoints without PyTorch: the zip format (torch.save
// since 1.6: archive/data.pkl + archive/data/<key>) and the legacy format
// (magic number, protocol and sys-info pickles, the object pickle with
// persistent storage ids, the storage key list, then each storage as an int64
// element count and raw little-endian data).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/weights.h"

namespace facelib::convert {

enum class TorchContainer { kZip, kLegacy };

struct TorchStateDict {
  TorchContainer container = TorchContainer::kLegacy;
  models::WeightMap weights;
};

// Every tensor of a state dict (or of the dict under "state_dict" / "model"
// in a training checkpoint), converted to float32. A leading "module." (from
// nn.DataParallel) is removed from the names.
TorchStateDict ReadTorchStateDict(const std::vector<uint8_t>& bytes, const std::string& label);
TorchStateDict LoadTorchStateDict(const std::string& path);

}  // namespace facelib::convert
