#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test
# suite through ctest. .ci/run calls this.
#
#   scripts/test.sh                          # everything, as CI runs it
#   scripts/test.sh --sanitize=thread        # one sanitizer build and its suite only
#   scripts/test.sh --sanitize=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
ONLY_SANITIZER=""
for arg in "$@"; do
  case $arg in
    --sanitize=*) ONLY_SANITIZER=${arg#--sanitize=} ;;
    *) echo "usage: scripts/test.sh [--sanitize=address,undefined|thread]" >&2; exit 2 ;;
  esac
done
scripts/install_deps.sh
if [[ ! -d node_modules/onnxruntime-node ]]; then
  # ONNX Runtime for the ort_qdq_agreement test. Its install script fetches
  # CUDA files from an unreachable host; the CPU library ships in the package.
  npm install --ignore-scripts --no-audit --no-fund
fi
if [[ -n $ONLY_SANITIZER ]]; then
  exec scripts/sanitize.sh "$ONLY_SANITIZER"
fi
# Each stage says how long it took, so the time budget can be followed.
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "== $name took $((SECONDS - start)) s" >&2
}
# The suites under AddressSanitizer and UBSan, then the server's concurrency
# under ThreadSanitizer, first (SANITIZE=0 skips both, TSAN=0 the second), so
# that the plain suite's ctest summary is what the run ends with.
if [[ ${SANITIZE:-1} != 0 ]]; then
  timed "ASan/UBSan build and suites" scripts/sanitize.sh address,undefined
  if [[ ${TSAN:-1} != 0 ]]; then
    timed "TSan build and suite" scripts/sanitize.sh thread
  fi
fi
# Each fuzz target for a short while under libFuzzer (clang, ASan, UBSan; the
# ASan tree's programs); FUZZ_SECONDS=0 skips it. Longer runs: scripts/fuzz.sh 600.
if [[ ${FUZZ_SECONDS:-30} != 0 ]]; then
  timed "fuzzing" scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
timed "plain build" scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# Each test runs in its own process; two at a time fit the 2-core machines.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
