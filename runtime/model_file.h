// The model file: a fixed 64-byte header, the FlatBuffers graph table
// (runtime/schema/model.fbs), and a data section holding every constant at a
// 64-byte aligned offset.
//
//   offset  size  field
//        0     8  magic "FACELIBM"
//        8     4  format version (kFormatVersion)
//       12     4  header size (64)
//       16     8  graph offset (64)
//       24     8  graph size
//       32     8  data offset (64-byte aligned, >= graph end)
//       40     8  data size (file size = data offset + data size)
//       48     8  checksum of the data section (DataChecksum)
//       56     8  reserved, zero
//
// Loading order: size and magic -> header fields -> FlatBuffers verifier ->
// data checksum -> per-tensor checks (dtype, shape x dtype = byte size, bounds,
// alignment, quantisation) -> graph checks (indices, producers, cycles). Only
// then is any pointer into the data handed out. Every failure is an
// Error(kInvalidModel) whose message names the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/graph.h"

namespace facelib::rt {

constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr char kMagic[8] = {'F', 'A', 'C', 'E', 'L', 'I', 'B', 'M'};

// Fast 64-bit hash used to detect corrupted weight bytes.
uint64_t DataChecksum(const uint8_t* data, size_t size);

// Serialises a graph (constants encoded per their requested Storage).
std::vector<uint8_t> SerializeGraph(const Graph& g);
void SaveGraph(const Graph& g, const std::string& path);

// Loads and verifies a model. The file is mmap-ed read-only; fp32 constants
// point into the mapping, which the returned graph keeps alive.
Graph LoadGraphFromFile(const std::string& path);
// Same from bytes in memory (copied into a 64-byte aligned buffer).
Graph LoadGraphFromBuffer(const uint8_t* data, size_t size, const std::string& label = "<memory>");

// IEEE half <-> float (round to nearest even), used by the fp16 storage.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);

}  // namespace facelib::rt
