#ifndef QUANTD_ENGINE_EVAL_ACCURACY_H_
#define QUANTD_ENGINE_EVAL_ACCURACY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

struct AccuracyReport {
  int64_t num_samples = 0;
  double top1 = 0.0;  // fraction in [0, 1]
  double top5 = 0.0;
};

// Runs every sample of the labelled `data` through `session` (first output
// holds class scores, shape {N, classes}) and counts top-1/top-5 hits.
// INVALID_ARGUMENT if `data` has no labels or does not fit the model.
absl::StatusOr<AccuracyReport> EvaluateAccuracy(InferenceSession& session,
                                                const Dataset& data,
                                                int64_t batch_size = 64);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EVAL_ACCURACY_H_
