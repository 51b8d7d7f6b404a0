#ifndef QUANTD_ENGINE_PASSES_STANDARD_PASSES_H_
#define QUANTD_ENGINE_PASSES_STANDARD_PASSES_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// The rewrites every imported model gets before quantization, in this order:
// FoldConstants, RemoveIdentityNodes, FoldBatchNormIntoConv, FuseResidualAdd,
// FuseActivations, RemoveUnusedConstants. Residual Adds are fused before
// activations so that conv -> +residual -> relu yields post-ops [kSum, kRelu];
// constants are folded first so the other passes see constant Reshape
// targets and Clip bounds.
absl::Status RunStandardPasses(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_STANDARD_PASSES_H_
