#include "converters/pickle.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "converters/converter.h"
#include "runtime/error.h"

namespace facelib::convert::pickle {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kNone: return "None";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kBigInt: return "int (wide)";
    case Type::kFloat: return "float";
    case Type::kString: return "str";
    case Type::kBytes: return "bytes";
    case Type::kTuple: return "tuple";
    case Type::kList: return "list";
    case Type::kSet: return "set";
    case Type::kDict: return "dict";
    case Type::kGlobal: return "global";
    case Type::kObject: return "object";
    case Type::kStorage: return "storage";
    case Type::kTensor: return "tensor";
    case Type::kArray: return "ndarray";
    case Type::kDType: return "dtype";
  }
  return "?";
}

const Value* Value::Get(std::string_view key) const {
  if (type != Type::kDict) return nullptr;
  // Later assignments win, as in Python.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    if (it->first->type == Type::kString && it->first->str == key) return it->second;
  return nullptr;
}

namespace {

// The callables and classes a weight file may name. Everything else is refused.
const std::set<std::string>& AllowedGlobals() {
  static const std::set<std::string> s = {
      "collections.OrderedDict",
      "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter",
      "torch.FloatStorage",
      "torch.DoubleStorage",
      "torch.HalfStorage",
      "torch.BFloat16Storage",
      "torch.LongStorage",
      "torch.IntStorage",
      "torch.ShortStorage",
      "torch.CharStorage",
      "torch.ByteStorage",
      "torch.BoolStorage",
      "numpy.core.multiarray._reconstruct",
      "numpy._core.multiarray._reconstruct",
      "numpy.ndarray",
      "numpy.dtype",
      "_codecs.encode",
      "joblib.numpy_pickle.NumpyArrayWrapper",
  };
  return s;
}

constexpr const char* kJoblibWrapper = "joblib.numpy_pickle.NumpyArrayWrapper";

// Opcodes that exist in the pickle protocol but are not needed for weight files.
const char* KnownUnsupportedOpcode(uint8_t op) {
  switch (op) {
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'F': return "FLOAT";
    case 'L': return "LONG";
    case 'P': return "PERSID";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x92: return "NEWOBJ_EX";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

bool ParseDTypeName(const std::string& name, DType* d) {
  if (name.empty()) return false;
  char kind = name[0];
  std::string digits = name.substr(1);
  if (kind == 'O') {
    d->kind = 'O';
    d->itemsize = 8;
    return digits.empty() || digits == "8" || digits == "4";
  }
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') return false;
  if (digits.size() != 1 || digits[0] < '1' || digits[0] > '8') return false;
  const int n = digits[0] - '0';
  if (kind == 'f' && n != 2 && n != 4 && n != 8) return false;
  if ((kind == 'i' || kind == 'u') && n != 1 && n != 2 && n != 4 && n != 8) return false;
  if (kind == 'b' && n != 1) return false;
  d->kind = kind;
  d->itemsize = n;
  return true;
}

}  // namespace

class Machine {
 public:
  Machine(const uint8_t* data, size_t size, size_t pos, const std::string& label, const Limits& limits)
      : d_(data), n_(size), p_(pos), label_(label), lim_(limits), out_(std::make_shared<Unpickled>()) {}

  std::shared_ptr<const Unpickled> Run(size_t* end) {
    if (p_ > n_) Fail("start offset past the end");
    for (;;) {
      op_pos_ = p_;
      const uint8_t op = U8();
      if (Step(op)) break;
    }
    *end = p_;
    return out_;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    Malformed(label_, "pickle: " + what + " (offset " + std::to_string(op_pos_) + ")");
  }
  [[noreturn]] void Refuse(const std::string& what) const { Unsupported(label_, "pickle: " + what); }

  // ---- input ----
  void Need(uint64_t k) const {
    if (k > n_ - p_) Fail("truncated: needs " + std::to_string(k) + " more bytes, " + std::to_string(n_ - p_) + " left");
  }
  uint8_t U8() {
    Need(1);
    return d_[p_++];
  }
  uint64_t LE(int k) {
    Need(static_cast<uint64_t>(k));
    uint64_t v = 0;
    for (int i = 0; i < k; ++i) v |= static_cast<uint64_t>(d_[p_ + i]) << (8 * i);
    p_ += k;
    return v;
  }
  std::string Take(uint64_t k) {
    Need(k);
    std::string s(reinterpret_cast<const char*>(d_ + p_), static_cast<size_t>(k));
    p_ += static_cast<size_t>(k);
    return s;
  }
  std::string Line() {
    const size_t start = p_;
    while (p_ < n_ && d_[p_] != '\n') {
      if (p_ - start > 4096) Fail("text line longer than 4096 bytes");
      ++p_;
    }
    if (p_ >= n_) Fail("truncated: unterminated text line");
    std::string s(reinterpret_cast<const char*>(d_ + start), p_ - start);
    ++p_;
    return s;
  }

  // ---- values ----
  Value* New(Type t) {
    if (out_->pool_.size() >= lim_.max_values)
      throw Error(ErrorCode::kResourceExhausted, label_ + ": pickle creates more than " +
                                                     std::to_string(lim_.max_values) + " values");
    out_->pool_.push_back(std::make_unique<Value>());
    Value* v = out_->pool_.back().get();
    v->type = t;
    return v;
  }
  Value* Int(int64_t i) {
    Value* v = New(Type::kInt);
    v->i = i;
    return v;
  }
  Value* Str(Type t, std::string s) {
    Value* v = New(t);
    v->str = std::move(s);
    return v;
  }

  // ---- stack ----
  void Push(Value* v) {
    if (stack_.size() >= lim_.max_stack)
      throw Error(ErrorCode::kResourceExhausted, label_ + ": pickle stack deeper than " + std::to_string(lim_.max_stack));
    stack_.push_back(v);
  }
  Value* Pop() {
    if (stack_.size() <= Floor()) Fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* Top() {
    if (stack_.size() <= Floor()) Fail("stack underflow");
    return stack_.back();
  }
  // Items above the current MARK cannot be reached by ordinary pops.
  size_t Floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Value*> PopMark() {
    if (marks_.empty()) Fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void CheckContainer(size_t n) const {
    if (n > lim_.max_container)
      throw Error(ErrorCode::kResourceExhausted,
                  label_ + ": pickle container with more than " + std::to_string(lim_.max_container) + " elements");
  }

  // ---- memo ----
  void Put(uint64_t idx) {
    Value* v = Top();
    if (memo_.size() >= lim_.max_memo && !memo_.count(idx))
      throw Error(ErrorCode::kResourceExhausted, label_ + ": pickle memo larger than " + std::to_string(lim_.max_memo));
    memo_[idx] = v;
  }
  Value* Get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) Fail("memo key " + std::to_string(idx) + " was never stored");
    return it->second;
  }

  // ---- opcodes ----
  // Returns true at STOP.
  bool Step(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO
        const int proto = U8();
        if (proto > 5) Refuse("protocol " + std::to_string(proto) + " (supported: up to 5)");
        return false;
      }
      case 0x95: {  // FRAME: a length hint; the framed bytes are read as usual.
        const uint64_t len = LE(8);
        Need(len);
        return false;
      }
      case '.': {  // STOP
        if (!marks_.empty()) Fail("STOP with an open MARK");
        out_->root_ = Pop();
        return true;
      }
      case '(':
        if (marks_.size() >= lim_.max_marks)
          throw Error(ErrorCode::kResourceExhausted, label_ + ": pickle MARKs nested deeper than " + std::to_string(lim_.max_marks));
        marks_.push_back(stack_.size());
        return false;
      case '0': Pop(); return false;  // POP
      case '1': PopMark(); return false;  // POP_MARK
      case '2': Push(Top()); return false;  // DUP
      case 'N': Push(New(Type::kNone)); return false;
      case 0x88:
      case 0x89: {  // NEWTRUE / NEWFALSE
        Value* v = New(Type::kBool);
        v->b = op == 0x88;
        Push(v);
        return false;
      }
      case 'K': Push(Int(U8())); return false;  // BININT1
      case 'M': Push(Int(static_cast<int64_t>(LE(2)))); return false;  // BININT2
      case 'J': Push(Int(static_cast<int32_t>(static_cast<uint32_t>(LE(4))))); return false;  // BININT
      case 'I': {  // INT (text; protocol 0 also spells booleans I00 / I01)
        const std::string s = Line();
        if (s == "00" || s == "01") {
          Value* v = New(Type::kBool);
          v->b = s == "01";
          Push(v);
          return false;
        }
        char* end = nullptr;
        errno = 0;
        const long long x = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || *end || errno) Fail("bad INT literal");
        Push(Int(x));
        return false;
      }
      case 0x8a: Push(Long(U8())); return false;  // LONG1
      case 0x8b: {  // LONG4
        const int64_t k = static_cast<int32_t>(static_cast<uint32_t>(LE(4)));
        if (k < 0) Fail("negative LONG4 length");
        Push(Long(static_cast<uint64_t>(k)));
        return false;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        Need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | d_[p_ + i];
        p_ += 8;
        Value* v = New(Type::kFloat);
        std::memcpy(&v->f, &bits, 8);
        Push(v);
        return false;
      }
      case 'X': Push(Str(Type::kString, Take(LE(4)))); return false;     // BINUNICODE
      case 0x8c: Push(Str(Type::kString, Take(U8()))); return false;     // SHORT_BINUNICODE
      case 0x8d: Push(Str(Type::kString, Take(LE(8)))); return false;    // BINUNICODE8
      case 'C': Push(Str(Type::kBytes, Take(U8()))); return false;       // SHORT_BINBYTES
      case 'B': Push(Str(Type::kBytes, Take(LE(4)))); return false;      // BINBYTES
      case 0x8e: Push(Str(Type::kBytes, Take(LE(8)))); return false;     // BINBYTES8
      case 0x96: Push(Str(Type::kBytes, Take(LE(8)))); return false;     // BYTEARRAY8
      case 'U': Push(Str(Type::kBytes, Take(U8()))); return false;       // SHORT_BINSTRING (Python 2 str)
      case 'T': {                                                        // BINSTRING
        const int64_t k = static_cast<int32_t>(static_cast<uint32_t>(LE(4)));
        if (k < 0) Fail("negative BINSTRING length");
        Push(Str(Type::kBytes, Take(static_cast<uint64_t>(k))));
        return false;
      }
      case ')': Push(New(Type::kTuple)); return false;  // EMPTY_TUPLE
      case 't': {                                        // TUPLE
        Value* v = New(Type::kTuple);
        v->items = PopMark();
        CheckContainer(v->items.size());
        Push(v);
        return false;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const int k = op - 0x84;
        Value* v = New(Type::kTuple);
        v->items.resize(k);
        for (int i = k - 1; i >= 0; --i) v->items[i] = Pop();
        Push(v);
        return false;
      }
      case ']': Push(New(Type::kList)); return false;  // EMPTY_LIST
      case 'l': {                                       // LIST
        Value* v = New(Type::kList);
        v->items = PopMark();
        CheckContainer(v->items.size());
        Push(v);
        return false;
      }
      case 'a': {  // APPEND
        Value* x = Pop();
        Value* list = Top();
        if (list->type != Type::kList) Fail(std::string("APPEND to a ") + TypeName(list->type));
        CheckContainer(list->items.size() + 1);
        list->items.push_back(x);
        return false;
      }
      case 'e': {  // APPENDS
        std::vector<Value*> xs = PopMark();
        Value* list = Top();
        if (list->type != Type::kList) Fail(std::string("APPENDS to a ") + TypeName(list->type));
        CheckContainer(list->items.size() + xs.size());
        list->items.insert(list->items.end(), xs.begin(), xs.end());
        return false;
      }
      case 0x8f: Push(New(Type::kSet)); return false;  // EMPTY_SET
      case 0x90: {                                      // ADDITEMS
        std::vector<Value*> xs = PopMark();
        Value* set = Top();
        if (set->type != Type::kSet) Fail(std::string("ADDITEMS to a ") + TypeName(set->type));
        CheckContainer(set->items.size() + xs.size());
        set->items.insert(set->items.end(), xs.begin(), xs.end());
        return false;
      }
      case 0x91: {  // FROZENSET
        Value* v = New(Type::kSet);
        v->items = PopMark();
        CheckContainer(v->items.size());
        Push(v);
        return false;
      }
      case '}': Push(New(Type::kDict)); return false;  // EMPTY_DICT
      case 'd': {                                       // DICT
        std::vector<Value*> xs = PopMark();
        if (xs.size() % 2) Fail("DICT with an odd number of items");
        CheckContainer(xs.size() / 2);
        Value* v = New(Type::kDict);
        for (size_t i = 0; i < xs.size(); i += 2) v->entries.emplace_back(xs[i], xs[i + 1]);
        Push(v);
        return false;
      }
      case 's': {  // SETITEM
        Value* val = Pop();
        Value* key = Pop();
        Value* dict = Top();
        if (dict->type != Type::kDict) Fail(std::string("SETITEM on a ") + TypeName(dict->type));
        CheckContainer(dict->entries.size() + 1);
        dict->entries.emplace_back(key, val);
        return false;
      }
      case 'u': {  // SETITEMS
        std::vector<Value*> xs = PopMark();
        if (xs.size() % 2) Fail("SETITEMS with an odd number of items");
        Value* dict = Top();
        if (dict->type != Type::kDict) Fail(std::string("SETITEMS on a ") + TypeName(dict->type));
        CheckContainer(dict->entries.size() + xs.size() / 2);
        for (size_t i = 0; i < xs.size(); i += 2) dict->entries.emplace_back(xs[i], xs[i + 1]);
        return false;
      }
      case 'q': Put(U8()); return false;        // BINPUT
      case 'r': Put(LE(4)); return false;       // LONG_BINPUT
      case 0x94: Put(memo_.size()); return false;  // MEMOIZE
      case 'h': Push(Get(U8())); return false;  // BINGET
      case 'j': Push(Get(LE(4))); return false; // LONG_BINGET
      case 'p':
      case 'g': {  // PUT / GET (text)
        const std::string s = Line();
        char* end = nullptr;
        const unsigned long long idx = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end) Fail("bad memo index");
        if (op == 'p') Put(idx);
        else Push(Get(idx));
        return false;
      }
      case 'c': {  // GLOBAL
        std::string module = Line();
        std::string name = Line();
        Push(Global(module, name));
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = Pop();
        Value* module = Pop();
        if (name->type != Type::kString || module->type != Type::kString) Fail("STACK_GLOBAL needs two strings");
        Push(Global(module->str, name->str));
        return false;
      }
      case 'R': {  // REDUCE
        Value* args = Pop();
        Value* fn = Pop();
        Push(Call(fn, args));
        return false;
      }
      case 0x81: {  // NEWOBJ
        Value* args = Pop();
        Value* cls = Pop();
        Push(NewObj(cls, args));
        return false;
      }
      case 'b': {  // BUILD
        Value* state = Pop();
        Build(state);
        return false;
      }
      case 'Q': {  // BINPERSID
        Value* pid = Pop();
        Push(PersistentLoad(pid));
        return false;
      }
      default:
        break;
    }
    if (const char* name = KnownUnsupportedOpcode(op)) Refuse(std::string("opcode ") + name + " is not supported");
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    Fail(std::string("unknown opcode ") + hex);
  }

  Value* Long(uint64_t k) {
    Need(k);
    const uint8_t* b = d_ + p_;
    Value* v;
    if (k == 0) {
      v = Int(0);
    } else if (k <= 8) {
      uint64_t x = 0;
      for (uint64_t i = 0; i < k; ++i) x |= static_cast<uint64_t>(b[i]) << (8 * i);
      if (k < 8 && (b[k - 1] & 0x80)) x |= ~uint64_t{0} << (8 * k);  // sign-extend
      v = Int(static_cast<int64_t>(x));
    } else {
      // Fits in int64 when every byte past the 8th repeats the sign.
      const uint8_t sign = (b[7] & 0x80) ? 0xff : 0x00;
      bool fits = true;
      for (uint64_t i = 8; i < k; ++i) fits = fits && b[i] == sign;
      if (fits) {
        uint64_t x = 0;
        for (int i = 0; i < 8; ++i) x |= static_cast<uint64_t>(b[i]) << (8 * i);
        v = Int(static_cast<int64_t>(x));
      } else {
        v = Str(Type::kBigInt, std::string(reinterpret_cast<const char*>(b), static_cast<size_t>(k)));
      }
    }
    p_ += static_cast<size_t>(k);
    return v;
  }

  Value* Global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!AllowedGlobals().count(full))
      Refuse("global '" + full + "' is not allowed (only tensor, array and dict reconstruction is modelled)");
    return Str(Type::kGlobal, full);
  }

  static int64_t AsInt(const Value* v, bool* ok) {
    if (v->type == Type::kInt) return v->i;
    if (v->type == Type::kBool) return v->b ? 1 : 0;
    *ok = false;
    return 0;
  }
  std::vector<int64_t> IntTuple(const Value* v, const char* what) {
    if (v->type != Type::kTuple && v->type != Type::kList) Fail(std::string(what) + " must be a tuple of ints");
    if (v->items.size() > 32) Fail(std::string(what) + " has more than 32 dimensions");
    std::vector<int64_t> out;
    for (const Value* x : v->items) {
      bool ok = true;
      const int64_t i = AsInt(x, &ok);
      if (!ok) Fail(std::string(what) + " must be a tuple of ints");
      out.push_back(i);
    }
    return out;
  }

  Value* Call(Value* fn, Value* args) {
    if (fn->type != Type::kGlobal) Fail(std::string("REDUCE on a ") + TypeName(fn->type));
    if (args->type != Type::kTuple) Fail("REDUCE arguments must be a tuple");
    const auto& a = args->items;
    const std::string& f = fn->str;
    if (f == "collections.OrderedDict") {
      Value* d = New(Type::kDict);
      if (a.empty()) return d;
      if (a.size() != 1 || (a[0]->type != Type::kList && a[0]->type != Type::kTuple))
        Fail("OrderedDict() takes one list of pairs");
      for (Value* pair : a[0]->items) {
        if ((pair->type != Type::kTuple && pair->type != Type::kList) || pair->items.size() != 2)
          Fail("OrderedDict() items must be pairs");
        d->entries.emplace_back(pair->items[0], pair->items[1]);
      }
      return d;
    }
    if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") {
      if (a.size() < 4) Fail(f + " needs (storage, offset, size, stride)");
      if (a[0]->type != Type::kStorage) Fail(f + ": first argument is a " + TypeName(a[0]->type) + ", not a storage");
      bool ok = true;
      auto t = std::make_unique<TensorRef>();
      t->storage = a[0];
      t->offset = AsInt(a[1], &ok);
      if (!ok || t->offset < 0) Fail(f + ": bad storage offset");
      t->size = IntTuple(a[2], "tensor size");
      t->stride = IntTuple(a[3], "tensor stride");
      if (t->size.size() != t->stride.size()) Fail(f + ": size and stride differ in length");
      for (size_t i = 0; i < t->size.size(); ++i)
        if (t->size[i] < 0 || t->stride[i] < 0) Fail(f + ": negative size or stride");
      Value* v = New(Type::kTensor);
      v->tensor = std::move(t);
      return v;
    }
    if (f == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->type != Type::kTensor) Fail(f + " needs a tensor");
      return a[0];
    }
    if (f == "numpy.core.multiarray._reconstruct" || f == "numpy._core.multiarray._reconstruct") {
      if (a.size() != 3 || !a[0]->IsGlobal("numpy.ndarray")) Refuse(f + " of anything but numpy.ndarray");
      Value* v = New(Type::kArray);
      v->array = std::make_unique<NdArray>();
      return v;
    }
    if (f == "numpy.dtype") {
      if (a.empty() || a[0]->type != Type::kString) Fail("numpy.dtype() needs a type name");
      Value* v = New(Type::kDType);
      if (!ParseDTypeName(a[0]->str, &v->dtype)) Refuse("numpy dtype '" + a[0]->str + "'");
      return v;
    }
    if (f == "_codecs.encode") {
      if (a.size() != 2 || a[0]->type != Type::kString || a[1]->type != Type::kString)
        Fail("_codecs.encode needs (str, encoding)");
      if (a[1]->str != "latin1" && a[1]->str != "latin-1") Refuse("_codecs.encode with encoding '" + a[1]->str + "'");
      return Str(Type::kBytes, Latin1(a[0]->str));
    }
    Refuse("calling '" + f + "'");
  }

  // Python 2 byte strings reach Python 3 pickles as str; encode('latin1') maps
  // each code point below 256 back to one byte. Input is UTF-8.
  std::string Latin1(const std::string& utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (size_t i = 0; i < utf8.size();) {
      const uint8_t c = static_cast<uint8_t>(utf8[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++i;
      } else if ((c & 0xe0) == 0xc0 && i + 1 < utf8.size() && (static_cast<uint8_t>(utf8[i + 1]) & 0xc0) == 0x80) {
        const uint32_t cp = ((c & 0x1fu) << 6) | (static_cast<uint8_t>(utf8[i + 1]) & 0x3fu);
        if (cp > 0xff) Fail("latin1 encode of a code point above 255");
        out.push_back(static_cast<char>(cp));
        i += 2;
      } else {
        Fail("latin1 encode of a character above U+00FF or invalid UTF-8");
      }
    }
    return out;
  }

  Value* NewObj(Value* cls, Value* args) {
    if (cls->type != Type::kGlobal) Fail(std::string("NEWOBJ of a ") + TypeName(cls->type));
    if (args->type != Type::kTuple) Fail("NEWOBJ arguments must be a tuple");
    if (cls->str == "collections.OrderedDict" && args->items.empty()) return New(Type::kDict);
    if (cls->str == kJoblibWrapper) {
      Value* v = New(Type::kObject);
      v->cls = cls;
      return v;
    }
    Refuse("creating an instance of '" + cls->str + "'");
  }

  void Build(Value* state) {
    Value* obj = Top();
    switch (obj->type) {
      case Type::kArray: BuildArray(obj, state); return;
      case Type::kDType: {
        // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if (state->type != Type::kTuple || state->items.size() < 2 || state->items[1]->type != Type::kString)
          Fail("bad numpy dtype state");
        const std::string& order = state->items[1]->str;
        if (order == ">") obj->dtype.big_endian = true;
        else if (order == "<" || order == "|" || order == "=") obj->dtype.big_endian = false;
        else Fail("bad numpy byte order '" + order + "'");
        if (state->items.size() >= 4 && state->items[3]->type != Type::kNone) Refuse("structured numpy dtypes");
        return;
      }
      case Type::kObject:
        if (obj->cls && obj->cls->str == kJoblibWrapper) {
          stack_.back() = ReadJoblibArray(state);
          return;
        }
        obj->state = state;
        return;
      case Type::kDict:
      case Type::kTensor:
        // OrderedDict attributes (torch keeps `_metadata` there); tensor hooks.
        obj->state = state;
        return;
      default:
        Fail(std::string("BUILD on a ") + TypeName(obj->type));
    }
  }

  static int64_t CheckedNumel(const std::vector<int64_t>& shape, int64_t limit, bool* ok) {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0 || (d > 0 && n > limit / d)) {
        *ok = false;
        return 0;
      }
      n *= d;
    }
    return n;
  }

  void BuildArray(Value* obj, Value* state) {
    // (version, shape, dtype, is_fortran, data); the version is absent in old pickles.
    if (state->type != Type::kTuple || (state->items.size() != 5 && state->items.size() != 4))
      Fail("bad numpy array state");
    const size_t o = state->items.size() == 5 ? 1 : 0;
    NdArray& a = *obj->array;
    a.shape = IntTuple(state->items[o], "array shape");
    if (state->items[o + 1]->type != Type::kDType) Fail("array state without a dtype");
    a.dtype = state->items[o + 1]->dtype;
    bool ok = true;
    a.fortran = AsInt(state->items[o + 2], &ok) != 0;
    if (!ok) Fail("bad array order flag");
    const int64_t numel = CheckedNumel(a.shape, lim_.max_array_bytes, &ok);
    if (!ok) Fail("array shape overflows");
    const Value* data = state->items[o + 3];
    if (a.dtype.kind == 'O') {
      if (data->type != Type::kList) Fail("object array data must be a list");
      if (static_cast<int64_t>(data->items.size()) != numel) Fail("object array has the wrong number of items");
      a.objects.assign(data->items.begin(), data->items.end());
      return;
    }
    if (data->type != Type::kBytes) Fail("array data must be bytes");
    if (numel > lim_.max_array_bytes / a.dtype.itemsize)
      throw Error(ErrorCode::kResourceExhausted, label_ + ": numpy array larger than the limit");
    if (static_cast<int64_t>(data->str.size()) != numel * a.dtype.itemsize)
      Fail("array of " + std::to_string(numel) + " elements has " + std::to_string(data->str.size()) + " data bytes");
    a.bytes = data->str;
  }

  // joblib writes each array as a NumpyArrayWrapper followed, right after its
  // BUILD opcode, by optional alignment padding and the raw C- or F-order data.
  Value* ReadJoblibArray(const Value* state) {
    if (state->type != Type::kDict) Fail("joblib array wrapper state must be a dict");
    const Value* shape = state->Get("shape");
    const Value* dtype = state->Get("dtype");
    const Value* order = state->Get("order");
    if (!shape || !dtype || dtype->type != Type::kDType) Fail("joblib array wrapper without shape or dtype");
    if (dtype->dtype.kind == 'O') Refuse("joblib object arrays");
    Value* v = New(Type::kArray);
    v->array = std::make_unique<NdArray>();
    NdArray& a = *v->array;
    a.shape = IntTuple(shape, "array shape");
    a.dtype = dtype->dtype;
    a.fortran = order && order->IsString("F");
    if (const Value* align = state->Get("numpy_array_alignment_bytes"); align && align->type == Type::kInt) {
      const int pad = U8();
      if (pad > align->i) Fail("joblib padding longer than the alignment");
      Need(static_cast<uint64_t>(pad));
      p_ += static_cast<size_t>(pad);
    }
    bool ok = true;
    const int64_t numel = CheckedNumel(a.shape, lim_.max_array_bytes, &ok);
    if (!ok || numel > lim_.max_array_bytes / a.dtype.itemsize)
      throw Error(ErrorCode::kResourceExhausted, label_ + ": joblib array larger than the limit");
    a.bytes = Take(static_cast<uint64_t>(numel * a.dtype.itemsize));
    return v;
  }

  // torch: ('storage', <storage class>, key, location, numel[, view metadata]).
  Value* PersistentLoad(Value* pid) {
    if (pid->type != Type::kTuple || pid->items.size() < 5 || !pid->items[0]->IsString("storage"))
      Refuse("persistent id other than a torch storage");
    const auto& a = pid->items;
    if (a[1]->type != Type::kGlobal || a[1]->str.rfind("torch.", 0) != 0 || a[1]->str.find("Storage") == std::string::npos)
      Fail("storage persistent id without a storage type");
    if (a[2]->type != Type::kString || a[3]->type != Type::kString) Fail("storage key and location must be strings");
    bool ok = true;
    const int64_t numel = AsInt(a[4], &ok);
    if (!ok || numel < 0) Fail("bad storage size");
    if (a.size() > 5 && a[5]->type != Type::kNone) Refuse("storage views (torch < 0.4 checkpoints)");
    auto it = storages_.find(a[2]->str);
    if (it != storages_.end()) {
      if (it->second->storage->type != a[1]->str.substr(6)) Fail("storage '" + a[2]->str + "' used with two types");
      return it->second;
    }
    Value* v = New(Type::kStorage);
    v->storage = std::make_unique<StorageRef>();
    v->storage->type = a[1]->str.substr(6);
    v->storage->key = a[2]->str;
    v->storage->location = a[3]->str;
    v->storage->numel = numel;
    storages_[a[2]->str] = v;
    out_->storages_.push_back(v);
    return v;
  }

  const uint8_t* d_;
  size_t n_;
  size_t p_;
  size_t op_pos_ = 0;
  const std::string& label_;
  Limits lim_;
  std::shared_ptr<Unpickled> out_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::map<std::string, Value*> storages_;
};

std::shared_ptr<const Unpickled> Unpickle(const uint8_t* data, size_t size, size_t* pos, const std::string& label,
                                          const Limits& limits) {
  Machine m(data, size, *pos, label, limits);
  return m.Run(pos);
}

std::string DescribeValue(const Value* v) {
  if (!v) return "nothing";
  std::string s = TypeName(v->type);
  const std::vector<int64_t>* shape = nullptr;
  if (v->type == Type::kArray) shape = &v->array->shape;
  if (v->type == Type::kTensor) shape = &v->tensor->size;
  if (shape) {
    s += " [";
    for (size_t i = 0; i < shape->size(); ++i) s += (i ? "," : "") + std::to_string((*shape)[i]);
    s += "]";
  }
  return s;
}

namespace {
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

std::vector<float> ArrayToFloats(const NdArray& a, const std::string& label) {
  if (a.dtype.kind == 'O') Unsupported(label, "object array where numbers were expected");
  int64_t numel = 1;
  for (int64_t d : a.shape) numel *= d;  // validated when the array was built
  const int k = a.dtype.itemsize;
  if (static_cast<int64_t>(a.bytes.size()) != numel * k) Malformed(label, "array data size does not match its shape");
  std::vector<float> out(static_cast<size_t>(numel));
  const auto* b = reinterpret_cast<const uint8_t*>(a.bytes.data());
  for (int64_t i = 0; i < numel; ++i) {
    uint64_t x = 0;
    for (int j = 0; j < k; ++j) {
      const int src = a.dtype.big_endian ? k - 1 - j : j;
      x |= static_cast<uint64_t>(b[i * k + src]) << (8 * j);
    }
    float v;
    switch (a.dtype.kind) {
      case 'f':
        if (k == 4) {
          const uint32_t u = static_cast<uint32_t>(x);
          std::memcpy(&v, &u, 4);
        } else if (k == 8) {
          double dd;
          std::memcpy(&dd, &x, 8);
          v = static_cast<float>(dd);
        } else {
          v = HalfToFloat(static_cast<uint16_t>(x));
        }
        break;
      case 'i': {
        const int shift = 64 - 8 * k;
        v = static_cast<float>(static_cast<int64_t>(x << shift) >> shift);
        break;
      }
      default:  // 'u', 'b'
        v = static_cast<float>(x);
    }
    out[static_cast<size_t>(i)] = v;
  }
  if (a.fortran && a.shape.size() > 1) {
    // Column-major to row-major: walk C-order indices, read the F-order offset.
    std::vector<float> c(out.size());
    const size_t nd = a.shape.size();
    std::vector<int64_t> idx(nd, 0);
    for (int64_t i = 0; i < numel; ++i) {
      int64_t off = 0, mul = 1;
      for (size_t d = 0; d < nd; ++d) {
        off += idx[d] * mul;
        mul *= a.shape[d];
      }
      c[static_cast<size_t>(i)] = out[static_cast<size_t>(off)];
      for (size_t d = nd; d-- > 0;) {
        if (++idx[d] < a.shape[d]) break;
        idx[d] = 0;
      }
    }
    out.swap(c);
  }
  return out;
}

}  // namespace facelib::convert::pickle
