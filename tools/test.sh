#!/usr/bin/env bash
# The test command: sets up and builds (tools/setup.sh), then runs every test.
#   tools/test.sh              Release build
#   tools/test.sh --sanitize   the same tests under ASan + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh "$@"
dir=build
[ "${1:-}" = --sanitize ] && dir=build-asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
