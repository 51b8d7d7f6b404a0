#!/usr/bin/env bash
# The model zoo: quantd fp32 and int8 against ONNX Runtime fp32 and int8 (CPU,
# 2 threads) on a dozen torchvision architectures with random weights, at batch
# 1 and 32, and the models quantd refuses, with its reason. ORT int8 runs
# quantd's QDQ export made from the same calibration table quantd int8 uses.
# Not part of ctest. scripts/bench.sh covers ResNet-18 and MobileNetV2 (and
# ResNet-50) with more runs; docs/ZOO.md has the latest table.
#
#   scripts/zoo.sh                    # full run: 3 rounds (ROUNDS=n for more)
#   scripts/zoo.sh --quick            # 1 round of few runs, quantd's batch-split
#                                     # tuning off: a smoke test
#   ZOO_MODELS="resnet50 googlenet" scripts/zoo.sh --quick   # a subset
#
# Installs what is missing and builds bench/quantd_bench into
# ${BUILD_DIR:-build-bench} (bench/bench_env.sh, as scripts/bench.sh does),
# exports the models to bench/out/zoo/ (once), asks quantd whether it runs each
# one (quantd_bench --inspect_only), then for every accepted model and batch
# runs, back to back, each in its own process (so peak RSS is per runtime) on
# the same input file: quantd fp32 (it writes the input), quantd int8 (min/max
# calibrated on random images; it writes the QDQ export), ORT fp32, ORT int8 on
# the export. A model quantd int8, the export or ORT refuses keeps its other
# figures; the table says what is missing and why. The whole suite repeats for
# ROUNDS rounds; bench/zoo_report.js takes medians over rounds and the median
# of per-round ratios. Results: bench/out/zoo_run/ (overwritten each time),
# table in bench/out/zoo_results.md (RUN_DIR=... RESULTS=... put them elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

source bench/bench_env.sh
# resnet18 and mobilenet_v2 are scripts/bench.sh's (it times them more).
read -ra MODELS <<<"${ZOO_MODELS:-resnet50 googlenet densenet121 mobilenet_v3_large \
mobilenet_v3_small efficientnet_b0 regnet_y_400mf mnasnet1_0 shufflenet_v2_x1_0 \
lraspp_mobilenet_v3_large convnext_tiny vit_b_16}"
# Models too slow at batch 32 for the usual run count: vit_b_16 is 17.6
# GFLOPs per image, 4x ResNet-50 (quantd refuses it today).
read -ra SLOW_MODELS <<<"${ZOO_SLOW_MODELS:-vit_b_16}"
BATCHES=(1 32)
OUT=bench/out
MODEL_DIR=$OUT/zoo
RUN_DIR=${RUN_DIR:-$OUT/zoo_run}
RESULTS=${RESULTS:-$OUT/zoo_results.md}

# Warm-up and timed runs per program. Batch 32 warms up with 14 runs: quantd
# spends its first 12 choosing how to split the batch (BatchSplitTuner; see
# scripts/bench.sh). Slow models warm up with 2 runs and quantd_bench finishes
# quantd's tuning runs untimed on its own. --quick turns the tuning off
# (quantd runs each batch whole), so its quantd figures at batch 32 are not
# those of a full run.
QUANTD_TUNING=()
if [[ $MODE == quick ]]; then
  ROUNDS=1; WARMUP_B1=3; RUNS_B1=10; WARMUP_B32=2; RUNS_B32=3; WARMUP_SLOW=1; RUNS_SLOW=1
  QUANTD_TUNING=(--tune_batch_split=false)
else
  ROUNDS=${ROUNDS:-3}; WARMUP_B1=10; RUNS_B1=50; WARMUP_B32=14; RUNS_B32=10
  WARMUP_SLOW=2; RUNS_SLOW=3
fi

prepare_bench
# What quantd_bench was built from: others may commit while the rounds run.
built_from="git $(git rev-parse --short HEAD) ($(git status --porcelain -- engine | wc -l)\
 uncommitted file(s) under engine/)"
export_missing_models "$MODEL_DIR" "${MODELS[@]}"

is_slow() {
  local model
  for model in "${SLOW_MODELS[@]}"; do [[ $model == "$1" ]] && return 0; done
  return 1
}

# Writes {"<key>": why} to a result file: a program left none (it crashed) or
# was not run.
write_reason() {
  node -e 'require("fs").writeFileSync(process.argv[1],
             JSON.stringify({[process.argv[2]]: process.argv[3]}) + "\n")' "$@"
}

# Runs one benchmark program, output to the terminal and to <result>.log. Exit
# 3 is a refusal the program recorded in <result> itself; any other failure is
# recorded as {"failed": last line of output}. Never fails the script.
run_program() {
  local result=$1 status=0
  shift
  "$@" 2>&1 | tee "${result%.json}.log" >&2 || status=$?
  if ((status != 0 && status != 3)); then
    write_reason "$result" failed "exit $status: $(tail -n 1 "${result%.json}.log")"
  fi
  return 0
}

# One case in one round: the four programs back to back.
run_case() {
  local model=$1 batch=$2 dir=$3 warmup runs
  if ((batch == 1)); then
    warmup=$WARMUP_B1; runs=$RUNS_B1
  elif is_slow "$model"; then
    warmup=$WARMUP_SLOW; runs=$RUNS_SLOW
  else
    warmup=$WARMUP_B32; runs=$RUNS_B32
  fi
  echo "== $dir: $warmup warm-up + $runs timed runs each" >&2
  mkdir -p "$dir"
  local common=(--batch="$batch" --threads=$THREADS --warmup="$warmup" --runs="$runs")
  local onnx=$MODEL_DIR/$model.onnx qdq=$dir/$model.qdq.onnx
  run_program "$dir/quantd.json" "$QUANTD_BENCH" --model="$onnx" "${common[@]}" \
    "${QUANTD_TUNING[@]}" --input_out="$dir/input.f32" --logits_out="$dir/quantd.f32" \
    --result_out="$dir/quantd.json"
  if [[ ! -f $dir/input.f32 ]]; then
    local runtime
    for runtime in quantd_int8 ort ort_int8; do
      write_reason "$dir/$runtime.json" skipped "quantd fp32 did not run (it writes the input)"
    done
    return
  fi
  run_program "$dir/quantd_int8.json" "$QUANTD_BENCH" --model="$onnx" "${common[@]}" \
    "${QUANTD_TUNING[@]}" --precision=int8 --qdq_out="$qdq" \
    --logits_out="$dir/quantd_int8.f32" --result_out="$dir/quantd_int8.json"
  run_program "$dir/ort.json" node bench/ort_bench.js --model="$onnx" "${common[@]}" \
    --input="$dir/input.f32" --logits_out="$dir/ort.f32" --result_out="$dir/ort.json" \
    "${ORT_SPINNING[@]}"
  if [[ -f $qdq ]]; then
    run_program "$dir/ort_int8.json" node bench/ort_bench.js --model="$qdq" --precision=int8 \
      "${common[@]}" --input="$dir/input.f32" --logits_out="$dir/ort_int8.f32" \
      --result_out="$dir/ort_int8.json" "${ORT_SPINNING[@]}"
  else
    write_reason "$dir/ort_int8.json" skipped "no QDQ export (see quantd int8)"
  fi
  # Up to 19 MB per batch-32 input and 100 MB per export; both reproducible.
  rm -f "$dir/input.f32" "$qdq"
}

load_average() { uptime | sed 's/.*load average: *//'; }
started="$(date -u '+%Y-%m-%d %H:%M UTC'), load $(load_average)"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR/inspect"
# Which models quantd runs at all: the engine's own answer, not a list kept here.
ACCEPTED=()
for model in "${MODELS[@]}"; do
  status=0
  "$QUANTD_BENCH" --model="$MODEL_DIR/$model.onnx" --inspect_only \
    --result_out="$RUN_DIR/inspect/$model.json" || status=$?
  case $status in
    0) ACCEPTED+=("$model") ;;
    3) ;;  # refused; the reason is in inspect/$model.json
    *) echo "quantd_bench --inspect_only failed on $model (exit $status)" >&2; exit 1 ;;
  esac
done

for round in $(seq "$ROUNDS"); do
  index=0
  for model in "${ACCEPTED[@]}"; do
    for batch in "${BATCHES[@]}"; do
      index=$((index + 1))
      run_case "$model" "$batch" "$RUN_DIR/$(printf '%02d' $index)_${model}_b${batch}/round$round"
    done
  done
done

runs_note="batch 1: $WARMUP_B1 warm-up + $RUNS_B1 timed runs; batch 32: $WARMUP_B32 warm-up +\
 $RUNS_B32 timed runs, slow models (${SLOW_MODELS[*]}) $WARMUP_SLOW warm-up + $RUNS_SLOW timed"
if [[ $MODE == quick ]]; then
  runs_note+="; quantd's batch-split tuning off (each batch runs whole)"
else
  runs_note+=" (quantd_bench first finishes quantd's batch-split tuning runs, untimed)"
fi
{
  echo "quantd fp32/int8 vs ONNX Runtime fp32/int8 $(node -p "require('onnxruntime-node/package.json').version")," \
    "$THREADS threads, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}" \
    "(ORT allow_spinning=$ORT_SPINNING_LABEL), mode $MODE, $ROUNDS round(s), quantd_bench built" \
    "from $built_from; started $started; ended $(date -u '+%H:%M UTC'), load $(load_average)"
  echo
  echo "Runs per program and round: $runs_note. img/s and p50/p99: median over rounds;" \
    "ratios: median of per-round ratios; peak RSS: highest round."
  echo
  node bench/zoo_report.js "$RUN_DIR"
} | tee "$RESULTS"
