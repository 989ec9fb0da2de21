// The protobuf wire-format reader and the ONNX converter, on hand-encoded bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "converters/converter.h"
#include "converters/onnx_model.h"
#include "converters/protobuf.h"
#include "runtime/error.h"
#include "runtime/model.h"

namespace facelib::convert {
namespace {

// ---- a tiny protobuf writer for building test inputs

std::string Varint(uint64_t v) {
  std::string s;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    s.push_back(static_cast<char>(b));
  } while (v);
  return s;
}
std::string Key(int field, int wire) { return Varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire)); }
std::string VarField(int field, int64_t v) { return Key(field, 0) + Varint(static_cast<uint64_t>(v)); }
std::string LenField(int field, const std::string& payload) { return Key(field, 2) + Varint(payload.size()) + payload; }
std::string F32Field(int field, float f) {
  std::string s = Key(field, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  return s + std::string(b, 4);
}
std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}
std::string PackedInts(int field, const std::vector<int64_t>& v) {
  std::string p;
  for (int64_t x : v) p += Varint(static_cast<uint64_t>(x));
  return LenField(field, p);
}

// ---- ONNX message builders (field numbers from onnx.proto)

std::string TensorRaw(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
  return PackedInts(1, dims) + VarField(2, onnx::kFloat) + LenField(8, name) + LenField(9, FloatBytes(v));
}
std::string TensorFloatData(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
  return PackedInts(1, dims) + VarField(2, onnx::kFloat) + LenField(8, name) + LenField(4, FloatBytes(v));
}
std::string TensorInt64(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& v) {
  return PackedInts(1, dims) + VarField(2, onnx::kInt64) + LenField(8, name) + PackedInts(7, v);
}
std::string AttrInt(const std::string& name, int64_t v) { return LenField(1, name) + VarField(20, 2) + VarField(3, v); }
std::string AttrInts(const std::string& name, const std::vector<int64_t>& v) {
  std::string s = LenField(1, name) + VarField(20, 7);
  for (int64_t x : v) s += VarField(8, x);  // unpacked repeated field
  return s;
}
std::string Node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                 const std::string& name, const std::vector<std::string>& attrs = {}) {
  std::string s;
  for (const auto& i : in) s += LenField(1, i);
  for (const auto& o : out) s += LenField(2, o);
  s += LenField(3, name) + LenField(4, op);
  for (const auto& a : attrs) s += LenField(5, a);
  return s;
}
// dims: >= 0 numeric, -1 symbolic (dim_param "d<i>")
std::string ValueInfo(const std::string& name, const std::vector<int64_t>& dims) {
  std::string shape;
  for (size_t i = 0; i < dims.size(); ++i)
    shape += LenField(1, dims[i] >= 0 ? VarField(1, dims[i]) : LenField(2, "d" + std::to_string(i)));
  const std::string tensor_type = VarField(1, onnx::kFloat) + LenField(2, shape);
  return LenField(1, name) + LenField(2, LenField(1, tensor_type));
}
std::string Graph(const std::vector<std::string>& nodes, const std::vector<std::string>& inits,
                  const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  std::string s;
  for (const auto& n : nodes) s += LenField(1, n);
  s += LenField(2, "test");
  for (const auto& t : inits) s += LenField(5, t);
  for (const auto& i : inputs) s += LenField(11, i);
  for (const auto& o : outputs) s += LenField(12, o);
  return s;
}
std::string Model(const std::string& graph, int64_t opset = 13) {
  return VarField(1, 7) + LenField(2, "unit-test") + LenField(7, graph) + LenField(8, LenField(1, "") + VarField(2, opset));
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

rt::Graph Convert(const std::string& path, std::map<std::string, std::string> options = {}) {
  const Converter* c = FindConverter("onnx");
  if (!c) throw std::runtime_error("onnx converter not registered");
  ConvertRequest req;
  req.inputs = {path};
  req.options = std::move(options);
  return c->convert(req);
}

void ExpectError(const std::function<void()>& fn, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

void ExpectDecodeError(const std::string& bytes, const std::string& part, const std::function<void(const pb::Field&)>& use = {}) {
  try {
    pb::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    pb::Field f;
    while (r.Next(&f))
      if (use) use(f);
    ADD_FAILURE() << "no error for '" << part << "'";
  } catch (const pb::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// ---- protobuf reader

TEST(ProtobufTest, ReadsScalarFields) {
  double d = -2.5;
  char db[8];
  std::memcpy(db, &d, 8);
  const std::string bytes = VarField(1, 300) + VarField(2, -1) + F32Field(3, 1.5f) + Key(4, 1) + std::string(db, 8) +
                            LenField(5, "hello") + VarField(536870911, 7);
  pb::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  pb::Field f;
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.AsInt64(), 300);
  EXPECT_EQ(bytes.substr(0, 3), std::string("\x08\xac\x02", 3));  // 300 = 0xAC 0x02
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.AsInt64(), -1);  // negative int64: ten bytes on the wire
  EXPECT_EQ(f.AsInt32(), -1);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.AsFloat(), 1.5f);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.AsDouble(), -2.5);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.AsString(), "hello");
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.number, 536870911u);  // the largest field number
  EXPECT_EQ(f.AsUInt64(), 7u);
  EXPECT_FALSE(r.Next(&f));
}

TEST(ProtobufTest, NestedMessagesAndPackedRepeated) {
  const std::string inner = VarField(1, 42) + PackedInts(2, {1, -2, 1000000});
  std::vector<float> fl = {0.25f, -8.0f};
  const std::string bytes = LenField(7, inner) + LenField(3, FloatBytes(fl)) + F32Field(3, 3.0f) + VarField(2, 5);
  pb::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  pb::Field f;
  ASSERT_TRUE(r.Next(&f));
  pb::Reader sub = r.Sub(f.AsBytes());
  EXPECT_EQ(r.OffsetOf(f.bytes), 2u);  // tag + length byte precede the payload
  pb::Field g;
  ASSERT_TRUE(sub.Next(&g));
  EXPECT_EQ(g.AsInt64(), 42);
  ASSERT_TRUE(sub.Next(&g));
  std::vector<int64_t> ints;
  pb::AppendInt64s(g, &ints);
  EXPECT_EQ(ints, (std::vector<int64_t>{1, -2, 1000000}));
  EXPECT_FALSE(sub.Next(&g));
  std::vector<float> floats;
  ASSERT_TRUE(r.Next(&f));
  pb::AppendFloats(f, &floats);  // packed
  ASSERT_TRUE(r.Next(&f));
  pb::AppendFloats(f, &floats);  // unpacked element of the same repeated field
  EXPECT_EQ(floats, (std::vector<float>{0.25f, -8.0f, 3.0f}));
  ASSERT_TRUE(r.Next(&f));
  pb::AppendInt64s(f, &ints);  // unpacked varint
  EXPECT_EQ(ints.back(), 5);
}

TEST(ProtobufTest, RejectsMalformedInput) {
  ExpectDecodeError(std::string("\x08\xff\xff", 3), "truncated varint");
  ExpectDecodeError(std::string("\x08") + std::string(10, '\xff') + "\x01", "varint");
  ExpectDecodeError(LenField(2, "abcdef").substr(0, 5), "runs past the end");
  ExpectDecodeError(std::string("\x12\x7f") + "xy", "length 127");
  ExpectDecodeError(Key(3, 5) + "ab", "truncated fixed32");
  ExpectDecodeError(Key(3, 1) + "abcd", "truncated fixed64");
  ExpectDecodeError(Key(4, 3), "group wire type");
  ExpectDecodeError(Key(4, 7), "invalid wire type 7");
  ExpectDecodeError(std::string("\x00\x01", 2), "invalid field number 0");
  ExpectDecodeError(VarField(5, 1), "field 5 at byte 0 has wire type varint, expected length-delimited",
                    [](const pb::Field& f) { f.AsString(); });
  ExpectDecodeError(LenField(1, "x"), "expected varint", [](const pb::Field& f) { f.AsInt64(); });
  ExpectDecodeError(LenField(3, "abcde"), "not a multiple of 4", [](const pb::Field& f) {
    std::vector<float> v;
    pb::AppendFloats(f, &v);
  });
  ExpectDecodeError(LenField(3, "\x80"), "truncated varint", [](const pb::Field& f) {
    std::vector<int64_t> v;
    pb::AppendInt64s(f, &v);
  });
}

// ---- the converter

// input x [1,2,H,W] -> Conv 1x1 (2->2, bias) -> Relu -> `tail` nodes -> outputs.
std::string ConvReluModel(const std::vector<std::string>& tail_nodes, const std::vector<std::string>& outputs,
                          const std::vector<int64_t>& in_dims = {1, 2, 2, 2}, std::vector<std::string> inits = {}) {
  // out0 = x0 + 2 x1 + 0.5 ; out1 = -x0 + 3 x1 + 1
  inits.push_back(TensorRaw("w", {2, 2, 1, 1}, {1, 2, -1, 3}));
  inits.push_back(TensorFloatData("b", {2}, {0.5f, 1.0f}));
  std::vector<std::string> nodes = {
      Node("Conv", {"x", "w", "b"}, {"c"}, "conv", {AttrInts("kernel_shape", {1, 1}), AttrInts("pads", {0, 0, 0, 0})}),
      Node("Relu", {"c"}, {"r"}, "relu")};
  nodes.insert(nodes.end(), tail_nodes.begin(), tail_nodes.end());
  return Model(Graph(nodes, inits, {ValueInfo("x", in_dims)}, outputs));
}

// x0 = [1,2,3,4], x1 = [0.5,-1,0,1] (NCHW planes) -> NHWC interleaved.
const std::vector<float> kInputNhwc = {1, 0.5f, 2, -1, 3, 0, 4, 1};

TEST(OnnxConverterTest, ConvReluGlobalAveragePoolMatchesHandValues) {
  const std::string path = WriteTemp("gap.onnx", ConvReluModel({Node("GlobalAveragePool", {"r"}, {"y"}, "gap")},
                                                               {ValueInfo("y", {1, 2, 1, 1})}));
  rt::Graph g = Convert(path);
  EXPECT_EQ(g.metadata.at("input_layout"), "NHWC");
  EXPECT_EQ(g.metadata.at("source_layout"), "NCHW");
  EXPECT_EQ(g.metadata.at("source_input_shapes"), "x=1x2x2x2");
  EXPECT_EQ(g.metadata.at("source_file"), "gap.onnx");
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.inputs[0]].shape, (rt::Shape{1, 2, 2, 2}));
  auto model = rt::Model::FromGraph(std::move(g));
  EXPECT_EQ(model->output_name(0), "y");
  const auto out = model->Run({{{1, 2, 2, 2}, kInputNhwc.data()}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 2, 1, 1}));
  // relu(out0) = [2.5, 0.5, 3.5, 6.5] -> 3.25 ; relu(out1) = [1.5, 0, 0, 0] -> 0.375
  EXPECT_FLOAT_EQ(out[0].data[0], 3.25f);
  EXPECT_FLOAT_EQ(out[0].data[1], 0.375f);
}

TEST(OnnxConverterTest, FourDimensionalOutputsComeBackInNchwOrder) {
  const std::string path = WriteTemp(
      "nchw.onnx",
      ConvReluModel({Node("Transpose", {"r"}, {"t"}, "perm", {AttrInts("perm", {0, 2, 3, 1})}),
                     Node("Reshape", {"t", "shape"}, {"flat"}, "reshape")},
                    {ValueInfo("r", {1, 2, 2, 2}), ValueInfo("flat", {1, 4, 2})}, {1, 2, 2, 2},
                    {TensorInt64("shape", {3}, {1, -1, 2})}));
  rt::Graph g = Convert(path);
  // Transpose(0,2,3,1) of an NHWC-stored tensor is its stored order: no Transpose node for it.
  int transposes = 0;
  for (const auto& n : g.nodes) transposes += n.op == "Transpose";
  EXPECT_EQ(transposes, 1);  // only the NCHW copy of output 'r'
  auto model = rt::Model::FromGraph(std::move(g));
  const auto out = model->Run({{{1, 2, 2, 2}, kInputNhwc.data()}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 2, 2, 2}));
  EXPECT_EQ(out[0].data, (std::vector<float>{2.5f, 0.5f, 3.5f, 6.5f, 1.5f, 0, 0, 0}));
  EXPECT_EQ(out[1].shape, (rt::Shape{1, 4, 2}));
  EXPECT_EQ(out[1].data, (std::vector<float>{2.5f, 1.5f, 0.5f, 0, 3.5f, 0, 6.5f, 0}));
}

TEST(OnnxConverterTest, ShapeSubgraphKeepsOpenDimsDynamic) {
  // reshape(r, [shape(r)[0], -1]) after a channel concat, on an input whose N, H, W are open.
  const std::string path = WriteTemp(
      "dyn.onnx",
      ConvReluModel({Node("Concat", {"r", "x"}, {"cat"}, "concat", {AttrInt("axis", 1)}),
                     Node("Shape", {"cat"}, {"s"}, "shape"),
                     Node("Gather", {"s", "zero"}, {"n"}, "gather", {AttrInt("axis", 0)}),
                     Node("Unsqueeze", {"n", "axes0"}, {"n1"}, "unsq"),
                     Node("Concat", {"n1", "minus1"}, {"spec"}, "spec", {AttrInt("axis", 0)}),
                     Node("Reshape", {"cat", "spec"}, {"y"}, "reshape")},
                    {ValueInfo("y", {-1, -1})}, {-1, 2, -1, -1},
                    {TensorInt64("zero", {}, {0}), TensorInt64("axes0", {1}, {0}), TensorInt64("minus1", {1}, {-1})}));
  auto model = rt::Model::FromGraph(Convert(path));
  EXPECT_EQ(model->input_shape(0), (rt::Shape{-1, -1, -1, 2}));
  auto out = model->Run({{{1, 2, 2, 2}, kInputNhwc.data()}});
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 16}));
  // NCHW flattening: relu planes, then the input planes.
  EXPECT_EQ(out[0].data, (std::vector<float>{2.5f, 0.5f, 3.5f, 6.5f, 1.5f, 0, 0, 0, 1, 2, 3, 4, 0.5f, -1, 0, 1}));
  const std::vector<float> small = {1, 1, 2, 0};  // 1x1x2 image, x0 = [1,2], x1 = [1,0]
  out = model->Run({{{1, 1, 2, 2}, small.data()}});
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 8}));
  // out0 = [1+2+.5, 2+0+.5] ; out1 = [-1+3+1, -2+0+1 -> 0]
  EXPECT_EQ(out[0].data, (std::vector<float>{3.5f, 2.5f, 3, 0, 1, 2, 1, 0}));
}

TEST(OnnxConverterTest, OpenDimNeededAsANumberAsksForInputShape) {
  const std::string model = Model(Graph(
      {Node("Resize", {"x", "", "", "sizes"}, {"y"}, "up", {})}, {TensorInt64("sizes", {4}, {1, 2, 4, 4})},
      {ValueInfo("x", {1, 2, -1, -1})}, {ValueInfo("y", {1, 2, 4, 4})}));
  // Fixed sizes are fine even with open input dims.
  auto m = rt::Model::FromGraph(Convert(WriteTemp("resize.onnx", model)));
  const std::vector<float> x = {1, 10, 2, 20, 3, 30, 4, 40};
  const auto out = m->Run({{{1, 2, 2, 2}, x.data()}});
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 2, 4, 4}));
  EXPECT_FLOAT_EQ(out[0].data[0], 1.0f);
  EXPECT_FLOAT_EQ(out[0].data[16], 10.0f);
  // A size computed from an open dim is not.
  const std::string dyn = Model(Graph(
      {Node("Shape", {"x"}, {"s"}, "shape"), Node("Mul", {"s", "two"}, {"sizes"}, "double"),
       Node("Resize", {"x", "", "", "sizes"}, {"y"}, "up2", {})},
      {TensorInt64("two", {4}, {1, 1, 2, 2})}, {ValueInfo("x", {1, 2, -1, -1})}, {ValueInfo("y", {1, 2, -1, -1})}));
  const std::string p = WriteTemp("resize_dyn.onnx", dyn);
  ExpectError([&] { Convert(p); }, ErrorCode::kUnsupported,
              {"node 'up2' (Resize)", "--input-shape x=1x3xHxW"});
  auto fixed = rt::Model::FromGraph(Convert(p, {{"input-shape", "x=1x2x2x2"}}));
  EXPECT_EQ(fixed->Run({{{1, 2, 2, 2}, x.data()}})[0].shape, (rt::Shape{1, 2, 4, 4}));
}

// The FPN pattern of RetinaFace and SCRFD: Resize 'sizes' = Concat(N, C,
// Gather(Shape(lateral), [2, 3])). The open H and W come from the lateral
// tensor at run time (the Resize's size reference), so no --input-shape is needed.
TEST(OnnxConverterTest, ResizeToAnotherTensorsRuntimeSize) {
  const std::string fpn = Model(Graph(
      {Node("MaxPool", {"x"}, {"y"}, "down", {AttrInts("kernel_shape", {2, 2}), AttrInts("strides", {2, 2})}),
       Node("Shape", {"x"}, {"s"}, "shape"), Node("Gather", {"s", "hw_index"}, {"hw"}, "hw", {AttrInt("axis", 0)}),
       Node("Concat", {"nc", "hw"}, {"sizes"}, "sizes", {AttrInt("axis", 0)}),
       Node("Resize", {"y", "", "", "sizes"}, {"up"}, "up", {}), Node("Add", {"x", "up"}, {"z"}, "sum")},
      {TensorInt64("hw_index", {2}, {2, 3}), TensorInt64("nc", {2}, {1, 2})}, {ValueInfo("x", {1, 2, -1, -1})},
      {ValueInfo("z", {1, 2, -1, -1})}));
  const std::string p = WriteTemp("fpn.onnx", fpn);
  const rt::Graph g = Convert(p);
  int resizes = 0;
  for (const auto& n : g.nodes) {
    if (n.op != "Resize") continue;
    ++resizes;
    EXPECT_EQ(n.inputs.size(), 2u);  // x and the size reference
    EXPECT_FALSE(n.Has("size"));
  }
  EXPECT_EQ(resizes, 1);
  auto dynamic = rt::Model::FromGraph(g);
  auto fixed = rt::Model::FromGraph(Convert(p, {{"input-shape", "x=1x2x4x6"}}));
  std::vector<float> x(2 * 4 * 6);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 11);
  const auto a = dynamic->Run({{{1, 4, 6, 2}, x.data()}});
  const auto b = fixed->Run({{{1, 4, 6, 2}, x.data()}});
  ASSERT_EQ(a[0].shape, (rt::Shape{1, 2, 4, 6}));  // 4-D outputs come back NCHW
  EXPECT_EQ(a[0].data, b[0].data);
  // Another size: 5x6 pools to 2x3 and comes back to 5x6.
  std::vector<float> ones(2 * 5 * 6, 1.0f);
  const auto c = dynamic->Run({{{1, 5, 6, 2}, ones.data()}});
  ASSERT_EQ(c[0].shape, (rt::Shape{1, 2, 5, 6}));
  for (float v : c[0].data) EXPECT_FLOAT_EQ(v, 2.0f);
}

TEST(OnnxConverterTest, MalformedFilesAreInvalidModel) {
  const std::string good = ConvReluModel({}, {ValueInfo("r", {1, 2, 2, 2})});
  ASSERT_NO_THROW(Convert(WriteTemp("good.onnx", good)));
  const std::string truncated = WriteTemp("truncated.onnx", good.substr(0, good.size() / 2));
  ExpectError([&] { Convert(truncated); }, ErrorCode::kInvalidModel, {"truncated.onnx", "protobuf"});
  const std::string garbage = WriteTemp("garbage.onnx", "this is not an onnx model, just text\n");
  ExpectError([&] { Convert(garbage); }, ErrorCode::kInvalidModel, {"garbage.onnx"});
  const std::string empty = WriteTemp("empty.onnx", "");
  ExpectError([&] { Convert(empty); }, ErrorCode::kInvalidModel, {"empty"});
  const std::string no_graph = WriteTemp("nograph.onnx", VarField(1, 7) + LenField(2, "x"));
  ExpectError([&] { Convert(no_graph); }, ErrorCode::kInvalidModel, {"no graph"});
  ExpectError([&] { Convert(::testing::TempDir() + "/missing.onnx"); }, ErrorCode::kNotFound, {"missing.onnx"});
  // raw_data whose size disagrees with dims
  const std::string bad_raw = Model(Graph({Node("Add", {"x", "k"}, {"y"}, "add")},
                                          {PackedInts(1, {3}) + VarField(2, onnx::kFloat) + LenField(8, "k") +
                                           LenField(9, FloatBytes({1, 2}))},
                                          {ValueInfo("x", {3})}, {ValueInfo("y", {3})}));
  ExpectError([&] { Convert(WriteTemp("badraw.onnx", bad_raw)); }, ErrorCode::kInvalidModel,
              {"tensor 'k'", "raw_data has 8 bytes, expected 12"});
  // A node reading a value nothing produces
  const std::string dangling = Model(Graph({Node("Relu", {"nothing"}, {"y"}, "lost")}, {}, {ValueInfo("x", {3})},
                                           {ValueInfo("y", {3})}));
  ExpectError([&] { Convert(WriteTemp("dangling.onnx", dangling)); }, ErrorCode::kInvalidModel,
              {"node 'lost' (Relu)", "'nothing'"});
}

TEST(OnnxConverterTest, UnsupportedContentNamesTheCulprit) {
  const std::string unknown_op = ConvReluModel({Node("FancyOp", {"r"}, {"y"}, "fancy_1")}, {ValueInfo("y", {1, 2, 2, 2})});
  ExpectError([&] { Convert(WriteTemp("unknown.onnx", unknown_op)); }, ErrorCode::kUnsupported,
              {"node 'fancy_1' (FancyOp)", "operator 'FancyOp' is not supported"});
  const std::string complex = Model(Graph({Node("Add", {"x", "k"}, {"y"}, "add")},
                                          {PackedInts(1, {1}) + VarField(2, onnx::kComplex64) + LenField(8, "k") +
                                           LenField(9, std::string(8, '\0'))},
                                          {ValueInfo("x", {1})}, {ValueInfo("y", {1})}));
  ExpectError([&] { Convert(WriteTemp("complex.onnx", complex)); }, ErrorCode::kUnsupported,
              {"tensor 'k'", "COMPLEX64"});
  const std::string external = Model(Graph({Node("Add", {"x", "k"}, {"y"}, "add")},
                                           {PackedInts(1, {1}) + VarField(2, onnx::kFloat) + LenField(8, "k") +
                                            VarField(14, 1)},
                                           {ValueInfo("x", {1})}, {ValueInfo("y", {1})}));
  ExpectError([&] { Convert(WriteTemp("external.onnx", external)); }, ErrorCode::kUnsupported, {"external data"});
  const std::string ms_domain = Model(Graph({Node("Relu", {"x"}, {"y"}, "r") + LenField(7, "com.microsoft")}, {},
                                            {ValueInfo("x", {1})}, {ValueInfo("y", {1})}));
  ExpectError([&] { Convert(WriteTemp("domain.onnx", ms_domain)); }, ErrorCode::kUnsupported, {"com.microsoft"});
  // ceil_mode average pooling that would count the overhang
  const std::string pool = Model(Graph({Node("AveragePool", {"x"}, {"y"}, "avg",
                                             {AttrInts("kernel_shape", {2, 2}), AttrInts("strides", {2, 2}),
                                              AttrInt("ceil_mode", 1), AttrInt("count_include_pad", 1)})},
                                       {}, {ValueInfo("x", {1, 1, 3, 3})}, {ValueInfo("y", {1, 1, 2, 2})}));
  ExpectError([&] { Convert(WriteTemp("pool.onnx", pool)); }, ErrorCode::kUnsupported,
              {"node 'avg' (AveragePool)", "count_include_pad"});
}

TEST(OnnxConverterTest, CeilModeMaxPoolPadsTheEnd) {
  // 3x3 input, 2x2 window, stride 2, ceil_mode: 2x2 output; the last row/column pools alone.
  const std::string pool = Model(Graph({Node("MaxPool", {"x"}, {"y"}, "mp",
                                             {AttrInts("kernel_shape", {2, 2}), AttrInts("strides", {2, 2}),
                                              AttrInt("ceil_mode", 1)})},
                                       {}, {ValueInfo("x", {1, 1, 3, 3})}, {ValueInfo("y", {1, 1, 2, 2})}));
  auto m = rt::Model::FromGraph(Convert(WriteTemp("ceil.onnx", pool)));
  const std::vector<float> x = {1, -5, 2, 7, 3, -1, -4, -6, -8};
  const auto out = m->Run({{{1, 3, 3, 1}, x.data()}});
  EXPECT_EQ(out[0].shape, (rt::Shape{1, 1, 2, 2}));
  EXPECT_EQ(out[0].data, (std::vector<float>{7, 2, -4, -8}));
}

}  // namespace
}  // namespace facelib::convert
