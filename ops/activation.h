// Stand-alone activations (ReLU, ReLU6, LeakyReLU, ELU, sigmoid, tanh,
// hard-swish, SiLU, softplus, clip) and per-channel PReLU.
#pragma once

#include <cstddef>

#include "ops/common.h"

namespace facelib::ops {

// y[i] = act(x[i]) for i < n. In-place (y == x) is allowed.
void ActivationRef(const Activation& act, const float* x, float* y, size_t n);
void Activation_(const ExecContext& ctx, const Activation& act, const float* x, float* y, size_t n);

// PReLU with one slope per channel; x is [rows, channels] (channels innermost).
// y = x >= 0 ? x : slope[c] * x. In-place allowed.
void PReluRef(const float* x, const float* slope, float* y, size_t rows, size_t channels);
void PRelu(const ExecContext& ctx, const float* x, const float* slope, float* y, size_t rows,
           size_t channels);

}  // namespace facelib::ops
