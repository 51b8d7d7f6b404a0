#ifndef QUANTD_ENGINE_PASSES_COLLAPSE_GELU_H_
#define QUANTD_ENGINE_PASSES_COLLAPSE_GELU_H_

// GELU as PyTorch exports nn.GELU() (approximate="none") before opset 20:
//
//   y = Mul(Mul(x, Add(Erf(Div(x, sqrt(2))), 1)), 0.5)
//
// (the inner Mul's operands and the 0.5 either way round, or the 0.5 applied
// to x first) becomes one Gelu(x) node (opset 20's op), which fuses into its
// producer as a post-op (oneDNN's gelu_erf) or runs as one eltwise.

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

absl::Status CollapseGelu(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_COLLAPSE_GELU_H_
