// NumPy .npy files (format 1.0-3.0): read float32/float64/integer arrays as
// float32, write float32. Used by facelib-run and the parity harness.
#pragma once

#include <string>
#include <vector>

#include "runtime/model.h"

namespace facelib::rt {

// Throws kNotFound, kIoError, or kInvalidArgument naming what is wrong with the header.
Tensor ReadNpy(const std::string& path);
Tensor ParseNpy(const uint8_t* data, size_t size, const std::string& label);
void WriteNpy(const std::string& path, const Shape& shape, const float* data);

}  // namespace facelib::rt
