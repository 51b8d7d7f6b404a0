#include "engine/passes/fuse_activations.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "engine/graph/node_attributes.h"
#include "engine/passes/graph_rewrite.h"

namespace quantd::engine {
namespace {

// Reads a Clip bound from an optional constant input (opset >= 11). Returns
// false if the bound is present but not a scalar float constant.
bool ReadBoundInput(const Graph& graph, const Node& clip, size_t slot, float& bound) {
  if (clip.inputs.size() <= slot || clip.inputs[slot].empty()) return true;
  const auto it = graph.constants.find(clip.inputs[slot]);
  if (it == graph.constants.end() || it->second.type != Constant::Type::kFloat32 ||
      it->second.floats.size() != 1) {
    return false;
  }
  bound = it->second.floats[0];
  return true;
}

void ReadBoundAttribute(const Node& clip, const char* name, float& bound) {
  const auto it = clip.attributes.find(name);
  if (it != clip.attributes.end() && std::holds_alternative<float>(it->second)) {
    bound = std::get<float>(it->second);
  }
}

std::optional<PostOp> AsPostOp(const Graph& graph, const Node& node) {
  PostOp post_op;
  const std::string& type = node.op_type;
  if (type == "Relu") {
    post_op.kind = PostOp::Kind::kRelu;
    return post_op;
  }
  if (type == "LeakyRelu") {
    post_op.kind = PostOp::Kind::kLeakyRelu;
    post_op.alpha = 0.01f;
    ReadBoundAttribute(node, "alpha", post_op.alpha);
    return post_op;
  }
  if (type == "Sigmoid" || type == "Tanh" || type == "HardSwish") {
    post_op.kind = type == "Sigmoid" ? PostOp::Kind::kSigmoid
                   : type == "Tanh"  ? PostOp::Kind::kTanh
                                     : PostOp::Kind::kHardSwish;
    return post_op;
  }
  if (type == "Gelu") {
    // Opset 20's Gelu; CollapseGelu writes the exported Erf form as one.
    if (StringAttr(node, "approximate", "none") != "none") return std::nullopt;
    post_op.kind = PostOp::Kind::kGeluErf;
    return post_op;
  }
  if (type == "HardSigmoid") {
    post_op.kind = PostOp::Kind::kHardSigmoid;
    post_op.alpha = 0.2f;
    post_op.beta = 0.5f;
    ReadBoundAttribute(node, "alpha", post_op.alpha);
    ReadBoundAttribute(node, "beta", post_op.beta);
    return post_op;
  }
  if (type != "Clip") return std::nullopt;
  float min = std::numeric_limits<float>::lowest();
  float max = std::numeric_limits<float>::max();
  if (graph.opset_version >= 11) {
    if (!ReadBoundInput(graph, node, 1, min) || !ReadBoundInput(graph, node, 2, max)) {
      return std::nullopt;
    }
  } else {
    ReadBoundAttribute(node, "min", min);
    ReadBoundAttribute(node, "max", max);
  }
  post_op.kind = PostOp::Kind::kClip;
  post_op.alpha = min;
  post_op.beta = max;
  return post_op;
}

// --- HardSwish written out: x * Clip(x + 3, 0, 6) / 6, x * HardSigmoid(x). ---

// `node` computes other * k (Mul by k either side, or Div by 1/k): `other`.
std::optional<std::string> ScaledInput(const Graph& graph, const Node& node, float k) {
  if (node.inputs.size() != 2) return std::nullopt;
  if (node.op_type == "Mul") {
    if (IsScalar(graph, node.inputs[1], k)) return node.inputs[0];
    if (IsScalar(graph, node.inputs[0], k)) return node.inputs[1];
  } else if (node.op_type == "Div" && IsScalar(graph, node.inputs[1], 1.0f / k)) {
    return node.inputs[0];
  }
  return std::nullopt;
}

// `value` = Clip(x + 3, 0, 6) or Clip(Relu(x + 3), 0, 6) (torch 1.13 exports
// F.relu6 that way): x.
std::optional<std::string> Relu6OfXPlus3(const Graph& graph, const std::string& value) {
  const Node* clip = InnerProducer(graph, value, "Clip");
  if (clip == nullptr) return std::nullopt;
  const std::optional<PostOp> bounds = AsPostOp(graph, *clip);
  if (!bounds || bounds->alpha != 0.0f || bounds->beta != 6.0f) return std::nullopt;
  std::string clipped = clip->inputs[0];
  if (const Node* relu = InnerProducer(graph, clipped, "Relu")) clipped = relu->inputs[0];
  const Node* add = InnerProducer(graph, clipped, "Add");
  if (add == nullptr || add->inputs.size() != 2) return std::nullopt;
  if (IsScalar(graph, add->inputs[1], 3.0f)) return add->inputs[0];
  if (IsScalar(graph, add->inputs[0], 3.0f)) return add->inputs[1];
  return std::nullopt;
}

// `value` = HardSigmoid(x) with alpha 1/6, beta 1/2, or Clip(x + 3, 0, 6) / 6: x.
std::optional<std::string> HardSigmoidOf(const Graph& graph, const std::string& value) {
  if (const Node* hs = InnerProducer(graph, value, "HardSigmoid")) {
    const std::optional<PostOp> op = AsPostOp(graph, *hs);
    if (std::fabs(op->alpha - 1.0f / 6.0f) <= 1e-6f && op->beta == 0.5f) return hs->inputs[0];
    return std::nullopt;
  }
  for (const char* op_type : {"Mul", "Div"}) {
    if (const Node* scale = InnerProducer(graph, value, op_type)) {
      const std::optional<std::string> clipped = ScaledInput(graph, *scale, 1.0f / 6.0f);
      if (clipped) return Relu6OfXPlus3(graph, *clipped);
    }
  }
  return std::nullopt;
}

// If `node` ends a written-out HardSwish: its input x.
std::optional<std::string> HardSwishInput(const Graph& graph, const Node& node) {
  if (node.op_type != "Mul" && node.op_type != "Div") return std::nullopt;
  if (node.op_type == "Mul" && node.inputs.size() == 2) {
    for (int i = 0; i < 2; ++i) {
      const std::optional<std::string> x = HardSigmoidOf(graph, node.inputs[1 - i]);
      if (x && *x == node.inputs[i]) return x;
    }
  }
  // (x * Clip(x + 3, 0, 6)) / 6.
  const std::optional<std::string> product = ScaledInput(graph, node, 1.0f / 6.0f);
  if (!product) return std::nullopt;
  const Node* mul = InnerProducer(graph, *product, "Mul");
  if (mul == nullptr || mul->inputs.size() != 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const std::optional<std::string> x = Relu6OfXPlus3(graph, mul->inputs[1 - i]);
    if (x && *x == mul->inputs[i]) return x;
  }
  return std::nullopt;
}

// Rewrites graph.nodes[index] into HardSwish(x) if it ends the pattern and
// removes the pattern's other nodes (each read only by the pattern).
bool TryCollapseHardSwish(Graph& graph, size_t index) {
  const std::optional<std::string> x = HardSwishInput(graph, graph.nodes[index]);
  if (!x) return false;
  std::vector<std::string> inner = {graph.nodes[index].inputs[0], graph.nodes[index].inputs[1]};
  Node& last = graph.nodes[index];
  last.op_type = "HardSwish";
  last.inputs = {*x};
  last.attributes.clear();
  // Everything between x and `last` that no longer has a reader goes.
  for (bool removed = true; removed;) {
    removed = false;
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const Node& node = graph.nodes[i];
      if (node.outputs.size() == 1 && node.outputs[0] != *x &&
          !IsGraphOutput(graph, node.outputs[0]) &&
          std::find(inner.begin(), inner.end(), node.outputs[0]) != inner.end() &&
          CountValueUses(graph, node.outputs[0]) == 0) {
        inner.insert(inner.end(), node.inputs.begin(), node.inputs.end());
        graph.nodes.erase(graph.nodes.begin() + i);
        removed = true;
        break;
      }
    }
  }
  return true;
}

bool CanTakePostOps(const Node& node) { return TakesFusedActivations(node.op_type); }

// --- SiLU written out: x * Sigmoid(x), fused into x's producer. ---
bool TryFuseSwish(Graph& graph, size_t index) {
  const Node& mul = graph.nodes[index];
  if (mul.op_type != "Mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1) return false;
  for (int i = 0; i < 2; ++i) {
    const std::string& x = mul.inputs[i];
    const Node* sigmoid = InnerProducer(graph, mul.inputs[1 - i], "Sigmoid");
    if (sigmoid == nullptr || sigmoid->inputs.size() != 1 || sigmoid->inputs[0] != x) continue;
    const int producer_index = FindProducer(graph, x);
    if (producer_index < 0 || CountValueUses(graph, x) != 2 || IsGraphOutput(graph, x)) continue;
    Node& producer = graph.nodes[producer_index];
    if (!CanTakePostOps(producer) || producer.outputs[0] != x) continue;
    PostOp swish;
    swish.kind = PostOp::Kind::kSwish;
    swish.pre_activation = x;
    producer.post_ops.push_back(swish);
    producer.outputs[0] = mul.outputs[0];
    const std::string gate = sigmoid->outputs[0];
    graph.nodes.erase(graph.nodes.begin() + index);
    graph.nodes.erase(graph.nodes.begin() + FindProducer(graph, gate));
    return true;
  }
  return false;
}

// Fuses graph.nodes[index] into its producer if it can; returns whether it did.
bool TryFuse(Graph& graph, size_t index) {
  const Node& activation = graph.nodes[index];
  if (activation.inputs.empty() || activation.outputs.size() != 1) {
    return false;
  }
  const std::optional<PostOp> post_op = AsPostOp(graph, activation);
  if (!post_op.has_value()) return false;
  const std::string& input = activation.inputs[0];
  const int producer_index = FindProducer(graph, input);
  if (producer_index < 0) return false;
  Node& producer = graph.nodes[producer_index];
  if (!CanTakePostOps(producer) || producer.outputs[0] != input ||
      CountValueUses(graph, input) != 1 || IsGraphOutput(graph, input)) {
    return false;
  }
  producer.post_ops.push_back(*post_op);
  producer.post_ops.back().pre_activation = input;
  producer.outputs[0] = activation.outputs[0];
  graph.nodes.erase(graph.nodes.begin() + index);
  return true;
}

}  // namespace

bool TakesFusedActivations(std::string_view op_type) {
  static const auto* const kOps = new std::set<std::string, std::less<>>{
      "Conv", "Gemm", "MatMul", "BatchNormalization", "Add", "Sub", "Mul", "Div"};
  return kOps->count(op_type) > 0;
}

absl::Status FuseActivations(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (TryCollapseHardSwish(graph, i)) {
      // Removed nodes all precede the rewritten one: restart to stay simple.
      i = static_cast<size_t>(-1);
    }
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    // Removes this node and an earlier one: revisit from the earlier slot.
    if (TryFuseSwish(graph, i)) i = i >= 2 ? i - 2 : static_cast<size_t>(-1);
  }
  for (size_t i = 0; i < graph.nodes.size();) {
    if (!TryFuse(graph, i)) ++i;
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
