#ifndef QUANTD_ENGINE_RUNTIME_MODEL_INSPECTION_H_
#define QUANTD_ENGINE_RUNTIME_MODEL_INSPECTION_H_

// The upload-time verdict on a model: well formed, and every operator one the
// runtime registers (engine/runtime/op_registry.h).

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/graph/model_summary.h"

namespace quantd::engine {

// Parses `onnx_bytes`, checks the model is well formed and that the runtime
// supports every operator that remains after load-time constant folding (so a
// Shape->Gather->Concat->Reshape chain an exporter emitted does not count
// against the model; `op_counts` still describes the model as uploaded).
// Training-mode BatchNormalization and Dropout are refused. Errors:
// INVALID_ARGUMENT for a malformed model, UNIMPLEMENTED naming each
// unsupported op type and its first node.
absl::StatusOr<ModelSummary> InspectModel(std::string_view onnx_bytes);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_MODEL_INSPECTION_H_
