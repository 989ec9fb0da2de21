// Distance metrics between face embeddings, DeepFace's four:
//
//   cosine        1 - a.b / (|a| |b|)
//   euclidean     |a - b|
//   euclidean_l2  |a / |a| - b / |b||                              range [0, 2]
//   angular       arccos(clamp(cosine similarity, -1, 1)) / pi    range [0, 1]
//
// where every norm used as a divisor is max(|v|, kNormEpsilon = 1e-10), so a
// zero vector stays zero instead of producing NaN (DeepFace divides by
// |v| + 1e-10 in its batch form, which differs by < 1e-10 relative for any
// real embedding, and by |v| alone in its pair form). Further differences, on
// purpose: the cosine similarity is clamped to [-1, 1] before arccos (DeepFace
// returns NaN when rounding pushes it past 1), and results are not rounded to
// 6 decimals. For a zero vector: cosine distance 1, angular 0.5, euclidean_l2
// 1 against any non-zero vector.
//
// The single-pair form computes in double. The one-query-vs-rows form runs the
// SIMD row kernels of ops/distance.h with float accumulation (within a few
// 1e-7 of the pair form; angular is computed there as 2 asin(euclidean_l2 / 2)
// / pi, the same angle without arccos' loss of precision near 0) and may split
// large row sets over threads.
//
// Errors: facelib::Error(kInvalidArgument) for an unknown metric name or
// embeddings of different dimensions (the message names both).
// Thread safety: every function is pure and safe to call concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace facelib {

enum class Metric { kCosine, kEuclidean, kEuclideanL2, kAngular };

inline constexpr float kNormEpsilon = 1e-10f;

// "cosine", "euclidean", "euclidean_l2", "angular" (exact, lower case).
// Anything else: Error(kInvalidArgument) listing the valid names.
Metric ParseMetric(const std::string& name);
const char* MetricName(Metric metric);

// Distance between two vectors of `dim` floats.
float Distance(Metric metric, const float* a, const float* b, size_t dim);
// Same; the vectors must have the same size (else kInvalidArgument naming both).
float Distance(Metric metric, const std::vector<float>& a, const std::vector<float>& b);

// Euclidean norms of n rows of dim floats (row-major, contiguous).
std::vector<float> RowNorms(const float* rows, size_t n, size_t dim, int num_threads = 1);

// out[i] = distance from `query` (dim floats) to row i of `rows` (n x dim,
// row-major, contiguous), for i < n. row_norms: the rows' norms from RowNorms
// (nullptr: computed here; only cosine, angular and euclidean_l2 use them).
// num_threads > 1 splits large row sets (tens of thousands of floats and up)
// over the ops/parallel.h pool.
void Distances(Metric metric, const float* query, const float* rows, const float* row_norms, size_t n, size_t dim,
               float* out, int num_threads = 1);

}  // namespace facelib
