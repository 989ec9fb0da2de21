// Where tests and benchmarks find converted models and the shared evaluation
// data: $FACELIB_MODELS_DIR / $FACELIB_SHARED when set, else the source tree's
// build/models and ../shared. Needs FACELIB_SOURCE_DIR (set by CMake).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace facelib::testdata {

inline std::string ModelsDir() {
  if (const char* env = std::getenv("FACELIB_MODELS_DIR"); env && *env) return env;
  return std::string(FACELIB_SOURCE_DIR) + "/build/models";
}

inline std::string SharedDir() {
  if (const char* env = std::getenv("FACELIB_SHARED"); env && *env) return env;
  return std::string(FACELIB_SOURCE_DIR) + "/../shared";
}

inline std::filesystem::path EvalDir() { return std::filesystem::path(SharedDir()) / "eval-dev"; }

// A photo of ../shared/eval-dev/lfw/images.
inline std::string Lfw(const std::string& rel) { return SharedDir() + "/eval-dev/lfw/images/" + rel; }

}  // namespace facelib::testdata
