#!/usr/bin/env bash
# The main job: builds facelib (installing missing Debian packages), sets up the
# model zoo (fetch, verify, convert), lists the zoo and times every converted
# model on a synthetic input of its size, runs the synthetic demo networks with
# facelib-run, and prints the kernel benchmark table.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/setup-models.sh
build/bin/facelib-models --run
out=build/demo
build/bin/facelib-make-demo-models "$out" >/dev/null
for m in "$out"/*.flm; do
  echo "== facelib-run $m"
  build/bin/facelib-run "$m" --input "$out/input.npy" --output-dir "$out/$(basename "$m" .flm)" --repeat 20
done
echo "== kernel benchmarks (single thread)"
build/bin/facelib_bench --benchmark_filter='BM_PeakFMA|BM_Conv|BM_Depthwise|BM_Dense' --benchmark_min_time=0.2
