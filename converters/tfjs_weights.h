// tfjs weight manifests: a JSON array of groups {"paths": [shard...], "weights":
// [{name, shape, dtype, quantization?}...]}. The shards of every group are
// concatenated in manifest order and the weights lie back to back in that
// buffer, which is how tfjs itself loads them. Shared by the tfjs graph-model
// converter (its "weightsManifest") and the face-api converter (whose
// *-weights_manifest.json files are nothing but such an array).
#pragma once

#include <string>
#include <vector>

#include "converters/json.h"
#include "runtime/graph.h"

namespace facelib::convert {

struct TfjsWeight {
  std::string name;
  std::string dtype;         // "float32" or "int32"
  std::string quantization;  // "", "uint8", "uint16" or "float16"
  rt::Shape shape;
  // Decoded values: float weights rounded to float32 (dequantised as
  // q * scale + min, like tfjs), int32 weights exact.
  std::vector<double> values;
  bool is_int() const { return dtype == "int32"; }
};

struct TfjsWeights {
  std::vector<TfjsWeight> weights;       // manifest order, names unique
  std::vector<std::string> shard_paths;  // dir/<path> of every shard read
};

// Reads the weights `manifest` describes. Shard paths are relative to `dir`
// and may not leave it. `file` names the manifest in error messages and
// `where` the JSON location of the array in it (e.g. "weightsManifest").
// Errors: kInvalidModel (malformed manifest, missing/short/long shards,
// duplicate names), kUnsupported (other dtypes or quantisations), and the
// file errors of ReadFileBytes.
TfjsWeights ReadTfjsWeights(const std::string& file, const JsonValue& manifest, const std::string& dir,
                            const std::string& where);

}  // namespace facelib::convert
