#ifndef QUANTD_SERVER_SLICED_EVALUATION_H_
#define QUANTD_SERVER_SLICED_EVALUATION_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/eval/accuracy.h"
#include "engine/runtime/inference_session.h"

namespace quantd::server {

// Called after each slice; returning false stops the evaluation (CANCELLED).
using EvaluationProgress = std::function<bool(int64_t samples_done, int64_t samples_total)>;

// engine::EvaluateAccuracy over `data` in slices of `slice_samples`, so that a
// job can report progress and be cancelled during a long evaluation (the
// engine call runs a whole dataset without a callback). The result equals one
// EvaluateAccuracy call over the whole dataset.
absl::StatusOr<engine::AccuracyReport> EvaluateAccuracyInSlices(engine::InferenceSession& session,
                                                                const engine::Dataset& data,
                                                                int64_t slice_samples,
                                                                const EvaluationProgress& progress);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SLICED_EVALUATION_H_
