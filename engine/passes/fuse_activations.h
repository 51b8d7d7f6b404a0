#ifndef QUANTD_ENGINE_PASSES_FUSE_ACTIVATIONS_H_
#define QUANTD_ENGINE_PASSES_FUSE_ACTIVATIONS_H_

#include <string_view>

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Appends a Relu or a constant-bounded Clip to the post-ops of the node
// producing its input (one that TakesFusedActivations), when that output has
// no other consumer and is not a graph output; the activation node is removed and the producer
// takes its output name. Post-ops already present (e.g. a residual kSum) stay
// first, so conv -> +residual -> relu becomes [kSum, kRelu].
//
// Relu -> PostOp{kRelu}. Clip -> PostOp{kClip, alpha = min, beta = max}, with
// min/max from constant inputs 1 and 2 (opset >= 11) or from attributes
// (opset < 11); an absent bound is numeric_limits<float>::lowest() / max(),
// as in the ONNX spec. A Clip with a non-constant bound is left alone.
// LeakyRelu, Sigmoid, Tanh, HardSigmoid and HardSwish map onto their PostOp
// kinds with their attributes (ONNX defaults: LeakyRelu alpha 0.01,
// HardSigmoid alpha 0.2, beta 0.5).
//
// First, HardSwish written out is collapsed into one HardSwish node (fused
// like any other activation, or left standalone): x * Clip(x + 3, 0, 6) / 6
// (the division as Div by 6 or Mul by 1/6, before or after the product) and
// x * HardSigmoid(x) with alpha 1/6, beta 0.5. Intermediate values must have
// no other reader and not be graph outputs.
//
// SiLU written out, x * Sigmoid(x), becomes a kSwish post-op of x's producer
// when x and the gate have no other reader.
absl::Status FuseActivations(Graph& graph);

// The op types activations fuse into: Conv, Gemm, MatMul, BatchNormalization
// and the element-wise Add, Sub, Mul, Div. Their runtime entries must take
// post-ops (engine/runtime/op_registry.h; a test checks).
bool TakesFusedActivations(std::string_view op_type);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_FUSE_ACTIVATIONS_H_
