#include "converters/torch_checkpoint.h"

#include <cstring>
#include <map>

#include "converters/converter.h"
#include "converters/pickle.h"
#include "converters/zip.h"
#include "runtime/error.h"

namespace facelib::convert {

namespace {

using pickle::Type;
using pickle::Value;

struct StorageType {
  char kind;  // numpy-style: 'f', 'i', 'u', 'b', 'h' (bfloat16)
  int size;
};

StorageType StorageTypeOf(const std::string& label, const std::string& name) {
  static const std::map<std::string, StorageType> kTypes = {
      {"FloatStorage", {'f', 4}}, {"DoubleStorage", {'f', 8}}, {"HalfStorage", {'f', 2}},
      {"BFloat16Storage", {'h', 2}}, {"LongStorage", {'i', 8}}, {"IntStorage", {'i', 4}},
      {"ShortStorage", {'i', 2}},  {"CharStorage", {'i', 1}},   {"ByteStorage", {'u', 1}},
      {"BoolStorage", {'b', 1}}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) Unsupported(label, "torch storage type " + name);
  return it->second;
}

// A storage's bytes, found in the container.
struct StorageBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

float ElementToFloat(const uint8_t* p, StorageType t) {
  pickle::NdArray one;
  if (t.kind == 'h') {  // bfloat16: the top half of a float32
    const uint32_t bits = (static_cast<uint32_t>(p[1]) << 24) | (static_cast<uint32_t>(p[0]) << 16);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  one.dtype.kind = t.kind;
  one.dtype.itemsize = t.size;
  one.bytes.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(t.size));
  return pickle::ArrayToFloats(one, "")[0];
}

models::WeightTensor Materialize(const std::string& label, const std::string& name, const pickle::TensorRef& t,
                                 const std::map<const Value*, StorageBytes>& storages) {
  const Value* sv = t.storage;
  const pickle::StorageRef& s = *sv->storage;
  const StorageType st = StorageTypeOf(label, s.type);
  auto it = storages.find(sv);
  if (it == storages.end()) Malformed(label, "tensor '" + name + "' uses storage '" + s.key + "', which has no data");
  const StorageBytes& bytes = it->second;
  const int64_t storage_elems = static_cast<int64_t>(bytes.size / static_cast<size_t>(st.size));
  models::WeightTensor out;
  out.shape = t.size;
  int64_t numel = 1, last = t.offset;
  for (size_t d = 0; d < t.size.size(); ++d) {
    if (t.size[d] != 0 && numel > (int64_t{1} << 32) / t.size[d]) Malformed(label, "tensor '" + name + "' is too large");
    numel *= t.size[d];
    if (t.size[d] > 0) last += (t.size[d] - 1) * t.stride[d];
  }
  if (numel > 0 && (last >= storage_elems || last < 0))
    Malformed(label, "tensor '" + name + "' reaches element " + std::to_string(last) + " of a storage with " +
                         std::to_string(storage_elems));
  out.data.resize(static_cast<size_t>(numel));
  const size_t nd = t.size.size();
  std::vector<int64_t> idx(nd, 0);
  const bool fast = st.kind == 'f' && st.size == 4;
  for (int64_t i = 0; i < numel; ++i) {
    int64_t off = t.offset;
    for (size_t d = 0; d < nd; ++d) off += idx[d] * t.stride[d];
    const uint8_t* p = bytes.data + off * st.size;
    if (fast) std::memcpy(&out.data[static_cast<size_t>(i)], p, 4);  // little-endian host and file
    else out.data[static_cast<size_t>(i)] = ElementToFloat(p, st);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < t.size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

const Value* StateDictOf(const std::string& label, const Value* root) {
  if (!root || root->type != Type::kDict)
    Unsupported(label, "checkpoint holds a " + pickle::DescribeValue(root) + ", not a state dict (whole pickled modules are not read)");
  for (const char* key : {"state_dict", "model", "model_state_dict", "net"})
    if (const Value* inner = root->Get(key); inner && inner->type == Type::kDict) return inner;
  return root;
}

models::WeightMap CollectTensors(const std::string& label, const Value* dict,
                                 const std::map<const Value*, StorageBytes>& storages) {
  models::WeightMap w(label);
  for (const auto& [k, v] : dict->entries) {
    if (k->type != Type::kString || v->type != Type::kTensor) continue;  // hyper-parameters, epochs, ...
    std::string name = k->str;
    if (name.rfind("module.", 0) == 0) name = name.substr(7);
    w.Add(name, Materialize(label, k->str, *v->tensor, storages));
  }
  if (w.tensors().empty()) Malformed(label, "the state dict holds no tensors");
  return w;
}

TorchStateDict ReadZip(const std::vector<uint8_t>& bytes, const std::string& label) {
  ZipReader zip(bytes.data(), bytes.size(), label);
  const ZipEntry* pkl = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const std::string suffix = "data.pkl";
    if (e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        (e.name.size() == suffix.size() || e.name[e.name.size() - suffix.size() - 1] == '/')) {
      pkl = &e;
      break;
    }
  }
  if (!pkl) Malformed(label, "zip checkpoint without data.pkl");
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);
  const auto [p, n] = zip.Read(*pkl);
  size_t pos = 0;
  auto result = pickle::Unpickle(p, n, &pos, label);
  std::map<const Value*, StorageBytes> storages;
  for (const Value* s : result->storages()) {
    const auto [d, size] = zip.Read(prefix + "data/" + s->storage->key);
    storages[s] = {d, size};
  }
  TorchStateDict out;
  out.container = TorchContainer::kZip;
  out.weights = CollectTensors(label, StateDictOf(label, result->root()), storages);
  return out;
}

TorchStateDict ReadLegacy(const std::vector<uint8_t>& bytes, const std::string& label) {
  const uint8_t* d = bytes.data();
  const size_t n = bytes.size();
  size_t pos = 0;
  // 0x1950a86a20f9469cfc6c, little-endian
  static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
  auto magic = pickle::Unpickle(d, n, &pos, label);
  if (magic->root()->type != Type::kBigInt || magic->root()->str != kMagic)
    Malformed(label, "not a PyTorch checkpoint (legacy magic number missing)");
  auto proto = pickle::Unpickle(d, n, &pos, label);
  if (proto->root()->type != Type::kInt || proto->root()->i != 1001)
    Unsupported(label, "legacy checkpoint protocol version other than 1001");
  auto sys_info = pickle::Unpickle(d, n, &pos, label);
  if (const Value* le = sys_info->root()->Get("little_endian"); le && le->type == Type::kBool && !le->b)
    Unsupported(label, "big-endian checkpoint");
  auto main = pickle::Unpickle(d, n, &pos, label);
  auto keys = pickle::Unpickle(d, n, &pos, label);
  if (keys->root()->type != Type::kList) Malformed(label, "storage key list missing after the object pickle");
  std::map<std::string, const Value*> by_key;
  for (const Value* s : main->storages()) by_key[s->storage->key] = s;
  std::map<const Value*, StorageBytes> storages;
  for (const Value* k : keys->root()->items) {
    if (k->type != Type::kString) Malformed(label, "storage key is not a string");
    auto it = by_key.find(k->str);
    if (it == by_key.end()) Malformed(label, "storage '" + k->str + "' is not referenced by any tensor");
    const StorageType st = StorageTypeOf(label, it->second->storage->type);
    if (n - pos < 8) Malformed(label, "truncated before the size of storage '" + k->str + "'");
    uint64_t count = 0;
    for (int i = 0; i < 8; ++i) count |= static_cast<uint64_t>(d[pos + i]) << (8 * i);
    pos += 8;
    if (count != static_cast<uint64_t>(it->second->storage->numel))
      Malformed(label, "storage '" + k->str + "' has " + std::to_string(count) + " elements, its id says " +
                           std::to_string(it->second->storage->numel));
    if (count > (n - pos) / static_cast<uint64_t>(st.size)) Malformed(label, "storage '" + k->str + "' is truncated");
    const size_t len = static_cast<size_t>(count) * static_cast<size_t>(st.size);
    storages[it->second] = {d + pos, len};
    pos += len;
  }
  TorchStateDict out;
  out.container = TorchContainer::kLegacy;
  out.weights = CollectTensors(label, StateDictOf(label, main->root()), storages);
  return out;
}

}  // namespace

TorchStateDict ReadTorchStateDict(const std::vector<uint8_t>& bytes, const std::string& label) {
  if (ZipReader::LooksLikeZip(bytes.data(), bytes.size())) return ReadZip(bytes, label);
  if (bytes.size() >= 2 && bytes[0] == 0x80) return ReadLegacy(bytes, label);
  if (bytes.size() > 262 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0)
    Unsupported(label, "tar checkpoints (torch < 0.4 on a tar container)");
  Malformed(label, "neither a zip nor a legacy PyTorch checkpoint");
}

TorchStateDict LoadTorchStateDict(const std::string& path) { return ReadTorchStateDict(ReadFileBytes(path), path); }

}  // namespace facelib::convert
