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
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# Each test runs in its own process; two at a time fit the 2-core machines.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
