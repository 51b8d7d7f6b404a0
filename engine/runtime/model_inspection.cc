#include "engine/runtime/model_inspection.h"

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/node_attributes.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/fold_constants.h"
#include "engine/passes/check_inference_mode.h"
#include "engine/passes/collapse_gelu.h"
#include "engine/passes/collapse_layer_norm.h"
#include "engine/passes/graph_rewrite.h"
#include "engine/passes/remove_identity_nodes.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/shape_inference.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Lists every unsupported op type at once, so a user fixes the export in one
// round trip instead of one error per upload.
absl::Status CheckOperatorSupport(const Graph& graph) {
  std::vector<std::pair<std::string, std::string>> unsupported;  // op, node
  for (const Node& node : graph.nodes) {
    if (FindOp(node.op_type) != nullptr) {
      if (const auto it = graph.unrepresented_attributes.find(node.name);
          it != graph.unrepresented_attributes.end()) {
        return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": attribute ",
                                                     it->second[0],
                                                     " has a type quantd cannot represent"));
      }
      continue;
    }
    bool seen = false;
    for (const auto& [op, first_node] : unsupported) seen |= op == node.op_type;
    if (!seen) unsupported.emplace_back(node.op_type, node.name);
  }
  if (unsupported.empty()) return absl::OkStatus();
  std::vector<std::string> parts;
  for (const auto& [op, first_node] : unsupported) {
    parts.push_back(absl::StrCat("op '", op, "' (first node '", first_node, "')"));
  }
  return absl::UnimplementedError(
      absl::StrCat("unsupported operators: ", absl::StrJoin(parts, ", ")));
}

// The runtime compiles a Plan per set of input shapes, so any dimension may
// be dynamic, except an image's channel count (rank 4, NCHW): the weights of
// the layer reading the input are built for it. Scalars are not inputs the
// runtime can bind.
absl::Status CheckInput(const ValueInfo& input) {
  const std::string shape = absl::StrCat("[", absl::StrJoin(input.shape, ","), "]");
  if (input.shape.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "graph input '", input.name, "' is a scalar; quantd takes tensors of rank 1 or more"));
  }
  if (input.shape.size() == 4 && input.shape[1] <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("graph input '", input.name, "' has shape ", shape,
                     "; the channel dimension (C) must be fixed (N, H and W may be dynamic)"));
  }
  return absl::OkStatus();
}

// Infers every value's shape for one image, as the first Plan will: a node
// that cannot run on the shapes it gets, or that asks for a constant beyond
// the evaluation caps, is refused now rather than at the first Infer. With a
// dynamic height or width on any input there is no image size to try that
// the model is sure to accept; those shapes are checked when a Plan compiles.
absl::Status CheckShapes(const Graph& graph) {
  std::vector<std::vector<int64_t>> shapes;
  for (const ValueInfo& input : graph.inputs) {
    std::vector<int64_t> shape = input.shape;
    for (size_t i = 1; i < shape.size(); ++i) {
      if (shape[i] <= 0) return absl::OkStatus();
    }
    if (!shape.empty() && shape[0] <= 0) shape[0] = 1;
    shapes.push_back(std::move(shape));
  }
  return ShapeInference(graph).Run(shapes);
}

}  // namespace

absl::StatusOr<ModelSummary> InspectModel(std::string_view onnx_bytes) {
  ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(onnx_bytes));
  ModelSummary summary;
  summary.inputs = graph.inputs;
  summary.outputs = graph.outputs;
  summary.opset_version = graph.opset_version;
  // op_counts describe the model as uploaded; support is judged after
  // folding, since shape arithmetic (Shape -> Gather -> Concat -> Reshape)
  // that folds away never reaches the runtime.
  for (const Node& node : graph.nodes) ++summary.op_counts[node.op_type];
  RETURN_IF_ERROR(FoldConstants(graph));
  RETURN_IF_ERROR(RemoveIdentityNodes(graph));
  // Written-out layer norms and GELUs run as the one op they collapse into.
  RETURN_IF_ERROR(CollapseLayerNorm(graph));
  RETURN_IF_ERROR(CollapseGelu(graph));
  RETURN_IF_ERROR(CheckOperatorSupport(graph));
  RETURN_IF_ERROR(CheckInferenceMode(graph));
  for (const ValueInfo& input : graph.inputs) RETURN_IF_ERROR(CheckInput(input));
  RETURN_IF_ERROR(CheckShapes(graph));
  return summary;
}

}  // namespace quantd::engine
