#include "engine/passes/fuse_residual_add.h"

#include <string>
#include <utility>

#include "engine/passes/graph_rewrite.h"

namespace quantd::engine {
namespace {

// Index of the Conv producing `value` if its result can absorb an Add, or -1.
int FindFusableConv(const Graph& graph, const std::string& value) {
  const int index = FindProducer(graph, value);
  if (index < 0) return -1;
  const Node& conv = graph.nodes[index];
  if (conv.op_type != "Conv" || conv.outputs[0] != value || !conv.post_ops.empty()) {
    return -1;
  }
  if (CountValueUses(graph, value) != 1 || IsGraphOutput(graph, value)) {
    return -1;
  }
  return index;
}

bool IsRuntimeValue(const Graph& graph, const std::string& value) {
  return !value.empty() && graph.constants.count(value) == 0;
}

// Fuses graph.nodes[add_index] into a Conv if it can; returns whether it did.
bool TryFuse(Graph& graph, size_t add_index) {
  const Node& add = graph.nodes[add_index];
  if (add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.empty() ||
      !IsRuntimeValue(graph, add.inputs[0]) || !IsRuntimeValue(graph, add.inputs[1])) {
    return false;
  }
  int conv_index = -1;
  size_t other_slot = 0;
  for (size_t slot = 0; slot < 2; ++slot) {
    const int candidate = FindFusableConv(graph, add.inputs[slot]);
    if (candidate > conv_index) {
      conv_index = candidate;
      other_slot = 1 - slot;
    }
  }
  if (conv_index < 0) return false;

  Node conv = std::move(graph.nodes[conv_index]);
  conv.post_ops.push_back(PostOp{.kind = PostOp::Kind::kSum,
                                 .alpha = 0.0f,
                                 .beta = 0.0f,
                                 .sum_input = add.inputs[other_slot]});
  conv.outputs[0] = add.outputs[0];
  // The Add's slot comes after both addends' producers and before all of
  // its consumers, so the Conv is in topological order there.
  graph.nodes[add_index] = std::move(conv);
  graph.nodes.erase(graph.nodes.begin() + conv_index);
  return true;
}

}  // namespace

absl::Status FuseResidualAdd(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size();) {
    // A fusion removes an earlier node, so graph.nodes[i] is already the next
    // unvisited node.
    if (!TryFuse(graph, i)) ++i;
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
