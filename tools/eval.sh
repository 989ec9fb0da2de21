#!/usr/bin/env bash
# Accuracy and speed of the engine on the labelled development sets in
# ../shared/eval-dev (or $FACELIB_EVAL_DEV): prints the tables quoted in the
# documentation. Needs a build (tools/setup.sh) and the zoo (tools/setup-models.sh).
#   tools/eval.sh [lfw|wider|utk|fer|find|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FACELIB_EVAL_DEV:-../shared/eval-dev}
bin=${FACELIB_BIN_DIR:-build/bin}
what=${1:-all}
[ -d "$data" ] || { echo "eval: $data not found" >&2; exit 1; }

if [ "$what" = lfw ] || [ "$what" = all ]; then
  echo "== LFW verification (300 pairs): recognizer x detector, cosine, default alignment (landmarks)"
  for model in MobileFaceNet Dlib HumanFaceRes HumanMobileFaceNet; do
    for det in mtcnn yunet retinaface opencv; do
      "$bin/facelib-eval" lfw --data "$data/lfw" --model "$model" --detector "$det" 2>&1 >/dev/null | head -2
    done
  done
fi
if [ "$what" = wider ] || [ "$what" = all ]; then
  echo "== WIDER FACE val subset: recall / precision at each detector's default threshold"
  for det in opencv dlib mtcnn retinaface mediapipe yunet ssd scrfd ultraface tinyface blazeface yolo5face; do
    "$bin/facelib-eval" wider --data "$data/wider_val200" --detector "$det" 2>&1 >/dev/null
  done
fi
if [ "$what" = utk ] || [ "$what" = all ]; then
  echo "== UTKFace: age, gender, race"
  for m in faceapi human; do
    "$bin/facelib-eval" utk --data "$data/utkface_part1" --age-model $m --gender-model $m 2>&1 >/dev/null
    "$bin/facelib-eval" lfw-gender --data "$data/lfw" --gender-model $m 2>&1 >/dev/null
  done
fi
if [ "$what" = fer ] || [ "$what" = all ]; then
  echo "== FER2013: emotion"
  for m in human faceapi; do
    "$bin/facelib-eval" fer --data "$data/fer2013_test" --emotion-model $m 2>&1 | grep -v '^ \|^{'
  done
fi
if [ "$what" = find ] || [ "$what" = all ]; then
  echo "== find on a 1,000-image folder (LFW + UTKFace + WIDER + DeepFace test photos)"
  db=$(mktemp -d)
  trap 'rm -rf "$db"' EXIT
  n=0
  while IFS= read -r f; do
    [ $n -ge 1000 ] && break
    cp "$f" "$db/$(printf '%04d' $n)_$(basename "$f")"
    n=$((n + 1))
  done < <(find "$data/lfw/images" "$data/utkface_part1/images" "$data/wider_val200/images" "$data/deepface_tests/images" \
             -type f \( -iname '*.jpg' -o -iname '*.png' \) | sort)
  query="$data/lfw/images/Ann_Veneman/Ann_Veneman_0011.jpg"
  t0=$(date +%s.%N)
  "$bin/facelib" find "$query" --db "$db" --no-progress >/dev/null
  t1=$(date +%s.%N)
  extra=0
  for f in $(find "$data/dlib_faces/images" -type f -iname '*.jpg' | sort | head -10); do
    cp "$f" "$db/extra_$extra.jpg"; extra=$((extra + 1))
  done
  "$bin/facelib" find "$query" --db "$db" --no-progress >/dev/null
  t2=$(date +%s.%N)
  "$bin/facelib" find "$query" --db "$db" --no-progress --no-refresh >/dev/null
  t3=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$n" -v e="$extra" 'BEGIN {
    printf "first build of %d images: %.1f s (%.1f ms/image)\n", n, b - a, 1000 * (b - a) / n;
    printf "refresh after adding %d images: %.2f s\n", e, c - b;
    printf "query without refresh (load store + detect + embed + search): %.3f s\n", d - c }'
fi
