// The one error type of the project. Every public entry point reports failure
// by throwing facelib::Error with a category and a message that names the file,
// field or value at fault; nothing aborts the process.
#pragma once

#include <stdexcept>
#include <string>

namespace facelib {

enum class ErrorCode {
  kInvalidArgument,     // bad parameter or input tensor (shape, value)
  kNotFound,            // file or named entity does not exist
  kIoError,             // read/write failure
  kInvalidModel,        // model file corrupt, truncated, hostile or inconsistent
  kUnsupported,         // valid request this build cannot serve (unknown op, dtype)
  kResourceExhausted,   // a configured size limit was exceeded
  kInternal,            // a bug: an invariant did not hold
  kFaceNotDetected,     // no face in an image where one is required (DeepFace's FaceNotDetected)
  kSpoofDetected,       // anti-spoofing judged a face not real (DeepFace's SpoofDetected)
};

const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIoError: return "i/o error";
    case ErrorCode::kInvalidModel: return "invalid model";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kResourceExhausted: return "resource exhausted";
    case ErrorCode::kInternal: return "internal error";
    case ErrorCode::kFaceNotDetected: return "face not detected";
    case ErrorCode::kSpoofDetected: return "spoof detected";
  }
  return "error";
}

}  // namespace facelib
