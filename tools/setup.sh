#!/usr/bin/env bash
# Installs the Debian build dependencies that are missing, then configures and
# builds facelib.
#
#   tools/setup.sh              Release build in build/
#   tools/setup.sh --sanitize   ASan + UBSan build in build-asan/
#   tools/setup.sh --fuzz       clang libFuzzer build in build-fuzz/
set -euo pipefail
cd "$(dirname "$0")/.."

mode=release
case "${1:-}" in
  --sanitize) mode=sanitize ;;
  --fuzz) mode=fuzz ;;
  "") ;;
  *) echo "usage: tools/setup.sh [--sanitize|--fuzz]" >&2; exit 2 ;;
esac

packages=(cmake ninja-build g++ libhwy-dev libflatbuffers-dev flatbuffers-compiler libstb-dev
          libgtest-dev libbenchmark-dev)
[ "$mode" = fuzz ] && packages+=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
case "$mode" in
  release)
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j "$jobs"
    ;;
  sanitize)
    # -O0: with the sanitizers on, optimising the Highway kernels takes minutes per file
    # (seconds at -O0), and the tests stay quick enough unoptimised.
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFACELIB_SANITIZE=ON \
      -DFACELIB_BUILD_BENCH=OFF >/dev/null
    cmake --build build-asan -j "$jobs"
    ;;
  fuzz)
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFACELIB_SANITIZE=ON -DFACELIB_BUILD_FUZZ=ON -DFACELIB_BUILD_BENCH=OFF >/dev/null
    cmake --build build-fuzz -j "$jobs" --target facelib_fuzz_model_loader facelib-make-demo-models
    ;;
esac
