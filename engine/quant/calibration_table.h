#ifndef QUANTD_ENGINE_QUANT_CALIBRATION_TABLE_H_
#define QUANTD_ENGINE_QUANT_CALIBRATION_TABLE_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace quantd::engine {

// The observed range of one activation over the calibration set.
struct TensorRange {
  float min = 0.0f;
  float max = 0.0f;
};

// Activation ranges by value name, for the graph *after* the standard passes
// (so fused values such as a Conv+Relu output appear once). Together with the
// fp32 ONNX model this is everything needed to rebuild an int8 Plan, so a
// quantized model version is stored as (fp32 ONNX, CalibrationTable).
struct CalibrationTable {
  std::map<std::string, TensorRange> ranges;

  // Text form, one "name<TAB>min<TAB>max" line per value, exact float round trip.
  std::string Serialize() const;
  static absl::StatusOr<CalibrationTable> Parse(std::string_view text);
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_CALIBRATION_TABLE_H_
