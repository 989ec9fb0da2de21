#!/usr/bin/python3
"""Reference runs of OpenCV's Haar cascades (Debian python3-opencv) for parity with facelib-haar.

Both sides read the same decoded gray images (facelib-haar --dump-gray writes them as PGM), so JPEG
decoders play no part. Output lines have facelib-haar's format (see tools/facelib_haar.cc).

  ref_opencv.py run FACE.xml EYE.xml GRAY_DIR COUNT          DeepFace's opencv backend on GRAY_DIR/<n>.pgm
  ref_opencv.py cascade CASCADE.xml GRAY_DIR COUNT SCALE NEIGHBORS   one cascade's detectMultiScale3
  ref_opencv.py bench FACE.xml EYE.xml GRAY_DIR COUNT REPEAT THREADS  median ms per image (cascade, pipeline)
  ref_opencv.py compare OURS.tsv REF.tsv COUNT [--eyes] [--names FILE]   parity table, exit 1 on a mismatch
"""
import statistics
import sys
import time

import cv2


def load(gray_dir, n):
    img = cv2.imread(f"{gray_dir}/{n}.pgm", cv2.IMREAD_GRAYSCALE)
    if img is None:
        sys.exit(f"ref_opencv.py: cannot read {gray_dir}/{n}.pgm")
    return img


def find_eyes(eye_cascade, crop):
    """DeepFace's OpenCv.find_eyes on a gray crop: (left_eye, right_eye, raw eye boxes)."""
    if crop.shape[0] == 0 or crop.shape[1] == 0:
        return None, None, []
    eyes = eye_cascade.detectMultiScale(crop, 1.1, 10)
    raw = [tuple(int(v) for v in e) for e in eyes]
    eyes = sorted(raw, key=lambda v: abs(v[2] * v[3]), reverse=True)
    if len(eyes) < 2:
        return None, None, raw
    e1, e2 = eyes[0], eyes[1]
    right, left = (e1, e2) if e1[0] < e2[0] else (e2, e1)
    left = (int(left[0] + (left[2] / 2)), int(left[1] + (left[3] / 2)))
    right = (int(right[0] + (right[2] / 2)), int(right[1] + (right[3] / 2)))
    return left, right, raw


def deepface_opencv(face_cascade, eye_cascade, img):
    """DeepFace's OpenCv.detect_faces on a gray image: [(box, level, weight, eyes, eye boxes)]."""
    faces, levels, weights = face_cascade.detectMultiScale3(img, 1.1, 10, outputRejectLevels=True)
    out = []
    for (x, y, w, h), lv, wt in zip(faces, levels, weights):
        x, y, w, h = int(x), int(y), int(w), int(h)
        left, right, raw = find_eyes(eye_cascade, img[y:y + h, x:x + w])
        if left is not None:
            left = (int(x + left[0]), int(y + left[1]))
            right = (int(x + right[0]), int(y + right[1]))
        out.append(((x, y, w, h), int(lv), float(wt), (left, right), raw))
    return out


def run(face_xml, eye_xml, gray_dir, count):
    face, eye = cv2.CascadeClassifier(face_xml), cv2.CascadeClassifier(eye_xml)
    if face.empty() or eye.empty():
        sys.exit("ref_opencv.py: cannot load the cascades")
    for n in range(count):
        for i, (box, lv, wt, (left, right), raw) in enumerate(deepface_opencv(face, eye, load(gray_dir, n))):
            print("face\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.9g" % (n, i, *box, lv, wt))
            for e in raw:
                print("eyebox\t%d\t%d\t%d\t%d\t%d\t%d" % (n, i, *e))
            conf = (100 - wt) / 100
            tail = "%d\t%d\t%d\t%d" % (*left, *right) if left is not None else "-"
            print("det\t%d\t%d\t%d\t%d\t%d\t%d\t%.7f\t%s" % (n, i, *box, conf, tail))


def cascade(xml, gray_dir, count, scale, neighbors):
    c = cv2.CascadeClassifier(xml)
    if c.empty():
        sys.exit(f"ref_opencv.py: cannot load {xml}")
    for n in range(count):
        boxes, levels, weights = c.detectMultiScale3(load(gray_dir, n), scale, neighbors, outputRejectLevels=True)
        for i, ((x, y, w, h), lv, wt) in enumerate(zip(boxes, levels, weights)):
            print("box\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.9g" % (n, i, x, y, w, h, lv, wt))


def bench(face_xml, eye_xml, gray_dir, count, repeat, threads):
    cv2.setNumThreads(threads)
    face, eye = cv2.CascadeClassifier(face_xml), cv2.CascadeClassifier(eye_xml)
    for n in range(count):
        img = load(gray_dir, n)
        face.detectMultiScale3(img, 1.1, 10, outputRejectLevels=True)
        t_cascade, t_detect = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            face.detectMultiScale3(img, 1.1, 10, outputRejectLevels=True)
            t_cascade.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            deepface_opencv(face, eye, img)
            t_detect.append((time.perf_counter() - t0) * 1e3)
        print("time\t%d\t%.3f\t%.3f" % (n, statistics.median(t_cascade), statistics.median(t_detect)))


def parse(path):
    """{image: {"faces": {box: (level, weight)}, "eyeboxes": {box: [..]}, "dets": {box: (conf, eyes)}}}"""
    out = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] not in ("face", "box", "eyebox", "det"):
            continue
        n = int(f[1])
        img = out.setdefault(n, {"faces": {}, "order": [], "eyeboxes": {}, "dets": {}})
        if f[0] in ("face", "box"):
            box = tuple(int(v) for v in f[3:7])
            img["faces"][box] = (int(f[7]), float(f[8]))
            img["order"].append(box)
        elif f[0] == "eyebox":
            face_box = img["order"][int(f[2])]
            img["eyeboxes"].setdefault(face_box, []).append(tuple(int(v) for v in f[3:7]))
        else:
            box = tuple(int(v) for v in f[3:7])
            eyes = None if f[8] == "-" else tuple(int(v) for v in f[8:12])
            img["dets"][box] = (float(f[7]), eyes)
    return out


def close(a, b, tol=1):
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def compare(ours_path, ref_path, count, with_eyes, names):
    ours, ref = parse(ours_path), parse(ref_path)
    images = range(count)
    print("image\tfaces_ours\tfaces_ref\texact\twithin_1px\tmax_weight_diff\teyes_exact\teyes_within_1px\teyes_ref")
    totals = [0] * 7
    worst_weight = 0.0
    ok = True
    empty = {"faces": {}, "eyeboxes": {}, "dets": {}}
    for n in images:
        o, r = ours.get(n, empty), ref.get(n, empty)
        exact = within = 0
        wdiff = 0.0
        matched = []
        free = list(o["faces"])
        for box in r["faces"]:
            hit = box if box in free else next((b for b in free if close(b, box)), None)
            if hit is None:
                continue
            free.remove(hit)
            exact += hit == box
            within += 1
            wdiff = max(wdiff, abs(o["faces"][hit][1] - r["faces"][box][1]))
            matched.append((hit, box))
        eyes_exact = eyes_within = eyes_ref = 0
        if with_eyes:
            for hit, box in matched:
                ro = r["dets"].get(box, (0, None))[1]
                oo = o["dets"].get(hit, (0, None))[1]
                eyes_ref += 1
                if ro == oo:
                    eyes_exact += 1
                    eyes_within += 1
                elif ro is not None and oo is not None and close(ro, oo):
                    eyes_within += 1
        nf_o, nf_r = len(o["faces"]), len(r["faces"])
        row_ok = nf_o == nf_r == within and wdiff <= 1e-3 and eyes_within == eyes_ref
        ok = ok and row_ok
        worst_weight = max(worst_weight, wdiff)
        for k, v in enumerate((nf_o, nf_r, exact, within, eyes_exact, eyes_within, eyes_ref)):
            totals[k] += v
        print("%s\t%d\t%d\t%d\t%d\t%.2e\t%s\t%s\t%s%s" % (
            names[n] if names else n, nf_o, nf_r, exact, within, wdiff, *(
                (eyes_exact, eyes_within, eyes_ref) if with_eyes else ("-", "-", "-")), "" if row_ok else "\tFAIL"))
    t = totals
    print("total\t%d\t%d\t%d\t%d\t%.2e\t%s\t%s\t%s\t%s" % (
        t[0], t[1], t[2], t[3], worst_weight, *((t[4], t[5], t[6]) if with_eyes else ("-", "-", "-")),
        "PASS" if ok else "FAIL"))
    return 0 if ok else 1


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "run":
        run(argv[2], argv[3], argv[4], int(argv[5]))
    elif cmd == "cascade":
        cascade(argv[2], argv[3], int(argv[4]), float(argv[5]), int(argv[6]))
    elif cmd == "bench":
        bench(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]), int(argv[7]))
    elif cmd == "compare":
        names = None
        if "--names" in argv:
            names = [line.rstrip("\n") for line in open(argv[argv.index("--names") + 1])]
        sys.exit(compare(argv[2], argv[3], int(argv[4]), "--eyes" in argv[5:], names))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
