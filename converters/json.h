// A small, strict JSON reader for the converters' manifests (tfjs model.json,
// face-api weights manifests). It builds a DOM of JsonValue nodes.
//
// Strict RFC 8259: no comments, no trailing commas, no NaN/Infinity, no
// leading zeros, no control characters inside strings, and every \u escape
// must form a valid code point (surrogates must pair up). Nesting is limited
// so that hostile input cannot exhaust the stack. Parse errors throw
// facelib::Error(kInvalidModel) with the byte offset of the fault; accessor
// misuse (wrong type, missing key, index out of range) throws kInvalidModel
// naming the expectation, since a manifest of the wrong shape is a malformed model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace facelib::convert {

class JsonValue {
 public:
  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  using Members = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default;
  static JsonValue Null() { return JsonValue(); }
  static JsonValue Bool(bool b);
  static JsonValue Number(double d);
  static JsonValue String(std::string s);
  static JsonValue Array(std::vector<JsonValue> items);
  static JsonValue Object(Members members);

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsBool() const { return type_ == Type::kBool; }
  bool IsNumber() const { return type_ == Type::kNumber; }
  bool IsString() const { return type_ == Type::kString; }
  bool IsArray() const { return type_ == Type::kArray; }
  bool IsObject() const { return type_ == Type::kObject; }

  // Typed reads; throw kInvalidModel when the type differs.
  bool AsBool() const;
  double AsNumber() const;
  // A number that is an integer within int64 range (and exactly representable).
  int64_t AsInt() const;
  const std::string& AsString() const;
  const std::vector<JsonValue>& AsArray() const;
  const Members& AsObject() const;

  // Arrays and objects: element count. Other types: 0.
  size_t size() const;
  // Array element; throws when not an array or i is out of range.
  const JsonValue& at(size_t i) const;
  // Object member (first occurrence); throws when not an object or the key is missing.
  const JsonValue& operator[](std::string_view key) const;
  // Object member or nullptr (also nullptr when this is not an object).
  const JsonValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  static const char* TypeName(Type t);

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  Members object_;
};

struct JsonParseOptions {
  int max_depth = 200;  // nested arrays/objects
};

// Parses one JSON document (surrounding whitespace allowed, nothing else).
JsonValue ParseJson(std::string_view text, const JsonParseOptions& options = {});

}  // namespace facelib::convert
