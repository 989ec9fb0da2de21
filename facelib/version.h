#pragma once

namespace facelib {
// Library version "major.minor.patch".
const char* Version();
}  // namespace facelib
