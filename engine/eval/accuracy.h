#ifndef QUANTD_ENGINE_EVAL_ACCURACY_H_
#define QUANTD_ENGINE_EVAL_ACCURACY_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

struct AccuracyReport {
  int64_t num_samples = 0;
  double top1 = 0.0;  // fraction in [0, 1]
  double top5 = 0.0;
};

// Counts top-1/top-5 hits batch by batch, for callers that run the sessions
// themselves (e.g. to compare two sessions' outputs in the same pass).
class AccuracyCounter {
 public:
  // Scores the batch of `count` samples starting at sample `first` of
  // `data`, whose outputs are `outputs` (the first holds class scores, shape
  // {count, classes}). INVALID_ARGUMENT if `data` has no labels, the scores
  // have another shape, or a label is outside the model's classes.
  absl::Status Add(const Dataset& data, int64_t first, int64_t count,
                   const std::vector<Tensor>& outputs);
  // The hits so far over the samples added so far.
  AccuracyReport Report() const;

 private:
  int64_t samples_ = 0;
  int64_t top1_hits_ = 0;
  int64_t top5_hits_ = 0;
};

// Runs every sample of the labelled `data` through `session` (first output
// holds class scores, shape {N, classes}) and counts top-1/top-5 hits.
// INVALID_ARGUMENT if `data` has no labels or does not fit the model.
absl::StatusOr<AccuracyReport> EvaluateAccuracy(InferenceSession& session, const Dataset& data,
                                                int64_t batch_size = 64);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EVAL_ACCURACY_H_
