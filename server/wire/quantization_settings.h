#ifndef QUANTD_SERVER_WIRE_QUANTIZATION_SETTINGS_H_
#define QUANTD_SERVER_WIRE_QUANTIZATION_SETTINGS_H_

// The calibration and quantization knobs of a QuantizeModel request, between
// the wire (v1::QuantizeModelRequest, v1::QuantizationSettings) and the
// engine (CalibrationOptions, QuantizationOptions). An INT8 version stores
// the request that produced it, so its session is rebuilt the same way.

#include "absl/status/status.h"
#include "engine/quant/calibration_options.h"
#include "engine/quant/quantization_options.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// INVALID_ARGUMENT naming the wire field, e.g. "quantization.weight_bits must
// be in 2..8, got 9". Does not look at ids or datasets.
absl::Status ValidateKnobs(const v1::QuantizeModelRequest& request);

// The request with every defaulted knob spelled out (NAIVE, PER_CHANNEL, 8
// bits, ...), as a version shows it. Knobs that do not apply to the chosen
// method (percentile unless PERCENTILE, ...) are cleared.
v1::QuantizeModelRequest WithDefaults(const v1::QuantizeModelRequest& request);

// Both expect a validated request.
engine::CalibrationOptions ToCalibrationOptions(const v1::QuantizeModelRequest& request);
engine::QuantizationOptions ToQuantizationOptions(const v1::QuantizationSettings& settings);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_WIRE_QUANTIZATION_SETTINGS_H_
