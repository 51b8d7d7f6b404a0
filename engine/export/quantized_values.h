#ifndef QUANTD_ENGINE_EXPORT_QUANTIZED_VALUES_H_
#define QUANTD_ENGINE_EXPORT_QUANTIZED_VALUES_H_

// Which nodes and values a real int8 Plan quantizes, worked out on the graph
// alone: the same rules PlanCompiler and the op compile functions apply
// (conv_op.cc, inner_product_op.cc, pooling_op.cc, post_ops.cc), without
// oneDNN. The QDQ exporter needs them to put QuantizeLinear/DequantizeLinear
// exactly where quantd rounds. Keep in step with those files; the exporter's
// tests compare the export with quantd's int8 outputs, so a drift shows.

#include <map>
#include <optional>
#include <string>

#include "engine/graph/graph.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"
#include "engine/runtime/quantization_scheme.h"

namespace quantd::engine {

struct QuantizedValues {
  // Values stored u8/s8 between layers, with their grid (by value name of the
  // fused graph). Everything else is f32.
  std::map<std::string, ActivationGrid> stored;
  // Conv/Gemm/MatMul nodes that run int8, with the grid their input is read
  // on (the stored grid, or the input's calibrated grid when quantized on the
  // way in).
  std::map<std::string, ActivationGrid> int8_node_input;

  std::optional<ActivationGrid> StoredGrid(const std::string& value) const;
  bool RunsInt8(const Node& node) const { return int8_node_input.count(node.name) > 0; }
};

// `graph` is the graph the int8 session runs (after RunStandardPasses with
// fusion); `calibration` may hold more values than it reads (a table
// calibrated on the unfused graph).
QuantizedValues FindQuantizedValues(const Graph& graph, const CalibrationTable& calibration,
                                    const QuantizationOptions& options);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EXPORT_QUANTIZED_VALUES_H_
