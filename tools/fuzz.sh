#!/usr/bin/env bash
# Fuzzes the model loader with libFuzzer (clang, ASan+UBSan).
#   tools/fuzz.sh [SECONDS]   (default 600)
# The corpus is seeded with every model file found in build/models (converted
# models, when set up) and the synthetic demo models.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
tools/setup.sh --fuzz
corpus=build-fuzz/corpus
mkdir -p "$corpus" build-fuzz/seeds
build-fuzz/bin/facelib-make-demo-models build-fuzz/seeds >/dev/null
cp build-fuzz/seeds/*.flm "$corpus"/
if compgen -G "build/models/*.flm" >/dev/null; then cp build/models/*.flm "$corpus"/; fi
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
build-fuzz/bin/facelib_fuzz_model_loader "$corpus" -max_total_time="$seconds" -max_len=4194304 \
  -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 -artifact_prefix=build-fuzz/
