#!/usr/bin/env bash
# Serving under load: a real quantd answers batch-1 Infer calls from 1..32
# concurrent clients (bench/quantd_load): with dynamic batching on (the
# default) sending floats (`typed`) and raw float32 bytes (`batching`), and
# with --infer_max_batch=1 (`no-batch`, raw bytes), and through the KServe API
# (`kserve`: ModelInfer with raw_input_contents, batching on), beside the in-process throughput
# of the same model at batch 1 and 32 (bench/quantd_bench). Not part of ctest;
# results go into docs/SERVING.md by hand, with the command.
#
#   scripts/serve_bench.sh                  # resnet50 int8, clients 1,4,16,32
#   SERVE_MODEL=mobilenet_v2 SERVE_PRECISION=fp32 scripts/serve_bench.sh
#
# SERVE_MODEL is a torchvision architecture (exported with random weights into
# bench/out/zoo like scripts/zoo.sh does); CONCURRENCY and STEP_SECONDS set
# the sweep. The int8 version is made by a QuantizeModel job calibrated on 16
# random samples. BASELINE_QUANTD=path/to/an/older/quantd adds a first sweep
# served by that binary (same data directory), for before/after tables.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

source bench/bench_env.sh
source scripts/start_quantd.sh
MODEL=${SERVE_MODEL:-resnet50}
PRECISION=${SERVE_PRECISION:-int8}
CONCURRENCY=${CONCURRENCY:-1,4,16,32}
STEP_SECONDS=${STEP_SECONDS:-10}

prepare_bench
cmake --build "$BUILD_DIR" -j"$JOBS" --target quantd quantctl quantd_load
export_missing_models bench/out/zoo "$MODEL"
ONNX=bench/out/zoo/$MODEL.onnx
QUANTD=$BUILD_DIR/server/quantd
QUANTCTL=$BUILD_DIR/client/quantctl
LOAD=$BUILD_DIR/bench/quantd_load

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== in process: $QUANTD_BENCH ($PRECISION, batch 1 and 32)" >&2
for batch in 1 32; do
  "$QUANTD_BENCH" --model="$ONNX" --precision="$PRECISION" --batch=$batch --threads=$THREADS \
    --warmup=14 --runs=20 --calibration_samples=16 2>/dev/null |
    node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8").trim().split("\n").pop());
             console.log(`in-process batch ${r.batch}: ${r.images_per_s} images/s, ` +
                         `p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms`)'
done

serve() {  # serve LABEL RAW [quantd flags...]: one sweep against a fresh server process
  local label=$1 raw=$2 api=quantd
  shift 2
  if [[ $label == kserve ]]; then api=kserve; fi
  start_quantd "$QUANTD" "$WORK/data" "$WORK" "$@"
  "$LOAD" --server="$ADDRESS" --model_id="$MODEL_ID" --precision="$PRECISION" \
    --concurrency="$CONCURRENCY" --seconds="$STEP_SECONDS" --label="$label" \
    --raw_input="$raw" --token_file="$TOKEN_FILE" --api="$api"
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# The model and its int8 version, made once; both sweeps serve them.
start_quantd "$QUANTD" "$WORK/data" "$WORK"
ctl() { "$QUANTCTL" --server="$ADDRESS" --token_file="$TOKEN_FILE" "$@"; }
MODEL_ID=$(ctl upload-model "$ONNX" --name="$MODEL")
/usr/bin/python3 -c 'import numpy as np, sys
np.random.default_rng(1).random((16, 3, 224, 224), dtype=np.float32).tofile(sys.argv[1])' \
  "$WORK/calibration.f32"
CALIBRATION_ID=$(ctl upload-dataset --samples="$WORK/calibration.f32" --format=raw \
  --sample_shape=3,224,224)
if [[ $PRECISION == int8 ]]; then
  ctl quantize "$MODEL_ID" --calibration="$CALIBRATION_ID" --wait >&2
fi
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo "== $MODEL $PRECISION over gRPC, batch-1 calls, $STEP_SECONDS s per step" >&2
if [[ -n ${BASELINE_QUANTD:-} ]]; then
  QUANTD_NOW=$QUANTD
  QUANTD=$BASELINE_QUANTD
  serve baseline false  # (raw_data is newer than such a binary)
  QUANTD=$QUANTD_NOW
fi
serve typed false
serve batching true
serve no-batch true --infer_max_batch=1
serve kserve true
