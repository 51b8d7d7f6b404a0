#include "engine/eval/paired_batches.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace quantd::engine {

absl::Status RunPairedBatches(InferenceSession& reference, InferenceSession& candidate,
                              const Dataset& data, int64_t batch_size, const std::string& what,
                              const EvaluationProgress& progress,
                              const PairedBatchConsumer& consume) {
  if (batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " batch_size must be positive, got ", batch_size));
  }
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " dataset has no samples"));
  }
  for (int64_t start = 0; start < data.num_samples; start += batch_size) {
    const int64_t count = std::min(batch_size, data.num_samples - start);
    const Tensor batch = data.Batch(start, count);
    ASSIGN_OR_RETURN(const std::vector<Tensor> reference_outputs, reference.Run(batch));
    ASSIGN_OR_RETURN(const std::vector<Tensor> candidate_outputs, candidate.Run(batch));
    RETURN_IF_ERROR(consume(start, count, reference_outputs, candidate_outputs));
    if (progress && !progress(start + count, data.num_samples)) {
      return absl::CancelledError(absl::StrCat(what, " cancelled"));
    }
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
