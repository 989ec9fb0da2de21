// SHA-256 (FIPS 180-4): verifies downloaded source files, records their
// provenance in converted model files, and fingerprints image contents in the
// face store. A Sha256 object is single-threaded; the free functions are
// thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace facelib::rt {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  std::array<uint8_t, 32> Finish();
  std::string FinishHex();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string Sha256Hex(const void* data, size_t size);
// Hash of a whole file; throws facelib::Error(kNotFound / kIoError).
std::string Sha256File(const std::string& path);

}  // namespace facelib::rt
