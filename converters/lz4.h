// LZ4 frame format decoder (the format of `lz4.frame`, which joblib uses for
// its .lz4 dumps). Checks the header checksum, block and content checksums
// (xxHash32) when the frame declares them, and never writes or reads out of
// bounds: a corrupt frame ends in kInvalidModel, an oversized one in
// kResourceExhausted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace facelib::convert {

// xxHash32 of data with the given seed (the LZ4 frame checksum).
uint32_t XxHash32(const uint8_t* data, size_t size, uint32_t seed = 0);

// True when the buffer starts with the LZ4 frame magic number.
bool IsLz4Frame(const uint8_t* data, size_t size);

// Decodes one LZ4 block into `out` (appending; earlier bytes of `out` may be
// referenced by matches, as linked blocks do). At most `max_out` bytes are appended.
void Lz4DecodeBlock(const uint8_t* src, size_t size, std::vector<uint8_t>* out, size_t max_out,
                    const std::string& label);

// Decodes every frame in the buffer (skippable frames are skipped).
std::vector<uint8_t> Lz4DecompressFrames(const uint8_t* data, size_t size, const std::string& label,
                                         size_t max_output = size_t{1} << 31);

}  // namespace facelib::convert
