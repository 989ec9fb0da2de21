// facelib-convert FORMAT ARGS... --out OUT.flm [--storage fp32|fp16|uint8] [--name NAME]
// Converts a model from a foreign format into a facelib model file.
#include <cstdio>
#include <cstring>

#include "converters/converter.h"
#include "runtime/model.h"
#include "runtime/model_file.h"

namespace {

void Usage(FILE* to) {
  std::fprintf(to, "usage: facelib-convert FORMAT ARGS... --out OUT.flm [--storage fp32|fp16|uint8] [--name NAME]\n"
                   "formats:\n");
  for (const auto& c : facelib::convert::Converters())
    std::fprintf(to, "  %-10s %s\n", c.format.c_str(), c.usage.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace facelib;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    Usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  try {
    const convert::Converter* conv = convert::FindConverter(argv[1]);
    if (!conv) {
      Usage(stderr);
      throw Error(ErrorCode::kInvalidArgument, std::string("unknown format '") + argv[1] + "'");
    }
    convert::ConvertRequest req;
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        const size_t eq = a.find('=');
        if (eq != std::string::npos) {
          req.options[a.substr(2, eq - 2)] = a.substr(eq + 1);
        } else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) {
          req.options[a.substr(2)] = argv[++i];
        } else {
          req.options[a.substr(2)] = "1";
        }
      } else {
        req.inputs.push_back(a);
      }
    }
    // The converter runs first: a debug listing (onnx --list-ops) writes nothing and needs no --out.
    rt::Graph g = conv->convert(req);
    const std::string out = req.Option("out");
    if (out.empty()) throw Error(ErrorCode::kInvalidArgument, "--out OUT.flm is required");
    const std::string storage = req.Option("storage", "");
    if (!storage.empty()) {
      rt::Storage s;
      if (storage == "fp32") s = rt::Storage::kFloat32;
      else if (storage == "fp16") s = rt::Storage::kFloat16;
      else if (storage == "uint8") s = rt::Storage::kUInt8;
      else throw Error(ErrorCode::kInvalidArgument, "--storage must be fp32, fp16 or uint8");
      for (auto& t : g.tensors)
        if (t.constant && !t.constant->is_int) t.constant->storage = s;
    }
    if (!req.Option("name").empty()) g.metadata["name"] = req.Option("name");
    // Load what we are about to write: a converter bug surfaces here, not at a user's site.
    rt::Model::FromGraph(g);
    rt::SaveGraph(g, out);
    std::printf("wrote %s (%zu nodes, %zu tensors)\n", out.c_str(), g.nodes.size(), g.tensors.size());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "facelib-convert: %s: %s\n", ErrorCodeName(e.code()), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "facelib-convert: error: %s\n", e.what());
    return 1;
  }
}
