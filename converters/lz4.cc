#include "converters/lz4.h"

#include "converters/converter.h"
#include "runtime/error.h"

namespace facelib::convert {

namespace {
constexpr uint32_t kP1 = 2654435761u, kP2 = 2246822519u, kP3 = 3266489917u, kP4 = 668265263u, kP5 = 374761393u;
constexpr uint32_t kFrameMagic = 0x184D2204u;

uint32_t Rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
uint32_t Read32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint32_t Round(uint32_t acc, uint32_t lane) { return Rotl(acc + lane * kP2, 13) * kP1; }
}  // namespace

uint32_t XxHash32(const uint8_t* p, size_t size, uint32_t seed) {
  const uint8_t* end = p + size;
  uint32_t h;
  if (size >= 16) {
    uint32_t v1 = seed + kP1 + kP2, v2 = seed + kP2, v3 = seed, v4 = seed - kP1;
    for (; end - p >= 16; p += 16) {
      v1 = Round(v1, Read32(p));
      v2 = Round(v2, Read32(p + 4));
      v3 = Round(v3, Read32(p + 8));
      v4 = Round(v4, Read32(p + 12));
    }
    h = Rotl(v1, 1) + Rotl(v2, 7) + Rotl(v3, 12) + Rotl(v4, 18);
  } else {
    h = seed + kP5;
  }
  h += static_cast<uint32_t>(size);
  for (; end - p >= 4; p += 4) h = Rotl(h + Read32(p) * kP3, 17) * kP4;
  for (; p < end; ++p) h = Rotl(h + *p * kP5, 11) * kP1;
  h ^= h >> 15;
  h *= kP2;
  h ^= h >> 13;
  h *= kP3;
  h ^= h >> 16;
  return h;
}

bool IsLz4Frame(const uint8_t* data, size_t size) { return size >= 4 && Read32(data) == kFrameMagic; }

void Lz4DecodeBlock(const uint8_t* src, size_t size, std::vector<uint8_t>* out, size_t max_out,
                    const std::string& label) {
  const size_t base = out->size();
  size_t i = 0;
  auto length = [&](size_t nibble) {
    size_t len = nibble;
    if (nibble == 15) {
      for (;;) {
        if (i >= size) Malformed(label, "lz4: truncated length");
        const uint8_t b = src[i++];
        len += b;
        if (len > max_out) Malformed(label, "lz4: block decodes to more than " + std::to_string(max_out) + " bytes");
        if (b != 255) break;
      }
    }
    return len;
  };
  for (;;) {
    if (i >= size) Malformed(label, "lz4: block ends without its last literals");
    const uint8_t token = src[i++];
    const size_t lit = length(token >> 4);
    if (lit > size - i) Malformed(label, "lz4: literals run past the block");
    if (lit > max_out - (out->size() - base))
      Malformed(label, "lz4: block decodes to more than " + std::to_string(max_out) + " bytes");
    out->insert(out->end(), src + i, src + i + lit);
    i += lit;
    if (i == size) return;  // the last sequence has literals only
    if (size - i < 2) Malformed(label, "lz4: truncated match offset");
    const size_t offset = static_cast<size_t>(src[i]) | (static_cast<size_t>(src[i + 1]) << 8);
    i += 2;
    if (offset == 0 || offset > out->size()) Malformed(label, "lz4: match offset " + std::to_string(offset) + " points before the data");
    const size_t mlen = length(token & 15) + 4;
    if (mlen > max_out - (out->size() - base))
      Malformed(label, "lz4: block decodes to more than " + std::to_string(max_out) + " bytes");
    // Byte by byte: a match may overlap the bytes it produces (run-length copies).
    size_t from = out->size() - offset;
    out->reserve(out->size() + mlen);
    for (size_t k = 0; k < mlen; ++k) out->push_back((*out)[from + k]);
  }
}

std::vector<uint8_t> Lz4DecompressFrames(const uint8_t* data, size_t size, const std::string& label,
                                         size_t max_output) {
  std::vector<uint8_t> out;
  size_t p = 0;
  auto need = [&](size_t k, const char* what) {
    if (k > size - p) Malformed(label, std::string("lz4: truncated ") + what);
  };
  bool any = false;
  while (p < size) {
    need(4, "frame magic");
    const uint32_t magic = Read32(data + p);
    if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {  // skippable frame
      need(8, "skippable frame");
      const uint32_t len = Read32(data + p + 4);
      p += 8;
      need(len, "skippable frame");
      p += len;
      continue;
    }
    if (magic == 0x184C2102u) Unsupported(label, "lz4 legacy frame format");
    if (magic != kFrameMagic) {
      if (!any) Malformed(label, "not an lz4 frame (bad magic)");
      Malformed(label, "lz4: garbage after the last frame");
    }
    any = true;
    p += 4;
    need(3, "frame descriptor");
    const size_t desc = p;
    const uint8_t flg = data[p], bd = data[p + 1];
    if ((flg >> 6) != 1) Malformed(label, "lz4: unknown frame version");
    if (flg & 0x02) Malformed(label, "lz4: reserved flag bit set");
    const bool block_checksum = flg & 0x10, has_size = flg & 0x08, content_checksum = flg & 0x04, has_dict = flg & 0x01;
    const int bsid = (bd >> 4) & 7;
    if (bsid < 4 || (bd & 0x8F)) Malformed(label, "lz4: bad block size descriptor");
    const size_t block_max = size_t{1} << (8 + 2 * bsid);
    p += 2;
    uint64_t content_size = 0;
    if (has_size) {
      need(8, "content size");
      for (int i = 0; i < 8; ++i) content_size |= static_cast<uint64_t>(data[p + i]) << (8 * i);
      p += 8;
    }
    if (has_dict) Unsupported(label, "lz4 frames with a dictionary");
    need(1, "header checksum");
    const uint8_t hc = static_cast<uint8_t>((XxHash32(data + desc, p - desc) >> 8) & 0xff);
    if (data[p] != hc) Malformed(label, "lz4: header checksum mismatch");
    ++p;
    const size_t frame_start = out.size();
    for (;;) {
      need(4, "block size");
      const uint32_t word = Read32(data + p);
      p += 4;
      if (word == 0) break;  // end mark
      const bool raw = word & 0x80000000u;
      const size_t bsize = word & 0x7FFFFFFFu;
      if (bsize > block_max) Malformed(label, "lz4: block larger than the declared maximum");
      need(bsize, "block");
      if (block_checksum) {
        need(bsize + 4, "block checksum");
        if (Read32(data + p + bsize) != XxHash32(data + p, bsize)) Malformed(label, "lz4: block checksum mismatch");
      }
      if (raw) out.insert(out.end(), data + p, data + p + bsize);
      else Lz4DecodeBlock(data + p, bsize, &out, block_max, label);
      // Checked per block: the output overshoots the limit by at most one block.
      if (out.size() > max_output)
        throw Error(ErrorCode::kResourceExhausted, label + ": lz4 output exceeds " + std::to_string(max_output) + " bytes");
      p += bsize + (block_checksum ? 4 : 0);
    }
    const size_t produced = out.size() - frame_start;
    if (has_size && produced != content_size) Malformed(label, "lz4: frame size differs from its declared size");
    if (content_checksum) {
      need(4, "content checksum");
      if (Read32(data + p) != XxHash32(out.data() + frame_start, produced))
        Malformed(label, "lz4: content checksum mismatch");
      p += 4;
    }
  }
  if (!any) Malformed(label, "lz4: empty input");
  return out;
}

}  // namespace facelib::convert
