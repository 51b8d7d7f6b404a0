#ifndef QUANTD_ENGINE_GRAPH_MODEL_SUMMARY_H_
#define QUANTD_ENGINE_GRAPH_MODEL_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// What a client sees of an uploaded model before running it.
struct ModelSummary {
  std::vector<ValueInfo> inputs;   // -1 marks a dynamic dimension
  std::vector<ValueInfo> outputs;
  std::map<std::string, int64_t> op_counts;  // ONNX op type -> node count
  int64_t opset_version = 0;
};

// Parses `onnx_bytes`, checks the model is well formed and that the runtime
// supports every operator that remains after load-time constant folding (so a
// Shape->Gather->Concat->Reshape chain an exporter emitted does not count
// against the model; `op_counts` still describes the model as uploaded).
// Training-mode BatchNormalization and Dropout are refused. Errors:
// INVALID_ARGUMENT for a malformed model, UNIMPLEMENTED naming each
// unsupported op type and its first node.
absl::StatusOr<ModelSummary> InspectModel(std::string_view onnx_bytes);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_MODEL_SUMMARY_H_
