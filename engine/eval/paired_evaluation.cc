#include "engine/eval/paired_evaluation.h"

#include <vector>

#include "absl/status/status.h"
#include "engine/eval/paired_batches.h"
#include "engine/status_macros.h"

namespace quantd::engine {

absl::StatusOr<PairedEvaluation> EvaluatePair(InferenceSession& reference,
                                              InferenceSession& candidate, const Dataset& data,
                                              int64_t batch_size,
                                              const EvaluationProgress& progress) {
  const bool labelled = data.has_labels();
  AccuracyCounter reference_accuracy;
  AccuracyCounter candidate_accuracy;
  OutputAgreementCounter agreement;
  RETURN_IF_ERROR(
      RunPairedBatches(reference, candidate, data, batch_size, "evaluation", progress,
                       [&](int64_t start, int64_t count, const std::vector<Tensor>& a,
                           const std::vector<Tensor>& b) -> absl::Status {
                         if (labelled) {
                           RETURN_IF_ERROR(reference_accuracy.Add(data, start, count, a));
                           RETURN_IF_ERROR(candidate_accuracy.Add(data, start, count, b));
                         }
                         return agreement.Add(a, b, count);
                       }));
  PairedEvaluation result;
  if (labelled) {
    result.reference_accuracy = reference_accuracy.Report();
    result.candidate_accuracy = candidate_accuracy.Report();
  }
  result.agreement = agreement.Result();
  return result;
}

}  // namespace quantd::engine
