#include "engine/quant/minmax_calibrator.h"

#include "engine/quant/calibrator.h"

namespace quantd::engine {

absl::StatusOr<CalibrationTable> CalibrateMinMax(InferenceSession& fp32_session,
                                                 const Dataset& data,
                                                 const CalibrationOptions& options,
                                                 const CalibrationProgress& progress) {
  CalibrationOptions naive = options;
  naive.method = CalibrationMethod::kNaive;
  return Calibrate(fp32_session, data, naive, progress);
}

}  // namespace quantd::engine
