#include <map>
#include <mutex>

#include "runtime/kernel.h"
#include "runtime/kernels/builtin.h"

namespace facelib::rt {
namespace {

std::map<std::string, KernelFactory>& Registry() {
  static std::map<std::string, KernelFactory> r;
  return r;
}
std::mutex& RegistryMutex() {
  static std::mutex m;
  return m;
}
void EnsureBuiltins() {
  static std::once_flag once;
  std::call_once(once, [] { kernels::RegisterBuiltinKernels(); });
}

}  // namespace

void RegisterKernel(const std::string& op, KernelFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[op] = std::move(factory);
}

std::unique_ptr<Kernel> CreateKernel(const NodeContext& ctx) {
  EnsureBuiltins();
  KernelFactory f;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(ctx.node().op);
    if (it == Registry().end())
      throw Error(ErrorCode::kUnsupported, ctx.node().Describe() + ": unsupported operator '" + ctx.node().op + "'");
    f = it->second;
  }
  return f(ctx);
}

std::vector<std::string> RegisteredOps() {
  EnsureBuiltins();
  std::lock_guard<std::mutex> lock(RegistryMutex());
  std::vector<std::string> out;
  for (auto& [k, v] : Registry()) out.push_back(k);
  return out;
}

const float* NodeContext::RequireFloatConstant(size_t i, int64_t count, const char* what) const {
  const Constant* c = constant(i);
  if (!c || c->is_int) Fail(std::string(what) + " (input " + std::to_string(i) + ") must be a float constant");
  const int64_t n = NumElements(input(i)->shape);
  if (count >= 0 && n != count)
    Fail(std::string(what) + " has " + std::to_string(n) + " values, expected " + std::to_string(count));
  return c->f32;
}

void NodeContext::Fail(const std::string& message) const {
  throw Error(ErrorCode::kInvalidModel, node_.Describe() + ": " + message);
}

void NodeContext::RequireInputs(size_t min, size_t max) const {
  size_t present = 0;
  for (size_t i = 0; i < node_.inputs.size(); ++i) present = has_input(i) ? i + 1 : present;
  if (node_.inputs.size() < min || present < min || node_.inputs.size() > max)
    Fail("expects " + std::to_string(min) + (max != min ? ".." + std::to_string(max) : "") + " inputs, has " +
         std::to_string(node_.inputs.size()));
  for (size_t i = 0; i < min; ++i)
    if (!has_input(i)) Fail("input " + std::to_string(i) + " is required");
}

double Kernel::Cost(const std::vector<Shape>& in, const std::vector<Shape>& out) const {
  double n = 0;
  for (const Shape& s : out) n += static_cast<double>(NumElements(s));
  for (const Shape& s : in) n += 0.25 * static_cast<double>(NumElements(s));  // reading costs too
  return n;
}

void ShapeError(const NodeDef& n, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, n.Describe() + ": " + message);
}

int NormalizeAxis(const NodeDef& n, int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    ShapeError(n, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

ops::Activation ParseActivation(const NodeDef& n) {
  using ops::ActType;
  const std::string s = n.GetString("activation", "none");
  ops::Activation a;
  a.alpha = n.GetFloat("activation_alpha", 0.0f);
  a.lo = n.GetFloat("activation_min", 0.0f);
  a.hi = n.GetFloat("activation_max", 0.0f);
  static const std::map<std::string, ActType> kNames = {
      {"none", ActType::kNone},        {"relu", ActType::kRelu},         {"relu6", ActType::kRelu6},
      {"leaky_relu", ActType::kLeakyRelu}, {"elu", ActType::kElu},       {"sigmoid", ActType::kSigmoid},
      {"tanh", ActType::kTanh},        {"hard_swish", ActType::kHardSwish}, {"silu", ActType::kSilu},
      {"softplus", ActType::kSoftplus}, {"clip", ActType::kClip},       {"exp", ActType::kExp},
      {"log", ActType::kLog},          {"sqrt", ActType::kSqrt},         {"rsqrt", ActType::kRsqrt},
      {"abs", ActType::kAbs},          {"neg", ActType::kNeg},           {"square", ActType::kSquare},
      {"reciprocal", ActType::kReciprocal}};
  auto it = kNames.find(s);
  if (it == kNames.end()) throw Error(ErrorCode::kInvalidModel, n.Describe() + ": unknown activation '" + s + "'");
  a.type = it->second;
  if (a.type == ActType::kClip && !(a.lo <= a.hi))
    throw Error(ErrorCode::kInvalidModel, n.Describe() + ": clip range is empty");
  return a;
}

void SetActivationAttrs(NodeDef* n, const ops::Activation& a) {
  using ops::ActType;
  static const char* kNames[] = {"none", "relu",       "relu6", "leaky_relu", "elu",   "sigmoid",
                                 "tanh", "hard_swish", "silu",  "softplus",   "clip",  "exp",
                                 "log",  "sqrt",       "rsqrt", "abs",        "neg",   "square",
                                 "reciprocal"};
  n->attrs["activation"] = Attr(kNames[static_cast<int>(a.type)]);
  if (a.type == ActType::kLeakyRelu || a.type == ActType::kElu) n->attrs["activation_alpha"] = Attr(a.alpha);
  if (a.type == ActType::kClip) {
    n->attrs["activation_min"] = Attr(a.lo);
    n->attrs["activation_max"] = Attr(a.hi);
  }
}

}  // namespace facelib::rt
