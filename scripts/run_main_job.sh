#!/usr/bin/env bash
# The main job, over gRPC like any production caller: starts quantd on the
# embedded data directory, uploads the bundled ResNet-style Fashion-MNIST
# model, calibrates it on 1,000 training images, quantizes it to int8 while
# showing the job's progress, then sends all 10,000 test images through the
# fp32 and the int8 version (batches of 64) and prints accuracy, latency and
# throughput side by side. Builds nothing: run scripts/build.sh first.
#
# Environment:
#   BUILD_DIR        where quantd and quantctl were built (default: build)
#   QUANTD_DATA_DIR  data directory to use and keep; when unset the job uses
#                    .quantd-data/ in the repository and empties it first, so
#                    every run starts from the same state
#   MODEL            ONNX model to quantize (default: fixtures/resnet_fmnist.onnx)
#   CALIBRATION_SAMPLES  training images used for calibration (default: 1000)
#   CONCURRENCY      Infer calls in flight during the comparison (default: 1)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/start_quantd.sh
source "$REPO/scripts/start_quantd.sh"
find_quantd_build "$REPO" || exit 1
MODEL=${MODEL:-$REPO/fixtures/resnet_fmnist.onnx}
CALIBRATION_SAMPLES=${CALIBRATION_SAMPLES:-1000}
CONCURRENCY=${CONCURRENCY:-1}
FMNIST=/usr/share/datasets/fashion-mnist
TRAIN_IMAGES=$FMNIST/train-images-idx3-ubyte.gz
TRAIN_LABELS=$FMNIST/train-labels-idx1-ubyte.gz
TEST_IMAGES=$FMNIST/t10k-images-idx3-ubyte.gz
TEST_LABELS=$FMNIST/t10k-labels-idx1-ubyte.gz

fail() { echo "run_main_job: $*" >&2; exit 1; }

for f in "$MODEL" "$TRAIN_IMAGES" "$TRAIN_LABELS" "$TEST_IMAGES" "$TEST_LABELS"; do
  [[ -r $f ]] || fail "$f is missing (fixtures/ or Debian's dataset-fashion-mnist package)"
done

if [[ -n ${QUANTD_DATA_DIR:-} ]]; then
  DATA_DIR=$QUANTD_DATA_DIR
  DATA_NOTE="kept across runs"
else
  DATA_DIR=$REPO/.quantd-data
  rm -rf "$DATA_DIR"
  DATA_NOTE="emptied at the start of each run"
fi
mkdir -p "$DATA_DIR"

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/quantd-main-job.XXXXXX")
SERVER_PID=""

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 150); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "quantd did not stop within 15 s of SIGTERM; killing it" >&2
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
  fi
  local status=0
  wait "$SERVER_PID" 2>/dev/null || status=$?
  SERVER_PID=""
  return "$status"
}

on_exit() {
  local status=$?
  if [[ -n $SERVER_PID ]]; then
    stop_server || true
  fi
  if ((status != 0)) && [[ -s $RUN_DIR/quantd.log ]]; then
    echo "--- last lines of the quantd log ($RUN_DIR/quantd.log) ---" >&2
    tail -n 20 "$RUN_DIR/quantd.log" >&2
  else
    rm -rf "$RUN_DIR"
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
started=$SECONDS

step "1/5 starting quantd (data in $DATA_DIR, $DATA_NOTE)"
start_quantd "$QUANTD" "$DATA_DIR" "$RUN_DIR" || exit 1
echo "$LISTENING"
ctl() { "$QUANTCTL" "$1" --server="$ADDRESS" --token_file="$TOKEN_FILE" "${@:2}"; }

step "2/5 uploading $(basename "$MODEL")"
MODEL_ID=$(ctl upload-model "$MODEL" --name="$(basename "$MODEL" .onnx)")

step "3/5 uploading the calibration set (first $CALIBRATION_SAMPLES training images) and the evaluation set (10,000 test images)"
CALIBRATION_ID=$(ctl upload-dataset --format=idx --samples="$TRAIN_IMAGES" \
  --labels="$TRAIN_LABELS" --limit="$CALIBRATION_SAMPLES" --name="fmnist-train-$CALIBRATION_SAMPLES")
EVALUATION_ID=$(ctl upload-dataset --format=idx --samples="$TEST_IMAGES" \
  --labels="$TEST_LABELS" --name=fmnist-test-10000)

step "4/5 quantizing model $MODEL_ID to int8 (naive min/max calibration)"
ctl quantize "$MODEL_ID" --calibration="$CALIBRATION_ID" --evaluation="$EVALUATION_ID" --wait

step "5/5 fp32 vs int8 over gRPC: all 10,000 test images, batch 64"
ctl compare "$MODEL_ID" --dataset_samples="$TEST_IMAGES" --dataset_labels="$TEST_LABELS" \
  --batch=64 --concurrency="$CONCURRENCY" --timeout=120

echo
echo "Metrics: http://$METRICS/metrics"
if command -v curl >/dev/null; then
  curl -fsS "http://$METRICS/metrics" | grep -E '^quantd_' | grep -vE '_bucket\{' | head -n 15 |
    sed 's/^/  /' || true
fi

echo
echo "stopping quantd (SIGTERM)"
stop_server || fail "quantd exited with status $? on SIGTERM"
printf 'main job done in %d s\n' $((SECONDS - started))
