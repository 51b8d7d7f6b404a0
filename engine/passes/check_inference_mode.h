#ifndef QUANTD_ENGINE_PASSES_CHECK_INFERENCE_MODE_H_
#define QUANTD_ENGINE_PASSES_CHECK_INFERENCE_MODE_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// UNIMPLEMENTED, naming the first such node, when `graph` holds a node that
// computes something else in training mode than in inference: a
// BatchNormalization with training_mode set or its running statistics read,
// or a Dropout not provably in inference mode (its random mask cannot be
// reproduced). Both the upload check and session creation call it, so a graph
// built in code is held to the same rule as an uploaded model.
absl::Status CheckInferenceMode(const Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_CHECK_INFERENCE_MODE_H_
