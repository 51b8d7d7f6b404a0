#include "engine/export/quantized_values.h"

#include <memory>

#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// The grid of a value the Plan stores as `quant` (real int8 Plans quantize
// symmetrically: no zero point).
ActivationGrid GridOf(QuantParams quant) {
  ActivationGrid grid;
  grid.scale = quant.scale;
  if (quant.type == dnnl::memory::data_type::s8) {
    grid.qmin = -127;
    grid.qmax = 127;
  }
  return grid;
}

}  // namespace

std::optional<ActivationGrid> QuantizedValues::StoredGrid(const std::string& value) const {
  const auto it = stored.find(value);
  if (it == stored.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<QuantizedValues> FindQuantizedValues(const Graph& graph,
                                                    const CalibrationTable& calibration,
                                                    const QuantizationOptions& options,
                                                    const std::vector<int64_t>& input_shape) {
  PlanOptions plan_options;
  plan_options.int8 = true;
  plan_options.calibration = &calibration;
  plan_options.quantization = options;
  ASSIGN_OR_RETURN(const std::shared_ptr<const Plan> plan,
                   CompilePlan(graph, input_shape, plan_options));
  QuantizedValues result;
  for (const auto& [value, quant] : plan->quantized_values) result.stored[value] = GridOf(quant);
  for (const auto& [node, quant] : plan->int8_inputs) {
    result.int8_node_input[node] = GridOf(quant);
  }
  // A view holds its source's values: the same grid (ONNX Runtime then runs
  // DequantizeLinear -> Flatten -> QuantizeLinear as an int8 Flatten).
  for (const Node& node : graph.nodes) {
    const OpDefinition* definition = FindOp(node.op_type);
    if (definition == nullptr || !definition->view || node.inputs.empty()) continue;
    if (const std::optional<ActivationGrid> grid = result.StoredGrid(node.inputs[0])) {
      result.stored[node.outputs[0]] = *grid;
    }
  }
  return result;
}

}  // namespace quantd::engine
