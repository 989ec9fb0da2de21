// Decoded ONNX protobuf messages (the subset a converter needs), read straight
// from the wire format with converters/protobuf.h. Field numbers follow
// onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace facelib::convert::onnx {

// TensorProto.DataType values.
enum DataType : int32_t {
  kUndefined = 0, kFloat = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUInt32 = 12, kUInt64 = 13, kComplex64 = 14,
  kComplex128 = 15, kBFloat16 = 16,
};
std::string DataTypeName(int32_t t);

// A decoded initializer or constant: floating types become fp32, integer and
// bool types become int64.
struct Tensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = kUndefined;
  bool is_int = false;
  std::vector<float> f;
  std::vector<int64_t> i;
  int64_t size() const;
};

// AttributeProto.AttributeType values.
enum AttrType : int32_t {
  kAttrUndefined = 0, kAttrFloat = 1, kAttrInt = 2, kAttrString = 3, kAttrTensor = 4, kAttrGraph = 5,
  kAttrFloats = 6, kAttrInts = 7, kAttrStrings = 8, kAttrTensors = 9, kAttrGraphs = 10,
  kAttrSparseTensor = 11, kAttrSparseTensors = 12, kAttrTypeProto = 13, kAttrTypeProtos = 14,
};

struct Attribute {
  std::string name;
  int32_t type = kAttrUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<Tensor> t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attrs;

  const Attribute* Find(const std::string& key) const;
  // "node 'name' (OpType)" for messages.
  std::string Describe() const;
};

struct ValueInfo {
  std::string name;
  int32_t elem_type = kUndefined;
  bool has_shape = false;
  std::vector<int64_t> dims;             // -1 where the dim is symbolic or absent
  std::vector<std::string> dim_params;   // symbolic names ("" when numeric)
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

struct Model {
  int64_t ir_version = 0;
  std::string producer_name, producer_version;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  Graph graph;
  bool has_graph = false;
};

// Decodes a serialized ModelProto. Throws facelib::Error: kInvalidModel for
// malformed bytes (naming the message and field), kUnsupported for valid
// content this reader does not handle (external data, exotic dtypes),
// both prefixed with `file`.
Model ParseModel(const uint8_t* data, size_t size, const std::string& file);

}  // namespace facelib::convert::onnx
