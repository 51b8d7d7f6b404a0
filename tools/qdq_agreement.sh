#!/usr/bin/env bash
# Top-1 agreement of quantd int8 and ONNX Runtime int8 on quantd's QDQ export,
# for each Fashion-MNIST fixture, on all 10,000 test images. Calibration as a
# default QuantizeModel job: min/max over the first 1,000 training images.
# About agreement, not speed: fine on a busy machine.
#
#   tools/qdq_agreement.sh              # every fixture, 10,000 images
#   LIMIT=1000 tools/qdq_agreement.sh   # fewer images
#
# Builds bench/qdq_agreement into ${BUILD_DIR:-build-bench}; needs
# onnxruntime-node in node_modules (scripts/bench.sh installs it). Files go to
# ${OUT:-bench/out/qdq_agreement}/<fixture>/. Exits 1 if any fixture agrees on
# fewer than ${MIN_AGREEMENT:-99} percent of the images.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}
LIMIT=${LIMIT:-0}
OUT=${OUT:-bench/out/qdq_agreement}
MIN_AGREEMENT=${MIN_AGREEMENT:-99}
FIXTURES=(resnet mobilenetv2 vgg)

if [[ ! -d node_modules/onnxruntime-node ]]; then
  # Its install script fetches CUDA files from an unreachable host; the CPU
  # library ships inside the package.
  npm install --ignore-scripts --no-audit --no-fund
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DQUANTD_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target qdq_agreement >/dev/null

status=0
for fixture in "${FIXTURES[@]}"; do
  dir=$OUT/$fixture
  "$BUILD_DIR/bench/qdq_agreement" --model="fixtures/${fixture}_fmnist.onnx" --out_dir="$dir" \
    --limit="$LIMIT" >&2
  line=$(node tools/qdq_agreement.js --dir="$dir")
  echo "$line"
  agreement=$(node -p "JSON.parse(process.argv[1]).top1_agreement" "$line")
  if ! node -e "process.exit(Number(process.argv[1]) >= Number(process.argv[2]) ? 0 : 1)" \
      "$agreement" "$MIN_AGREEMENT"; then
    echo "qdq_agreement: $fixture agrees on $agreement% < $MIN_AGREEMENT%" >&2
    status=1
  fi
  rm -f "$dir/images.f32"  # 31 MB; reproducible from the dataset
done
exit $status
