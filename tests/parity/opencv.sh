#!/usr/bin/env bash
# Parity of DeepFace's default "opencv" backend (facelib/haar_cascade.cc, models
# opencv_haar_face and opencv_haar_eye) against real OpenCV 4.6 from Debian's
# python3-opencv, called as DeepFace calls it (detectMultiScale3(img, 1.1, 10,
# outputRejectLevels=True), eyes with detectMultiScale(crop, 1.1, 10)).
#
#   tests/parity/opencv.sh           tables (TSV) over 30 photos, exit 1 on any FAIL
#   tests/parity/opencv.sh --bench   also: median ms of both per photo and on one 640x480 photo
#
# facelib-haar decodes each photo and writes the gray pixels it searched as PGM;
# tests/parity/ref_opencv.py runs OpenCV on the same pixels. Per photo: the same
# number of faces, every box within 1 px, level weights within 1e-3, eyes within
# 1 px. Then every window that passes all stages (minNeighbors 0, no grouping)
# is compared for the face and eye cascades and for two cascades DeepFace does not
# use, converted here from the same package: haarcascade_smile.xml (tilted
# features) and haarcascade_eye_tree_eyeglasses.xml (trees of depth 2).
#
# Env: FACELIB_BIN_DIR (build/bin), FACELIB_MODELS_DIR (build/models),
#      FACELIB_MODEL_SOURCES (build/model-sources), FACELIB_SHARED (../shared),
#      FACELIB_PYTHON (/usr/bin/python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FACELIB_BIN_DIR:-$root/build/bin}
models=${FACELIB_MODELS_DIR:-$root/build/models}
sources=${FACELIB_MODEL_SOURCES:-$root/build/model-sources}
shared=${FACELIB_SHARED:-$root/../shared}
py=${FACELIB_PYTHON:-/usr/bin/python3}
bench=0
[ "${1:-}" = --bench ] && bench=1

if ! "$py" -c 'import cv2' 2>/dev/null; then
  echo "SKIP: $py cannot import cv2 (apt-get install python3-opencv)"
  exit 0
fi
for f in "$bin/facelib-haar" "$bin/facelib-convert"; do
  if [ ! -x "$f" ]; then echo "SKIP: $f not built"; exit 0; fi
done
for m in opencv_haar_face opencv_haar_eye; do
  if [ ! -f "$models/$m.flm" ]; then echo "SKIP: $models/$m.flm not converted yet"; exit 0; fi
done
xml=$sources/deb/opencv-data/usr/share/opencv4/haarcascades
[ -f "$xml/haarcascade_frontalface_default.xml" ] || xml=/usr/share/opencv4/haarcascades
if [ ! -f "$xml/haarcascade_frontalface_default.xml" ]; then
  echo "SKIP: haarcascade_frontalface_default.xml not found (opencv-data)"
  exit 0
fi
eval_dev=$shared/eval-dev
if [ ! -d "$eval_dev/dlib_faces/images" ] || [ ! -d "$eval_dev/lfw/images" ] ||
   [ ! -d "$eval_dev/wider_val200/images" ]; then
  echo "SKIP: $eval_dev (dlib_faces, lfw, wider_val200) missing"
  exit 0
fi

# 30 photos: every dlib_faces image (9 with faces, dogs.jpg without), 10 LFW and 10 WIDER images.
mapfile -t photos < <(
  find "$eval_dev/dlib_faces/images" -name '*.jpg' | sort
  find "$eval_dev/lfw/images" -name '*.jpg' | sort | awk 'NR % 60 == 1' | head -10
  find "$eval_dev/wider_val200/images" -name '*.jpg' | sort | awk 'NR % 5 == 1' | head -10
)
n=${#photos[@]}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gray"
for p in "${photos[@]}"; do echo "${p#"$eval_dev"/}"; done > "$work/names.txt"
face=$models/opencv_haar_face.flm
eye=$models/opencv_haar_eye.flm

status=0
echo "# DeepFace's opencv backend: faces (detectMultiScale3 1.1/10) and eyes"
"$bin/facelib-haar" --face "$face" --eye "$eye" --dump-gray "$work/gray" "${photos[@]}" > "$work/ours.tsv"
"$py" "$root/tests/parity/ref_opencv.py" run "$xml/haarcascade_frontalface_default.xml" "$xml/haarcascade_eye.xml" \
  "$work/gray" "$n" > "$work/ref.tsv"
"$py" "$root/tests/parity/ref_opencv.py" compare "$work/ours.tsv" "$work/ref.tsv" "$n" --eyes \
  --names "$work/names.txt" || status=1

# Every window that passed all stages, per cascade (the "faces" columns count windows).
"$bin/facelib-convert" opencv-cascade "$xml/haarcascade_smile.xml" --out "$work/smile.flm" > /dev/null
"$bin/facelib-convert" opencv-cascade "$xml/haarcascade_eye_tree_eyeglasses.xml" --out "$work/eyeglasses.flm" \
  > /dev/null
mapfile -t grays < <(for ((i = 0; i < n; ++i)); do echo "$work/gray/$i.pgm"; done)
for c in "frontalface_default $face" "eye $eye" "smile $work/smile.flm" "eye_tree_eyeglasses $work/eyeglasses.flm"; do
  name=${c%% *} flm=${c#* }
  # facelib-haar reads the photos again (its decoder has no PGM); the pixels are the same.
  "$bin/facelib-haar" --cascade "$flm" --neighbors 0 "${photos[@]}" > "$work/o_$name.tsv"
  "$py" "$root/tests/parity/ref_opencv.py" cascade "$xml/haarcascade_$name.xml" "$work/gray" "$n" 1.1 0 \
    > "$work/r_$name.tsv"
  printf '# haarcascade_%s.xml, minNeighbors 0: ' "$name"
  "$py" "$root/tests/parity/ref_opencv.py" compare "$work/o_$name.tsv" "$work/r_$name.tsv" "$n" | tail -1 || status=1
done

if [ $bench = 1 ]; then
  echo "# median ms over 10 runs: cascade = detectMultiScale3 only, detect = faces + eyes (DeepFace's pipeline)"
  printf 'photo\tthreads\tours_cascade_ms\tcv2_cascade_ms\tours_detect_ms\tcv2_detect_ms\n'
  photo=$eval_dev/dlib_faces/images/2008_002079.jpg  # 500x375, six faces
  mkdir -p "$work/bench"
  for t in 1 2; do
    "$bin/facelib-haar" --face "$face" --eye "$eye" --threads "$t" --repeat 10 "${photos[@]}" | grep '^time' \
      > "$work/ours_time.tsv"
    "$py" "$root/tests/parity/ref_opencv.py" bench "$xml/haarcascade_frontalface_default.xml" \
      "$xml/haarcascade_eye.xml" "$work/gray" "$n" 10 "$t" > "$work/ref_time.tsv"
    "$bin/facelib-haar" --face "$face" --eye "$eye" --threads "$t" --repeat 10 --resize 640x480 \
      --dump-gray "$work/bench" "$photo" | grep '^time' > "$work/ours_640.tsv"
    "$py" "$root/tests/parity/ref_opencv.py" bench "$xml/haarcascade_frontalface_default.xml" \
      "$xml/haarcascade_eye.xml" "$work/bench" 1 10 "$t" > "$work/ref_640.tsv"
    "$py" - "$work" "$t" <<'EOF'
import statistics, sys
work, t = sys.argv[1], sys.argv[2]
def rows(path):
    return [list(map(float, line.split('\t')[2:4])) for line in open(path)]
names = [line.rstrip('\n') for line in open(f"{work}/names.txt")]
ours, ref = rows(f"{work}/ours_time.tsv"), rows(f"{work}/ref_time.tsv")
for name, o, r in zip(names, ours, ref):
    print(f"{name}\t{t}\t{o[0]:.2f}\t{r[0]:.2f}\t{o[1]:.2f}\t{r[1]:.2f}")
print(f"sum of {len(names)} photos\t{t}\t" + "\t".join(
    f"{sum(v[k] for v in src):.1f}" for k, src in ((0, ours), (0, ref), (1, ours), (1, ref))))
o, r = rows(f"{work}/ours_640.tsv")[0], rows(f"{work}/ref_640.tsv")[0]
print(f"dlib_faces/images/2008_002079.jpg (640x480)\t{t}\t{o[0]:.2f}\t{r[0]:.2f}\t{o[1]:.2f}\t{r[1]:.2f}")
EOF
  done
fi
exit $status
