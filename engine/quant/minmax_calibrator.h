#ifndef QUANTD_ENGINE_QUANT_MINMAX_CALIBRATOR_H_
#define QUANTD_ENGINE_QUANT_MINMAX_CALIBRATOR_H_

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/quant/calibration_options.h"
#include "engine/quant/calibration_table.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

// "naive" calibration: the running min and max of every activation over the
// selected samples of `data` (by default the first `max_samples`), observed
// through an fp32 session. Same as Calibrate() with method kNaive, whatever
// `options.method` says.
absl::StatusOr<CalibrationTable> CalibrateMinMax(InferenceSession& fp32_session,
                                                 const Dataset& data,
                                                 const CalibrationOptions& options,
                                                 const CalibrationProgress& progress);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_MINMAX_CALIBRATOR_H_
