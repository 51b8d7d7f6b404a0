#!/usr/bin/env bash
# libFuzzer over every surface a client reaches (fuzz/): ONNX models, dataset
# files, images, request messages, upload streams. Built with clang under
# AddressSanitizer and UBSan into build-asan, the tree scripts/sanitize.sh
# builds the sanitizer suites in (one build for both); each target runs for the given
# seconds from its committed seeds (fuzz/corpus/NAME), plus, for onnx_model,
# the fixtures and Debian's ONNX test models.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   # default 60 s, every target
#
# Prints executions per target; exits 1 if any target found a crash, leak,
# timeout (> 30 s for one input) or an allocation over 1 GiB, with the input
# saved under fuzz-out/NAME/. A crash found becomes a regression: fix it and
# copy the input into fuzz/corpus/NAME/, where ctest replays it in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(onnx_model gzip_idx image_decode infer_request upload_stream)
fi
export SANITIZE_BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}
BUILD_DIR=$SANITIZE_BUILD_DIR
OUT_DIR=${FUZZ_OUT_DIR:-fuzz-out}

scripts/install_deps.sh
scripts/sanitize.sh address,undefined --configure-only
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target "${TARGETS[@]/%/_fuzzer}"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OPENCV_LOG_LEVEL=SILENT  # OpenCV logs each undecodable image
failed=0
summary=()
for target in "${TARGETS[@]}"; do
  corpus=$BUILD_DIR/corpus/$target
  mkdir -p "$corpus" "$OUT_DIR/$target"
  cp -n fuzz/corpus/"$target"/* "$corpus"/
  if [[ $target == onnx_model ]]; then
    cp -n fixtures/*.onnx "$corpus"/ 2>/dev/null || true
    for model in /usr/share/libonnx-testdata/data/node/test_{conv,relu,gemm,resize,reshape,concat,slice,matmul}*/model.onnx; do
      if [[ -f $model ]]; then
        cp -n "$model" "$corpus/$(basename "$(dirname "$model")").onnx"
      fi
    done
  fi
  log=$OUT_DIR/$target.log
  echo "== $target: $SECONDS_PER_TARGET s" >&2
  if "$BUILD_DIR/fuzz/${target}_fuzzer" "$corpus" -max_total_time="$SECONDS_PER_TARGET" \
      -timeout=30 -rss_limit_mb=3072 -malloc_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="$OUT_DIR/$target/" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log and $OUT_DIR/$target/)"
    failed=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  summary+=("$(printf '%-15s %6s s %12s executions  %s' "$target" "$SECONDS_PER_TARGET" "$runs" "$result")")
done
printf '%s\n' "fuzzing summary:" "${summary[@]}"
exit $failed
