#include "converters/json.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/error.h"

namespace facelib::convert {
namespace {

// The message of the error `text` raises, or "" when it parses.
std::string ParseError(const std::string& text, JsonParseOptions opts = {}) {
  try {
    ParseJson(text, opts);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    return e.what();
  }
  return "";
}

TEST(JsonTest, ParsesADocument) {
  const JsonValue v = ParseJson(R"( {"a": [1, 2.5, -3e2, true, false, null], "b": {"c": "x"}, "": 0} )");
  ASSERT_TRUE(v.IsObject());
  EXPECT_EQ(v.size(), 3u);
  const JsonValue& a = v["a"];
  ASSERT_TRUE(a.IsArray());
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a.at(0).AsInt(), 1);
  EXPECT_DOUBLE_EQ(a.at(1).AsNumber(), 2.5);
  EXPECT_DOUBLE_EQ(a.at(2).AsNumber(), -300.0);
  EXPECT_TRUE(a.at(3).AsBool());
  EXPECT_FALSE(a.at(4).AsBool());
  EXPECT_TRUE(a.at(5).IsNull());
  EXPECT_EQ(v["b"]["c"].AsString(), "x");
  EXPECT_EQ(v[""].AsInt(), 0);
  EXPECT_TRUE(v.Has("b"));
  EXPECT_FALSE(v.Has("z"));
  EXPECT_EQ(v.Find("z"), nullptr);
  EXPECT_EQ(a.Find("a"), nullptr);  // not an object
  EXPECT_EQ(v.AsObject()[0].first, "a");  // document order kept
}

TEST(JsonTest, Scalars) {
  EXPECT_TRUE(ParseJson("null").IsNull());
  EXPECT_EQ(ParseJson("\"s\"").AsString(), "s");
  EXPECT_DOUBLE_EQ(ParseJson("0").AsNumber(), 0.0);
  EXPECT_DOUBLE_EQ(ParseJson("-0.125").AsNumber(), -0.125);
  EXPECT_DOUBLE_EQ(ParseJson("1E+3").AsNumber(), 1000.0);
  EXPECT_DOUBLE_EQ(ParseJson("6.02e-23").AsNumber(), 6.02e-23);
  EXPECT_EQ(ParseJson("9007199254740992").AsInt(), int64_t{9007199254740992});
  EXPECT_EQ(ParseJson("[]").size(), 0u);
  EXPECT_EQ(ParseJson("{}").size(), 0u);
}

TEST(JsonTest, StringEscapes) {
  EXPECT_EQ(ParseJson(R"("a\"b\\c\/d\b\f\n\r\t")").AsString(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(ParseJson(R"("\u0041\u00e9\u20AC")").AsString(), "A\xC3\xA9\xE2\x82\xAC");
  // U+1F600 as a surrogate pair -> 4-byte UTF-8.
  EXPECT_EQ(ParseJson(R"("\ud83d\ude00")").AsString(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseJson(R"("\u0000")").AsString(), std::string(1, '\0'));
  // Raw UTF-8 passes through.
  EXPECT_EQ(ParseJson("\"\xC3\xA9\"").AsString(), "\xC3\xA9");
}

TEST(JsonTest, BadStringsReportOffsets) {
  EXPECT_EQ(ParseError(R"("abc)"), "JSON parse error at byte 0: unterminated string");
  EXPECT_EQ(ParseError(R"(["\x"])"), "JSON parse error at byte 2: invalid escape '\\x'");
  EXPECT_EQ(ParseError(R"("\ud83d")"), "JSON parse error at byte 1: high surrogate not followed by a low surrogate");
  EXPECT_EQ(ParseError(R"("\ude00")"), "JSON parse error at byte 1: unpaired low surrogate in \\u escape");
  EXPECT_EQ(ParseError(R"("\u12G4")"), "JSON parse error at byte 5: invalid hex digit in \\u escape");
  EXPECT_EQ(ParseError("\"a\nb\""), "JSON parse error at byte 2: control character in a string");
}

TEST(JsonTest, BadNumbers) {
  EXPECT_EQ(ParseError("01"), "JSON parse error at byte 1: leading zero in a number");
  EXPECT_EQ(ParseError("1."), "JSON parse error at byte 2: expected a digit after '.'");
  EXPECT_EQ(ParseError("-"), "JSON parse error at byte 1: truncated number");
  EXPECT_EQ(ParseError("1e"), "JSON parse error at byte 2: expected a digit in the exponent");
  EXPECT_EQ(ParseError("1e999"), "JSON parse error at byte 0: number out of range");
  EXPECT_EQ(ParseError("+1"), "JSON parse error at byte 0: unexpected character '+'");
  EXPECT_EQ(ParseError("NaN"), "JSON parse error at byte 0: unexpected character 'N'");
}

TEST(JsonTest, TruncatedAndGarbageInput) {
  EXPECT_EQ(ParseError(""), "JSON parse error at byte 0: unexpected end of input, expected a value");
  EXPECT_EQ(ParseError("{\"a\": [1, 2"), "JSON parse error at byte 11: unexpected end of input in an array");
  EXPECT_EQ(ParseError("{\"a\": 1"), "JSON parse error at byte 7: unexpected end of input in an object");
  EXPECT_EQ(ParseError("{\"a\" 1}"), "JSON parse error at byte 5: expected ':'");
  EXPECT_EQ(ParseError("[1,]"), "JSON parse error at byte 3: unexpected character ']'");
  EXPECT_EQ(ParseError("{\"a\":1,}"), "JSON parse error at byte 7: expected a string key");
  EXPECT_EQ(ParseError("[1 2]"), "JSON parse error at byte 3: expected ',' or ']' in an array");
  EXPECT_EQ(ParseError("{} x"), "JSON parse error at byte 3: unexpected trailing characters");
  EXPECT_EQ(ParseError("tru"), "JSON parse error at byte 0: invalid literal, expected 'true'");
  EXPECT_EQ(ParseError("\x01"), "JSON parse error at byte 0: unexpected character '\\x01'");
  EXPECT_EQ(ParseError("// comment\n{}"), "JSON parse error at byte 0: unexpected character '/'");
}

TEST(JsonTest, NestingLimit) {
  JsonParseOptions opts;
  opts.max_depth = 8;
  EXPECT_EQ(ParseError(std::string(8, '[') + std::string(8, ']'), opts), "");
  EXPECT_EQ(ParseError(std::string(9, '[') + std::string(9, ']'), opts),
            "JSON parse error at byte 8: nesting deeper than 8 levels");
  // The default limit stops a stack-exhausting document early.
  const std::string deep(100000, '[');
  EXPECT_EQ(ParseError(deep), "JSON parse error at byte 200: nesting deeper than 200 levels");
  EXPECT_EQ(ParseError(std::string(50, '{') ), "JSON parse error at byte 1: expected a string key");
}

TEST(JsonTest, AccessorErrors) {
  const JsonValue v = ParseJson(R"({"n": 1.5, "s": "x", "a": [1]})");
  auto msg = [](auto fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(msg([&] { v["missing"]; }), "JSON: missing key \"missing\"");
  EXPECT_EQ(msg([&] { v["s"].AsNumber(); }), "JSON: expected a number, got string");
  EXPECT_EQ(msg([&] { v["n"].AsInt(); }), "JSON: expected an integer, got 1.500000");
  EXPECT_EQ(msg([&] { v["a"].at(1); }), "JSON: index 1 is out of range for an array of 1");
  EXPECT_EQ(msg([&] { v["n"]["x"]; }), "JSON: expected an object, got number");
  EXPECT_EQ(msg([&] { v.AsArray(); }), "JSON: expected an array, got object");
  EXPECT_EQ(msg([&] { ParseJson("1e300").AsInt(); }), "JSON: expected an integer, got " + std::to_string(1e300));
}

}  // namespace
}  // namespace facelib::convert
