#!/usr/bin/env bash
# Parity of the converted ONNX models against onnxruntime-node, and (--bench) speed.
#
#   tests/parity/onnx.sh [--bench] [MODEL...]
#
# Env: FACELIB_BIN_DIR (default build/bin), FACELIB_MODELS_DIR (default build/models),
#      FACELIB_SHARED (default ../shared relative to the repo root).
# For every model: one real photo -> bilinear resize -> the model's normalisation ->
# NHWC .npy; onnxruntime-node (1 intra-op thread) runs the NCHW transpose, facelib-run
# runs the converted model on the NHWC tensor, and compare.mjs checks every output:
# max |ours - ref| <= 1e-4 * max(1, max |ref|). Dynamic-size models run at two sizes.
# Prints TSV rows; exits 1 if any comparison fails. Skips (exit 0, "SKIP: ...") only
# when node_modules or the converted models are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${FACELIB_BIN_DIR:-$root/build/bin}"
models="${FACELIB_MODELS_DIR:-$root/build/models}"
shared="${FACELIB_SHARED:-$root/../shared}"
image="$shared/eval-dev/wider_val200/images/0--Parade/0_Parade_Parade_0_194.jpg"

bench=0
want=()
for a in "$@"; do
  case "$a" in
    --bench) bench=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) want+=("$a") ;;
  esac
done

# name | source file under $shared/models | normalisation (see ref_onnx.mjs) | test sizes HxW
table=(
  "yunet|yunet_2023mar/yunet_s_dynamic.onnx|bgr255|640x640 320x480"
  "yunet_640|yunet_2023mar/yunet_s_640_640.onnx|bgr255|640x640"
  "yunet_n|yunet_n/yunet_n_dynamic.onnx|bgr255|640x640 320x480"
  "retinaface_mnet025|retinaface_mbnet025/retinaface_mbnet0.25.onnx|bgr_mean|640x640 480x640"
  "scrfd_500m|scrfd_500m_bnkps/scrfd_500m_bnkps.onnx|rgb_scrfd|640x640 480x640"
  "ultraface_rfb320|ultraface/version-RFB-320.onnx|rgb_ultraface|240x320"
  "ultraface_rfb640|ultraface/version-RFB-640.onnx|rgb_ultraface|480x640"
  "ultraface_slim320|ultraface/version-slim-320.onnx|rgb_ultraface|240x320"
  "yolo5face_500m|yolo5face_500m/yolo5face_500m_320x320.onnx|rgb01|320x320"
)

if [[ ! -d "$here/node_modules/onnxruntime-node" || ! -d "$here/node_modules/jpeg-js" ]]; then
  echo "SKIP: tests/parity/node_modules (onnxruntime-node, jpeg-js) is not installed"
  exit 0
fi
if [[ ! -x "$bin/facelib-run" ]]; then
  echo "SKIP: $bin/facelib-run is not built"
  exit 0
fi
if [[ ! -f "$image" ]]; then
  echo "FAIL: test image $image is missing (set FACELIB_SHARED)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail=0
ran=0
median() { sed -n 's/.*median=\([0-9.]*\).*/\1/p'; }

if (( bench )); then
  printf 'model\tsize\tours_1t_ms\tours_2t_ms\tort_1t_ms\tort_2t_ms\tours/ort_1t\tours/ort_2t\tmin: ours_1t ort_1t ratio\n'
else
  printf 'label\tshape\tmax_abs_err\tmax_abs_ref\trel\tcosine\tresult\n'
fi

for row in "${table[@]}"; do
  IFS='|' read -r name src norm sizes <<<"$row"
  if (( ${#want[@]} )) && [[ ! " ${want[*]} " == *" $name "* ]]; then continue; fi
  model="$models/$name.flm"
  onnx="$shared/models/$src"
  if [[ ! -f "$model" ]]; then echo "SKIP: $model is not converted"; continue; fi
  if [[ ! -f "$onnx" ]]; then echo "FAIL: source model $onnx is missing" >&2; fail=1; continue; fi
  for size in $sizes; do
    d="$work/$name-$size"
    mkdir -p "$d"
    node "$here/ref_onnx.mjs" input "$image" "$size" "$norm" "$d/input.npy"
    if (( bench )); then
      # Medians of ~30 runs (facelib-run counts its cold first run; one outlier in 31 does not move the median), plus
      # the single-thread minimum, which is the steadier number on a shared machine.
      run1=$("$bin/facelib-run" "$model" --input "$d/input.npy" --output-dir "$d/ours" --threads 1 --repeat 31)
      ort=$(node "$here/ref_onnx.mjs" bench "$onnx" "$d/input.npy" --threads 1,2 --runs 30 --warmup 5)
      run2=$("$bin/facelib-run" "$model" --input "$d/input.npy" --output-dir "$d/ours" --threads 2 --repeat 31)
      ours1=$(median <<<"$run1")
      ours2=$(median <<<"$run2")
      ours1min=$(sed -n 's/.* min=\([0-9.]*\).*/\1/p' <<<"$run1")
      ort1=$(grep 'threads=1 ' <<<"$ort" | median)
      ort2=$(grep 'threads=2 ' <<<"$ort" | median)
      ort1min=$(grep 'threads=1 ' <<<"$ort" | sed -n 's/.* min=\([0-9.]*\).*/\1/p')
      awk -v n="$name" -v s="$size" -v a="$ours1" -v b="$ours2" -v c="$ort1" -v d="$ort2" -v e="$ours1min" -v f="$ort1min" \
        'BEGIN { printf "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f %.2f %.2f\n", n, s, a, b, c, d, a / c, b / d, e, f, e / f }'
      ran=1
      continue
    fi
    node "$here/ref_onnx.mjs" run "$onnx" "$d/input.npy" "$d/ref" --threads 1 >"$d/ref.log"
    if ! "$bin/facelib-run" "$model" --input "$d/input.npy" --output-dir "$d/ours" --threads 1 >"$d/ours.log" 2>&1; then
      echo "FAIL: facelib-run $name at $size: $(tail -1 "$d/ours.log")"
      fail=1
      continue
    fi
    while IFS=$'\t' read -r out _shape; do
      f="${out//[\/:\\]/_}.npy"
      if [[ ! -f "$d/ours/$f" ]]; then echo "FAIL: $name/$out at $size: facelib-run wrote no $f"; fail=1; continue; fi
      node "$here/compare.mjs" "$d/ours/$f" "$d/ref/$f" --tol 1e-4 --label "$name@$size/$out" || fail=1
      ran=1
    done <"$d/ref.log"
  done
done

if (( ! ran && ! fail )); then echo "SKIP: no converted ONNX model found in $models"; fi
exit "$fail"
