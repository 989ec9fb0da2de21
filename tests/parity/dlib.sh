#!/usr/bin/env bash
# Parity of DeepFace's "dlib" backend (facelib/dlib_hog.cc + facelib/shape_predictor.cc,
# models dlib_hog_frontal and dlib_shape68) against real dlib 19.24 from Debian's
# libdlib-dev, called as DeepFace calls it (detector.run(bgr, 1), then sp(bgr, rect)).
#
#   tests/parity/dlib.sh           table (TSV) over 30 photos, exit 1 on any FAIL
#   tests/parity/dlib.sh --bench   also: median ms of both on one 640x480 photo
#
# facelib-dlib decodes each photo and writes the pixels it used as PPM; the
# reference program (tests/parity/ref_dlib.cc, compiled here with g++ against
# the installed dlib, cached next to the binaries) reads the same pixels.
# Per photo: the number of faces must be equal; per face (in order) boxes
# within 1 px, scores within 1e-3, the 68 landmarks within 0.5 px.
#
# Env: FACELIB_BIN_DIR (build/bin), FACELIB_MODELS_DIR (build/models),
#      FACELIB_MODEL_SOURCES (build/model-sources), FACELIB_SHARED (../shared).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FACELIB_BIN_DIR:-$root/build/bin}
models=${FACELIB_MODELS_DIR:-$root/build/models}
sources=${FACELIB_MODEL_SOURCES:-$root/build/model-sources}
shared=${FACELIB_SHARED:-$root/../shared}
bench=0
[ "${1:-}" = --bench ] && bench=1

if [ ! -f /usr/include/dlib/image_processing/frontal_face_detector.h ] || ! pkg-config --exists dlib-1 2>/dev/null; then
  echo "SKIP: dlib is not installed (apt-get install libdlib-dev)"
  exit 0
fi
if ! command -v g++ >/dev/null || ! command -v python3 >/dev/null; then
  echo "SKIP: g++ or python3 missing"
  exit 0
fi
if [ ! -x "$bin/facelib-dlib" ]; then echo "SKIP: $bin/facelib-dlib not built"; exit 0; fi
for m in dlib_hog_frontal dlib_shape68; do
  if [ ! -f "$models/$m.flm" ]; then echo "SKIP: $models/$m.flm not converted yet"; exit 0; fi
done
dat=$sources/deb/libdlib-data/usr/share/dlib/shape_predictor_68_face_landmarks.dat
[ -f "$dat" ] || dat=/usr/share/dlib/shape_predictor_68_face_landmarks.dat
if [ ! -f "$dat" ]; then echo "SKIP: shape_predictor_68_face_landmarks.dat not found (libdlib-data)"; exit 0; fi
eval_dev=$shared/eval-dev
if [ ! -d "$eval_dev/dlib_faces/images" ] || [ ! -d "$eval_dev/lfw/images" ] || [ ! -d "$eval_dev/wider_val200/images" ]; then
  echo "SKIP: $eval_dev (dlib_faces, lfw, wider_val200) missing"
  exit 0
fi

# The reference program, rebuilt when its source is newer than the cached binary.
cache=${FACELIB_PARITY_CACHE:-$bin/../parity-cache}
mkdir -p "$cache"
ref=$cache/ref_dlib
if [ ! -x "$ref" ] || [ "$root/tests/parity/ref_dlib.cc" -nt "$ref" ]; then
  # Baseline x86-64 flags: dlib's SIMD helpers then use SSE2, as a generic build does.
  # shellcheck disable=SC2046
  g++ -O2 -std=c++17 "$root/tests/parity/ref_dlib.cc" -o "$ref.tmp" $(pkg-config --cflags --libs dlib-1)
  mv "$ref.tmp" "$ref"
fi

# 30 photos: every dlib_faces image (9 with faces, dogs.jpg without), 10 LFW and 10 WIDER images.
mapfile -t photos < <(
  find "$eval_dev/dlib_faces/images" -name '*.jpg' | sort
  find "$eval_dev/lfw/images" -name '*.jpg' | sort | awk 'NR % 60 == 1' | head -10
  find "$eval_dev/wider_val200/images" -name '*.jpg' | sort | awk 'NR % 5 == 1' | head -10
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ppm"
"$bin/facelib-dlib" --models "$models" --dump-ppm "$work/ppm" "${photos[@]}" > "$work/ours.txt"
args=()
for i in "${!photos[@]}"; do args+=("${photos[$i]}=$work/ppm/$i.ppm"); done
"$ref" "$dat" "${args[@]}" > "$work/ref.txt"

status=0
python3 - "$work/ours.txt" "$work/ref.txt" "$eval_dev/" <<'EOF' || status=1
import sys

def load(path):
    out, order = {}, []
    for line in open(path):
        line = line.rstrip('\n')
        if line.startswith('# '):
            name = line[2:].rsplit(' ', 3)[0]
            out[name] = []
            order.append(name)
            continue
        name, rect, score, filt, pts = line.split('\t')
        out[name].append((list(map(int, rect.split())), float(score), int(filt),
                          [tuple(map(float, p.split(','))) for p in pts.split()]))
    return out, order

ours, order = load(sys.argv[1])
ref, _ = load(sys.argv[2])
prefix = sys.argv[3]
print('photo\tfaces_ours\tfaces_dlib\tmax_box_px\tmax_score_diff\tmax_landmark_px\tresult')
fails = faces = 0
worst = [0, 0.0, 0.0]
for name in order:
    a, b = ours[name], ref.get(name, [])
    box = score = lm = 0.0
    ok = len(a) == len(b)
    for fa, fb in zip(a, b):
        box = max(box, max(abs(x - y) for x, y in zip(fa[0], fb[0])))
        score = max(score, abs(fa[1] - fb[1]))
        lm = max([lm] + [max(abs(p[0] - q[0]), abs(p[1] - q[1])) for p, q in zip(fa[3], fb[3])])
        ok = ok and len(fa[3]) == len(fb[3]) == 68
    ok = ok and box <= 1 and score <= 1e-3 and lm <= 0.5
    faces += len(b)
    worst = [max(worst[0], box), max(worst[1], score), max(worst[2], lm)]
    fails += not ok
    print(f"{name.replace(prefix, '')}\t{len(a)}\t{len(b)}\t{box:g}\t{score:.3g}\t{lm:g}\t{'ok' if ok else 'FAIL'}")
print(f"# {len(order)} photos, {faces} faces: max box diff {worst[0]:g} px, max score diff {worst[1]:.3g}, "
      f"max landmark diff {worst[2]:g} px, {fails} failed")
sys.exit(1 if fails else 0)
EOF

if [ $bench = 1 ]; then
  photo=$eval_dev/dlib_faces/images/2008_002079.jpg  # 500x375, six faces
  mkdir -p "$work/bench"
  "$bin/facelib-dlib" --models "$models" --resize 640x480 --dump-ppm "$work/bench" --repeat 10 "$photo" \
    > /dev/null 2> "$work/ours_bench.txt"
  "$ref" "$dat" --repeat 10 "photo=$work/bench/0.ppm" > /dev/null 2> "$work/ref_bench.txt"
  ours_ms=$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' "$work/ours_bench.txt")
  ref_ms=$(sed -n 's/.*median=\([0-9.]*\).*/\1/p' "$work/ref_bench.txt")
  printf 'bench\tphoto\tours_ms\tdlib_ms\tours/dlib\n'
  printf 'detect+68 landmarks\t%s (640x480)\t%s\t%s\t%s\n' "${photo#"$eval_dev"/}" "$ours_ms" "$ref_ms" \
    "$(python3 -c "print(f'{$ours_ms / $ref_ms:.2f}')")"
fi
exit $status
