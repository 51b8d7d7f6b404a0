#ifndef QUANTD_ENGINE_EVAL_OUTPUT_AGREEMENT_H_
#define QUANTD_ENGINE_EVAL_OUTPUT_AGREEMENT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/eval/paired_batches.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

// How closely a candidate session (e.g. int8) reproduces a reference session
// (fp32) on the same samples. Needs no labels.
struct OutputAgreement {
  int64_t num_samples = 0;
  double top1_agreement = 0.0;  // fraction of samples whose arg-max is the same
  // Cosine similarity of each sample's row of the first output (the output
  // flattened per sample). Two all-zero rows count as 1, one as 0.
  double mean_cosine_similarity = 0.0;
  double min_cosine_similarity = 0.0;
};

// Accumulates the agreement batch by batch, for callers that run the
// sessions themselves (e.g. to score accuracy from the same outputs).
class OutputAgreementCounter {
 public:
  // Compares the first outputs of one batch of `count` samples.
  // INVALID_ARGUMENT if they differ in shape or are not batch-major.
  absl::Status Add(const std::vector<Tensor>& reference, const std::vector<Tensor>& candidate,
                   int64_t count);
  // The agreement over the samples added so far.
  OutputAgreement Result() const;

 private:
  int64_t samples_ = 0;
  int64_t agreeing_ = 0;
  double cosine_sum_ = 0.0;
  double cosine_min_ = 0.0;
};

// Runs every sample of `data` through both sessions, `batch_size` at a time.
// INVALID_ARGUMENT if the first outputs differ in shape or are not batch-major.
absl::StatusOr<OutputAgreement> CompareOutputs(InferenceSession& reference,
                                               InferenceSession& candidate, const Dataset& data,
                                               int64_t batch_size = 64,
                                               const EvaluationProgress& progress = nullptr);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EVAL_OUTPUT_AGREEMENT_H_
