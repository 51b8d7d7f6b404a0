#include "server/sliced_evaluation.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace quantd::server {
namespace {

engine::Dataset Slice(const engine::Dataset& data, int64_t start, int64_t count) {
  engine::Dataset slice;
  slice.sample_shape = data.sample_shape;
  slice.num_samples = count;
  const int64_t size = data.SampleSize();
  slice.samples.assign(data.samples.begin() + start * size,
                       data.samples.begin() + (start + count) * size);
  if (data.has_labels()) {
    slice.labels.assign(data.labels.begin() + start, data.labels.begin() + start + count);
  }
  return slice;
}

}  // namespace

absl::StatusOr<engine::AccuracyReport> EvaluateAccuracyInSlices(
    engine::InferenceSession& session, const engine::Dataset& data, int64_t slice_samples,
    const EvaluationProgress& progress) {
  if (slice_samples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation slice size must be positive, got ", slice_samples));
  }
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError("evaluation dataset has no samples");
  }
  // Hits are counted back from the per-slice fractions; they are exact
  // ratios of small integers, so rounding recovers the counts.
  int64_t top1_hits = 0;
  int64_t top5_hits = 0;
  for (int64_t start = 0; start < data.num_samples; start += slice_samples) {
    const int64_t count = std::min(slice_samples, data.num_samples - start);
    ASSIGN_OR_RETURN(const engine::AccuracyReport part,
                     engine::EvaluateAccuracy(session, Slice(data, start, count)));
    top1_hits += std::llround(part.top1 * static_cast<double>(part.num_samples));
    top5_hits += std::llround(part.top5 * static_cast<double>(part.num_samples));
    if (progress && !progress(start + count, data.num_samples)) {
      return absl::CancelledError("evaluation cancelled");
    }
  }
  engine::AccuracyReport report;
  report.num_samples = data.num_samples;
  report.top1 = static_cast<double>(top1_hits) / static_cast<double>(data.num_samples);
  report.top5 = static_cast<double>(top5_hits) / static_cast<double>(data.num_samples);
  return report;
}

}  // namespace quantd::server
