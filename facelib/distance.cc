#include "facelib/distance.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "ops/distance.h"
#include "runtime/error.h"

namespace facelib {
namespace {

constexpr double kEps = kNormEpsilon;

double Norm(const float* v, size_t dim) {
  double s = 0;
  for (size_t k = 0; k < dim; ++k) s += static_cast<double>(v[k]) * v[k];
  return std::sqrt(s);
}

// |v| as a divisor: zero vectors stay zero instead of becoming NaN.
double SafeNorm(double norm) { return std::max(norm, kEps); }

double AngularFromSimilarity(double sim) { return std::acos(std::clamp(sim, -1.0, 1.0)) / std::numbers::pi; }

}  // namespace

Metric ParseMetric(const std::string& name) {
  for (Metric m : {Metric::kCosine, Metric::kEuclidean, Metric::kEuclideanL2, Metric::kAngular}) {
    if (name == MetricName(m)) return m;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown distance metric '" + name + "'; valid metrics: cosine, euclidean, euclidean_l2, angular");
}

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "cosine";
    case Metric::kEuclidean: return "euclidean";
    case Metric::kEuclideanL2: return "euclidean_l2";
    case Metric::kAngular: return "angular";
  }
  return "?";
}

float Distance(Metric metric, const float* a, const float* b, size_t dim) {
  switch (metric) {
    case Metric::kCosine:
    case Metric::kAngular: {
      double dot = 0;
      for (size_t k = 0; k < dim; ++k) dot += static_cast<double>(a[k]) * b[k];
      const double sim = dot / (SafeNorm(Norm(a, dim)) * SafeNorm(Norm(b, dim)));
      return static_cast<float>(metric == Metric::kCosine ? 1.0 - sim : AngularFromSimilarity(sim));
    }
    case Metric::kEuclidean: {
      double s = 0;
      for (size_t k = 0; k < dim; ++k) {
        const double d = static_cast<double>(a[k]) - b[k];
        s += d * d;
      }
      return static_cast<float>(std::sqrt(s));
    }
    case Metric::kEuclideanL2: {
      const double ia = 1.0 / SafeNorm(Norm(a, dim)), ib = 1.0 / SafeNorm(Norm(b, dim));
      double s = 0;
      for (size_t k = 0; k < dim; ++k) {
        const double d = a[k] * ia - b[k] * ib;
        s += d * d;
      }
      return static_cast<float>(std::sqrt(s));
    }
  }
  throw Error(ErrorCode::kInvalidArgument, "invalid distance metric value " + std::to_string(static_cast<int>(metric)));
}

float Distance(Metric metric, const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) {
    throw Error(ErrorCode::kInvalidArgument, "embedding dimensions differ: " + std::to_string(a.size()) + " vs " +
                                                 std::to_string(b.size()));
  }
  return Distance(metric, a.data(), b.data(), a.size());
}

std::vector<float> RowNorms(const float* rows, size_t n, size_t dim, int num_threads) {
  std::vector<float> norms(n);
  ops::RowNorm(ops::ExecContext{std::max(1, num_threads)}, ops::RowsShape{n, dim}, rows, norms.data());
  return norms;
}

void Distances(Metric metric, const float* query, const float* rows, const float* row_norms, size_t n, size_t dim,
               float* out, int num_threads) {
  if (n == 0) return;
  const ops::ExecContext ctx{std::max(1, num_threads)};
  const ops::RowsShape shape{n, dim};
  std::vector<float> own_norms;
  if (!row_norms && metric != Metric::kEuclidean) {
    own_norms = RowNorms(rows, n, dim, num_threads);
    row_norms = own_norms.data();
  }
  const double qn = Norm(query, dim);
  switch (metric) {
    case Metric::kCosine: {
      ops::RowDot(ctx, shape, query, rows, out);
      const double q = SafeNorm(qn);
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(1.0 - out[i] / (q * SafeNorm(row_norms[i])));
      return;
    }
    case Metric::kEuclidean:
      ops::RowSquaredL2(ctx, shape, query, rows, nullptr, out);
      for (size_t i = 0; i < n; ++i) out[i] = std::sqrt(out[i]);
      return;
    case Metric::kEuclideanL2:
    case Metric::kAngular: {
      // |unit(q) - unit(r)| straight from the elements: no cancellation near 0.
      const double iq = 1.0 / SafeNorm(qn);
      std::vector<float> unit_query(dim), scale(n);
      for (size_t k = 0; k < dim; ++k) unit_query[k] = static_cast<float>(query[k] * iq);
      for (size_t i = 0; i < n; ++i) scale[i] = static_cast<float>(1.0 / SafeNorm(row_norms[i]));
      ops::RowSquaredL2(ctx, shape, unit_query.data(), rows, scale.data(), out);
      if (metric == Metric::kEuclideanL2) {
        for (size_t i = 0; i < n; ++i) out[i] = std::sqrt(out[i]);
        return;
      }
      // The angle between unit vectors at chord length c is 2 asin(c / 2):
      // well conditioned near 0, where arccos of a float cosine would turn
      // rounding of 1e-7 into angles of 1e-4. A zero vector has cosine
      // similarity 0 with anything: angle pi / 2.
      for (size_t i = 0; i < n; ++i) {
        if (qn < kEps || row_norms[i] < kEps) {
          out[i] = 0.5f;
        } else {
          const double half_chord = std::min(1.0, std::sqrt(static_cast<double>(out[i])) / 2);
          out[i] = static_cast<float>(2.0 * std::asin(half_chord) / std::numbers::pi);
        }
      }
      return;
    }
  }
  throw Error(ErrorCode::kInvalidArgument, "invalid distance metric value " + std::to_string(static_cast<int>(metric)));
}

}  // namespace facelib
