// A register-only FMA loop used to measure the machine's fp32 peak.
#pragma once
#include <cstdint>

namespace facelib::ops {
// Runs `iters` iterations of independent FMA chains on the best target;
// returns the number of floating-point operations performed.
double RunPeakFma(uint64_t iters);
}  // namespace facelib::ops
