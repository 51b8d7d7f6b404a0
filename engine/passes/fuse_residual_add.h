#ifndef QUANTD_ENGINE_PASSES_FUSE_RESIDUAL_ADD_H_
#define QUANTD_ENGINE_PASSES_FUSE_RESIDUAL_ADD_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Turns `Add(conv_out, other)` into a sum post-op on the Conv:
// PostOp{kSum, sum_input = other}. Eligible when conv_out is consumed only by
// the Add, is not a graph output, and the Conv has no post-ops yet (so the sum
// is applied first and a later Relu lands after it, as in ResNet blocks).
// `other` must be a runtime value, not a constant: a constant addend is
// usually a broadcast bias, and oneDNN's sum needs an equal-shape tensor.
// If both addends come from eligible Convs, the later one in topological
// order is fused. The fused Conv moves to the Add's position and takes the
// Add's output name, so `other` is always computed before it.
absl::Status FuseResidualAdd(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_FUSE_RESIDUAL_ADD_H_
