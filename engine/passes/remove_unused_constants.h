#ifndef QUANTD_ENGINE_PASSES_REMOVE_UNUSED_CONSTANTS_H_
#define QUANTD_ENGINE_PASSES_REMOVE_UNUSED_CONSTANTS_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Drops constants no node input, sum post-op or graph output refers to, such
// as the BatchNormalization parameters and Clip bounds left by fusion.
absl::Status RemoveUnusedConstants(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_REMOVE_UNUSED_CONSTANTS_H_
