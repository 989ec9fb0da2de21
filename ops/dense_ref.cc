// Scalar references for Dense and MatMul (double accumulation, see conv2d_ref.cc).
#include "ops/dense.h"

namespace facelib::ops {

void DenseRef(const DenseParams& p, const float* x, const float* weights, const float* bias,
              float* y) {
  const size_t k_size = static_cast<size_t>(p.in_features);
  const size_t n_size = static_cast<size_t>(p.out_features);
  for (size_t m = 0; m < static_cast<size_t>(p.rows); ++m) {
    for (size_t n = 0; n < n_size; ++n) {
      double sum = 0.0;
      for (size_t k = 0; k < k_size; ++k) {
        sum +=
            static_cast<double>(x[m * k_size + k]) * static_cast<double>(weights[k * n_size + n]);
      }
      if (bias != nullptr) sum += bias[n];
      y[m * n_size + n] = ApplyActivationScalar(p.act, static_cast<float>(sum));
    }
  }
}

void MatMulRef(int batch, int m, int k, int n, const float* a, const float* b, float* c) {
  for (size_t bi = 0; bi < static_cast<size_t>(batch); ++bi) {
    const float* ab = a + bi * m * k;
    const float* bb = b + bi * k * n;
    float* cb = c + bi * m * n;
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int l = 0; l < k; ++l) {
          sum += static_cast<double>(ab[static_cast<size_t>(i) * k + l]) *
                 static_cast<double>(bb[static_cast<size_t>(l) * n + j]);
        }
        cb[static_cast<size_t>(i) * n + j] = static_cast<float>(sum);
      }
    }
  }
}

}  // namespace facelib::ops
