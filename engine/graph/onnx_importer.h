#ifndef QUANTD_ENGINE_GRAPH_ONNX_IMPORTER_H_
#define QUANTD_ENGINE_GRAPH_ONNX_IMPORTER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

// Converts a serialized ONNX ModelProto into the Graph IR: initializers and
// Constant nodes become Graph::constants, nodes come out topologically sorted
// (unnamed ones named "<op>_<index in the file>"), dynamic dimensions are -1.
// ConstantOfShape's one-element `value` tensor becomes a scalar attribute
// (float, or int64 for integer types) so FoldConstants can evaluate it.
//
// Errors: INVALID_ARGUMENT when the bytes are not a well-formed model (garbage,
// no graph, no runtime input, dangling values, cycles, ONNX checker failures);
// UNIMPLEMENTED for well-formed models quantd cannot represent (custom-domain
// ops, non-float graph inputs/outputs, exotic tensor types, external data).
// Does not check operator support; InspectModel does.
absl::StatusOr<Graph> ImportOnnxModel(std::string_view onnx_bytes);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_ONNX_IMPORTER_H_
