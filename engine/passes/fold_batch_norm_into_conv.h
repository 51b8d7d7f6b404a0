#ifndef QUANTD_ENGINE_PASSES_FOLD_BATCH_NORM_INTO_CONV_H_
#define QUANTD_ENGINE_PASSES_FOLD_BATCH_NORM_INTO_CONV_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Folds an inference BatchNormalization into the Conv producing its input:
//   W'[m] = W[m] * s[m],  b'[m] = (b[m] - mean[m]) * s[m] + B[m],
//   s[m]  = scale[m] / sqrt(var[m] + epsilon)
// (bias created if the Conv has none). Applies only when the Conv has a
// constant weight, no post-ops, and the BatchNormalization as its only
// consumer, and all four BN parameters are constants. Other
// BatchNormalization nodes are left in place. A weight or bias shared with
// another node is copied before scaling. The Conv takes the BN's output name.
// Errors: INVALID_ARGUMENT when BN parameter sizes disagree with the Conv's
// output channels.
absl::Status FoldBatchNormIntoConv(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_FOLD_BATCH_NORM_INTO_CONV_H_
