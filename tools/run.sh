#!/usr/bin/env bash
# The main job: builds facelib (installing missing Debian packages), sets up the
# model zoo (fetch, verify, convert), then runs DeepFace's operations with the
# `facelib` command line on the sample photos of @vladmandic/face-api's demo/
# folder (taken from the npm tarball by the model setup, never committed):
# analyze, verify and draw, printing the JSON results and the annotated image's path.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/setup-models.sh
demo=build/model-sources/npm/@vladmandic__face-api@1.7.15/package/demo
out=build/demo
mkdir -p "$out"
bin=build/bin/facelib
echo "== facelib models"
"$bin" models | head -c 600; echo " ..."
echo "== facelib analyze $demo/sample2.jpg"
"$bin" analyze "$demo/sample2.jpg"
for pair in "sample1 sample3" "sample2 sample6"; do
  set -- $pair
  echo "== facelib verify $1.jpg $2.jpg (every face pair is compared; the closest decides)"
  "$bin" verify "$demo/$1.jpg" "$demo/$2.jpg"
done
for i in 1 2 3 4 5 6; do
  echo "== facelib draw $demo/sample$i.jpg --out $out/sample${i}_annotated.jpg"
  "$bin" draw "$demo/sample$i.jpg" --out "$out/sample${i}_annotated.jpg"
done
echo "annotated images: $(ls "$out"/sample*_annotated.jpg | tr '\n' ' ')"
