#ifndef QUANTD_ENGINE_QUANT_CALIBRATOR_H_
#define QUANTD_ENGINE_QUANT_CALIBRATOR_H_

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/quant/calibration_options.h"
#include "engine/quant/calibration_table.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

// Runs the selected calibration samples (see SelectCalibrationSamples) through
// `fp32_session` in batches of `options.batch_size`, observing every value of
// the post-pass graph, and estimates each value's range with
// `options.method`. Memory stays bounded whatever the sample count: per value
// a min/max pair (naive), a moving range (ema) or one histogram of
// `options.histogram_bins` bins (entropy, percentile, mse); activations are
// never stored.
//
// `progress` is called after each batch with samples done and total (for ema,
// counted over all `ema_passes` passes); returning false cancels with
// CANCELLED. INVALID_ARGUMENT for an empty dataset or invalid options (see
// ValidateCalibrationOptions); session errors keep their code and name the
// batch. A value whose observations were all NaN or infinite gets no range.
absl::StatusOr<CalibrationTable> Calibrate(InferenceSession& fp32_session, const Dataset& data,
                                           const CalibrationOptions& options,
                                           const CalibrationProgress& progress);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_CALIBRATOR_H_
