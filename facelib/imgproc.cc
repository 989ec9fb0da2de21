#include "facelib/imgproc.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/error.h"

namespace facelib {
namespace {

uint8_t Sat(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

void CheckImage(const Image& img, const char* what) {
  if (img.empty() || img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3))
    throw Error(ErrorCode::kInvalidArgument, std::string(what) + ": empty or invalid image");
}

void CheckSize(int w, int h, const char* what) {
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > (int64_t{1} << 31))
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) + ": invalid output size " + std::to_string(w) + "x" + std::to_string(h));
}

// Cubic convolution weights for fraction t (a = -0.75, as OpenCV).
void CubicWeights(float t, float w[4]) {
  const float a = -0.75f;
  auto near = [&](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
  auto far = [&](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
  w[0] = far(1 + t);
  w[1] = near(t);
  w[2] = near(1 - t);
  w[3] = 1.f - w[0] - w[1] - w[2];
}

// Sampling taps along one axis for a resize: index and weight per tap.
struct Taps {
  int n = 0;
  std::vector<int> idx;
  std::vector<float> wt;
};

Taps MakeTaps(int src, int dst, Interp interp) {
  Taps t;
  const double scale = static_cast<double>(src) / dst;
  t.n = interp == Interp::kNearest ? 1 : interp == Interp::kBilinear ? 2 : 4;
  t.idx.resize(static_cast<size_t>(dst) * t.n);
  t.wt.resize(static_cast<size_t>(dst) * t.n);
  for (int i = 0; i < dst; ++i) {
    int* ix = &t.idx[static_cast<size_t>(i) * t.n];
    float* w = &t.wt[static_cast<size_t>(i) * t.n];
    if (interp == Interp::kNearest) {
      ix[0] = std::min(static_cast<int>(std::floor(i * scale)), src - 1);
      w[0] = 1;
      continue;
    }
    double s = (i + 0.5) * scale - 0.5;
    int s0 = static_cast<int>(std::floor(s));
    float f = static_cast<float>(s - s0);
    if (interp == Interp::kBilinear) {
      if (s0 < 0) s0 = 0, f = 0;
      if (s0 >= src - 1) s0 = src - 1, f = 0;
      ix[0] = s0;
      ix[1] = std::min(s0 + 1, src - 1);
      w[0] = 1 - f;
      w[1] = f;
    } else {
      CubicWeights(f, w);
      for (int k = 0; k < 4; ++k) ix[k] = std::clamp(s0 - 1 + k, 0, src - 1);
    }
  }
  return t;
}

}  // namespace

Image Resize(const Image& src, int w, int h, Interp interp) {
  CheckImage(src, "Resize");
  CheckSize(w, h, "Resize");
  const int c = src.channels;
  Image out(w, h, c);
  if (w == src.width && h == src.height) {
    out.pixels = src.pixels;
    return out;
  }
  const Taps tx = MakeTaps(src.width, w, interp), ty = MakeTaps(src.height, h, interp);
  // Horizontal pass into float rows, computed lazily per source row used.
  std::vector<float> rows(static_cast<size_t>(src.height) * w * c);
  std::vector<char> done(src.height, 0);
  auto hrow = [&](int sy) -> const float* {
    float* r = &rows[static_cast<size_t>(sy) * w * c];
    if (!done[sy]) {
      const uint8_t* s = src.at(0, sy);
      for (int x = 0; x < w; ++x) {
        const int* ix = &tx.idx[static_cast<size_t>(x) * tx.n];
        const float* wt = &tx.wt[static_cast<size_t>(x) * tx.n];
        for (int ch = 0; ch < c; ++ch) {
          float acc = 0;
          for (int k = 0; k < tx.n; ++k) acc += wt[k] * s[ix[k] * c + ch];
          r[x * c + ch] = acc;
        }
      }
      done[sy] = 1;
    }
    return r;
  };
  std::vector<const float*> taps(ty.n);
  for (int y = 0; y < h; ++y) {
    const int* iy = &ty.idx[static_cast<size_t>(y) * ty.n];
    const float* wy = &ty.wt[static_cast<size_t>(y) * ty.n];
    for (int k = 0; k < ty.n; ++k) taps[k] = hrow(iy[k]);
    uint8_t* d = out.at(0, y);
    for (int i = 0; i < w * c; ++i) {
      float acc = 0;
      for (int k = 0; k < ty.n; ++k) acc += wy[k] * taps[k][i];
      d[i] = Sat(acc);
    }
  }
  return out;
}

Image ToGray(const Image& src) {
  CheckImage(src, "ToGray");
  if (src.channels == 1) return src;
  Image out(src.width, src.height, 1);
  const size_t n = static_cast<size_t>(src.width) * src.height;
  const uint8_t* s = src.pixels.data();
  for (size_t i = 0; i < n; ++i, s += 3)
    out.pixels[i] = static_cast<uint8_t>((s[0] * 4899 + s[1] * 9617 + s[2] * 1868 + (1 << 13)) >> 14);
  return out;
}

Image ToRgb(const Image& src) {
  CheckImage(src, "ToRgb");
  if (src.channels == 3) return src;
  Image out(src.width, src.height, 3);
  const size_t n = static_cast<size_t>(src.width) * src.height;
  for (size_t i = 0; i < n; ++i) out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = src.pixels[i];
  return out;
}

Image Crop(const Image& src, int x, int y, int w, int h) {
  CheckImage(src, "Crop");
  CheckSize(w, h, "Crop");
  Image out(w, h, src.channels);
  const int x0 = std::max(x, 0), x1 = std::min<int64_t>(int64_t{x} + w, src.width);
  if (x1 <= x0) return out;
  for (int yy = 0; yy < h; ++yy) {
    const int64_t sy = int64_t{y} + yy;
    if (sy < 0 || sy >= src.height) continue;
    std::memcpy(out.at(x0 - x, yy), src.at(x0, static_cast<int>(sy)), static_cast<size_t>(x1 - x0) * src.channels);
  }
  return out;
}

Image Pad(const Image& src, int top, int bottom, int left, int right) {
  CheckImage(src, "Pad");
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    throw Error(ErrorCode::kInvalidArgument, "Pad: negative border");
  return Crop(src, -left, -top, src.width + left + right, src.height + top + bottom);
}

Affine InvertAffine(const Affine& m) {
  const double det = m[0] * m[4] - m[1] * m[3];
  if (!(std::fabs(det) > 1e-12)) throw Error(ErrorCode::kInvalidArgument, "affine matrix is singular");
  const double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
  return {a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])};
}

Point Apply(const Affine& m, Point p) {
  return {static_cast<float>(m[0] * p.x + m[1] * p.y + m[2]), static_cast<float>(m[3] * p.x + m[4] * p.y + m[5])};
}

Affine RotationMatrix(Point center, double degrees) {
  const double r = degrees * M_PI / 180.0, a = std::cos(r), b = std::sin(r);
  return {a, b, (1 - a) * center.x - b * center.y, -b, a, b * center.x + (1 - a) * center.y};
}

Image WarpAffine(const Image& src, const Affine& m, int out_w, int out_h, Interp interp) {
  CheckImage(src, "WarpAffine");
  CheckSize(out_w, out_h, "WarpAffine");
  const Affine inv = InvertAffine(m);
  const int c = src.channels, W = src.width, H = src.height;
  Image out(out_w, out_h, c);
  auto px = [&](int x, int y, int ch) -> float {
    return (x < 0 || y < 0 || x >= W || y >= H) ? 0.f : src.at(x, y)[ch];
  };
  for (int y = 0; y < out_h; ++y) {
    uint8_t* d = out.at(0, y);
    for (int x = 0; x < out_w; ++x, d += c) {
      const double sx = inv[0] * x + inv[1] * y + inv[2], sy = inv[3] * x + inv[4] * y + inv[5];
      if (!(sx > -2 && sy > -2 && sx < W + 1 && sy < H + 1)) continue;
      if (interp == Interp::kNearest) {
        const int ix = static_cast<int>(std::lround(sx)), iy = static_cast<int>(std::lround(sy));
        for (int ch = 0; ch < c; ++ch) d[ch] = static_cast<uint8_t>(px(ix, iy, ch));
        continue;
      }
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const float fx = static_cast<float>(sx - x0), fy = static_cast<float>(sy - y0);
      if (interp == Interp::kBilinear) {
        for (int ch = 0; ch < c; ++ch) {
          const float top = px(x0, y0, ch) * (1 - fx) + px(x0 + 1, y0, ch) * fx;
          const float bot = px(x0, y0 + 1, ch) * (1 - fx) + px(x0 + 1, y0 + 1, ch) * fx;
          d[ch] = Sat(top * (1 - fy) + bot * fy);
        }
      } else {
        float wx[4], wy[4];
        CubicWeights(fx, wx);
        CubicWeights(fy, wy);
        for (int ch = 0; ch < c; ++ch) {
          float acc = 0;
          for (int j = 0; j < 4; ++j) {
            float row = 0;
            for (int i = 0; i < 4; ++i) row += wx[i] * px(x0 - 1 + i, y0 - 1 + j, ch);
            acc += wy[j] * row;
          }
          d[ch] = Sat(acc);
        }
      }
    }
  }
  return out;
}

Affine EstimateSimilarity(const std::vector<Point>& from, const std::vector<Point>& to) {
  if (from.size() != to.size() || from.size() < 2)
    throw Error(ErrorCode::kInvalidArgument, "EstimateSimilarity needs at least two matching point pairs");
  const double n = static_cast<double>(from.size());
  double mx = 0, my = 0, nx = 0, ny = 0;
  for (size_t i = 0; i < from.size(); ++i) mx += from[i].x, my += from[i].y, nx += to[i].x, ny += to[i].y;
  mx /= n, my /= n, nx /= n, ny /= n;
  double sxx = 0, a = 0, b = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const double px = from[i].x - mx, py = from[i].y - my, qx = to[i].x - nx, qy = to[i].y - ny;
    sxx += px * px + py * py;
    a += px * qx + py * qy;
    b += px * qy - py * qx;
  }
  if (!(sxx > 1e-12)) throw Error(ErrorCode::kInvalidArgument, "EstimateSimilarity: source points coincide");
  a /= sxx, b /= sxx;
  return {a, -b, nx - (a * mx - b * my), b, a, ny - (b * mx + a * my)};
}

Image ResizePad(const Image& src, int w, int h, float* scale, int* pad_x, int* pad_y) {
  CheckImage(src, "ResizePad");
  CheckSize(w, h, "ResizePad");
  const double f = std::min(static_cast<double>(h) / src.height, static_cast<double>(w) / src.width);
  const int nw = std::clamp(static_cast<int>(src.width * f), 1, w), nh = std::clamp(static_cast<int>(src.height * f), 1, h);
  Image resized = Resize(src, nw, nh);
  const int dx = (w - nw) / 2, dy = (h - nh) / 2;
  if (scale) *scale = static_cast<float>(nw) / src.width;  // the applied (truncated) horizontal scale
  if (pad_x) *pad_x = dx;
  if (pad_y) *pad_y = dy;
  return Crop(resized, -dx, -dy, w, h);
}

void ToTensor(const Image& img, const models::InputSpec& spec, float* dst) {
  CheckImage(img, "ToTensor");
  if ((spec.width > 0 && img.width != spec.width) || (spec.height > 0 && img.height != spec.height))
    throw Error(ErrorCode::kInvalidArgument, "ToTensor: image is " + std::to_string(img.width) + "x" +
                                                 std::to_string(img.height) + ", model wants " +
                                                 std::to_string(spec.width) + "x" + std::to_string(spec.height));
  const size_t n = static_cast<size_t>(img.width) * img.height;
  const int oc = spec.channels;
  if (oc != 1 && oc != 3) throw Error(ErrorCode::kInvalidArgument, "ToTensor: model channels must be 1 or 3");
  const uint8_t* s = img.pixels.data();
  if (oc == 1) {
    const Image g = ToGray(img);
    for (size_t i = 0; i < n; ++i) dst[i] = (g.pixels[i] - spec.mean[0]) * spec.scale[0];
    return;
  }
  const bool bgr = spec.color == models::ColorOrder::kBGR;
  for (size_t i = 0; i < n; ++i, dst += 3) {
    uint8_t r, g, b;
    if (img.channels == 1) {
      r = g = b = s[i];
    } else {
      r = s[3 * i], g = s[3 * i + 1], b = s[3 * i + 2];
    }
    const uint8_t c0 = bgr ? b : r, c2 = bgr ? r : b;
    dst[0] = (c0 - spec.mean[0]) * spec.scale[0];
    dst[1] = (g - spec.mean[1]) * spec.scale[1];
    dst[2] = (c2 - spec.mean[2]) * spec.scale[2];
  }
}

std::vector<float> ToTensor(const Image& img, const models::InputSpec& spec) {
  std::vector<float> v(static_cast<size_t>(img.width) * img.height * std::max(1, spec.channels));
  ToTensor(img, spec, v.data());
  return v;
}

}  // namespace facelib
