#!/usr/bin/env bash
# The unit and end-to-end suites built with AddressSanitizer (heap and stack
# overflows, use after free, leaks) and UndefinedBehaviorSanitizer (overflow,
# bad shifts, misaligned or null access), any finding fatal. scripts/test.sh
# runs this before the plain suite; alone:
#
#   scripts/sanitize.sh            # into build-sanitize
#
# The ONNX Runtime and deployment checks, and the benchmark programs, are left
# out (they test other programs, or time things). -O1 keeps the build short
# (about 9 minutes on 2 cores; the tests about 5).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SANITIZE_BUILD_DIR:-build-sanitize}
JOBS=${JOBS:-2}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DQUANTD_SANITIZE=address,undefined -DQUANTD_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"
# Leaks are reported at exit; a finding fails the test that made it.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 1200 -L 'common|engine|server|e2e|fuzz'
