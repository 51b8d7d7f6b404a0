#include "engine/passes/collapse_layer_norm.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/graph/node_attributes.h"
#include "engine/passes/graph_rewrite.h"

namespace quantd::engine {
namespace {

bool IsConstant(const Graph& graph, const std::string& name) {
  const auto it = graph.constants.find(name);
  return it != graph.constants.end() && it->second.type == Constant::Type::kFloat32;
}

// LayerNormalization takes one scale and one bias per element of the axis.
bool IsVector(const Graph& graph, const std::string& name) {
  return graph.constants.at(name).dims.size() == 1;
}

// A mean over the last axis only, dims kept (what the pattern's Sub and Div
// broadcast against).
bool IsLastAxisMean(const Node& node) {
  return node.op_type == "ReduceMean" && node.inputs.size() == 1 &&
         IntsAttr(node, "axes", {}) == std::vector<int64_t>{-1} && IntAttr(node, "keepdims", 1) == 1;
}

// Of a two-input node, the operand that is not `constant_side`'s constant:
// {runtime operand, constant operand}.
std::optional<std::pair<std::string, std::string>> SplitConstant(const Graph& graph,
                                                                 const Node& node) {
  if (node.inputs.size() != 2) return std::nullopt;
  if (IsConstant(graph, node.inputs[1]) && !IsConstant(graph, node.inputs[0])) {
    return std::make_pair(node.inputs[0], node.inputs[1]);
  }
  if (IsConstant(graph, node.inputs[0]) && !IsConstant(graph, node.inputs[1])) {
    return std::make_pair(node.inputs[1], node.inputs[0]);
  }
  return std::nullopt;
}

struct LayerNormMatch {
  std::string x, gamma, beta;
  float epsilon = 0.0f;
  std::set<std::string> inner;  // values of the nodes the rewrite replaces
};

// Whether `add` (the last node) ends the pattern.
std::optional<LayerNormMatch> Match(const Graph& graph, const Node& add) {
  if (add.op_type != "Add" || add.outputs.size() != 1) return std::nullopt;
  LayerNormMatch m;
  const auto shifted = SplitConstant(graph, add);
  if (!shifted) return std::nullopt;
  m.beta = shifted->second;
  if (!IsVector(graph, m.beta)) return std::nullopt;
  const Node* mul = InnerProducer(graph, shifted->first, "Mul");
  const auto scaled = mul ? SplitConstant(graph, *mul) : std::nullopt;
  if (!scaled) return std::nullopt;
  m.gamma = scaled->second;
  if (!IsVector(graph, m.gamma)) return std::nullopt;
  const Node* div = InnerProducer(graph, scaled->first, "Div");
  if (div == nullptr || div->inputs.size() != 2) return std::nullopt;
  const Node* sqrt = InnerProducer(graph, div->inputs[1], "Sqrt");
  const Node* plus_eps = sqrt ? InnerProducer(graph, sqrt->inputs[0], "Add") : nullptr;
  const auto eps = plus_eps ? SplitConstant(graph, *plus_eps) : std::nullopt;
  if (!eps || graph.constants.at(eps->second).floats.size() != 1) return std::nullopt;
  m.epsilon = graph.constants.at(eps->second).floats[0];
  const Node* variance = InnerProducer(graph, eps->first, "ReduceMean");
  if (variance == nullptr || !IsLastAxisMean(*variance)) return std::nullopt;
  const Node* pow = InnerProducer(graph, variance->inputs[0], "Pow");
  if (pow == nullptr || pow->inputs.size() != 2 || !IsScalar(graph, pow->inputs[1], 2.0f) ||
      pow->inputs[0] != div->inputs[0]) {
    return std::nullopt;
  }
  // d feeds both the Pow and the Div.
  const Node* sub = InnerProducer(graph, div->inputs[0], "Sub", /*uses=*/2);
  if (sub == nullptr || sub->inputs.size() != 2) return std::nullopt;
  m.x = sub->inputs[0];
  const Node* mean = InnerProducer(graph, sub->inputs[1], "ReduceMean");
  if (mean == nullptr || !IsLastAxisMean(*mean) || mean->inputs[0] != m.x) return std::nullopt;
  m.inner = {mean->outputs[0], sub->outputs[0],   pow->outputs[0], variance->outputs[0],
             plus_eps->outputs[0], sqrt->outputs[0], div->outputs[0], mul->outputs[0]};
  return m;
}

}  // namespace

absl::Status CollapseLayerNorm(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const std::optional<LayerNormMatch> m = Match(graph, graph.nodes[i]);
    if (!m) continue;
    Node& node = graph.nodes[i];
    node.op_type = "LayerNormalization";
    node.inputs = {m->x, m->gamma, m->beta};
    node.attributes = {{"axis", int64_t{-1}}, {"epsilon", m->epsilon}};
    EraseNodesProducing(graph, m->inner);
    // Erased nodes all precede this one: start over, simply.
    i = static_cast<size_t>(-1);
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
