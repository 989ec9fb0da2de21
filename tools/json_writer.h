// A minimal streaming JSON writer for the command-line tools' output.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace facelib::tools {

class Json {
 public:
  Json& BeginObject() { Sep(); out_ += '{'; first_.push_back(true); return *this; }
  Json& EndObject() { out_ += '}'; first_.pop_back(); return *this; }
  Json& BeginArray() { Sep(); out_ += '['; first_.push_back(true); return *this; }
  Json& EndArray() { out_ += ']'; first_.pop_back(); return *this; }
  Json& Key(const std::string& k) {
    Sep();
    Quote(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  Json& String(const std::string& s) { Sep(); Quote(s); return *this; }
  Json& Bool(bool b) { Sep(); out_ += b ? "true" : "false"; return *this; }
  Json& Null() { Sep(); out_ += "null"; return *this; }
  Json& Int(long long v) { Sep(); out_ += std::to_string(v); return *this; }
  // Numbers print with up to `digits` significant digits; non-finite -> null.
  Json& Number(double v, int digits = 7) {
    Sep();
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    out_ += buf;
    return *this;
  }
  Json& Raw(const std::string& s) { Sep(); out_ += s; return *this; }
  const std::string& str() const { return out_; }

 private:
  void Sep() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void Quote(const std::string& s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace facelib::tools
