#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test
# suite through ctest. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
if [[ ! -d node_modules/onnxruntime-node ]]; then
  # ONNX Runtime for the ort_qdq_agreement test. Its install script fetches
  # CUDA files from an unreachable host; the CPU library ships in the package.
  npm install --ignore-scripts --no-audit --no-fund
fi
# The suites under AddressSanitizer and UBSan first (SANITIZE=0 skips them), so
# that the plain suite's ctest summary is what the run ends with.
if [[ ${SANITIZE:-1} != 0 ]]; then
  scripts/sanitize.sh
fi
# Each fuzz target for a short while under libFuzzer (clang, ASan, UBSan);
# FUZZ_SECONDS=0 skips it. Longer runs: scripts/fuzz.sh 600.
if [[ ${FUZZ_SECONDS:-30} != 0 ]]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# Each test runs in its own process; two at a time fit the 2-core machines.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
