// Finding and loading converted zoo models (build/models/<name>.flm).
#pragma once

#include <memory>
#include <string>

#include "models/zoo.h"
#include "runtime/model.h"

namespace facelib {

// The models folder: $FACELIB_MODELS_DIR if set, else "<folder of the running
// executable>/../models" (build/bin -> build/models) when it holds models, else
// the source tree's build/models, else "build/models".
std::string DefaultModelsDir();

// Path of a zoo model's file in `models_dir` ("" = DefaultModelsDir()).
std::string ZooModelPath(const std::string& models_dir, const std::string& name);

// Loads a converted zoo model. A missing file gives kNotFound naming the file
// and the command that creates it; an unknown name gives kInvalidArgument.
std::shared_ptr<const rt::Model> LoadZooModel(const std::string& models_dir, const std::string& name,
                                              int num_threads = 0);

// The zoo entry of `name` (kInvalidArgument when unknown).
const models::ModelInfo& ZooInfo(const std::string& name);

}  // namespace facelib
