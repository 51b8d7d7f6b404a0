#include "engine/eval/output_agreement.h"

#include <algorithm>
#include <cmath>
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

absl::Status OutputAgreementCounter::Add(const std::vector<Tensor>& reference,
                                         const std::vector<Tensor>& candidate, int64_t count) {
  RETURN_IF_ERROR(CheckFirstOutputs(reference, candidate, count));
  const std::vector<float>& a = reference[0].data;
  const std::vector<float>& b = candidate[0].data;
  const int64_t row_size = static_cast<int64_t>(a.size()) / count;
  for (int64_t i = 0; i < count; ++i) {
    const float* row_a = &a[i * row_size];
    const float* row_b = &b[i * row_size];
    if (ArgMax(row_a, row_size) == ArgMax(row_b, row_size)) ++agreeing_;
    double cosine = CosineSimilarity(row_a, row_b, row_size);
    if (std::isnan(cosine)) cosine = 0.0;  // NaN outputs agree with nothing
    cosine_sum_ += cosine;
    cosine_min_ = samples_ + i == 0 ? cosine : std::min(cosine_min_, cosine);
  }
  samples_ += count;
  return absl::OkStatus();
}

OutputAgreement OutputAgreementCounter::Result() const {
  OutputAgreement agreement;
  agreement.num_samples = samples_;
  if (samples_ > 0) {
    const double n = static_cast<double>(samples_);
    agreement.top1_agreement = static_cast<double>(agreeing_) / n;
    agreement.mean_cosine_similarity = cosine_sum_ / n;
    agreement.min_cosine_similarity = cosine_min_;
  }
  return agreement;
}

absl::StatusOr<OutputAgreement> CompareOutputs(InferenceSession& reference,
                                               InferenceSession& candidate, const Dataset& data,
                                               int64_t batch_size,
                                               const EvaluationProgress& progress) {
  OutputAgreementCounter counter;
  RETURN_IF_ERROR(
      RunPairedBatches(reference, candidate, data, batch_size, "output comparison", progress,
                       [&](int64_t, int64_t count, const std::vector<Tensor>& a,
                           const std::vector<Tensor>& b) { return counter.Add(a, b, count); }));
  return counter.Result();
}

}  // namespace quantd::engine
