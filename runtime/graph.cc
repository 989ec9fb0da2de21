#include "runtime/graph.h"

#include <queue>
#include <sstream>

namespace facelib::rt {

int64_t NumElements(const Shape& s, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error(ErrorCode::kInvalidArgument, "shape " + ShapeToString(s) + " has a negative dimension");
    if (d != 0 && n > limit / d)
      throw Error(ErrorCode::kResourceExhausted, "shape " + ShapeToString(s) + " has too many elements");
    n *= d;
  }
  return n;
}

std::string ShapeToString(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << "]";
  return os.str();
}

Constant Constant::FromFloats(std::vector<float> values, Storage storage) {
  auto owned = std::make_shared<std::vector<float>>(std::move(values));
  Constant c;
  c.f32 = owned->data();
  c.owner = owned;
  c.storage = storage;
  return c;
}

Constant Constant::FromInts(std::vector<int64_t> values) {
  Constant c;
  c.ints = std::move(values);
  c.is_int = true;
  c.storage = Storage::kInt32;
  return c;
}

namespace {
[[noreturn]] void AttrTypeError(const NodeDef& n, const std::string& key, const char* want) {
  throw Error(ErrorCode::kInvalidModel,
              n.Describe() + ": attribute '" + key + "' must be " + want);
}
}  // namespace

int64_t NodeDef::GetInt(const std::string& key, int64_t def) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return def;
  if (auto* v = std::get_if<int64_t>(&it->second.value())) return *v;
  AttrTypeError(*this, key, "an integer");
}

float NodeDef::GetFloat(const std::string& key, float def) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return def;
  if (auto* v = std::get_if<float>(&it->second.value())) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second.value())) return static_cast<float>(*v);
  AttrTypeError(*this, key, "a float");
}

std::vector<int64_t> NodeDef::GetInts(const std::string& key, std::vector<int64_t> def) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return def;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second.value())) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second.value())) return {*v};
  AttrTypeError(*this, key, "a list of integers");
}

std::vector<float> NodeDef::GetFloats(const std::string& key, std::vector<float> def) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return def;
  if (auto* v = std::get_if<std::vector<float>>(&it->second.value())) return *v;
  if (auto* v = std::get_if<float>(&it->second.value())) return {*v};
  AttrTypeError(*this, key, "a list of floats");
}

std::string NodeDef::GetString(const std::string& key, std::string def) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return def;
  if (auto* v = std::get_if<std::string>(&it->second.value())) return *v;
  AttrTypeError(*this, key, "a string");
}

std::string NodeDef::Describe() const { return "node '" + name + "' (" + op + ")"; }

int Graph::AddInput(const std::string& name, Shape shape) {
  tensors.push_back({name, std::move(shape), std::nullopt});
  inputs.push_back(static_cast<int>(tensors.size() - 1));
  return inputs.back();
}

int Graph::AddConstant(const std::string& name, Shape shape, Constant c) {
  tensors.push_back({name, std::move(shape), std::move(c)});
  return static_cast<int>(tensors.size() - 1);
}

int Graph::AddTensor(const std::string& name, Shape shape) {
  tensors.push_back({name, std::move(shape), std::nullopt});
  return static_cast<int>(tensors.size() - 1);
}

std::vector<int> Graph::AddNode(const std::string& op, std::vector<int> in,
                                std::map<std::string, Attr> attrs, int num_outputs,
                                const std::string& name) {
  NodeDef n;
  n.name = name.empty() ? op + "_" + std::to_string(nodes.size()) : name;
  n.op = op;
  n.inputs = std::move(in);
  n.attrs = std::move(attrs);
  for (int i = 0; i < num_outputs; ++i)
    n.outputs.push_back(AddTensor(num_outputs == 1 ? n.name : n.name + ":" + std::to_string(i)));
  nodes.push_back(std::move(n));
  return nodes.back().outputs;
}

void Graph::Validate() const {
  const int nt = static_cast<int>(tensors.size());
  auto check_index = [&](int t, const std::string& where) {
    if (t < 0 || t >= nt)
      throw Error(ErrorCode::kInvalidModel, where + " refers to tensor index " + std::to_string(t) +
                                                " but the model has " + std::to_string(nt) + " tensors");
  };
  std::vector<int> producer(nt, -1);
  std::vector<char> is_input(nt, 0);
  for (int t : inputs) {
    check_index(t, "graph input");
    if (tensors[t].is_constant())
      throw Error(ErrorCode::kInvalidModel, "graph input '" + tensors[t].name + "' is a constant");
    if (is_input[t]) throw Error(ErrorCode::kInvalidModel, "graph input '" + tensors[t].name + "' listed twice");
    is_input[t] = 1;
  }
  for (const TensorDef& t : tensors) {
    for (int64_t d : t.shape)
      if (d < -1) throw Error(ErrorCode::kInvalidModel, "tensor '" + t.name + "' has invalid dimension " + std::to_string(d));
    if (t.is_constant()) {
      for (int64_t d : t.shape)
        if (d < 0) throw Error(ErrorCode::kInvalidModel, "constant '" + t.name + "' has a dynamic dimension");
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeDef& n = nodes[i];
    if (n.op.empty()) throw Error(ErrorCode::kInvalidModel, "node " + std::to_string(i) + " has no op type");
    for (int t : n.inputs) {
      if (t == -1) continue;
      check_index(t, n.Describe() + " input");
    }
    if (n.outputs.empty()) throw Error(ErrorCode::kInvalidModel, n.Describe() + " has no outputs");
    for (int t : n.outputs) {
      check_index(t, n.Describe() + " output");
      if (tensors[t].is_constant() || is_input[t])
        throw Error(ErrorCode::kInvalidModel, n.Describe() + " writes to '" + tensors[t].name +
                                                  "', which is a constant or graph input");
      if (producer[t] != -1)
        throw Error(ErrorCode::kInvalidModel, "tensor '" + tensors[t].name + "' is produced by two nodes ('" +
                                                  nodes[producer[t]].name + "' and '" + n.name + "')");
      producer[t] = static_cast<int>(i);
    }
  }
  for (const NodeDef& n : nodes) {
    for (int t : n.inputs) {
      if (t == -1) continue;
      if (!tensors[t].is_constant() && !is_input[t] && producer[t] == -1)
        throw Error(ErrorCode::kInvalidModel, n.Describe() + " reads tensor '" + tensors[t].name +
                                                  "', which nothing produces");
    }
  }
  if (outputs.empty()) throw Error(ErrorCode::kInvalidModel, "the model declares no outputs");
  for (int t : outputs) {
    check_index(t, "graph output");
    if (producer[t] == -1 && !is_input[t])
      throw Error(ErrorCode::kInvalidModel, "graph output '" + tensors[t].name + "' is not produced by any node");
  }
  (void)TopologicalOrder();  // throws on cycles
}

std::vector<int> Graph::TopologicalOrder() const {
  const size_t nn = nodes.size();
  std::vector<int> producer(tensors.size(), -1);
  for (size_t i = 0; i < nn; ++i)
    for (int t : nodes[i].outputs)
      if (t >= 0 && static_cast<size_t>(t) < tensors.size()) producer[t] = static_cast<int>(i);
  std::vector<int> pending(nn, 0);
  std::vector<std::vector<int>> consumers(nn);
  for (size_t i = 0; i < nn; ++i) {
    for (int t : nodes[i].inputs) {
      if (t < 0 || static_cast<size_t>(t) >= tensors.size() || producer[t] < 0) continue;
      ++pending[i];
      consumers[producer[t]].push_back(static_cast<int>(i));
    }
  }
  // Kahn's algorithm; a min-queue keeps the file's node order where possible.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (size_t i = 0; i < nn; ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  order.reserve(nn);
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int c : consumers[i])
      if (--pending[c] == 0) ready.push(c);
  }
  if (order.size() != nn) {
    for (size_t i = 0; i < nn; ++i)
      if (pending[i] > 0)
        throw Error(ErrorCode::kInvalidModel, "the graph has a cycle through " + nodes[i].Describe());
  }
  return order;
}

}  // namespace facelib::rt
