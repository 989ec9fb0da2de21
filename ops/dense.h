// Fully connected layer / MatMul with a constant right-hand side:
// y[m, n] = act(sum_k x[m, k] * w[k, n] + bias[n]).
#pragma once

#include <cstddef>
#include <memory>

#include "ops/common.h"

namespace facelib::ops {

struct DenseParams {
  int rows = 1;      // M (batch x any leading dims)
  int in_features = 0;   // K
  int out_features = 0;  // N
  Activation act;
};

// weights: [in_features][out_features] (K x N, row-major); bias: [N] or nullptr.
void DenseRef(const DenseParams& p, const float* x, const float* weights, const float* bias,
              float* y);

class PackedDense {
 public:
  virtual ~PackedDense() = default;
  virtual void Run(const ExecContext& ctx, const DenseParams& p, const float* x, float* y) const = 0;
};
std::unique_ptr<PackedDense> PackDense(const DenseParams& p, const float* weights, const float* bias);

// General batched MatMul of two activations: a [batch, M, K] x b [batch, K, N] -> [batch, M, N].
void MatMulRef(int batch, int m, int k, int n, const float* a, const float* b, float* c);
void MatMul(const ExecContext& ctx, int batch, int m, int k, int n, const float* a, const float* b,
            float* c);

}  // namespace facelib::ops
