#!/usr/bin/env bash
# quantd fp32 and int8 against ONNX Runtime fp32 and int8 (CPU, 2 threads) on
# torchvision ResNet-50, ResNet-18 and MobileNetV2 at batch 1 and 32. ORT int8
# runs quantd's QDQ export made from the same calibration table quantd int8
# uses. Not part of ctest.
#
#   scripts/bench.sh                  # full run: 3 rounds (~5-10 min on 2 cores)
#   scripts/bench.sh --quick          # 1 round of few runs, a fast check that it works
#   BENCH_MODELS=resnet18 scripts/bench.sh --quick   # a subset of the models
#   scripts/bench.sh --onednn-verbose # one batch-1 ResNet-18 inference under
#                                     # ONEDNN_VERBOSE=1, summarised per primitive
#                                     # (VERBOSE_MODEL=mobilenet_v2 for another model)
#
# Installs what is missing (Debian packages incl. torch, onnxruntime-node from
# npm), builds bench/quantd_bench into ${BUILD_DIR:-build-bench}, exports
# the models to bench/out/models/ (once), then for every model and batch runs
# quantd and ONNX Runtime one after the other, each in its own process (so peak
# RSS is per runtime), on the same input file. The whole suite repeats for
# ROUNDS rounds, spreading each case over time; bench/report.js keeps each
# runtime's best round (the least disturbed by other load on the machine).
# Results: bench/out/run/ (overwritten each time), table in bench/out/results.md
# (RUN_DIR=... RESULTS=... put them elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  --onednn-verbose) MODE=verbose ;;
  *) echo "usage: $0 [--quick | --onednn-verbose]" >&2; exit 2 ;;
esac

# INT8=0 skips the int8 runs, quantd's and ORT's (fp32 comparison only).
INT8=${INT8:-1}
source bench/bench_env.sh
read -ra MODELS <<<"${BENCH_MODELS:-resnet50 resnet18 mobilenet_v2}"
BATCHES=(1 32)
OUT=bench/out
MODEL_DIR=$OUT/models
# RUN_DIR and RESULTS move a trial run's files out of the way of the recorded ones.
RUN_DIR=${RUN_DIR:-$OUT/run}
RESULTS=${RESULTS:-$OUT/results.md}

# --- Dependencies (Debian packages, onnxruntime-node), bench/quantd_bench, and
# the models: random-weight torchvision architectures, exported once.
prepare_bench
export_missing_models "$MODEL_DIR" "${MODELS[@]}"

if [[ $MODE == verbose ]]; then
  model=${VERBOSE_MODEL:-resnet18}
  log=$OUT/onednn_verbose_${model}_b1.log
  ONEDNN_VERBOSE=1 "$QUANTD_BENCH" --model="$MODEL_DIR/$model.onnx" --batch=1 \
    --threads=$THREADS --warmup=1 --runs=1 >"$log"
  echo "Full log: $log"
  # Lines before the marker are the first (Plan-compiling) run, after it one
  # steady-state inference. Field 4 is the primitive kind, 5 the implementation.
  echo "phase | primitive | implementation [| formats] : count, total ms"
  awk -F, '
    /^quantd_bench: .*timing/ { steady = 1; next }
    /^onednn_verbose,exec,/ {
      phase = steady ? "steady-state run" : "first run"
      key = phase " | " $4 " | " $5
      if ($4 == "reorder") key = key " | " $7
      count[key]++; ms[key] += $NF
    }
    END {
      for (k in count) printf "%s : %d, %.2f ms\n", k, count[k], ms[k]
    }' "$log" | sort
  exit 0
fi

# Batch 32 warms up with 14 runs: quantd spends its first 12 measuring which
# way to split the batch runs fastest (BatchSplitTuner: sub-batches of 32, 16,
# 8, 4, or one worker per thread; quantd_bench would finish any left untimed).
# ORT gets the same warm-up.
if [[ $MODE == quick ]]; then
  ROUNDS=1; WARMUP_B1=3; RUNS_B1=10; WARMUP_B32=14; RUNS_B32=3
else
  ROUNDS=${ROUNDS:-3}; WARMUP_B1=10; RUNS_B1=50; WARMUP_B32=14; RUNS_B32=10
fi

# One case in one round: quantd fp32 first (it writes the shared input), quantd
# int8 (min/max calibrated on random images; it also writes its QDQ export),
# ORT fp32, then ORT int8 on that export.
run_case() {
  local model=$1 batch=$2 case_dir=$3 warmup runs
  if ((batch == 1)); then warmup=$WARMUP_B1; runs=$RUNS_B1; else warmup=$WARMUP_B32; runs=$RUNS_B32; fi
  echo "== $case_dir: $warmup warm-up + $runs timed runs each" >&2
  mkdir -p "$case_dir"
  "$QUANTD_BENCH" --model="$MODEL_DIR/$model.onnx" --batch="$batch" --threads=$THREADS \
    --warmup="$warmup" --runs="$runs" --input_out="$case_dir/input.f32" \
    --logits_out="$case_dir/quantd.f32" --result_out="$case_dir/quantd.json" >&2
  if [[ $INT8 == 1 ]]; then
    "$QUANTD_BENCH" --model="$MODEL_DIR/$model.onnx" --batch="$batch" --threads=$THREADS \
      --warmup="$warmup" --runs="$runs" --precision=int8 --qdq_out="$case_dir/$model.qdq.onnx" \
      --logits_out="$case_dir/quantd_int8.f32" --result_out="$case_dir/quantd_int8.json" >&2
  fi
  node bench/ort_bench.js --model="$MODEL_DIR/$model.onnx" --batch="$batch" --threads=$THREADS \
    --warmup="$warmup" --runs="$runs" --input="$case_dir/input.f32" \
    --logits_out="$case_dir/ort.f32" --result_out="$case_dir/ort.json" "${ORT_SPINNING[@]}" >&2
  if [[ $INT8 == 1 ]]; then
    node bench/ort_bench.js --model="$case_dir/$model.qdq.onnx" --precision=int8 \
      --batch="$batch" --threads=$THREADS --warmup="$warmup" --runs="$runs" \
      --input="$case_dir/input.f32" --logits_out="$case_dir/ort_int8.f32" \
      --result_out="$case_dir/ort_int8.json" "${ORT_SPINNING[@]}" >&2
  fi
  # 19 MB per batch-32 input, up to 25 MB per export; both reproducible from the seeds.
  rm -f "$case_dir/input.f32" "$case_dir/$model.qdq.onnx"
}

rm -rf "$RUN_DIR"
for round in $(seq "$ROUNDS"); do
  index=0
  for model in "${MODELS[@]}"; do
    for batch in "${BATCHES[@]}"; do
      index=$((index + 1))
      run_case "$model" "$batch" "$RUN_DIR/$(printf '%02d' $index)_${model}_b${batch}/round$round"
    done
  done
done

{
  echo "quantd fp32/int8 vs ONNX Runtime fp32/int8 $(node -p "require('onnxruntime-node/package.json').version")," \
    "$THREADS threads, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}" \
    "(ORT allow_spinning=$ORT_SPINNING_LABEL), mode $MODE," \
    "best of $ROUNDS round(s), $(date -u '+%Y-%m-%d %H:%M UTC'), load:$(uptime | sed 's/.*load average://')"
  echo
  node bench/report.js "$RUN_DIR"
} | tee "$RESULTS"
