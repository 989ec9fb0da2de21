#include "facelib/version.h"

namespace facelib {
const char* Version() { return "0.1.0"; }
}  // namespace facelib
