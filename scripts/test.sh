#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs the whole test
# suite through ctest. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# Each test runs in its own process; two at a time fit the 2-core machines.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
