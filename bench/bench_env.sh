# What scripts/bench.sh and scripts/zoo.sh both need before they time
# anything. Sourced (from the repository root), not run.
#
# Reads BUILD_DIR (default build-bench), JOBS (default 2) and OMP_WAIT_POLICY;
# sets THREADS, QUANTD_BENCH (after prepare_bench), ORT_SPINNING and
# ORT_SPINNING_LABEL.

THREADS=2
BUILD_DIR=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-2}

# Debian packages (torch for the exports), ONNX Runtime from npm, and
# bench/quantd_bench built alone into $BUILD_DIR.
prepare_bench() {
  scripts/install_deps.sh --with-training
  if [[ ! -d node_modules/onnxruntime-node ]]; then
    # The package's install script fetches CUDA files from an unreachable host;
    # the CPU library ships inside the package and needs no script.
    npm install --ignore-scripts --no-audit --no-fund
  fi
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DQUANTD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j"$JOBS" --target quantd_bench
  QUANTD_BENCH=$BUILD_DIR/bench/quantd_bench
}

# Exports the models of "$@" that $dir lacks (random-weight torchvision
# architectures, tools/export_torchvision.py).
export_missing_models() {
  local dir=$1 model
  shift
  local missing=()
  for model in "$@"; do
    [[ -f $dir/$model.onnx ]] || missing+=("$model")
  done
  if ((${#missing[@]} > 0)); then
    /usr/bin/python3 tools/export_torchvision.py --out "$dir" --models "${missing[@]}"
  fi
}

# Idle worker threads: with OMP_WAIT_POLICY=PASSIVE quantd's OpenMP workers
# sleep instead of spinning; ORT's intra-op pool then gets the same treatment.
ORT_SPINNING=()
ORT_SPINNING_LABEL=default
if [[ ${OMP_WAIT_POLICY:-} =~ ^[Pp][Aa][Ss][Ss][Ii][Vv][Ee]$ ]]; then
  ORT_SPINNING=(--allow_spinning=0)
  ORT_SPINNING_LABEL=0
fi
