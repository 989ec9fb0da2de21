// A pickle reader for weight files (PyTorch checkpoints, numpy object arrays,
// joblib dumps). It runs the pickle virtual machine for protocols 0-5 but never
// executes code: GLOBAL resolves only to a fixed allow-list of callables that
// are modelled as data (tensor rebuilds, numpy array reconstruction, ordered
// dicts, joblib's array wrapper); any other global is rejected as kUnsupported
// naming it. Every read is bounds-checked and the machine has size limits, so
// hostile input ends in a facelib::Error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace facelib::convert::pickle {

enum class Type : uint8_t {
  kNone,
  kBool,
  kInt,      // fits int64 (`i`)
  kBigInt,   // wider LONG1/LONG4 value: little-endian two's complement bytes in `str`
  kFloat,
  kString,   // UTF-8 in `str`
  kBytes,    // raw bytes in `str`
  kTuple,
  kList,
  kSet,
  kDict,
  kGlobal,   // an allow-listed callable or class: "module.name" in `str`
  kObject,   // instance made by NEWOBJ of an allow-listed class (`cls`)
  kStorage,  // torch storage from a persistent id
  kTensor,   // torch tensor from _rebuild_tensor*
  kArray,    // numpy array
  kDType,    // numpy dtype
};

const char* TypeName(Type t);

struct Value;

// numpy dtype: kind 'f' (float), 'i', 'u', 'b' (bool), 'O' (object).
struct DType {
  char kind = 'f';
  int itemsize = 4;
  bool big_endian = false;
};

struct NdArray {
  DType dtype;
  std::vector<int64_t> shape;
  bool fortran = false;
  std::string bytes;                   // numeric arrays: numel * itemsize bytes
  std::vector<const Value*> objects;   // object arrays
};

// A torch storage named by a persistent id ('storage', <type>, key, location, numel).
struct StorageRef {
  std::string type;  // e.g. "FloatStorage"
  std::string key;
  std::string location;
  int64_t numel = 0;
};

struct TensorRef {
  const Value* storage = nullptr;  // Type::kStorage
  int64_t offset = 0;              // in elements
  std::vector<int64_t> size, stride;
};

struct Value {
  Type type = Type::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string str;
  std::vector<Value*> items;                       // tuple, list, set
  std::vector<std::pair<Value*, Value*>> entries;  // dict, in insertion order
  const Value* cls = nullptr;                      // kObject: its class (kGlobal)
  const Value* state = nullptr;                    // BUILD state kept for inspection
  std::unique_ptr<NdArray> array;                  // kArray
  std::unique_ptr<StorageRef> storage;             // kStorage
  std::unique_ptr<TensorRef> tensor;               // kTensor
  DType dtype;                                     // kDType

  bool IsString(std::string_view s) const { return type == Type::kString && str == s; }
  bool IsGlobal(std::string_view s) const { return type == Type::kGlobal && str == s; }
  // Dict lookup by string key; nullptr when absent or not a dict.
  const Value* Get(std::string_view key) const;
};

// The values of one pickle; they live as long as this object.
class Unpickled {
 public:
  const Value* root() const { return root_; }
  // Every torch storage created from a persistent id, in order of appearance.
  const std::vector<const Value*>& storages() const { return storages_; }

 private:
  friend class Machine;
  std::vector<std::unique_ptr<Value>> pool_;
  std::vector<const Value*> storages_;
  const Value* root_ = nullptr;
};

struct Limits {
  size_t max_values = size_t{1} << 22;     // values created
  size_t max_stack = size_t{1} << 22;      // stack entries
  size_t max_memo = size_t{1} << 22;       // memo slots
  size_t max_marks = 4096;                 // nesting of MARKs
  size_t max_container = size_t{1} << 24;  // elements of one list/dict/tuple
  int64_t max_array_bytes = int64_t{1} << 31;
};

// Runs one pickle starting at data[*pos]; on success *pos is one past STOP.
// `label` names the source in error messages.
std::shared_ptr<const Unpickled> Unpickle(const uint8_t* data, size_t size, size_t* pos, const std::string& label,
                                          const Limits& limits = {});

// Shape of an array / tensor as a string, for messages.
std::string DescribeValue(const Value* v);

// Array elements in C order, converted to float32. Throws kUnsupported for
// object arrays and kInvalidModel when the byte count does not match.
std::vector<float> ArrayToFloats(const NdArray& a, const std::string& label);

}  // namespace facelib::convert::pickle
