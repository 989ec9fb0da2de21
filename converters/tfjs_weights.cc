#include "converters/tfjs_weights.h"

#include <cmath>
#include <cstring>
#include <set>

#include "converters/converter.h"
#include "runtime/model_file.h"

namespace facelib::convert {
namespace {

struct Spec {
  std::string name, dtype, qdtype;
  rt::Shape shape;
  double scale = 0, min = 0;
};

size_t ElementBytes(const Spec& s) {
  if (s.qdtype == "uint8") return 1;
  if (s.qdtype == "uint16" || s.qdtype == "float16") return 2;
  return 4;
}

}  // namespace

TfjsWeights ReadTfjsWeights(const std::string& file, const JsonValue& manifest, const std::string& dir,
                            const std::string& where) {
  if (!manifest.IsArray()) Malformed(file, "\"" + where + "\" is not an array");
  TfjsWeights out;
  std::vector<Spec> specs;
  std::vector<uint8_t> buffer;
  for (size_t gi = 0; gi < manifest.size(); ++gi) {
    const JsonValue& group = manifest.at(gi);
    const std::string gwhere = where + "[" + std::to_string(gi) + "]";
    const JsonValue* paths = group.Find("paths");
    const JsonValue* weights = group.Find("weights");
    if (!paths || !paths->IsArray() || !weights || !weights->IsArray())
      Malformed(file, gwhere + " needs arrays \"paths\" and \"weights\"");
    for (size_t pi = 0; pi < paths->size(); ++pi) {
      if (!paths->at(pi).IsString()) Malformed(file, gwhere + ".paths[" + std::to_string(pi) + "] is not a string");
      const std::string& p = paths->at(pi).AsString();
      // Shards live next to the manifest; refuse to wander elsewhere on the file system.
      if (p.empty() || p[0] == '/' || p.find("..") != std::string::npos)
        Malformed(file, gwhere + ": shard path '" + p + "' must be relative to the model folder");
      const std::string full = dir + "/" + p;
      std::vector<uint8_t> shard;
      try {
        shard = ReadFileBytes(full);
      } catch (const Error& e) {
        throw Error(e.code(), file + ": weight shard " + p + ": " + e.what());
      }
      out.shard_paths.push_back(full);
      buffer.insert(buffer.end(), shard.begin(), shard.end());
    }
    for (size_t wi = 0; wi < weights->size(); ++wi) {
      const JsonValue& w = weights->at(wi);
      const std::string wwhere = gwhere + ".weights[" + std::to_string(wi) + "]";
      try {
        Spec s;
        s.name = w["name"].AsString();
        s.dtype = w["dtype"].AsString();
        for (const JsonValue& d : w["shape"].AsArray()) {
          const int64_t dim = d.AsInt();
          if (dim < 0 || dim > (int64_t{1} << 31)) Malformed(file, wwhere + " ('" + s.name + "') has a bad dimension");
          s.shape.push_back(dim);
        }
        if (const JsonValue* q = w.Find("quantization"); q && !q->IsNull()) {
          s.qdtype = (*q)["dtype"].AsString();
          if (s.qdtype == "uint8" || s.qdtype == "uint16") {
            s.scale = (*q)["scale"].AsNumber();
            s.min = (*q)["min"].AsNumber();
          } else if (s.qdtype != "float16") {
            Unsupported(file, wwhere + " ('" + s.name + "'): quantization dtype '" + s.qdtype + "'");
          }
        }
        if (s.dtype != "float32" && s.dtype != "int32")
          Unsupported(file, wwhere + " ('" + s.name + "'): weight dtype '" + s.dtype + "'");
        specs.push_back(std::move(s));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kInvalidModel || std::string(e.what()).rfind("JSON: ", 0) != 0) throw;
        Malformed(file, wwhere + ": " + e.what());
      }
    }
  }
  // Lay the weights out over the concatenated shards.
  std::set<std::string> names;
  size_t offset = 0;
  out.weights.reserve(specs.size());
  for (const Spec& s : specs) {
    const int64_t n = rt::NumElements(s.shape);
    const size_t bytes = static_cast<size_t>(n) * ElementBytes(s);
    if (offset + bytes > buffer.size())
      Malformed(file, "weight '" + s.name + "' " + rt::ShapeToString(s.shape) + " needs bytes " +
                          std::to_string(offset) + ".." + std::to_string(offset + bytes) + " but the shards hold only " +
                          std::to_string(buffer.size()) + " bytes");
    if (!names.insert(s.name).second) Malformed(file, "weight '" + s.name + "' is listed twice in the manifest");
    const uint8_t* p = buffer.data() + offset;
    TfjsWeight t;
    t.name = s.name;
    t.dtype = s.dtype;
    t.quantization = s.qdtype;
    t.shape = s.shape;
    t.values.resize(static_cast<size_t>(n));
    const bool is_int = t.is_int();
    for (int64_t i = 0; i < n; ++i) {
      double x;
      if (s.qdtype == "uint8") {
        x = p[i] * s.scale + s.min;
      } else if (s.qdtype == "uint16") {
        uint16_t q;
        std::memcpy(&q, p + 2 * i, 2);
        x = q * s.scale + s.min;
      } else if (s.qdtype == "float16") {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        x = rt::HalfToFloat(h);
      } else if (is_int) {
        int32_t q;
        std::memcpy(&q, p + 4 * i, 4);
        x = q;
      } else {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        x = f;
      }
      t.values[i] = is_int ? std::trunc(x) : static_cast<double>(static_cast<float>(x));
    }
    offset += bytes;
    out.weights.push_back(std::move(t));
  }
  if (offset != buffer.size())
    Malformed(file, "the weight shards hold " + std::to_string(buffer.size()) + " bytes but the manifest describes " +
                        std::to_string(offset));
  return out;
}

}  // namespace facelib::convert
