// Model file round trips and malformed files: every corruption must give an
// Error(kInvalidModel or kNotFound) whose message names the problem.
#include "runtime/model_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "runtime/model.h"
#include "runtime/schema/model_generated.h"

namespace facelib::rt {
namespace {

namespace fbs = facelib::schema;

Graph SmallGraph() {
  Graph g;
  g.producer = "test";
  g.metadata["labels"] = "a,b";
  const int x = g.AddInput("x", {-1, 4});
  const int w = g.AddConstant("w", {4, 3}, Constant::FromFloats({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  const int b = g.AddConstant("b", {3}, Constant::FromFloats({0.5f, -0.5f, 0.25f}, Storage::kFloat16));
  const int y = g.AddNode1("Dense", {x, w, b}, {{"activation", "relu"}}, "fc");
  g.MarkOutput(y);
  return g;
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "_" + std::to_string(::getpid()) + ".flm";
}

void ExpectInvalid(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    LoadGraphFromBuffer(bytes.data(), bytes.size(), "model");
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

// Offsets of the header fields.
constexpr size_t kGraphSizeOff = 24, kDataOffOff = 32, kDataSizeOff = 40, kChecksumOff = 48;

uint64_t Read64(const std::vector<uint8_t>& b, size_t off) {
  uint64_t v;
  std::memcpy(&v, b.data() + off, 8);
  return v;
}
void Write64(std::vector<uint8_t>* b, size_t off, uint64_t v) { std::memcpy(b->data() + off, &v, 8); }

// Mutable access to the serialised graph table, for crafting semantic corruptions.
fbs::Model* MutableModel(std::vector<uint8_t>* bytes) { return fbs::GetMutableModel(bytes->data() + kHeaderSize); }

TEST(ModelFileTest, RoundTripKeepsEverything) {
  const Graph g = SmallGraph();
  const std::string path = TempPath("roundtrip");
  SaveGraph(g, path);
  const Graph h = LoadGraphFromFile(path);
  EXPECT_EQ(h.producer, "test");
  EXPECT_EQ(h.metadata.at("labels"), "a,b");
  ASSERT_EQ(h.tensors.size(), g.tensors.size());
  EXPECT_EQ(h.tensors[0].shape, (Shape{-1, 4}));
  ASSERT_TRUE(h.tensors[1].is_constant());
  EXPECT_EQ(h.tensors[1].constant->f32[11], 12.0f);
  // fp32 constants are used in place from the mapping, 64-byte aligned.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(h.tensors[1].constant->f32) % 64, 0u);
  EXPECT_EQ(h.tensors[2].constant->storage, Storage::kFloat16);
  EXPECT_EQ(h.tensors[2].constant->f32[0], 0.5f);
  EXPECT_EQ(h.tensors[2].constant->f32[2], 0.25f);
  ASSERT_EQ(h.nodes.size(), 1u);
  EXPECT_EQ(h.nodes[0].GetString("activation"), "relu");
  std::remove(path.c_str());
}

TEST(ModelFileTest, QuantizedAndIntegerConstants) {
  Graph g;
  const int x = g.AddInput("x", {2, 3});
  std::vector<float> vals = {-1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 1.0f};
  const int c = g.AddConstant("c", {2, 3}, Constant::FromFloats(vals, Storage::kUInt8));
  const int idx = g.AddConstant("idx", {2}, Constant::FromInts({2, 0}));
  const int s = g.AddNode1("Add", {x, c});
  const int y = g.AddNode1("Gather", {s, idx}, {{"axis", 1}});
  g.MarkOutput(y);
  const auto bytes = SerializeGraph(g);
  const Graph h = LoadGraphFromBuffer(bytes.data(), bytes.size());
  for (size_t i = 0; i < vals.size(); ++i) EXPECT_NEAR(h.tensors[c].constant->f32[i], vals[i], 2.0f / 255);
  EXPECT_EQ(h.tensors[c].constant->f32[2], 0.0f);  // zero is exact
  EXPECT_EQ(h.tensors[idx].constant->ints, (std::vector<int64_t>{2, 0}));
}

TEST(ModelFileTest, HalfConversionIsExactOnRepresentableValues) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);  // overflow -> inf
  EXPECT_EQ(HalfToFloat(FloatToHalf(0.1f)), 0.0999755859375f);
}

TEST(ModelFileTest, MissingFile) {
  try {
    LoadGraphFromFile("/nonexistent/dir/model.flm");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.flm"), std::string::npos);
  }
}

TEST(ModelFileTest, EmptyFile) {
  const std::string path = TempPath("empty");
  { std::ofstream f(path); }
  try {
    LoadGraphFromFile(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(ModelFileTest, TruncatedHeader) {
  auto b = SerializeGraph(SmallGraph());
  b.resize(40);
  ExpectInvalid(b, "smaller than the 64-byte header");
}

TEST(ModelFileTest, TruncatedData) {
  auto b = SerializeGraph(SmallGraph());
  b.resize(b.size() - 8);
  ExpectInvalid(b, "truncated");
}

TEST(ModelFileTest, TruncatedAnywhereNeverCrashes) {
  const auto full = SerializeGraph(SmallGraph());
  for (size_t n = 0; n < full.size(); n += 7) {
    std::vector<uint8_t> b(full.begin(), full.begin() + n);
    EXPECT_THROW(LoadGraphFromBuffer(b.data(), b.size()), Error) << n;
  }
}

TEST(ModelFileTest, BadMagic) {
  auto b = SerializeGraph(SmallGraph());
  b[0] = 'X';
  ExpectInvalid(b, "bad magic");
}

TEST(ModelFileTest, FutureVersion) {
  auto b = SerializeGraph(SmallGraph());
  b[8] = 99;
  ExpectInvalid(b, "format version 99 is not supported");
}

TEST(ModelFileTest, GraphSizePastEnd) {
  auto b = SerializeGraph(SmallGraph());
  Write64(&b, kGraphSizeOff, 1ull << 40);
  ExpectInvalid(b, "runs past the end of the file");
}

TEST(ModelFileTest, MisalignedDataSection) {
  auto b = SerializeGraph(SmallGraph());
  Write64(&b, kDataOffOff, Read64(b, kDataOffOff) + 4);
  ExpectInvalid(b, "not 64-byte aligned");
}

TEST(ModelFileTest, DataSizeMismatch) {
  auto b = SerializeGraph(SmallGraph());
  Write64(&b, kDataSizeOff, Read64(b, kDataSizeOff) + 64);
  ExpectInvalid(b, "does not match the file size");
}

TEST(ModelFileTest, CorruptWeightsFailChecksum) {
  auto b = SerializeGraph(SmallGraph());
  b[Read64(b, kDataOffOff) + 5] ^= 0x40;
  ExpectInvalid(b, "checksum mismatch");
}

TEST(ModelFileTest, GarbageGraphFailsVerifier) {
  auto b = SerializeGraph(SmallGraph());
  const uint64_t gs = Read64(b, kGraphSizeOff);
  for (uint64_t i = 8; i < gs; i += 3) b[kHeaderSize + i] ^= 0x5a;
  ExpectInvalid(b, "FlatBuffers verification");
}

TEST(ModelFileTest, MissingIdentifier) {
  auto b = SerializeGraph(SmallGraph());
  std::memcpy(b.data() + kHeaderSize + 4, "XXXX", 4);
  ExpectInvalid(b, "FLM1 identifier");
}

TEST(ModelFileTest, ConstantOutsideDataSection) {
  auto b = SerializeGraph(SmallGraph());
  // Tensor 2 (the fp16 bias) has a non-default offset, so the field is stored and mutable.
  ASSERT_TRUE(MutableModel(&b)->mutable_tensors()->GetMutableObject(2)->mutate_data_offset(1 << 20));
  ExpectInvalid(b, "lies outside the data section");
}

TEST(ModelFileTest, ConstantSizeDisagreesWithShape) {
  auto b = SerializeGraph(SmallGraph());
  MutableModel(&b)->mutable_tensors()->GetMutableObject(1)->mutable_shape()->Mutate(0, 5);
  ExpectInvalid(b, "data_size 48 != 15 elements x 4 bytes");
}

TEST(ModelFileTest, MisalignedConstant) {
  auto b = SerializeGraph(SmallGraph());
  ASSERT_TRUE(MutableModel(&b)->mutable_tensors()->GetMutableObject(2)->mutate_data_offset(68));
  ExpectInvalid(b, "data offset is not 64-byte aligned");
}

TEST(ModelFileTest, UnknownDtype) {
  auto b = SerializeGraph(SmallGraph());
  ASSERT_TRUE(MutableModel(&b)->mutable_tensors()->GetMutableObject(2)->mutate_dtype(static_cast<fbs::DataType>(9)));
  ExpectInvalid(b, "unknown dtype 9");
}

TEST(ModelFileTest, NodeInputIndexOutOfRange) {
  auto b = SerializeGraph(SmallGraph());
  MutableModel(&b)->mutable_nodes()->GetMutableObject(0)->mutable_inputs()->Mutate(1, 1000);
  ExpectInvalid(b, "refers to tensor index 1000 but the model has 4 tensors");
}

TEST(ModelFileTest, NegativeDimension) {
  auto b = SerializeGraph(SmallGraph());
  MutableModel(&b)->mutable_tensors()->GetMutableObject(0)->mutable_shape()->Mutate(1, -7);
  ExpectInvalid(b, "invalid dimension -7");
}

TEST(ModelFileTest, NodeWritesIntoConstant) {
  auto b = SerializeGraph(SmallGraph());
  MutableModel(&b)->mutable_nodes()->GetMutableObject(0)->mutable_outputs()->Mutate(0, 1);
  ExpectInvalid(b, "which is a constant or graph input");
}

TEST(ModelFileTest, OutputNotProduced) {
  auto b = SerializeGraph(SmallGraph());
  MutableModel(&b)->mutable_outputs()->Mutate(0, 2);
  ExpectInvalid(b, "graph output 'b' is not produced by any node");
}

TEST(ModelFileTest, CycleIsRejected) {
  // a = Relu(b), b = Relu(a): built through the builder API, serialised without validation.
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<int64_t> shape = {1};
  std::vector<flatbuffers::Offset<fbs::Tensor>> tensors = {
      fbs::CreateTensorDirect(fbb, "x", &shape), fbs::CreateTensorDirect(fbb, "a", &shape),
      fbs::CreateTensorDirect(fbb, "b", &shape)};
  std::vector<int32_t> in0 = {2}, out0 = {1}, in1 = {1}, out1 = {2}, gin = {0}, gout = {2};
  std::vector<flatbuffers::Offset<fbs::Node>> nodes = {fbs::CreateNodeDirect(fbb, "n0", "Relu", &in0, &out0),
                                                       fbs::CreateNodeDirect(fbb, "n1", "Relu", &in1, &out1)};
  auto root = fbs::CreateModelDirect(fbb, kFormatVersion, "test", &tensors, &gin, &gout, &nodes);
  fbs::FinishModelBuffer(fbb, root);
  std::vector<uint8_t> b(128 + fbb.GetSize(), 0);
  std::memcpy(b.data(), kMagic, 8);
  const uint32_t v = kFormatVersion, hs = kHeaderSize;
  std::memcpy(b.data() + 8, &v, 4);
  std::memcpy(b.data() + 12, &hs, 4);
  Write64(&b, 16, kHeaderSize);
  Write64(&b, kGraphSizeOff, fbb.GetSize());
  const uint64_t data_off = (kHeaderSize + fbb.GetSize() + 63) / 64 * 64;
  b.resize(data_off);
  Write64(&b, kDataOffOff, data_off);
  Write64(&b, kDataSizeOff, 0);
  Write64(&b, kChecksumOff, DataChecksum(nullptr, 0));
  std::memcpy(b.data() + kHeaderSize, fbb.GetBufferPointer(), fbb.GetSize());
  ExpectInvalid(b, "cycle");
}

TEST(ModelFileTest, UnknownOperatorIsReportedByName) {
  Graph g;
  const int x = g.AddInput("x", {1});
  g.MarkOutput(g.AddNode1("FancyOp", {x}, {}, "mystery"));
  const auto bytes = SerializeGraph(g);
  try {
    Model::FromGraph(LoadGraphFromBuffer(bytes.data(), bytes.size()));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("unsupported operator 'FancyOp'"), std::string::npos) << e.what();
  }
}

TEST(ModelFileTest, BadAttributeTypeIsReported) {
  Graph g;
  const int x = g.AddInput("x", {1, 4, 4, 1});
  g.MarkOutput(g.AddNode1("MaxPool", {x}, {{"kernel", "big"}}, "pool"));
  try {
    Model::FromGraph(g);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("attribute 'kernel' must be a list of integers"), std::string::npos)
        << e.what();
  }
}

TEST(ModelFileTest, NonFiniteWeightsAreRejected) {
  Graph g = SmallGraph();
  std::vector<float> w(12, 1.0f);
  w[3] = NAN;
  g.tensors[1].constant = Constant::FromFloats(w);
  const auto b = SerializeGraph(g);
  ExpectInvalid(b, "non-finite");
}

}  // namespace
}  // namespace facelib::rt
