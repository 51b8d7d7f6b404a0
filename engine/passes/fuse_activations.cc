#include "engine/passes/fuse_activations.h"

#include <limits>
#include <optional>
#include <string>
#include <variant>

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
  if (node.op_type == "Relu") {
    post_op.kind = PostOp::Kind::kRelu;
    return post_op;
  }
  if (node.op_type != "Clip") return std::nullopt;
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

bool CanTakePostOps(const Node& node) {
  return node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul";
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
  producer.outputs[0] = activation.outputs[0];
  graph.nodes.erase(graph.nodes.begin() + index);
  return true;
}

}  // namespace

absl::Status FuseActivations(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size();) {
    if (!TryFuse(graph, i)) ++i;
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
