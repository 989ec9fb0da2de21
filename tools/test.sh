#!/usr/bin/env bash
# The test command: sets up and builds (tools/setup.sh), sets up the model zoo
# (tools/setup-models.sh) and the parity harness's npm packages, then runs every
# test: unit tests and the parity of each converted model with its original
# runtime.
#   tools/test.sh              Release build, all tests
#   tools/test.sh --sanitize   unit tests under ASan + UBSan (parity tests excluded)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh "$@"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "${1:-}" = --sanitize ]; then
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE parity
  exit 0
fi
command -v npm >/dev/null || { echo "test: npm is required for the model setup and the parity tests" >&2; exit 1; }
# The references of the parity tests (Debian packages): PyTorch, OpenCV (Haar cascades) and
# dlib (HOG detector and shape predictor, compiled into a small reference program).
parity_debs=(python3-torch python3-numpy python3-joblib python3-lz4 python3-pil python3-opencv libdlib-dev)
missing=()
for p in "${parity_debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
tools/setup-models.sh
(cd tests/parity && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
ctest --test-dir build --output-on-failure -j "$(nproc)"
