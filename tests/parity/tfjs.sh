#!/usr/bin/env bash
# Parity of the converted Human tfjs models (build/models/human_*.flm) against tfjs
# itself (tfjs-backend-wasm, one thread), on inputs made from a real photo with the
# normalisation Human applies to each model.
#
#   tests/parity/tfjs.sh [--bench] [MODEL...]      MODEL = blazeface, faceres, ... (default: all)
#
# Prints one TSV row per output (compare.mjs) and exits non-zero on any FAIL.
# --bench: instead, times each model: facelib-run --repeat 30 with 1 and 2 threads
# (median) against tfjs-wasm with 1 thread (median of 30 after warm-up, dataSync
# included) and prints ms and the speed-up; exits non-zero if any model is under 5x.
# Env: FACELIB_BIN_DIR (build/bin), FACELIB_MODELS_DIR (build/models),
#      FACELIB_SHARED (../shared from the repo root), FACELIB_MODEL_SOURCES (build/model-sources).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${FACELIB_BIN_DIR:-build/bin}
models=${FACELIB_MODELS_DIR:-build/models}
shared=${FACELIB_SHARED:-$root/../shared}
sources=${FACELIB_MODEL_SOURCES:-build/model-sources}
src=$sources/npm/@vladmandic__human-models@3.0.4/package/models
here=$root/tests/parity

bench=0
[ "${1:-}" = --bench ] && { bench=1; shift; }
all="blazeface facemesh iris emotion faceres antispoof liveness gear age gender gender-ssrnet-imdb mobilefacenet mobileface"
list=${*:-$all}

[ -d "$here/node_modules/@tensorflow/tfjs-backend-wasm" ] || { echo "SKIP: tests/parity/node_modules is missing (npm ci in tests/parity)"; exit 0; }
[ -x "$bin/facelib-run" ] || { echo "SKIP: $bin/facelib-run is missing"; exit 0; }
for m in $list; do
  [ -f "$models/human_$m.flm" ] || { echo "SKIP: $models/human_$m.flm is missing (tools/setup-models.sh)"; exit 0; }
  [ -f "$src/$m.json" ] || { echo "SKIP: $src/$m.json is missing (tools/setup-models.sh)"; exit 0; }
done
image=$shared/eval-dev/lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg
[ -f "$image" ] || { echo "SKIP: $image is missing"; exit 0; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
[ $bench = 1 ] && printf 'model\tours_1t_ms\tours_2t_ms\ttfjs_wasm_1t_ms\tspeedup_1t\tspeedup_2t\n'
for m in $list; do
  d=$tmp/$m
  mkdir -p "$d"
  node "$here/tfjs_input.mjs" "$m" "$image" "$d/in.npy" || { echo "FAIL: $m: cannot build the input"; status=1; continue; }
  if ! "$bin/facelib-run" "$models/human_$m.flm" --input "$d/in.npy" --output-dir "$d/ours" --threads 1 > "$d/ours.log" 2>&1; then
    echo "FAIL: $m: facelib-run: $(cat "$d/ours.log")"; status=1; continue
  fi
  outs=$(sed -n 's/^output \([^ ]*\) .*/\1/p' "$d/ours.log" | paste -sd, -)
  if [ $bench = 1 ]; then
    t1=$("$bin/facelib-run" "$models/human_$m.flm" --input "$d/in.npy" --output-dir "$d/b" --threads 1 --repeat 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    t2=$("$bin/facelib-run" "$models/human_$m.flm" --input "$d/in.npy" --output-dir "$d/b" --threads 2 --repeat 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    tr=$(node "$here/ref_tfjs.mjs" "$src/$m.json" --input "$d/in.npy" --outputs "$outs" --bench 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    r1=$(awk -v a="$tr" -v b="$t1" 'BEGIN { printf "%.1f", a / b }')
    r2=$(awk -v a="$tr" -v b="$t2" 'BEGIN { printf "%.1f", a / b }')
    printf '%s\t%s\t%s\t%s\t%sx\t%sx\n' "$m" "$t1" "$t2" "$tr" "$r1" "$r2"
    awk -v r="$r1" 'BEGIN { exit !(r < 5) }' && status=1
    continue
  fi
  if ! node "$here/ref_tfjs.mjs" "$src/$m.json" --input "$d/in.npy" --outputs "$outs" --out-dir "$d/ref" > "$d/ref.log" 2>&1; then
    echo "FAIL: $m: tfjs: $(cat "$d/ref.log")"; status=1; continue
  fi
  IFS=, read -ra names <<< "$outs"
  for o in "${names[@]}"; do
    f=$(echo "$o" | tr '/:\\' '___').npy
    extra=()
    case "$m/$o" in
      faceres/global_pooling/Mean | mobilefacenet/* | mobileface/*) extra=(--cosine 0.99999) ;;
    esac
    node "$here/compare.mjs" "$d/ours/$f" "$d/ref/$f" --tol 1e-4 --label "$m/$o" "${extra[@]}" || status=1
  done
done
exit $status
