#!/usr/bin/env bash
# Parity of the converted face-api models (build/models/faceapi_*.flm) against
# face-api 1.7.15 itself (tfjs-backend-wasm, one thread), on inputs made from real
# photos by face-api's own NetInput.toBatchTensor: a whole photo for the two
# detectors (padded bottom/right), a non-square face crop for the face networks
# (padded centred), resized to each net's size.
#
#   tests/parity/faceapi.sh [--bench] [NET...]
#       NET = ssd tiny landmarks68 landmarks68_tiny recognition agegender expression (default: all)
#
# Prints one TSV row per output (compare.mjs) and exits non-zero on any FAIL.
# --bench: instead, times each net: facelib-run --repeat 30 with 1 and 2 threads
# (median) against face-api on tfjs-wasm with 1 thread (median of 30 after
# warm-up, dataSync included) and prints ms and the speed-up; exits non-zero if
# any net is under 5x single-threaded.
# Env: FACELIB_BIN_DIR (build/bin), FACELIB_MODELS_DIR (build/models),
#      FACELIB_SHARED (../shared from the repo root), FACELIB_MODEL_SOURCES (build/model-sources).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${FACELIB_BIN_DIR:-build/bin}
models=${FACELIB_MODELS_DIR:-build/models}
shared=${FACELIB_SHARED:-$root/../shared}
sources=${FACELIB_MODEL_SOURCES:-build/model-sources}
src=$sources/npm/@vladmandic__face-api@1.7.15/package/model
here=$root/tests/parity

bench=0
[ "${1:-}" = --bench ] && { bench=1; shift; }
all="ssd tiny landmarks68 landmarks68_tiny recognition agegender expression"
list=${*:-$all}

manifest_of() {
  case $1 in
    ssd) echo ssd_mobilenetv1_model ;;
    tiny) echo tiny_face_detector_model ;;
    landmarks68) echo face_landmark_68_model ;;
    landmarks68_tiny) echo face_landmark_68_tiny_model ;;
    recognition) echo face_recognition_model ;;
    agegender) echo age_gender_model ;;
    expression) echo face_expression_model ;;
    *) return 1 ;;
  esac
}

for n in $list; do manifest_of "$n" >/dev/null || { echo "unknown net '$n' (one of: $all)" >&2; exit 2; }; done
[ -d "$here/node_modules/@vladmandic/face-api" ] && [ -d "$here/node_modules/@tensorflow/tfjs-backend-wasm" ] ||
  { echo "SKIP: tests/parity/node_modules is missing (npm ci in tests/parity)"; exit 0; }
[ -x "$bin/facelib-run" ] || { echo "SKIP: $bin/facelib-run is missing"; exit 0; }
for n in $list; do
  [ -f "$models/faceapi_$n.flm" ] || { echo "SKIP: $models/faceapi_$n.flm is missing (tools/setup-models.sh)"; exit 0; }
  [ -f "$src/$(manifest_of "$n")-weights_manifest.json" ] ||
    { echo "SKIP: $src/$(manifest_of "$n")-weights_manifest.json is missing (tools/setup-models.sh)"; exit 0; }
done
# A group photo for the detectors (560x415: padded at the bottom), an LFW face
# for the face networks, cropped 110x135 around the face (padded left/right).
det_image=$shared/eval-dev/deepface_tests/images/img12.jpg
face_image=$shared/eval-dev/lfw/images/Abel_Pacheco/Abel_Pacheco_0001.jpg
face_crop=70,60,110,135
for f in "$det_image" "$face_image"; do [ -f "$f" ] || { echo "FAIL: $f is missing"; exit 1; }; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
[ $bench = 1 ] && printf 'model\tours_1t_ms\tours_2t_ms\tfaceapi_wasm_1t_ms\tspeedup_1t\tspeedup_2t\tours_1t_min_ms\tfaceapi_min_ms\n'
for n in $list; do
  d=$tmp/$n
  mkdir -p "$d"
  manifest=$src/$(manifest_of "$n")-weights_manifest.json
  model=$models/faceapi_$n.flm
  case $n in
    ssd | tiny) input_args=("$det_image") ;;
    *) input_args=("$face_image" --crop "$face_crop") ;;
  esac
  if ! node "$here/ref_faceapi.mjs" input "$n" "${input_args[@]}" "$d/in.npy" > "$d/in.log" 2>&1; then
    echo "FAIL: $n: cannot build the input: $(cat "$d/in.log")"; status=1; continue
  fi
  if ! "$bin/facelib-run" "$model" --input "$d/in.npy" --output-dir "$d/ours" --threads 1 > "$d/ours.log" 2>&1; then
    echo "FAIL: $n: facelib-run: $(cat "$d/ours.log")"; status=1; continue
  fi
  if [ $bench = 1 ]; then
    # Medians decide; the minima are printed too because a busy machine inflates medians.
    l1=$("$bin/facelib-run" "$model" --input "$d/in.npy" --output-dir "$d/b" --threads 1 --repeat 30)
    l2=$("$bin/facelib-run" "$model" --input "$d/in.npy" --output-dir "$d/b" --threads 2 --repeat 30)
    lr=$(node "$here/ref_faceapi.mjs" run "$n" "$manifest" "$d/in.npy" --bench 30)
    t1=$(echo "$l1" | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    m1=$(echo "$l1" | sed -n 's/.*min=\([0-9.]*\).*/\1/p')
    t2=$(echo "$l2" | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    tr=$(echo "$lr" | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
    mr=$(echo "$lr" | sed -n 's/.*min=\([0-9.]*\).*/\1/p')
    r1=$(awk -v a="$tr" -v b="$t1" 'BEGIN { printf "%.1f", a / b }')
    r2=$(awk -v a="$tr" -v b="$t2" 'BEGIN { printf "%.1f", a / b }')
    printf 'faceapi_%s\t%s\t%s\t%s\t%sx\t%sx\t%s\t%s\n' "$n" "$t1" "$t2" "$tr" "$r1" "$r2" "$m1" "$mr"
    awk -v r="$r1" 'BEGIN { exit !(r < 5) }' && status=1
    continue
  fi
  if ! node "$here/ref_faceapi.mjs" run "$n" "$manifest" "$d/in.npy" --out-dir "$d/ref" > "$d/ref.log" 2>&1; then
    echo "FAIL: $n: face-api: $(cat "$d/ref.log")"; status=1; continue
  fi
  outs=$(sed -n 's/^output \([^ ]*\) .*/\1/p' "$d/ours.log")
  [ -n "$outs" ] || { echo "FAIL: $n: facelib-run reported no outputs"; status=1; continue; }
  for o in $outs; do
    f=$(echo "$o" | tr '/:\\' '___').npy
    if [ ! -f "$d/ref/$f" ]; then echo "FAIL: $n/$o: face-api has no output '$o'"; status=1; continue; fi
    extra=()
    [ "$n/$o" = recognition/descriptor ] && extra=(--cosine 0.99999)
    node "$here/compare.mjs" "$d/ours/$f" "$d/ref/$f" --tol 1e-4 --label "faceapi_$n/$o" "${extra[@]}" || status=1
  done
done
exit $status
