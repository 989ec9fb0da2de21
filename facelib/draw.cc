#include "facelib/draw.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <utility>

#include "runtime/error.h"

namespace facelib {
namespace {

// Glyphs of ASCII 32..126: bit (row * 5 + col) is set when the pixel at column
// col (0..4, left to right) of row row (0..6 body, 7..8 descender) is ink.
constexpr int kGlyphCols = 5;
constexpr int kGlyphRows = 9;
constexpr int kCellWidth = 6;    // glyph plus one blank column
constexpr int kCellHeight = 11;  // one blank row, nine glyph rows, one blank row
constexpr int kMaxScale = 1024;
constexpr uint64_t kGlyphs[95] = {
    0x000000000000ull,  // ' '
    0x000100421084ull,  // '!'
    0x00000000294aull,  // '"'
    0x000295f57d4aull,  // '#'
    0x00011f4717c4ull,  // '$'
    0x000632222263ull,  // '%'
    0x000593511526ull,  // '&'
    0x000000001084ull,  // "'"
    0x000208210888ull,  // '('
    0x000088842082ull,  // ')'
    0x000009575480ull,  // '*'
    0x0000084f9080ull,  // '+'
    0x02218c000000ull,  // ','
    0x0000000f8000ull,  // '-'
    0x00018c000000ull,  // '.'
    0x000002222200ull,  // '/'
    0x0003a33ae62eull,  // '0'
    0x0003884210c4ull,  // '1'
    0x0007c444422eull,  // '2'
    0x0003a304111full,  // '3'
    0x000211f4a988ull,  // '4'
    0x0003a3083c3full,  // '5'
    0x0003a317844cull,  // '6'
    0x00008422221full,  // '7'
    0x0003a317462eull,  // '8'
    0x0001910f462eull,  // '9'
    0x00000c6018c0ull,  // ':'
    0x00110c6018c0ull,  // ';'
    0x000208208888ull,  // '<'
    0x000001f07c00ull,  // '='
    0x000088882082ull,  // '>'
    0x00010044422eull,  // '?'
    0x0003ab5b422eull,  // '@'
    0x0004631fc62eull,  // 'A'
    0x0003e317c62full,  // 'B'
    0x0003a210862eull,  // 'C'
    0x0001d318c527ull,  // 'D'
    0x0007c217843full,  // 'E'
    0x00004217843full,  // 'F'
    0x0007a31e862eull,  // 'G'
    0x0004631fc631ull,  // 'H'
    0x00038842108eull,  // 'I'
    0x00019284211cull,  // 'J'
    0x000452519531ull,  // 'K'
    0x0007c2108421ull,  // 'L'
    0x0004631ad771ull,  // 'M'
    0x0004639ace31ull,  // 'N'
    0x0003a318c62eull,  // 'O'
    0x00004217c62full,  // 'P'
    0x00059358c62eull,  // 'Q'
    0x00045257c62full,  // 'R'
    0x0003e107043eull,  // 'S'
    0x00010842109full,  // 'T'
    0x0003a318c631ull,  // 'U'
    0x00011518c631ull,  // 'V'
    0x0002ab5ac631ull,  // 'W'
    0x000462a22a31ull,  // 'X'
    0x000108422a31ull,  // 'Y'
    0x0007c222221full,  // 'Z'
    0x00038421084eull,  // '['
    0x000020820820ull,  // backslash
    0x00039084210eull,  // ']'
    0x000000004544ull,  // '^'
    0x00f800000000ull,  // '_'
    0x000000002082ull,  // '`'
    0x0007a3e83800ull,  // 'a'
    0x0003e319b421ull,  // 'b'
    0x0003a210b800ull,  // 'c'
    0x0007a31cda10ull,  // 'd'
    0x000383f8b800ull,  // 'e'
    0x000084238a4cull,  // 'f'
    0x0e8c3d18f800ull,  // 'g'
    0x00046319b421ull,  // 'h'
    0x000388421804ull,  // 'i'
    0x064a10843008ull,  // 'j'
    0x00024a32a421ull,  // 'k'
    0x000388421086ull,  // 'l'
    0x00056b5aac00ull,  // 'm'
    0x00046319b400ull,  // 'n'
    0x0003a318b800ull,  // 'o'
    0x01085f18bc00ull,  // 'p'
    0x10843d18f800ull,  // 'q'
    0x00004219b400ull,  // 'r'
    0x0003e0e0f800ull,  // 's'
    0x000324211c42ull,  // 't'
    0x0005b318c400ull,  // 'u'
    0x00011518c400ull,  // 'v'
    0x0002ab58c400ull,  // 'w'
    0x000454454400ull,  // 'x'
    0x0e8c3d18c400ull,  // 'y'
    0x0007c4447c00ull,  // 'z'
    0x000608411098ull,  // '{'
    0x002108421084ull,  // '|'
    0x0000c8441083ull,  // '}'
    0x0000008a8800ull,  // '~'
};

// Coordinates beyond this are far outside any image yet safe in int64 sums.
constexpr double kCoordLimit = 1e12;

struct Canvas {
  uint8_t* data;
  int64_t width, height, channels;
  uint8_t px[3];

  Canvas(Image& image, Color c) {
    if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
        image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) *
                                    static_cast<size_t>(image.channels)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "draw: image must be non-empty with 1 or 3 channels and width*height*channels bytes, got " +
                      std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                      std::to_string(image.channels) + " with " + std::to_string(image.pixels.size()) + " bytes");
    }
    data = image.pixels.data();
    width = image.width;
    height = image.height;
    channels = image.channels;
    SetColor(c);
  }

  void SetColor(Color c) {
    if (channels == 1) {
      px[0] = Luminance(c);
    } else {
      px[0] = c.r;
      px[1] = c.g;
      px[2] = c.b;
    }
  }

  // Pixels x0 <= x < x1 of row y, clipped.
  void Span(int64_t y, int64_t x0, int64_t x1) {
    if (y < 0 || y >= height) return;
    x0 = std::max<int64_t>(x0, 0);
    x1 = std::min<int64_t>(x1, width);
    if (x0 >= x1) return;
    uint8_t* p = data + (y * width + x0) * channels;
    if (channels == 1) {
      std::fill(p, p + (x1 - x0), px[0]);
    } else {
      for (int64_t x = x0; x < x1; ++x, p += 3) {
        p[0] = px[0];
        p[1] = px[1];
        p[2] = px[2];
      }
    }
  }

  void Rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1) {
    y0 = std::max<int64_t>(y0, 0);
    y1 = std::min<int64_t>(y1, height);
    if (x1 <= 0 || x0 >= width) return;
    for (int64_t y = y0; y < y1; ++y) Span(y, x0, x1);
  }
};

// round(v) as an integer, v finite; values beyond kCoordLimit are clamped.
int64_t RoundCoord(double v) {
  return static_cast<int64_t>(std::floor(std::clamp(v, -kCoordLimit, kCoordLimit) + 0.5));
}

// Pixel bounds [l, r) x [t, b) of a box; false for NaN or empty boxes.
bool BoxPixels(const Box& box, int64_t* l, int64_t* t, int64_t* r, int64_t* b) {
  const double x0 = box.x, y0 = box.y, x1 = static_cast<double>(box.x) + box.w, y1 = static_cast<double>(box.y) + box.h;
  if (std::isnan(x0) || std::isnan(y0) || std::isnan(x1) || std::isnan(y1)) return false;
  if (!(box.w > 0) || !(box.h > 0)) return false;
  *l = RoundCoord(x0);
  *t = RoundCoord(y0);
  *r = RoundCoord(x1);
  *b = RoundCoord(y1);
  return *r > *l && *b > *t;
}

int ClampScale(int scale) { return std::clamp(scale, 1, kMaxScale); }

// Glyph index (0..94) of the character starting at s[*i]; advances *i past it.
int NextGlyph(const std::string& s, size_t* i) {
  const auto c = static_cast<unsigned char>(s[*i]);
  ++*i;
  if (c >= 32 && c <= 126) return c - 32;
  int follow = 0;
  if (c >= 0xC0 && c < 0xE0) follow = 1;
  else if (c >= 0xE0 && c < 0xF0) follow = 2;
  else if (c >= 0xF0 && c < 0xF8) follow = 3;
  while (follow-- > 0 && *i < s.size() && (static_cast<unsigned char>(s[*i]) & 0xC0) == 0x80) ++*i;
  return '?' - 32;
}

int64_t TextWidth64(size_t glyphs, int scale) {
  if (glyphs == 0) return 0;
  return (static_cast<int64_t>(std::min<size_t>(glyphs, size_t{1} << 40)) * kCellWidth + 1) * ClampScale(scale);
}

// Interval of x where a * x + b lies in [lo, hi]; false when empty.
bool LinearRange(double a, double b, double lo, double hi, double* x0, double* x1) {
  if (std::fabs(a) < 1e-12) {
    if (b < lo || b > hi) return false;
    *x0 = -HUGE_VAL;
    *x1 = HUGE_VAL;
    return true;
  }
  double u = (lo - b) / a, v = (hi - b) / a;
  if (u > v) std::swap(u, v);
  *x0 = u;
  *x1 = v;
  return true;
}

// Liang-Barsky: clips segment (ax,ay)-(bx,by) to [xmin,xmax] x [ymin,ymax].
bool ClipSegment(double* ax, double* ay, double* bx, double* by, double xmin, double ymin, double xmax,
                 double ymax) {
  const double dx = *bx - *ax, dy = *by - *ay;
  double t0 = 0, t1 = 1;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {*ax - xmin, xmax - *ax, *ay - ymin, ymax - *ay};
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;
      continue;
    }
    const double t = q[k] / p[k];
    if (p[k] < 0) {
      t0 = std::max(t0, t);
    } else {
      t1 = std::min(t1, t);
    }
    if (t0 > t1) return false;
  }
  const double x0 = *ax, y0 = *ay;
  *ax = x0 + t0 * dx;
  *ay = y0 + t0 * dy;
  *bx = x0 + t1 * dx;
  *by = y0 + t1 * dy;
  return true;
}

int AutoSize(const Image& image) { return std::max(1, std::min(image.width, image.height) / 300); }

}  // namespace

uint8_t Luminance(Color c) {
  return static_cast<uint8_t>((299 * c.r + 587 * c.g + 114 * c.b + 500) / 1000);
}

void FillRect(Image& image, int x0, int y0, int x1, int y1, Color color) {
  Canvas canvas(image, color);
  canvas.Rect(x0, y0, x1, y1);
}

void DrawRect(Image& image, const Box& box, Color color, int thickness) {
  Canvas canvas(image, color);
  int64_t l, t, r, b;
  if (!BoxPixels(box, &l, &t, &r, &b)) return;
  const int64_t k = std::max(thickness, 1);
  if (2 * k >= r - l || 2 * k >= b - t) {
    canvas.Rect(l, t, r, b);
    return;
  }
  canvas.Rect(l, t, r, t + k);
  canvas.Rect(l, b - k, r, b);
  canvas.Rect(l, t + k, l + k, b - k);
  canvas.Rect(r - k, t + k, r, b - k);
}

void DrawLine(Image& image, Point a, Point b, Color color, int thickness) {
  Canvas canvas(image, color);
  double ax = a.x, ay = a.y, bx = b.x, by = b.y;
  if (std::isnan(ax) || std::isnan(ay) || std::isnan(bx) || std::isnan(by)) return;
  const double radius = std::min(std::max(thickness, 1), 1 << 20) * 0.5;
  // Only the part of the segment within radius of the image can touch it.
  const double margin = radius + 2;
  ax = std::clamp(ax, -kCoordLimit, kCoordLimit);
  ay = std::clamp(ay, -kCoordLimit, kCoordLimit);
  bx = std::clamp(bx, -kCoordLimit, kCoordLimit);
  by = std::clamp(by, -kCoordLimit, kCoordLimit);
  if (!ClipSegment(&ax, &ay, &bx, &by, -margin, -margin, canvas.width + margin, canvas.height + margin)) return;
  const double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, len = std::sqrt(len2);
  const double r2 = radius * radius;
  const int64_t row0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(std::min(ay, by) - radius)));
  const int64_t row1 = std::min<int64_t>(canvas.height - 1, static_cast<int64_t>(std::ceil(std::max(ay, by) + radius)));
  for (int64_t y = row0; y <= row1; ++y) {
    const double yc = y + 0.5;
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    // Round caps.
    for (const auto& [px, py] : {std::pair{ax, ay}, std::pair{bx, by}}) {
      const double h2 = r2 - (yc - py) * (yc - py);
      if (h2 >= 0) {
        const double h = std::sqrt(h2);
        lo = std::min(lo, px - h);
        hi = std::max(hi, px + h);
      }
    }
    // Body: projection onto the segment within [0, len^2], distance within radius.
    double u0, u1, v0, v1;
    if (len2 > 1e-12 && LinearRange(dx, (ay - yc) * -dy - ax * dx, 0, len2, &u0, &u1) &&
        LinearRange(dy, -(yc - ay) * dx - ax * dy, -radius * len, radius * len, &v0, &v1)) {
      const double s0 = std::max(u0, v0), s1 = std::min(u1, v1);
      if (s0 <= s1) {
        lo = std::min(lo, s0);
        hi = std::max(hi, s1);
      }
    }
    if (lo > hi) continue;
    lo = std::max(lo, -1.0);
    hi = std::min(hi, canvas.width + 1.0);
    canvas.Span(y, static_cast<int64_t>(std::ceil(lo - 0.5)), static_cast<int64_t>(std::floor(hi - 0.5)) + 1);
  }
}

void DrawPoint(Image& image, Point p, Color color, int radius) {
  Canvas canvas(image, color);
  if (std::isnan(p.x) || std::isnan(p.y)) return;
  const int64_t r = std::clamp(radius, 0, 1 << 20);
  const int64_t cx = static_cast<int64_t>(std::floor(std::clamp<double>(p.x, -kCoordLimit, kCoordLimit)));
  const int64_t cy = static_cast<int64_t>(std::floor(std::clamp<double>(p.y, -kCoordLimit, kCoordLimit)));
  if (cx + r < 0 || cy + r < 0 || cx - r >= canvas.width || cy - r >= canvas.height) return;
  // 2 (dx^2 + dy^2) <= 2 r^2 + r, in integers.
  const int64_t limit = 2 * r * r + r;
  const int64_t dy0 = std::max(-r, -cy), dy1 = std::min(r, canvas.height - 1 - cy);
  for (int64_t dy = dy0; dy <= dy1; ++dy) {
    const int64_t y = cy + dy;
    int64_t w = static_cast<int64_t>(std::sqrt(static_cast<double>(limit - 2 * dy * dy) / 2));
    while (2 * (w + 1) * (w + 1) + 2 * dy * dy <= limit) ++w;
    while (w > 0 && 2 * w * w + 2 * dy * dy > limit) --w;
    canvas.Span(y, cx - w, cx + w + 1);
  }
}

size_t TextGlyphCount(const std::string& text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++n) NextGlyph(text, &i);
  return n;
}

int TextWidth(const std::string& text, int scale) {
  return static_cast<int>(std::min<int64_t>(TextWidth64(TextGlyphCount(text), scale), INT_MAX));
}

int TextHeight(int scale) { return kCellHeight * ClampScale(scale); }

void DrawText(Image& image, int x, int y, const std::string& text, Color fg, std::optional<Color> bg, int scale) {
  Canvas canvas(image, fg);
  if (text.empty()) return;
  const int64_t s = ClampScale(scale);
  if (bg) {
    canvas.SetColor(*bg);
    canvas.Rect(x, y, x + TextWidth64(TextGlyphCount(text), scale), y + kCellHeight * s);
    canvas.SetColor(fg);
  }
  if (static_cast<int64_t>(y) + kCellHeight * s <= 0 || y >= canvas.height) return;
  int64_t cell_x = x;
  for (size_t i = 0; i < text.size() && cell_x < canvas.width; cell_x += kCellWidth * s) {
    const uint64_t bits = kGlyphs[NextGlyph(text, &i)];
    if (cell_x + kCellWidth * s + s <= 0) continue;
    for (int row = 0; row < kGlyphRows; ++row) {
      const int64_t py = y + (1 + row) * s;
      for (int col = 0; col < kGlyphCols; ++col) {
        if ((bits >> (row * kGlyphCols + col)) & 1) {
          const int64_t px = cell_x + (1 + col) * s;
          canvas.Rect(px, py, px + s, py + s);
        }
      }
    }
  }
}

const std::vector<Color>& DefaultPalette() {
  static const std::vector<Color> palette = {
      {0, 230, 64},  {255, 48, 48},  {32, 128, 255}, {255, 208, 0},
      {230, 0, 230}, {0, 220, 230}, {255, 128, 0},  {150, 90, 255},
  };
  return palette;
}

void DrawFaces(Image& image, const std::vector<Detection>& detections, const std::vector<std::string>& labels,
               const DrawStyle& style) {
  Canvas check(image, Color{});  // validates the image even when there is nothing to draw
  const std::vector<Color>& palette = style.palette.empty() ? DefaultPalette() : style.palette;
  const int thickness = style.thickness > 0 ? style.thickness : AutoSize(image);
  const int scale = ClampScale(style.font_scale > 0 ? style.font_scale : AutoSize(image));
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    const Color color = palette[i % palette.size()];
    DrawRect(image, d.box, color, thickness);
    const bool all = style.landmarks == LandmarkStyle::kAll && !d.landmarks.empty();
    if (all) {
      const int radius = std::max(1, thickness);
      for (const Point& p : d.landmarks) DrawPoint(image, p, color, radius);
    } else if (style.landmarks != LandmarkStyle::kNone) {
      const int radius = std::max(2, 2 * std::min(thickness, 1 << 16));
      for (const auto* p : {&d.left_eye, &d.right_eye, &d.nose, &d.mouth_left, &d.mouth_right}) {
        if (p->has_value()) DrawPoint(image, **p, color, radius);
      }
    }
  }
  for (size_t i = 0; i < detections.size() && i < labels.size(); ++i) {
    int64_t l, t, r, b;
    if (labels[i].empty() || !BoxPixels(detections[i].box, &l, &t, &r, &b)) continue;
    const Color color = palette[i % palette.size()];
    const int64_t w = TextWidth64(TextGlyphCount(labels[i]), scale), h = TextHeight(scale);
    if (r <= 0 || b <= 0 || l >= image.width || t >= image.height) continue;  // box not in the image
    int64_t y = t - h;
    if (y < 0) y = b + h <= image.height ? b : 0;
    const int64_t x = std::clamp<int64_t>(l, 0, std::max<int64_t>(0, image.width - w));
    const Color fg = Luminance(color) > 140 ? Color{0, 0, 0} : Color{255, 255, 255};
    DrawText(image, static_cast<int>(x), static_cast<int>(y), labels[i], fg, color, scale);
  }
}

}  // namespace facelib
