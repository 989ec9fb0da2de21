// face-api converter: a face-api weights manifest (<name>-weights_manifest.json,
// a bare tfjs weights manifest without topology) and its shards -> facelib
// graph built by the matching architecture builder in models/faceapi_builders.
//
//   facelib-convert faceapi ARCH MANIFEST.json --out OUT.flm
//
// ARCH names the network the manifest holds (ssd_mobilenetv1,
// tiny_face_detector, face_landmark_68, face_landmark_68_tiny,
// face_recognition, age_gender, face_expression); face-api's JavaScript knows
// this from the file name, which we do not rely on.
#include "converters/faceapi.h"

#include "converters/converter.h"
#include "converters/json.h"
#include "converters/tfjs_weights.h"
#include "models/faceapi_builders.h"

namespace facelib::convert {

models::WeightMap ReadFaceApiManifest(const std::string& path, std::vector<std::string>* shard_paths) {
  const auto bytes = ReadFileBytes(path, size_t{64} << 20);
  JsonValue doc;
  try {
    doc = ParseJson(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const Error& e) {
    Malformed(path, e.what());
  }
  if (!doc.IsArray())
    Malformed(path, "a face-api weights manifest is a JSON array of {paths, weights} groups");
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  TfjsWeights read = ReadTfjsWeights(path, doc, dir, "manifest");
  models::WeightMap w(path);
  for (TfjsWeight& t : read.weights) {
    models::WeightTensor wt;
    wt.shape = std::move(t.shape);
    wt.data.assign(t.values.begin(), t.values.end());
    w.Add(t.name, std::move(wt));
  }
  if (shard_paths) *shard_paths = std::move(read.shard_paths);
  return w;
}

namespace {

rt::Graph ConvertFaceApi(const ConvertRequest& req) {
  const models::FaceApiArch arch = models::ParseFaceApiArch(req.Input(0, "ARCH"));
  const std::string& manifest = req.Input(1, "MANIFEST.json");
  if (req.inputs.size() > 2) throw Error(ErrorCode::kInvalidArgument, "faceapi: unexpected argument '" + req.inputs[2] + "'");
  std::vector<std::string> shards;
  const models::WeightMap w = ReadFaceApiManifest(manifest, &shards);
  rt::Graph g = models::BuildFaceApi(arch, w);
  std::vector<std::string> sources = {manifest};
  sources.insert(sources.end(), shards.begin(), shards.end());
  AddProvenance(&g, "faceapi", sources);
  g.metadata["source_format"] = "face-api weights manifest (@vladmandic/face-api 1.7.15 / face-api.js)";
  return g;
}

}  // namespace

FACELIB_REGISTER_CONVERTER({"faceapi",
                            "ARCH MANIFEST.json  (ARCH: ssd_mobilenetv1, tiny_face_detector, face_landmark_68, "
                            "face_landmark_68_tiny, face_recognition, age_gender, face_expression)",
                            ConvertFaceApi});

}  // namespace facelib::convert
