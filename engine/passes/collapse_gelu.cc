#include "engine/passes/collapse_gelu.h"

#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "engine/passes/graph_rewrite.h"

namespace quantd::engine {
namespace {

// `value` = Add(Erf(Div(x, sqrt 2)), 1) (or Erf(Mul(x, 1/sqrt 2))): x, and
// the inner values.
std::optional<std::string> ErfPlusOneOf(const Graph& graph, const std::string& value,
                                        std::set<std::string>& inner) {
  const Node* add = InnerProducer(graph, value, "Add");
  if (add == nullptr || add->inputs.size() != 2) return std::nullopt;
  const int erf_side = IsScalar(graph, add->inputs[1], 1.0f)   ? 0
                       : IsScalar(graph, add->inputs[0], 1.0f) ? 1
                                                               : -1;
  if (erf_side < 0) return std::nullopt;
  const Node* erf = InnerProducer(graph, add->inputs[static_cast<size_t>(erf_side)], "Erf");
  if (erf == nullptr) return std::nullopt;
  const std::string& scaled = erf->inputs[0];
  std::optional<std::string> x;
  if (const Node* div = InnerProducer(graph, scaled, "Div");
      div != nullptr && div->inputs.size() == 2 &&
      IsScalar(graph, div->inputs[1], static_cast<float>(std::sqrt(2.0)))) {
    x = div->inputs[0];
  } else if (const Node* mul = InnerProducer(graph, scaled, "Mul");
             mul != nullptr && mul->inputs.size() == 2) {
    const float k = static_cast<float>(1.0 / std::sqrt(2.0));
    if (IsScalar(graph, mul->inputs[1], k)) x = mul->inputs[0];
    if (IsScalar(graph, mul->inputs[0], k)) x = mul->inputs[1];
  }
  if (!x) return std::nullopt;
  inner.insert({scaled, erf->outputs[0], add->outputs[0]});
  return x;
}

// The other operand of a two-input Mul when one is the scalar `k`.
std::optional<std::string> TimesScalar(const Graph& graph, const Node& mul, float k) {
  if (mul.op_type != "Mul" || mul.inputs.size() != 2) return std::nullopt;
  if (IsScalar(graph, mul.inputs[1], k)) return mul.inputs[0];
  if (IsScalar(graph, mul.inputs[0], k)) return mul.inputs[1];
  return std::nullopt;
}

// If `last` ends a GELU: x and the values the rewrite replaces. Two orders:
// (x * (erf + 1)) * 0.5, and (x * 0.5) * (erf + 1).
std::optional<std::string> Match(const Graph& graph, const Node& last,
                                 std::set<std::string>& inner) {
  if (last.op_type != "Mul" || last.inputs.size() != 2 || last.outputs.size() != 1) {
    return std::nullopt;
  }
  if (const std::optional<std::string> product = TimesScalar(graph, last, 0.5f)) {
    const Node* mul = InnerProducer(graph, *product, "Mul");
    if (mul == nullptr || mul->inputs.size() != 2) return std::nullopt;
    for (size_t i = 0; i < 2; ++i) {
      std::set<std::string> found = {*product};
      const std::optional<std::string> x = ErfPlusOneOf(graph, mul->inputs[1 - i], found);
      if (x && *x == mul->inputs[i]) {
        inner = found;
        return x;
      }
    }
    return std::nullopt;
  }
  for (size_t i = 0; i < 2; ++i) {
    const Node* half = InnerProducer(graph, last.inputs[i], "Mul");
    const std::optional<std::string> x = half ? TimesScalar(graph, *half, 0.5f) : std::nullopt;
    if (!x) continue;
    std::set<std::string> found = {last.inputs[i]};
    const std::optional<std::string> erf_x = ErfPlusOneOf(graph, last.inputs[1 - i], found);
    if (erf_x && *erf_x == *x) {
      inner = found;
      return x;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::Status CollapseGelu(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    std::set<std::string> inner;
    const std::optional<std::string> x = Match(graph, graph.nodes[i], inner);
    if (!x) continue;
    Node& node = graph.nodes[i];
    node.op_type = "Gelu";
    node.inputs = {*x};
    node.attributes.clear();
    EraseNodesProducing(graph, inner);
    i = static_cast<size_t>(-1);
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
