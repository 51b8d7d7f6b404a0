#!/usr/bin/env bash
# Peak memory of one quantization job on a large model: starts quantd on a
# scratch data directory, uploads torchvision ResNet-50 (random weights, as
# scripts/bench.sh exports it) and 1,000 random 3x224x224 samples (602 MB of
# float32), runs an entropy-calibrated int8 job, and samples the server's
# VmRSS every 0.25 s. Prints the largest RSS seen in each phase (uploads and
# the job's phases as WatchJob reports them) and the process's VmHWM at the
# end. Not part of ctest; takes ~5 min after the build on 2 cores.
#
#   bench/job_memory.sh                        # ResNet-50, 1,000 samples, entropy
#   SAMPLES=500 CALIBRATION=naive bench/job_memory.sh
#
# Environment: BUILD_DIR (default build; run scripts/build.sh first), MODEL
# (default bench/out/models/resnet50.onnx, exported when missing), SAMPLES,
# CALIBRATION (a quantctl --calibration_method).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/start_quantd.sh
source "$REPO/scripts/start_quantd.sh"
find_quantd_build "$REPO" || exit 1
MODEL=${MODEL:-$REPO/bench/out/models/resnet50.onnx}
SAMPLES=${SAMPLES:-1000}
CALIBRATION=${CALIBRATION:-entropy}

fail() { echo "job_memory: $*" >&2; exit 1; }
if [[ ! -f $MODEL ]]; then
  [[ $MODEL == "$REPO/bench/out/models/resnet50.onnx" ]] || fail "$MODEL is missing"
  "$REPO/scripts/install_deps.sh" --with-training
  /usr/bin/python3 "$REPO/tools/export_torchvision.py" --out "$REPO/bench/out/models" \
    --models resnet50
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/quantd-job-memory.XXXXXX")
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [[ -n $SAMPLER_PID ]] && kill "$SAMPLER_PID" 2>/dev/null
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== generating $SAMPLES random 3x224x224 samples"
/usr/bin/python3 - "$WORK/samples.f32" "$SAMPLES" <<'EOF'
import sys
import numpy as np
rng = np.random.default_rng(20261123)
with open(sys.argv[1], "wb") as out:
    for _ in range(int(sys.argv[2])):  # one sample at a time: this script's own memory stays small
        rng.standard_normal((3, 224, 224), dtype=np.float32).tofile(out)
EOF

mkdir -p "$WORK/data"
start_quantd "$QUANTD" "$WORK/data" "$WORK" --workers=1 || exit 1
ctl() { "$QUANTCTL" "$1" --server="$ADDRESS" --token_file="$TOKEN_FILE" "${@:2}"; }

# Samples: "<seconds since start> <VmRSS kB> <VmHWM kB>"; phases: "<seconds> <phase>".
now() { date +%s.%N; }
START=$(now)
elapsed() { awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
(
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    awk -v t="$(elapsed)" '/^VmRSS/ { rss = $2 } /^VmHWM/ { hwm = $2 }
      END { print t, rss, hwm }' "/proc/$SERVER_PID/status" 2>/dev/null || true
    sleep 0.25
  done
) >"$WORK/rss.log" &
SAMPLER_PID=$!
phase() { echo "$(elapsed) $1" >>"$WORK/phases.log"; }

phase idle
sleep 1
echo "== uploading $(basename "$MODEL") and the samples"
phase upload-model
MODEL_ID=$(ctl upload-model "$MODEL" --name="$(basename "$MODEL" .onnx)")
phase upload-dataset
DATASET_ID=$(ctl upload-dataset --samples="$WORK/samples.f32" --format=raw \
  --sample_shape=3,224,224 --name="random-$SAMPLES")
phase queued
JOB_ID=$(ctl quantize "$MODEL_ID" --calibration="$DATASET_ID" \
  --calibration_method="$CALIBRATION" --calibration_samples="$SAMPLES" 2>/dev/null)
echo "== job $JOB_ID: $CALIBRATION calibration over $SAMPLES samples"
# quantctl watch prints one line per update, "job <id> <STATE> <phase> <percent> ...",
# on stderr.
ctl watch "$JOB_ID" 2>&1 | while read -r line; do
  echo "$line"
  read -r _ _ _ job_phase _ <<<"$line"
  if [[ -n $job_phase ]]; then phase "$job_phase"; fi
done
phase after-job
sleep 1
ctl get-job "$JOB_ID" | grep -E '^(state|duration|speed-up|vs fp32) '

echo
echo "phase          | max VmRSS MB"
echo "---------------|-------------:"
awk 'NR == FNR { t[NR] = $1; name[NR] = $2; n = NR; next }
     { p = 0; for (i = 1; i <= n; i++) if ($1 + 0 >= t[i] + 0) p = i
       if (p && $2 > peak[p]) peak[p] = $2; hwm = $3 }
     END { for (i = 1; i <= n; i++) if (!(name[i] in shown) && i in peak) {
             best = 0; for (j = i; j <= n; j++) if (name[j] == name[i] && peak[j] > best) best = peak[j]
             printf "%-14s | %12.0f\n", name[i], best / 1024; shown[name[i]] = 1 }
           printf "\nserver VmHWM (peak RSS over its whole life): %.0f MB\n", hwm / 1024 }' \
  "$WORK/phases.log" "$WORK/rss.log"
