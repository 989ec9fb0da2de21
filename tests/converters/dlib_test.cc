#include "converters/dlib_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "converters/converter.h"
#include "runtime/error.h"
#include "runtime/model_file.h"

namespace facelib::convert::dlibfmt {
namespace {

template <class F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorCode::kInternal, "");
}

bool Has(const Error& e, const std::string& s) { return std::string(e.what()).find(s) != std::string::npos; }

// dlib's serialisation written by hand, for small synthetic objects.
struct Writer {
  std::vector<uint8_t> b;
  void Int(int64_t v) {
    const bool neg = v < 0;
    uint64_t u = neg ? static_cast<uint64_t>(-v) : static_cast<uint64_t>(v);
    uint8_t buf[8];
    int n = 0;
    do {
      buf[n++] = static_cast<uint8_t>(u & 0xFF);
      u >>= 8;
    } while (u != 0);
    b.push_back(static_cast<uint8_t>(n | (neg ? 0x80 : 0)));
    b.insert(b.end(), buf, buf + n);
  }
  void Real(double v) {  // float_details: mantissa, exponent
    int e = 0;
    int64_t m = static_cast<int64_t>(std::frexp(v, &e) * 9007199254740992.0);  // 2^53
    e -= 53;
    while (m != 0 && (m & 0xFF) == 0) {
      m >>= 8;
      e += 8;
    }
    Int(m);
    Int(e);
  }
};

// A valid two-part shape predictor: one cascade of one depth-1 tree.
Writer TinyShapePredictor(int version = 1, int anchor = 1) {
  Writer w;
  w.Int(version);
  w.Int(-4), w.Int(-1);  // initial_shape 4x1
  for (double v : {0.25, 0.5, 0.75, 0.5}) w.Real(v);
  w.Int(1);  // cascades
  w.Int(1);  // trees
  w.Int(1);  // splits
  w.Int(0), w.Int(1), w.Real(-3.5);
  w.Int(2);  // leaves
  for (int l = 0; l < 2; ++l) {
    w.Int(-4), w.Int(-1);
    for (int k = 0; k < 4; ++k) w.Real(l ? -0.125 : 0.0625);
  }
  w.Int(1);  // anchor_idx cascades
  w.Int(2), w.Int(0), w.Int(anchor);
  w.Int(1);  // deltas cascades
  w.Int(2);
  for (double v : {0.5, -1.0, 0.0, 2.0}) w.Real(v);
  return w;
}

TEST(DlibFormatTest, Base64) {
  auto s = [](const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); };
  EXPECT_EQ(s(DecodeBase64("TWFu", "t")), "Man");
  EXPECT_EQ(s(DecodeBase64("TWE=", "t")), "Ma");
  EXPECT_EQ(s(DecodeBase64("TQ==\n", "t")), "M");
  EXPECT_EQ(s(DecodeBase64("aGVs bG8g\nd29y bGQ=", "t")), "hello world");
  Error e = ErrorOf([] { DecodeBase64("TW*u", "hdr"); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_TRUE(Has(e, "hdr: invalid base64 character 0x2a at offset 2")) << e.what();
  e = ErrorOf([] { DecodeBase64("TWFuTW", "hdr"); });
  EXPECT_TRUE(Has(e, "6 characters is not a whole number of 4-character groups")) << e.what();
  e = ErrorOf([] { DecodeBase64("TW=u", "hdr"); });
  EXPECT_TRUE(Has(e, "data after '=' padding")) << e.what();
}

TEST(DlibFormatTest, Crc32) {
  const std::string s = "123456789";
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xCBF43926u);
  EXPECT_EQ(Crc32(nullptr, 0), 0u);
}

TEST(DlibFormatTest, Integers) {
  const std::vector<uint8_t> b = {0x01, 0x08, 0x81, 0x01, 0x02, 0xe8, 0x03, 0x01, 0x12, 0x81, 0x01, 0x05};
  Reader r(b.data(), b.size(), "ints");
  EXPECT_EQ(r.Signed("a"), 8);
  EXPECT_EQ(r.Signed("b"), -1);
  EXPECT_EQ(r.Unsigned("c"), 1000u);
  EXPECT_EQ(r.Double("d"), 9.0);  // mantissa 18, exponent -1
  const Error e = ErrorOf([&] { r.Signed("cell_size"); });
  EXPECT_TRUE(Has(e, "ints: truncated: end of data while reading cell_size")) << e.what();
  const std::vector<uint8_t> wide = {0x05, 1, 2, 3, 4, 5};
  Reader r2(wide.data(), wide.size(), "ints");
  EXPECT_TRUE(Has(ErrorOf([&] { r2.Signed("version", 4); }), "bad integer encoding for version"));
  const std::vector<uint8_t> text = {'1', '.', '5', ' '};
  Reader r3(text.data(), text.size(), "old");
  EXPECT_EQ(ErrorOf([&] { r3.Double("w"); }).code(), ErrorCode::kUnsupported);
}

TEST(DlibFormatTest, SyntheticShapePredictor) {
  const ShapePredictorData sp = ParseShapePredictor(TinyShapePredictor().b, "tiny.dat");
  ASSERT_EQ(sp.initial_shape.size(), 4u);
  EXPECT_EQ(sp.initial_shape[2], 0.75f);
  ASSERT_EQ(sp.forests.size(), 1u);
  ASSERT_EQ(sp.forests[0].size(), 1u);
  EXPECT_EQ(sp.forests[0][0].thresh[0], -3.5f);
  EXPECT_EQ(sp.forests[0][0].leaf_values[1][3], -0.125f);
  EXPECT_EQ(sp.anchor_idx[0][1], 1u);
  EXPECT_EQ(sp.deltas[0][3], 2.0f);

  Error e = ErrorOf([] { ParseShapePredictor(TinyShapePredictor(2).b, "tiny.dat"); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(Has(e, "shape_predictor version 2 (expected 1)")) << e.what();
  e = ErrorOf([] { ParseShapePredictor(TinyShapePredictor(1, 2).b, "tiny.dat"); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_TRUE(Has(e, "anchor index 2 >= 2 parts")) << e.what();
  std::vector<uint8_t> cut = TinyShapePredictor().b;
  cut.resize(cut.size() - 3);
  e = ErrorOf([&] { ParseShapePredictor(cut, "tiny.dat"); });
  EXPECT_TRUE(Has(e, "tiny.dat: truncated")) << e.what();
  std::vector<uint8_t> extra = TinyShapePredictor().b;
  extra.push_back(0);
  EXPECT_TRUE(Has(ErrorOf([&] { ParseShapePredictor(extra, "tiny.dat"); }), "1 unexpected bytes after"));
}

TEST(DlibFormatTest, ObjectDetectorVersion) {
  Writer w;
  w.Int(3);
  const Error e = ErrorOf([&] { ParseObjectDetector(w.b, "det"); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(Has(e, "object_detector version 3 (expected 1 or 2)")) << e.what();
  Writer s;
  s.Int(2);
  s.Int(7);  // scanner version
  EXPECT_TRUE(Has(ErrorOf([&] { ParseObjectDetector(s.b, "det"); }), "scan_fhog_pyramid version 7"));
}

// ---------------------------------------------------------------------------
// The real files of Debian's libdlib-dev / libdlib-data (dlib 19.24).

std::string Source(const std::string& pkg, const std::string& rel) {
  const char* env = std::getenv("FACELIB_MODEL_SOURCES");
  const std::string sources = env ? env : std::string(FACELIB_SOURCE_DIR) + "/build/model-sources";
  const std::string fetched = sources + "/deb/" + pkg + "/" + rel;
  std::error_code ec;
  if (std::filesystem::exists(fetched, ec)) return fetched;
  if (std::filesystem::exists("/" + rel, ec)) return "/" + rel;  // the installed package
  return "";
}

std::string ReadText(const std::string& path) {
  const std::vector<uint8_t> b = ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}

TEST(DlibRealTest, FrontalFaceDetector) {
  const std::string path = Source("libdlib-dev", "usr/include/dlib/image_processing/frontal_face_detector.h");
  if (path.empty()) GTEST_SKIP() << "SKIP: frontal_face_detector.h not present (tools/setup-models.sh)";
  const std::string text = ReadText(path);
  const DetectorHeader h = ExtractDetectorHeader(text, path);
  EXPECT_EQ(h.pyramid_down, 6);
  EXPECT_EQ(h.base64.size(), 169528u);
  const std::vector<uint8_t> packed = DecodeBase64(h.base64, path);
  EXPECT_EQ(packed.size(), 127146u);
  const std::vector<uint8_t> raw = DecompressKernel1ea(packed.data(), packed.size(), path);
  ASSERT_EQ(raw.size(), 155005u);
  EXPECT_EQ(raw[0], 0x01);  // object_detector version 2
  EXPECT_EQ(raw[1], 0x02);
  const HogDetector d = ParseObjectDetector(raw, path);
  EXPECT_EQ(d.cell_size, 8);
  EXPECT_EQ(d.padding, 0u);
  EXPECT_EQ(d.window_width, 80u);
  EXPECT_EQ(d.window_height, 80u);
  EXPECT_EQ(d.filter_width, 10);
  EXPECT_EQ(d.filter_height, 10);
  EXPECT_EQ(d.max_pyramid_levels, 1000u);
  EXPECT_EQ(d.min_pyramid_layer_width, 64u);
  EXPECT_EQ(d.nuclear_norm_regularization, 9.0);
  EXPECT_NEAR(d.overlap_iou, 0.330082, 1e-6);
  EXPECT_NEAR(d.overlap_percent_covered, 0.788571, 1e-6);
  ASSERT_EQ(d.weights.size(), 5u);
  const double thresholds[5] = {3.2745, 3.98682, 3.89594, 3.51487, 3.55803};
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(d.weights[i].size(), 3101u);
    EXPECT_NEAR(d.weights[i][3100], thresholds[i], 1e-5) << i;
  }

  // Damage: a bad base64 character, a cut stream, a changed checksum, changed data.
  std::string bad = text;
  bad[text.find("sout << \"") + 20] = '*';
  const Error b64 = ErrorOf([&] { DecodeBase64(ExtractDetectorHeader(bad, "h").base64, "h"); });
  EXPECT_TRUE(Has(b64, "h: invalid base64 character 0x2a")) << b64.what();
  const Error cut = ErrorOf([&] { DecompressKernel1ea(packed.data(), packed.size() / 2, "z"); });
  EXPECT_EQ(cut.code(), ErrorCode::kInvalidModel);
  EXPECT_TRUE(Has(cut, "z: compressed stream is truncated")) << cut.what();
  std::vector<uint8_t> crc = packed;  // this byte codes the stored checksum, not the data
  crc[crc.size() - 5] ^= 0x40;
  const Error crc_e = ErrorOf([&] { DecompressKernel1ea(crc.data(), crc.size(), "z"); });
  EXPECT_TRUE(Has(crc_e, "z: CRC-32 mismatch: stored 0x083622fe, data gives 0x083622d1")) << crc_e.what();
  std::vector<uint8_t> flip = packed;
  flip[packed.size() / 3] ^= 0x01;
  const Error flip_e = ErrorOf([&] { DecompressKernel1ea(flip.data(), flip.size(), "z"); });
  EXPECT_EQ(flip_e.code(), ErrorCode::kInvalidModel);
  EXPECT_TRUE(Has(flip_e, "z: ")) << flip_e.what();
  // The decompressed detector cut short.
  std::vector<uint8_t> short_raw(raw.begin(), raw.begin() + 5000);
  const Error short_e = ErrorOf([&] { ParseObjectDetector(short_raw, "d"); });
  EXPECT_TRUE(Has(short_e, "d: truncated: weight vector 0 needs 3101 values, 4943 bytes remain")) << short_e.what();
}

TEST(DlibRealTest, ShapePredictor68) {
  const std::string path = Source("libdlib-data", "usr/share/dlib/shape_predictor_68_face_landmarks.dat");
  if (path.empty()) GTEST_SKIP() << "SKIP: shape_predictor_68_face_landmarks.dat not present (tools/setup-models.sh)";
  const std::vector<uint8_t> bytes = ReadFileBytes(path);
  ASSERT_EQ(bytes.size(), 99693937u);
  const ShapePredictorData sp = ParseShapePredictor(bytes, path);
  ASSERT_EQ(sp.initial_shape.size(), 136u);  // 68 points
  ASSERT_EQ(sp.forests.size(), 15u);
  for (const auto& forest : sp.forests) {
    ASSERT_EQ(forest.size(), 500u);
    for (const auto& tree : forest) {
      ASSERT_EQ(tree.idx1.size(), 15u);  // depth 4
      ASSERT_EQ(tree.leaf_values.size(), 16u);
    }
  }
  for (const auto& a : sp.anchor_idx) EXPECT_EQ(a.size(), 500u);
  // The mean shape in box-normalised coordinates: the chin (point 8) near the
  // bottom centre, the eyes (36..47) in the upper half, left of centre first.
  EXPECT_NEAR(sp.initial_shape[2 * 8], 0.5, 0.05);
  EXPECT_GT(sp.initial_shape[2 * 8 + 1], 0.95f);
  EXPECT_LT(sp.initial_shape[2 * 36], 0.3f);
  EXPECT_GT(sp.initial_shape[2 * 45], 0.7f);
  EXPECT_LT(sp.initial_shape[2 * 36 + 1], 0.4f);

  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + (1 << 20));
  const Error e = ErrorOf([&] { ParseShapePredictor(cut, "sp.dat"); });
  EXPECT_TRUE(Has(e, "sp.dat: truncated: ") && Has(e, "cascade 0 tree")) << e.what();
}

TEST(DlibRealTest, ConvertersWriteLoadableFiles) {
  const std::string hdr = Source("libdlib-dev", "usr/include/dlib/image_processing/frontal_face_detector.h");
  if (hdr.empty()) GTEST_SKIP() << "SKIP: frontal_face_detector.h not present";
  const Converter* c = FindConverter("dlib-hog");
  ASSERT_NE(c, nullptr);
  ConvertRequest req;
  req.inputs = {hdr};
  rt::Graph g = c->convert(req);
  const auto bytes = rt::SerializeGraph(g);
  const rt::Graph back = rt::LoadGraphFromBuffer(bytes.data(), bytes.size(), "dlib_hog");
  EXPECT_EQ(back.metadata.at("dlib.num_detectors"), "5");
  EXPECT_EQ(back.metadata.at("dlib.pyramid_down"), "6");
  EXPECT_EQ(back.metadata.at("dlib.filter_width"), "10");
  // The filters are low rank: dlib's separable decomposition drops nothing that matters.
  EXPECT_LT(std::stod(back.metadata.at("dlib.separable_residual")), 1e-9);
  // dlib's num_separable_filters() of the five detectors: 61 + 58 + 54 + 66 + 66.
  EXPECT_EQ(back.metadata.at("dlib.separable_filters"), "305");
  EXPECT_EQ(back.metadata.at("dlib.thresholds").substr(0, 18), "3.2744957766996508");
  std::map<std::string, rt::Shape> shapes;
  for (const auto& t : back.tensors) shapes[t.name] = t.shape;
  EXPECT_EQ(shapes["filters"], (rt::Shape{5, 31, 10, 10}));
  EXPECT_EQ(shapes["thresholds"], (rt::Shape{5}));
  EXPECT_EQ(shapes["row_filters"], (rt::Shape{305, 10}));
  EXPECT_EQ(shapes["col_filters"], (rt::Shape{305, 10}));
  EXPECT_EQ(shapes["separable_index"], (rt::Shape{305, 2}));
  ConvertRequest none;
  none.inputs = {"/nonexistent/frontal_face_detector.h"};
  EXPECT_EQ(ErrorOf([&] { c->convert(none); }).code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace facelib::convert::dlibfmt
