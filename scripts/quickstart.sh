#!/usr/bin/env bash
# README command 1: installs what is missing, builds, then runs the main job:
# a quantd server on the embedded data directory quantizes the bundled
# ResNet-style Fashion-MNIST model and compares fp32 with int8 over gRPC.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
exec scripts/run_main_job.sh
