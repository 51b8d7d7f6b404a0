#!/usr/bin/env bash
# The quantization accuracy table: builds tools/accuracy_table and sweeps
# activation type x calibration x weight granularity x bits on the three
# Fashion-MNIST fixtures, then writes docs/ACCURACY.md (conventions, the exact
# command, the date and the table). Not part of ctest; CPU-heavy.
#
#   scripts/accuracy_table.sh                      # the full sweep
#   ACCURACY_ARGS="--bits=8,4 --activation_types=auto" scripts/accuracy_table.sh
#                                                  # fewer rows (stated in the doc)
#
# Environment: BUILD_DIR (default build-accuracy), JOBS (default 2),
# THREADS (oneDNN threads, default 2), OUT (default docs/ACCURACY.md),
# SKIP_BUILD=1 (use the accuracy_table already built in BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-accuracy}
JOBS=${JOBS:-2}
THREADS=${THREADS:-2}
OUT=${OUT:-docs/ACCURACY.md}
read -ra EXTRA <<<"${ACCURACY_ARGS:-}"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"$JOBS" --target accuracy_table
fi

TABLE=$(mktemp "${TMPDIR:-/tmp}/accuracy_table.XXXXXX")
trap 'rm -f "$TABLE"' EXIT
COMMAND="$BUILD_DIR/accuracy_table --threads=$THREADS --out=$TABLE ${EXTRA[*]:-}"
START=$(date -u '+%Y-%m-%d %H:%M UTC')
SECONDS=0
# shellcheck disable=SC2086
$COMMAND
ELAPSED=$SECONDS
ROWS=$(($(wc -l <"$TABLE") - 3))  # minus header, rule and fp32

{
  cat <<DOC
# Quantization accuracy on the Fashion-MNIST fixtures

Top-1 (%) on all 10,000 Fashion-MNIST test images of the three bundled
fixtures (\`fixtures/<model>_fmnist.onnx\`), fp32 first, then one row per
activation type × calibration × weight granularity × bit width — the shape of
the MXNet quantization results that inspired quantd. Every row is what a
QuantizeModel job with those settings produces: calibration on the unfused
graph over 1,000 training images drawn with seed 20261123 (calibration_seed),
then the quantized session's top-1 against the labels.

Conventions:

- **bits** is the width of weights *and* activations alike. 8 bits is real
  int8 (oneDNN), with the default weight clipping (max-abs) and every layer
  quantized. Below 8 bits the session is simulated (fp32 with weights and
  activations rounded to the grid), the first Conv stays fp32
  (exclude_first_conv), and weights use MSE clipping (weight_clipping=mse).
- **activation type**: auto = u8 for non-negative ranges (after ReLU), s8
  otherwise; int8 = s8 everywhere. Activations are symmetric.
- **calibration**: naive = min/max; entropy = KL threshold (TensorRT); percentile
  = 99.99th percentile of |x|; ema = moving average of per-batch min/max
  (decay 0.9, one pass); mse = threshold with the least squared quantization
  error; auto = entropy, MSE and percentile ranges from the same histograms,
  keeping the one whose quantized model's outputs are closest to fp32's
  (squared error) on the first 500 calibration samples (no labels). Entropy, MSE and auto search
  their thresholds for the row's bit width.
- **weights**: per-tensor or per-channel (output channel) symmetric scales.

Command (from the repository root): \`scripts/accuracy_table.sh\`${ACCURACY_ARGS:+ with
\`ACCURACY_ARGS="$ACCURACY_ARGS"\`}, which runs
\`$BUILD_DIR/accuracy_table --threads=$THREADS --out=<table> ${EXTRA[*]:-}\`.
Run on $START on a 2-core machine: $ROWS quantized rows × 3 models in
${ELAPSED} s.

DOC
  cat "$TABLE"
} >"$OUT"
echo "wrote $OUT"
