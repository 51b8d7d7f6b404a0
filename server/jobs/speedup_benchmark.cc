#include "server/jobs/speedup_benchmark.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/status_macros.h"

namespace quantd::server {
namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

absl::StatusOr<double> TimedRunSeconds(engine::InferenceSession& session,
                                       const engine::Tensor& input) {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(session.Run(input).status());
  return absl::ToDoubleSeconds(absl::Now() - start);
}

struct MedianSeconds {
  double fp32 = 0;
  double int8 = 0;
};

// Alternates fp32 and int8 runs on `input` until max_runs, or min_runs once
// `deadline` has passed. `done_before`/`share` place this stage on the
// overall progress scale.
absl::StatusOr<MedianSeconds> TimeBoth(engine::InferenceSession& fp32,
                                       engine::InferenceSession& int8, const engine::Tensor& input,
                                       const SpeedupOptions& options, absl::Time deadline,
                                       double done_before, double share,
                                       const BenchmarkProgress& progress) {
  // The first runs of a batch size may still be tuning how the session
  // splits it (compiling Plans on the way): those are not what a client sees.
  const int64_t batch = input.shape.empty() ? 1 : input.shape[0];
  for (engine::InferenceSession* session : {&fp32, &int8}) {
    for (int left = session->TuningRunsLeft(batch); left > 0; --left) {
      RETURN_IF_ERROR(session->Run(input).status());
    }
  }
  for (int i = 0; i < options.warmup_runs; ++i) {
    RETURN_IF_ERROR(fp32.Run(input).status());
    RETURN_IF_ERROR(int8.Run(input).status());
  }
  std::vector<double> fp32_seconds;
  std::vector<double> int8_seconds;
  for (int i = 0; i < options.max_runs; ++i) {
    if (i >= options.min_runs && absl::Now() > deadline) break;
    ASSIGN_OR_RETURN(const double f, TimedRunSeconds(fp32, input));
    ASSIGN_OR_RETURN(const double q, TimedRunSeconds(int8, input));
    fp32_seconds.push_back(f);
    int8_seconds.push_back(q);
    const double fraction = done_before + share * (i + 1) / options.max_runs;
    if (progress && !progress(fraction)) return absl::CancelledError("benchmark cancelled");
  }
  // The budget may have ended the stage early; it is complete all the same.
  if (progress && !progress(done_before + share)) {
    return absl::CancelledError("benchmark cancelled");
  }
  return MedianSeconds{Median(fp32_seconds), Median(int8_seconds)};
}

}  // namespace

absl::StatusOr<v1::SpeedupReport> MeasureSpeedup(engine::InferenceSession& fp32,
                                                 engine::InferenceSession& int8,
                                                 const engine::Dataset& data,
                                                 const SpeedupOptions& options,
                                                 const BenchmarkProgress& progress) {
  if (data.num_samples < 1) return absl::InvalidArgumentError("benchmark dataset has no samples");
  if (options.throughput_batch_size < 1 || options.min_runs < 1 ||
      options.max_runs < options.min_runs) {
    return absl::InvalidArgumentError(
        "benchmark needs throughput_batch_size >= 1 and 1 <= min_runs <= max_runs");
  }
  const int64_t batch = std::min(options.throughput_batch_size, data.num_samples);
  const absl::Time start = absl::Now();
  // Latency runs are cheap; most of the budget goes to the big batches.
  ASSIGN_OR_RETURN(const MedianSeconds latency,
                   TimeBoth(fp32, int8, data.Batch(0, 1), options, start + options.budget / 3, 0.0,
                            0.3, progress));
  ASSIGN_OR_RETURN(const MedianSeconds throughput,
                   TimeBoth(fp32, int8, data.Batch(0, batch), options, start + options.budget, 0.3,
                            0.7, progress));

  v1::SpeedupReport report;
  report.set_fp32_latency_ms(1e3 * latency.fp32);
  report.set_int8_latency_ms(1e3 * latency.int8);
  report.set_throughput_batch_size(batch);
  // A run too fast for the clock's resolution would divide by zero.
  constexpr double kTick = 1e-9;
  report.set_fp32_samples_per_second(static_cast<double>(batch) / std::max(throughput.fp32, kTick));
  report.set_int8_samples_per_second(static_cast<double>(batch) / std::max(throughput.int8, kTick));
  report.set_latency_speedup(latency.fp32 / std::max(latency.int8, kTick));
  report.set_throughput_speedup(report.int8_samples_per_second() /
                                report.fp32_samples_per_second());
  return report;
}

}  // namespace quantd::server
