#include "converters/json.h"

#include <charconv>
#include <cmath>

#include "runtime/error.h"

namespace facelib::convert {

namespace {

[[noreturn]] void AccessError(const std::string& what) { throw Error(ErrorCode::kInvalidModel, "JSON: " + what); }

class Parser {
 public:
  Parser(std::string_view text, const JsonParseOptions& opts) : s_(text), opts_(opts) {}

  JsonValue ParseDocument() {
    SkipSpace();
    JsonValue v = ParseValue(0);
    SkipSpace();
    if (pos_ != s_.size()) Fail("unexpected trailing characters");
    return v;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const { FailAt(pos_, what); }
  [[noreturn]] void FailAt(size_t offset, const std::string& what) const {
    throw Error(ErrorCode::kInvalidModel, "JSON parse error at byte " + std::to_string(offset) + ": " + what);
  }

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) ++pos_;
  }

  void Expect(char c) {
    if (AtEnd()) Fail(std::string("unexpected end of input, expected '") + c + "'");
    if (Peek() != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  JsonValue ParseValue(int depth) {
    if (AtEnd()) Fail("unexpected end of input, expected a value");
    switch (Peek()) {
      case '{': return ParseObject(depth + 1);
      case '[': return ParseArray(depth + 1);
      case '"': return JsonValue::String(ParseString());
      case 't': ParseLiteral("true"); return JsonValue::Bool(true);
      case 'f': ParseLiteral("false"); return JsonValue::Bool(false);
      case 'n': ParseLiteral("null"); return JsonValue::Null();
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) return JsonValue::Number(ParseNumber());
        Fail(std::string("unexpected character '") + Printable(Peek()) + "'");
    }
  }

  static std::string Printable(char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    static const char* kHex = "0123456789abcdef";
    return std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
  }

  void ParseLiteral(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) Fail("invalid literal, expected '" + std::string(word) + "'");
    pos_ += word.size();
  }

  void CheckDepth(int depth) const {
    if (depth > opts_.max_depth) Fail("nesting deeper than " + std::to_string(opts_.max_depth) + " levels");
  }

  JsonValue ParseObject(int depth) {
    CheckDepth(depth);
    ++pos_;  // '{'
    JsonValue::Members members;
    SkipSpace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return JsonValue::Object(std::move(members));
    }
    for (;;) {
      SkipSpace();
      if (AtEnd()) Fail("unexpected end of input in an object");
      if (Peek() != '"') Fail("expected a string key");
      std::string key = ParseString();
      SkipSpace();
      Expect(':');
      SkipSpace();
      JsonValue v = ParseValue(depth);
      members.emplace_back(std::move(key), std::move(v));
      SkipSpace();
      if (AtEnd()) Fail("unexpected end of input in an object");
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return JsonValue::Object(std::move(members));
      }
      Fail("expected ',' or '}' in an object");
    }
  }

  JsonValue ParseArray(int depth) {
    CheckDepth(depth);
    ++pos_;  // '['
    std::vector<JsonValue> items;
    SkipSpace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return JsonValue::Array(std::move(items));
    }
    for (;;) {
      SkipSpace();
      items.push_back(ParseValue(depth));
      SkipSpace();
      if (AtEnd()) Fail("unexpected end of input in an array");
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return JsonValue::Array(std::move(items));
      }
      Fail("expected ',' or ']' in an array");
    }
  }

  uint32_t ParseHex4() {
    if (s_.size() - pos_ < 4) Fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else FailAt(pos_ + i, "invalid hex digit in \\u escape");
    }
    pos_ += 4;
    return v;
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string ParseString() {
    const size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (AtEnd()) FailAt(start, "unterminated string");
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) Fail("control character in a string");
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      const size_t esc = pos_;
      ++pos_;
      if (AtEnd()) FailAt(start, "unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = ParseHex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) FailAt(esc, "unpaired low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.size() - pos_ < 2 || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
              FailAt(esc, "high surrogate not followed by a low surrogate");
            pos_ += 2;
            const uint32_t lo = ParseHex4();
            if (lo < 0xDC00 || lo > 0xDFFF) FailAt(esc, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(&out, cp);
          break;
        }
        default: FailAt(esc, std::string("invalid escape '\\") + Printable(e) + "'");
      }
    }
  }

  double ParseNumber() {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (AtEnd()) Fail("truncated number");
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && Peek() >= '0' && Peek() <= '9') Fail("leading zero in a number");
    } else if (Peek() >= '1' && Peek() <= '9') {
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    } else {
      Fail("expected a digit");
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (AtEnd() || Peek() < '0' || Peek() > '9') Fail("expected a digit after '.'");
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (AtEnd() || Peek() < '0' || Peek() > '9') Fail("expected a digit in the exponent");
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    double v = 0;
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    const auto r = std::from_chars(first, last, v);
    // from_chars reports overflow as out_of_range; JSON has no infinities, so neither do we.
    if (r.ec != std::errc() || r.ptr != last || !std::isfinite(v)) FailAt(start, "number out of range");
    return v;
  }

  std::string_view s_;
  JsonParseOptions opts_;
  size_t pos_ = 0;
};

}  // namespace

JsonValue JsonValue::Bool(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}
JsonValue JsonValue::Number(double d) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_ = d;
  return v;
}
JsonValue JsonValue::String(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.string_ = std::move(s);
  return v;
}
JsonValue JsonValue::Array(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::kArray;
  v.array_ = std::move(items);
  return v;
}
JsonValue JsonValue::Object(Members members) {
  JsonValue v;
  v.type_ = Type::kObject;
  v.object_ = std::move(members);
  return v;
}

const char* JsonValue::TypeName(Type t) {
  switch (t) {
    case Type::kNull: return "null";
    case Type::kBool: return "boolean";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kArray: return "array";
    case Type::kObject: return "object";
  }
  return "?";
}

namespace {
[[noreturn]] void TypeError(const char* want, JsonValue::Type got) {
  AccessError(std::string("expected ") + want + ", got " + JsonValue::TypeName(got));
}
}  // namespace

bool JsonValue::AsBool() const {
  if (type_ != Type::kBool) TypeError("a boolean", type_);
  return bool_;
}

double JsonValue::AsNumber() const {
  if (type_ != Type::kNumber) TypeError("a number", type_);
  return number_;
}

int64_t JsonValue::AsInt() const {
  const double d = AsNumber();
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::floor(d) != d)
    AccessError("expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

const std::string& JsonValue::AsString() const {
  if (type_ != Type::kString) TypeError("a string", type_);
  return string_;
}

const std::vector<JsonValue>& JsonValue::AsArray() const {
  if (type_ != Type::kArray) TypeError("an array", type_);
  return array_;
}

const JsonValue::Members& JsonValue::AsObject() const {
  if (type_ != Type::kObject) TypeError("an object", type_);
  return object_;
}

size_t JsonValue::size() const {
  if (type_ == Type::kArray) return array_.size();
  if (type_ == Type::kObject) return object_.size();
  return 0;
}

const JsonValue& JsonValue::at(size_t i) const {
  const auto& a = AsArray();
  if (i >= a.size())
    AccessError("index " + std::to_string(i) + " is out of range for an array of " + std::to_string(a.size()));
  return a[i];
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& [k, v] : object_)
    if (k == key) return &v;
  return nullptr;
}

const JsonValue& JsonValue::operator[](std::string_view key) const {
  if (type_ != Type::kObject) TypeError("an object", type_);
  const JsonValue* v = Find(key);
  if (!v) AccessError("missing key \"" + std::string(key) + "\"");
  return *v;
}

JsonValue ParseJson(std::string_view text, const JsonParseOptions& options) {
  return Parser(text, options).ParseDocument();
}

}  // namespace facelib::convert
