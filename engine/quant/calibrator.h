#ifndef QUANTD_ENGINE_QUANT_CALIBRATOR_H_
#define QUANTD_ENGINE_QUANT_CALIBRATOR_H_

#include <functional>
#include <memory>

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
//
// CalibrationMethod::kAuto keeps one histogram per value, derives entropy,
// MSE and percentile tables from it, quantizes the model with each through
// `quantized_session` (the caller's quantization options applied to a
// candidate table) and keeps the table whose session's first output is
// closest to fp32's (smallest summed squared difference) on the first
// kAutoScoringSamples selected samples; ties go to the larger top-1
// agreement, then to the earlier candidate. No labels are needed. Besides the histograms it keeps
// only fp32's first output for the scoring samples (500 x 1,000 floats for
// an ImageNet classifier). `chosen`, when set, receives the
// method kept (for other methods, `options.method`). kAuto without
// `quantized_session` is INVALID_ARGUMENT. Progress counts the calibration
// pass plus every candidate's scoring pass.
using QuantizedSessionFactory =
    std::function<absl::StatusOr<std::shared_ptr<InferenceSession>>(const CalibrationTable&)>;

inline constexpr int64_t kAutoScoringSamples = 500;

absl::StatusOr<CalibrationTable> Calibrate(InferenceSession& fp32_session, const Dataset& data,
                                           const CalibrationOptions& options,
                                           const CalibrationProgress& progress,
                                           const QuantizedSessionFactory& quantized_session = {},
                                           CalibrationMethod* chosen = nullptr);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_CALIBRATOR_H_
