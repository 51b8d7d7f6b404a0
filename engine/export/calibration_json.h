#ifndef QUANTD_ENGINE_EXPORT_CALIBRATION_JSON_H_
#define QUANTD_ENGINE_EXPORT_CALIBRATION_JSON_H_

// A calibration table as JSON for other tools: per tensor its calibrated
// min/max and the integer grid quantd puts it on (ONNX convention: real =
// (q - zero_point) * scale). The tab-separated CalibrationTable::Serialize()
// stays what quantd itself loads.

#include <string>

#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"

namespace quantd::engine {

// Keys in a fixed order, tensors sorted by name, floats with 9 significant
// digits (exact round trip): the same table always gives the same bytes.
//
//   {"format": "quantd.calibration.v1", "activation_bits": 8,
//    "symmetric_activations": true, "simulated": false,
//    "tensors": {"x": {"min": 0, "max": 2.5, "scale": 0.00980392, "zero_point": 0,
//                      "type": "uint8"}, ...}}
//
// "type" is uint8/int8 at 8 bits, "uint<bits>"/"int<bits>" below.
std::string CalibrationTableToJson(const CalibrationTable& table,
                                   const QuantizationOptions& options);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EXPORT_CALIBRATION_JSON_H_
