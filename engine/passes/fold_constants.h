#ifndef QUANTD_ENGINE_PASSES_FOLD_CONSTANTS_H_
#define QUANTD_ENGINE_PASSES_FOLD_CONSTANTS_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Evaluates at load time the shape arithmetic exporters emit, so the runtime
// only ever sees constant Reshape targets, Slice indices and weights:
//
// - A node whose inputs are all constants is replaced by its result, for
//   Identity, Shape, Size, Gather, Unsqueeze, Squeeze, Concat, Slice, Cast,
//   Reshape, Transpose, ConstantOfShape, Range and element-wise
//   Add/Sub/Mul/Div (int64 or float, with broadcasting). Nodes producing a graph output are kept.
// - Shape of a runtime value is folded when a small static shape inference
//   (graph input dims propagated through the CNN ops) knows every dimension.
// - A dynamic dimension (the batch, usually) is tracked as a symbol through
//   Shape/Gather/Unsqueeze/Concat/...; when such a partly-symbolic vector
//   reaches a Reshape target and each symbol is the data's own dimension at
//   the same position, the target becomes a constant using ONNX's "0 copies
//   the input dimension" rule. That is torch's `x.view(x.size(0), -1)`:
//   Shape(x) -> Gather(0) -> Unsqueeze -> Concat(_, [-1]) -> Reshape(x, _)
//   becomes Reshape(x, [0, -1]).
// - Shape-arithmetic nodes left without consumers are then removed.
//
// Anything it cannot prove is left untouched, for the operator support check
// to report. Errors: INVALID_ARGUMENT when a constant computation is
// malformed (e.g. a Gather index out of range).
absl::Status FoldConstants(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_FOLD_CONSTANTS_H_
