#ifndef QUANTD_ENGINE_QUANT_MINMAX_CALIBRATOR_H_
#define QUANTD_ENGINE_QUANT_MINMAX_CALIBRATOR_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/quant/calibration_table.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

struct CalibrationOptions {
  int64_t max_samples = 0;  // 0: use every sample of the dataset
  int64_t batch_size = 32;
};

// Called after each calibration batch; returning false cancels calibration
// (the calibrator then returns CANCELLED).
using CalibrationProgress = std::function<bool(int64_t samples_done, int64_t samples_total)>;

// "naive" calibration: the running min and max of every activation over the
// first `max_samples` samples of `data`, observed through an fp32 session.
absl::StatusOr<CalibrationTable> CalibrateMinMax(InferenceSession& fp32_session,
                                                 const Dataset& data,
                                                 const CalibrationOptions& options,
                                                 const CalibrationProgress& progress);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_MINMAX_CALIBRATOR_H_
