#include "engine/passes/remove_identity_nodes.h"

#include <string>
#include <variant>
#include <vector>

#include "engine/passes/graph_rewrite.h"

namespace quantd::engine {

// Dropout (opset 12+) trains only when its optional third input is true; a
// non-constant training_mode cannot be proven false.
bool IsInferenceDropout(const Graph& graph, const Node& node) {
  if (node.inputs.size() >= 3 && !node.inputs[2].empty()) {
    const auto it = graph.constants.find(node.inputs[2]);
    if (it == graph.constants.end()) return false;
    for (int64_t v : it->second.ints) {
      if (v != 0) return false;
    }
    for (float v : it->second.floats) {
      if (v != 0.0f) return false;
    }
  }
  // Opset < 7 Dropout trains unless is_test is set.
  if (const auto it = node.attributes.find("is_test"); it != node.attributes.end()) {
    const int64_t* is_test = std::get_if<int64_t>(&it->second);
    if (is_test != nullptr && *is_test == 0) return false;
  }
  if (node.outputs.size() >= 2 && !node.outputs[1].empty()) {
    const std::string& mask = node.outputs[1];
    if (CountValueUses(graph, mask) > 0 || IsGraphOutput(graph, mask)) {
      return false;
    }
  }
  return true;
}

namespace {

// torch exports AvgPool2d(2) as Pad (all zeros) -> AveragePool: a copy the
// runtime would otherwise make in plain layout. Pad-2 keeps its pads in an
// attribute, Pad-11+ in a constant input.
bool IsZeroPad(const Graph& graph, const Node& node) {
  const std::vector<int64_t>* pads = nullptr;
  if (node.inputs.size() >= 2 && !node.inputs[1].empty()) {
    const auto it = graph.constants.find(node.inputs[1]);
    if (it == graph.constants.end() || it->second.type != Constant::Type::kInt64) return false;
    pads = &it->second.ints;
  } else if (const auto it = node.attributes.find("pads"); it != node.attributes.end()) {
    pads = std::get_if<std::vector<int64_t>>(&it->second);
  }
  if (pads == nullptr || pads->empty()) return false;
  for (int64_t pad : *pads) {
    if (pad != 0) return false;
  }
  return true;
}

bool IsPassThrough(const Graph& graph, const Node& node) {
  if (node.inputs.empty() || node.inputs[0].empty() || node.outputs.empty()) {
    return false;
  }
  if (node.op_type == "Identity") return true;
  if (node.op_type == "Dropout") return IsInferenceDropout(graph, node);
  if (node.op_type == "Pad") return IsZeroPad(graph, node);
  return false;
}

// Removes graph.nodes[index] if it can; returns whether it did.
bool RemovePassThrough(Graph& graph, size_t index) {
  const std::string input = graph.nodes[index].inputs[0];
  const std::string output = graph.nodes[index].outputs[0];
  if (IsGraphOutput(graph, output)) {
    const int producer = FindProducer(graph, input);
    if (producer < 0 || IsGraphOutput(graph, input)) return false;
    for (std::string& value : graph.nodes[producer].outputs) {
      if (value == input) value = output;
    }
    ReplaceValueUses(graph, input, output);
  } else {
    ReplaceValueUses(graph, output, input);
  }
  graph.nodes.erase(graph.nodes.begin() + index);
  return true;
}

}  // namespace

absl::Status RemoveIdentityNodes(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size();) {
    const bool removed = IsPassThrough(graph, graph.nodes[i]) && RemovePassThrough(graph, i);
    if (!removed) ++i;
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
