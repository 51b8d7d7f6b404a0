#ifndef QUANTD_SERVER_JOBS_SPEEDUP_BENCHMARK_H_
#define QUANTD_SERVER_JOBS_SPEEDUP_BENCHMARK_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/data/dataset.h"
#include "engine/runtime/inference_session.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

struct SpeedupOptions {
  int64_t throughput_batch_size = 32;  // capped at the dataset's size
  int warmup_runs = 2;                 // per precision and batch size, not timed
  int max_runs = 15;                   // timed runs per precision and batch size
  int min_runs = 3;                    // taken even when the time budget is spent
  // Rough cap on the timed part, so a job on a big model is not held up for
  // long; the warm-up (which also compiles each batch size's plan) comes on top.
  absl::Duration budget = absl::Seconds(2);
};

// Called after each timed pair of runs with the fraction done; returning
// false stops the measurement (CANCELLED).
using BenchmarkProgress = std::function<bool(double fraction)>;

// Times `fp32` and `int8` on the same samples of `data` on this machine:
// batch-1 latency and throughput at options.throughput_batch_size, each the
// median of several runs after a warm-up. fp32 and int8 runs alternate so
// that a change in machine load affects both alike. dataset_id is left empty
// for the caller to fill in.
absl::StatusOr<v1::SpeedupReport> MeasureSpeedup(engine::InferenceSession& fp32,
                                                 engine::InferenceSession& int8,
                                                 const engine::Dataset& data,
                                                 const SpeedupOptions& options,
                                                 const BenchmarkProgress& progress);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_JOBS_SPEEDUP_BENCHMARK_H_
