#ifndef QUANTD_ENGINE_PASSES_FUSE_ACTIVATIONS_H_
#define QUANTD_ENGINE_PASSES_FUSE_ACTIVATIONS_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Appends a Relu or a constant-bounded Clip to the post-ops of the Conv, Gemm
// or MatMul producing its input, when that output has no other consumer and
// is not a graph output; the activation node is removed and the producer
// takes its output name. Post-ops already present (e.g. a residual kSum) stay
// first, so conv -> +residual -> relu becomes [kSum, kRelu].
//
// Relu -> PostOp{kRelu}. Clip -> PostOp{kClip, alpha = min, beta = max}, with
// min/max from constant inputs 1 and 2 (opset >= 11) or from attributes
// (opset < 11); an absent bound is numeric_limits<float>::lowest() / max(),
// as in the ONNX spec. A Clip with a non-constant bound is left alone.
absl::Status FuseActivations(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_FUSE_ACTIVATIONS_H_
