#include "facelib/zoo_model.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "runtime/error.h"

namespace facelib {

namespace {

bool HasModels(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".flm") return true;
  return false;
}

}  // namespace

std::string DefaultModelsDir() {
  if (const char* env = std::getenv("FACELIB_MODELS_DIR"); env && *env) return env;
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = 0;
    const std::filesystem::path p = std::filesystem::path(buf).parent_path().parent_path() / "models";
    if (HasModels(p)) return p.string();
  }
#ifdef FACELIB_SOURCE_MODELS_DIR
  if (HasModels(FACELIB_SOURCE_MODELS_DIR)) return FACELIB_SOURCE_MODELS_DIR;
#endif
  return "build/models";
}

std::string ZooModelPath(const std::string& models_dir, const std::string& name) {
  return (models_dir.empty() ? DefaultModelsDir() : models_dir) + "/" + name + ".flm";
}

const models::ModelInfo& ZooInfo(const std::string& name) {
  const models::ModelInfo* info = models::FindModel(name);
  if (!info) throw Error(ErrorCode::kInvalidArgument, "unknown zoo model '" + name + "'");
  return *info;
}

std::shared_ptr<const rt::Model> LoadZooModel(const std::string& models_dir, const std::string& name,
                                              int num_threads) {
  ZooInfo(name);
  const std::string path = ZooModelPath(models_dir, name);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(ErrorCode::kNotFound, "model file " + path + " not found; create it with `tools/setup-models.sh --only " +
                                          name + "` (or set FACELIB_MODELS_DIR)");
  rt::ModelOptions opts;
  opts.num_threads = num_threads;
  return rt::Model::Load(path, opts);
}

}  // namespace facelib
