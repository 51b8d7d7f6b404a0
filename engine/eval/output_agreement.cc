#include "engine/eval/output_agreement.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Index of the highest score; ties go to the lower index and NaN ranks below
// every number (as in accuracy.cc), so identical rows always agree.
int64_t ArgMax(const float* row, int64_t size) {
  int64_t best = 0;
  for (int64_t j = 1; j < size; ++j) {
    const bool best_nan = std::isnan(row[best]);
    if (std::isnan(row[j])) continue;
    if (best_nan || row[j] > row[best]) best = j;
  }
  return best;
}

double CosineSimilarity(const float* a, const float* b, int64_t size) {
  double dot = 0.0, norm_a = 0.0, norm_b = 0.0;
  for (int64_t j = 0; j < size; ++j) {
    dot += static_cast<double>(a[j]) * b[j];
    norm_a += static_cast<double>(a[j]) * a[j];
    norm_b += static_cast<double>(b[j]) * b[j];
  }
  if (norm_a == 0.0 && norm_b == 0.0) return 1.0;
  if (norm_a == 0.0 || norm_b == 0.0) return 0.0;
  return dot / (std::sqrt(norm_a) * std::sqrt(norm_b));
}

absl::Status CheckFirstOutputs(const std::vector<Tensor>& reference,
                               const std::vector<Tensor>& candidate, int64_t count) {
  if (reference.empty() || candidate.empty()) {
    return absl::InvalidArgumentError("model produced no outputs to compare");
  }
  const Tensor& a = reference[0];
  const Tensor& b = candidate[0];
  if (a.shape != b.shape || a.data.size() != b.data.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("output '", a.name, "' has shape [", absl::StrJoin(a.shape, ","),
                     "] in one session and [", absl::StrJoin(b.shape, ","), "] in the other"));
  }
  if (a.shape.empty() || a.shape[0] != count || a.data.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("output '", a.name, "' has shape [",
                                                   absl::StrJoin(a.shape, ","),
                                                   "], expected one row per sample (", count, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OutputAgreement> CompareOutputs(InferenceSession& reference,
                                               InferenceSession& candidate, const Dataset& data,
                                               int64_t batch_size,
                                               const EvaluationProgress& progress) {
  if (batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("comparison batch_size must be positive, got ", batch_size));
  }
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError("the dataset to compare outputs on has no samples");
  }
  int64_t agreeing = 0;
  double cosine_sum = 0.0;
  double cosine_min = std::numeric_limits<double>::infinity();
  for (int64_t start = 0; start < data.num_samples; start += batch_size) {
    const int64_t count = std::min(batch_size, data.num_samples - start);
    const Tensor batch = data.Batch(start, count);
    ASSIGN_OR_RETURN(const std::vector<Tensor> a, reference.Run(batch));
    ASSIGN_OR_RETURN(const std::vector<Tensor> b, candidate.Run(batch));
    RETURN_IF_ERROR(CheckFirstOutputs(a, b, count));
    const int64_t row_size = static_cast<int64_t>(a[0].data.size()) / count;
    for (int64_t i = 0; i < count; ++i) {
      const float* row_a = &a[0].data[i * row_size];
      const float* row_b = &b[0].data[i * row_size];
      if (ArgMax(row_a, row_size) == ArgMax(row_b, row_size)) ++agreeing;
      double cosine = CosineSimilarity(row_a, row_b, row_size);
      if (std::isnan(cosine)) cosine = 0.0;  // NaN outputs agree with nothing
      cosine_sum += cosine;
      cosine_min = std::min(cosine_min, cosine);
    }
    if (progress && !progress(start + count, data.num_samples)) {
      return absl::CancelledError("output comparison cancelled");
    }
  }
  OutputAgreement agreement;
  agreement.num_samples = data.num_samples;
  const double n = static_cast<double>(data.num_samples);
  agreement.top1_agreement = static_cast<double>(agreeing) / n;
  agreement.mean_cosine_similarity = cosine_sum / n;
  agreement.min_cosine_similarity = cosine_min;
  return agreement;
}

}  // namespace quantd::engine
