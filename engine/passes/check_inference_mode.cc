#include "engine/passes/check_inference_mode.h"

#include <cstdint>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "engine/passes/graph_rewrite.h"
#include "engine/passes/remove_identity_nodes.h"

namespace quantd::engine {
namespace {

bool IsTrainingBatchNorm(const Graph& graph, const Node& node) {
  const auto it = node.attributes.find("training_mode");
  const int64_t* mode = it == node.attributes.end() ? nullptr : std::get_if<int64_t>(&it->second);
  if (mode != nullptr && *mode != 0) return true;
  // Opset < 9 lists the running statistics as optional outputs; only reading
  // them makes the node a training one.
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    const std::string& out = node.outputs[i];
    if (!out.empty() && (CountValueUses(graph, out) > 0 || IsGraphOutput(graph, out))) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckInferenceMode(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    const bool training =
        (node.op_type == "Dropout" && !IsInferenceDropout(graph, node)) ||
        (node.op_type == "BatchNormalization" && IsTrainingBatchNorm(graph, node));
    if (training) {
      return absl::UnimplementedError(absl::StrCat(
          "node '", node.name, "' (", node.op_type,
          ") runs in training mode (training_mode set, or a mask/statistics output used); "
          "quantd serves inference graphs (export with model.eval())"));
    }
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
