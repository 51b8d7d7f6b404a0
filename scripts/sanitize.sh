#!/usr/bin/env bash
# The test suites built with sanitizers, any finding fatal. scripts/test.sh
# runs both kinds before the plain suite; alone:
#
#   scripts/sanitize.sh                      # ASan + UBSan, into build-asan
#   scripts/sanitize.sh thread               # TSan, into build-tsan
#   scripts/sanitize.sh address,undefined --configure-only
#
# address,undefined: AddressSanitizer (heap and stack overflows, use after
# free, leaks) and UndefinedBehaviorSanitizer (overflow, bad shifts,
# misaligned or null access) over the unit and end-to-end suites. The ONNX
# Runtime and deployment checks, and the benchmark programs, are left out
# (they test other programs, or time things). Built with clang and libFuzzer's
# instrumentation, so the same tree holds the fuzz targets as libFuzzer
# programs: scripts/fuzz.sh builds nothing more (--configure-only is how it
# shares this configuration). -O1 keeps the build short.
#
# thread: ThreadSanitizer over the server tests that exercise quantd's own
# concurrency directly (job tracker, queue and workers, Infer scheduler and
# its batching, session cache, repository, admission budgets, metrics).
# The tests that run a gRPC server in process are left out: Debian's gRPC,
# protobuf and Abseil are not built with TSan, so the ordering they provide
# is invisible and every call through them would be reported;
# tests/tsan/suppressions.txt lists what is suppressed and why.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${1:-address,undefined}
CONFIGURE_ONLY=${2:-}
JOBS=${JOBS:-2}
case $KIND in
  address,undefined)
    BUILD_DIR=${SANITIZE_BUILD_DIR:-build-asan}
    CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DQUANTD_SANITIZE=fuzzer-no-link,address,undefined \
      -DQUANTD_FUZZ_LIBFUZZER=ON -DQUANTD_BUILD_BENCH=OFF >/dev/null
    if [[ $CONFIGURE_ONLY == --configure-only ]]; then
      exit 0
    fi
    cmake --build "$BUILD_DIR" -j"$JOBS"
    # Leaks are reported at exit; a finding fails the test that made it.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 1200 -L 'common|engine|server|e2e|fuzz'
    ;;
  thread)
    BUILD_DIR=${TSAN_BUILD_DIR:-build-tsan}
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
      -DQUANTD_SANITIZE=thread -DQUANTD_BUILD_BENCH=OFF -DQUANTD_BUILD_FUZZ=OFF >/dev/null
    cmake --build "$BUILD_DIR" -j"$JOBS" --target server_tests
    # A report makes the test's process exit 66 at its end: the test fails.
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan/suppressions.txt:halt_on_error=0:exitcode=66:second_deadlock_stack=1"
    in_process_grpc='^(AccessMatrixTest|AdmissionLimitsTest|DownloadExportsTest|ImageInputsTest|InferResponseLimitTest|JobEvaluationReportTest|JobInt8CoverageTest|QuantdServiceTest|QuantdServerTest)\.'
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 1200 -L server -E "$in_process_grpc"
    ;;
  *)
    echo "usage: scripts/sanitize.sh [address,undefined|thread]" >&2
    exit 2
    ;;
esac
