// Helpers for operator tests: run a body once per compiled Highway target, make
// random data, and compare a SIMD result with the scalar reference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "ops/common.h"

namespace facelib::testing {

// Calls fn(target_name) once for every target that is both compiled and supported
// by this CPU (AVX-512, AVX2 and the scalar fallback here), forcing dynamic
// dispatch to pick that target. Restores the default afterwards.
inline void ForEachTarget(const std::function<void(const char*)>& fn) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    const char* name = hwy::TargetName(target);
    SCOPED_TRACE(std::string("target=") + name);
    fn(name);
  }
  hwy::SetSupportedTargetsForTest(0);
}

// The activations kernels fuse into their epilogues, with parameters that
// exercise both sides of every kink.
inline std::vector<ops::Activation> FusableActivations() {
  using ops::Activation;
  using ops::ActType;
  return {Activation::None(),          Activation::Relu(),
          Activation::Relu6(),         Activation::Leaky(0.1f),
          {ActType::kElu, 1.0f, 0, 0}, {ActType::kSigmoid, 0, 0, 0},
          {ActType::kTanh, 0, 0, 0},   {ActType::kHardSwish, 0, 0, 0},
          {ActType::kSilu, 0, 0, 0},   {ActType::kSoftplus, 0, 0, 0},
          Activation::Clip(-0.5f, 2.0f)};
}

inline std::vector<float> RandomVector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

struct ErrorStats {
  double max_abs_err = 0;
  double max_abs_ref = 0;
  double rel() const { return max_abs_err / std::max(max_abs_ref, 1e-30); }
};

inline ErrorStats CompareVectors(const std::vector<float>& got, const std::vector<float>& ref) {
  ErrorStats s;
  EXPECT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    s.max_abs_ref = std::max(s.max_abs_ref, std::fabs((double)ref[i]));
    const double e = std::fabs((double)got[i] - (double)ref[i]);
    if (std::isnan(got[i]) != std::isnan(ref[i])) s.max_abs_err = INFINITY;
    s.max_abs_err = std::max(s.max_abs_err, e);
  }
  return s;
}

// Worst relative error seen by any op test in this process, printed at exit so
// closing notes can quote it.
struct WorstErrorRegistry {
  static WorstErrorRegistry& Get() {
    static WorstErrorRegistry r;
    return r;
  }
  void Record(const std::string& op, double rel) {
    auto& v = worst[op];
    v = std::max(v, rel);
  }
  ~WorstErrorRegistry() {
    if (worst.empty()) return;
    std::printf("\nworst |simd - ref| / max|ref| per op:\n");
    for (auto& [op, v] : worst) std::printf("  %-24s %.3g\n", op.c_str(), v);
  }
  std::map<std::string, double> worst;
};

// The acceptance rule for every op: max |simd - ref| <= tol * max |ref|.
#define EXPECT_SIMD_MATCHES_REF(op_name, got, ref, tol)                                    \
  do {                                                                                    \
    const auto _s = ::facelib::testing::CompareVectors((got), (ref));                     \
    ::facelib::testing::WorstErrorRegistry::Get().Record((op_name), _s.rel());             \
    EXPECT_LE(_s.max_abs_err, (tol) * std::max(_s.max_abs_ref, 1e-30))                    \
        << (op_name) << ": max_abs_err=" << _s.max_abs_err << " max_abs_ref=" << _s.max_abs_ref; \
  } while (0)

}  // namespace facelib::testing
