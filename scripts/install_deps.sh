#!/usr/bin/env bash
# Installs every Debian package quantd needs to build, test and run its tools.
# Idempotent: packages already present are skipped without touching apt's lists.
#
#   scripts/install_deps.sh                  # build + test packages
#   scripts/install_deps.sh --with-training  # also PyTorch (fixtures, benchmarks)
#   scripts/install_deps.sh --build-only     # only what compiling needs (Dockerfile)
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libdnnl-dev ocl-icd-opencl-dev libabsl-dev libopencv-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libonnx-dev libsqlite3-dev zlib1g-dev
)
TEST_PACKAGES=(
  dataset-fashion-mnist prometheus libonnx-testdata
  python3-grpcio python3-onnx python3-numpy python3-yaml curl openssl clang libclang-rt-dev
)
TOOL_PACKAGES=(python3-torch python3-torchvision)

case "${1:-}" in
  "") wanted=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
  --with-training) wanted=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${TOOL_PACKAGES[@]}") ;;
  --build-only) wanted=("${BUILD_PACKAGES[@]}") ;;
  *) echo "usage: $0 [--with-training | --build-only]" >&2; exit 2 ;;
esac

# Node.js runs ONNX Runtime (npm onnxruntime-node) in the tests and
# benchmarks. Machines that already have a node and npm (NodeSource's nodejs
# ships npm inside) keep them; Debian's own come as two packages.
if [[ ${1:-} != --build-only ]]; then
  command -v node >/dev/null || wanted+=(nodejs)
  command -v npm >/dev/null || wanted+=(npm)
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
