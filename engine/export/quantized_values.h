#ifndef QUANTD_ENGINE_EXPORT_QUANTIZED_VALUES_H_
#define QUANTD_ENGINE_EXPORT_QUANTIZED_VALUES_H_

// Which nodes and values a real int8 Plan quantizes, read off a Plan compiled
// for one input shape: the QDQ exporter puts QuantizeLinear/DequantizeLinear
// exactly where quantd rounds. Asking the runtime itself keeps the export in
// step with every op that learns to run int8.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"
#include "engine/runtime/quantization_scheme.h"

namespace quantd::engine {

struct QuantizedValues {
  // Values stored u8/s8 between layers, with their grid (by value name of the
  // fused graph), including views (Flatten, Reshape) of stored values.
  // Everything else is f32.
  std::map<std::string, ActivationGrid> stored;
  // Conv/Gemm/MatMul nodes (and BatchNormalizations run as convolutions)
  // that run int8, with the grid their input is read on (the stored grid, or
  // the input's calibrated grid when quantized on the way in).
  std::map<std::string, ActivationGrid> int8_node_input;

  std::optional<ActivationGrid> StoredGrid(const std::string& value) const;
  bool RunsInt8(const Node& node) const { return int8_node_input.count(node.name) > 0; }
};

// `graph` is the graph the int8 session runs (after RunStandardPasses with
// fusion); `calibration` may hold more values than it reads (a table
// calibrated on the unfused graph). Compiles an int8 Plan for `input_shape`
// (quantd's choices do not depend on the batch or image size).
absl::StatusOr<QuantizedValues> FindQuantizedValues(const Graph& graph,
                                                    const CalibrationTable& calibration,
                                                    const QuantizationOptions& options,
                                                    const std::vector<int64_t>& input_shape);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EXPORT_QUANTIZED_VALUES_H_
