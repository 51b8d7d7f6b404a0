# Sourced by scripts that drive a quantd server over gRPC (run_main_job.sh,
# bench/job_memory.sh): finds the built binaries, starts the server on free
# loopback ports and waits until it reports them.
#
#   find_quantd_build REPO
#
# Sets BUILD_DIR (from $BUILD_DIR, default build, made absolute under REPO),
# QUANTD and QUANTCTL. Returns 1 with a message on stderr if either binary is
# missing.
find_quantd_build() {
  local repo=$1
  BUILD_DIR=${BUILD_DIR:-build}
  [[ $BUILD_DIR == /* ]] || BUILD_DIR=$repo/$BUILD_DIR
  QUANTD=$BUILD_DIR/server/quantd
  QUANTCTL=$BUILD_DIR/client/quantctl
  local binary
  for binary in "$QUANTD" "$QUANTCTL"; do
    if [[ ! -x $binary ]]; then
      echo "$binary is missing; build first (scripts/build.sh, BUILD_DIR=$BUILD_DIR)" >&2
      return 1
    fi
  done
}

#   start_quantd QUANTD_BINARY DATA_DIR LOG_DIR [extra quantd flags...]
#
# Sets SERVER_PID, ADDRESS (host:port of the gRPC service), METRICS (host:port
# of /metrics), LISTENING (the server's own start-up line) and TOKEN_FILE (an
# admin token for quantctl --token_file, made with quantctl new-token in
# LOG_DIR the first time; the server gets its digest as --token_file).
# quantd's stdout goes to LOG_DIR/quantd.out, its log to LOG_DIR/quantd.log.
# Returns 1 with a message on stderr if the server exits or stays silent for
# 30 s. Needs QUANTCTL (find_quantd_build sets it).
start_quantd() {
  local binary=$1 data_dir=$2 log_dir=$3
  shift 3
  local auth=()
  TOKEN_FILE=""
  # A quantd from before authentication (a benchmark baseline) takes neither
  # flag. (--helpfull exits non-zero: read it whole, not in a pipeline.)
  local help
  help=$("$binary" --helpfull 2>&1 || true)
  if [[ $help == *--token_file* ]]; then
    TOKEN_FILE=$log_dir/admin.token
    if [[ ! -f $TOKEN_FILE ]]; then
      "$QUANTCTL" new-token admin scripts --token_out="$TOKEN_FILE" >"$log_dir/tokens" || return 1
    fi
    auth=(--token_file="$log_dir/tokens")
  fi
  "$binary" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --data_dir="$data_dir" \
    "${auth[@]}" "$@" >"$log_dir/quantd.out" 2>"$log_dir/quantd.log" &
  SERVER_PID=$!
  LISTENING=""
  for _ in $(seq 300); do
    LISTENING=$(grep -m1 '^quantd listening on ' "$log_dir/quantd.out" || true)
    [[ -n $LISTENING ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "quantd exited during start-up (log: $log_dir/quantd.log)" >&2
      return 1
    fi
    sleep 0.1
  done
  if [[ -z $LISTENING ]]; then
    echo "quantd did not report its ports within 30 s" >&2
    return 1
  fi
  # shellcheck disable=SC2034  # read by the sourcing script
  ADDRESS=$(sed -E 's/^quantd listening on ([0-9.]+:[0-9]+),.*/\1/' <<<"$LISTENING")
  # shellcheck disable=SC2034
  METRICS=$(sed -E 's/.*metrics on ([0-9.]+:[0-9]+).*/\1/' <<<"$LISTENING")
}
