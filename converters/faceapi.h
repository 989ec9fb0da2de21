// Reading face-api weights manifests (see converters/faceapi.cc).
#pragma once

#include <string>
#include <vector>

#include "models/weights.h"

namespace facelib::convert {

// Reads a face-api <name>-weights_manifest.json and its shards (next to it)
// into a name -> tensor map in TF layouts; `shard_paths` (optional) receives
// the shard files read. Errors name the file and the offending tensor.
models::WeightMap ReadFaceApiManifest(const std::string& path, std::vector<std::string>* shard_paths = nullptr);

}  // namespace facelib::convert
