#include "converters/torch_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "converters/zip.h"
#include "runtime/error.h"

namespace facelib::convert {
namespace {

void Put(std::string* s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A zip with stored entries, laid out as torch writes it (local headers,
// data, central directory, end record). `method` overrides the method field.
std::string MakeZip(const std::vector<std::pair<std::string, std::string>>& files, uint16_t method = 0) {
  std::string z, cd;
  for (const auto& [name, data] : files) {
    const uint32_t crc = Crc32(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    const size_t off = z.size();
    Put(&z, 0x04034b50, 4);
    Put(&z, 20, 2); Put(&z, 0, 2); Put(&z, method, 2); Put(&z, 0, 4);
    Put(&z, crc, 4); Put(&z, data.size(), 4); Put(&z, data.size(), 4);
    Put(&z, name.size(), 2); Put(&z, 3, 2);
    z += name + "FB";  // 3-byte extra field padding, as torch aligns its data
    z.push_back('\0');
    z += data;
    Put(&cd, 0x02014b50, 4);
    Put(&cd, 20, 2); Put(&cd, 20, 2); Put(&cd, 0, 2); Put(&cd, method, 2); Put(&cd, 0, 4);
    Put(&cd, crc, 4); Put(&cd, data.size(), 4); Put(&cd, data.size(), 4);
    Put(&cd, name.size(), 2); Put(&cd, 0, 2); Put(&cd, 0, 2); Put(&cd, 0, 2); Put(&cd, 0, 2); Put(&cd, 0, 4);
    Put(&cd, off, 4);
    cd += name;
  }
  const size_t cd_off = z.size();
  z += cd;
  Put(&z, 0x06054b50, 4);
  Put(&z, 0, 2); Put(&z, 0, 2); Put(&z, files.size(), 2); Put(&z, files.size(), 2);
  Put(&z, cd.size(), 4); Put(&z, cd_off, 4); Put(&z, 0, 2);
  return z;
}

std::vector<uint8_t> V(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// The state-dict pickle torch writes for {'w': tensor(size, stride, offset) on storage '0' (Float, numel)}.
std::string StateDictPickle(const std::string& size_tuple, const std::string& stride_tuple, int offset, int numel) {
  using namespace std::string_literals;
  std::string p = "\x80\x02" "ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00" "w"s;
  p += "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00" "storage" "ctorch\nFloatStorage\n"
       "X\x01\x00\x00\x00" "0" "X\x03\x00\x00\x00" "cpu" "K"s;
  p.push_back(static_cast<char>(numel));
  p += "NtQK";
  p.push_back(static_cast<char>(offset));
  p += size_tuple + stride_tuple + "\x89h\x00)RtRuX\x01\x00\x00\x00" "xK\x05s."s;
  return p;
}

std::string Floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

TEST(ZipTest, ReadsStoredEntriesAndChecksCrc) {
  const std::string z = MakeZip({{"a/x.txt", "hello"}, {"a/y.bin", std::string("\x00\x01\x02", 3)}});
  ZipReader r(reinterpret_cast<const uint8_t*>(z.data()), z.size(), "t.zip");
  ASSERT_EQ(r.entries().size(), 2u);
  auto [p, n] = r.Read("a/x.txt");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p), n), "hello");
  EXPECT_EQ(r.Read("a/y.bin").second, 3u);
  try {
    r.Read("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  std::string bad = z;
  bad[bad.find("hello")] = 'j';
  ZipReader rb(reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), "t.zip");
  try {
    rb.Read("a/x.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("CRC mismatch in 'a/x.txt'"), std::string::npos) << e.what();
  }
}

TEST(ZipTest, TruncatedCentralDirectory) {
  const std::string z = MakeZip({{"a/x.txt", "hello"}});
  // Cut inside the central directory: the end record is gone.
  const std::string cut = z.substr(0, z.size() - 30);
  try {
    ZipReader r(reinterpret_cast<const uint8_t*>(cut.data()), cut.size(), "t.zip");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("no end-of-central-directory record"), std::string::npos) << e.what();
  }
  // End record intact but pointing past a shortened directory.
  std::string shifted = z;
  const size_t eocd = shifted.size() - 22;
  shifted[eocd + 12] = static_cast<char>(0x7f);  // directory size
  try {
    ZipReader r(reinterpret_cast<const uint8_t*>(shifted.data()), shifted.size(), "t.zip");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("central directory lies outside the file"), std::string::npos) << e.what();
  }
  try {
    ZipReader r(reinterpret_cast<const uint8_t*>(z.data()), 10, "t.zip");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  }
}

TEST(ZipTest, DeflatedEntryIsUnsupported) {
  const std::string z = MakeZip({{"arch/data.pkl", "xx"}}, 8);
  ZipReader r(reinterpret_cast<const uint8_t*>(z.data()), z.size(), "t.zip");
  try {
    r.Read("arch/data.pkl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("'arch/data.pkl' is compressed (method 8)"), std::string::npos) << e.what();
  }
}

TEST(TorchCheckpointTest, ZipContainer) {
  // w: a [2, 3] view with strides (1, 2) from offset 1 of a 7-float storage,
  // i.e. the transpose of [[s1, s2], [s3, s4], [s5, s6]].
  const std::string pkl = StateDictPickle("K\x02K\x03\x86", "K\x01K\x02\x86", 1, 7);
  const std::string z = MakeZip({{"archive/data.pkl", pkl},
                                 {"archive/data/0", Floats({0, 1, 2, 3, 4, 5, 6})},
                                 {"archive/version", "3\n"}});
  TorchStateDict sd = ReadTorchStateDict(V(z), "t.pt");
  EXPECT_EQ(sd.container, TorchContainer::kZip);
  const models::WeightTensor& w = sd.weights.Get("w", {2, 3});
  EXPECT_EQ(w.data, (std::vector<float>{1, 3, 5, 2, 4, 6}));
  EXPECT_FALSE(sd.weights.Has("x"));  // plain ints are skipped
}

TEST(TorchCheckpointTest, ZipContainerErrors) {
  const std::string pkl = StateDictPickle("K\x02K\x03\x86", "K\x03K\x01\x86", 2, 7);
  // 6 elements from offset 2 need 8 floats; the storage has 7.
  const std::string z = MakeZip({{"archive/data.pkl", pkl}, {"archive/data/0", Floats({0, 1, 2, 3, 4, 5, 6})}});
  try {
    ReadTorchStateDict(V(z), "t.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("reaches element 7 of a storage with 7"), std::string::npos) << e.what();
  }
  const std::string missing = MakeZip({{"archive/data.pkl", pkl}});
  try {
    ReadTorchStateDict(V(missing), "t.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("archive/data/0"), std::string::npos) << e.what();
  }
}

std::string Legacy(const std::string& main_pickle, const std::string& storage_count_and_data) {
  using namespace std::string_literals;
  std::string f = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."s;  // magic number
  f += "\x80\x02M\xe9\x03."s;                                                      // protocol 1001
  f += "\x80\x02}(X\x0d\x00\x00\x00" "little_endian" "\x88u."s;                  // sys info
  f += main_pickle;
  f += "\x80\x02]X\x01\x00\x00\x00" "0" "a."s;                                      // storage keys
  f += storage_count_and_data;
  return f;
}

TEST(TorchCheckpointTest, LegacyContainer) {
  const std::string pkl = StateDictPickle("K\x02K\x02\x86", "K\x02K\x01\x86", 0, 4);
  std::string storage;
  Put(&storage, 4, 8);
  storage += Floats({1.5f, -2, 3, 4});
  TorchStateDict sd = ReadTorchStateDict(V(Legacy(pkl, storage)), "old.pth");
  EXPECT_EQ(sd.container, TorchContainer::kLegacy);
  EXPECT_EQ(sd.weights.Get("w", {2, 2}).data, (std::vector<float>{1.5f, -2, 3, 4}));

  std::string short_storage;
  Put(&short_storage, 4, 8);
  short_storage += Floats({1, 2, 3});
  try {
    ReadTorchStateDict(V(Legacy(pkl, short_storage)), "old.pth");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("storage '0' is truncated"), std::string::npos) << e.what();
  }
  std::string wrong_count;
  Put(&wrong_count, 5, 8);
  wrong_count += Floats({1, 2, 3, 4, 5});
  try {
    ReadTorchStateDict(V(Legacy(pkl, wrong_count)), "old.pth");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 5 elements, its id says 4"), std::string::npos) << e.what();
  }
}

TEST(TorchCheckpointTest, NotACheckpoint) {
  try {
    ReadTorchStateDict(V("plain text"), "x.pth");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("neither a zip nor a legacy PyTorch checkpoint"), std::string::npos);
  }
  // A legacy file whose first pickle is not the magic number.
  try {
    ReadTorchStateDict(V(std::string("\x80\x02K\x01.", 5)), "x.pth");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("legacy magic number missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace facelib::convert
