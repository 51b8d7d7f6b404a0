#ifndef QUANTD_ENGINE_EVAL_PAIRED_BATCHES_H_
#define QUANTD_ENGINE_EVAL_PAIRED_BATCHES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/data/dataset.h"
#include "engine/runtime/inference_session.h"
#include "engine/tensor.h"

namespace quantd::engine {

// Called with the progress of a pass over a dataset; returning false stops it.
using EvaluationProgress = std::function<bool(int64_t samples_done, int64_t samples_total)>;

// Receives both sessions' outputs for samples [start, start + count).
using PairedBatchConsumer =
    std::function<absl::Status(int64_t start, int64_t count, const std::vector<Tensor>& reference,
                               const std::vector<Tensor>& candidate)>;

// Runs every sample of `data` through `reference` and `candidate`,
// `batch_size` at a time, handing each pair of outputs to `consume` and then
// reporting progress. `what` names the pass in errors ("evaluation" gives
// "evaluation batch_size must be positive", "evaluation cancelled").
// INVALID_ARGUMENT for a non-positive batch size or an empty dataset;
// CANCELLED when `progress` returns false; otherwise the first error of a
// session or of `consume`.
absl::Status RunPairedBatches(InferenceSession& reference, InferenceSession& candidate,
                              const Dataset& data, int64_t batch_size, const std::string& what,
                              const EvaluationProgress& progress,
                              const PairedBatchConsumer& consume);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EVAL_PAIRED_BATCHES_H_
