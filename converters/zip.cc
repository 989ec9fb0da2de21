#include "converters/zip.h"

#include <array>
#include <cstdint>

#include "converters/converter.h"
#include "runtime/error.h"

namespace facelib::convert {

namespace {
const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> t = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return t;
}

constexpr uint32_t kEocd = 0x06054b50, kEocd64 = 0x06064b50, kEocd64Locator = 0x07064b50, kCentral = 0x02014b50,
                   kLocal = 0x04034b50;

uint64_t Le(const uint8_t* p, int k) {
  uint64_t v = 0;
  for (int i = 0; i < k; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
}  // namespace

uint32_t Crc32(const uint8_t* data, size_t size, uint32_t crc) {
  const auto& t = CrcTable();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

bool ZipReader::LooksLikeZip(const uint8_t* data, size_t size) { return size >= 4 && Le(data, 4) == kLocal; }

ZipReader::ZipReader(const uint8_t* data, size_t size, std::string label) : d_(data), n_(size), label_(std::move(label)) {
  auto bad = [&](const std::string& what) { Malformed(label_, "zip: " + what); };
  auto in = [&](uint64_t off, uint64_t len) { return off <= n_ && len <= n_ - off; };
  if (n_ < 22) bad("too short for an end-of-central-directory record");
  // The EOCD record is last, followed only by a comment of up to 65535 bytes.
  size_t eocd = SIZE_MAX;
  const size_t lowest = n_ > 22 + 65535 ? n_ - 22 - 65535 : 0;
  for (size_t p = n_ - 22;; --p) {
    if (Le(d_ + p, 4) == kEocd && p + 22 + Le(d_ + p + 20, 2) == n_) {
      eocd = p;
      break;
    }
    if (p == lowest) break;
  }
  if (eocd == SIZE_MAX) bad("no end-of-central-directory record (truncated file?)");
  uint64_t count = Le(d_ + eocd + 10, 2), cd_size = Le(d_ + eocd + 12, 4), cd_off = Le(d_ + eocd + 16, 4);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
    if (eocd < 20 || Le(d_ + eocd - 20, 4) != kEocd64Locator) bad("ZIP64 sizes without a ZIP64 locator");
    const uint64_t rec = Le(d_ + eocd - 20 + 8, 8);
    if (!in(rec, 56) || Le(d_ + rec, 4) != kEocd64) bad("bad ZIP64 end-of-central-directory record");
    count = Le(d_ + rec + 32, 8);
    cd_size = Le(d_ + rec + 40, 8);
    cd_off = Le(d_ + rec + 48, 8);
  }
  if (!in(cd_off, cd_size)) bad("central directory lies outside the file (truncated?)");
  if (count > cd_size / 46) bad("central directory too small for " + std::to_string(count) + " entries");
  size_t p = static_cast<size_t>(cd_off);
  const size_t cd_end = static_cast<size_t>(cd_off + cd_size);
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > cd_end || Le(d_ + p, 4) != kCentral) bad("bad central directory entry " + std::to_string(i));
    ZipEntry e;
    const uint16_t flags = static_cast<uint16_t>(Le(d_ + p + 8, 2));
    e.method = static_cast<uint16_t>(Le(d_ + p + 10, 2));
    e.crc = static_cast<uint32_t>(Le(d_ + p + 16, 4));
    e.compressed_size = Le(d_ + p + 20, 4);
    e.size = Le(d_ + p + 24, 4);
    const size_t name_len = Le(d_ + p + 28, 2), extra_len = Le(d_ + p + 30, 2), comment_len = Le(d_ + p + 32, 2);
    e.local_header_offset = Le(d_ + p + 42, 4);
    if (p + 46 + name_len + extra_len + comment_len > cd_end) bad("central directory entry runs past the directory");
    if (flags & 0x1) Unsupported(label_, "encrypted zip entries");
    e.name.assign(reinterpret_cast<const char*>(d_ + p + 46), name_len);
    // ZIP64 extended information: the 0xffffffff fields, in order.
    size_t x = p + 46 + name_len;
    const size_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const uint16_t id = static_cast<uint16_t>(Le(d_ + x, 2)), len = static_cast<uint16_t>(Le(d_ + x + 2, 2));
      if (x + 4 + len > x_end) bad("extra field runs past its entry");
      if (id == 0x0001) {
        size_t q = x + 4;
        const size_t q_end = q + len;
        auto next = [&](uint64_t* field) {
          if (*field != 0xffffffffu) return;
          if (q + 8 > q_end) bad("short ZIP64 extra field");
          *field = Le(d_ + q, 8);
          q += 8;
        };
        next(&e.size);
        next(&e.compressed_size);
        next(&e.local_header_offset);
      }
      x += 4 + len;
    }
    entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::Find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::pair<const uint8_t*, size_t> ZipReader::Read(const std::string& name) const {
  const ZipEntry* e = Find(name);
  if (!e) throw Error(ErrorCode::kNotFound, label_ + ": zip entry '" + name + "' not found");
  return Read(*e);
}

std::pair<const uint8_t*, size_t> ZipReader::Read(const ZipEntry& e) const {
  if (e.method != 0)
    Unsupported(label_, "zip entry '" + e.name + "' is compressed (method " + std::to_string(e.method) +
                            "); only stored entries are read");
  if (e.size != e.compressed_size) Malformed(label_, "zip: stored entry '" + e.name + "' with two sizes");
  const uint64_t h = e.local_header_offset;
  if (h > n_ || n_ - h < 30 || Le(d_ + h, 4) != kLocal) Malformed(label_, "zip: bad local header for '" + e.name + "'");
  // The local header has its own name and extra lengths (torch pads the extra
  // field so that data starts 64-byte aligned).
  const uint64_t start = h + 30 + Le(d_ + h + 26, 2) + Le(d_ + h + 28, 2);
  if (start > n_ || e.size > n_ - start) Malformed(label_, "zip: entry '" + e.name + "' runs past the end of the file");
  const uint8_t* p = d_ + start;
  const size_t size = static_cast<size_t>(e.size);
  if (Crc32(p, size) != e.crc) Malformed(label_, "zip: CRC mismatch in '" + e.name + "'");
  return {p, size};
}

}  // namespace facelib::convert
