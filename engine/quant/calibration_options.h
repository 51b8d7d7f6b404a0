#ifndef QUANTD_ENGINE_QUANT_CALIBRATION_OPTIONS_H_
#define QUANTD_ENGINE_QUANT_CALIBRATION_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quantd::engine {

// How activation ranges are estimated from the calibration samples (the
// MXNet quantization tool's choices, plus MSE).
enum class CalibrationMethod {
  kNaive,       // exact min/max over every sample
  kEntropy,     // clipping threshold minimizing KL(P||Q) of the |x| histogram (TensorRT)
  kPercentile,  // threshold at a percentile of |x|
  kEma,         // exponential moving average of per-batch min/max
  kMse,         // threshold minimizing expected squared quantization error
  // Entropy, MSE and percentile from one set of histograms; keeps the ranges
  // whose quantized session's outputs are closest to fp32's (see Calibrate).
  kAuto,
};

// "naive", "entropy", "percentile", "ema", "mse", "auto": the names used on the wire
// and on the command line.
std::string_view CalibrationMethodName(CalibrationMethod method);
absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(std::string_view name);

struct CalibrationOptions {
  int64_t max_samples = 0;  // 0: use every sample of the dataset
  int64_t batch_size = 32;
  CalibrationMethod method = CalibrationMethod::kNaive;
  // Unset: the first `max_samples` samples, in order. Set: `max_samples`
  // distinct samples drawn pseudo-randomly with this seed (the same seed picks
  // the same samples in the same order on every machine).
  std::optional<uint64_t> sample_seed = std::nullopt;
  // Target activation width for the methods that trade clipping against
  // resolution (entropy, MSE). Non-negative values get 2^bits levels over
  // [0, t]; signed values are symmetric, 2^(bits-1) levels per side.
  int activation_bits = 8;
  double percentile = 99.99;  // of |x| (or per tail), for kPercentile; in (0, 100]
  double ema_decay = 0.9;     // weight of the running range, for kEma; in [0, 1)
  int ema_passes = 1;         // passes over the samples, for kEma
  // Bins of the per-value |x| histogram (entropy, percentile, MSE, auto).
  // TensorRT uses 2048 bins for 128 levels; unsigned 8-bit has 256 levels and
  // entropy cannot search thresholds below `levels` bins, so the default keeps
  // TensorRT's ratio for both. The entropy search is quadratic in this, hence
  // the upper bound.
  int histogram_bins = 4096;
  // kPercentile only: clip the lower and upper tails separately, for
  // asymmetric activations (QuantizationOptions::symmetric_activations =
  // false) whose zero point spans [min, max]. Symmetric activations use one
  // threshold on |x|, the grid they are quantized on.
  bool percentile_per_tail = false;
};

inline constexpr int kMinHistogramBins = 256;
inline constexpr int kMaxHistogramBins = 8192;

// INVALID_ARGUMENT naming the offending field and its value, e.g.
// "percentile must be in (0, 100], got 101".
absl::Status ValidateCalibrationOptions(const CalibrationOptions& options);

// Called after each calibration batch; returning false cancels calibration
// (the calibrator then returns CANCELLED).
using CalibrationProgress = std::function<bool(int64_t samples_done, int64_t samples_total)>;

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_CALIBRATION_OPTIONS_H_
