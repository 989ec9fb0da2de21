#include "facelib/dlib_hog.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

#include "facelib/dlib_hog_kernels.h"
#include "facelib/zoo_model.h"
#include "ops/parallel.h"
#include "runtime/error.h"
#include "runtime/graph.h"
#include "runtime/model_file.h"

namespace facelib {

namespace {

constexpr int kPlanes = 31;

// A 3-channel image as three planes, in the channel order dlib sees
// (plane 0 = dlib's "red"), with slack after the last plane for the kernels.
struct Rgb {
  int w = 0, h = 0;
  std::vector<uint8_t> data;
  const uint8_t* row(int k, int y) const { return data.data() + (static_cast<size_t>(k) * h + y) * w; }
  uint8_t* row(int k, int y) { return data.data() + (static_cast<size_t>(k) * h + y) * w; }
  void Resize(int width, int height) {
    w = width;
    h = height;
    data.assign(static_cast<size_t>(w) * h * 3 + hogkern::Slack(), 0);
  }
};

// DeepFace hands dlib a BGR array, which dlib reads as red, green, blue.
Rgb ToDlibOrder(const Image& img) {
  Rgb out;
  out.Resize(img.width, img.height);
  const size_t n = static_cast<size_t>(img.width) * img.height;
  uint8_t* p0 = out.row(0, 0);
  uint8_t* p1 = out.row(1, 0);
  uint8_t* p2 = out.row(2, 0);
  const uint8_t* s = img.pixels.data();
  if (img.channels == 1) {
    for (size_t i = 0; i < n; ++i) p0[i] = p1[i] = p2[i] = s[i];
  } else {
    for (size_t i = 0; i < n; ++i) {
      p0[i] = s[3 * i + 2];
      p1[i] = s[3 * i + 1];
      p2[i] = s[3 * i];
    }
  }
  return out;
}

// dlib's drectangle -> rectangle conversion.
long RoundCoord(double v) { return static_cast<long>(std::floor(v + 0.5)); }

struct DRect {
  double l, t, r, b;
};
DlibRect ToRect(const DRect& d) { return {RoundCoord(d.l), RoundCoord(d.t), RoundCoord(d.r), RoundCoord(d.b)}; }

long Width(const DlibRect& r) { return r.left > r.right || r.top > r.bottom ? 0 : r.right - r.left + 1; }
long Height(const DlibRect& r) { return r.left > r.right || r.top > r.bottom ? 0 : r.bottom - r.top + 1; }
double Area(const DlibRect& r) { return static_cast<double>(Width(r)) * static_cast<double>(Height(r)); }

// pyramid_down<N>: point_down(p) = (p - 0.3) * (N-1)/N, point_up(p) = p * N/(N-1) + 0.3.
DRect RectDownN(const DlibRect& r, int n) {
  const double ratio = (n - 1.0) / n;
  return {(r.left - 0.3) * ratio, (r.top - 0.3) * ratio, (r.right - 0.3) * ratio, (r.bottom - 0.3) * ratio};
}
DRect RectUpN(const DlibRect& r, int n, int levels) {
  const double ratio = n / (n - 1.0);
  double l = r.left, t = r.top, rr = r.right, b = r.bottom;
  for (int i = 0; i < levels; ++i) {
    l = l * ratio + 0.3;
    t = t * ratio + 0.3;
    rr = rr * ratio + 0.3;
    b = b * ratio + 0.3;
  }
  return {l, t, rr, b};
}
// pyramid_down<2>: point_down(p) = p/2 - (1.25, 0.75), point_up(p) = (p + (1.25, 0.75)) * 2.
DRect RectDown2(const DlibRect& r, int levels) {
  double l = r.left, t = r.top, rr = r.right, b = r.bottom;
  for (int i = 0; i < levels; ++i) {
    l = l / 2.0 - 1.25;
    rr = rr / 2.0 - 1.25;
    t = t / 2.0 - 0.75;
    b = b / 2.0 - 0.75;
  }
  return {l, t, rr, b};
}
DRect RectUp2(const DlibRect& r) {
  return {(r.left + 1.25) * 2, (r.top + 0.75) * 2, (r.right + 1.25) * 2, (r.bottom + 0.75) * 2};
}

// dlib's resize_image(rgb in, rgb out, interpolate_bilinear): blocks of four
// columns in single precision (the x positions accumulate in float, values
// truncate), then the remaining columns in double precision.
void ResizeBilinear(const Rgb& in, Rgb* out) {
  if (out->w == 0 || out->h == 0 || in.w == 0 || in.h == 0) return;
  const double x_scale = (in.w - 1) / static_cast<double>(std::max(out->w - 1, 1));
  const double y_scale = (in.h - 1) / static_cast<double>(std::max(out->h - 1, 1));

  // Column positions do not depend on the row: compute them once.
  struct Col {
    int left, right;
    float lr;  // block columns
  };
  std::vector<Col> cols;
  {
    const double x = -4 * x_scale;
    float lane[4] = {static_cast<float>(x), static_cast<float>(x + x_scale), static_cast<float>(x + 2 * x_scale),
                     static_cast<float>(x + 3 * x_scale)};
    const float step = static_cast<float>(4 * x_scale);
    // dlib stops the blocks at the first one whose last column would read
    // past the input; that happens before the output row ends.
    for (int c = 0; c + 4 <= out->w; c += 4) {
      Col blk[4];
      for (int k = 0; k < 4; ++k) {
        lane[k] += step;
        blk[k].left = static_cast<int>(lane[k]);
        blk[k].lr = lane[k] - static_cast<float>(blk[k].left);
        blk[k].right = blk[k].left + 1;
      }
      if (blk[3].right >= in.w) break;
      for (int k = 0; k < 4; ++k) cols.push_back(blk[k]);
    }
  }
  const int block_end = static_cast<int>(cols.size());
  std::vector<float> lr(block_end + hogkern::Slack());
  for (int c = 0; c < block_end; ++c) lr[c] = cols[c].lr;
  // Input rows gathered at the block columns' left and right neighbours, as
  // floats; each input row serves one or two output rows.
  const size_t stride = static_cast<size_t>(block_end) + hogkern::Slack();
  std::vector<float> gathered(4 * stride);
  for (int k = 0; k < 3; ++k) {
    int slot_row[2] = {-1, -1};
    auto gather = [&](int y, int keep) -> const float* {
      for (int i = 0; i < 2; ++i)
        if (slot_row[i] == y) return &gathered[2 * i * stride];
      const int i = slot_row[0] == keep ? 1 : 0;
      slot_row[i] = y;
      float* left = &gathered[2 * i * stride];
      float* right = left + stride;
      const uint8_t* src = in.row(k, y);
      for (int c = 0; c < block_end; ++c) {
        left[c] = static_cast<float>(src[cols[c].left]);
        right[c] = static_cast<float>(src[cols[c].right]);
      }
      return left;
    };
    double y = -y_scale;
    for (int r = 0; r < out->h; ++r) {
      y += y_scale;
      const long top = static_cast<long>(std::floor(y));
      const long bottom = std::min<long>(top + 1, in.h - 1);
      const double tb = y - top;
      uint8_t* o = out->row(k, r);
      if (block_end > 0) {
        const float* t = gather(static_cast<int>(top), -1);
        const float* b = gather(static_cast<int>(bottom), static_cast<int>(top));
        hogkern::BilinearRow(t, t + stride, b, b + stride, lr.data(), static_cast<float>(tb),
                             static_cast<float>(1 - tb), block_end, o);
      }
      const uint8_t* t = in.row(k, static_cast<int>(top));
      const uint8_t* b = in.row(k, static_cast<int>(bottom));
      int c = block_end;
      double x = -x_scale + c * x_scale;
      for (; c < out->w; ++c) {
        x += x_scale;
        const long left = static_cast<long>(std::floor(x));
        const long right = std::min<long>(left + 1, in.w - 1);
        const double f = x - left;
        const double v = (1 - tb) * ((1 - f) * t[left] + f * t[right]) + tb * ((1 - f) * b[left] + f * b[right]);
        o[c] = static_cast<uint8_t>(v);
      }
    }
  }
}

// pyramid_up with pyramid_down<2>: the output covers rect_up of the image.
Rgb PyramidUp(const Rgb& in) {
  Rgb out;
  if (in.w == 0 || in.h == 0) return out;
  const DlibRect up = ToRect(RectUp2({0, 0, in.w - 1, in.h - 1}));
  if (up.left > up.right || up.top > up.bottom) return out;
  out.Resize(static_cast<int>(up.right + 1), static_cast<int>(up.bottom + 1));
  ResizeBilinear(in, &out);
  return out;
}

// pyramid_down<N>: ((N-1) * size) / N pixels per axis.
Rgb PyramidDown(const Rgb& in, int n) {
  Rgb out;
  out.Resize(static_cast<int>((static_cast<long>(n - 1) * in.w) / n),
             static_cast<int>((static_cast<long>(n - 1) * in.h) / n));
  ResizeBilinear(in, &out);
  return out;
}

// dlib's fHOG of one image: 31 planes of (hog_nr + rows_pad - 1) x
// (hog_nc + cols_pad - 1) cells, the features at offset ((rows_pad-1)/2,
// (cols_pad-1)/2), zeros around them.
struct Fhog {
  int hog_nr = 0, hog_nc = 0;
  int nr = 0, nc = 0;
  std::vector<float> planes;  // [31][nr][nc]
  const float* plane(int p) const { return planes.data() + static_cast<size_t>(p) * nr * nc; }
};

void ExtractFhog(const Rgb& img, int cs, int rows_pad, int cols_pad, Fhog* out) {
  *out = Fhog();
  const int cells_nr = static_cast<int>(static_cast<float>(img.h) / static_cast<float>(cs) + 0.5);
  const int cells_nc = static_cast<int>(static_cast<float>(img.w) / static_cast<float>(cs) + 0.5);
  if (cells_nr == 0 || cells_nc == 0) return;
  const int hog_nr = std::max(cells_nr - 2, 0), hog_nc = std::max(cells_nc - 2, 0);
  if (hog_nr == 0 || hog_nc == 0) return;

  const int hist_nc = cells_nc + 2;
  std::vector<float> hist(static_cast<size_t>(cells_nr + 2) * hist_nc * 18, 0.f);
  auto H = [&](int r, int c) { return hist.data() + (static_cast<size_t>(r) * hist_nc + c) * 18; };

  const int visible_nr = static_cast<int>(std::min<long>(static_cast<long>(cells_nr) * cs, img.h)) - 1;
  const int visible_nc = static_cast<int>(std::min<long>(static_cast<long>(cells_nc) * cs, img.w)) - 1;

  // dlib handles columns in blocks of eight from x = 1 while x < visible_nc - 7
  // and the rest one by one; the two paths differ in rounding order and in
  // how ties between colour channels are broken, so we track which is which.
  int simd_end = 1;
  while (simd_end < visible_nc - 7) simd_end += 8;
  const int ncols = std::max(visible_nc - 1, 0);  // columns 1 .. visible_nc-1

  // Per-column interpolation terms (independent of the row).
  std::vector<int> col_ix(ncols);
  std::vector<float> col_vx0(ncols), col_vx1(ncols);
  for (int x = 1; x < visible_nc; ++x) {
    const int i = x - 1;
    if (x < simd_end) {
      const float xp = (static_cast<float>(x) + 0.5f) / static_cast<float>(cs) + 0.5f;
      const int ixp = static_cast<int>(xp);
      col_ix[i] = ixp;
      col_vx0[i] = xp - static_cast<float>(ixp);
      col_vx1[i] = 1.0f - col_vx0[i];
    } else {
      const float xp = static_cast<float>((static_cast<double>(x) + 0.5) / static_cast<double>(cs) - 0.5);
      const int ixp = static_cast<int>(std::floor(xp));
      col_ix[i] = ixp + 1;
      col_vx0[i] = xp - static_cast<float>(ixp);
      col_vx1[i] = static_cast<float>(1.0 - col_vx0[i]);
    }
  }

  std::vector<float> mag(ncols + hogkern::Slack());
  std::vector<int32_t> ori(ncols + hogkern::Slack());
  for (int y = 1; y < visible_nr; ++y) {
    const float yp = static_cast<float>((static_cast<double>(static_cast<float>(y)) + 0.5) /
                                            static_cast<double>(static_cast<float>(cs)) -
                                        0.5);
    const int iyp = static_cast<int>(std::floor(yp));
    const float vy0 = yp - static_cast<float>(iyp);
    const float vy1 = static_cast<float>(1.0 - vy0);
    hogkern::Planes3 rows;
    for (int k = 0; k < 3; ++k) {
      rows.above[k] = img.row(k, y - 1);
      rows.cur[k] = img.row(k, y);
      rows.below[k] = img.row(k, y + 1);
    }
    // Block columns first: the per-pixel columns overwrite what the last
    // vector of the first call wrote past simd_end.
    hogkern::GradientRow(rows, 1, simd_end, true, mag.data(), ori.data());
    hogkern::GradientRow(rows, simd_end, visible_nc, false, mag.data() + (simd_end - 1), ori.data() + (simd_end - 1));
    // Bilinear votes into the four surrounding cells.
    float* h0 = H(iyp + 1, 0);
    float* h1 = H(iyp + 2, 0);
    for (int x = 1; x < visible_nc; ++x) {
      const int i = x - 1;
      const float v = mag[i];
      const int o = ori[i];
      const int ix = col_ix[i];
      float v11, v01, v10, v00;
      if (x < simd_end) {
        const float a = col_vx1[i] * v, b = col_vx0[i] * v;
        v11 = vy1 * a;
        v01 = vy0 * a;
        v10 = vy1 * b;
        v00 = vy0 * b;
      } else {
        v11 = vy1 * col_vx1[i] * v;
        v01 = vy0 * col_vx1[i] * v;
        v10 = vy1 * col_vx0[i] * v;
        v00 = vy0 * col_vx0[i] * v;
      }
      h0[ix * 18 + o] += v11;
      h1[ix * 18 + o] += v01;
      h0[(ix + 1) * 18 + o] += v10;
      h1[(ix + 1) * 18 + o] += v00;
    }
  }

  // Energy of each cell over the 9 unsigned orientations.
  std::vector<float> norm(static_cast<size_t>(cells_nr) * cells_nc, 0.f);
  for (int r = 0; r < cells_nr; ++r)
    for (int c = 0; c < cells_nc; ++c) {
      const float* h = H(r + 1, c + 1);
      float& n = norm[static_cast<size_t>(r) * cells_nc + c];
      for (int o = 0; o < 9; ++o) n += (h[o] + h[o + 9]) * (h[o] + h[o + 9]);
    }
  auto N = [&](int r, int c) { return norm[static_cast<size_t>(r) * cells_nc + c]; };

  out->hog_nr = hog_nr;
  out->hog_nc = hog_nc;
  out->nr = hog_nr + rows_pad - 1;
  out->nc = hog_nc + cols_pad - 1;
  out->planes.assign(static_cast<size_t>(kPlanes) * out->nr * out->nc + hogkern::Slack(), 0.f);
  const int off_r = (rows_pad - 1) / 2, off_c = (cols_pad - 1) / 2;
  const size_t plane_size = static_cast<size_t>(out->nr) * out->nc;
  // dlib's constants are double literals converted to float.
  const float eps = static_cast<float>(0.0001), k02 = static_cast<float>(0.2), k01 = static_cast<float>(0.1);
  const float texture_scale = static_cast<float>(2 * 0.2357);
  // dlib sums the four lanes of a 4-wide vector as (l0 + l2) + (l1 + l3).
  auto sum4 = [](const float* v) { return (v[0] + v[2]) + (v[1] + v[3]); };
  for (int y = 0; y < hog_nr; ++y) {
    for (int x = 0; x < hog_nc; ++x) {
      const float z1[4] = {N(y + 1, x + 1), N(y, x + 1), N(y + 1, x), N(y, x)};
      const float z2[4] = {N(y + 1, x + 2), N(y, x + 2), N(y + 1, x + 1), N(y, x + 1)};
      const float z3[4] = {N(y + 2, x + 1), N(y + 1, x + 1), N(y + 2, x), N(y + 1, x)};
      const float z4[4] = {N(y + 2, x + 2), N(y + 1, x + 2), N(y + 2, x + 1), N(y + 1, x + 1)};
      float nn[4], n[4];
      for (int k = 0; k < 4; ++k) {
        nn[k] = k02 * std::sqrt(z1[k] + z2[k] + z3[k] + z4[k] + eps);
        n[k] = k01 / nn[k];
      }
      const float* h = H(y + 2, x + 2);
      float* dst = out->planes.data() + static_cast<size_t>(y + off_r) * out->nc + (x + off_c);
      float t[4] = {0, 0, 0, 0};
      for (int o = 0; o < 18; o += 3) {
        float h0[4], h1[4], h2[4];
        for (int k = 0; k < 4; ++k) {
          h0[k] = std::min(h[o], nn[k]) * n[k];
          h1[k] = std::min(h[o + 1], nn[k]) * n[k];
          h2[k] = std::min(h[o + 2], nn[k]) * n[k];
          t[k] += h0[k] + h1[k] + h2[k];
        }
        dst[o * plane_size] = sum4(h0);
        dst[(o + 1) * plane_size] = sum4(h1);
        dst[(o + 2) * plane_size] = sum4(h2);
      }
      for (int k = 0; k < 4; ++k) t[k] *= texture_scale;
      for (int o = 0; o < 9; ++o) {
        const float u = h[o] + h[o + 9];
        float hu[4];
        for (int k = 0; k < 4; ++k) hu[k] = std::min(u, nn[k]) * n[k];
        dst[(18 + o) * plane_size] = sum4(hu);
      }
      for (int k = 0; k < 4; ++k) dst[(27 + k) * plane_size] = t[k];
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------

struct DlibHogModel {
  rt::Graph graph;
  int cell_size = 8, padding = 0, fw = 0, fh = 0;
  int pyramid_down = 6;
  unsigned long max_levels = 1000, min_w = 64, min_h = 64;
  double iou = 0.5, covered = 1.0;
  std::vector<double> thresholds;
  const float* filters = nullptr;  // [D][31][fh][fw]
  std::unique_ptr<hogkern::FilterBank> bank;
};

DlibHogDetector::~DlibHogDetector() = default;

int DlibHogDetector::num_filters() const { return static_cast<int>(model_->thresholds.size()); }

namespace {

std::string Meta(const rt::Graph& g, const std::string& key, const std::string& path) {
  auto it = g.metadata.find(key);
  if (it == g.metadata.end()) throw Error(ErrorCode::kInvalidModel, path + ": metadata '" + key + "' is missing");
  return it->second;
}

long MetaInt(const rt::Graph& g, const std::string& key, const std::string& path, long lo, long hi) {
  const std::string s = Meta(g, key, path);
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != 0 || v < lo || v > hi)
    throw Error(ErrorCode::kInvalidModel, path + ": metadata '" + key + "' = '" + s + "' is not an integer in " +
                                              std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

double ParseDouble(const std::string& s, const std::string& what, const std::string& path) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != 0 || !std::isfinite(v))
    throw Error(ErrorCode::kInvalidModel, path + ": " + what + " '" + s + "' is not a finite number");
  return v;
}

}  // namespace

DlibHogDetector::DlibHogDetector(const std::string& hog_path, const std::string& shape_path,
                                 const DetectorOptions& options)
    : model_(std::make_unique<DlibHogModel>()) {
  std::error_code ec;
  if (!std::filesystem::exists(hog_path, ec))
    throw Error(ErrorCode::kNotFound, "HOG detector " + hog_path +
                                          " not found; create it with `tools/setup-models.sh --only dlib_hog_frontal`");
  DlibHogModel& m = *model_;
  m.graph = rt::LoadGraphFromFile(hog_path);
  const rt::Graph& g = m.graph;
  if (Meta(g, "kind", hog_path) != "dlib_hog_detector")
    throw Error(ErrorCode::kInvalidModel, hog_path + " is not a dlib HOG detector");
  m.cell_size = static_cast<int>(MetaInt(g, "dlib.cell_size", hog_path, 1, 64));
  m.padding = static_cast<int>(MetaInt(g, "dlib.padding", hog_path, 0, 64));
  m.fw = static_cast<int>(MetaInt(g, "dlib.filter_width", hog_path, 1, 512));
  m.fh = static_cast<int>(MetaInt(g, "dlib.filter_height", hog_path, 1, 512));
  if (m.fw <= 2 * m.padding || m.fh <= 2 * m.padding)
    throw Error(ErrorCode::kInvalidModel, hog_path + ": padding leaves no detection window");
  m.pyramid_down = static_cast<int>(MetaInt(g, "dlib.pyramid_down", hog_path, 3, 1000));
  m.max_levels = static_cast<unsigned long>(MetaInt(g, "dlib.max_pyramid_levels", hog_path, 1, 1000000));
  m.min_w = static_cast<unsigned long>(MetaInt(g, "dlib.min_pyramid_layer_width", hog_path, 1, 1000000));
  m.min_h = static_cast<unsigned long>(MetaInt(g, "dlib.min_pyramid_layer_height", hog_path, 1, 1000000));
  m.iou = ParseDouble(Meta(g, "dlib.overlap_iou", hog_path), "dlib.overlap_iou", hog_path);
  m.covered = ParseDouble(Meta(g, "dlib.overlap_percent_covered", hog_path), "dlib.overlap_percent_covered", hog_path);
  const std::string th = Meta(g, "dlib.thresholds", hog_path);
  for (size_t pos = 0; pos <= th.size();) {
    size_t comma = th.find(',', pos);
    if (comma == std::string::npos) comma = th.size();
    m.thresholds.push_back(ParseDouble(th.substr(pos, comma - pos), "threshold", hog_path));
    pos = comma + 1;
  }
  const rt::TensorDef* filters = nullptr;
  for (const rt::TensorDef& t : g.tensors)
    if (t.name == "filters" && t.is_constant() && !t.constant->is_int) filters = &t;
  const int64_t nd = static_cast<int64_t>(m.thresholds.size());
  if (!filters || filters->shape != rt::Shape{nd, kPlanes, m.fh, m.fw})
    throw Error(ErrorCode::kInvalidModel, hog_path + ": constant 'filters' missing or not [" + std::to_string(nd) +
                                              ", 31, " + std::to_string(m.fh) + ", " + std::to_string(m.fw) + "]");
  m.filters = filters->constant->f32;
  // dlib's separable decomposition, when the file has it.
  const rt::TensorDef *rows = nullptr, *cols = nullptr, *index = nullptr;
  for (const rt::TensorDef& t : g.tensors) {
    if (!t.is_constant()) continue;
    if (t.name == "row_filters") rows = &t;
    if (t.name == "col_filters") cols = &t;
    if (t.name == "separable_index") index = &t;
  }
  std::vector<hogkern::SeparableTerm> terms;
  if (rows || cols || index) {
    const int64_t k = rows && !rows->shape.empty() ? rows->shape[0] : -1;
    if (!rows || !cols || !index || k <= 0 || rows->shape != rt::Shape{k, m.fw} || cols->shape != rt::Shape{k, m.fh} ||
        index->shape != rt::Shape{k, 2} || rows->constant->is_int || cols->constant->is_int || !index->constant->is_int)
      throw Error(ErrorCode::kInvalidModel, hog_path + ": inconsistent row_filters / col_filters / separable_index");
    for (int64_t i = 0; i < k; ++i) {
      hogkern::SeparableTerm t;
      const int64_t f = index->constant->ints[2 * i], p = index->constant->ints[2 * i + 1];
      if (f < 0 || f >= nd || p < 0 || p >= kPlanes)
        throw Error(ErrorCode::kInvalidModel, hog_path + ": separable_index row " + std::to_string(i) + " = (" +
                                                  std::to_string(f) + ", " + std::to_string(p) + ") out of range");
      t.filter = static_cast<int>(f);
      t.plane = static_cast<int>(p);
      t.row.assign(rows->constant->f32 + i * m.fw, rows->constant->f32 + (i + 1) * m.fw);
      t.col.assign(cols->constant->f32 + i * m.fh, cols->constant->f32 + (i + 1) * m.fh);
      terms.push_back(std::move(t));
    }
  }
  m.bank = std::make_unique<hogkern::FilterBank>(m.filters, static_cast<int>(nd), kPlanes, m.fh, m.fw,
                                                 std::move(terms));

  if (!std::isnan(options.score_threshold)) adjust_threshold_ = options.score_threshold;
  if (options.num_threads < 0) throw Error(ErrorCode::kInvalidArgument, "dlib: num_threads must be >= 0");
  num_threads_ = options.num_threads > 0 ? options.num_threads
                                         : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (!std::isnan(options.nms_iou)) {
    if (!(options.nms_iou >= 0 && options.nms_iou <= 1))
      throw Error(ErrorCode::kInvalidArgument, "dlib: nms_iou must be in [0, 1]");
    m.iou = options.nms_iou;
  }
  if (!shape_path.empty()) shape_ = ShapePredictor::Load(shape_path);
}

namespace {

struct Cand {
  double score;  // the filter response (the threshold is subtracted after sorting)
  DlibRect rect;
  int filter;
};

// One pyramid level: windows whose response reaches each filter's threshold,
// in scan order (rows, then columns), as rectangles of the level-0 image.
void ScanLevel(const DlibHogModel& m, const Rgb& img, int level, double adjust_threshold, Fhog* feats,
               std::vector<float>* scores, std::vector<std::vector<Cand>>* out) {
  const int nd = static_cast<int>(m.thresholds.size());
  const int det_w = m.fw - 2 * m.padding, det_h = m.fh - 2 * m.padding;
  const int cs = m.cell_size;
  ExtractFhog(img, cs, m.fh, m.fw, feats);
  if (feats->hog_nr <= 0 || feats->hog_nc <= 0) return;
  // scores[d][r0][c0]: window with top-left cell (r0, c0) of the padded map.
  const int out_r = feats->nr - m.fh + 1, out_c = feats->nc - m.fw + 1;
  scores->assign(static_cast<size_t>(nd) * out_r * out_c, 0.f);
  m.bank->Apply(feats->planes.data(), feats->nr, feats->nc, scores->data());
  for (int d = 0; d < nd; ++d) {
    const double thresh = m.thresholds[d] + adjust_threshold;
    const float* s = scores->data() + static_cast<size_t>(d) * out_r * out_c;
    for (int r0 = 0; r0 < out_r; ++r0)
      for (int c0 = 0; c0 < out_c; ++c0) {
        const float v = s[static_cast<size_t>(r0) * out_c + c0];
        if (static_cast<double>(v) < thresh) continue;
        // The window centred on (c, r) in the padded map, as image pixels of this level.
        const long r = r0 + m.fh / 2, c = c0 + m.fw / 2;
        const long left = c - det_w / 2, top = r - det_h / 2;
        const long corners[2][2] = {{left, top}, {left + det_w - 1, top + det_h - 1}};
        long img_pts[2][2];
        for (int k = 0; k < 2; ++k) {
          long px = (corners[k][0] + 1 - (m.fw - 1) / 2) * cs + 1;
          long py = (corners[k][1] + 1 - (m.fh - 1) / 2) * cs + 1;
          px += px >= 0 ? cs / 2 : -(cs / 2);
          py += py >= 0 ? cs / 2 : -(cs / 2);
          img_pts[k][0] = px;
          img_pts[k][1] = py;
        }
        const DlibRect lr{img_pts[0][0], img_pts[0][1], img_pts[1][0], img_pts[1][1]};
        (*out)[d].push_back({static_cast<double>(v), ToRect(RectUpN(lr, m.pyramid_down, level)), d});
      }
  }
}

}  // namespace

std::vector<DlibHogDetector::Raw> DlibHogDetector::DetectRaw(const Image& image, int upsample,
                                                             double adjust_threshold) const {
  if (image.empty() || image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    throw Error(ErrorCode::kInvalidArgument, "dlib detector: invalid image");
  if (upsample < 0 || upsample > 4) throw Error(ErrorCode::kInvalidArgument, "dlib detector: upsample must be 0..4");
  const DlibHogModel& m = *model_;

  Rgb img = ToDlibOrder(image);
  for (int i = 0; i < upsample; ++i) img = PyramidUp(img);

  // Number of pyramid levels, from dlib's rectangle geometry.
  unsigned long levels = 0;
  {
    DlibRect rect{0, 0, img.w - 1, img.h - 1};
    do {
      rect = ToRect(RectDownN(rect, m.pyramid_down));
      ++levels;
    } while (static_cast<unsigned long>(Width(rect)) >= m.min_w &&
             static_cast<unsigned long>(Height(rect)) >= m.min_h && levels < m.max_levels);
  }

  // The image pyramid (each level from the previous one), then per level and
  // independently: fHOG, filters, windows at or above threshold.
  std::vector<Rgb> pyramid(levels);
  pyramid[0] = std::move(img);
  for (unsigned long l = 1; l < levels; ++l) pyramid[l] = PyramidDown(pyramid[l - 1], m.pyramid_down);

  const int nd = static_cast<int>(m.thresholds.size());
  std::vector<std::vector<std::vector<Cand>>> found(levels, std::vector<std::vector<Cand>>(nd));  // [level][filter]
  auto scan = [&](size_t begin, size_t end) {
    Fhog feats;
    std::vector<float> scores;
    for (size_t l = begin; l < end; ++l)
      ScanLevel(m, pyramid[l], static_cast<int>(l), adjust_threshold, &feats, &scores, &found[l]);
  };
  ops::ParallelFor(num_threads_, levels, scan);
  std::vector<std::vector<Cand>> per_filter(nd);
  for (unsigned long l = 0; l < levels; ++l)
    for (int d = 0; d < nd; ++d) per_filter[d].insert(per_filter[d].end(), found[l][d].begin(), found[l][d].end());

  // Per filter: best first (dlib sorts each filter's hits, then all of them).
  std::vector<Cand> all;
  for (int d = 0; d < nd; ++d) {
    std::vector<Cand>& v = per_filter[d];
    std::sort(v.rbegin(), v.rend(), [](const Cand& a, const Cand& b) { return a.score < b.score; });
    for (Cand& c : v) {
      c.score -= m.thresholds[d];
      all.push_back(c);
    }
  }
  if (nd > 1) std::sort(all.rbegin(), all.rend(), [](const Cand& a, const Cand& b) { return a.score < b.score; });

  auto overlaps = [&](const DlibRect& a, const DlibRect& b) {
    const DlibRect in{std::max(a.left, b.left), std::max(a.top, b.top), std::min(a.right, b.right),
                      std::min(a.bottom, b.bottom)};
    const double inner = Area(in);
    if (inner == 0) return false;
    const DlibRect u{std::min(a.left, b.left), std::min(a.top, b.top), std::max(a.right, b.right),
                     std::max(a.bottom, b.bottom)};
    return inner / Area(u) > m.iou || inner / Area(a) > m.covered || inner / Area(b) > m.covered;
  };
  std::vector<const Cand*> kept;
  for (const Cand& c : all) {
    bool hit = false;
    for (const Cand* k : kept)
      if (overlaps(k->rect, c.rect)) {
        hit = true;
        break;
      }
    if (!hit) kept.push_back(&c);
  }
  // Back to the caller's image (DeepFace: rect_down of pyramid_down<2> per upsampling).
  std::vector<Raw> out;
  for (const Cand* c : kept) {
    Raw r;
    r.rect = upsample > 0 ? ToRect(RectDown2(c->rect, upsample)) : c->rect;
    r.score = c->score;
    r.filter = c->filter;
    out.push_back(r);
  }
  return out;
}

std::vector<Detection> DlibHogDetector::Detect(const Image& image) const {
  const std::vector<Raw> raw = DetectRaw(image, 1, adjust_threshold_);
  std::vector<Detection> out(raw.size());
  ops::ParallelFor(raw.size() > 1 ? num_threads_ : 1, raw.size(), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = ToDetection(image, raw[i]);
  });
  return out;
}

Detection DlibHogDetector::ToDetection(const Image& image, const Raw& r) const {
  Detection d;
  // DeepFace: y = max(0, top), h = min(bottom, height) - y; likewise x, w.
  const long x = std::max(0L, r.rect.left), y = std::max(0L, r.rect.top);
  const long w = std::min<long>(r.rect.right, image.width) - x;
  const long h = std::min<long>(r.rect.bottom, image.height) - y;
  d.box = Box{static_cast<float>(x), static_cast<float>(y), static_cast<float>(w), static_cast<float>(h)};
  d.confidence = static_cast<float>(std::min(std::max(r.score, 0.0), 1.0));
  if (shape_) {
    d.landmarks = shape_->Predict(image, r.rect);
    if (d.landmarks.size() == 68) {
      auto mean = [&](int from) {
        Point p;
        for (int i = from; i < from + 6; ++i) {
          p.x += d.landmarks[i].x;
          p.y += d.landmarks[i].y;
        }
        p.x /= 6;
        p.y /= 6;
        return p;
      };
      d.right_eye = mean(36);  // person's right eye, image left
      d.left_eye = mean(42);
    }
  }
  return d;
}

std::unique_ptr<Detector> CreateDlibHogDetector(const std::string& models_dir, const DetectorOptions& options) {
  return std::make_unique<DlibHogDetector>(ZooModelPath(models_dir, "dlib_hog_frontal"),
                                           ZooModelPath(models_dir, "dlib_shape68"), options);
}

}  // namespace facelib
