// Converters for dlib's HOG face detector and shape predictor. Both produce
// constants-only model files read by facelib/dlib_hog.cc and
// facelib/shape_predictor.cc (no executable graph: the runtime needs one
// output, so a single Identity node exposes the first constant).
//
// dlib-hog FRONTAL_FACE_DETECTOR.H
//   The header of Debian's libdlib-dev holds the detector as base64 text of a
//   compress_stream::kernel_1ea stream of a serialised
//   object_detector<scan_fhog_pyramid<pyramid_down<N>>>.
//   Tensors: filters [D, 31, H, W] (plane-major like dlib's weight vectors),
//   thresholds [D] (rounded to float; the exact doubles are in metadata).
//   Metadata (dlib.*): cell_size, padding, window_width/height,
//   filter_width/height, max_pyramid_levels, min_pyramid_layer_width/height,
//   pyramid_down, overlap_iou, overlap_percent_covered, thresholds,
//   num_detectors.
//   dlib detects with the filters' separable (SVD) decomposition with
//   singular values below max(1e-4, 0.001 * largest) dropped; the converter
//   stores it too: row_filters [K, W], col_filters [K, H] and
//   separable_index [K, 2] (detector, plane) of the K rank-one terms
//   (dlib.separable_filters = K), and reports the largest filter element the
//   truncation changes (dlib.separable_residual; the frontal detector's
//   filters are exactly low-rank, residual ~1e-16).
//
// dlib-shape SHAPE_PREDICTOR.DAT
//   Tensors: initial_shape [2P]; split_features [C, T, S, 2] (int32 feature
//   pixel indices), split_thresholds [C, T, S], leaf_values [C, T, L, 2P],
//   anchor_idx [C, F] (int32), deltas [C, F, 2]; C cascades of T trees with
//   S = L - 1 splits each, F feature pixels per cascade, P parts.
//   Metadata: dlib.num_parts, dlib.num_cascades, dlib.trees_per_cascade,
//   dlib.tree_depth, dlib.features_per_cascade.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "converters/converter.h"
#include "converters/dlib_format.h"
#include "runtime/error.h"
#include "runtime/graph.h"

namespace facelib::convert {
namespace {

std::string Exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// The separable decomposition dlib builds from an h x w filter: SVD
// f = U diag(sigma) V^T (one-sided Jacobi in double), singular values below
// max(1e-4, 0.001 * largest) dropped, the rest in decreasing order as
// column filters U_j * sqrt(sigma_j) (length h) and row filters
// V_j * sqrt(sigma_j) (length w). `residual` gets the largest element of the
// dropped part.
struct Separable {
  std::vector<std::vector<double>> cols, rows;
  double residual = 0;
};

Separable Decompose(const double* f, int h, int w) {
  // Orthogonalise the columns of A = f by plane rotations, accumulating V.
  std::vector<double> a(f, f + h * w), v(static_cast<size_t>(w) * w, 0.0);
  for (int i = 0; i < w; ++i) v[i * w + i] = 1;
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off = 0;
    for (int p = 0; p < w; ++p)
      for (int q = p + 1; q < w; ++q) {
        double alpha = 0, beta = 0, gamma = 0;
        for (int r = 0; r < h; ++r) {
          alpha += a[r * w + p] * a[r * w + p];
          beta += a[r * w + q] * a[r * w + q];
          gamma += a[r * w + p] * a[r * w + q];
        }
        if (std::abs(gamma) <= 1e-300) continue;
        off = std::max(off, std::abs(gamma) / std::sqrt(alpha * beta));
        const double zeta = (beta - alpha) / (2 * gamma);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::abs(zeta) + std::sqrt(1 + zeta * zeta));
        const double c = 1 / std::sqrt(1 + t * t), s = c * t;
        for (int r = 0; r < h; ++r) {
          const double x = a[r * w + p], y = a[r * w + q];
          a[r * w + p] = c * x - s * y;
          a[r * w + q] = s * x + c * y;
        }
        for (int r = 0; r < w; ++r) {
          const double x = v[r * w + p], y = v[r * w + q];
          v[r * w + p] = c * x - s * y;
          v[r * w + q] = s * x + c * y;
        }
      }
    if (off < 1e-15) break;
  }
  // A's columns are sigma_j * U_j.
  std::vector<double> sigma(w);
  double smax = 0;
  for (int p = 0; p < w; ++p) {
    double n = 0;
    for (int r = 0; r < h; ++r) n += a[r * w + p] * a[r * w + p];
    sigma[p] = std::sqrt(n);
    smax = std::max(smax, sigma[p]);
  }
  const double thresh = std::max(1e-4, smax * 0.001);
  Separable out;
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      double d = 0;
      for (int p = 0; p < w; ++p)
        if (sigma[p] < thresh) d += a[r * w + p] * v[c * w + p];
      out.residual = std::max(out.residual, std::abs(d));
    }
  std::vector<int> order(w);
  for (int p = 0; p < w; ++p) order[p] = p;
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return sigma[x] > sigma[y]; });
  for (int p : order) {
    if (sigma[p] < thresh) break;
    const double root = std::sqrt(sigma[p]);
    std::vector<double> col(h), row(w);
    for (int r = 0; r < h; ++r) col[r] = a[r * w + p] / sigma[p] * root;
    for (int c = 0; c < w; ++c) row[c] = v[c * w + p] * root;
    out.cols.push_back(std::move(col));
    out.rows.push_back(std::move(row));
  }
  return out;
}

rt::Graph ConvertDlibHog(const ConvertRequest& req) {
  const std::string& path = req.Input(0, "frontal_face_detector.h");
  const std::vector<uint8_t> file = ReadFileBytes(path, size_t{64} << 20);
  const dlibfmt::DetectorHeader header =
      dlibfmt::ExtractDetectorHeader(std::string(file.begin(), file.end()), path);
  const std::vector<uint8_t> compressed = dlibfmt::DecodeBase64(header.base64, path);
  const std::vector<uint8_t> raw = dlibfmt::DecompressKernel1ea(compressed.data(), compressed.size(), path);
  const dlibfmt::HogDetector d = dlibfmt::ParseObjectDetector(raw, path + " (decompressed object_detector)");

  const int planes = dlibfmt::HogDetector::kPlanes;
  const int fh = d.filter_height, fw = d.filter_width;
  const size_t per = static_cast<size_t>(planes) * fh * fw;
  const int64_t nd = static_cast<int64_t>(d.weights.size());
  std::vector<float> filters;
  filters.reserve(per * d.weights.size());
  std::vector<float> thresholds;
  std::string exact;
  double residual = 0;
  std::vector<float> row_filters, col_filters;
  std::vector<int64_t> separable_index;
  for (size_t di = 0; di < d.weights.size(); ++di) {
    const std::vector<double>& w = d.weights[di];
    for (size_t i = 0; i < per; ++i) filters.push_back(static_cast<float>(w[i]));
    for (int p = 0; p < planes; ++p) {
      const Separable sep = Decompose(&w[static_cast<size_t>(p) * fh * fw], fh, fw);
      residual = std::max(residual, sep.residual);
      for (size_t j = 0; j < sep.rows.size(); ++j) {
        for (double x : sep.rows[j]) row_filters.push_back(static_cast<float>(x));
        for (double x : sep.cols[j]) col_filters.push_back(static_cast<float>(x));
        separable_index.push_back(static_cast<int64_t>(di));
        separable_index.push_back(p);
      }
    }
    thresholds.push_back(static_cast<float>(w[per]));
    exact += (exact.empty() ? "" : ",") + Exact(w[per]);
  }
  const int64_t num_sep = static_cast<int64_t>(separable_index.size() / 2);

  rt::Graph g;
  const int f = g.AddConstant("filters", {nd, planes, fh, fw}, rt::Constant::FromFloats(std::move(filters)));
  g.AddConstant("thresholds", {nd}, rt::Constant::FromFloats(std::move(thresholds)));
  if (num_sep > 0) {
    g.AddConstant("row_filters", {num_sep, fw}, rt::Constant::FromFloats(std::move(row_filters)));
    g.AddConstant("col_filters", {num_sep, fh}, rt::Constant::FromFloats(std::move(col_filters)));
    g.AddConstant("separable_index", {num_sep, 2}, rt::Constant::FromInts(std::move(separable_index)));
  }
  g.MarkOutput(g.AddNode1("Identity", {f}, {}, "dlib_hog"));
  auto& m = g.metadata;
  m["kind"] = "dlib_hog_detector";
  m["dlib.cell_size"] = std::to_string(d.cell_size);
  m["dlib.padding"] = std::to_string(d.padding);
  m["dlib.window_width"] = std::to_string(d.window_width);
  m["dlib.window_height"] = std::to_string(d.window_height);
  m["dlib.filter_width"] = std::to_string(fw);
  m["dlib.filter_height"] = std::to_string(fh);
  m["dlib.max_pyramid_levels"] = std::to_string(d.max_pyramid_levels);
  m["dlib.min_pyramid_layer_width"] = std::to_string(d.min_pyramid_layer_width);
  m["dlib.min_pyramid_layer_height"] = std::to_string(d.min_pyramid_layer_height);
  m["dlib.pyramid_down"] = std::to_string(header.pyramid_down);
  m["dlib.overlap_iou"] = Exact(d.overlap_iou);
  m["dlib.overlap_percent_covered"] = Exact(d.overlap_percent_covered);
  m["dlib.thresholds"] = exact;
  m["dlib.num_detectors"] = std::to_string(nd);
  m["dlib.separable_residual"] = Exact(residual);
  m["dlib.separable_filters"] = std::to_string(num_sep);
  AddProvenance(&g, "dlib-hog", {path});
  return g;
}

rt::Graph ConvertDlibShape(const ConvertRequest& req) {
  const std::string& path = req.Input(0, "shape_predictor.dat");
  const std::vector<uint8_t> bytes = ReadFileBytes(path, size_t{1} << 30);
  const dlibfmt::ShapePredictorData sp = dlibfmt::ParseShapePredictor(bytes, path);

  const int64_t c = static_cast<int64_t>(sp.forests.size());
  if (c == 0) Malformed(path, "the shape predictor has no cascades");
  const int64_t t = static_cast<int64_t>(sp.forests[0].size());
  if (t == 0) Malformed(path, "cascade 0 has no trees");
  const int64_t s = static_cast<int64_t>(sp.forests[0][0].idx1.size());
  const int64_t l = s + 1;
  const int64_t f = static_cast<int64_t>(sp.anchor_idx[0].size());
  const int64_t len = static_cast<int64_t>(sp.initial_shape.size());
  // Our files hold uniform cascades (as every dlib trainer writes them).
  for (int64_t ci = 0; ci < c; ++ci) {
    if (static_cast<int64_t>(sp.forests[ci].size()) != t || static_cast<int64_t>(sp.anchor_idx[ci].size()) != f)
      Unsupported(path, "cascade " + std::to_string(ci) + " has a different number of trees or feature pixels");
    for (const auto& tree : sp.forests[ci])
      if (static_cast<int64_t>(tree.idx1.size()) != s)
        Unsupported(path, "cascade " + std::to_string(ci) + " has trees of different depths");
  }
  std::vector<int64_t> split_features;
  std::vector<float> split_thresholds, leaf_values, deltas;
  std::vector<int64_t> anchors;
  split_features.reserve(static_cast<size_t>(c * t * s * 2));
  split_thresholds.reserve(static_cast<size_t>(c * t * s));
  leaf_values.reserve(static_cast<size_t>(c * t * l * len));
  for (int64_t ci = 0; ci < c; ++ci) {
    for (const auto& tree : sp.forests[ci]) {
      for (int64_t k = 0; k < s; ++k) {
        split_features.push_back(tree.idx1[k]);
        split_features.push_back(tree.idx2[k]);
        split_thresholds.push_back(tree.thresh[k]);
      }
      for (const auto& leaf : tree.leaf_values) leaf_values.insert(leaf_values.end(), leaf.begin(), leaf.end());
    }
    anchors.insert(anchors.end(), sp.anchor_idx[ci].begin(), sp.anchor_idx[ci].end());
    deltas.insert(deltas.end(), sp.deltas[ci].begin(), sp.deltas[ci].end());
  }
  int depth = 0;
  while ((int64_t{1} << depth) < l) ++depth;

  rt::Graph g;
  const int init = g.AddConstant("initial_shape", {len}, rt::Constant::FromFloats(sp.initial_shape));
  g.AddConstant("split_features", {c, t, s, 2}, rt::Constant::FromInts(std::move(split_features)));
  g.AddConstant("split_thresholds", {c, t, s}, rt::Constant::FromFloats(std::move(split_thresholds)));
  g.AddConstant("leaf_values", {c, t, l, len}, rt::Constant::FromFloats(std::move(leaf_values)));
  g.AddConstant("anchor_idx", {c, f}, rt::Constant::FromInts(std::move(anchors)));
  g.AddConstant("deltas", {c, f, 2}, rt::Constant::FromFloats(std::move(deltas)));
  g.MarkOutput(g.AddNode1("Identity", {init}, {}, "dlib_shape_predictor"));
  auto& m = g.metadata;
  m["kind"] = "dlib_shape_predictor";
  m["dlib.num_parts"] = std::to_string(len / 2);
  m["dlib.num_cascades"] = std::to_string(c);
  m["dlib.trees_per_cascade"] = std::to_string(t);
  m["dlib.tree_depth"] = std::to_string(depth);
  m["dlib.features_per_cascade"] = std::to_string(f);
  AddProvenance(&g, "dlib-shape", {path});
  return g;
}

}  // namespace

FACELIB_REGISTER_CONVERTER({"dlib-hog", "FRONTAL_FACE_DETECTOR.H (dlib's header with the serialised HOG detector)",
                            ConvertDlibHog});
FACELIB_REGISTER_CONVERTER({"dlib-shape", "SHAPE_PREDICTOR.DAT (dlib shape_predictor, e.g. 68 face landmarks)",
                            ConvertDlibShape});

}  // namespace facelib::convert
