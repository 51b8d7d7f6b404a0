#ifndef QUANTD_ENGINE_EVAL_PAIRED_EVALUATION_H_
#define QUANTD_ENGINE_EVAL_PAIRED_EVALUATION_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/eval/accuracy.h"
#include "engine/eval/output_agreement.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

// What one pass of a dataset through a reference session (fp32) and a
// candidate (its quantized version) shows: each one's accuracy when the
// dataset is labelled, and how closely the candidate's outputs follow the
// reference's.
struct PairedEvaluation {
  std::optional<AccuracyReport> reference_accuracy;
  std::optional<AccuracyReport> candidate_accuracy;
  OutputAgreement agreement;
};

// Runs every sample of `data` through both sessions once, `batch_size` at a
// time, and scores accuracy and agreement from the same outputs (half the
// inference of EvaluateAccuracy twice plus CompareOutputs). `progress` is
// called after each batch; returning false stops (CANCELLED).
// INVALID_ARGUMENT as EvaluateAccuracy (labelled data only) and
// CompareOutputs say.
absl::StatusOr<PairedEvaluation> EvaluatePair(InferenceSession& reference,
                                              InferenceSession& candidate, const Dataset& data,
                                              int64_t batch_size = 64,
                                              const EvaluationProgress& progress = nullptr);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EVAL_PAIRED_EVALUATION_H_
