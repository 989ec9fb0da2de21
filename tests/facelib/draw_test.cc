// Drawing: exact pixel sets of rectangles, lines, discs and text on synthetic
// images, clipping of shapes outside the image, and DrawFaces on a real photo
// through a JPEG round trip.
#include "facelib/draw.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/error.h"

namespace facelib {
namespace {

namespace fs = std::filesystem;

constexpr Color kRed{255, 0, 0};
constexpr Color kGreen{0, 255, 0};
constexpr Color kBlue{0, 0, 255};
constexpr Color kWhite{255, 255, 255};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Image of values 160..220 varying from byte to byte: no drawing colour used here (channels 0 or 255,
// gray luminances 29, 76, 150, 255) occurs in it, so every write shows.
Image Pattern(int w, int h, int c) {
  Image img(w, h, c);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(160 + (i * 7) % 61);
  return img;
}

bool Is(const Image& img, int x, int y, Color c) {
  const uint8_t* p = img.at(x, y);
  if (img.channels == 1) return p[0] == Luminance(c);
  return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

bool Same(const Image& a, const Image& b, int x, int y) {
  for (int k = 0; k < a.channels; ++k) {
    if (a.at(x, y)[k] != b.at(x, y)[k]) return false;
  }
  return true;
}

// Set of pixels that differ between two images of the same size.
std::set<std::pair<int, int>> Changed(const Image& before, const Image& after) {
  std::set<std::pair<int, int>> out;
  for (int y = 0; y < before.height; ++y) {
    for (int x = 0; x < before.width; ++x) {
      if (!Same(before, after, x, y)) out.insert({x, y});
    }
  }
  return out;
}

// Pixels [x0, x1) x [y0, y1).
std::set<std::pair<int, int>> RectSet(int x0, int y0, int x1, int y1) {
  std::set<std::pair<int, int>> out;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) out.insert({x, y});
  }
  return out;
}

std::set<std::pair<int, int>> Union(std::set<std::pair<int, int>> a, const std::set<std::pair<int, int>>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// Gray canvas of value 0 where text is drawn in white; returns the ink mask.
std::vector<uint8_t> TextMask(const std::string& text, int scale, int w, int h, int x = 0, int y = 0) {
  Image img(w, h, 1);
  DrawText(img, x, y, text, kWhite, std::nullopt, scale);
  return img.pixels;
}

fs::path SharedDir() {
  if (const char* env = std::getenv("FACELIB_SHARED")) return env;
  return fs::path(FACELIB_SOURCE_DIR) / ".." / "shared";
}

// --------------------------------------------------------------- rectangles --

TEST(DrawRect, BorderHasColourInteriorAndOutsideUnchanged) {
  for (int channels : {1, 3}) {
    const Image before = Pattern(40, 30, channels);
    for (int t : {1, 3}) {
      Image img = before;
      DrawRect(img, Box{5, 4, 20, 15}, kRed, t);  // columns 5..24, rows 4..18
      std::set<std::pair<int, int>> expect;
      expect = Union(RectSet(5, 4, 25, 4 + t), RectSet(5, 19 - t, 25, 19));
      expect = Union(expect, Union(RectSet(5, 4, 5 + t, 19), RectSet(25 - t, 4, 25, 19)));
      EXPECT_EQ(Changed(before, img), expect) << "channels " << channels << " thickness " << t;
      for (const auto& [x, y] : expect) ASSERT_TRUE(Is(img, x, y, kRed)) << x << "," << y;
      // Interior pixel next to the border and outside pixel next to it are the originals.
      EXPECT_TRUE(Same(before, img, 5 + t, 4 + t));
      EXPECT_TRUE(Same(before, img, 4, 10));
      EXPECT_TRUE(Same(before, img, 25, 10));
    }
  }
}

TEST(DrawRect, GrayUsesLuminance) {
  Image img(10, 10, 1);
  DrawRect(img, Box{0, 0, 10, 10}, Color{200, 100, 50}, 1);
  EXPECT_EQ(Luminance(Color{200, 100, 50}), 124);  // 0.299*200 + 0.587*100 + 0.114*50 = 124.2
  EXPECT_EQ(img.at(0, 0)[0], 124);
  EXPECT_EQ(img.at(9, 5)[0], 124);
  EXPECT_EQ(img.at(5, 5)[0], 0);
}

TEST(DrawRect, FractionalCoordinatesRound) {
  const Image before = Pattern(20, 20, 3);
  Image img = before;
  DrawRect(img, Box{2.4f, 2.6f, 10.2f, 9.8f}, kGreen, 1);  // x 2.4..12.6 -> columns 2..12, y 2.6..12.4 -> rows 3..11
  const auto expect = Union(Union(RectSet(2, 3, 13, 4), RectSet(2, 11, 13, 12)),
                            Union(RectSet(2, 3, 3, 12), RectSet(12, 3, 13, 12)));
  EXPECT_EQ(Changed(before, img), expect);
}

TEST(DrawRect, SmallBoxIsFilled) {
  const Image before = Pattern(20, 20, 3);
  Image img = before;
  DrawRect(img, Box{3, 3, 4, 5}, kBlue, 2);
  EXPECT_EQ(Changed(before, img), RectSet(3, 3, 7, 8));
}

TEST(DrawRect, ClipsPartlyOutside) {
  const Image before = Pattern(30, 30, 3);
  Image img = before;
  DrawRect(img, Box{-10, -10, 30, 30}, kRed, 2);  // covers -10..19: only right and bottom edges visible
  EXPECT_EQ(Changed(before, img), Union(RectSet(18, 0, 20, 20), RectSet(0, 18, 20, 20)));
  img = before;
  DrawRect(img, Box{25, 20, 100, 5}, kRed, 1);  // columns 25..124, rows 20..24
  EXPECT_EQ(Changed(before, img),
            Union(Union(RectSet(25, 20, 30, 21), RectSet(25, 24, 30, 25)), RectSet(25, 20, 26, 25)));
}

TEST(DrawRect, OutsideNaNHugeAndEmptyBoxesDrawNothing) {
  const Image before = Pattern(16, 12, 3);
  const std::vector<Box> boxes = {
      {-50, -50, 20, 20}, {16, 0, 5, 5},     {0, 12, 5, 5},      {100, 100, 5, 5},   {kNaN, 0, 5, 5},
      {0, kNaN, 5, 5},    {0, 0, kNaN, 5},   {0, 0, 5, kNaN},    {-1e30f, -1e30f, 2e30f, 2e30f},
      {0, 0, 0, 5},       {0, 0, 5, -3},     {-kInf, 0, kInf, 5}, {1e30f, 1e30f, 1e30f, 1e30f},
      {-3e38f, -3e38f, 3e38f, 3e38f},
  };
  for (const Box& box : boxes) {
    Image img = before;
    DrawRect(img, box, kRed, 3);
    EXPECT_TRUE(Changed(before, img).empty()) << box.x << " " << box.y << " " << box.w << " " << box.h;
  }
  // A huge box whose edges cross the image draws exactly those edges.
  Image img = before;
  DrawRect(img, Box{-1e30f, 2, 1e30f + 10.f, 1e20f}, kRed, 1);  // 1e30f + 10 == 1e30f: right edge at -1
  EXPECT_TRUE(Changed(before, img).empty());
  Image img2 = before;
  DrawRect(img2, Box{-1e6f, 2, 1e6f + 8, 1e6f}, kRed, 1);  // right edge at column 7, top edge at row 2
  EXPECT_EQ(Changed(before, img2), Union(RectSet(0, 2, 8, 3), RectSet(7, 2, 8, 12)));
  // Huge thickness fills the box.
  Image img3 = before;
  DrawRect(img3, Box{2, 2, 5, 5}, kRed, std::numeric_limits<int>::max());
  EXPECT_EQ(Changed(before, img3), RectSet(2, 2, 7, 7));
}

TEST(DrawRect, InvalidImageThrows) {
  Image empty;
  EXPECT_THROW(DrawRect(empty, Box{0, 0, 1, 1}, kRed, 1), Error);
  Image bad(4, 4, 3);
  bad.pixels.resize(10);
  try {
    DrawText(bad, 0, 0, "x", kRed, std::nullopt, 1);
    ADD_FAILURE() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("4x4x3"), std::string::npos) << e.what();
  }
  Image four(2, 2, 1);
  four.channels = 4;
  four.pixels.resize(16);
  EXPECT_THROW(DrawPoint(four, Point{0, 0}, kRed, 1), Error);
}

// -------------------------------------------------------------- lines/points --

TEST(DrawLine, HorizontalThicknessAndCaps) {
  const Image before = Pattern(30, 12, 3);
  Image img = before;
  DrawLine(img, Point{2.5f, 5.5f}, Point{20.5f, 5.5f}, kRed, 1);
  EXPECT_EQ(Changed(before, img), RectSet(2, 5, 21, 6));
  img = before;
  // Radius 1.5: caps reach one pixel further, including the diagonal neighbours (distance sqrt(2)).
  DrawLine(img, Point{2.5f, 5.5f}, Point{20.5f, 5.5f}, kRed, 3);
  EXPECT_EQ(Changed(before, img), RectSet(1, 4, 22, 7));
  img = before;
  DrawLine(img, Point{7.5f, 1.5f}, Point{7.5f, 9.5f}, kBlue, 1);
  EXPECT_EQ(Changed(before, img), RectSet(7, 1, 8, 10));
  for (int y = 1; y < 10; ++y) EXPECT_TRUE(Is(img, 7, y, kBlue));
}

// Every pixel whose centre is clearly within thickness/2 of the segment is
// drawn and every pixel clearly outside is not; endpoints may lie far away.
TEST(DrawLine, MatchesDistanceToSegment) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> near(-10.f, 50.f);
  std::uniform_real_distribution<float> far(-1e6f, 1e6f);
  const int w = 40, h = 32;
  const Image before(w, h, 1);
  int drawn_total = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const bool use_far = iter % 3 == 0;
    Point a{near(rng), near(rng)}, b{use_far ? far(rng) : near(rng), use_far ? far(rng) : near(rng)};
    if (iter == 1) b = a;  // a single disc
    const int t = 1 + iter % 5;
    Image img = before;
    DrawLine(img, a, b, kWhite, t);
    const double r = t / 2.0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double px = x + 0.5, py = y + 0.5, dx = double(b.x) - a.x, dy = double(b.y) - a.y;
        const double len2 = dx * dx + dy * dy;
        double u = len2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / len2 : 0;
        u = std::clamp(u, 0.0, 1.0);
        const double dist = std::hypot(px - (a.x + u * dx), py - (a.y + u * dy));
        const bool on = img.at(x, y)[0] == 255;
        drawn_total += on;
        if (dist < r - 1e-3) {
          ASSERT_TRUE(on) << "iter " << iter << " pixel " << x << "," << y << " dist " << dist;
        } else if (dist > r + 1e-3) {
          ASSERT_FALSE(on) << "iter " << iter << " pixel " << x << "," << y << " dist " << dist;
        }
      }
    }
  }
  EXPECT_GT(drawn_total, 1000);
}

TEST(DrawLine, NaNAndOutsideDrawNothing) {
  const Image before = Pattern(20, 20, 3);
  for (const auto& [a, b] : std::vector<std::pair<Point, Point>>{{{kNaN, 1}, {5, 5}},
                                                                  {{1, 1}, {5, kNaN}},
                                                                  {{-100, -5}, {100, -5}},
                                                                  {{30, -1e30f}, {30, 1e30f}},
                                                                  {{-kInf, -kInf}, {-kInf, kInf}},
                                                                  {{-3e38f, 25}, {3e38f, 25}}}) {
    Image img = before;
    DrawLine(img, a, b, kRed, 2);
    EXPECT_TRUE(Changed(before, img).empty()) << a.x << "," << a.y << " " << b.x << "," << b.y;
  }
  // A line from -huge to +huge across the image covers the whole row.
  Image img = before;
  DrawLine(img, Point{-3e38f, 10.5f}, Point{3e38f, 10.5f}, kRed, 1);
  EXPECT_EQ(Changed(before, img), RectSet(0, 10, 20, 11));
}

TEST(DrawPoint, DiscShapes) {
  const Image before = Pattern(15, 15, 3);
  Image img = before;
  DrawPoint(img, Point{7.9f, 7.1f}, kRed, 0);
  EXPECT_EQ(Changed(before, img), RectSet(7, 7, 8, 8));
  img = before;
  DrawPoint(img, Point{7.5f, 7.5f}, kRed, 1);
  EXPECT_EQ(Changed(before, img), Union(RectSet(6, 7, 9, 8), RectSet(7, 6, 8, 9)));
  img = before;
  DrawPoint(img, Point{7.5f, 7.5f}, kRed, 2);
  auto disc = Changed(before, img);
  EXPECT_EQ(disc.size(), 21u);
  EXPECT_EQ(disc.count({5, 5}), 0u);
  EXPECT_EQ(disc.count({6, 5}), 1u);
  EXPECT_EQ(disc.count({9, 8}), 1u);
  EXPECT_EQ(disc.count({9, 9}), 0u);
  EXPECT_EQ(disc.count({10, 7}), 0u);
  EXPECT_TRUE(Is(img, 7, 7, kRed));
}

TEST(DrawPoint, ClipsAtCornersAndIgnoresBadPoints) {
  const Image before = Pattern(10, 10, 1);
  Image img = before;
  DrawPoint(img, Point{0.2f, 0.2f}, kWhite, 2);  // quarter disc: 2*(dx^2+dy^2) <= 10
  EXPECT_EQ(Changed(before, img), Union(RectSet(0, 0, 3, 2), RectSet(0, 2, 2, 3)));
  img = before;
  DrawPoint(img, Point{-0.5f, 4.5f}, kWhite, 1);  // only the right arm reaches column 0
  EXPECT_EQ(Changed(before, img), RectSet(0, 4, 1, 5));
  for (Point p :
       {Point{kNaN, 3}, Point{3, kNaN}, Point{-1e30f, 5}, Point{5, 1e30f}, Point{kInf, kInf}, Point{-4, -4}}) {
    img = before;
    DrawPoint(img, p, kWhite, 3);
    EXPECT_TRUE(Changed(before, img).empty()) << p.x << "," << p.y;
  }
  img = before;
  DrawPoint(img, Point{5, 5}, kWhite, std::numeric_limits<int>::max());  // covers everything
  EXPECT_EQ(Changed(before, img).size(), 100u);
}

// Random shapes with extreme coordinates and sizes: each writes only inside
// its own extent (and, under ASan, never outside the buffer).
TEST(DrawClip, RandomExtremeInputsStayInTheirExtent) {
  std::mt19937 rng(11);
  const float special[] = {kNaN, kInf, -kInf, 3e38f, -3e38f, 1e30f, -1e30f, 1e9f, -1e9f, 2.5f, -0.5f, 0.f};
  const int ints[] = {std::numeric_limits<int>::min(), -7, -1, 0, 1, 2, 5, 1000, std::numeric_limits<int>::max()};
  auto coord = [&](float limit) {
    if (rng() % 3 == 0) return special[rng() % std::size(special)];
    return std::uniform_real_distribution<float>(-limit, 2 * limit)(rng);
  };
  auto any_int = [&]() { return rng() % 2 ? ints[rng() % std::size(ints)] : int(rng() % 60) - 20; };
  for (int channels : {1, 3}) {
    const Image before = Pattern(23, 17, channels);
    for (int iter = 0; iter < 400; ++iter) {
      Image img = before;
      const Box box{coord(30), coord(30), coord(30), coord(30)};
      DrawRect(img, box, kRed, any_int() % 8);
      for (const auto& [x, y] : Changed(before, img)) {
        ASSERT_TRUE(x + 0.5 >= box.x && x + 0.5 <= double(box.x) + box.w && y + 0.5 >= box.y &&
                    y + 0.5 <= double(box.y) + box.h)
            << "rect " << box.x << " " << box.y << " " << box.w << " " << box.h << " pixel " << x << "," << y;
      }
      img = before;
      const Point p{coord(30), coord(30)};
      const int radius = any_int() % 6;
      DrawPoint(img, p, kBlue, radius);
      for (const auto& [x, y] : Changed(before, img)) {
        ASSERT_TRUE(std::abs(x - std::floor(p.x)) <= std::max(radius, 0) &&
                    std::abs(y - std::floor(p.y)) <= std::max(radius, 0))
            << "point " << p.x << "," << p.y << " radius " << radius << " pixel " << x << "," << y;
      }
      img = before;
      const int tx = any_int(), ty = any_int(), scale = any_int() % 4;
      const std::string text = iter % 2 ? "Ab 0.9" : "\xe2\x82\xac~";
      DrawText(img, tx, ty, text, kWhite, iter % 3 ? std::optional<Color>(kGreen) : std::nullopt, scale);
      for (const auto& [x, y] : Changed(before, img)) {
        ASSERT_TRUE(int64_t{x} >= tx && int64_t{x} < int64_t{tx} + TextWidth(text, scale) && int64_t{y} >= ty &&
                    int64_t{y} < int64_t{ty} + TextHeight(scale))
            << "text at " << tx << "," << ty << " scale " << scale << " pixel " << x << "," << y;
      }
      img = before;
      DrawLine(img, Point{coord(30), coord(30)}, Point{coord(30), coord(30)}, kGreen, any_int() % 5);
      Detection d;
      d.box = box;
      d.nose = p;
      d.landmarks = {p, Point{coord(30), coord(30)}};
      DrawStyle style;
      style.thickness = any_int();
      style.font_scale = any_int() % 3;
      style.landmarks = static_cast<LandmarkStyle>(iter % 3);
      DrawFaces(img, {d, d}, {"x", "label"}, style);
    }
  }
}

// --------------------------------------------------------------------- text --

TEST(DrawText, SizesAndGlyphCount) {
  EXPECT_EQ(TextWidth("", 1), 0);
  EXPECT_EQ(TextWidth("A", 1), 7);
  EXPECT_EQ(TextWidth("0.99", 1), 25);
  EXPECT_EQ(TextWidth("0.99", 3), 75);
  EXPECT_EQ(TextWidth("ab", 0), TextWidth("ab", 1));
  EXPECT_EQ(TextHeight(1), 11);
  EXPECT_EQ(TextHeight(2), 22);
  EXPECT_EQ(TextGlyphCount("caf\xc3\xa9"), 4u);             // é is one glyph
  EXPECT_EQ(TextGlyphCount("\xe2\x82\xac\xf0\x9f\x98\x80"), 2u);  // euro sign, emoji
  EXPECT_EQ(TextGlyphCount("\x80\xff\n"), 3u);               // stray bytes, control character
  EXPECT_EQ(TextGlyphCount("\xc3"), 1u);                     // truncated sequence
}

TEST(DrawText, EveryGlyphDistinctAndInsideItsCell) {
  const int w = 9, h = 13;  // one cell (7 x 11) plus a margin of 1 around it
  std::set<std::vector<uint8_t>> seen;
  for (int c = 32; c <= 126; ++c) {
    const std::string s(1, static_cast<char>(c));
    const auto mask = TextMask(s, 1, w, h, 1, 1);
    int ink = 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        if (!mask[y * w + x]) continue;
        ++ink;
        // Glyph pixels occupy columns 1..5 and rows 1..9 of the cell at (1, 1).
        EXPECT_TRUE(x >= 2 && x <= 6 && y >= 2 && y <= 10) << "char '" << s << "' pixel " << x << "," << y;
      }
    }
    if (c == ' ') {
      EXPECT_EQ(ink, 0);
    } else {
      EXPECT_GT(ink, 1) << "char '" << s << "'";
    }
    EXPECT_TRUE(seen.insert(mask).second) << "char '" << s << "' looks like another one";
  }
  // Descenders go below the baseline (row 7 of the glyph), capitals do not.
  const auto g = TextMask("g", 1, 7, 11), a = TextMask("A", 1, 7, 11);
  auto row_has_ink = [](const std::vector<uint8_t>& m, int row) {
    for (int x = 0; x < 7; ++x) {
      if (m[row * 7 + x]) return true;
    }
    return false;
  };
  EXPECT_TRUE(row_has_ink(g, 9));
  EXPECT_FALSE(row_has_ink(a, 9));
  EXPECT_TRUE(row_has_ink(a, 1));
  EXPECT_TRUE(row_has_ink(a, 7));
}

TEST(DrawText, InkOnlyInsideCellAndStringsDiffer) {
  const int w = 120, h = 40, x0 = 7, y0 = 5;
  const std::string strings[] = {"0.99", "0.98", "Woman 31 happy", "Man 45 neutral", "caf\xc3\xa9"};
  std::set<std::vector<uint8_t>> seen;
  for (int scale : {1, 2}) {
    for (const std::string& s : strings) {
      const auto mask = TextMask(s, scale, w, h, x0, y0);
      const int tw = TextWidth(s, scale), th = TextHeight(scale);
      int ink = 0;
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          if (!mask[y * w + x]) continue;
          ++ink;
          ASSERT_TRUE(x >= x0 && x < x0 + tw && y >= y0 && y < y0 + th) << s << " pixel " << x << "," << y;
        }
      }
      EXPECT_GT(ink, 10 * scale * scale) << s;
      EXPECT_TRUE(seen.insert(mask).second) << s << " at scale " << scale;
    }
  }
  // A UTF-8 character renders as '?'.
  EXPECT_EQ(TextMask("caf\xc3\xa9", 1, 40, 12), TextMask("caf?", 1, 40, 12));
}

TEST(DrawText, ScaleMagnifiesEachPixel) {
  const auto m1 = TextMask("Ag7", 1, 25, 11), m3 = TextMask("Ag7", 3, 75, 33);
  for (int y = 0; y < 33; ++y) {
    for (int x = 0; x < 75; ++x) ASSERT_EQ(m3[y * 75 + x], m1[(y / 3) * 25 + x / 3]) << x << "," << y;
  }
}

TEST(DrawText, BackgroundFillsExactlyTheCell) {
  const Image before = Pattern(60, 30, 3);
  Image img = before;
  DrawText(img, 3, 4, "Hi 7", kWhite, kBlue, 2);
  const int tw = TextWidth("Hi 7", 2), th = TextHeight(2);
  EXPECT_EQ(Changed(before, img), RectSet(3, 4, 3 + tw, 4 + th));
  int fg = 0, bg = 0;
  for (const auto& [x, y] : RectSet(3, 4, 3 + tw, 4 + th)) {
    fg += Is(img, x, y, kWhite);
    bg += Is(img, x, y, kBlue);
  }
  EXPECT_EQ(fg + bg, tw * th);
  EXPECT_GT(fg, 40);
  EXPECT_GT(bg, fg);
}

TEST(DrawText, ClippedTextIsACropOfTheFullText) {
  const std::string s = "Clip me: {ok}";
  const int tw = TextWidth(s, 2), th = TextHeight(2);
  Image full(tw, th, 3);
  DrawText(full, 0, 0, s, kRed, kGreen, 2);
  for (const auto& [ox, oy] : std::vector<std::pair<int, int>>{{-13, -5}, {40, 10}, {-tw + 3, 0}, {0, -th + 2}}) {
    Image img(50, 20, 3);
    DrawText(img, ox, oy, s, kRed, kGreen, 2);
    for (int y = 0; y < img.height; ++y) {
      for (int x = 0; x < img.width; ++x) {
        const int fx = x - ox, fy = y - oy;
        if (fx >= 0 && fx < tw && fy >= 0 && fy < th) {
          ASSERT_TRUE(std::equal(img.at(x, y), img.at(x, y) + 3, full.at(fx, fy)))
              << ox << "," << oy << " pixel " << x << "," << y;
        } else {
          ASSERT_TRUE(Is(img, x, y, Color{0, 0, 0})) << ox << "," << oy << " pixel " << x << "," << y;
        }
      }
    }
  }
  // Far outside, extreme positions and scales: nothing drawn, nothing crashes.
  const Image before = Pattern(20, 20, 1);
  for (const auto& [ox, oy] : std::vector<std::pair<int, int>>{{-1000, 0}, {0, 1000}, {20, 0}, {0, -11},
                                                                {std::numeric_limits<int>::max(), 0},
                                                                {std::numeric_limits<int>::min(), 0},
                                                                {0, std::numeric_limits<int>::min()}}) {
    Image img = before;
    DrawText(img, ox, oy, s, kWhite, kBlue, 1);
    EXPECT_TRUE(Changed(before, img).empty()) << ox << "," << oy;
  }
  Image img = before;
  DrawText(img, -5, -5, s, kWhite, kBlue, std::numeric_limits<int>::max());  // scale clamped to 1024
  EXPECT_EQ(Changed(before, img).size(), 400u);
}

// ------------------------------------------------------------------- faces --

TEST(DrawFaces, BoxesLandmarksAndLabelsPerFace) {
  const Image before = Pattern(200, 150, 3);
  Image img = before;
  Detection a;
  a.box = Box{20, 40, 60, 70};  // room above for the label
  a.left_eye = Point{65, 60};
  a.right_eye = Point{35, 60};
  a.nose = Point{50, 75};
  a.mouth_left = Point{62, 92};
  a.mouth_right = Point{38, 92};
  Detection b;
  b.box = Box{120, 2, 50, 60};  // no room above: label goes below
  DrawStyle style;
  style.palette = {kRed, kBlue};
  DrawFaces(img, {a, b}, {"Woman 31 happy", "0.99"}, style);
  // thickness max(1, 150/300) = 1, font scale 1, landmark radius 2.
  EXPECT_TRUE(Is(img, 20, 60, kRed));
  EXPECT_TRUE(Is(img, 79, 60, kRed));
  EXPECT_TRUE(Is(img, 50, 109, kRed));
  EXPECT_TRUE(Same(before, img, 21, 100));  // inside the box, away from landmarks
  EXPECT_TRUE(Same(before, img, 19, 60));   // outside
  for (const Point& p : {*a.left_eye, *a.right_eye, *a.nose, *a.mouth_left, *a.mouth_right}) {
    EXPECT_TRUE(Is(img, int(p.x), int(p.y), kRed)) << p.x << "," << p.y;
    EXPECT_TRUE(Is(img, int(p.x) + 2, int(p.y), kRed));
    EXPECT_TRUE(Same(before, img, int(p.x) + 3, int(p.y)));
  }
  EXPECT_TRUE(Is(img, 120, 30, kBlue));
  EXPECT_TRUE(Is(img, 169, 61, kBlue));
  // Label a: red background above the box with white text (red is dark): rows 29..39.
  const int tw = TextWidth("Woman 31 happy", 1);
  int white = 0, red = 0;
  for (const auto& [x, y] : RectSet(20, 29, 20 + tw, 40)) {
    white += Is(img, x, y, kWhite);
    red += Is(img, x, y, kRed);
  }
  EXPECT_EQ(white + red, tw * 11);
  EXPECT_GT(white, 50);
  EXPECT_TRUE(Same(before, img, 20, 28));
  EXPECT_TRUE(Same(before, img, 20 + tw, 35));
  // Label b below the box (rows 62..72), white on blue.
  int blue = 0;
  for (const auto& [x, y] : RectSet(120, 62, 120 + TextWidth("0.99", 1), 73)) blue += Is(img, x, y, kBlue);
  EXPECT_GT(blue, 150);
  EXPECT_TRUE(Same(before, img, 125, 74));
  // Without labels or landmarks only the outlines change.
  Image plain = before;
  style.landmarks = LandmarkStyle::kNone;
  DrawFaces(plain, {a}, {}, style);
  Image rect = before;
  DrawRect(rect, a.box, kRed, 1);
  EXPECT_EQ(plain.pixels, rect.pixels);
}

TEST(DrawFaces, DefaultPaletteDistinctAndAllLandmarks) {
  const auto& palette = DefaultPalette();
  ASSERT_GE(palette.size(), 6u);
  std::set<std::tuple<int, int, int>> colours;
  for (const Color& c : palette) colours.insert({c.r, c.g, c.b});
  EXPECT_EQ(colours.size(), palette.size());

  const Image before(90, 60, 3);
  std::vector<Detection> faces(3);
  for (int i = 0; i < 3; ++i) {
    faces[i].box = Box{5.f + 28 * i, 20, 24, 30};
    faces[i].landmarks = {Point{15.f + 28 * i, 30}, Point{17.f + 28 * i, 40}};
  }
  DrawStyle style;
  style.landmarks = LandmarkStyle::kAll;
  style.thickness = 2;
  Image img = before;
  DrawFaces(img, faces, {}, style);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Is(img, 5 + 28 * i, 35, palette[i])) << i;
    EXPECT_TRUE(Is(img, 6 + 28 * i, 35, palette[i])) << i;  // thickness 2
    EXPECT_TRUE(Same(before, img, 7 + 28 * i, 35)) << i;
    EXPECT_TRUE(Is(img, 15 + 28 * i, 30, palette[i])) << i;
    EXPECT_TRUE(Is(img, 16 + 28 * i, 30, palette[i])) << i;  // radius max(1, thickness) = 2
    EXPECT_TRUE(Is(img, 17 + 28 * i, 30, palette[i])) << i;
    EXPECT_TRUE(Same(before, img, 18 + 28 * i, 30)) << i;
  }
}

TEST(DrawFaces, HostileDetectionsStayInside) {
  const Image before = Pattern(50, 40, 1);
  std::vector<Detection> faces(6);
  faces[0].box = Box{kNaN, 0, 10, 10};
  faces[1].box = Box{-1e30f, -1e30f, 1e30f, 1e30f};  // ends at -1
  faces[2].box = Box{60, 60, 10, 10};
  faces[3].box = Box{0, 0, 0, 0};
  faces[4].box = Box{100, 0, 10, 10};
  faces[4].nose = Point{kNaN, kInf};
  faces[4].landmarks = {Point{-1e30f, 1e30f}};
  faces[5].box = Box{kInf, kInf, kInf, kInf};
  const std::vector<std::string> labels(6, "label that is much wider than the whole image");
  Image img = before;
  DrawFaces(img, faces, labels, {});
  EXPECT_TRUE(Changed(before, img).empty());
  // A box covering the image with a label that cannot fit: label at the top-left corner.
  Detection all;
  all.box = Box{0, 0, 50, 40};
  DrawStyle style;
  style.palette = {kWhite};
  DrawFaces(img, {all}, {"wide label"}, style);
  EXPECT_TRUE(Is(img, 0, 0, kWhite));
  EXPECT_TRUE(Is(img, 49, 39, kWhite));
  EXPECT_EQ(img.at(1, 3)[0], 0);  // black text on white: 'w' has ink in glyph row 2, column 0
  EXPECT_EQ(img.at(1, 2)[0], 255);
}

TEST(DrawFaces, RealPhotoSurvivesJpegRoundTrip) {
  const fs::path path = SharedDir() / "eval-dev/lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg";
  if (!fs::exists(path)) {
    GTEST_SKIP() << "SKIP: " << path << " not found";
  }
  const Image photo = LoadImage(path.string());
  ASSERT_EQ(photo.channels, 3);
  ASSERT_GE(std::min(photo.width, photo.height), 200);
  Detection face;
  face.box = Box{70, 65, 110, 130};
  face.left_eye = Point{145, 110};
  face.right_eye = Point{105, 110};
  face.nose = Point{125, 135};
  DrawStyle style;
  style.thickness = 3;
  Image img = photo;
  DrawFaces(img, {face}, {"Man 0.99"}, style);
  const Color box = DefaultPalette()[0];
  EXPECT_GT(Changed(photo, img).size(), 1000u);

  const fs::path out = fs::temp_directory_path() / ("facelib_draw_test_" + std::to_string(::getpid()) + ".jpg");
  SaveImage(img, out.string());
  const Image back = LoadImage(out.string());
  fs::remove(out);
  ASSERT_EQ(back.width, photo.width);
  ASSERT_EQ(back.height, photo.height);
  // Middle line of the 3-pixel outline on all four sides, away from the label and landmarks.
  double err = 0, worst = 0;
  int n = 0;
  auto check = [&](int x, int y) {
    const uint8_t* p = back.at(x, y);
    const double e = (std::abs(p[0] - box.r) + std::abs(p[1] - box.g) + std::abs(p[2] - box.b)) / 3.0;
    err += e;
    worst = std::max(worst, e);
    ++n;
  };
  for (int x = 80; x < 170; ++x) {
    check(x, 66);   // top edge rows 65..67
    check(x, 193);  // bottom edge rows 192..194
  }
  for (int y = 80; y < 180; ++y) {
    check(71, y);   // left edge columns 70..72
    check(178, y);  // right edge columns 177..179
  }
  EXPECT_LT(err / n, 6.0) << "mean abs error per channel over " << n << " edge pixels";
  EXPECT_LT(worst, 30.0);
  // The photo inside the box, away from the drawing, is the photo (up to JPEG error).
  double inner = 0;
  int m = 0;
  for (int y = 150; y < 180; ++y) {
    for (int x = 90; x < 160; ++x) {
      for (int k = 0; k < 3; ++k) inner += std::abs(back.at(x, y)[k] - photo.at(x, y)[k]);
      m += 3;
    }
  }
  EXPECT_LT(inner / m, 2.5);
  // With the automatic style (1-pixel outline on this 250 x 250 photo) the JPEG still keeps the outline's
  // colour: far closer to it than the photo was at the same pixels.
  Image thin = photo;
  DrawFaces(thin, {face}, {"Man 0.99"}, DrawStyle{});
  const std::vector<uint8_t> thin_jpeg = EncodeJpeg(thin);
  const Image thin_back = DecodeImage(thin_jpeg.data(), thin_jpeg.size());
  double thin_err = 0, photo_err = 0;
  int k = 0;
  for (int x = 80; x < 170; ++x) {
    for (const Image* im : {&thin_back, &photo}) {
      const uint8_t* p = im->at(x, 194);  // bottom edge row
      const double e = (std::abs(p[0] - box.r) + std::abs(p[1] - box.g) + std::abs(p[2] - box.b)) / 3.0;
      (im == &photo ? photo_err : thin_err) += e;
    }
    ++k;
  }
  EXPECT_LT(thin_err / k, 12.0);
  EXPECT_GT(photo_err / k, 60.0);
  // The label sits above the box in the box colour.
  int label_bg = 0;
  for (int x = 70; x < 70 + TextWidth("Man 0.99", 1); ++x) label_bg += Is(img, x, 65 - TextHeight(1), box);
  EXPECT_EQ(label_bg, TextWidth("Man 0.99", 1));
}

}  // namespace
}  // namespace facelib
