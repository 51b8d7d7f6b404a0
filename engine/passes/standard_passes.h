#ifndef QUANTD_ENGINE_PASSES_STANDARD_PASSES_H_
#define QUANTD_ENGINE_PASSES_STANDARD_PASSES_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// The rewrites every imported model gets before quantization, in this order:
// FoldConstants, RemoveIdentityNodes, CollapseLayerNorm, CollapseGelu,
// FoldBatchNormIntoConv, FuseResidualAdd, FuseActivations,
// RemoveUnusedConstants. Residual Adds are fused before
// activations so that conv -> +residual -> relu yields post-ops [kSum, kRelu];
// constants are folded first so the other passes see constant Reshape
// targets and Clip bounds.
//
// `options` can leave out BatchNorm folding (a quantization knob: folding
// changes the weights that get quantized) and the fusions (so every value of
// the imported graph stays observable, e.g. for calibration ranges of the
// tensors an exported QDQ model quantizes). A fused node keeps the output name
// of the last node it absorbed, so the fused graph's values are a subset of
// the unfused graph's.
struct PassOptions {
  bool fold_batch_norm = true;
  bool fuse_operators = true;  // FuseResidualAdd and FuseActivations
};
absl::Status RunStandardPasses(Graph& graph, const PassOptions& options = {});

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_STANDARD_PASSES_H_
