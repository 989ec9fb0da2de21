#!/usr/bin/env bash
# Parity of the PyTorch-sourced models (MTCNN from ipazc/mtcnn and
# facenet-pytorch, MiniFASNetV2/V1SE, RetinaFace-MobileNet0.25) against
# reference runs in PyTorch (tests/parity/ref_torch.py, Debian python3-torch).
#
#   tests/parity/torch.sh           parity table (TSV), exit 1 on any FAIL
#   tests/parity/torch.sh --bench   also: median ms, facelib vs torch, 1 and 2 threads
#
# Env: FACELIB_BIN_DIR (build/bin), FACELIB_MODELS_DIR (build/models),
#      FACELIB_SHARED (../shared), FACELIB_PYTHON (/usr/bin/python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FACELIB_BIN_DIR:-$root/build/bin}
models=${FACELIB_MODELS_DIR:-$root/build/models}
shared=${FACELIB_SHARED:-$root/../shared}
py=${FACELIB_PYTHON:-/usr/bin/python3}
bench=0
[ "${1:-}" = --bench ] && bench=1

if ! "$py" -c 'import torch, numpy, joblib, PIL' 2>/dev/null; then
  echo "SKIP: $py cannot import torch, numpy, joblib and PIL (apt-get install python3-torch python3-joblib python3-pil)"
  exit 0
fi
for m in mtcnn_pnet mtcnn_rnet mtcnn_onet minifasnet_v2 minifasnet_v1se retinaface_mnet025_torch; do
  if [ ! -f "$models/$m.flm" ]; then echo "SKIP: $models/$m.flm not converted yet"; exit 0; fi
done
for f in "$bin/facelib-run" "$bin/facelib-convert"; do
  if [ ! -x "$f" ]; then echo "SKIP: $f not built"; exit 0; fi
done
image=$shared/eval-dev/deepface_tests/images/img11.jpg
if [ ! -f "$image" ]; then echo "SKIP: $image missing"; exit 0; fi
src=$shared/models
for f in mtcnn_ipazc/pnet.lz4 mtcnn_ipazc/mtcnn_weights.npy mtcnn_facenet_pytorch/pnet.pt minifasnet/2.7_80x80_MiniFASNetV2.pth retinaface_biubug6/Final_Retinaface.pth; do
  if [ ! -f "$src/$f" ]; then echo "SKIP: $src/$f missing"; exit 0; fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" "$root/tests/parity/ref_torch.py" inputs "$image" "$work"

# The zoo models plus the other copies of the MTCNN weights, converted here:
# ipazc's old .npy (transposed-image kernels), facenet-pytorch's legacy .pt,
# and that .pt re-saved by torch in the zip container.
for n in pnet rnet onet; do
  "$bin/facelib-convert" mtcnn "$src/mtcnn_ipazc/mtcnn_weights.npy" --net $n --out "$work/mtcnn_${n}_npy.flm" >/dev/null
  "$bin/facelib-convert" mtcnn "$src/mtcnn_facenet_pytorch/$n.pt" --net $n --out "$work/mtcnn_${n}_pt.flm" >/dev/null
  "$py" "$root/tests/parity/ref_torch.py" zip "$src/mtcnn_facenet_pytorch/$n.pt" "$work/$n.zip.pt"
  "$bin/facelib-convert" torch "$work/$n.zip.pt" --arch mtcnn-$n --out "$work/mtcnn_${n}_zip.flm" >/dev/null
done

# model  input  outputs
cases="mtcnn_pnet mtcnn_pnet prob,bbox_reg
mtcnn_rnet mtcnn_rnet prob,bbox_reg
mtcnn_onet mtcnn_onet prob,bbox_reg,landmarks
mtcnn_pnet_npy mtcnn_pnet prob,bbox_reg
mtcnn_rnet_npy mtcnn_rnet prob,bbox_reg
mtcnn_onet_npy mtcnn_onet prob,bbox_reg,landmarks
mtcnn_pnet_pt mtcnn_pnet prob,bbox_reg
mtcnn_rnet_pt mtcnn_rnet prob,bbox_reg
mtcnn_onet_pt mtcnn_onet prob,bbox_reg,landmarks
mtcnn_pnet_zip mtcnn_pnet prob,bbox_reg
minifasnet_v2 minifasnet logits,probs
minifasnet_v1se minifasnet logits,probs
retinaface_mnet025_torch retinaface loc,conf,landms"

model_file() { if [ -f "$models/$1.flm" ]; then echo "$models/$1.flm"; else echo "$work/$1.flm"; fi; }

status=0
printf 'label\tshape\tmax_abs_err\tmax_abs_ref\trel\tcosine\tresult\n'
while read -r model input outputs; do
  mkdir -p "$work/ours_$model" "$work/ref_$model"
  "$bin/facelib-run" "$(model_file "$model")" --input "$work/$input.npy" --output-dir "$work/ours_$model" --threads 1 >/dev/null
  "$py" "$root/tests/parity/ref_torch.py" run "$model" "$src" "$work/$input.npy" "$work/ref_$model"
  for o in ${outputs//,/ }; do
    node "$root/tests/parity/compare.mjs" "$work/ours_$model/$o.npy" "$work/ref_$model/$o.npy" --tol 1e-4 \
      --label "$model/$o" || status=1
  done
done <<< "$cases"

if [ $bench = 1 ]; then
  printf '\nmodel\tinput\tfacelib_1t_ms\ttorch_1t_ms\tfacelib_2t_ms\ttorch_2t_ms\n'
  for pair in mtcnn_pnet:mtcnn_pnet mtcnn_rnet:mtcnn_rnet mtcnn_onet:mtcnn_onet minifasnet_v2:minifasnet \
              minifasnet_v1se:minifasnet retinaface_mnet025_torch:retinaface; do
    model=${pair%%:*} input=${pair##*:}
    shape=$("$py" -c "import numpy; print('x'.join(map(str, numpy.load('$work/$input.npy').shape)))")
    row="$model	$shape"
    for t in 1 2; do
      ours=$("$bin/facelib-run" "$models/$model.flm" --input "$work/$input.npy" --output-dir "$work/bench" \
               --threads $t --repeat 30 | sed -n 's/.*median=\([0-9.]*\).*/\1/p')
      ref=$("$py" "$root/tests/parity/ref_torch.py" bench "$model" "$src" "$work/$input.npy" $t 30)
      row="$row	$ours	$ref"
    done
    # columns: facelib 1t, torch 1t, facelib 2t, torch 2t
    echo "$row"
  done
fi
exit $status
