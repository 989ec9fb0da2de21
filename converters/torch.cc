// Formats "torch" (PyTorch state dicts + an architecture builder) and "mtcnn"
// (any copy of the MTCNN weights: ipazc .lz4 / .npy, facenet-pytorch .pt).
//
//   facelib-convert torch CHECKPOINT.pth --arch ARCH --out OUT.flm
//     ARCH: mtcnn-pnet | mtcnn-rnet | mtcnn-onet | minifasnet-v2 | minifasnet-v1se | retinaface-mnet025
//   facelib-convert mtcnn WEIGHTS --net pnet|rnet|onet --out OUT.flm
#include <cstring>

#include "converters/converter.h"
#include "converters/lz4.h"
#include "converters/mtcnn_ipazc.h"
#include "converters/torch_checkpoint.h"
#include "models/minifasnet_builder.h"
#include "models/mtcnn_builder.h"
#include "models/retinaface_builder.h"
#include "runtime/error.h"

namespace facelib::convert {
namespace {

const char* kArchList = "mtcnn-pnet, mtcnn-rnet, mtcnn-onet, minifasnet-v2, minifasnet-v1se, retinaface-mnet025";

rt::Graph BuildArch(const std::string& arch, const models::WeightMap& w) {
  if (arch.rfind("mtcnn-", 0) == 0) return models::BuildMtcnn(models::ParseMtcnnNet(arch.substr(6)), w);
  if (arch == "minifasnet-v2") return models::BuildMiniFasNet(models::MiniFasNetVariant::kV2, w);
  if (arch == "minifasnet-v1se") return models::BuildMiniFasNet(models::MiniFasNetVariant::kV1SE, w);
  if (arch == "retinaface-mnet025") return models::BuildRetinaFaceMobileNet025(w);
  throw Error(ErrorCode::kInvalidArgument, "unknown --arch '" + arch + "' (one of: " + kArchList + ")");
}

void CheckParamCount(const std::string& label, models::MtcnnNet net, const models::WeightMap& w) {
  const int64_t n = w.CountValues();
  if (n != models::MtcnnParamCount(net))
    Malformed(label, std::string(models::MtcnnNetName(net)) + " has " + std::to_string(n) + " parameters, expected " +
                         std::to_string(models::MtcnnParamCount(net)));
}

rt::Graph ConvertTorch(const ConvertRequest& req) {
  const std::string& path = req.Input(0, "CHECKPOINT.pth");
  const std::string arch = req.Option("arch");
  if (arch.empty()) throw Error(ErrorCode::kInvalidArgument, std::string("--arch is required (one of: ") + kArchList + ")");
  TorchStateDict sd = LoadTorchStateDict(path);
  if (arch.rfind("mtcnn-", 0) == 0) CheckParamCount(path, models::ParseMtcnnNet(arch.substr(6)), sd.weights);
  rt::Graph g = BuildArch(arch, sd.weights);
  AddProvenance(&g, "torch", {path});
  g.metadata["source_container"] = sd.container == TorchContainer::kZip ? "torch zip" : "torch legacy pickle";
  return g;
}

rt::Graph ConvertMtcnn(const ConvertRequest& req) {
  const std::string& path = req.Input(0, "WEIGHTS (.lz4, .npy or .pt)");
  const std::string net_name = req.Option("net");
  if (net_name.empty()) throw Error(ErrorCode::kInvalidArgument, "--net pnet|rnet|onet is required");
  const models::MtcnnNet net = models::ParseMtcnnNet(net_name);
  const std::vector<uint8_t> head = ReadFileBytes(path, size_t{256} << 20);
  models::WeightMap w;
  std::string source;
  if (IsLz4Frame(head.data(), head.size())) {
    w = ReadIpazcMtcnnLz4(head, net, path);
    source = "ipazc/mtcnn joblib+lz4 (Keras arrays)";
  } else if (head.size() >= 6 && std::memcmp(head.data(), "\x93NUMPY", 6) == 0) {
    w = ReadIpazcMtcnnNpy(head, net, path);
    source = "ipazc/mtcnn mtcnn_weights.npy (transposed-image kernels)";
  } else {
    TorchStateDict sd = ReadTorchStateDict(head, path);
    w = std::move(sd.weights);
    source = sd.container == TorchContainer::kZip ? "torch zip" : "torch legacy pickle";
  }
  CheckParamCount(path, net, w);
  rt::Graph g = models::BuildMtcnn(net, w);
  AddProvenance(&g, "mtcnn", {path});
  g.metadata["source_container"] = source;
  return g;
}

}  // namespace

FACELIB_REGISTER_CONVERTER({"torch",
                            "CHECKPOINT.pth --arch mtcnn-pnet|mtcnn-rnet|mtcnn-onet|minifasnet-v2|minifasnet-v1se|"
                            "retinaface-mnet025",
                            ConvertTorch});
FACELIB_REGISTER_CONVERTER({"mtcnn", "WEIGHTS.lz4|mtcnn_weights.npy|NET.pt --net pnet|rnet|onet", ConvertMtcnn});

}  // namespace facelib::convert
