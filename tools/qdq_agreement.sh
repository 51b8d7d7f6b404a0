#!/usr/bin/env bash
# Top-1 agreement of quantd int8 and ONNX Runtime int8 on quantd's QDQ export
# (the faithful form jobs publish), on all 10,000 Fashion-MNIST test images,
# for each fixture and for a MobileNetV3-Small-shaped network with random
# weights (tools/mobilenet_v3_small_shaped.py). Calibration as a default
# QuantizeModel job: min/max over the first 1,000 training images. About
# agreement, not speed: fine on a busy machine. ctest runs it as
# `ort_qdq_agreement` (label `ort`).
#
#   tools/qdq_agreement.sh                    # every model, 10,000 images
#   LIMIT=1000 tools/qdq_agreement.sh         # fewer images
#   MODELS="resnet mobilenetv3" tools/qdq_agreement.sh
#   EXPORT_ARGS=--round_before_residual_add tools/qdq_agreement.sh   # ORT's fusable form
#
# Uses the qdq_agreement program at $QDQ_AGREEMENT, or builds it into
# ${BUILD_DIR:-build-bench}; installs onnxruntime-node into node_modules if it
# is missing. Files go to ${OUT:-bench/out/qdq_agreement}/<model>/. Exits 1 if
# any model agrees on fewer than ${MIN_AGREEMENT:-99} percent of the images.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}
LIMIT=${LIMIT:-0}
OUT=${OUT:-bench/out/qdq_agreement}
MIN_AGREEMENT=${MIN_AGREEMENT:-99}
read -ra MODELS <<<"${MODELS:-resnet mobilenetv2 vgg mobilenetv3 mobilenet_v3_small_shaped}"
read -ra EXPORT_ARGS <<<"${EXPORT_ARGS:-}"

if [[ ! -d node_modules/onnxruntime-node ]]; then
  # Its install script fetches CUDA files from an unreachable host; the CPU
  # library ships inside the package.
  npm install --ignore-scripts --no-audit --no-fund
fi
if [[ -z ${QDQ_AGREEMENT:-} ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DQUANTD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j"$JOBS" --target qdq_agreement >/dev/null
  QDQ_AGREEMENT=$BUILD_DIR/bench/qdq_agreement
fi

status=0
for model in "${MODELS[@]}"; do
  dir=$OUT/$model
  mkdir -p "$dir"
  if [[ $model == mobilenet_v3_small_shaped ]]; then
    /usr/bin/python3 tools/mobilenet_v3_small_shaped.py "$dir/model.onnx"
    onnx=$dir/model.onnx
  else
    onnx=fixtures/${model}_fmnist.onnx
  fi
  "$QDQ_AGREEMENT" --model="$onnx" --out_dir="$dir" --limit="$LIMIT" "${EXPORT_ARGS[@]}" >&2
  line=$(node tools/qdq_agreement.js --dir="$dir")
  echo "$line"
  agreement=$(node -p "JSON.parse(process.argv[1]).top1_agreement" "$line")
  if ! node -e "process.exit(Number(process.argv[1]) >= Number(process.argv[2]) ? 0 : 1)" \
      "$agreement" "$MIN_AGREEMENT"; then
    echo "qdq_agreement: $model agrees on $agreement% < $MIN_AGREEMENT%" >&2
    status=1
  fi
  rm -f "$dir/images.f32"  # 31 MB; reproducible from the dataset
done
exit $status
