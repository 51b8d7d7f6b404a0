#ifndef QUANTD_ENGINE_PASSES_REMOVE_IDENTITY_NODES_H_
#define QUANTD_ENGINE_PASSES_REMOVE_IDENTITY_NODES_H_

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Removes Identity nodes and inference-mode Dropout nodes (their mask output
// unused), pointing consumers at the node's input. When the removed node's
// output is a graph output, the input's producer is renamed instead so the
// output name clients see is kept; a node passing a graph input or constant
// straight to a graph output has no producer to rename and stays.
absl::Status RemoveIdentityNodes(Graph& graph);

// Whether a Dropout node provably runs in inference mode: training_mode
// (opset 12+) absent or a constant false, is_test (opset < 7) not 0, and its
// mask output unused.
bool IsInferenceDropout(const Graph& graph, const Node& node);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_REMOVE_IDENTITY_NODES_H_
