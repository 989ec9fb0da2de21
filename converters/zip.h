// Minimal ZIP reader for PyTorch's zip checkpoints (torch.save since 1.6):
// central directory (with ZIP64 records), stored entries only. torch writes
// every entry uncompressed; a deflated entry is reported as kUnsupported.
// Entries are views into the caller's buffer, checked against its bounds and
// against their CRC-32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace facelib::convert {

uint32_t Crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

struct ZipEntry {
  std::string name;
  uint16_t method = 0;
  uint64_t compressed_size = 0, size = 0;
  uint64_t local_header_offset = 0;
  uint32_t crc = 0;
};

class ZipReader {
 public:
  // Parses the central directory; `data` must outlive the reader.
  ZipReader(const uint8_t* data, size_t size, std::string label);
  static bool LooksLikeZip(const uint8_t* data, size_t size);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* Find(const std::string& name) const;
  // The bytes of a stored entry (CRC-checked). kNotFound if absent.
  std::pair<const uint8_t*, size_t> Read(const std::string& name) const;
  std::pair<const uint8_t*, size_t> Read(const ZipEntry& e) const;

 private:
  const uint8_t* d_;
  size_t n_;
  std::string label_;
  std::vector<ZipEntry> entries_;
};

}  // namespace facelib::convert
