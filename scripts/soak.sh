#!/usr/bin/env bash
# Soak: a real quantd under mixed traffic from concurrent clients (Infer and
# KServe ModelInfer at several batch sizes, quantization jobs with cancels,
# uploads, downloads and deletes, hostile requests) for MINUTES, its RSS
# sampled every 2 s (tools/soak.py). Not part of ctest.
#
#   scripts/soak.sh [MINUTES]        # default 10
#
# Prints the RSS curve (mean per minute), calls by kind and status code, and
# exits 1 on any unexpected status, a crash, or a minute's mean RSS after the
# 2-minute warm-up more than 10% from the first minute after it.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
scripts/install_deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
exec /usr/bin/python3 tools/soak.py --quantd="$BUILD_DIR/server/quantd" --minutes="$MINUTES"
