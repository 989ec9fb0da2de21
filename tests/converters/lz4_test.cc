#include "converters/lz4.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "converters/converter.h"
#include "runtime/error.h"

namespace facelib::convert {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// A frame around the given blocks: FLG = version 01 + independent blocks
// (+ content checksum), BD = 64 KB blocks, header checksum from XxHash32.
std::vector<uint8_t> Frame(const std::vector<std::pair<bool, std::string>>& blocks, bool content_checksum = false,
                           const std::string& content = "") {
  std::vector<uint8_t> f = {0x04, 0x22, 0x4d, 0x18};
  const uint8_t flg = 0x60 | (content_checksum ? 0x04 : 0), bd = 0x40;
  const uint8_t desc[2] = {flg, bd};
  f.push_back(flg);
  f.push_back(bd);
  f.push_back(static_cast<uint8_t>((XxHash32(desc, 2) >> 8) & 0xff));
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) f.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const auto& [raw, data] : blocks) {
    put32(static_cast<uint32_t>(data.size()) | (raw ? 0x80000000u : 0));
    f.insert(f.end(), data.begin(), data.end());
  }
  put32(0);
  if (content_checksum) put32(XxHash32(reinterpret_cast<const uint8_t*>(content.data()), content.size()));
  return f;
}

std::string Decode(const std::vector<uint8_t>& f, size_t limit = size_t{1} << 20) {
  const auto out = Lz4DecompressFrames(f.data(), f.size(), "test.lz4", limit);
  return std::string(out.begin(), out.end());
}

Error DecodeError(const std::vector<uint8_t>& f, size_t limit = size_t{1} << 20) {
  try {
    Decode(f, limit);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorCode::kInternal, "");
}

TEST(Lz4Test, XxHash32KnownValues) {
  EXPECT_EQ(XxHash32(nullptr, 0), 0x02CC5D05u);
  const std::string abc = "abc";
  EXPECT_EQ(XxHash32(reinterpret_cast<const uint8_t*>(abc.data()), 3), 0x32D153FFu);
}

TEST(Lz4Test, LiteralsOnlyBlock) {
  EXPECT_EQ(Decode(Frame({{false, std::string("\x50hello", 6)}})), "hello");
}

TEST(Lz4Test, MatchesIncludingOverlap) {
  // "abc" + match(offset 3, length 9) + "XYZ": the match overlaps its own output.
  const std::string block = std::string("\x35" "abc" "\x03\x00" "\x30" "XYZ", 10);
  EXPECT_EQ(Decode(Frame({{false, block}})), "abcabcabcabcXYZ");
  // Extended lengths: 15 + 4 = 19 literals, then a run of 15 + 5 + 4 = 24 copies at offset 1.
  const std::string lits = std::string(18, 'q') + "z";
  const std::string ext_block = std::string("\xff\x04", 2) + lits + std::string("\x01\x00\x05", 3) + std::string("\x10" "!", 2);
  EXPECT_EQ(Decode(Frame({{false, ext_block}})), lits + std::string(24, 'z') + "!");
}

TEST(Lz4Test, UncompressedBlocksLinkedBlocksAndChecksum) {
  // Block 2 copies from block 1 (offset 6): allowed across linked blocks.
  const std::string content = "raw-1!raw-1!tail";
  auto f = Frame({{true, "raw-1!"}, {false, std::string("\x02\x06\x00\x40tail", 8)}}, true, content);
  EXPECT_EQ(Decode(f), content);
}

TEST(Lz4Test, FrameWrittenByPythonLz4) {
  // lz4.frame.compress(data, content_checksum=True, block_checksum=True, store_size=True)
  // of bytes((i*7+3)%251 for i in range(100)) + b'facelib'*20 (python3-lz4 4.0.2).
  const auto f = FromHex(
      "04224d187c40f0000000000000001c7d000000ff63030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1"
      "f8040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf2f9050c131a21282f363d444b525960676e757c"
      "838a91989fa6adb4bbc2666163656c6962666163656c69620e00665063656c6962c1e7c8b100000000c5b6a2fc");
  std::string expect;
  for (int i = 0; i < 100; ++i) expect.push_back(static_cast<char>((i * 7 + 3) % 251));
  for (int i = 0; i < 20; ++i) expect += "facelib";
  EXPECT_EQ(Decode(f), expect);
  // Flip one payload byte: the block checksum catches it.
  auto bad = f;
  bad[40] ^= 1;
  const Error e = DecodeError(bad);
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("block checksum mismatch"), std::string::npos) << e.what();
}

TEST(Lz4Test, CorruptFrames) {
  const std::string ok_block("\x50hello", 6);
  struct Case {
    std::vector<uint8_t> bytes;
    const char* message;
  };
  auto header_bad = Frame({{false, ok_block}});
  header_bad[6] ^= 0xff;
  auto truncated = Frame({{false, ok_block}});
  truncated.resize(truncated.size() - 6);
  const Case cases[] = {
      {Bytes("not an lz4 file"), "bad magic"},
      {header_bad, "header checksum mismatch"},
      {truncated, "truncated"},
      {Frame({{false, std::string("\x35" "abc" "\x00\x00" "\x30" "XYZ", 10)}}), "match offset 0"},
      {Frame({{false, std::string("\x35" "abc" "\x09\x00" "\x30" "XYZ", 10)}}), "match offset 9"},
      {Frame({{false, std::string("\x90" "abc", 4)}}), "literals run past the block"},
      {Frame({{false, std::string("\x35" "abc" "\x03", 5)}}), "truncated match offset"},
      {Frame({{false, "hello"}}, true, "other"), "literals run past"},
      {Frame({{true, "hello"}}, true, "hellO"), "content checksum mismatch"},
  };
  for (const Case& c : cases) {
    const Error e = DecodeError(c.bytes);
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.lz4"), std::string::npos) << e.what();
  }
}

TEST(Lz4Test, OutputLimit) {
  // 4 literals + a 4000-byte run: bounded by the caller's limit.
  std::string block = std::string("\x4f" "aaaa" "\x01\x00", 7);
  size_t extra = 4000 - 4 - 15;
  while (extra >= 255) {
    block.push_back('\xff');
    extra -= 255;
  }
  block.push_back(static_cast<char>(extra));
  block += std::string("\x10" "b", 2);
  EXPECT_EQ(Decode(Frame({{false, block}})).size(), 4u + 4000u + 1u);
  const Error e = DecodeError(Frame({{false, block}}), 1000);
  EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(std::string(e.what()).find("exceeds 1000 bytes"), std::string::npos) << e.what();
  const Error raw = DecodeError(Frame({{true, std::string(2000, 'x')}}), 1000);
  EXPECT_EQ(raw.code(), ErrorCode::kResourceExhausted);
}

TEST(Lz4Test, IpazcPnetWeights) {
  const char* env = std::getenv("FACELIB_SHARED");
  const std::string path = std::string(env ? env : FACELIB_SOURCE_DIR "/../shared") + "/models/mtcnn_ipazc/pnet.lz4";
  if (!std::ifstream(path)) GTEST_SKIP() << path << " not present";
  const auto bytes = ReadFileBytes(path);
  ASSERT_TRUE(IsLz4Frame(bytes.data(), bytes.size()));
  const auto out = Lz4DecompressFrames(bytes.data(), bytes.size(), path);
  // Size reported by python3-lz4's lz4.frame.decompress on the same file.
  EXPECT_EQ(out.size(), 27450u);
  EXPECT_EQ(out[0], 0x80);  // pickle PROTO 4
  EXPECT_EQ(out[1], 4);
}

}  // namespace
}  // namespace facelib::convert
