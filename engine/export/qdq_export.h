#ifndef QUANTD_ENGINE_EXPORT_QDQ_EXPORT_H_
#define QUANTD_ENGINE_EXPORT_QDQ_EXPORT_H_

// An int8 model version as a standard ONNX model in QDQ form (opset >= 13):
// every node quantd runs int8 reads DequantizeLinear outputs and its result
// goes through QuantizeLinear -> DequantizeLinear, with exactly the scales
// quantd uses (s8 symmetric weights per output channel or per tensor, int32
// bias at input_scale * weight_scale, u8/s8 activations with zero point 0).
// ONNX Runtime fuses these into QLinearConv/QGemm/QLinearAdd; other runtimes
// can run the graph as written. See docs/decisions/0007-qdq-export.md.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"

namespace quantd::engine {

struct QdqExportOptions {
  // As the version was made (QuantizeModel's keep_batchnorm is the opposite).
  bool fold_batch_norm = true;
  // Write quantd's s8 activations as uint8 with zero point 128: the very same
  // values and rounding (q_u8 = q_s8 + 128; both saturate at the same reals),
  // but every activation has one type. ONNX Runtime fuses a Conv into
  // QLinearConv (and an Add into QLinearAdd) only when its quantized inputs and
  // output share a type, which quantd's u8-after-ReLU / s8-otherwise grids do
  // not guarantee (MobileNetV2's linear bottlenecks). false: int8 as quantd
  // stores them.
  bool signed_activations_as_uint8 = false;
  // Round each Conv output before a residual Add onto its own grid (its
  // calibrated range, u8 with a zero point), which quantd does not do: ONNX
  // Runtime fuses Conv + Add into QLinearConv + QLinearAdd only in that form.
  // false (the default, what jobs publish) keeps the export faithful to
  // quantd's arithmetic; ONNX Runtime then runs those Convs in float on
  // dequantized inputs, slower. The benchmarks use true so that ONNX Runtime
  // runs at its best. See docs/decisions/0007.
  bool round_before_residual_add = false;
};

// `fp32_onnx` is the version's original model, `calibration` its table
// (ideally calibrated on the unfused graph: then the Conv output before a
// residual Add has a range and gets its own QuantizeLinear, as ONNX Runtime
// needs to form QLinearConv + QLinearAdd; a table of the fused graph only
// leaves those Convs float). FAILED_PRECONDITION for simulated options (no
// real int8 grid to express); UNIMPLEMENTED names an op the export cannot
// write. Deterministic: the same inputs give the same bytes.
absl::StatusOr<std::string> ExportQdqModel(std::string_view fp32_onnx,
                                           const CalibrationTable& calibration,
                                           const QuantizationOptions& options,
                                           const QdqExportOptions& export_options = {});

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EXPORT_QDQ_EXPORT_H_
